//! Clipping ranges, the method names, and the two simple methods (minmax, percentile).

use std::fmt;
use std::str::FromStr;

use super::{CalibError, Histogram, entropy, mse};

/// Default percentile of `percentile` (of `|x|`).
pub const DEFAULT_PERCENTILE: f64 = 99.99;

/// How a clipping range is chosen from a histogram.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Method {
    /// The observed `[min, max]`.
    MinMax,
    /// The smallest threshold (a bin edge) below which this percentage of `|x|` lies.
    Percentile(f64),
    /// Minimum KL divergence between the clipped and the quantized distribution.
    Entropy,
    /// Minimum expected squared quantization error, clipping included.
    Mse,
    /// Starts from `minmax`; the `train-thresholds` pass then learns a scale factor per
    /// threshold on the calibration batch (see `crate::train_thresholds`).
    Trained,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::MinMax => f.write_str("minmax"),
            Method::Percentile(p) => write!(f, "percentile={p}"),
            Method::Entropy => f.write_str("entropy"),
            Method::Mse => f.write_str("mse"),
            Method::Trained => f.write_str("trained"),
        }
    }
}

impl FromStr for Method {
    type Err = CalibError;

    /// Parses `minmax`, `percentile` (99.99), `percentile=P`, `entropy`, `mse` or `trained`.
    fn from_str(s: &str) -> Result<Method, CalibError> {
        let unknown = || CalibError::UnknownMethod(s.to_string());
        match s {
            "minmax" => Ok(Method::MinMax),
            "percentile" => Ok(Method::Percentile(DEFAULT_PERCENTILE)),
            "entropy" => Ok(Method::Entropy),
            "mse" => Ok(Method::Mse),
            "trained" => Ok(Method::Trained),
            _ => {
                let p = s.strip_prefix("percentile=").ok_or_else(unknown)?;
                let p: f64 = p.parse().map_err(|_| unknown())?;
                if p > 0.0 && p <= 100.0 {
                    Ok(Method::Percentile(p))
                } else {
                    Err(CalibError::InvalidPercentile(p))
                }
            }
        }
    }
}

/// The quantization a clipping range is searched for: it fixes the number of levels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Scheme {
    /// Bit width, `2..=16`.
    pub bits: u32,
    /// Symmetric (zero point 0, `2^(bits-1)` levels per side over `[-t, t]`) or asymmetric
    /// (`2^bits` levels over `[lo, hi]`).
    pub symmetric: bool,
}

impl Scheme {
    /// Asymmetric u8, the default for activations on `hvx-like`.
    pub const U8_ASYMMETRIC: Scheme = Scheme {
        bits: 8,
        symmetric: false,
    };

    /// Symmetric i8.
    pub const I8_SYMMETRIC: Scheme = Scheme {
        bits: 8,
        symmetric: true,
    };

    pub(crate) fn check(self) -> Result<Scheme, CalibError> {
        if (2..=16).contains(&self.bits) {
            Ok(self)
        } else {
            Err(CalibError::InvalidBits(self.bits))
        }
    }
}

/// A chosen clipping range.
///
/// `threshold` is the symmetric clip `t` (what symmetric quantization uses: `[-t, t]`);
/// `[lo, hi] = [max(min, -t), min(max, t)]` is the same clip intersected with the observed
/// range (what asymmetric quantization uses; it may exclude 0, which
/// `ir::arith::choose_qparams_asymmetric` adds back).
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct ClipRange {
    /// Lower end of the clipped range.
    pub lo: f32,
    /// Upper end of the clipped range.
    pub hi: f32,
    /// Symmetric threshold `t >= 0`, never above `max(|min|, |max|)`.
    pub threshold: f32,
}

impl ClipRange {
    /// The clip range of threshold `t` (capped at the observed `max |x|`).
    pub(crate) fn from_threshold(h: &Histogram, t: f64) -> Result<ClipRange, CalibError> {
        let (min, max) = h.stats().range().ok_or(CalibError::Empty)?;
        let t = (t as f32).min(h.stats().absmax()).max(0.0);
        Ok(ClipRange {
            lo: min.max(-t),
            hi: max.min(t),
            threshold: t,
        })
    }
}

/// Chooses a clipping range with `method` for quantization `scheme`.
pub fn clip_range(h: &Histogram, method: Method, scheme: Scheme) -> Result<ClipRange, CalibError> {
    match method {
        Method::MinMax => minmax(h),
        Method::Percentile(p) => percentile(h, p),
        Method::Entropy => entropy(h, scheme),
        Method::Mse => mse(h, scheme),
        // The per-histogram start of training; the thresholds are learned on the whole graph.
        Method::Trained => minmax(h),
    }
}

/// The observed range: `[min, max]`, threshold `max(|min|, |max|)`.
pub fn minmax(h: &Histogram) -> Result<ClipRange, CalibError> {
    ClipRange::from_threshold(h, f64::from(h.stats().absmax()))
}

/// The smallest bin edge `t` such that at least `p` percent of the observed `|x|` are below
/// it (the scheme does not matter). `p` must be in `(0, 100]`.
pub fn percentile(h: &Histogram, p: f64) -> Result<ClipRange, CalibError> {
    if !(p > 0.0 && p <= 100.0) {
        return Err(CalibError::InvalidPercentile(p));
    }
    if h.stats().count() == 0 {
        return Err(CalibError::Empty);
    }
    let abs = h.abs_counts();
    let target = h.total() * p / 100.0;
    let mut cum = 0.0;
    let mut edge = abs.len();
    for (j, c) in abs.iter().enumerate() {
        cum += c;
        if cum >= target {
            edge = j + 1;
            break;
        }
    }
    ClipRange::from_threshold(h, edge as f64 * h.bin_width())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names() {
        for m in [
            Method::MinMax,
            Method::Percentile(99.9),
            Method::Entropy,
            Method::Mse,
            Method::Trained,
        ] {
            assert_eq!(m.to_string().parse::<Method>(), Ok(m));
        }
        assert_eq!("percentile".parse(), Ok(Method::Percentile(99.99)));
        assert_eq!(
            "percentile=0".parse::<Method>(),
            Err(CalibError::InvalidPercentile(0.0))
        );
        assert_eq!(
            "kl".parse::<Method>(),
            Err(CalibError::UnknownMethod("kl".into()))
        );
        assert_eq!(
            "percentile=x".parse::<Method>(),
            Err(CalibError::UnknownMethod("percentile=x".into()))
        );
    }

    #[test]
    fn minmax_and_percentile_on_a_small_histogram() {
        let mut h = Histogram::with_bins_per_side(10).unwrap();
        assert_eq!(minmax(&h), Err(CalibError::Empty));
        // 0.05, 0.15, ..., 0.95 and -0.5: R = 0.95, w = 0.095.
        let xs: Vec<f32> = (0..10).map(|i| i as f32 * 0.1 + 0.05).collect();
        h.observe(&xs);
        h.observe(&[-0.5]);
        let r = minmax(&h).unwrap();
        assert_eq!((r.lo, r.hi, r.threshold), (-0.5, xs[9], xs[9]));
        let r = percentile(&h, 50.0).unwrap();
        // 6 of 11 values have |x| below 0.5 + a bin: the edge is 6 * 0.095 = 0.57.
        assert!((r.threshold - 0.57).abs() < 1e-6, "{r:?}");
        assert_eq!((r.lo, r.hi), (-0.5, r.threshold));
        assert_eq!(percentile(&h, 100.0).unwrap().threshold, xs[9]);
        assert_eq!(
            percentile(&h, 101.0),
            Err(CalibError::InvalidPercentile(101.0))
        );
        let scheme = Scheme {
            bits: 1,
            symmetric: true,
        };
        assert_eq!(
            clip_range(&h, Method::Entropy, scheme),
            Err(CalibError::InvalidBits(1))
        );
        // Zeros only: everything is 0.
        let mut z = Histogram::new();
        z.observe(&[0.0, 0.0]);
        for m in [
            Method::MinMax,
            Method::Percentile(99.0),
            Method::Entropy,
            Method::Mse,
        ] {
            let r = clip_range(&z, m, Scheme::U8_ASYMMETRIC).unwrap();
            assert_eq!((r.lo, r.hi, r.threshold), (0.0, 0.0, 0.0), "{m}");
        }
    }
}
