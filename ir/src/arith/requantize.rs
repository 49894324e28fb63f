//! Requantization of an int32 accumulator to an output integer type.

use super::{QuantizedMultiplier, RoundingMode, rounding_shift_right, sqrdmulh};

/// Requantizes an int32 accumulator of scale `s_x * s_w` to an output of scale `s_y` and zero
/// point `zp_out`, with `m = quantize_multiplier(s_x * s_w / s_y)`:
///
/// ```text
/// y = clamp(zp_out + round_shift(sqrdmulh(acc << left, m0), right), lo, hi)
/// ```
///
/// 1. **Left shift** (only when `m.shift < 0`, i.e. `M >= 1`): `acc << -shift`, saturated to
///    i32.
/// 2. **High multiply**: `t = sqrdmulh(acc, m0)` = `acc * m0 / 2^31` rounded half up.
/// 3. **Rounding right shift** (only when `m.shift > 0`): `t / 2^shift` rounded per `mode`.
/// 4. **Zero point**: add `zp_out` (in 64 bits: no wrap-around).
/// 5. **Clamp** to `[lo, hi]`, the output type's range intersected with any fused
///    ReLU/ReLU6/Clip. If `lo > hi` the result is `hi`.
///
/// Steps 2 and 3 round twice. For `HalfUp` the composition is exactly one rounding with a
/// small upward bias: `floor((acc * m0 + 2^30 + 2^(30 + shift)) / 2^(31 + shift))`. In both
/// modes `|y - acc * M| <= 1` before the clamp, and the result can differ by one from
/// `round(acc * M)`: `acc = -3, M = 0.25` gives `t = -1` then `0` (half-up) or `-1`
/// (away), while `-0.75` rounds to `-1`. That double rounding is part of the definition (as in
/// gemmlowp, TFLite and TVM) because it is what the vector code computes.
///
/// **Power-of-two multipliers** (`--scales pow2`: every `M = 2^-k` is `m0 = 2^30`,
/// `shift = k - 1`, [`QuantizedMultiplier::is_pow2`]): step 2 is `sqrdmulh(x, 2^30) =
/// floor((x + 1) / 2)`, a rounding halving, so the whole requantization is two rounding
/// shifts and no multiply: `y = clamp(zp + round_shift((x >> 1) + (x & 1), shift), lo, hi)`
/// ([`requantize_pow2`]). Kernels may take that path; it is the same function.
#[inline]
pub fn requantize(
    acc: i32,
    m: QuantizedMultiplier,
    zp_out: i32,
    lo: i32,
    hi: i32,
    mode: RoundingMode,
) -> i32 {
    // Step 1: saturating left shift for multipliers >= 1.
    let x = if m.shift < 0 {
        let left = m.shift.unsigned_abs().min(32);
        (i64::from(acc) << left).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    } else {
        acc
    };
    // Step 2: saturating rounding doubling high multiply (a rounding halving for 2^30).
    let x = if m.is_pow2() {
        (x >> 1) + (x & 1)
    } else {
        sqrdmulh(x, m.m0)
    };
    // Step 3: rounding right shift.
    let x = if m.shift > 0 {
        rounding_shift_right(x, m.shift.unsigned_abs(), mode)
    } else {
        x
    };
    // Step 4: output zero point.
    let y = i64::from(x) + i64::from(zp_out);
    // Step 5: clamp (fused activation and output range).
    y.max(i64::from(lo)).min(i64::from(hi)) as i32
}

/// [`requantize`] for `M = 2^-k` (`m0 = 2^30`, `shift = k - 1`) without a multiply: for
/// `k <= 0` a saturating left shift by `1 - k`; then a rounding halving
/// `(x >> 1) + (x & 1)` (= `sqrdmulh(x, 2^30)`); for `k > 1` a rounding right shift by
/// `k - 1`; the zero point and the clamp. Equal to
/// `requantize(acc, quantize_multiplier(2^-k)?, ..)` for every `k` in `-30..=32`.
pub fn requantize_pow2(acc: i32, k: i32, zp_out: i32, lo: i32, hi: i32, mode: RoundingMode) -> i32 {
    let x = if k <= 0 {
        let left = (1 - k).unsigned_abs().min(32);
        (i64::from(acc) << left).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    } else {
        acc
    };
    let h = (x >> 1) + (x & 1);
    let y = if k > 1 {
        rounding_shift_right(h, (k - 1).unsigned_abs(), mode)
    } else {
        h
    };
    let y = i64::from(y) + i64::from(zp_out);
    y.max(i64::from(lo)).min(i64::from(hi)) as i32
}

#[cfg(test)]
mod tests {
    use super::super::{ArithError, quantize_multiplier};
    use super::*;
    use RoundingMode::*;
    use proptest::prelude::*;

    fn qm(real: f64) -> QuantizedMultiplier {
        quantize_multiplier(real).unwrap()
    }

    const WIDE: (i32, i32) = (i32::MIN, i32::MAX);

    fn rq(acc: i32, real: f64, zp: i32, (lo, hi): (i32, i32), mode: RoundingMode) -> i32 {
        requantize(acc, qm(real), zp, lo, hi, mode)
    }

    #[test]
    fn goldens_at_ties() {
        // (acc, M, half-up, half-away-from-zero); zp 0, no clamp.
        let cases = [
            (6, 0.25, 2, 2),      // t = 3, 1.5
            (-6, 0.25, -1, -2),   // t = -3, -1.5
            (-2, 0.25, 0, -1),    // t = -1, -0.5
            (2, 0.25, 1, 1),      // 0.5
            (-10, 0.25, -2, -3),  // -2.5
            (10, 0.25, 3, 3),     // 2.5
            (-12, 0.125, -1, -2), // -1.5
            (-20, 0.125, -2, -3), // -2.5
            (-3, 0.25, 0, -1),    // double rounding: t = round(-1.5) = -1, then -0.5
            (3, 0.25, 1, 1),      // t = round(1.5) = 2, then 1
            (-1, 0.5, 0, 0),      // sqrdmulh tie, no shift: always half up
            (1, 0.5, 1, 1),
            (7, 1.0, 7, 7),
            (-7, 1.0, -7, -7),
            (5, 3.0, 15, 15),
            (-5, 3.0, -15, -15),
            (-3, 1.5, -4, -4), // -4.5 in sqrdmulh (M >= 1 has no right shift): half up
        ];
        for (acc, real, up, away) in cases {
            assert_eq!(rq(acc, real, 0, WIDE, HalfUp), up, "{acc} * {real} half-up");
            assert_eq!(
                rq(acc, real, 0, WIDE, HalfAwayFromZero),
                away,
                "{acc} * {real} away"
            );
        }
    }

    #[test]
    fn zero_points_and_saturation() {
        let u8r = (0, 255);
        let i8r = (-128, 127);
        assert_eq!(rq(-6, 0.25, 128, u8r, HalfUp), 127);
        assert_eq!(rq(-6, 0.25, 128, u8r, HalfAwayFromZero), 126);
        assert_eq!(rq(-6, 0.25, -5, i8r, HalfUp), -6);
        assert_eq!(rq(1000, 1.0, 0, i8r, HalfUp), 127);
        assert_eq!(rq(-1000, 1.0, 0, i8r, HalfUp), -128);
        assert_eq!(rq(-1000, 1.0, 200, u8r, HalfUp), 0);
        // Fused ReLU6 with s_y = 6/255, zp 0: lo = zp, hi = 255.
        assert_eq!(rq(-50, 0.5, 0, (0, 255), HalfUp), 0);
        // Fused ReLU on i8 with zp -10: lo = -10.
        assert_eq!(rq(-50, 0.5, -10, (-10, 127), HalfUp), -10);
        // Saturating left shift for M >= 1, then the clamp.
        assert_eq!(
            rq(i32::MAX, 3.0, 0, WIDE, HalfUp),
            sqrdmulh(i32::MAX, 0x6000_0000)
        );
        assert_eq!(
            rq(i32::MIN, 3.0, 0, WIDE, HalfUp),
            sqrdmulh(i32::MIN, 0x6000_0000)
        );
        assert_eq!(rq(i32::MAX, 3.0, 0, i8r, HalfUp), 127);
        // Zero point addition does not wrap around.
        assert_eq!(rq(i32::MAX, 1.0, i32::MAX, WIDE, HalfUp), i32::MAX);
        assert_eq!(rq(i32::MIN, 1.0, i32::MIN, WIDE, HalfUp), i32::MIN);
        // Zero and tiny multipliers.
        assert_eq!(rq(i32::MAX, 0.0, 3, u8r, HalfUp), 3);
        assert_eq!(rq(i32::MAX, 2f64.powi(-33), 3, u8r, HalfUp), 3);
        assert_eq!(rq(i32::MAX, 2f64.powi(-31), 3, u8r, HalfUp), 4);
        assert_eq!(rq(i32::MIN, 2f64.powi(-32), 0, WIDE, HalfAwayFromZero), -1);
        assert_eq!(rq(i32::MIN, 2f64.powi(-32), 0, WIDE, HalfUp), 0);
        // An inverted range gives hi.
        assert_eq!(rq(5, 1.0, 0, (10, 0), HalfUp), 0);
        assert_eq!(
            quantize_multiplier(-1.0),
            Err(ArithError::InvalidMultiplier(-1.0))
        );
    }

    /// An independent exact reference in i128 and f64: the closed forms of the definition.
    fn reference(
        acc: i32,
        m: QuantizedMultiplier,
        zp: i32,
        lo: i32,
        hi: i32,
        mode: RoundingMode,
    ) -> i32 {
        let left = if m.shift < 0 { -m.shift } else { 0 };
        let right = if m.shift > 0 { m.shift } else { 0 };
        let a = (i128::from(acc) << left).clamp(i128::from(i32::MIN), i128::from(i32::MAX));
        let p = a * i128::from(m.m0);
        let y = match mode {
            // One floor: floor((p + 2^30 + 2^(30 + right)) / 2^(31 + right)).
            HalfUp if right > 0 => (p + (1 << 30) + (1i128 << (30 + right))) >> (31 + right),
            _ => {
                let t = ((p + (1 << 30)) >> 31).min(i128::from(i32::MAX));
                // f64::round is half away from zero; t / 2^right is exact in f64.
                let q = t as f64 / 2f64.powi(right);
                match mode {
                    HalfUp => (q + 0.5).floor() as i128,
                    HalfAwayFromZero => q.round() as i128,
                }
            }
        };
        (y + i128::from(zp)).max(i128::from(lo)).min(i128::from(hi)) as i32
    }

    #[test]
    fn pow2_rounding_shift_goldens() {
        // M = 1/4: halve with rounding (1 -> 1, -1 -> 0), then shift by one more.
        let cases = [
            (0, 2, 0, 0),
            (1, 2, 1, 1), // 0.25: the halving rounds 0.5 up to 1, then 0.5 -> 1 (double rounding)
            (2, 2, 1, 1),
            (3, 2, 1, 1),
            (5, 2, 2, 2), // 1.25: h = 3, 1.5 -> 2 (half-up) and 2 (away)
            (-5, 2, -1, -1),
            (-6, 2, -1, -2), // -1.5: h = -3, -1.5 -> -1 (half-up) or -2 (away)
            (100, 0, 100, 100),
            (7, -3, 56, 56),                  // 2^3: a left shift
            (i32::MAX, -1, 1 << 30, 1 << 30), // saturates at << 2, then halves (the definition)
        ];
        for (acc, k, up, away) in cases {
            assert_eq!(
                requantize_pow2(acc, k, 0, i32::MIN, i32::MAX, HalfUp),
                up,
                "{acc} {k}"
            );
            assert_eq!(
                requantize_pow2(acc, k, 0, i32::MIN, i32::MAX, HalfAwayFromZero),
                away,
                "{acc} {k} away"
            );
        }
        assert!(qm(0.25).is_pow2() && qm(1.0).is_pow2() && !qm(0.3).is_pow2());
    }

    proptest! {
        #[test]
        fn pow2_path_is_the_multiplier_path(acc in any::<i32>(), k in -30i32..=32, zp in -300i32..300) {
            let m = qm(2f64.powi(-k));
            prop_assert!(m.is_pow2());
            for mode in RoundingMode::ALL {
                prop_assert_eq!(
                    requantize_pow2(acc, k, zp, -40_000, 40_000, mode),
                    requantize(acc, m, zp, -40_000, 40_000, mode)
                );
                prop_assert_eq!(
                    requantize(acc, m, zp, -40_000, 40_000, mode),
                    reference(acc, m, zp, -40_000, 40_000, mode)
                );
            }
        }

        #[test]
        fn matches_exact_reference(
            acc in any::<i32>(), mant in 1.0f64..2.0, exp in -40i32..6,
            zp in -300i32..300, lo in -200i32..0, width in 0i32..600,
        ) {
            let m = qm(mant * 2f64.powi(exp));
            for mode in RoundingMode::ALL {
                let got = requantize(acc, m, zp, lo, lo + width, mode);
                prop_assert_eq!(got, reference(acc, m, zp, lo, lo + width, mode));
                let wide = requantize(acc, m, zp, i32::MIN, i32::MAX, mode);
                prop_assert_eq!(wide, reference(acc, m, zp, i32::MIN, i32::MAX, mode));
            }
        }

        #[test]
        fn within_one_of_the_real_product(acc in any::<i32>(), mant in 1.0f64..2.0, exp in -32i32..0) {
            let real = mant * 2f64.powi(exp);
            let m = qm(real);
            for mode in RoundingMode::ALL {
                let y = requantize(acc, m, 0, i32::MIN, i32::MAX, mode);
                let err = (f64::from(y) - f64::from(acc) * real).abs();
                prop_assert!(err <= 1.0, "{} * {} = {} ({:?})", acc, real, y, mode);
            }
        }

        #[test]
        fn small_accumulators_with_tie_prone_multipliers(acc in -4096i32..4096, k in 0i32..12) {
            // M = 2^-k makes every stage exact or an exact tie.
            let m = qm(2f64.powi(-k));
            for mode in RoundingMode::ALL {
                prop_assert_eq!(
                    requantize(acc, m, 0, i32::MIN, i32::MAX, mode),
                    reference(acc, m, 0, i32::MIN, i32::MAX, mode)
                );
            }
        }
    }
}
