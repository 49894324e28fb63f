//! Choosing scales and zero points from observed (or calibrated) ranges.
//!
//! - activations: [`choose_qparams_asymmetric`] (per tensor, u8 by default on `hvx-like`);
//! - weights: [`choose_qparams_symmetric`] (zero point 0, range `[-(2^(b-1)-1), 2^(b-1)-1]`,
//!   see [`symmetric_range`]);
//! - fixed-point tensors: [`pow2_scale`] (`scale = 2^-f`).
//!
//! Degenerate ranges (all zeros, or so small that the scale would not be a normal f32) get
//! scale 1.0, like onnxruntime's MinMax calibrator; non-finite or inverted ranges are errors.
//! Nothing here divides by zero.

use super::ArithError;
use super::multiplier::exp2i;

/// The symmetric integer range of a `bits`-bit signed type: `(-(2^(b-1)-1), 2^(b-1)-1)`,
/// e.g. `(-127, 127)` for 8 bits. `bits` must be in `2..=32`.
pub fn symmetric_range(bits: u32) -> Result<(i32, i32), ArithError> {
    if !(2..=32).contains(&bits) {
        return Err(ArithError::InvalidBits(bits));
    }
    let qmax = ((1i64 << (bits - 1)) - 1) as i32;
    Ok((-qmax, qmax))
}

/// Scale and zero point of an asymmetric (affine) quantization of `[min, max]` onto
/// `[qmin, qmax]`, as TFLite and onnxruntime do it:
///
/// 1. Widen the range to include 0: `lo = min(min, 0)`, `hi = max(max, 0)`, so that real zero
///    is exactly representable (padding, ReLU).
/// 2. `scale = (hi - lo) / (qmax - qmin)` (f64, then rounded to f32); 1.0 if that is not a
///    normal f32 (for example `min == max == 0`, which gets
///    zero point `clamp(0, qmin, qmax)`).
/// 3. Nudge the zero point to an integer: `zp = clamp(round_half_even(qmin - lo / scale),
///    qmin, qmax)`.
///
/// Errors: `qmin >= qmax`; `min > max`, a NaN or an infinite bound; a range too wide for an
/// f32 scale.
pub fn choose_qparams_asymmetric(
    min: f32,
    max: f32,
    qmin: i32,
    qmax: i32,
) -> Result<(f32, i32), ArithError> {
    if qmin >= qmax {
        return Err(ArithError::InvalidIntRange { qmin, qmax });
    }
    if !min.is_finite() || !max.is_finite() || min > max {
        return Err(ArithError::InvalidRange { min, max });
    }
    // 1. include zero.
    let lo = f64::from(min.min(0.0));
    let hi = f64::from(max.max(0.0));
    if hi == lo {
        // Only zeros: any scale works; keep real zero at integer zero when possible.
        return Ok((1.0, 0.max(qmin).min(qmax)));
    }
    // 2. scale.
    let steps = f64::from(qmax) - f64::from(qmin);
    let mut scale = ((hi - lo) / steps) as f32;
    if scale.is_infinite() {
        return Err(ArithError::InvalidRange { min, max });
    }
    if scale < f32::MIN_POSITIVE {
        scale = 1.0;
    }
    // 3. integer zero point.
    let zp = (f64::from(qmin) - lo / f64::from(scale)).round_ties_even();
    let zp = zp.max(f64::from(qmin)).min(f64::from(qmax)) as i32;
    Ok((scale, zp))
}

/// Scale of a symmetric quantization (zero point 0) of `[-absmax, absmax]` onto
/// [`symmetric_range`]`(bits)`: `scale = absmax / (2^(bits-1) - 1)`, or 1.0 if that is not a
/// normal f32 (for example `absmax == 0`).
///
/// Errors: `bits` outside `2..=32`; `absmax` negative, NaN or infinite.
pub fn choose_qparams_symmetric(absmax: f32, bits: u32) -> Result<f32, ArithError> {
    let (_, qmax) = symmetric_range(bits)?;
    if !absmax.is_finite() || absmax < 0.0 {
        return Err(ArithError::InvalidAbsMax(absmax));
    }
    let scale = (f64::from(absmax) / f64::from(qmax)) as f32;
    Ok(if scale >= f32::MIN_POSITIVE {
        scale
    } else {
        1.0
    })
}

/// Power-of-two scale `2^-f` for a fixed-point tensor: `f` is the largest number of fractional
/// bits such that `absmax * 2^f <= qmax`, where `qmax` is `2^(bits-1) - 1` (`signed`) or
/// `2^bits - 1`. `f` may be negative (large ranges) and is clamped to `[-127, 126]` so that
/// `2^-f` is a normal f32. `absmax == 0` gives `(1.0, 0)`. Returns `(2^-f, f)`.
///
/// Errors: `bits` outside `2..=32` (`1..=32` when unsigned); `absmax` negative, NaN or
/// infinite.
pub fn pow2_scale(absmax: f32, bits: u32, signed: bool) -> Result<(f32, i32), ArithError> {
    let qmax = if signed {
        f64::from(symmetric_range(bits)?.1)
    } else if (1..=32).contains(&bits) {
        exp2i(bits as i32) - 1.0
    } else {
        return Err(ArithError::InvalidBits(bits));
    };
    if !absmax.is_finite() || absmax < 0.0 {
        return Err(ArithError::InvalidAbsMax(absmax));
    }
    if absmax == 0.0 {
        return Ok((1.0, 0));
    }
    let a = f64::from(absmax);
    // Estimate from the binary exponents, then correct (at most a step or two each way).
    let exp_a = ((a.to_bits() >> 52) & 0x7FF) as i32 - 1023;
    let exp_q = ((qmax.to_bits() >> 52) & 0x7FF) as i32 - 1023;
    let mut f = exp_q - exp_a;
    while f > -1022 && a * exp2i(f) > qmax {
        f -= 1;
    }
    while f < 1022 && a * exp2i(f + 1) <= qmax {
        f += 1;
    }
    let f = f.clamp(-127, 126);
    Ok((exp2i(-f) as f32, f))
}

#[cfg(test)]
mod tests {
    use super::super::{dequantize, quantize, reciprocal};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn asymmetric_goldens() {
        let (s, zp) = choose_qparams_asymmetric(-1.0, 3.0, 0, 255).unwrap();
        assert_eq!((s, zp), ((4.0f64 / 255.0) as f32, 64)); // 63.75 -> 64
        assert_eq!(choose_qparams_asymmetric(0.0, 0.0, 0, 255), Ok((1.0, 0)));
        assert_eq!(choose_qparams_asymmetric(0.0, 0.0, -128, 127), Ok((1.0, 0)));
        assert_eq!(choose_qparams_asymmetric(2.0, 5.1, 0, 255), Ok((0.02, 0)));
        assert_eq!(
            choose_qparams_asymmetric(-5.1, -2.0, 0, 255),
            Ok((0.02, 255))
        );
        // -128 + 1 / f32(2/255) = -0.500004 (the f32 scale is slightly above 2/255): -1.
        assert_eq!(
            choose_qparams_asymmetric(-1.0, 1.0, -128, 127),
            Ok(((2.0f64 / 255.0) as f32, -1))
        );
        // An exact tie, -128 + 127.5 = -0.5, rounds half to even: 0.
        assert_eq!(
            choose_qparams_asymmetric(-127.5, 127.5, -128, 127),
            Ok((1.0, 0))
        );
        assert_eq!(choose_qparams_asymmetric(0.0, 1e-40, 0, 255), Ok((1.0, 0)));
        assert_eq!(choose_qparams_asymmetric(0.0, 6.0, 0, 255).unwrap().1, 0);
    }

    #[test]
    fn asymmetric_errors() {
        let bad = [
            (f32::NAN, 1.0),
            (0.0, f32::NAN),
            (0.0, f32::INFINITY),
            (2.0, 1.0),
        ];
        for (min, max) in bad {
            assert!(matches!(
                choose_qparams_asymmetric(min, max, 0, 255),
                Err(ArithError::InvalidRange { .. })
            ));
        }
        assert!(matches!(
            choose_qparams_asymmetric(-f32::MAX, f32::MAX, 0, 1),
            Err(ArithError::InvalidRange { .. })
        ));
        assert_eq!(
            choose_qparams_asymmetric(0.0, 1.0, 5, 5),
            Err(ArithError::InvalidIntRange { qmin: 5, qmax: 5 })
        );
    }

    #[test]
    fn symmetric_goldens() {
        assert_eq!(symmetric_range(8), Ok((-127, 127)));
        assert_eq!(symmetric_range(4), Ok((-7, 7)));
        assert_eq!(symmetric_range(32), Ok((-i32::MAX, i32::MAX)));
        assert_eq!(symmetric_range(1), Err(ArithError::InvalidBits(1)));
        assert_eq!(choose_qparams_symmetric(12.7, 8), Ok(0.1));
        assert_eq!(choose_qparams_symmetric(0.0, 8), Ok(1.0));
        assert_eq!(choose_qparams_symmetric(7.0, 4), Ok(1.0));
        assert_eq!(
            choose_qparams_symmetric(-1.0, 8),
            Err(ArithError::InvalidAbsMax(-1.0))
        );
        assert!(choose_qparams_symmetric(f32::NAN, 8).is_err());
        assert_eq!(
            choose_qparams_symmetric(1.0, 33),
            Err(ArithError::InvalidBits(33))
        );
    }

    #[test]
    fn pow2_goldens() {
        // 127 / 1.0 -> f = 6 (64 <= 127 < 128).
        assert_eq!(pow2_scale(1.0, 8, true), Ok((1.0 / 64.0, 6)));
        assert_eq!(pow2_scale(1.0, 8, false), Ok((1.0 / 128.0, 7)));
        assert_eq!(pow2_scale(127.0, 8, true), Ok((1.0, 0)));
        assert_eq!(pow2_scale(127.5, 8, true), Ok((2.0, -1)));
        assert_eq!(pow2_scale(1000.0, 8, true), Ok((8.0, -3)));
        assert_eq!(pow2_scale(0.0, 8, true), Ok((1.0, 0)));
        assert_eq!(pow2_scale(1e-38, 8, true), Ok((2f32.powi(-126), 126)));
        assert_eq!(pow2_scale(f32::MAX, 8, true), Ok((2f32.powi(122), -122)));
        assert_eq!(pow2_scale(1.0, 1, false), Ok((1.0, 0)));
        assert_eq!(pow2_scale(1.0, 1, true), Err(ArithError::InvalidBits(1)));
        assert_eq!(
            pow2_scale(-2.0, 8, true),
            Err(ArithError::InvalidAbsMax(-2.0))
        );
    }

    proptest! {
        #[test]
        fn asymmetric_range_is_covered(min in -1e4f32..1e4, width in 0f32..1e4) {
            let max = min + width;
            let (s, zp) = choose_qparams_asymmetric(min, max, 0, 255).unwrap();
            prop_assert!((0..=255).contains(&zp));
            // Zero is exact, and both ends come back within one step.
            prop_assert_eq!(quantize(0.0, reciprocal(s), zp, 0, 255), zp);
            prop_assert_eq!(dequantize(zp, s, zp), 0.0);
            for x in [min, max] {
                let back = dequantize(quantize(x, reciprocal(s), zp, 0, 255), s, zp);
                prop_assert!((back - x).abs() <= s * 1.01, "{} -> {} (s {}, zp {})", x, back, s, zp);
            }
        }

        #[test]
        fn pow2_is_the_largest_fitting_power(absmax in 1e-6f32..1e6, bits in 2u32..17) {
            let (s, f) = pow2_scale(absmax, bits, true).unwrap();
            let qmax = f64::from((1i32 << (bits - 1)) - 1);
            prop_assert_eq!(f64::from(s), 2f64.powi(-f));
            prop_assert!(f64::from(absmax) * 2f64.powi(f) <= qmax);
            prop_assert!(f64::from(absmax) * 2f64.powi(f + 1) > qmax);
        }
    }
}
