//! Mixed-precision search: per-layer weight and activation bit widths under an accuracy
//! budget (`qcc --precision auto --max-accuracy-drop P`).
//!
//! **What.** [`search`] takes a *calibrated* graph, the calibration batch (in
//! [`PassCtx::calib`]) and the base [`QuantConfig`](crate::QuantConfig) of `insert-qdq`, and
//! chooses a [`LayerPrecision`] per layer: weights in 2..=8 bits (bit-packed), activations in
//! 4, 8 or 16 bits (containers `u4`/`i4`, `u8`/`i8`, `i16`; see
//! [`crate::activation_dtype`]). It is an analysis: the caller puts the result into
//! `QuantConfig::layers` and runs `insert-qdq`. Under `ScaleMode::Pow2` the fractional
//! offsets follow from the chosen bits (every candidate is built by `insert-qdq` itself).
//!
//! **Objective.** Minimize `memory / memory_8 + mult_weight * mult / mult_8`, where memory =
//! weight bytes (`numel * bits / 8` per quantized constant, biases at 32 bits) plus the
//! arena bytes `plan-memory` allocates for the integer program (packed 4-bit tensors at half
//! a byte per element, i32 accumulators fused into their requant left out), and mult = sum over conv/gemm/matmul of
//! `MACs * weight bits * input activation bits`; `_8` is the all-8-bit program. The arena of
//! a candidate is the all-8-bit integer program planned with each activation knob's values
//! retyped to its width ([`crate::plan_memory::plan_typed`]).
//!
//! **Constraint.** Top-1 agreement of the fake-quantized program with the float program on
//! the calibration batch at least `100 - max_accuracy_drop` percent (no labels), both
//! counted and *expected*: a calibration batch of 100 samples counts flips in steps of one
//! point and misses near-flips, so each sample also contributes the probability that logit
//! noise of its observed size flips its float top-1 margin ([`Evaluation::expected_flips`]),
//! which tracks the disagreement on unseen data much better; and by default a floor on the
//! logit SQNR, `15 - 20·log10(P)` dB capped at all-8-bit's SQNR (docs/precision.md says
//! why). Every
//! candidate is judged by running the *whole* Qdq-phase graph built by `insert-qdq` in the
//! float interpreter (which models the integer program), so upstream layers are quantized
//! as chosen; samples run in parallel and a run stops early once the budget of
//! disagreements is spent.
//!
//! **Algorithm** (deterministic, at most [`SearchOptions::max_evaluations`] graph runs):
//! 1. *Knobs.* One knob per weight tensor owner and per node whose output carries its own
//!    activation parameters; a knob that changes no tensor is dropped ([`model`]).
//!    Activations at 4 bits take the clipping range that minimizes their squared error at
//!    4 bits (MSE over the batch's histogram), not the 8-bit calibrated one; the result
//!    carries these ranges ([`SearchResult::apply_ranges`]).
//! 2. *Sensitivity.* All 8-bit is measured once, then each knob is set alone to 4 bits
//!    (everything else at 8) and the added logit noise power `Σ(q-f)²/Σf²` is measured. The
//!    noise of knob `k` at `b` bits is modelled as `n_k(4) · 4^(4-b)` and noise is modelled
//!    as additive over knobs.
//! 3. *Path.* From weights at 8 and activations at 16 bits, the greedy sequence of one-step
//!    lowerings by best objective-saved per modelled-noise-added, down to every knob at its
//!    cheapest setting.
//! 4. *Binary search* along that path for the longest feasible prefix (real evaluations).
//! 5. *Refinement.* From there, greedy descent with real evaluations: try the next best
//!    lowering; keep it if the constraint holds, else freeze that knob; until no move is
//!    left or the evaluation cap is reached.

mod eval;
mod model;
mod search;
#[cfg(test)]
mod tests;

pub use eval::Evaluation;
pub use model::{Costs, Knob, KnobKind, build_qdq, macs, qdq_costs};
pub use search::{cheapest_costs, search};

use crate::LayerPrecision;
use ir::{Graph, ValueId, ValueRange};
use std::collections::BTreeMap;

/// Options of [`search`].
#[derive(Clone, Debug, PartialEq)]
pub struct SearchOptions {
    /// Allowed loss of top-1 agreement with the float program, in percentage points.
    pub max_accuracy_drop: f64,
    /// Cap on whole-graph evaluations (the all-8-bit reference included).
    pub max_evaluations: usize,
    /// Weight bit widths to choose from (each in 2..=8).
    pub weight_bits: Vec<u32>,
    /// Activation bit widths to choose from (4, 8 and/or 16).
    pub activation_bits: Vec<u32>,
    /// Weight of the multiplication cost against memory in the objective.
    pub mult_weight: f64,
    /// Samples used to measure the sensitivities (the first ones of the batch; 0 = all).
    pub sensitivity_samples: usize,
    /// A floor on the logit SQNR (dB) against float on the calibration batch, on top of the
    /// agreement constraint. `None` (the default): `sqnr_db_at_1pt - 20·log10(P)` for an
    /// allowed drop of `P` points, capped at the all-8-bit program's SQNR;
    /// `Some(f64::NEG_INFINITY)`: agreement only.
    pub min_logit_sqnr_db: Option<f64>,
    /// The default floor at an allowed drop of 1 point (see `min_logit_sqnr_db`).
    pub sqnr_db_at_1pt: f64,
}

impl Default for SearchOptions {
    fn default() -> SearchOptions {
        SearchOptions {
            max_accuracy_drop: 1.0,
            max_evaluations: 80,
            weight_bits: (2..=8).collect(),
            activation_bits: vec![4, 8, 16],
            mult_weight: 0.5,
            sensitivity_samples: 32,
            min_logit_sqnr_db: None,
            sqnr_db_at_1pt: 15.0,
        }
    }
}

/// What [`search`] chose, and how it compares with all-8-bit.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResult {
    /// The per-layer precisions to put into `QuantConfig::layers` (every knob, 8 included).
    pub layers: BTreeMap<String, LayerPrecision>,
    /// Clipping ranges replacing the calibrated ones (activations chosen at 4 bits take the
    /// range that minimizes their squared error at that width): apply them to the
    /// calibrated graph with [`SearchResult::apply_ranges`] before `insert-qdq`.
    pub ranges: Vec<(ValueId, ValueRange)>,
    /// The knobs in the order the search saw them, with their chosen bits.
    pub knobs: Vec<(Knob, u32)>,
    /// Costs of the chosen program.
    pub costs: Costs,
    /// Costs of the all-8-bit program.
    pub baseline: Costs,
    /// The chosen program on the calibration batch.
    pub chosen: Evaluation,
    /// The all-8-bit program on the calibration batch.
    pub all8: Evaluation,
    /// The logit SQNR floor (dB) the search applied (see [`SearchOptions::min_logit_sqnr_db`]).
    pub sqnr_floor_db: f64,
    /// Whole-graph evaluations made.
    pub evaluations: usize,
    /// Whether the chosen program meets the accuracy constraint (false only when even the
    /// most precise program does not).
    pub satisfied: bool,
}

impl SearchResult {
    /// Writes [`SearchResult::ranges`] into the calibrated graph the search ran on.
    pub fn apply_ranges(&self, calibrated: &mut Graph) {
        for &(v, r) in &self.ranges {
            if calibrated.contains_value(v) {
                calibrated.value_mut(v).range = Some(r);
            }
        }
    }

    /// Memory saved against all-8-bit, in percent.
    pub fn memory_saving_percent(&self) -> f64 {
        let b = self.baseline.memory() as f64;
        if b == 0.0 {
            0.0
        } else {
            100.0 * (b - self.costs.memory() as f64) / b
        }
    }
}
