//! qcc's passes: a static registry of named graph transformations and the pass manager.
//!
//! Every pass lives in its own file, starts with a `//!` block stating what it does, the
//! phase it needs and the invariants it establishes, and exposes
//! `pub fn run(g: &mut Graph, ctx: &PassCtx) -> Result<PassStats, PassError>`.
//! Passes are registered once in [`PASSES`] by the `declare_passes!` table below; pipelines
//! are explicit ordered slices of names ([`pipelines`]).
#![warn(missing_docs)]

pub mod calibrate;
pub mod const_fold;
pub mod dead_code;
pub mod egraph;
pub mod fold_batch_norm;
pub mod lower_integer;
pub mod manager;

use ir::{Graph, NodeId, Phase};

pub use manager::{PassManager, PipelineEvent};

/// Shared, read-only context handed to every pass.
#[derive(Clone, Debug)]
pub struct PassCtx {
    /// Run the verifier after every pass (always on in tests and debug builds).
    pub verify_each: bool,
    /// The target's cost table for e-graph extraction (`None`: [`egraph::DefaultCostModel`]).
    pub cost: Option<std::sync::Arc<dyn egraph::CostModel + Send + Sync>>,
    /// The target's rounding of right shifts, written into every integer op.
    pub rounding: ir::arith::RoundingMode,
}

impl Default for PassCtx {
    fn default() -> PassCtx {
        PassCtx {
            verify_each: false,
            cost: None,
            rounding: ir::arith::RoundingMode::HalfUp,
        }
    }
}

/// What a pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    /// Number of rewrites (nodes changed, added or removed) the pass made.
    pub rewrites: usize,
}

/// A pass failure.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// No pass has that name.
    #[error("unknown pass `{name}`; valid passes: {}", valid.join(", "))]
    UnknownPass {
        /// The name asked for.
        name: String,
        /// Every registered name.
        valid: Vec<&'static str>,
    },
    /// The pass needs a phase the graph is not in.
    #[error("pass `{pass}` needs phase {needs}, but the graph is in phase {found}")]
    WrongPhase {
        /// The pass.
        pass: &'static str,
        /// The phase it needs.
        needs: Phase,
        /// The graph's phase.
        found: Phase,
    },
    /// A pass tried to move the graph back to an earlier phase.
    #[error("pass `{pass}` moves the graph backwards from phase {from} to {to}")]
    BackwardPhase {
        /// The pass.
        pass: &'static str,
        /// The phase before.
        from: Phase,
        /// The phase after.
        to: Phase,
    },
    /// The graph failed verification after a pass.
    #[error("verification failed after pass `{pass}`:\n{report}")]
    Verify {
        /// The pass that ran last.
        pass: String,
        /// The annotated listing with the errors.
        report: String,
    },
    /// A pass could not do its job on this graph.
    #[error("{message}")]
    Failed {
        /// The node concerned, if any.
        node: Option<NodeId>,
        /// What went wrong, lowercase, no trailing period.
        message: String,
    },
}

/// The signature every pass implements.
pub type PassFn = fn(&mut Graph, &PassCtx) -> Result<PassStats, PassError>;

/// A registered pass.
#[derive(Clone, Copy, Debug)]
pub struct PassInfo {
    /// The name used on the command line and in filetests.
    pub name: &'static str,
    /// One line saying what it does.
    pub doc: &'static str,
    /// The phase the graph must be in.
    pub phase_in: Phase,
    /// The phase the graph is in afterwards.
    pub phase_out: Phase,
    /// The entry point.
    pub run: PassFn,
}

macro_rules! declare_passes {
    ($($name:literal => $run:path, $phase_in:ident -> $phase_out:ident, $doc:literal;)*) => {
        /// Every pass, by name.
        pub static PASSES: &[PassInfo] = &[
            $(PassInfo {
                name: $name,
                doc: $doc,
                phase_in: Phase::$phase_in,
                phase_out: Phase::$phase_out,
                run: $run,
            },)*
        ];
    };
}

declare_passes! {
    "const-fold" => const_fold::run, Float -> Float,
        "evaluate float nodes whose inputs are all constants";
    "fold-batch-norm" => fold_batch_norm::run, Float -> Float,
        "fold inference batch normalization into the preceding conv, conv-transpose or gemm";
    "dead-code" => dead_code::run, Float -> Float,
        "remove nodes whose results nobody uses";
    "lower-integer" => lower_integer::run, Qdq -> Integer,
        "lower a fake-quantized graph to integer ops with e-graph rewrites";
}

/// Looks up a pass by name; the error lists the valid names.
pub fn find_pass(name: &str) -> Result<&'static PassInfo, PassError> {
    PASSES
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| PassError::UnknownPass {
            name: name.to_string(),
            valid: PASSES.iter().map(|p| p.name).collect(),
        })
}

/// Named pipelines: explicit, ordered lists of pass names.
pub mod pipelines {
    /// Clean-up of an imported float graph, before calibration.
    pub const FLOAT_CLEANUP: &[&str] = &["const-fold", "fold-batch-norm", "dead-code"];
}
