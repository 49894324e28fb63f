//! Errors of the arithmetic helpers that derive compile-time constants.

use thiserror::Error;

/// A compile-time constant could not be derived from the given real numbers.
///
/// The runtime functions ([`super::requantize`], [`super::quantize`], ...) are total and never
/// fail; only the derivations of their constants do.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum ArithError {
    /// A real multiplier was negative, NaN or infinite.
    #[error("multiplier {0} is negative or not finite")]
    InvalidMultiplier(f64),
    /// A real multiplier needs a left shift above [`super::MAX_LEFT_SHIFT`].
    #[error("multiplier {0} is too large (at most 2^31 is representable)")]
    MultiplierTooLarge(f64),
    /// An average over zero elements was requested.
    #[error("average over zero elements")]
    ZeroCount,
    /// A float range was inverted or not finite.
    #[error("range [{min}, {max}] is inverted or not finite")]
    InvalidRange {
        /// Lower end.
        min: f32,
        /// Upper end.
        max: f32,
    },
    /// An absolute maximum was negative or not finite.
    #[error("absolute maximum {0} is negative or not finite")]
    InvalidAbsMax(f32),
    /// An integer range `[qmin, qmax]` was empty or a single point.
    #[error("integer range [{qmin}, {qmax}] needs qmin < qmax")]
    InvalidIntRange {
        /// Lower end.
        qmin: i32,
        /// Upper end.
        qmax: i32,
    },
    /// A bit width outside the supported range.
    #[error("bit width {0} is not supported (expected 2..=32)")]
    InvalidBits(u32),
    /// An unknown rounding mode name.
    #[error("unknown rounding mode `{0}` (expected `half-up` or `half-away-from-zero`)")]
    UnknownRoundingMode(String),
}
