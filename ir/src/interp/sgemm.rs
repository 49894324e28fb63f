//! The one GEMM entry point of the interpreter: a bounds-checked wrapper over `gemm::gemm`
//! (single-threaded), the only `unsafe` code of the crate.
//!
//! `gemm` was measured about 20% faster than `matrixmultiply::sgemm` on a ResNet-18 conv
//! stack (it packs less for the skinny products of convolutions); see
//! `ir/examples/interp_bench.rs`.
#![allow(unsafe_code)]

/// A read-only strided matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    /// Backing storage.
    pub data: &'a [f32],
    /// Row stride in elements.
    pub rs: usize,
    /// Column stride in elements.
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn row_major(data: &'a [f32], cols: usize) -> MatRef<'a> {
        MatRef {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose view.
    pub fn t(self) -> MatRef<'a> {
        MatRef {
            data: self.data,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// Whether a `rows x cols` matrix with strides `rs, cs` stays inside `len` elements.
fn fits(rows: usize, cols: usize, rs: usize, cs: usize, len: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)));
    matches!(last, Some(l) if l < len) && rs <= isize::MAX as usize && cs <= isize::MAX as usize
}

/// `c[m x n] = alpha * a[m x k] @ b[k x n] + beta * c`, with `c` row-major of row stride
/// `ldc` (`ldc >= n`). When `beta == 0`, `c` is only written.
///
/// Panics if a view does not fit its storage: callers derive every view from shapes they
/// validated, so a failure here is a bug in the interpreter, not bad input.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    assert!(
        fits(m, k, a.rs, a.cs, a.data.len()),
        "sgemm: A out of bounds"
    );
    assert!(
        fits(k, n, b.rs, b.cs, b.data.len()),
        "sgemm: B out of bounds"
    );
    assert!(
        ldc >= n && fits(m, n, ldc, 1, c.len()),
        "sgemm: C out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for row in c.chunks_mut(ldc).take(m) {
            for x in &mut row[..n] {
                *x = if beta == 0.0 { 0.0 } else { *x * beta };
            }
        }
        return;
    }
    // SAFETY: `fits` proved that for all i < m, l < k, j < n the offsets
    // `i*a.rs + l*a.cs`, `l*b.rs + j*b.cs` and `i*ldc + j` are below the lengths of the
    // slices `a.data`, `b.data` and `c` (no overflow, strides fit in isize), so every
    // element gemm reads or writes lies inside a live slice. `ldc >= n` with column stride
    // 1 makes the C elements pairwise distinct, and `c` is an exclusive borrow, so it
    // aliases neither `a` nor `b`. gemm (argument order: dst, its column and row strides,
    // read_dst, lhs and rhs likewise, then dst scale and product scale) is synchronous with
    // `Parallelism::None` and keeps no pointer.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            ldc as isize,
            beta != 0.0,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// A read-only strided f64 matrix view for [`dgemm`]: element `(i, j)` is
/// `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct DMat<'a> {
    /// Backing storage.
    pub data: &'a [f64],
    /// Row stride in elements.
    pub rs: usize,
    /// Column stride in elements.
    pub cs: usize,
}

impl<'a> DMat<'a> {
    /// A row-major matrix whose rows are `ld` elements apart.
    pub fn rows(data: &'a [f64], ld: usize) -> DMat<'a> {
        DMat {
            data,
            rs: ld,
            cs: 1,
        }
    }

    /// The transpose view.
    pub fn t(self) -> DMat<'a> {
        DMat {
            data: self.data,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// `c[m x n] = alpha * a[m x k] @ b[k x n] + beta * c` in f64, `c` row-major with row stride
/// `ldc >= n`; when `beta == 0`, `c` is only written. Single-threaded. The linear algebra of
/// `passes::optimize_weights` (Gram matrices, blocked Cholesky and triangular inverses,
/// error-feedback updates) runs on it.
///
/// Panics if a view does not fit its storage (callers derive every view from their own
/// shapes, so that is a bug of theirs, not bad input).
#[allow(clippy::too_many_arguments)]
pub fn dgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f64,
    a: DMat<'_>,
    b: DMat<'_>,
    beta: f64,
    c: &mut [f64],
    ldc: usize,
) {
    assert!(
        fits(m, k, a.rs, a.cs, a.data.len()),
        "dgemm: A out of bounds"
    );
    assert!(
        fits(k, n, b.rs, b.cs, b.data.len()),
        "dgemm: B out of bounds"
    );
    assert!(
        ldc >= n && fits(m, n, ldc, 1, c.len()),
        "dgemm: C out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for row in c.chunks_mut(ldc).take(m) {
            for x in &mut row[..n] {
                *x = if beta == 0.0 { 0.0 } else { *x * beta };
            }
        }
        return;
    }
    // SAFETY: as in `sgemm`: `fits` proved every offset read from `a` and `b` and written
    // in `c` lies inside its slice; `ldc >= n` with column stride 1 makes the written
    // elements distinct, and `c` is an exclusive borrow aliasing neither input. gemm is
    // synchronous with `Parallelism::None` and keeps no pointer.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            ldc as isize,
            beta != 0.0,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `a^T b` in f64 for row-major `a [rows x ca]` and `b [rows x cb]`: the Gram and cross
/// products of least-squares fits. Returns `[ca x cb]`, row-major.
///
/// Panics if a slice is shorter than its shape.
pub fn gram_f64(a: &[f64], b: &[f64], rows: usize, ca: usize, cb: usize) -> Vec<f64> {
    let mut c = vec![0f64; ca * cb];
    dgemm(
        ca,
        rows,
        cb,
        1.0,
        DMat::rows(a, ca).t(),
        DMat::rows(b, cb),
        0.0,
        &mut c,
        cb,
    );
    c
}

#[cfg(test)]
mod gram_tests {
    use super::gram_f64;

    #[test]
    fn gram_matches_a_naive_product() {
        let (rows, ca, cb) = (7, 3, 4);
        let a: Vec<f64> = (0..rows * ca).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..rows * cb).map(|i| (i as f64 * 0.11).cos()).collect();
        let c = gram_f64(&a, &b, rows, ca, cb);
        for i in 0..ca {
            for j in 0..cb {
                let want: f64 = (0..rows).map(|l| a[l * ca + i] * b[l * cb + j]).sum();
                assert!((c[i * cb + j] - want).abs() < 1e-12, "({i},{j})");
            }
        }
        assert!(gram_f64(&[], &[], 0, 2, 2).iter().all(|&x| x == 0.0));
    }
}
