//! Running minimum and maximum of a value over many observed tensors.

/// Running range of the finite values observed so far; non-finite values are counted apart and
/// otherwise ignored (a NaN or infinity in calibration data must not widen every range).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MinMax {
    min: f32,
    max: f32,
    count: u64,
    nonfinite: u64,
    /// How many observed values equal `min` exactly.
    at_min: u64,
    /// How many observed values equal `max` exactly.
    at_max: u64,
}

impl MinMax {
    /// Nothing observed yet.
    pub fn new() -> MinMax {
        MinMax::default()
    }

    /// Observes one tensor (or any slice of samples).
    pub fn observe(&mut self, xs: &[f32]) {
        for &x in xs {
            self.observe_one(x);
        }
    }

    /// Observes one value.
    #[inline]
    pub fn observe_one(&mut self, x: f32) {
        if !x.is_finite() {
            self.nonfinite += 1;
            return;
        }
        if self.count == 0 || x < self.min {
            (self.min, self.at_min) = (x, 0);
        }
        if self.count == 0 || x > self.max {
            (self.max, self.at_max) = (x, 0);
        }
        self.at_min += u64::from(x == self.min);
        self.at_max += u64::from(x == self.max);
        self.count += 1;
    }

    /// Adds the observations of `other`, as if they had been observed here.
    pub fn merge(&mut self, other: &MinMax) {
        if other.count > 0 {
            if self.count == 0 || other.min < self.min {
                (self.min, self.at_min) = (other.min, other.at_min);
            } else if other.min == self.min {
                self.at_min += other.at_min;
            }
            if self.count == 0 || other.max > self.max {
                (self.max, self.at_max) = (other.max, other.at_max);
            } else if other.max == self.max {
                self.at_max += other.at_max;
            }
        }
        self.count += other.count;
        self.nonfinite += other.nonfinite;
    }

    /// `(min, max)` of the finite values, or `None` if there were none.
    pub fn range(&self) -> Option<(f32, f32)> {
        (self.count > 0).then_some((self.min, self.max))
    }

    /// `max(|min|, |max|)`, or 0 if nothing finite was observed.
    pub fn absmax(&self) -> f32 {
        self.range().map_or(0.0, |(lo, hi)| lo.abs().max(hi.abs()))
    }

    /// Number of finite values observed.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// How many observed values equal the minimum and the maximum exactly: a large count
    /// is the saturation spike of a clamped activation (ReLU6 at 6, hard-sigmoid at 1).
    pub fn extreme_counts(&self) -> (u64, u64) {
        (self.at_min, self.at_max)
    }

    /// Number of NaN and infinite values observed (and ignored).
    pub fn nonfinite(&self) -> u64 {
        self.nonfinite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_and_merges() {
        let mut a = MinMax::new();
        assert_eq!(a.range(), None);
        assert_eq!(a.absmax(), 0.0);
        a.observe(&[1.0, f32::NAN, -2.0, f32::INFINITY]);
        a.observe(&[0.5]);
        assert_eq!(a.range(), Some((-2.0, 1.0)));
        assert_eq!((a.count(), a.nonfinite()), (3, 2));
        let mut b = MinMax::new();
        b.observe(&[3.0]);
        let mut c = MinMax::new();
        c.merge(&a);
        c.merge(&b);
        c.merge(&MinMax::new());
        assert_eq!(c.range(), Some((-2.0, 3.0)));
        assert_eq!((c.count(), c.nonfinite(), c.absmax()), (4, 2, 3.0));
    }

    #[test]
    fn counts_values_at_the_extremes() {
        let mut a = MinMax::new();
        a.observe(&[6.0, 1.0, 6.0, -1.0]);
        assert_eq!(a.extreme_counts(), (1, 2));
        a.observe(&[6.0, 7.0]);
        assert_eq!(a.extreme_counts(), (1, 1));
        let mut b = MinMax::new();
        b.observe(&[7.0, -1.0, 7.0, -1.0]);
        a.merge(&b);
        assert_eq!(a.range(), Some((-1.0, 7.0)));
        assert_eq!(a.extreme_counts(), (3, 3));
        let mut c = MinMax::new();
        c.observe(&[-2.0]);
        a.merge(&c);
        assert_eq!(a.extreme_counts(), (1, 3));
    }
}
