//! Calibration: statistics of float activations over one batch of samples, and the choice of
//! a clipping range from them.
//!
//! The `calibrate` pass ([`run`], in `pass.rs`) runs the float program on every sample, feeds each activation
//! tensor into a [`MinMax`] or [`Histogram`] per value, and turns the result into a
//! [`ClipRange`] with one [`Method`]:
//!
//! | method | rule |
//! |---|---|
//! | `minmax` | the observed `[min, max]` |
//! | `percentile` (default 99.99) | the smallest `|x|` threshold covering that share of samples |
//! | `entropy` | the KL-divergence search of TensorRT ("8-bit inference with TensorRT") |
//! | `mse` | the threshold minimizing expected squared error, clipping plus rounding noise |
//! | `trained` | starts from `minmax`; the `train-thresholds` pass learns a factor per threshold |
//!
//! All searches are over one symmetric threshold `t` (a bin edge of the histogram); the
//! clipping range is `[max(min, -t), min(max, t)]`. Symmetric quantization uses
//! [`ClipRange::threshold`], asymmetric quantization the pair `(lo, hi)` (which
//! `ir::arith::choose_qparams_asymmetric` widens to include 0). The [`Scheme`] says which of
//! the two the search optimizes for, because it fixes the number of levels.
//!
//! Everything is deterministic: no randomness, and results depend only on the order of
//! observations.
#![warn(missing_docs)]

mod entropy;
mod histogram;
mod mse;
mod pass;
mod stats;
mod threshold;

pub use entropy::entropy;
pub use histogram::{DEFAULT_BINS_PER_SIDE, Histogram};
pub use mse::mse;
pub use pass::run;
pub use stats::MinMax;
pub use threshold::{
    ClipRange, DEFAULT_PERCENTILE, Method, Scheme, clip_range, minmax, percentile,
};

use thiserror::Error;

/// A calibration statistic could not be turned into a clipping range.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum CalibError {
    /// Nothing finite was observed.
    #[error("no finite values were observed")]
    Empty,
    /// A percentile outside `(0, 100]`.
    #[error("percentile {0} is outside (0, 100]")]
    InvalidPercentile(f64),
    /// A bit width outside `2..=16`.
    #[error("bit width {0} is not supported for calibration (expected 2..=16)")]
    InvalidBits(u32),
    /// A histogram needs at least one bin per side.
    #[error("a histogram needs at least one bin per side")]
    NoBins,
    /// Histograms with different numbers of bins cannot be merged.
    #[error("cannot merge histograms with {0} and {1} bins per side")]
    BinMismatch(usize, usize),
    /// An unknown calibration method name.
    #[error(
        "unknown calibration method `{0}` (expected minmax, percentile[=P], entropy, mse or trained)"
    )]
    UnknownMethod(String),
}

#[cfg(test)]
mod tests;
