//! Division-free averaging (average pooling) by a fixed-point reciprocal.
//!
//! Emitted kernels never divide (Hexagon has no runtime routine for it), so an average over
//! `count` elements multiplies the window sum by the compile-time constant
//! [`fixed_reciprocal`]`(count)` and shifts, reusing the requantization primitives:
//!
//! ```text
//! average(sum) = round_shift(sqrdmulh(sum << 2, m0), shift + 2)    (mode = target rounding)
//! ```
//!
//! # Exactness
//!
//! For `|sum| < 2^29` ([`AVERAGE_SUM_LIMIT`]) the result is exactly `sum / count` rounded to
//! nearest with ties broken by `mode`: `floor(sum/count + 1/2)` for `HalfUp`, ties away from
//! zero for `HalfAwayFromZero` (TFLite's int8 average pool). Proof sketch, with `c = count`,
//! `k = 2` ([`AVERAGE_PRESHIFT`]), `1/c = m0 * 2^-(31+n)`, `s = n + k`, `X = sum * 2^s / c`:
//!
//! - `m0` is `2^(31+n)/c` rounded to nearest (computed in integers), `2^n` in `[c/2, c)`, so
//!   `m0 = (2^(31+n) + e)/c` with `|e| <= c/2`, and `2^s >= 2c`.
//! - Stage 1: `t = floor(sum * 2^k * m0 / 2^31 + 1/2) = floor(X + eps + 1/2)` with
//!   `eps = sum * 2^k * e / (c * 2^31)`, `|eps| <= |sum| * 2^(k-1) / 2^31 < 1/2`. Hence
//!   `|t - X| < 1`, and `t = X` exactly when `X` is an integer.
//! - A tie (`sum/c = odd/2`) makes `X = odd * 2^(s-1)` an integer, so `t / 2^s = sum/c`
//!   exactly and stage 2 breaks the tie by `mode`.
//! - Otherwise `sum/c` is at least `1/(2c)` away from every rounding boundary (boundaries are
//!   half-integers, `sum/c` a multiple of `1/c`), and `|t/2^s - sum/c| < 2^-s <= 1/(2c)`, so
//!   stage 2 rounds to the same integer. `t` has the sign of `sum`, so the away-from-zero
//!   mode sees the same sign too.
//!
//! 8-bit inputs over a 49x49 window sum to at most `2401 * 255 < 2^20` in magnitude, far
//! inside the bound. The tests check every sum of 8-bit windows for every count up to 2401
//! (directly for small counts, and through monotonicity at every rounding boundary).

use super::{ArithError, QuantizedMultiplier, RoundingMode, rounding_shift_right, sqrdmulh};

/// Left shift applied to the sum before the high multiply (keeps the rounding error of
/// [`sqrdmulh`] below half a unit of the final shift).
pub const AVERAGE_PRESHIFT: u32 = 2;

/// [`average`] is exact for `|sum| < AVERAGE_SUM_LIMIT` (`2^29`).
pub const AVERAGE_SUM_LIMIT: i32 = 1 << (31 - AVERAGE_PRESHIFT);

/// The fixed-point reciprocal `1/count = m0 * 2^-31 * 2^-shift` with `m0` in `[2^30, 2^31)`
/// rounded to nearest in exact integer arithmetic (equal to
/// [`super::quantize_multiplier`]`(1.0 / count)`). `shift = ceil(log2(count)) - 1`, so it is
/// -1 for `count = 1` and [`average`]'s total right shift `shift + 2` is at most 31 for
/// `count <= 2^30`. A count of 0 is an error.
pub fn fixed_reciprocal(count: u32) -> Result<QuantizedMultiplier, ArithError> {
    if count == 0 {
        return Err(ArithError::ZeroCount);
    }
    let c = u128::from(count);
    // j = ceil(log2(c)), n = j - 1, so 2^(31 + n) = 2^(30 + j).
    let j = 32 - (count - 1).leading_zeros();
    let num = 1u128 << (30 + j);
    // Round to nearest (no ties: c divides 2^(31 + num bits) only when it is a power of two,
    // and then the quotient is exactly 2^30).
    let m0 = (2 * num + c) / (2 * c);
    Ok(QuantizedMultiplier {
        m0: m0 as i32,
        shift: j as i32 - 1,
    })
}

/// Rounds `sum / count` to an integer without dividing, given
/// `recip = fixed_reciprocal(count)`:
///
/// 1. `x = sum << 2`, saturated.
/// 2. `t = sqrdmulh(x, recip.m0)`.
/// 3. `round_shift(t, recip.shift + 2)` with `mode`.
///
/// Exact (see the module docs) for `|sum| < 2^29`; outside that bound the result is still
/// defined (saturating) but may be off by one.
#[inline]
pub fn average(sum: i32, recip: QuantizedMultiplier, mode: RoundingMode) -> i32 {
    // Step 1: pre-shift, saturating.
    let x = (i64::from(sum) << AVERAGE_PRESHIFT).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    // Step 2: high multiply by the Q31 reciprocal.
    let t = sqrdmulh(x as i32, recip.m0);
    // Step 3: rounding right shift (a multiplier built by hand with a larger left shift gets a
    // saturating left shift instead).
    let total = i64::from(recip.shift) + i64::from(AVERAGE_PRESHIFT);
    if total >= 0 {
        rounding_shift_right(t, total as u32, mode)
    } else {
        let left = total.unsigned_abs().min(32) as u32;
        (i64::from(t) << left).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::super::quantize_multiplier;
    use super::*;
    use RoundingMode::*;

    /// `sum / c` rounded to nearest, ties per mode, with integer division.
    fn exact(sum: i64, c: i64, mode: RoundingMode) -> i64 {
        match mode {
            HalfUp => (2 * sum + c).div_euclid(2 * c),
            HalfAwayFromZero => sum.signum() * ((2 * sum.abs() + c) / (2 * c)),
        }
    }

    #[test]
    fn goldens() {
        let r3 = fixed_reciprocal(3).unwrap();
        let r4 = fixed_reciprocal(4).unwrap();
        assert_eq!(
            r4,
            QuantizedMultiplier {
                m0: 1 << 30,
                shift: 1
            }
        );
        assert_eq!(fixed_reciprocal(1).unwrap(), QuantizedMultiplier::ONE);
        assert_eq!(fixed_reciprocal(0), Err(ArithError::ZeroCount));
        // (sum, recip, half-up, away)
        let cases = [
            (6, r4, 2, 2),    // 1.5
            (-6, r4, -1, -2), // -1.5
            (-2, r4, 0, -1),  // -0.5
            (10, r4, 3, 3),   // 2.5
            (-10, r4, -2, -3),
            (-7, r4, -2, -2), // -1.75
            (-5, r4, -1, -1), // -1.25
            (4, r3, 1, 1),    // 1.33
            (5, r3, 2, 2),    // 1.67
            (-4, r3, -1, -1),
            (-5, r3, -2, -2),
            (0, r3, 0, 0),
        ];
        for (sum, r, up, away) in cases {
            assert_eq!(average(sum, r, HalfUp), up, "{sum} {r:?}");
            assert_eq!(average(sum, r, HalfAwayFromZero), away, "{sum} {r:?}");
        }
    }

    #[test]
    fn reciprocal_equals_the_general_derivation() {
        for c in (1..=70_000u32).chain([1 << 20, (1 << 20) + 1, 1 << 30, u32::MAX]) {
            let r = fixed_reciprocal(c).unwrap();
            assert!(r.is_normalized(), "{c}");
            assert_eq!(Ok(r), quantize_multiplier(1.0 / f64::from(c)), "{c}");
        }
    }

    #[test]
    fn every_sum_of_small_windows() {
        for c in 1..=25u32 {
            let r = fixed_reciprocal(c).unwrap();
            let ci = i64::from(c);
            for sum in -128 * ci..=255 * ci {
                for mode in RoundingMode::ALL {
                    let got = average(sum as i32, r, mode);
                    assert_eq!(i64::from(got), exact(sum, ci, mode), "{sum}/{c} {mode}");
                }
            }
        }
    }

    /// Exhaustive for every count up to 49x49 and every sum of 8-bit inputs, by a cheap
    /// complete argument: `average` and the exact rounding are both non-decreasing in `sum`
    /// (saturating shift, `sqrdmulh` by `m0 >= 0` and rounding shifts all are), and the exact
    /// one steps by one at each rounding boundary. So they agree on a whole range of sums if
    /// they agree at both ends and on both sides of every boundary: the sums
    /// `k*c + c/2 - 1 ..= k*c + c/2 + 1` (boundaries of both signs and both parities of `c`)
    /// and `k*c`.
    #[test]
    fn every_sum_of_8_bit_windows_up_to_49x49() {
        for c in 1..=2401i64 {
            let r = fixed_reciprocal(c as u32).unwrap();
            for k in -128..=255i64 {
                for base in [k * c, k * c + c / 2] {
                    for sum in [base - 1, base, base + 1] {
                        if sum < -128 * c || sum > 255 * c {
                            continue;
                        }
                        for mode in RoundingMode::ALL {
                            assert_eq!(
                                i64::from(average(sum as i32, r, mode)),
                                exact(sum, c, mode),
                                "{sum}/{c}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn monotone_in_the_sum_and_exact_near_the_limit() {
        let limit = i64::from(AVERAGE_SUM_LIMIT);
        let mut s = 0x1234_5678_9ABC_DEF1u64;
        for _ in 0..20_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let c = (s % 100_000) as i64 + 1;
            let near = (s >> 20) as i64 % 4096;
            let r = fixed_reciprocal(c as u32).unwrap();
            for sum in [
                limit - 1 - near,
                -(limit - 1) + near,
                (s >> 34) as i64 % limit,
            ] {
                for mode in RoundingMode::ALL {
                    let got = average(sum as i32, r, mode);
                    assert_eq!(i64::from(got), exact(sum, c, mode), "{sum}/{c}");
                    assert!(average(sum as i32 + 1, r, mode) >= got, "{sum}/{c}");
                }
            }
        }
    }
}
