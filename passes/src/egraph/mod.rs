//! The e-graph machinery of `lower-integer` (egg 0.11).
//!
//! - [`lang`]: the language, one variant per [`ir::Op`], with type and attribute leaves
//!   indexing side tables (no floats or tensors in e-nodes);
//! - [`analysis`]: per-e-class types, asserted equal on merge (the soundness check), and the
//!   typed node builder [`analysis::add_op`];
//! - [`convert`]: graph to e-nodes and back;
//! - [`cost`]: the [`cost::CostModel`] trait (estimated DSP cycles, float infeasible) and the
//!   extraction cost function;
//! - [`rules`]: the named, directional rewrites, one topic per file.

pub mod analysis;
pub mod convert;
pub mod cost;
pub mod lang;
pub mod rules;

pub use analysis::{EG, QAnalysis};
pub use cost::{Cost, CostModel, DefaultCostModel, INFEASIBLE};
pub use lang::{QLang, Tables};

use egg::{Runner, SimpleScheduler, StopReason};
use std::time::Duration;

/// Explicit limits of a saturation run (egg's defaults, 30 iterations, 10k nodes and 5 s,
/// make results depend on machine speed).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Maximum rule-application rounds.
    pub iterations: usize,
    /// Maximum e-nodes.
    pub nodes: usize,
    /// Wall-clock limit (generous: hitting it is a bug, not a normal stop).
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            iterations: 64,
            nodes: 500_000,
            time: Duration::from_secs(120),
        }
    }
}

/// Runs `rules` on `eg` to saturation (or a limit) and returns the runner.
pub fn saturate(eg: EG, rules: &[rules::Rewrite], limits: &Limits) -> Runner<QLang, QAnalysis> {
    let placeholder = QAnalysis::new(Tables::default(), eg.analysis.rounding);
    Runner::new(placeholder)
        .with_egraph(eg)
        .with_iter_limit(limits.iterations)
        .with_node_limit(limits.nodes)
        .with_time_limit(limits.time)
        .with_scheduler(SimpleScheduler)
        .run(rules)
}

/// A short spelling of a stop reason.
pub fn stop_reason_name(r: Option<&StopReason>) -> String {
    match r {
        Some(StopReason::Saturated) => "saturated".into(),
        Some(StopReason::IterationLimit(n)) => format!("iteration limit {n}"),
        Some(StopReason::NodeLimit(n)) => format!("node limit {n}"),
        Some(StopReason::TimeLimit(t)) => format!("time limit {t} s"),
        Some(StopReason::Other(s)) => s.clone(),
        None => "not run".into(),
    }
}
