//! The one definition of qcc's quantized arithmetic.
//!
//! Every executor of a quantized program (the reference interpreter, the Rust emitter, the C
//! emitters for `generic-c` and `hvx-like`, and the Hexagon build) must agree bit for bit with
//! the functions in this module. They are pure, allocate nothing and never panic.
//!
//! | rule | function |
//! |---|---|
//! | `q = clamp(round_half_even(x * (1/s)) + zp, qmin, qmax)` | [`quantize`] (with [`reciprocal`]) |
//! | `x = (q - zp) * s` | [`dequantize`] |
//! | `bias_q = round(b / (s_x * s_w))` | [`bias_q`] |
//! | `M = M0 * 2^-31 * 2^-n` | [`quantize_multiplier`], [`QuantizedMultiplier`] |
//! | saturating rounding doubling high multiply | [`sqrdmulh`] |
//! | rounding right shift, per target [`RoundingMode`] | [`rounding_shift_right`] |
//! | `y = clamp(zp + round_shift(sqrdmulh(acc, M0), n), lo, hi)` | [`requantize`] |
//! | the same for `M = 2^-k`, shifts only (`--scales pow2`) | [`requantize_pow2`] |
//! | accumulator overflow proof `|x - zp|max * sum|w| + |bias| <= 2^31 - 1` | [`accumulator_bound`], [`fits_i32`] |
//! | average pooling without division | [`fixed_reciprocal`], [`average`] |
//! | run-time reciprocal without division (softmax) | [`reciprocal_q31`], [`one_over_one_plus_x`] |
//! | choosing scales and zero points | [`choose_qparams_asymmetric`], [`choose_qparams_symmetric`], [`pow2_scale`] |
//!
//! Float rounding is done without libm ([`round_half_even_f32`]) so that freestanding C code
//! reproduces it exactly. Integer rounding is a property of the target ([`RoundingMode`]):
//! `hvx-like` rounds right shifts half up (HVX `:rnd`), `generic-c` may select gemmlowp's half
//! away from zero.

mod average;
mod bound;
mod error;
mod fixed;
mod multiplier;
mod qparams;
mod quantize;
mod recip;
mod requantize;
mod round;

pub use average::{AVERAGE_PRESHIFT, AVERAGE_SUM_LIMIT, average, fixed_reciprocal};
pub use bound::{accumulator_bound, accumulator_bound_coarse, centered_absmax, fits_i32};
pub use error::ArithError;
pub use fixed::sqrdmulh;
pub use multiplier::{MAX_LEFT_SHIFT, QuantizedMultiplier, quantize_multiplier};
pub use qparams::{
    choose_qparams_asymmetric, choose_qparams_symmetric, pow2_scale, symmetric_range,
};
pub use quantize::{bias_q, dequantize, quantize, reciprocal};
pub use recip::{one_over_one_plus_x, reciprocal_q31};
pub use requantize::{requantize, requantize_pow2};
pub use round::{
    RoundingMode, round_half_even_f32, rounding_shift_right, rounding_shift_right_i64,
};
