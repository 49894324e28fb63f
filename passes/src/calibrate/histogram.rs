//! A histogram of a value's distribution over a symmetric range that grows as samples come.
//!
//! Layout: `2 * n` equal bins over `[-R, R]` (`n` = bins per side, 2048 by default), so zero
//! is always a bin edge and every candidate threshold `t = i * R / n` cuts both sides at bin
//! edges. For one-sided data (after ReLU) the positive half is exactly TensorRT's 2048-bin
//! histogram of `|x|`; for signed data the halves keep the two tails apart, which the
//! asymmetric searches need.
//!
//! `R` is fixed by the first tensor with a nonzero finite value (its `max |x|`) and afterwards
//! only doubles: when a later tensor exceeds `R`, pairs of bins are merged until it fits. That
//! re-binning is exact (each new bin is the union of two old ones), unlike onnxruntime's
//! proportional re-binning, so observing sample by sample loses nothing but resolution.
//! Merging two histograms is exact when their ranges differ by a power of two (the common
//! case: same first sample) and otherwise splits counts proportionally to overlap.
//!
//! Non-finite values are counted and ignored; exact zeros seen before `R` is known are kept
//! aside and land in the first positive bin `[0, R/n)` once it is.

use super::{CalibError, MinMax};

/// Default number of bins on each side of zero.
pub const DEFAULT_BINS_PER_SIDE: usize = 2048;

/// Histogram of observed values, see the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// `2 * n` counts; bin `k` covers `[(k - n) * w, (k - n + 1) * w)` with `w = range / n`.
    counts: Vec<f64>,
    bins_per_side: usize,
    /// `R`; 0 until a nonzero finite value has been seen.
    range: f64,
    /// Zeros observed while `range` was still 0.
    pending_zeros: f64,
    /// Exact zeros observed in all (they sit in the bin `[0, w)`).
    zeros: f64,
    stats: MinMax,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

impl Histogram {
    /// An empty histogram with [`DEFAULT_BINS_PER_SIDE`] bins per side.
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0.0; 2 * DEFAULT_BINS_PER_SIDE],
            bins_per_side: DEFAULT_BINS_PER_SIDE,
            range: 0.0,
            pending_zeros: 0.0,
            zeros: 0.0,
            stats: MinMax::new(),
        }
    }

    /// An empty histogram with `n` bins per side (at least 1).
    pub fn with_bins_per_side(n: usize) -> Result<Histogram, CalibError> {
        if n == 0 {
            return Err(CalibError::NoBins);
        }
        Ok(Histogram {
            counts: vec![0.0; 2 * n],
            bins_per_side: n,
            ..Histogram::new()
        })
    }

    /// Observes one tensor (one sample's activation), growing the range if needed.
    pub fn observe(&mut self, xs: &[f32]) {
        self.stats.observe(xs);
        self.zeros += xs.iter().filter(|&&x| x == 0.0).count() as f64;
        let absmax = xs
            .iter()
            .filter(|x| x.is_finite())
            .fold(0.0f32, |m, x| m.max(x.abs()));
        if self.range == 0.0 {
            if absmax == 0.0 {
                self.pending_zeros += xs.iter().filter(|&&x| x == 0.0).count() as f64;
                return;
            }
            self.range = f64::from(absmax);
            self.counts[self.bins_per_side] += std::mem::take(&mut self.pending_zeros);
        }
        self.grow_to(f64::from(absmax));
        for &x in xs {
            if x.is_finite() {
                let k = self.bin_of(f64::from(x));
                self.counts[k] += 1.0;
            }
        }
    }

    /// Adds the observations of `other`. Both must have the same number of bins.
    pub fn merge(&mut self, other: &Histogram) -> Result<(), CalibError> {
        if other.bins_per_side != self.bins_per_side {
            return Err(CalibError::BinMismatch(
                self.bins_per_side,
                other.bins_per_side,
            ));
        }
        self.stats.merge(&other.stats);
        self.zeros += other.zeros;
        if other.range == 0.0 {
            if self.range == 0.0 {
                self.pending_zeros += other.pending_zeros;
            } else {
                self.counts[self.bins_per_side] += other.pending_zeros;
            }
            return Ok(());
        }
        if self.range == 0.0 {
            let zeros = self.pending_zeros;
            self.counts.clone_from(&other.counts);
            self.range = other.range;
            self.pending_zeros = 0.0;
            self.counts[self.bins_per_side] += zeros;
            return Ok(());
        }
        self.grow_to(other.range);
        let n = self.bins_per_side;
        let w = self.bin_width();
        let ow = other.bin_width();
        for (k, &c) in other.counts.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            // Other's bin [a, b), spread over our bins by overlap.
            let a = (k as f64 - n as f64) * ow;
            let b = a + ow;
            let first = self.bin_of(a);
            let last = self.bin_of(b).max(first);
            for j in first..=last {
                let lo = (j as f64 - n as f64) * w;
                let overlap = (b.min(lo + w) - a.max(lo)).max(0.0);
                if overlap > 0.0 {
                    self.counts[j] += c * overlap / ow;
                }
            }
        }
        Ok(())
    }

    /// Doubles the range until it covers `absmax`, merging pairs of bins on each side.
    fn grow_to(&mut self, absmax: f64) {
        let n = self.bins_per_side;
        while self.range < absmax {
            self.range *= 2.0;
            for side in [1i64, -1] {
                // Side-relative index j: bin n + j (positive) or n - 1 - j (negative).
                let at = |j: usize| {
                    if side > 0 { n + j } else { n - 1 - j }
                };
                for j in 0..n {
                    let merged = if 2 * j + 1 < n {
                        self.counts[at(2 * j)] + self.counts[at(2 * j + 1)]
                    } else if 2 * j < n {
                        self.counts[at(2 * j)]
                    } else {
                        0.0
                    };
                    self.counts[at(j)] = merged;
                }
            }
        }
    }

    /// The bin holding `x` (values at or beyond `+-R` go to the outermost bins).
    fn bin_of(&self, x: f64) -> usize {
        let n = self.bins_per_side as f64;
        let k = (x * n / self.range).floor() + n;
        k.clamp(0.0, 2.0 * n - 1.0) as usize
    }

    /// Bins on each side of zero.
    pub fn bins_per_side(&self) -> usize {
        self.bins_per_side
    }

    /// The half-width `R` of the binned range `[-R, R]` (0 before any nonzero value).
    pub fn range(&self) -> f64 {
        self.range
    }

    /// How many exact zeros were observed (counted in the bin `[0, w)` too).
    pub fn zeros(&self) -> f64 {
        self.zeros
    }

    /// Width of one bin, `R / n`.
    pub fn bin_width(&self) -> f64 {
        self.range / self.bins_per_side as f64
    }

    /// The `2 * n` counts, from `-R` up to `R`.
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    /// Counts of `|x|`: bin `j` covers `[j * w, (j + 1) * w)` (both sides folded). Zeros seen
    /// before the range was known are in bin 0.
    pub fn abs_counts(&self) -> Vec<f64> {
        let n = self.bins_per_side;
        let mut abs: Vec<f64> = (0..n)
            .map(|j| self.counts[n + j] + self.counts[n - 1 - j])
            .collect();
        abs[0] += self.pending_zeros;
        abs
    }

    /// Total mass in the bins (finite values observed).
    pub fn total(&self) -> f64 {
        self.counts.iter().sum::<f64>() + self.pending_zeros
    }

    /// Exact running minimum and maximum of the finite values.
    pub fn stats(&self) -> &MinMax {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonzero(h: &Histogram) -> Vec<(usize, f64)> {
        h.counts()
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0.0)
            .map(|(k, c)| (k, *c))
            .collect()
    }

    #[test]
    fn bins_and_growth_by_exact_doubling() {
        let mut h = Histogram::with_bins_per_side(4).unwrap();
        assert_eq!(Histogram::with_bins_per_side(0), Err(CalibError::NoBins));
        h.observe(&[0.0, 0.0]);
        assert_eq!(h.range(), 0.0);
        h.observe(&[0.5, -0.25, 0.1, f32::NAN]);
        // R = 0.5, w = 0.125: 0.5 -> last bin, -0.25 -> bin 2, 0.1 and the zeros -> bin 4.
        assert_eq!(h.range(), 0.5);
        assert_eq!(nonzero(&h), vec![(2, 1.0), (4, 3.0), (7, 1.0)]);
        // 3.0 needs R = 4 (three doublings): w = 1.
        h.observe(&[3.0, -3.5]);
        assert_eq!(h.range(), 4.0);
        assert_eq!(nonzero(&h), vec![(0, 1.0), (3, 1.0), (4, 4.0), (7, 1.0)]);
        assert_eq!(h.total(), 7.0);
        assert_eq!(h.stats().range(), Some((-3.5, 3.0)));
        assert_eq!(h.stats().nonfinite(), 1);
        assert_eq!(h.abs_counts(), vec![5.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn sample_by_sample_equals_one_batch_when_ranges_align() {
        let xs: Vec<f32> = (0..1000)
            .map(|i| ((i * 37 % 1000) as f32 - 500.0) / 125.0)
            .collect();
        // First sample fixes R = 4; the whole batch has the same max, so no growth either way.
        let mut one = Histogram::new();
        one.observe(&xs);
        let mut many = Histogram::new();
        for chunk in xs.chunks(7) {
            many.observe(chunk);
        }
        assert_eq!(one.range(), 4.0);
        assert_eq!(many.range(), 4.0);
        assert_eq!(one, many);
    }

    #[test]
    fn merge_is_exact_for_power_of_two_ranges_and_conserves_mass() {
        let a: Vec<f32> = (0..500).map(|i| (i as f32 - 250.0) / 250.0).collect(); // R = 1
        let b: Vec<f32> = (0..=300).map(|i| (i as f32 - 100.0) / 50.0).collect(); // R = 4
        let mut seq = Histogram::new();
        seq.observe(&a);
        seq.observe(&b);
        let mut ha = Histogram::new();
        ha.observe(&a);
        let mut hb = Histogram::new();
        hb.observe(&b);
        let mut merged = ha.clone();
        merged.merge(&hb).unwrap();
        assert_eq!(merged, seq);
        // Other order: the smaller range is spread into the larger one's bins.
        let mut merged2 = hb.clone();
        merged2.merge(&ha).unwrap();
        assert_eq!(merged2.counts(), seq.counts());
        // A non-power-of-two ratio splits proportionally; mass is conserved.
        let mut hc = Histogram::new();
        hc.observe(&[0.3, -2.9, 1.7]);
        merged.merge(&hc).unwrap();
        assert!((merged.total() - 804.0).abs() < 1e-9);
        assert_eq!(
            merged.merge(&Histogram::with_bins_per_side(8).unwrap()),
            Err(CalibError::BinMismatch(2048, 8))
        );
        // Zeros-only and empty histograms merge both ways.
        let mut z = Histogram::new();
        z.observe(&[0.0; 5]);
        let mut z2 = z.clone();
        z2.merge(&ha).unwrap();
        assert_eq!(z2.total(), 505.0);
        let mut hz = ha.clone();
        hz.merge(&z).unwrap();
        assert_eq!(hz.counts(), z2.counts());
    }
}
