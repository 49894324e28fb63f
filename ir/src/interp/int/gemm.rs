//! GemmInt and MatMulInt: exact integer products (i64) checked to fit the i32 accumulator.

use super::super::qdq::{int_tensor, int_values};
use super::super::{InterpResult, arity, ensure};
use super::{broadcast_offsets, fit_i32, symmetric, zero_point};
use crate::infer::matmul_shape;
use crate::ops::GemmIntAttrs;
use crate::tensor::Tensor;
use crate::types::TensorType;
use std::borrow::Cow;

/// `acc[i, j] = bias[j] + sum_k (a[i, k] - zp_a) * b'[k, j]` with `b' = b^T` for `trans_b`.
pub(super) fn gemm_int(
    a: &GemmIntAttrs,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "gemm_int";
    arity(op, args, 2, 3)?;
    let zp = i64::from(zero_point(op, "operand a", ins[0])?);
    symmetric(op, ins[1])?;
    let (ad, bd) = (args[0].shape.dims(), args[1].shape.dims());
    ensure(ad.len() == 2 && bd.len() == 2, op, || {
        format!(
            "operands {} and {} must be 2-d",
            args[0].shape, args[1].shape
        )
    })?;
    let (m, k) = (ad[0], ad[1]);
    let (kb, n) = if a.trans_b {
        (bd[1], bd[0])
    } else {
        (bd[0], bd[1])
    };
    ensure(kb == k && out.shape.dims() == [m, n], op, || {
        format!(
            "a {} and b {} do not give the result {}",
            args[0].shape, args[1].shape, out.shape
        )
    })?;
    let av = int_values(op, &args[0])?;
    let bv = int_values(op, &args[1])?;
    let bias = args.get(2).map(|b| int_values(op, b)).transpose()?;
    if let Some(b) = &bias {
        ensure(b.len() == n, op, || {
            format!("bias has {} entries for {n} columns", b.len())
        })?;
    }
    let mut y = Vec::with_capacity(m * n);
    for i in 0..m {
        let row = &av[i * k..][..k];
        for j in 0..n {
            let mut acc = bias.as_ref().map_or(0, |b| i64::from(b[j]));
            for (kk, &x) in row.iter().enumerate() {
                let w = if a.trans_b {
                    bv[j * k + kk]
                } else {
                    bv[kk * n + j]
                };
                acc += (i64::from(x) - zp) * i64::from(w);
            }
            y.push(fit_i32(op, acc)?);
        }
    }
    int_tensor(op, out, y)
}

/// Numpy-style batched `acc = (a - zp_a) @ (b - zp_b)` (1-d operands promoted).
pub(super) fn matmul_int(
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "matmul_int";
    arity(op, args, 2, 2)?;
    let za = i64::from(zero_point(op, "operand a", ins[0])?);
    let zb = i64::from(zero_point(op, "operand b", ins[1])?);
    let (ad, bd) = (args[0].shape.dims(), args[1].shape.dims());
    let shape = matmul_shape(ad, bd).map_err(|e| super::super::invalid(op, e.to_string()))?;
    ensure(shape == out.shape, op, || {
        format!("result {} is not the product shape {shape}", out.shape)
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
    let n = b2[b2.len() - 1];
    let (abatch, bbatch) = (&a2[..a2.len() - 2], &b2[..b2.len() - 2]);
    let batch = crate::infer::broadcast_shapes(&abatch.to_vec().into(), &bbatch.to_vec().into())
        .map_err(|e| super::super::invalid(op, e.to_string()))?;
    let aoff = broadcast_offsets(op, abatch, batch.dims())?;
    let boff = broadcast_offsets(op, bbatch, batch.dims())?;
    let av = int_values(op, &args[0])?;
    let bv = int_values(op, &args[1])?;
    let mut y = Vec::with_capacity(out.shape.numel());
    for (&ao, &bo) in aoff.iter().zip(&boff) {
        let am = &av[ao * m * k..][..m * k];
        let bm = &bv[bo * k * n..][..k * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0i64;
                for kk in 0..k {
                    acc += (i64::from(am[i * k + kk]) - za) * (i64::from(bm[kk * n + j]) - zb);
                }
                y.push(fit_i32(op, acc)?);
            }
        }
    }
    int_tensor(op, out, y)
}
