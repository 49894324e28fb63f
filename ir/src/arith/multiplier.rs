//! Derivation of the fixed-point multiplier and shift that stand for a real scale ratio.

use super::ArithError;

/// The largest left shift a [`QuantizedMultiplier`] may carry (`shift >= -MAX_LEFT_SHIFT`):
/// real multipliers up to (but excluding) `2^31` are representable.
pub const MAX_LEFT_SHIFT: i32 = 31;

/// A real multiplier `M` as a Q31 integer and a power-of-two exponent:
///
/// ```text
/// M = m0 * 2^-31 * 2^-shift
/// ```
///
/// `shift > 0` is a rounding right shift after [`super::sqrdmulh`], `shift < 0` a saturating
/// left shift before it. Normal form (any `M` in `[2^-32, 2^31)`): `m0` in `[2^30, 2^31)` and
/// `shift` in `[-31, 31]`. Two documented exceptions, both produced only by
/// [`quantize_multiplier`] for tiny `M`:
/// - `M < 2^-32` keeps `shift = 31` and scales `m0 = round(M * 2^62)` below `2^30`
///   (denormal; exact to `2^-63` absolute);
/// - `M = 0`, or `M` so small that `m0` rounds to 0, gives `m0 = 0, shift = 0`: the product
///   is always 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct QuantizedMultiplier {
    /// Q31 significand: `m0 / 2^31` is in `[0.5, 1)` in normal form.
    pub m0: i32,
    /// Right shift (negative: left shift) applied around the high multiply.
    pub shift: i32,
}

impl QuantizedMultiplier {
    /// The multiplier 0.
    pub const ZERO: QuantizedMultiplier = QuantizedMultiplier { m0: 0, shift: 0 };

    /// The multiplier 1 (`2^30 / 2^31 * 2^1`).
    pub const ONE: QuantizedMultiplier = QuantizedMultiplier {
        m0: 1 << 30,
        shift: -1,
    };

    /// The real number this multiplier represents, exactly (every value is a dyadic rational
    /// that f64 holds exactly).
    pub fn to_f64(self) -> f64 {
        f64::from(self.m0) * exp2i(-31 - self.shift)
    }

    /// True for an exact power of two `2^-(shift + 1)` (`m0 = 2^30`): the form of every
    /// multiplier of a `--scales pow2` program, which kernels apply without a multiply
    /// (see [`super::requantize`]).
    pub fn is_pow2(self) -> bool {
        self.m0 == 1 << 30
    }

    /// True when `m0` is in `[2^30, 2^31)` (the normal form).
    pub fn is_normalized(self) -> bool {
        self.m0 >= 1 << 30
    }
}

/// Derives `(m0, shift)` with `M = m0 * 2^-31 * 2^-shift` for a real multiplier `M >= 0`
/// (typically `s_x * s_w / s_y`).
///
/// 1. Split `M = f * 2^e` with `f` in `[0.5, 1)` (frexp, by bit manipulation).
/// 2. `m0 = round_half_even(f * 2^31)`; `shift = -e`. The relative error is at most `2^-31`.
/// 3. If rounding reached `2^31` (the `1 << 31` edge: `f >= 1 - 2^-32`), take
///    `m0 = 2^30` and `shift -= 1`, which represents the same value.
/// 4. `M >= 1` gives `shift < 0` (a left shift); `M >= 2^31` needs more than
///    [`MAX_LEFT_SHIFT`] and is an error.
/// 5. `M < 2^-32` would need `shift > 31`; instead `shift = 31` and `m0 = round(M * 2^62)`,
///    below `2^30`, or [`QuantizedMultiplier::ZERO`] when that rounds to 0.
///
/// `M = 0` gives [`QuantizedMultiplier::ZERO`]; a negative, NaN or infinite `M` is an error.
pub fn quantize_multiplier(real: f64) -> Result<QuantizedMultiplier, ArithError> {
    if !real.is_finite() || real < 0.0 {
        return Err(ArithError::InvalidMultiplier(real));
    }
    if real == 0.0 {
        return Ok(QuantizedMultiplier::ZERO);
    }
    // 1. frexp. Subnormal inputs are far below 2^-32 and go to step 5 directly.
    let bits = real.to_bits();
    let biased = ((bits >> 52) & 0x7FF) as i32;
    if biased == 0 {
        return Ok(tiny(real));
    }
    let e = biased - 1022;
    let f = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1022u64 << 52));
    // 2. Q31 significand, rounded to nearest even (exact scaling by a power of two).
    let mut m0 = (f * 2_147_483_648.0).round_ties_even() as i64;
    let mut shift = -e;
    // 3. The 1 << 31 edge.
    if m0 == 1i64 << 31 {
        m0 = 1i64 << 30;
        shift -= 1;
    }
    // 4. Left-shift limit.
    if shift < -MAX_LEFT_SHIFT {
        return Err(ArithError::MultiplierTooLarge(real));
    }
    // 5. Tiny multipliers.
    if shift > 31 {
        return Ok(tiny(real));
    }
    Ok(QuantizedMultiplier {
        m0: m0 as i32,
        shift,
    })
}

/// Step 5 of [`quantize_multiplier`]: `shift = 31`, `m0 = round(M * 2^62) <= 2^30`.
fn tiny(real: f64) -> QuantizedMultiplier {
    let m0 = (real * exp2i(62)).round_ties_even() as i32;
    if m0 == 0 {
        QuantizedMultiplier::ZERO
    } else {
        QuantizedMultiplier { m0, shift: 31 }
    }
}

/// `2^k` as an f64, for `k` in the normal exponent range `[-1022, 1023]` (clamped).
pub(crate) fn exp2i(k: i32) -> f64 {
    let k = k.clamp(-1022, 1023);
    f64::from_bits(((1023 + k) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn qm(m0: i32, shift: i32) -> QuantizedMultiplier {
        QuantizedMultiplier { m0, shift }
    }

    #[test]
    fn goldens() {
        let cases: [(f64, QuantizedMultiplier); 10] = [
            (0.0, QuantizedMultiplier::ZERO),
            (1.0, QuantizedMultiplier::ONE),
            (0.5, qm(1 << 30, 0)),
            (0.75, qm(0x6000_0000, 0)),
            (0.25, qm(1 << 30, 1)),
            (1.5, qm(0x6000_0000, -1)),
            (3.0, qm(0x6000_0000, -2)),
            // 2^-32 is the last normal-form value: m0 = 2^30, shift = 31.
            (2f64.powi(-32), qm(1 << 30, 31)),
            // Below it, shift stays 31 and m0 is scaled down.
            (2f64.powi(-33), qm(1 << 29, 31)),
            (2f64.powi(-63), qm(0, 0)),
        ];
        for (real, want) in cases {
            assert_eq!(quantize_multiplier(real), Ok(want), "{real}");
        }
        // 2^-62 is exactly m0 = 1.
        assert_eq!(quantize_multiplier(2f64.powi(-62)), Ok(qm(1, 31)));
        // The largest representable multiplier, and the first one that is not.
        assert_eq!(
            quantize_multiplier(2f64.powi(31) * (1.0 - 2f64.powi(-31))),
            Ok(qm(i32::MAX, -31))
        );
        assert_eq!(
            quantize_multiplier(2f64.powi(31)),
            Err(ArithError::MultiplierTooLarge(2f64.powi(31)))
        );
    }

    #[test]
    fn the_one_shl_31_edge() {
        // f = 1 - 2^-33 rounds to 2^31: represented as 2^30 with one less shift.
        let real = 0.5 * (1.0 - 2f64.powi(-33));
        assert_eq!(quantize_multiplier(real), Ok(qm(1 << 30, 0)));
        let real = 1.0 - 2f64.powi(-33);
        assert_eq!(quantize_multiplier(real), Ok(QuantizedMultiplier::ONE));
        // Just below the edge rounds down to i32::MAX.
        let real = 0.5 * (1.0 - 3.0 * 2f64.powi(-32));
        assert_eq!(quantize_multiplier(real), Ok(qm(i32::MAX - 1, 1)));
    }

    #[test]
    fn invalid_inputs_are_errors() {
        for bad in [-1.0, -1e-300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                quantize_multiplier(bad),
                Err(ArithError::InvalidMultiplier(_))
            ));
        }
        assert_eq!(quantize_multiplier(-0.0), Ok(QuantizedMultiplier::ZERO));
        assert_eq!(
            quantize_multiplier(f64::MIN_POSITIVE),
            Ok(QuantizedMultiplier::ZERO)
        );
        assert!(matches!(
            quantize_multiplier(1e300),
            Err(ArithError::MultiplierTooLarge(_))
        ));
    }

    proptest! {
        #[test]
        fn normal_range_reconstructs_within_2_pow_minus_31(
            mant in 1.0f64..2.0, exp in -33i32..31,
        ) {
            let real = mant * exp2i(exp);
            let q = quantize_multiplier(real).unwrap();
            prop_assert!(q.is_normalized() || real < exp2i(-32));
            prop_assert!((-31..=31).contains(&q.shift));
            let rel = (q.to_f64() - real).abs() / real;
            if real >= exp2i(-32) {
                prop_assert!(rel <= exp2i(-31), "{real}: {q:?} rel {rel}");
            } else {
                prop_assert!((q.to_f64() - real).abs() <= exp2i(-63));
            }
        }

        #[test]
        fn tiny_range_is_exact_to_2_pow_minus_63(real in 0.0f64..2.4e-10) {
            let q = quantize_multiplier(real).unwrap();
            prop_assert!((q.to_f64() - real).abs() <= exp2i(-63));
            prop_assert!(q.m0 >= 0 && q.m0 <= 1 << 30 || q.is_normalized());
        }

        #[test]
        fn near_the_edge(k in 0u32..40, mant in 1u64..1000) {
            // f = 1 - mant * 2^-(32 + k) sits just below 1 in every binade near 1.
            let real = (1.0 - mant as f64 * exp2i(-(32 + k as i32))) * 0.5;
            let q = quantize_multiplier(real).unwrap();
            prop_assert!(q.is_normalized());
            prop_assert!((q.to_f64() - real).abs() / real <= exp2i(-31));
        }
    }
}
