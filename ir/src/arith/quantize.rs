//! The float boundary: quantize, dequantize, and the quantized bias.

use super::round_half_even_f32;

/// Quantizes one float: `clamp(round_half_even(x * inv_scale) + zero_point, qmin, qmax)`.
///
/// `inv_scale` is [`reciprocal`]`(scale)`, an f32 constant fixed at compile time: ONNX's
/// `x / scale` becomes a multiply because Hexagon has no float divide, and the interpreter
/// uses this same formula so that emitted code and `qcc --run` agree bit for bit. The steps,
/// all in f32 except the final integer add:
///
/// 1. `v = x * inv_scale` (one IEEE f32 multiply, round to nearest even).
/// 2. `r = round_half_even_f32(v)` (no libm).
/// 3. `q = clamp(r + zero_point, qmin, qmax)`, computed without overflow: `r` saturates on
///    conversion to an integer, so `+-inf` give `qmax`/`qmin`.
///
/// NaN (in `x`, or produced by `0 * inf`) gives `clamp(zero_point, qmin, qmax)`, the code of
/// real zero. If `qmin > qmax` the result is `qmax`. A C implementation may instead clamp `r`
/// to `[qmin - zp, qmax - zp]` in float before converting (exact while those are below
/// `2^24` in magnitude) and test `v != v` for NaN.
#[inline]
pub fn quantize(x: f32, inv_scale: f32, zero_point: i32, qmin: i32, qmax: i32) -> i32 {
    let clamp = |q: i64| q.max(i64::from(qmin)).min(i64::from(qmax)) as i32;
    // 1. multiply by the compile-time reciprocal.
    let v = x * inv_scale;
    if v.is_nan() {
        return clamp(i64::from(zero_point));
    }
    // 2. round half to even.
    let r = round_half_even_f32(v);
    // 3. add the zero point and saturate (`as` saturates +-inf to i64::MAX/MIN).
    clamp((r as i64).saturating_add(i64::from(zero_point)))
}

/// Dequantizes one integer: `(q - zero_point) as f32 * scale`.
///
/// The difference is exact in integers and converted to f32 with round to nearest even
/// (exact whenever `|q - zero_point| <= 2^24`, so always for 8- and 16-bit types); then one
/// f32 multiply.
#[inline]
pub fn dequantize(q: i32, scale: f32, zero_point: i32) -> f32 {
    (i64::from(q) - i64::from(zero_point)) as f32 * scale
}

/// The compile-time constant of [`quantize`]: `1.0f32 / scale`, one correctly rounded f32
/// division done by the compiler (never by emitted code).
#[inline]
pub fn reciprocal(scale: f32) -> f32 {
    1.0 / scale
}

/// The quantized bias of a conv/gemm output channel: `round(b / (s_x * s_w))` clamped to
/// `i32`, so that it adds directly to the int32 accumulator of scale `s_x * s_w`.
///
/// Computed in f64: `s_x * s_w` is exact there (two 24-bit significands), the division is
/// rounded once, and the quotient is rounded half to even. NaN (including `0 / 0`) gives 0;
/// quotients beyond the i32 range (including a zero scale product) saturate.
pub fn bias_q(b: f32, s_x: f32, s_w: f32) -> i32 {
    let r = f64::from(b) / (f64::from(s_x) * f64::from(s_w));
    // `as` maps NaN to 0 and saturates out-of-range values and infinities.
    r.round_ties_even() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_goldens_at_ties() {
        // scale 0.5 (inv 2): x = k * 0.25 gives v = k / 2, every other one a tie.
        let inv = reciprocal(0.5);
        assert_eq!(inv, 2.0);
        // (x, zp, u8 result)
        let cases = [
            (0.25, 0, 0), // 0.5 -> 0
            (0.75, 0, 2), // 1.5 -> 2
            (1.25, 0, 2), // 2.5 -> 2
            (0.25, 128, 128),
            (-0.25, 128, 128), // -0.5 -> -0
            (-0.75, 128, 126), // -1.5 -> -2
            (-1.25, 128, 126), // -2.5 -> -2
            (-0.75, 0, 0),     // saturates at qmin
            (200.0, 0, 255),   // saturates at qmax
        ];
        for (x, zp, want) in cases {
            assert_eq!(quantize(x, inv, zp, 0, 255), want, "q({x}, zp {zp})");
        }
        assert_eq!(quantize(63.25, inv, 128, 0, 255), 254);
        assert_eq!(quantize(63.75, inv, 128, 0, 255), 255);
        // Signed 8-bit, symmetric.
        assert_eq!(quantize(-64.25, inv, 0, -127, 127), -127);
        assert_eq!(quantize(-63.25, inv, 0, -127, 127), -126);
        assert_eq!(quantize(-63.75, inv, 0, -127, 127), -127);
        assert_eq!(quantize(-0.5, inv, -3, -128, 127), -4);
    }

    #[test]
    fn quantize_special_values() {
        assert_eq!(quantize(f32::NAN, 10.0, 7, 0, 255), 7);
        assert_eq!(quantize(0.0, f32::INFINITY, 7, 0, 255), 7); // 0 * inf = NaN
        assert_eq!(quantize(f32::INFINITY, 10.0, 7, 0, 255), 255);
        assert_eq!(quantize(f32::NEG_INFINITY, 10.0, 7, 0, 255), 0);
        assert_eq!(quantize(f32::MAX, 10.0, 7, i32::MIN, i32::MAX), i32::MAX);
        assert_eq!(quantize(-3e9, 1.0, 0, i32::MIN, i32::MAX), i32::MIN);
        assert_eq!(quantize(1e9, 1.0, i32::MAX, i32::MIN, i32::MAX), i32::MAX);
        assert_eq!(quantize(1.0, 1.0, 0, 5, 3), 3);
    }

    #[test]
    fn quantize_dequantize_round_trip() {
        let scale = 0.0235f32;
        let inv = reciprocal(scale);
        for zp in [0, 3, 128, 255] {
            for q in 0..=255 {
                let x = dequantize(q, scale, zp);
                assert_eq!(quantize(x, inv, zp, 0, 255), q, "q {q} zp {zp}");
            }
        }
        assert_eq!(dequantize(0, 0.5, 3), -1.5);
        assert_eq!(dequantize(i32::MIN, 1.0, i32::MAX), -4_294_967_295.0);
    }

    #[test]
    fn multiply_by_reciprocal_is_the_definition() {
        // x / s and x * (1/s) differ for some inputs: we define the latter. 0.1 is not a
        // power of two, so the reciprocal is inexact.
        let s = 0.1f32;
        let inv = reciprocal(s);
        let mut differ = 0;
        for i in -20_000..20_000 {
            let x = i as f32 * 0.0125;
            let by_mul = quantize(x, inv, 0, -100_000, 100_000);
            assert_eq!(by_mul, (x * inv).round_ties_even() as i32);
            differ += i32::from(by_mul != (x / s).round_ties_even() as i32);
        }
        // The two formulas are nearly always equal; the spec picks one.
        assert!(differ < 100, "{differ}");
    }

    #[test]
    fn bias_q_goldens() {
        // s_x * s_w = 0.25: b = k * 0.125 gives ties at odd k.
        assert_eq!(bias_q(0.125, 0.5, 0.5), 0); // 0.5 -> 0
        assert_eq!(bias_q(0.375, 0.5, 0.5), 2); // 1.5 -> 2
        assert_eq!(bias_q(0.625, 0.5, 0.5), 2); // 2.5 -> 2
        assert_eq!(bias_q(-0.375, 0.5, 0.5), -2);
        assert_eq!(bias_q(-0.625, 0.5, 0.5), -2);
        assert_eq!(bias_q(1.0, 0.02, 0.003), 16_667);
        assert_eq!(bias_q(1e10, 1e-3, 1e-3), i32::MAX);
        assert_eq!(bias_q(-1e10, 1e-3, 1e-3), i32::MIN);
        assert_eq!(bias_q(1.0, 0.0, 0.5), i32::MAX);
        assert_eq!(bias_q(0.0, 0.0, 0.5), 0);
        assert_eq!(bias_q(f32::NAN, 1.0, 1.0), 0);
    }
}
