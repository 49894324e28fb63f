//! The minimum-squared-error threshold search.
//!
//! For each candidate threshold `t = i * w` (`i = 1, 2, ...` up to the data's extent) the
//! expected squared error of quantizing the histogram's samples is, with bin centers `c`:
//!
//! ```text
//! E(t) = sum over bins inside [-t, t) of  count * s(t)^2 / 12        (rounding noise)
//!      + sum over bins beyond  t       of  count * (c - t)^2          (clipping)
//!      + sum over bins below  -t       of  count * (c + t)^2
//! ```
//!
//! where `s(t)` is the quantization step: `t / (2^(bits-1) - 1)` for symmetric schemes, and
//! `(max(hi, 0) - min(lo, 0)) / (2^bits - 1)` for asymmetric ones with
//! `[lo, hi] = [max(min, -t), min(max, t)]`. The uniform-noise term `s^2 / 12` is the
//! standard model of rounding error (it does not depend on where samples sit inside a bin, so
//! the search has no bin-alignment artifacts). The smallest `E` wins (the smallest `t` on
//! ties). Tail sums come from suffix sums, so the search is `O(n)`.

use super::threshold::{ClipRange, Scheme};
use super::{CalibError, Histogram};

/// The minimum-squared-error threshold, see the module docs.
pub fn mse(h: &Histogram, scheme: Scheme) -> Result<ClipRange, CalibError> {
    let scheme = scheme.check()?;
    let (min, max) = h.stats().range().ok_or(CalibError::Empty)?;
    if h.range() == 0.0 {
        return ClipRange::from_threshold(h, 0.0);
    }
    let counts = h.counts();
    let n = h.bins_per_side();
    let w = h.bin_width();
    let center = |k: usize| (k as f64 - n as f64 + 0.5) * w;
    // Right tails: bins k >= n + i; left tails: bins k < n - i. Accumulate (count, sum c,
    // sum c^2) per side-relative index, outermost first.
    let mut right = vec![[0.0f64; 3]; n + 1];
    let mut left = vec![[0.0f64; 3]; n + 1];
    for j in (0..n).rev() {
        let (kr, kl) = (n + j, n - 1 - j);
        let (cr, cl) = (center(kr), center(kl));
        let (hr, hl) = (counts[kr], counts[kl]);
        right[j] = [
            right[j + 1][0] + hr,
            right[j + 1][1] + hr * cr,
            right[j + 1][2] + hr * cr * cr,
        ];
        left[j] = [
            left[j + 1][0] + hl,
            left[j + 1][1] + hl * cl,
            left[j + 1][2] + hl * cl * cl,
        ];
    }
    let total = right[0][0] + left[0][0];
    let absmax = f64::from(h.stats().absmax());
    let i_max = ((absmax / w).ceil() as usize).clamp(1, n);
    let steps_sym = f64::from((1u32 << (scheme.bits - 1)) - 1);
    let steps_asym = f64::from((1u32 << scheme.bits) - 1);

    let mut best: Option<(f64, usize)> = None;
    for i in 1..=i_max {
        let t = i as f64 * w;
        let step = if scheme.symmetric {
            t / steps_sym
        } else {
            let lo = f64::from(min).max(-t).min(0.0);
            let hi = f64::from(max).min(t).max(0.0);
            (hi - lo) / steps_asym
        };
        // Clipping error of each tail: sum count * (|c| - t)^2, expanded.
        let [r0, r1, r2] = right[i.min(n)];
        let [l0, l1, l2] = left[i.min(n)];
        let clip_right = (r2 - 2.0 * t * r1 + t * t * r0).max(0.0);
        let clip_left = (l2 + 2.0 * t * l1 + t * t * l0).max(0.0);
        let inside = total - r0 - l0;
        let err = inside * step * step / 12.0 + clip_right + clip_left;
        if best.is_none_or(|(b, _)| err < b) {
            best = Some((err, i));
        }
    }
    let i = best.map_or(i_max, |(_, i)| i);
    ClipRange::from_threshold(h, i as f64 * w)
}
