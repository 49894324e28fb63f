//! Run-time fixed-point reciprocal without division (integer softmax's `1 / sum`).
//!
//! gemmlowp's `one_over_one_plus_x_for_x_in_0_1`, transcribed with qcc's [`sqrdmulh`]
//! (which equals gemmlowp's `SaturatingRoundingDoublingHighMul` bit for bit): an initial
//! linear estimate `48/17 - 32/17 * d` of `1/d` for `d = (1 + x)/2` in `[0.5, 1)`, then
//! three Newton-Raphson steps `r += r * (1 - d * r)` in Q2.29.

use super::sqrdmulh;

/// `48/17` in Q2.29.
const C_48_OVER_17: i32 = 1_515_870_810;
/// `-32/17` in Q2.29.
const C_NEG_32_OVER_17: i32 = -1_010_580_540;
/// `1.0` in Q2.29.
const ONE_Q29: i32 = 1 << 29;

/// Saturating left shift of an i32.
fn shl_sat(x: i32, n: u32) -> i32 {
    (i64::from(x) << n).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// `1 / (1 + x)` in Q0.31 for `x` in Q0.31 in `[0, 2^31)` (the real `x` in `[0, 1)`):
///
/// 1. `d = (x + (2^31 - 1) + 1) >> 1`: gemmlowp's rounding half sum of `x` and its Q0.31
///    "one" (`i32::MAX`), `(1 + x) / 2` in Q0.31;
/// 2. `r = 48/17 + sqrdmulh(d, -32/17)` (Q2.29);
/// 3. three times: `e = 1 - sqrdmulh(d, r)`, `r = r + sat(sqrdmulh(r, e) << 2)` (Q2.29;
///    the product of two Q2.29 numbers is Q4.27, shifted back to Q2.29);
/// 4. result `sat(((r + 1) >> 1) << 2)`: `r / 2` rounded (half up; `r > 0`), rescaled to Q0.31.
///
/// The result is within a few units of `2^31 / (1 + x)`, saturating at `i32::MAX` for
/// `x = 0`. A negative `x` is treated as 0.
pub fn one_over_one_plus_x(x: i32) -> i32 {
    let x = i64::from(x.max(0));
    // Step 1.
    let d = ((x + i64::from(i32::MAX) + 1) >> 1) as i32;
    // Step 2.
    let mut r = C_48_OVER_17.saturating_add(sqrdmulh(d, C_NEG_32_OVER_17));
    // Step 3.
    for _ in 0..3 {
        let e = ONE_Q29.saturating_sub(sqrdmulh(d, r));
        r = r.saturating_add(shl_sat(sqrdmulh(r, e), 2));
    }
    // Step 4.
    let half = ((i64::from(r) + 1) >> 1) as i32;
    shl_sat(half, 2)
}

/// The reciprocal of a positive `sum` as `1/sum ~ r * 2^-31 * 2^(1 - n)`:
///
/// 1. `n` = the bit length of `sum` (`sum` in `[2^(n-1), 2^n)`, `n <= 31`);
/// 2. `f = sum << (31 - n)` in `[2^30, 2^31)`: `sum / 2^n` in Q0.31, in `[0.5, 1)`;
/// 3. `x = 2 f - 2^31` (so `1 + x = 2 f`), `r = one_over_one_plus_x(x)`, in `about `[2^30, 2^31)`.
///
/// Returns `(r, n)`; `None` for `sum <= 0`.
pub fn reciprocal_q31(sum: i32) -> Option<(i32, u32)> {
    if sum <= 0 {
        return None;
    }
    let n = 32 - sum.leading_zeros();
    let f = i64::from(sum) << (31 - n);
    let x = (2 * f - (1i64 << 31)) as i32;
    Some((one_over_one_plus_x(x), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_to_the_real_reciprocal() {
        let mut worst = 0.0f64;
        for k in 0..=4096i64 {
            let x = ((k << 31) / 4096).min(i64::from(i32::MAX)) as i32;
            let got = f64::from(one_over_one_plus_x(x));
            let want = 2f64.powi(31) / (1.0 + f64::from(x) / 2f64.powi(31));
            worst = worst.max((got - want).abs());
        }
        assert!(worst <= 8.0, "worst error {worst} units of 2^-31");
    }

    #[test]
    fn reciprocal_of_sums() {
        assert_eq!(reciprocal_q31(0), None);
        assert_eq!(reciprocal_q31(-3), None);
        for sum in [1, 2, 3, 5, 7, 100, 255, 65_536, 1_000_003, i32::MAX] {
            let (r, n) = reciprocal_q31(sum).unwrap();
            assert!(((1 << 30) - 16..=i32::MAX).contains(&r), "{sum}: {r}");
            let approx = f64::from(r) * 2f64.powi(-31) * 2f64.powi(1 - n as i32);
            let rel = (approx * f64::from(sum) - 1.0).abs();
            assert!(rel < 2e-8, "{sum}: {approx} rel {rel}");
        }
        // Powers of two are exact up to the saturation of 1.0.
        let (r, n) = reciprocal_q31(4).unwrap();
        assert_eq!((r, n), (i32::MAX, 3));
    }
}
