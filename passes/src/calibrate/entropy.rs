//! The entropy (KL-divergence) threshold search of TensorRT ("8-bit inference with
//! TensorRT", Migacz 2017), as in MXNet's and onnxruntime's calibrators, generalized to our
//! signed histogram and to any bit width.
//!
//! For each candidate threshold `t = i * w` (bin edge `i` on each side):
//!
//! 1. **Window**: symmetric schemes take the bins `[-t, t)`; asymmetric schemes the same
//!    window trimmed to the bins that hold data (so one-sided data does not spend levels on
//!    an empty side).
//! 2. **Reference P**: the window's counts, with everything left of it added to its first bin
//!    and everything right of it to its last bin (clipped outliers).
//! 3. **Candidate Q**: the window's counts *without* the outliers, merged into `L` groups of
//!    consecutive bins (symmetric: `2^(bits-1)` groups on each side of zero; asymmetric:
//!    `2^bits` groups over the window), then expanded back: each group's total is spread
//!    evenly over the group's bins where P is nonzero.
//! 4. **Smoothing**: zeros of P and Q become `1e-4`, taken from their nonzero bins.
//! 5. **Divergence**: `KL(P || Q)` of the normalized distributions.
//!
//! The threshold with the smallest divergence wins (the smallest one on ties). Candidates need
//! at least one bin per group, so `t >= 2^(bits-1) * w` (symmetric) or a window of at least
//! `2^bits` bins; when no candidate qualifies (too few bins for the bit width, e.g. 16 bits)
//! the result is minmax. Cost: `O(n^2)` for `n` bins per side.
//!
//! **Saturated activations.** A clamped activation (ReLU6 at 6, hard-sigmoid at 1, Clip)
//! outputs its bound exactly for every element it saturates, while a continuous value almost
//! never repeats its extreme exactly (on the trained test nets: every unclamped tensor's
//! maximum occurs once, every ReLU6 output's 2 to 180 times in 100 samples). So when the
//! exact maximum (or minimum, if nonzero) was observed at least [`SATURATED_COUNT`] times, it
//! is a bound of the op, and the threshold never goes below its magnitude. The KL search
//! would otherwise clip a ReLU6 output near its 99th percentile (3 of 6 on
//! fashion_mobilenet): the rare large activations it cuts are the ones the next layer needs,
//! and 8 bits over `[0, 6]` are fine enough anyway.

use super::threshold::{ClipRange, Scheme};
use super::{CalibError, Histogram};

/// Smoothing mass given to each empty bin (onnxruntime's and MXNet's `eps`).
const EPS: f64 = 1e-4;

/// How often the exact maximum (or minimum) must occur to count as an activation's bound.
pub const SATURATED_COUNT: u64 = 2;

/// The smallest threshold the search may return: the magnitude of a saturated extreme (0 if
/// neither is).
fn saturation_floor(h: &Histogram) -> f64 {
    let Some((min, max)) = h.stats().range() else {
        return 0.0;
    };
    let (at_min, at_max) = h.stats().extreme_counts();
    let spike = |v: f32, n: u64| v != 0.0 && n >= SATURATED_COUNT;
    let mut floor = 0.0f64;
    if spike(max, at_max) {
        floor = floor.max(f64::from(max.abs()));
    }
    if spike(min, at_min) {
        floor = floor.max(f64::from(min.abs()));
    }
    floor
}

/// The KL-divergence threshold, see the module docs.
pub fn entropy(h: &Histogram, scheme: Scheme) -> Result<ClipRange, CalibError> {
    let scheme = scheme.check()?;
    if h.stats().count() == 0 {
        return Err(CalibError::Empty);
    }
    if h.range() == 0.0 {
        return ClipRange::from_threshold(h, 0.0);
    }
    let floor = saturation_floor(h);
    if floor >= f64::from(h.stats().absmax()) {
        return ClipRange::from_threshold(h, floor);
    }
    let n = h.bins_per_side();
    // Exact zeros are represented exactly (the zero point), so they carry no quantization
    // error; left in, the spike of a post-ReLU tensor dominates the divergence and drives
    // the search to the narrowest window, where the spike's bin stands alone.
    let mut counts = h.counts().to_vec();
    counts[n] = (counts[n] - h.zeros()).max(0.0);
    let counts = counts.as_slice();
    let Some(first) = counts.iter().position(|&c| c > 0.0) else {
        return ClipRange::from_threshold(h, 0.0);
    };
    let last = counts.iter().rposition(|&c| c > 0.0).unwrap_or(first);
    // Smallest i whose window covers all data; larger windows change nothing.
    let i_max = (n - first.min(n)).max(last + 1 - n.min(last + 1)).max(1);

    // prefix[k] = sum of counts[..k]: outlier and group sums in O(1).
    let mut prefix = Vec::with_capacity(2 * n + 1);
    prefix.push(0.0f64);
    for &c in counts {
        prefix.push(prefix[prefix.len() - 1] + c);
    }
    let sum = |a: usize, b: usize| prefix[b] - prefix[a];

    let mut best: Option<(f64, usize)> = None;
    let mut p = Vec::with_capacity(2 * n);
    let mut q = Vec::with_capacity(2 * n);
    for i in 1..=i_max {
        // 1. window and its groups.
        let (start, stop) = if scheme.symmetric {
            (n - i, n + i)
        } else {
            ((n - i).max(first), (n + i).min(last + 1))
        };
        // A window that has not reached the data yet (all of it far from zero), or one that
        // would clip a saturated bound.
        if stop <= start || (i as f64) * h.bin_width() < floor {
            continue;
        }
        let segments: [(usize, usize, usize); 2] = if scheme.symmetric {
            let per_side = 1usize << (scheme.bits - 1);
            [(start, n, per_side), (n, stop, per_side)]
        } else {
            [(start, stop, 1usize << scheme.bits), (stop, stop, 0)]
        };
        if segments.iter().any(|&(a, b, l)| b - a < l) {
            continue;
        }
        // 2. reference distribution with outliers folded in.
        p.clear();
        p.extend_from_slice(&counts[start..stop]);
        p[0] += sum(0, start);
        *p.last_mut().expect("window is not empty") += sum(stop, 2 * n);
        // 3. quantized distribution, expanded over P's support.
        q.clear();
        q.resize(stop - start, 0.0);
        for &(a, b, levels) in &segments {
            for g in 0..levels {
                let lo = a + g * (b - a) / levels;
                let hi = a + (g + 1) * (b - a) / levels;
                let group = sum(lo, hi);
                let support = (lo..hi).filter(|&k| p[k - start] > 0.0).count();
                if support > 0 {
                    let each = group / support as f64;
                    for k in lo..hi {
                        if p[k - start] > 0.0 {
                            q[k - start] = each;
                        }
                    }
                }
            }
        }
        // 4-5. smoothing and divergence.
        let Some(kl) = smoothed_kl(&mut p, &mut q) else {
            continue;
        };
        if best.is_none_or(|(b, _)| kl < b) {
            best = Some((kl, i));
        }
    }
    match best {
        Some((_, i)) => ClipRange::from_threshold(h, i as f64 * h.bin_width()),
        None => ClipRange::from_threshold(h, f64::from(h.stats().absmax())),
    }
}

/// Smooths both distributions in place and returns `KL(P || Q)` of their normalizations, or
/// `None` if either has no mass.
fn smoothed_kl(p: &mut [f64], q: &mut [f64]) -> Option<f64> {
    smooth(p)?;
    smooth(q)?;
    let sp: f64 = p.iter().sum();
    let sq: f64 = q.iter().sum();
    let mut kl = 0.0;
    for (&pk, &qk) in p.iter().zip(q.iter()) {
        if pk > 0.0 {
            let pn = pk / sp;
            let qn = qk / sq;
            kl += pn * (pn / qn).ln();
        }
    }
    Some(kl)
}

/// Gives every zero bin `EPS`, taken evenly from the nonzero bins (never below a tiny positive
/// floor, since merged histograms can hold fractional counts); `None` if all are zero.
fn smooth(d: &mut [f64]) -> Option<()> {
    let zeros = d.iter().filter(|&&x| x == 0.0).count();
    let nonzeros = d.len() - zeros;
    if nonzeros == 0 {
        return None;
    }
    let take = EPS * zeros as f64 / nonzeros as f64;
    for x in d.iter_mut() {
        if *x == 0.0 {
            *x = EPS;
        } else {
            *x = (*x - take).max(f64::MIN_POSITIVE);
        }
    }
    Some(())
}
