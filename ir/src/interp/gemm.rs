//! Gemm (2-d, with transposes and a broadcast `c`) and numpy-style batched MatMul.

use super::elementwise::{broadcast_shape, broadcast_strides};
use super::sgemm::{MatRef, sgemm};
use super::{InterpResult, arity, ensure, f32s, tensor};
use crate::ops::GemmAttrs;
use crate::tensor::Tensor;
use crate::types::TensorType;
use std::borrow::Cow;

/// `y = alpha * op(a) @ op(b) + beta * c`, `c` unidirectionally broadcast to `[M, N]`.
pub(super) fn gemm(
    a: &GemmAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "gemm";
    arity(op, args, 2, 3)?;
    let (ad, bd) = (args[0].shape.dims(), args[1].shape.dims());
    ensure(ad.len() == 2 && bd.len() == 2, op, || {
        format!("a {} and b {} must be 2-d", args[0].shape, args[1].shape)
    })?;
    let (m, k) = if a.trans_a {
        (ad[1], ad[0])
    } else {
        (ad[0], ad[1])
    };
    let (k2, n) = if a.trans_b {
        (bd[1], bd[0])
    } else {
        (bd[0], bd[1])
    };
    ensure(k == k2 && out.shape.dims() == [m, n], op, || {
        format!(
            "op(a) is {m}x{k} and op(b) is {k2}x{n}, result type {}",
            out.shape
        )
    })?;
    let mut y = vec![0.0f32; m * n];
    let mut beta = 0.0;
    if let Some(c) = args.get(2)
        && a.beta != 0.0
    {
        let cd = c.shape.dims();
        ensure(
            cd.len() <= 2 && broadcast_shape(cd, &[m, n]).as_deref() == Some(&[m, n][..]),
            op,
            || format!("c {} does not broadcast to [{m},{n}]", c.shape),
        )?;
        let s = broadcast_strides(cd, &[m, n]);
        let cv = f32s(c);
        for (i, row) in y.chunks_mut(n.max(1)).enumerate().take(m) {
            for (j, v) in row.iter_mut().enumerate() {
                *v = a.beta * cv[i * s[0] + j * s[1]];
            }
        }
        beta = 1.0;
    }
    let mut am = MatRef::row_major(f32s(&args[0]), ad[1]);
    if a.trans_a {
        am = am.t();
    }
    let mut bm = MatRef::row_major(f32s(&args[1]), bd[1]);
    if a.trans_b {
        bm = bm.t();
    }
    sgemm(m, k, n, a.alpha, am, bm, beta, &mut y, n);
    Ok(tensor(out, y))
}

/// Numpy matmul: 1-d operands are promoted (and the added dim removed afterwards), batch
/// dims broadcast.
pub(super) fn matmul(args: &[Cow<'_, Tensor>], out: &TensorType) -> InterpResult<Tensor> {
    let op = "matmul";
    arity(op, args, 2, 2)?;
    let (ad, bd) = (args[0].shape.dims(), args[1].shape.dims());
    ensure(!ad.is_empty() && !bd.is_empty(), op, || {
        "operands must have rank >= 1".into()
    })?;
    let a2: Vec<usize> = if ad.len() == 1 {
        vec![1, ad[0]]
    } else {
        ad.to_vec()
    };
    let b2: Vec<usize> = if bd.len() == 1 {
        vec![bd[0], 1]
    } else {
        bd.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    let (ab, bb) = (&a2[..a2.len() - 2], &b2[..b2.len() - 2]);
    let batch = broadcast_shape(ab, bb);
    let mut expect = batch.clone().unwrap_or_default();
    if ad.len() > 1 {
        expect.push(m);
    }
    if bd.len() > 1 {
        expect.push(n);
    }
    ensure(
        k == k2 && batch.is_some() && out.shape.dims() == expect,
        op,
        || {
            format!(
                "operands {} and {} do not multiply to result type {}",
                args[0].shape, args[1].shape, out.shape
            )
        },
    )?;
    let batch = batch.unwrap_or_default();
    let sa = broadcast_strides(ab, &batch);
    let sb = broadcast_strides(bb, &batch);
    let nb: usize = batch.iter().product();
    let (av, bv) = (f32s(&args[0]), f32s(&args[1]));
    let mut y = vec![0.0f32; nb * m * n];
    if m * n == 0 {
        return Ok(tensor(out, y));
    }
    let mut idx = vec![0usize; batch.len()];
    for (bi, yc) in y.chunks_mut(m * n).enumerate() {
        if bi > 0 {
            for d in (0..batch.len()).rev() {
                idx[d] += 1;
                if idx[d] < batch[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        let oa: usize = idx.iter().zip(&sa).map(|(i, s)| i * s).sum::<usize>() * m * k;
        let ob: usize = idx.iter().zip(&sb).map(|(i, s)| i * s).sum::<usize>() * k * n;
        sgemm(
            m,
            k,
            n,
            1.0,
            MatRef::row_major(&av[oa..oa + m * k], k),
            MatRef::row_major(&bv[ob..ob + k * n], n),
            0.0,
            yc,
            n,
        );
    }
    Ok(tensor(out, y))
}
