//! Dense symmetric linear algebra in f64 for the least-squares fits of `optimize-weights`:
//! Cholesky factorization, triangular inverse, solves and the upper factor of an inverse.
//! Matrices are row-major `n x n` slices. Blocked (block size [`NB`]): the small diagonal
//! blocks are factored by plain loops, everything else is matrix products on
//! [`ir::interp::dgemm`], so layers with thousands of weights per channel (a ResNet's
//! `512 x 3 x 3` convs) factor in a fraction of a second.

use ir::interp::{DMat, dgemm};

/// Block size of the blocked algorithms.
pub(crate) const NB: usize = 64;

/// Lower Cholesky factor of the `b x b` block at `a[off..]` (row stride `ld`), into `out`
/// (`b x b`, row-major); `None` unless every pivot is positive and finite.
fn chol_small(a: &[f64], off: usize, ld: usize, b: usize) -> Option<Vec<f64>> {
    let mut l = vec![0f64; b * b];
    for j in 0..b {
        let mut d = a[off + j * ld + j];
        for k in 0..j {
            d -= l[j * b + k] * l[j * b + k];
        }
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        let djj = d.sqrt();
        l[j * b + j] = djj;
        for i in j + 1..b {
            let mut s = a[off + i * ld + j];
            for k in 0..j {
                s -= l[i * b + k] * l[j * b + k];
            }
            l[i * b + j] = s / djj;
        }
    }
    Some(l)
}

/// Inverse of a `b x b` lower triangular matrix with a nonzero diagonal.
fn tri_inv_small(l: &[f64], b: usize) -> Vec<f64> {
    let mut x = vec![0f64; b * b];
    for j in 0..b {
        x[j * b + j] = 1.0 / l[j * b + j];
        for i in j + 1..b {
            let mut s = 0.0;
            for k in j..i {
                s += l[i * b + k] * x[k * b + j];
            }
            x[i * b + j] = -s / l[i * b + i];
        }
    }
    x
}

/// The lower Cholesky factor `L` (`a = L L^T`, zeros above the diagonal) of a symmetric
/// positive definite `a`, or `None` when a pivot is not positive (not numerically definite).
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    // Right-looking: factor a diagonal block, solve the panel below it, update the trailing
    // matrix (kept in `work`; `l` only receives finished columns).
    let mut work = a.to_vec();
    let mut l = vec![0f64; n * n];
    for j0 in (0..n).step_by(NB) {
        let j1 = (j0 + NB).min(n);
        let b = j1 - j0;
        let ljj = chol_small(&work, j0 * n + j0, n, b)?;
        for i in 0..b {
            l[(j0 + i) * n + j0..(j0 + i) * n + j0 + i + 1]
                .copy_from_slice(&ljj[i * b..i * b + i + 1]);
        }
        let rest = n - j1;
        if rest == 0 {
            break;
        }
        // L[j1.., j0..j1] = A[j1.., j0..j1] * L_jj^-T
        let inv = tri_inv_small(&ljj, b);
        dgemm(
            rest,
            b,
            b,
            1.0,
            DMat::rows(&work[j1 * n + j0..], n),
            DMat::rows(&inv, b).t(),
            0.0,
            &mut l[j1 * n + j0..],
            n,
        );
        // A[j1.., j1..] -= L[j1.., j0..j1] L[j1.., j0..j1]^T
        let panel = DMat::rows(&l[j1 * n + j0..], n);
        dgemm(
            rest,
            b,
            rest,
            -1.0,
            panel,
            panel.t(),
            1.0,
            &mut work[j1 * n + j1..],
            n,
        );
    }
    Some(l)
}

/// Inverse of a lower triangular `n x n` matrix with a nonzero diagonal (lower triangular).
pub(crate) fn tri_inv_lower(l: &[f64], n: usize) -> Vec<f64> {
    let mut x = vec![0f64; n * n];
    let blocks: Vec<(usize, usize)> = (0..n).step_by(NB).map(|s| (s, (s + NB).min(n))).collect();
    let diag: Vec<Vec<f64>> = blocks
        .iter()
        .map(|&(s, e)| {
            let b = e - s;
            let mut small = vec![0f64; b * b];
            for i in 0..b {
                small[i * b..i * b + b].copy_from_slice(&l[(s + i) * n + s..(s + i) * n + e]);
            }
            tri_inv_small(&small, b)
        })
        .collect();
    for (bj, &(j0, j1)) in blocks.iter().enumerate() {
        let jb = j1 - j0;
        for i in 0..jb {
            x[(j0 + i) * n + j0..(j0 + i) * n + j1].copy_from_slice(&diag[bj][i * jb..i * jb + jb]);
        }
        for (bi, &(i0, i1)) in blocks.iter().enumerate().skip(bj + 1) {
            let ib = i1 - i0;
            // T = L[i0..i1, j0..i0] * X[j0..i0, j0..j1]
            let mut t = vec![0f64; ib * jb];
            dgemm(
                ib,
                i0 - j0,
                jb,
                1.0,
                DMat::rows(&l[i0 * n + j0..], n),
                DMat::rows(&x[j0 * n + j0..], n),
                0.0,
                &mut t,
                jb,
            );
            // X[i0..i1, j0..j1] = -X_ii * T
            dgemm(
                ib,
                ib,
                jb,
                -1.0,
                DMat::rows(&diag[bi], ib),
                DMat::rows(&t, jb),
                0.0,
                &mut x[i0 * n + j0..],
                n,
            );
        }
    }
    x
}

/// Solves `L L^T z = b` for the `m` right-hand sides in the columns of `b [n x m]`.
pub(crate) fn cholesky_solve(l: &[f64], n: usize, b: &[f64], m: usize) -> Vec<f64> {
    let inv = tri_inv_lower(l, n);
    let mut y = vec![0f64; n * m];
    dgemm(
        n,
        n,
        m,
        1.0,
        DMat::rows(&inv, n),
        DMat::rows(b, m),
        0.0,
        &mut y,
        m,
    );
    let mut z = vec![0f64; n * m];
    dgemm(
        n,
        n,
        m,
        1.0,
        DMat::rows(&inv, n).t(),
        DMat::rows(&y, m),
        0.0,
        &mut z,
        m,
    );
    z
}

/// The upper Cholesky factor `U` of `h^-1` (`h^-1 = U^T U`), or `None` when `h` is not
/// numerically positive definite.
///
/// Row `i` of `U` is what error feedback needs at step `i`: quantizing column `i` with error
/// `e` is compensated on the later columns `j > i` by `-e * U[i][j] / U[i][i]` (the optimal
/// update of the remaining weights under the quadratic form `h`). With `P` the reversal,
/// `P h P = L L^T` gives `h = R R^T` for the upper triangular `R = P L P`, so
/// `U = R^-1 = P L^-1 P`: one factorization and one triangular inverse.
pub(crate) fn inverse_upper_factor(h: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut rev = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            rev[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
        }
    }
    let l = cholesky(&rev, n)?;
    let x = tri_inv_lower(&l, n);
    let mut u = vec![0f64; n * n];
    for i in 0..n {
        for j in i..n {
            u[i * n + j] = x[(n - 1 - i) * n + (n - 1 - j)];
        }
    }
    Some(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `A^T A + n I` for a fixed pseudo-random `A`.
    fn spd(n: usize) -> Vec<f64> {
        let a: Vec<f64> = (0..n * n)
            .map(|i| ((i * 7 + 3) % 11) as f64 - 5.0)
            .collect();
        let mut m = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                m[i * n + j] = (0..n).map(|k| a[k * n + i] * a[k * n + j]).sum::<f64>();
            }
            m[i * n + i] += n as f64;
        }
        m
    }

    fn product(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0f64; n * n];
        for i in 0..n {
            for k in 0..n {
                for j in 0..n {
                    c[i * n + j] += a[i * n + k] * b[k * n + j];
                }
            }
        }
        c
    }

    fn transpose(a: &[f64], n: usize) -> Vec<f64> {
        (0..n * n).map(|i| a[(i % n) * n + i / n]).collect()
    }

    fn assert_identity(m: &[f64], n: usize, tol: f64) {
        for i in 0..n {
            for j in 0..n {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!(
                    (m[i * n + j] - want).abs() < tol,
                    "({i},{j}) = {}",
                    m[i * n + j]
                );
            }
        }
    }

    /// Sizes below, at and across the block size.
    const SIZES: [usize; 5] = [1, 6, NB, NB + 1, 2 * NB + 37];

    #[test]
    fn cholesky_reproduces_the_matrix() {
        for n in SIZES {
            let a = spd(n);
            let l = cholesky(&a, n).expect("definite");
            let llt = product(&l, &transpose(&l, n), n);
            for i in 0..n {
                for j in 0..n {
                    let tol = 1e-9 * a[i * n + i].abs().max(1.0);
                    assert!(
                        (llt[i * n + j] - a[i * n + j]).abs() < tol,
                        "n {n} ({i},{j})"
                    );
                    if j > i {
                        assert_eq!(l[i * n + j], 0.0, "n {n}: L is lower triangular");
                    }
                }
            }
        }
    }

    #[test]
    fn cholesky_rejects_an_indefinite_matrix() {
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
        assert!(cholesky(&[0.0], 1).is_none());
        assert!(cholesky(&[f64::NAN], 1).is_none());
        // Indefinite only in a later block.
        let n = NB + 3;
        let mut a = spd(n);
        a[(n - 1) * n + (n - 1)] = -1.0;
        assert!(cholesky(&a, n).is_none());
    }

    #[test]
    fn triangular_inverse_is_the_inverse() {
        for n in SIZES {
            let l = cholesky(&spd(n), n).expect("definite");
            let x = tri_inv_lower(&l, n);
            assert_identity(&product(&l, &x, n), n, 1e-9);
        }
    }

    #[test]
    fn solve_inverts_the_product() {
        for n in SIZES {
            let a = spd(n);
            let l = cholesky(&a, n).expect("definite");
            let x: Vec<f64> = (0..n * 2).map(|i| i as f64 * 0.5 - 2.0).collect();
            let mut b = vec![0f64; n * 2];
            for i in 0..n {
                for c in 0..2 {
                    b[i * 2 + c] = (0..n).map(|k| a[i * n + k] * x[k * 2 + c]).sum();
                }
            }
            let z = cholesky_solve(&l, n, &b, 2);
            for (got, want) in z.iter().zip(&x) {
                assert!((got - want).abs() < 1e-7, "n {n}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn inverse_upper_factor_squares_to_the_inverse() {
        for n in SIZES {
            let a = spd(n);
            let u = inverse_upper_factor(&a, n).expect("definite");
            let inv = product(&transpose(&u, n), &u, n);
            assert_identity(&product(&inv, &a, n), n, 1e-8);
            for i in 0..n {
                assert!(u[i * n + i] > 0.0);
                for j in 0..i {
                    assert_eq!(u[i * n + j], 0.0, "n {n}: U is upper triangular");
                }
            }
        }
    }
}
