//! Rounding: float round-half-even without libm, and rounding right shifts per target.

use std::fmt;
use std::str::FromStr;

use super::ArithError;

/// How a rounding right shift breaks ties. This is a property of the target.
///
/// Both modes round to the nearest integer and differ only on exact ties of negative values:
///
/// | x / 2^n | `HalfUp` | `HalfAwayFromZero` |
/// |---|---|---|
/// | 1.5 (`3 >> 1`) | 2 | 2 |
/// | -1.5 (`-3 >> 1`) | -1 | -2 |
/// | -2.5 (`-5 >> 1`) | -2 | -3 |
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RoundingMode {
    /// `floor(x / 2^n + 1/2)`: ties toward +infinity, `(x + (1 << (n-1))) >> n`. What every HVX
    /// `:rnd` shift computes; the rounding of the `hvx-like` target.
    HalfUp,
    /// Ties away from zero: gemmlowp's `RoundingDivideByPOT` as used by TFLite. Selectable for
    /// `generic-c`.
    HalfAwayFromZero,
}

impl RoundingMode {
    /// All modes, in a fixed order.
    pub const ALL: [RoundingMode; 2] = [RoundingMode::HalfUp, RoundingMode::HalfAwayFromZero];

    /// The spelling used on the command line and in `.qir` text.
    pub fn name(self) -> &'static str {
        match self {
            RoundingMode::HalfUp => "half-up",
            RoundingMode::HalfAwayFromZero => "half-away-from-zero",
        }
    }
}

impl fmt::Display for RoundingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RoundingMode {
    type Err = ArithError;

    fn from_str(s: &str) -> Result<RoundingMode, ArithError> {
        RoundingMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| ArithError::UnknownRoundingMode(s.to_string()))
    }
}

/// Rounds to the nearest integer, ties to even, without libm. Equal to
/// [`f32::round_ties_even`] for every input, including `-0.0`, infinities and NaN.
///
/// Method (reproducible in freestanding C compiled without `-ffast-math`): for `|x| < 2^23`,
/// `(|x| + 2^23) - 2^23` makes the FPU's default round-to-nearest-even drop the fraction,
/// because every f32 in `[2^23, 2^24)` is an integer; the sign is then copied back, so
/// `-0.3` gives `-0.0`. Every f32 with `|x| >= 2^23` is already an integer and is returned
/// unchanged, as are infinities and NaN.
///
/// We use `2^23` on the absolute value rather than the signed `1.5 * 2^23` trick because the
/// latter is only exact for `|x| <= 2^22`; this form is exact on the whole f32 range.
#[inline]
pub fn round_half_even_f32(x: f32) -> f32 {
    const TWO_POW_23: f32 = 8_388_608.0;
    let a = x.abs();
    if a.is_nan() || a >= TWO_POW_23 {
        return x;
    }
    let r = (a + TWO_POW_23) - TWO_POW_23;
    r.copysign(x)
}

/// Rounding arithmetic right shift of an `i32`: the integer nearest to `x / 2^n`, ties broken
/// by `mode`. `n = 0` is the identity. Any `n` is accepted: the exact quotient is rounded, so
/// for `n >= 33` the result is 0 and for `n = 32` only `x = i32::MIN` (exactly -0.5) can give
/// -1 (in `HalfAwayFromZero`). The result always fits `i32`.
#[inline]
pub fn rounding_shift_right(x: i32, n: u32, mode: RoundingMode) -> i32 {
    // |x / 2^n| <= 2^31 / 2 for n >= 1, so the rounded quotient fits in i32.
    rounding_shift_right_i64(i64::from(x), n, mode) as i32
}

/// [`rounding_shift_right`] for `i64` inputs (any `n`; the result always fits `i64`).
#[inline]
pub fn rounding_shift_right_i64(x: i64, n: u32, mode: RoundingMode) -> i64 {
    if n == 0 {
        return x;
    }
    // Shifts beyond 100 round exactly as 100 does: |x| < 2^63 is far below 2^99.
    let n = n.min(100);
    let half = 1i128 << (n - 1);
    let x = i128::from(x);
    let r = match mode {
        RoundingMode::HalfUp => (x + half) >> n,
        RoundingMode::HalfAwayFromZero => {
            if x >= 0 {
                (x + half) >> n
            } else {
                -((half - x) >> n)
            }
        }
    };
    r as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_mode_names_round_trip() {
        for m in RoundingMode::ALL {
            assert_eq!(m.to_string().parse::<RoundingMode>(), Ok(m));
        }
        assert_eq!("half-up".parse(), Ok(RoundingMode::HalfUp));
        assert_eq!(
            "half-even".parse::<RoundingMode>(),
            Err(ArithError::UnknownRoundingMode("half-even".into()))
        );
    }

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn round_half_even_goldens() {
        let cases: [(f32, f32); 14] = [
            (0.5, 0.0),
            (1.5, 2.0),
            (2.5, 2.0),
            (-0.5, -0.0),
            (-1.5, -2.0),
            (-2.5, -2.0),
            (0.49999997, 0.0),
            (-0.3, -0.0),
            (1.0e10, 1.0e10),
            (8_388_607.5, 8_388_608.0),
            (4_194_304.5, 4_194_304.0),
            (-4_194_305.5, -4_194_306.0),
            (f32::INFINITY, f32::INFINITY),
            (f32::NEG_INFINITY, f32::NEG_INFINITY),
        ];
        for (x, want) in cases {
            assert!(same(round_half_even_f32(x), want), "{x}");
        }
        assert!(round_half_even_f32(f32::NAN).is_nan());
    }

    #[test]
    fn round_half_even_matches_std_on_every_tie_and_many_values() {
        // Every .5 tie (and its neighbours) in [-70000, 70000].
        for k in -140_000i32..=140_000 {
            let t = k as f32 * 0.5;
            for x in [
                t,
                f32::from_bits(t.to_bits() + 1),
                f32::from_bits(t.to_bits().wrapping_sub(1)),
            ] {
                assert!(same(round_half_even_f32(x), x.round_ties_even()), "{x}");
            }
        }
        // A stride over all bit patterns (both signs, all exponents, NaNs, infinities).
        let mut bits = 0u32;
        loop {
            let x = f32::from_bits(bits);
            assert!(
                same(round_half_even_f32(x), x.round_ties_even()),
                "{x} ({bits:#x})"
            );
            bits = match bits.checked_add(9973) {
                Some(b) => b,
                None => break,
            };
        }
        // Every f32 around the 2^22 and 2^23 boundaries.
        for base in [4_194_304.0f32, 8_388_608.0] {
            let b = base.to_bits();
            for i in 0..2048u32 {
                for x in [f32::from_bits(b - i), f32::from_bits(b + i)] {
                    assert!(same(round_half_even_f32(x), x.round_ties_even()), "{x}");
                    assert!(same(round_half_even_f32(-x), (-x).round_ties_even()), "{x}");
                }
            }
        }
    }

    #[test]
    fn shift_goldens_at_ties() {
        use RoundingMode::*;
        // (x, n, half-up, half-away-from-zero)
        let cases = [
            (3, 1, 2, 2),
            (-3, 1, -1, -2),
            (5, 1, 3, 3),
            (-5, 1, -2, -3),
            (-1, 1, 0, -1),
            (1, 1, 1, 1),
            (-2, 2, 0, -1),
            (2, 2, 1, 1),
            (-6, 2, -1, -2),
            (-7, 2, -2, -2),
            (-5, 2, -1, -1),
            (7, 0, 7, 7),
            (-7, 0, -7, -7),
            (i32::MAX, 1, 1 << 30, 1 << 30),
            (i32::MIN, 1, -(1 << 30), -(1 << 30)),
            (i32::MIN, 31, -1, -1),
            (i32::MAX, 31, 1, 1),
            (i32::MIN, 32, 0, -1),
            (i32::MAX, 32, 0, 0),
            (i32::MIN, 33, 0, 0),
            (-(1 << 30), 31, 0, -1),
            (1 << 30, 31, 1, 1),
        ];
        for (x, n, up, away) in cases {
            assert_eq!(rounding_shift_right(x, n, HalfUp), up, "{x} >> {n} half-up");
            assert_eq!(
                rounding_shift_right(x, n, HalfAwayFromZero),
                away,
                "{x} >> {n} away"
            );
        }
        assert_eq!(rounding_shift_right_i64(i64::MIN, 64, HalfAwayFromZero), -1);
        assert_eq!(rounding_shift_right_i64(i64::MIN, 64, HalfUp), 0);
        assert_eq!(rounding_shift_right_i64(i64::MAX, 1000, HalfUp), 0);
    }

    /// gemmlowp's `RoundingDivideByPOT`, transcribed from its definition (mask/threshold form).
    fn gemmlowp_rdivbypot(x: i32, n: u32) -> i32 {
        let mask = ((1i64 << n) - 1) as i32;
        let remainder = x & mask;
        let threshold = (mask >> 1) + i32::from(x < 0);
        (x >> n) + i32::from(remainder > threshold)
    }

    #[test]
    fn shift_modes_match_their_reference_definitions() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for n in 0..=31u32 {
            for i in 0..4000 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let x = if i < 200 { i - 100 } else { s as i32 };
                let exact = f64::from(x) / 2f64.powi(n as i32);
                assert_eq!(
                    rounding_shift_right(x, n, RoundingMode::HalfUp) as f64,
                    (exact + 0.5).floor(),
                    "{x} >> {n}"
                );
                assert_eq!(
                    rounding_shift_right(x, n, RoundingMode::HalfAwayFromZero),
                    gemmlowp_rdivbypot(x, n),
                    "{x} >> {n}"
                );
            }
        }
    }
}
