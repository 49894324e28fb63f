//! qcc's passes: a static registry of named graph transformations and the pass manager.
//!
//! Every pass lives in its own file, starts with a `//!` block stating what it does, the
//! phase it needs and the invariants it establishes, and exposes
//! `pub fn run(g: &mut Graph, ctx: &PassCtx) -> Result<PassStats, PassError>`.
//! Passes are registered once in [`PASSES`] by the `declare_passes!` table below; pipelines
//! are explicit ordered slices of names ([`pipelines`]).
#![warn(missing_docs)]

pub mod accum_bound;
pub mod calibrate;
pub mod const_fold;
pub mod dead_code;
pub mod egraph;
pub mod fold_batch_norm;
pub mod fuse_activations;
pub mod insert_qdq;
pub mod lower_integer;
pub mod manager;
pub mod optimize_weights;
pub mod plan_memory;
pub mod precision;
pub mod quant_params;
pub mod train_thresholds;

use ir::{DType, Graph, NodeId, Phase, Tensor};
use std::collections::BTreeMap;
use std::sync::Arc;

pub use manager::{PassManager, PipelineEvent};

/// Shared, read-only context handed to every pass.
#[derive(Clone, Debug)]
pub struct PassCtx {
    /// Run the verifier after every pass (always on in tests and debug builds).
    pub verify_each: bool,
    /// The calibration batch for `calibrate`: one entry per sample, tensors in graph-input
    /// order, each shaped like the graph input.
    pub calib: Option<Arc<Vec<Vec<Tensor>>>>,
    /// How `calibrate` turns statistics into clipping ranges.
    pub calibration: CalibrationMethod,
    /// Quantization choices for `insert-qdq`.
    pub quant: QuantConfig,
    /// Progress reporting for long passes (a progress bar on a terminal).
    pub progress: Option<Progress>,
    /// The target's cost table for e-graph extraction (`None`: [`egraph::DefaultCostModel`]).
    pub cost: Option<std::sync::Arc<dyn egraph::CostModel + Send + Sync>>,
    /// The target's rounding of right shifts, written into every integer op.
    pub rounding: ir::arith::RoundingMode,
}

impl Default for PassCtx {
    fn default() -> PassCtx {
        PassCtx {
            verify_each: false,
            calib: None,
            calibration: CalibrationMethod::default(),
            quant: QuantConfig::default(),
            progress: None,
            cost: None,
            rounding: ir::arith::RoundingMode::HalfUp,
        }
    }
}

/// The calibration method, defaulting to `minmax`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CalibrationMethod(pub calibrate::Method);

impl Default for CalibrationMethod {
    fn default() -> CalibrationMethod {
        CalibrationMethod(calibrate::Method::MinMax)
    }
}

/// Quantization choices (docs/quantization.md).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantConfig {
    /// Activation element type: `U8` (asymmetric, hvx-like's default) or `I8`. With 4 or 16
    /// activation bits the container follows [`activation_dtype`].
    pub activation: DType,
    /// Default activation bit width (8; 4 or 16 per layer through [`QuantConfig::layers`]).
    pub activation_bits: u32,
    /// Weight bit width (symmetric, zero point 0).
    pub weight_bits: u32,
    /// Weights per output channel (else per tensor).
    pub per_channel: bool,
    /// Free float scales or power-of-two (fixed-point) scales.
    pub scales: ScaleMode,
    /// Per-layer overrides keyed by node name (the node that owns the weights and produces
    /// the activation). Names that match no node are an error of `insert-qdq`.
    pub layers: BTreeMap<String, LayerPrecision>,
    /// How conv and gemm weights become integers: rounded to nearest by `insert-qdq`, or
    /// chosen by `optimize-weights` on the calibration batch.
    pub weight_rounding: WeightRounding,
}

/// How conv and gemm weights are rounded to their integer grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WeightRounding {
    /// Each weight to its nearest integer step (`insert-qdq` alone; the default).
    #[default]
    Nearest,
    /// `insert-qdq` leaves the float weights in front of their `quantize`, and
    /// `optimize-weights` chooses the integers on the calibration batch (error feedback and
    /// least-squares compensation of the quantized inputs; see that pass).
    Optimized,
}

impl Default for QuantConfig {
    fn default() -> QuantConfig {
        QuantConfig {
            activation: DType::U8,
            activation_bits: 8,
            weight_bits: 8,
            per_channel: true,
            scales: ScaleMode::Float,
            layers: BTreeMap::new(),
            weight_rounding: WeightRounding::Nearest,
        }
    }
}

impl QuantConfig {
    /// Weight bits for the node named `node`.
    pub fn weight_bits_of(&self, node: &str) -> u32 {
        self.layers
            .get(node)
            .and_then(|l| l.weight_bits)
            .unwrap_or(self.weight_bits)
    }

    /// Activation bits for the result of the node named `node`.
    pub fn activation_bits_of(&self, node: &str) -> u32 {
        self.layers
            .get(node)
            .and_then(|l| l.activation_bits)
            .unwrap_or(self.activation_bits)
    }
}

/// The element type that stores `bits`-bit activations whose 8-bit type is `base` (`U8` or
/// `I8`): 1-4 bits in the packed `U4`/`I4`, 5-8 in `base`, 9-16 in `I16`.
pub fn activation_dtype(base: DType, bits: u32) -> DType {
    match (bits, base) {
        (0..=4, DType::U8 | DType::U4) => DType::U4,
        (0..=4, _) => DType::I4,
        (5..=8, _) => base,
        _ => DType::I16,
    }
}

/// How scales are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ScaleMode {
    /// Any positive f32 scale (the default).
    #[default]
    Float,
    /// Every scale is `2^-f` (`QuantParams::pow2`): requantization is a rounding shift.
    Pow2,
}

/// Precision of one layer (a node with weights or a node producing an activation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LayerPrecision {
    /// Bits of the node's weights (2..=8).
    pub weight_bits: Option<u32>,
    /// Bits of the node's output activation (4, 8 or 16).
    pub activation_bits: Option<u32>,
}

/// A function told `(what, done, total)`.
pub type ProgressFn = dyn Fn(&str, usize, usize) + Send + Sync;

/// A progress callback.
#[derive(Clone)]
pub struct Progress(pub Arc<ProgressFn>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl PassCtx {
    /// Reports progress if a callback is installed.
    pub fn report(&self, what: &str, done: usize, total: usize) {
        if let Some(p) = &self.progress {
            (p.0)(what, done, total);
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
    "calibrate" => calibrate::run, Float -> Calibrated,
        "run the float program on the calibration batch and record a clipping range per activation";
    "train-thresholds" => train_thresholds::run, Calibrated -> Calibrated,
        "learn a scale factor per activation clipping threshold that minimizes the output error of the fake-quantized program on the calibration batch";
    "insert-qdq" => insert_qdq::run, Calibrated -> Qdq,
        "choose quantization parameters and insert quantize/dequantize around every op";
    "fuse-activations" => fuse_activations::run, Qdq -> Qdq,
        "drop the quantize/dequantize pair between a conv/gemm/matmul/add/mul and its only relu/clip";
    "optimize-weights" => optimize_weights::run, Qdq -> Qdq,
        "choose the integer conv/gemm weights and biases on the calibration batch (error feedback, least-squares compensation of quantized inputs)";
    "plan-memory" => plan_memory::run, Integer -> Scheduled,
        "place every integer activation in one static arena (liveness, greedy by size)";
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
    /// Post-training quantization of a clean float graph (needs `PassCtx::calib`): Float to
    /// Qdq, activations fused into their producers, weights rounded as
    /// `QuantConfig::weight_rounding` says. A QDQ model imported from a file skips it (its
    /// quantization is the file's).
    pub const QUANTIZE: &[&str] = &[
        "calibrate",
        "insert-qdq",
        "fuse-activations",
        "optimize-weights",
    ];
}
