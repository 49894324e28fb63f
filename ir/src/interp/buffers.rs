//! Reuse of f32 result buffers between the ops of a run (and between runs on one thread).
//!
//! A fresh large `Vec<f32>` costs a zeroing pass and, above the allocator's mmap threshold,
//! a page fault per 4 KiB on first touch; in a CNN those add up to several percent of the
//! inference. The runner hands the buffers of freed intermediate values to [`give`], and
//! kernels that write every element of their result get their output from [`take`], whose
//! contents are unspecified (stale values of an earlier tensor, never uninitialized memory).
//!
//! The free list is per thread (no locking; [`super::run_float_batch`]'s workers each keep
//! their own) and bounded by [`MAX_BUFFERS`] and [`MAX_BYTES`], so an idle thread holds at
//! most that much memory.

use std::cell::RefCell;

/// Buffers kept per thread.
const MAX_BUFFERS: usize = 16;
/// Bytes kept per thread.
const MAX_BYTES: usize = 64 << 20;
/// Smaller buffers are not worth keeping (the allocator recycles them cheaply).
const MIN_LEN: usize = 4096;

thread_local! {
    static FREE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of exactly `len` elements with unspecified contents: the smallest kept buffer
/// whose capacity suffices (within a factor of two, so a small result does not pin a big
/// buffer), else a new zeroed one.
pub(super) fn take(len: usize) -> Vec<f32> {
    if len >= MIN_LEN {
        let found = FREE.with_borrow_mut(|free| {
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len && v.capacity() / 2 <= len)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i)?;
            Some(free.swap_remove(best))
        });
        if let Some(mut v) = found {
            if v.len() >= len {
                v.truncate(len);
            } else {
                v.resize(len, 0.0);
            }
            return v;
        }
    }
    vec![0.0; len]
}

/// Keeps `v` for a later [`take`] when it is large enough and the bounds allow (dropping the
/// smallest kept buffers to make room).
pub(super) fn give(v: Vec<f32>) {
    let bytes = v.capacity() * 4;
    if v.capacity() < MIN_LEN || bytes > MAX_BYTES {
        return;
    }
    FREE.with_borrow_mut(|free| {
        free.push(v);
        let mut total: usize = free.iter().map(|b| b.capacity() * 4).sum();
        while free.len() > MAX_BUFFERS || total > MAX_BYTES {
            let smallest = (0..free.len())
                .min_by_key(|&i| free[i].capacity())
                .expect("not empty");
            total -= free.swap_remove(smallest).capacity() * 4;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_with_the_requested_length() {
        let v = vec![1.0f32; 10_000];
        let ptr = v.as_ptr();
        give(v);
        let w = take(9_000);
        assert_eq!(w.len(), 9_000);
        assert_eq!(w.as_ptr(), ptr);
        give(w);
        let w = take(9_500);
        assert_eq!(w.len(), 9_500);
        assert_eq!(w.as_ptr(), ptr);
        // Too small a request for that buffer: a fresh zeroed one.
        give(w);
        let small = take(4_096);
        assert_ne!(small.as_ptr(), ptr);
        assert!(small.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn the_free_list_stays_bounded() {
        for _ in 0..3 * MAX_BUFFERS {
            give(vec![0.0; MIN_LEN]);
        }
        // Two buffers of just over half the byte budget: only one stays.
        give(vec![0.0; MAX_BYTES / 8 + 1]);
        give(vec![0.0; MAX_BYTES / 8 + 1]);
        FREE.with_borrow(|free| {
            assert!(free.len() <= MAX_BUFFERS);
            assert!(free.iter().map(|b| b.capacity() * 4).sum::<usize>() <= MAX_BYTES);
        });
    }
}
