//! Proof that an integer accumulator cannot overflow i32 (DESIGN.md "Arithmetic": "prove per
//! layer that acc cannot overflow int32").
//!
//! For `acc = bias + sum_k (x_k - zp) * w_k` with every `x_k` in `[qmin, qmax]`:
//! `|acc| <= max(|qmin - zp|, |qmax - zp|) * sum_k |w_k| + |bias|`. With constant weights the
//! sum of `|w_k|` over one output channel is known at compile time, which gives a bound as
//! tight as the weights allow; without it, `sum_k |w_k| <= K * max |w|` (the textbook bit
//! growth bound, [`accumulator_bound_coarse`]).

/// `max(|qmin - zp|, |qmax - zp|)`: the largest centered activation magnitude.
pub fn centered_absmax(qmin: i64, qmax: i64, zp: i64) -> i64 {
    (qmin - zp).abs().max((qmax - zp).abs())
}

/// `x_absmax * w_abs_sum + |bias|`, saturating at `i64::MAX`.
pub fn accumulator_bound(x_absmax: i64, w_abs_sum: i64, bias: i64) -> i64 {
    x_absmax
        .saturating_mul(w_abs_sum)
        .saturating_add(bias.saturating_abs())
}

/// `x_absmax * w_absmax * k + |bias|`, saturating at `i64::MAX`.
pub fn accumulator_bound_coarse(x_absmax: i64, w_absmax: i64, k: i64, bias: i64) -> i64 {
    accumulator_bound(x_absmax, w_absmax.saturating_mul(k), bias)
}

/// Whether a bound of [`accumulator_bound`] proves the accumulator fits i32.
pub fn fits_i32(bound: i64) -> bool {
    bound <= i64::from(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_bit_layers_fit_and_sixteen_bit_ones_need_the_weights() {
        // u8 x i8 with zp 0: 255 * 127 * K; K = 66_000 still fits.
        let x = centered_absmax(0, 255, 0);
        assert_eq!(x, 255);
        assert!(fits_i32(accumulator_bound_coarse(x, 127, 66_000, 0)));
        assert!(!fits_i32(accumulator_bound_coarse(x, 127, 67_000, 0)));
        // Asymmetric zero points count from the far end.
        assert_eq!(centered_absmax(0, 255, 200), 200);
        assert_eq!(centered_absmax(-128, 127, -128), 255);
        // i16 symmetric (zp 0): 32768 * 127 * K overflows from K = 517.
        let x16 = centered_absmax(-32767, 32767, 0);
        assert!(fits_i32(accumulator_bound_coarse(x16, 127, 516, 0)));
        assert!(!fits_i32(accumulator_bound_coarse(x16, 127, 517, 0)));
        // The exact weight sum proves more: K = 1568 with a mean |w| of 20.
        assert!(fits_i32(accumulator_bound(x16, 1568 * 20, 1 << 20)));
        // The bias counts, and the edge is inclusive.
        assert!(fits_i32(accumulator_bound(1, i64::from(i32::MAX) - 5, 5)));
        assert!(!fits_i32(accumulator_bound(1, i64::from(i32::MAX) - 5, -6)));
        // Saturation instead of wrap-around.
        assert_eq!(accumulator_bound(i64::MAX, 2, 0), i64::MAX);
        assert_eq!(accumulator_bound(1, 1, i64::MIN), i64::MAX);
    }
}
