//! The threshold searches on known distributions.

use super::*;

/// xorshift64*: a tiny deterministic generator, so the tests need no `rand`.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// 100k samples of N(0, 1) observed as 100 tensors of 1000, then one tensor holding a few
/// outliers at +40 (so the range grows by re-binning after most data is in).
fn gaussian_with_outliers(outliers: usize) -> Histogram {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut h = Histogram::new();
    for _ in 0..100 {
        let xs: Vec<f32> = (0..1000).map(|_| rng.normal() as f32).collect();
        h.observe(&xs);
    }
    // Distinct values: identical ones at the maximum would read as a saturated bound.
    let tail: Vec<f32> = (0..outliers).map(|k| 40.0 - 0.01 * k as f32).collect();
    h.observe(&tail);
    h
}

fn all_methods() -> [Method; 4] {
    [
        Method::MinMax,
        Method::Percentile(99.99),
        Method::Entropy,
        Method::Mse,
    ]
}

#[test]
fn gaussian_with_outliers_entropy_and_percentile_clip_well_inside() {
    let h = gaussian_with_outliers(5);
    assert_eq!(h.stats().range().map(|r| r.1), Some(40.0));
    for scheme in [Scheme::I8_SYMMETRIC, Scheme::U8_ASYMMETRIC] {
        let mm = clip_range(&h, Method::MinMax, scheme).unwrap();
        assert_eq!((mm.hi, mm.threshold), (40.0, 40.0));
        for method in [Method::Percentile(99.99), Method::Entropy] {
            let r = clip_range(&h, method, scheme).unwrap();
            assert!(r.threshold < 0.25 * 40.0, "{method} {scheme:?}: {r:?}");
            // ... and not absurdly small: the bulk of N(0, 1) is kept.
            assert!(r.threshold > 2.5, "{method} {scheme:?}: {r:?}");
            assert_eq!(r.hi, r.threshold);
            assert!(r.lo >= -r.threshold && r.lo < -2.5, "{method}: {r:?}");
        }
    }
}

/// MSE trades rounding noise against clipping error honestly: with 5 outliers among 100k
/// samples, the outliers' clipping error dominates at 8 bits and MSE keeps most of the range,
/// at the analytic optimum of `N t^2 / (127^2 * 12) + k (40 - t)^2`. With a single outlier in
/// ten times the data, or at 4 bits, it clips well inside. (So MSE does not meet a fixed
/// "below 25% of the max" bar on the 100k + 5 case; being right is the better test.)
#[test]
fn gaussian_with_outliers_mse_finds_the_analytic_optimum() {
    let h = gaussian_with_outliers(5);
    let r = mse(&h, Scheme::I8_SYMMETRIC).unwrap();
    let (n, k) = (100_000.0f64, 5.0f64);
    let noise = n / (127.0 * 127.0 * 12.0);
    let t_opt = 40.0 * k / (noise + k);
    assert!(
        (f64::from(r.threshold) - t_opt).abs() < 0.2,
        "{r:?} vs {t_opt}"
    );
    assert!(r.threshold < 40.0);

    let r4 = mse(
        &h,
        Scheme {
            bits: 4,
            symmetric: true,
        },
    )
    .unwrap();
    assert!(r4.threshold < 0.25 * 40.0 && r4.threshold > 1.0, "{r4:?}");

    // The same 100k samples observed ten times (1M samples) plus a single outlier.
    let mut rng = Rng(7);
    let xs: Vec<f32> = (0..100_000).map(|_| rng.normal() as f32).collect();
    let mut big = Histogram::new();
    for _ in 0..10 {
        for chunk in xs.chunks(1000) {
            big.observe(chunk);
        }
    }
    big.observe(&[40.0]);
    let r = mse(&big, Scheme::I8_SYMMETRIC).unwrap();
    assert!(r.threshold < 0.25 * 40.0 && r.threshold > 2.5, "{r:?}");
    let t_opt = 40.0 / (1e6 / (127.0 * 127.0 * 12.0) + 1.0);
    assert!(
        (f64::from(r.threshold) - t_opt).abs() < 0.2,
        "{r:?} vs {t_opt}"
    );
    // Asymmetric u8: the step is (t - lo) / 255 with lo the clipped minimum, so the optimum
    // of 1e6 (t - lo)^2 / (255^2 * 12) + (40 - t)^2 lies further out.
    let r = mse(&big, Scheme::U8_ASYMMETRIC).unwrap();
    let a = 1e6 / (255.0 * 255.0 * 12.0);
    let t_opt = (40.0 + a * f64::from(r.lo)) / (1.0 + a);
    assert!(
        (f64::from(r.threshold) - t_opt).abs() < 0.2,
        "{r:?} vs {t_opt}"
    );
    assert!(r.threshold < 0.4 * 40.0, "{r:?}");
}

#[test]
fn uniform_keeps_nearly_the_whole_range() {
    let mut rng = Rng(42);
    let mut sym = Histogram::new();
    let mut pos = Histogram::new();
    for _ in 0..50 {
        let xs: Vec<f32> = (0..1000)
            .map(|_| (2.0 * rng.uniform() - 1.0) as f32)
            .collect();
        sym.observe(&xs);
        let ys: Vec<f32> = xs.iter().map(|x| x.abs() * 6.0).collect();
        pos.observe(&ys);
    }
    for (h, scheme) in [
        (&sym, Scheme::I8_SYMMETRIC),
        (&sym, Scheme::U8_ASYMMETRIC),
        (&pos, Scheme::U8_ASYMMETRIC),
        (&pos, Scheme::I8_SYMMETRIC),
    ] {
        let max = h.stats().absmax();
        for method in [Method::Entropy, Method::Mse] {
            let r = clip_range(h, method, scheme).unwrap();
            assert!(
                r.threshold > 0.9 * max,
                "{method} {scheme:?}: {r:?} (max {max})"
            );
        }
    }
}

#[test]
fn results_are_deterministic_and_merge_like_observing() {
    let a = gaussian_with_outliers(3);
    let b = gaussian_with_outliers(3);
    for scheme in [Scheme::I8_SYMMETRIC, Scheme::U8_ASYMMETRIC] {
        for m in all_methods() {
            assert_eq!(clip_range(&a, m, scheme), clip_range(&b, m, scheme), "{m}");
        }
    }
    // Two halves merged give nearly the same thresholds as one histogram over everything (the
    // halves' ranges are not a power of two apart, so the merge splits bins proportionally).
    let mut rng = Rng(3);
    let mut whole = Histogram::new();
    let mut h1 = Histogram::new();
    let mut h2 = Histogram::new();
    for i in 0..40 {
        let xs: Vec<f32> = (0..1000).map(|_| rng.normal() as f32).collect();
        whole.observe(&xs);
        if i % 2 == 0 {
            h1.observe(&xs)
        } else {
            h2.observe(&xs)
        }
    }
    h1.merge(&h2).unwrap();
    assert_eq!(h1.total(), whole.total());
    for m in all_methods() {
        let x = clip_range(&whole, m, Scheme::I8_SYMMETRIC).unwrap();
        let y = clip_range(&h1, m, Scheme::I8_SYMMETRIC).unwrap();
        assert!(
            (x.threshold - y.threshold).abs() <= 0.05 * x.threshold,
            "{m}: {x:?} {y:?}"
        );
    }
}

#[test]
fn one_sided_data_uses_its_side_only() {
    // ReLU output: half-normal. The asymmetric clip starts at 0.
    let mut rng = Rng(11);
    let mut h = Histogram::new();
    for _ in 0..50 {
        let xs: Vec<f32> = (0..1000).map(|_| rng.normal().max(0.0) as f32).collect();
        h.observe(&xs);
    }
    // Two distinct outliers (two equal ones at the maximum would read as a saturated bound).
    h.observe(&[30.0, 29.5]);
    for m in [Method::Entropy, Method::Percentile(99.99)] {
        let r = clip_range(&h, m, Scheme::U8_ASYMMETRIC).unwrap();
        assert_eq!(r.lo, 0.0);
        assert!(r.hi > 2.0 && r.hi < 0.25 * 30.0, "{m}: {r:?}");
    }
}

#[test]
fn too_few_bins_falls_back_to_minmax() {
    let mut h = Histogram::with_bins_per_side(64).unwrap();
    let mut rng = Rng(5);
    let xs: Vec<f32> = (0..5000).map(|_| rng.normal() as f32).collect();
    h.observe(&xs);
    h.observe(&[20.0]);
    let r = entropy(&h, Scheme::I8_SYMMETRIC).unwrap();
    assert_eq!(r.threshold, 20.0);
    let r = entropy(
        &h,
        Scheme {
            bits: 4,
            symmetric: true,
        },
    )
    .unwrap();
    assert!(r.threshold < 20.0);
}

/// Data far from zero on one side (e.g. after a hard-sigmoid): the asymmetric searches must
/// not look at windows that have not reached the data yet.
#[test]
fn data_away_from_zero_gives_a_range_for_every_method() {
    let mut rng = Rng(7);
    let mut h = Histogram::new();
    let xs: Vec<f32> = (0..5000)
        .map(|_| 0.4 + 0.6 * rng.uniform() as f32)
        .collect();
    h.observe(&xs);
    for m in all_methods() {
        let r = clip_range(&h, m, Scheme::U8_ASYMMETRIC).expect("a range");
        assert!(r.hi > 0.5 && r.hi <= 1.0 + 1e-3, "{m}: {r:?}");
    }
}

/// Post-ReLU data: half exact zeros, half |N(0, 1)|. The zero spike must not drive the KL
/// search to the narrowest window (zeros are exact, so they carry no quantization error).
#[test]
fn entropy_ignores_the_zero_spike_of_relu_outputs() {
    let mut rng = Rng(11);
    let mut h = Histogram::new();
    for _ in 0..50 {
        let xs: Vec<f32> = (0..2000)
            .map(|i| {
                if i % 2 == 0 {
                    0.0
                } else {
                    rng.normal().abs() as f32
                }
            })
            .collect();
        h.observe(&xs);
    }
    let r = entropy(&h, Scheme::U8_ASYMMETRIC).expect("a range");
    assert!(r.hi > 2.5, "entropy clipped post-ReLU data at {}", r.hi);
}

/// ReLU6-like output: half exact zeros, half |N(0, 1)|, and 5 of 100k values saturated at
/// exactly 6 (as on fashion_mobilenet, where every ReLU6 output holds 2 to 180 exact 6s and
/// every unclamped tensor's maximum occurs once). Entropy keeps the bound 6; the same five
/// values made distinct (a tail, not a bound) are clipped well inside, at about 4.
#[test]
fn entropy_keeps_the_saturated_bound_of_relu6_outputs() {
    let relu6 = |ties: bool| {
        let mut rng = Rng(17);
        let mut h = Histogram::new();
        let mut k = 0;
        for _ in 0..50 {
            let xs: Vec<f32> = (0..2000)
                .map(|i| {
                    k += 1;
                    if k % 20000 == 0 {
                        if ties {
                            6.0
                        } else {
                            5.0 + (k / 20000) as f32 * 0.01
                        }
                    } else if i % 2 == 0 {
                        0.0
                    } else {
                        rng.normal().abs() as f32
                    }
                })
                .collect();
            h.observe(&xs);
        }
        h
    };
    let h = relu6(true);
    assert_eq!(h.stats().extreme_counts().1, 5);
    for scheme in [Scheme::U8_ASYMMETRIC, Scheme::I8_SYMMETRIC] {
        let r = entropy(&h, scheme).expect("a range");
        assert_eq!((r.hi, r.threshold), (6.0, 6.0), "{scheme:?}: {r:?}");
    }
    let r = entropy(&relu6(false), Scheme::U8_ASYMMETRIC).expect("a range");
    assert!(r.hi < 4.5, "{r:?}");
    // Hard-sigmoid: saturated at both ends (0 is exact anyway, 1 must stay).
    let mut h = Histogram::new();
    let mut rng = Rng(5);
    for _ in 0..20 {
        let xs: Vec<f32> = (0..1000)
            .map(|_| (rng.normal() / 4.0 + 0.5).clamp(0.0, 1.0) as f32)
            .collect();
        h.observe(&xs);
    }
    assert_eq!(entropy(&h, Scheme::U8_ASYMMETRIC).expect("a range").hi, 1.0);
    // A saturated negative minimum keeps the threshold at its magnitude.
    let mut h = Histogram::new();
    let xs: Vec<f32> = (0..4000)
        .map(|i| {
            if i % 10 == 0 {
                -2.0
            } else {
                (i % 97) as f32 / 97.0
            }
        })
        .collect();
    h.observe(&xs);
    let r = entropy(&h, Scheme::I8_SYMMETRIC).expect("a range");
    assert!(r.threshold >= 2.0 && r.lo == -2.0, "{r:?}");
}
