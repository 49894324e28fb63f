//! A static arena plan for the hvx-like emitter: one region per runtime value and per
//! kernel scratch buffer, first fit over the values' live ranges in execution order.
//!
//! Every region is 128-byte aligned and followed by 128 bytes (or more, on request) that no
//! other live region uses, because vector kernels load and store whole 128-byte vectors
//! past the end of a tensor.

/// One buffer to place: live over steps `[first, last]` (inclusive).
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub(crate) bytes: usize,
    pub(crate) first: usize,
    pub(crate) last: usize,
}

/// Slack after every region, in bytes.
pub(crate) const SLACK: usize = 128;

fn round128(n: usize) -> usize {
    n.div_ceil(128) * 128
}

/// Places every request; returns the offsets and the arena size.
pub(crate) fn place(reqs: &[Request]) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..reqs.len()).collect();
    order.sort_by_key(|&i| (reqs[i].first, std::cmp::Reverse(reqs[i].bytes)));
    let mut placed: Vec<(usize, usize, usize)> = Vec::new(); // (offset, size, request)
    let mut offsets = vec![0; reqs.len()];
    let mut total = 0;
    for i in order {
        let r = &reqs[i];
        let size = round128(r.bytes) + SLACK;
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&(_, _, j)| reqs[j].first <= r.last && r.first <= reqs[j].last)
            .map(|&(o, s, _)| (o, o + s))
            .collect();
        busy.sort();
        let mut at = 0;
        for (lo, hi) in busy {
            if at + size <= lo {
                break;
            }
            at = at.max(hi);
        }
        offsets[i] = at;
        placed.push((at, size, i));
        total = total.max(at + size);
    }
    (offsets, total.max(128))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disjoint_lifetimes_share_and_overlapping_do_not() {
        let reqs = [
            Request {
                bytes: 100,
                first: 0,
                last: 1,
            },
            Request {
                bytes: 300,
                first: 1,
                last: 2,
            },
            Request {
                bytes: 100,
                first: 2,
                last: 3,
            },
        ];
        let (off, total) = place(&reqs);
        assert_eq!(off[0] % 128, 0);
        assert_ne!(off[0], off[1]);
        assert_eq!(off[2], off[0]);
        assert!(total >= 256 + 512);
    }
}
