//! The saturating rounding doubling high multiply (SQRDMULH), qcc's one fixed-point product.

/// Saturating rounding doubling high multiply:
///
/// ```text
/// sqrdmulh(a, b) = sat_i32( floor( (a*b + 2^30) / 2^31 ) )      (exact 64-bit product)
///                = sat_i32( (2*a*b + 2^31) >> 32 )
/// ```
///
/// that is `a * b / 2^31` rounded to nearest with ties toward +infinity. The only input that
/// saturates is `a = b = i32::MIN` (`2^62 / 2^31 = 2^31`), which gives `i32::MAX`.
///
/// # One function, four implementations
///
/// - **ARM `SQRDMULH`** is defined as `sat((2*a*b + (1 << 31)) >> 32)`: the formula above.
/// - **HVX** computes it as `t = vmpye(x, m.uh)` then `vmpyo(x, m.h):<<1:rnd:sat` accumulated
///   on `t` (`Q6_Vw_vmpye_VwVuh` + `Q6_Vw_vmpyoacc_VwVwVh_s1_rnd_sat_shift`). Per the ISA,
///   `t = floor(x * m_lo / 2^16)` and the second step is
///   `sat(((t + x * m_hi) >> 14) + 1) >> 1)`. Since `floor(floor(y / 2^16) / 2^14) =
///   floor(y / 2^30)` and `floor((floor(z) + 1) / 2) = floor((z + 1) / 2)`, this is
///   `sat(floor((x*m + 2^30) / 2^31))`: the same function, for every input. (Checked against
///   qemu's `mmvec/ext.idef` and on qemu-hexagon, see `shared/hexagon/README.md`.)
/// - **gemmlowp `SaturatingRoundingDoublingHighMul`** adds a sign-dependent nudge, `2^30` when
///   `a ^ b >= 0` and `1 - 2^30` otherwise, and then divides by `2^31` with C's *truncating*
///   division. That looks like round-half-away-from-zero but is not: for a negative product
///   `p = -k`, `trunc((-k + 1 - 2^30) / 2^31) = -floor((k + 2^30 - 1) / 2^31)
///   = ceil((-k - 2^30 + 1) / 2^31) = floor((-k + 2^30) / 2^31)`, which is the formula above.
///   (A non-negative product with `a ^ b < 0` is 0: both forms give 0.) So gemmlowp, ARM and
///   HVX agree bit for bit, ties included, and round half *up*: `p / 2^31 = -0.5` gives 0.
///   The tests check this on every tie and on random pairs.
///
/// The place where gemmlowp/TFLite and HVX do differ is the *rounding right shift* that follows
/// (see [`super::RoundingMode`]), never this product.
#[inline]
pub fn sqrdmulh(a: i32, b: i32) -> i32 {
    // 1. exact 64-bit product; |a*b| <= 2^62.
    let p = i64::from(a) * i64::from(b);
    // 2. round to nearest, ties up, dividing by 2^31 (an arithmetic shift floors).
    let r = (p + (1i64 << 30)) >> 31;
    // 3. saturate: only a = b = i32::MIN reaches 2^31.
    r.min(i64::from(i32::MAX)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gemmlowp's scalar definition, transcribed: sign-dependent nudge, truncating division.
    fn gemmlowp(a: i32, b: i32) -> i32 {
        if a == b && a == i32::MIN {
            return i32::MAX;
        }
        let ab = i64::from(a) * i64::from(b);
        let nudge = if (a ^ b) >= 0 {
            1i64 << 30
        } else {
            1 - (1i64 << 30)
        };
        ((ab + nudge) / (1i64 << 31)) as i32
    }

    /// ARM's definition: `sat((2ab + 2^31) >> 32)` in 128-bit arithmetic.
    fn arm(a: i32, b: i32) -> i32 {
        let r = (2 * i128::from(a) * i128::from(b) + (1i128 << 31)) >> 32;
        r.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
    }

    /// The HVX two-instruction sequence, step by step as the ISA defines it.
    fn hvx(x: i32, m: i32) -> i32 {
        let m_lo = i64::from(m as u32 & 0xFFFF); // unsigned low half
        let m_hi = i64::from((m >> 16) as i16); // signed high half
        let t = (i64::from(x) * m_lo) >> 16; // vmpye
        let acc = t + i64::from(x) * m_hi; // vmpyo accumulate
        let r = ((acc >> 14) + 1) >> 1; // :<<1:rnd:sat with the shift
        r.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    #[test]
    fn goldens() {
        // (a, b, result)
        let cases = [
            (i32::MIN, i32::MIN, i32::MAX),
            (i32::MIN, i32::MAX, i32::MIN + 1),
            (i32::MAX, i32::MAX, i32::MAX - 1),
            (i32::MIN, 1 << 30, -(1 << 30)),
            (1 << 30, 1 << 30, 1 << 29),
            (0, i32::MIN, 0),
            (1, 1 << 30, 1),   // 0.5 -> 1
            (-1, 1 << 30, 0),  // -0.5 -> 0 (ties up)
            (3, 1 << 30, 2),   // 1.5 -> 2
            (-3, 1 << 30, -1), // -1.5 -> -1
            (-5, 1 << 30, -2), // -2.5 -> -2
            (1, (1 << 30) - 1, 0),
            (-1, (1 << 30) + 1, -1),
            (100, 1_073_741_824 + 536_870_912, 75), // 100 * 0.75
        ];
        for (a, b, want) in cases {
            assert_eq!(sqrdmulh(a, b), want, "sqrdmulh({a}, {b})");
            assert_eq!(sqrdmulh(b, a), want, "sqrdmulh({b}, {a})");
        }
    }

    #[test]
    fn gemmlowp_arm_and_hvx_are_the_same_function() {
        let check = |a: i32, b: i32| {
            let ours = sqrdmulh(a, b);
            assert_eq!(ours, gemmlowp(a, b), "gemmlowp({a}, {b})");
            assert_eq!(ours, arm(a, b), "arm({a}, {b})");
            assert_eq!(ours, hvx(a, b), "hvx({a}, {b})");
        };
        // Every exact tie p = (2k+1) * 2^30 reachable with b = 2^30 or b = -2^30, and its
        // neighbours, for both signs.
        for a in -5000..=5000 {
            for b in [
                1 << 30,
                -(1 << 30),
                (1 << 30) + 1,
                (1 << 30) - 1,
                -(1 << 30) + 1,
            ] {
                check(a, b);
            }
        }
        // Ties with other factorizations: a * b = odd * 2^30.
        for k in 0..=30 {
            for odd in [1i64, 3, 5, 7, 1023, 65535] {
                let a = (odd << (30 - k)) as i32;
                let b = 1i32 << k.min(30);
                for (x, y) in [(a, b), (-a, b), (a, -b), (-a, -b)] {
                    check(x, y);
                }
            }
        }
        // Extremes and random pairs.
        let edges = [i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX - 1, i32::MAX];
        for a in edges {
            for b in edges {
                check(a, b);
            }
        }
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            check(s as i32, (s >> 32) as i32);
            // Small multipliers make ties more frequent.
            check(s as i32, ((s >> 40) as i32) & 0xFFFF);
        }
    }
}
