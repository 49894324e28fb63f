//! Data movement: Concat, Split, Slice, Reshape, Transpose, Pad.

use super::{InterpResult, arity, ensure, f32s, into_f32_vec, tensor};
use crate::ops::{ConcatAttrs, PadAttrs, PadMode, SliceAttrs, SplitAttrs, TransposeAttrs};
use crate::tensor::Tensor;
use crate::types::TensorType;
use std::borrow::Cow;

/// `(outer, inner)` element counts before and after `axis`.
fn around(dims: &[usize], axis: usize) -> (usize, usize) {
    (
        dims[..axis].iter().product(),
        dims[axis + 1..].iter().product(),
    )
}

/// Concatenation along `axis`.
pub(super) fn concat(
    a: &ConcatAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "concat";
    ensure(!args.is_empty(), op, || "needs at least one operand".into())?;
    let od = out.shape.dims();
    ensure(a.axis < od.len(), op, || {
        format!("axis {} out of range for {}", a.axis, out.shape)
    })?;
    let mut total = 0;
    for t in args {
        let d = t.shape.dims();
        let fits = d.len() == od.len()
            && d.iter()
                .zip(od)
                .enumerate()
                .all(|(i, (x, y))| i == a.axis || x == y);
        ensure(fits, op, || {
            format!("operand {} does not fit result {}", t.shape, out.shape)
        })?;
        total += d[a.axis];
    }
    ensure(total == od[a.axis], op, || {
        format!(
            "operand sizes along axis {} sum to {total}, result has {}",
            a.axis, od[a.axis]
        )
    })?;
    let (outer, inner) = around(od, a.axis);
    let mut y = Vec::with_capacity(out.shape.numel());
    for o in 0..outer {
        for t in args {
            let chunk = t.shape.dims()[a.axis] * inner;
            y.extend_from_slice(&f32s(t)[o * chunk..(o + 1) * chunk]);
        }
    }
    Ok(tensor(out, y))
}

/// Split along `axis` into `sizes`.
pub(super) fn split(
    a: &SplitAttrs,
    args: &[Cow<'_, Tensor>],
    out: &[TensorType],
) -> InterpResult<Vec<Tensor>> {
    let op = "split";
    arity(op, args, 1, 1)?;
    let xd = args[0].shape.dims();
    ensure(
        a.axis < xd.len() && a.sizes.iter().sum::<usize>() == xd[a.axis],
        op,
        || {
            format!(
                "sizes {:?} along axis {} do not split {}",
                a.sizes, a.axis, args[0].shape
            )
        },
    )?;
    ensure(out.len() == a.sizes.len(), op, || {
        format!("{} result types for {} sizes", out.len(), a.sizes.len())
    })?;
    for (t, &s) in out.iter().zip(&a.sizes) {
        let mut e = xd.to_vec();
        e[a.axis] = s;
        ensure(t.shape.dims() == e, op, || {
            format!("result {} is not {:?}", t.shape, e)
        })?;
    }
    let (outer, inner) = around(xd, a.axis);
    let x = f32s(&args[0]);
    let row = xd[a.axis] * inner;
    let mut res = Vec::with_capacity(out.len());
    let mut off = 0;
    for (t, &s) in out.iter().zip(&a.sizes) {
        let mut y = Vec::with_capacity(outer * s * inner);
        for o in 0..outer {
            y.extend_from_slice(&x[o * row + off..o * row + off + s * inner]);
        }
        off += s * inner;
        res.push(tensor(t, y));
    }
    Ok(res)
}

/// Strided slice: output element `i` along dim `d` is input element `starts[d] + i*steps[d]`.
pub(super) fn slice(
    a: &SliceAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "slice";
    arity(op, args, 1, 1)?;
    let (xd, od) = (args[0].shape.dims(), out.shape.dims());
    let r = xd.len();
    ensure(
        a.starts.len() == r && a.steps.len() == r && od.len() == r,
        op,
        || format!("starts/steps/result rank do not match x {}", args[0].shape),
    )?;
    let strides = args[0].shape.strides();
    // The input index of every output index, per dim, checked in range.
    let mut maps: Vec<Vec<usize>> = Vec::with_capacity(r);
    for d in 0..r {
        let mut m = Vec::with_capacity(od[d]);
        for i in 0..od[d] {
            let p = a.starts[d] as i64 + i as i64 * a.steps[d];
            ensure(
                a.steps[d] != 0 && p >= 0 && (p as usize) < xd[d],
                op,
                || format!("dim {d}: index {p} out of range for x {}", args[0].shape),
            )?;
            m.push(p as usize * strides[d]);
        }
        maps.push(m);
    }
    Ok(tensor(
        out,
        gather(f32s(&args[0]), &maps, out.shape.numel()),
    ))
}

/// `y[i0, .., ik] = x[maps[0][i0] + .. + maps[k][ik]]` (offsets already scaled by strides).
pub(super) fn gather(x: &[f32], maps: &[Vec<usize>], n: usize) -> Vec<f32> {
    let mut y = Vec::with_capacity(n);
    if n == 0 {
        return y;
    }
    let Some((last, outer)) = maps.split_last() else {
        y.push(x[0]);
        return y;
    };
    let mut idx = vec![0usize; outer.len()];
    let mut base: usize = outer.iter().map(|m| m[0]).sum();
    loop {
        y.extend(last.iter().map(|&o| x[base + o]));
        let mut d = outer.len();
        loop {
            if d == 0 {
                return y;
            }
            d -= 1;
            base -= outer[d][idx[d]];
            idx[d] += 1;
            if idx[d] < outer[d].len() {
                base += outer[d][idx[d]];
                break;
            }
            idx[d] = 0;
            base += outer[d][0];
        }
    }
}

/// Reinterprets the operand with the result type's shape.
pub(super) fn reshape(args: Vec<Cow<'_, Tensor>>, out: &TensorType) -> InterpResult<Tensor> {
    let op = "reshape";
    // A second operand (the ONNX shape tensor) may remain; the result type has the shape.
    arity(op, &args, 1, 2)?;
    ensure(args[0].numel() == out.shape.numel(), op, || {
        format!("cannot reshape {} to {}", args[0].shape, out.shape)
    })?;
    let x = into_f32_vec(args.into_iter().next().expect("arity"));
    Ok(tensor(out, x))
}

/// Permutes dims: output dim `i` is input dim `perm[i]`.
pub(super) fn transpose(
    a: &TransposeAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "transpose";
    arity(op, args, 1, 1)?;
    let xd = args[0].shape.dims();
    let r = xd.len();
    let mut seen = vec![false; r];
    let is_perm = a.perm.len() == r
        && a.perm
            .iter()
            .all(|&p| p < r && !std::mem::replace(&mut seen[p], true));
    ensure(is_perm, op, || {
        format!("perm {:?} is not a permutation of {} dims", a.perm, r)
    })?;
    let expect: Vec<usize> = a.perm.iter().map(|&p| xd[p]).collect();
    ensure(out.shape.dims() == expect, op, || {
        format!("result {} is not the permuted {:?}", out.shape, expect)
    })?;
    let strides = args[0].shape.strides();
    let maps: Vec<Vec<usize>> = a
        .perm
        .iter()
        .map(|&p| (0..xd[p]).map(|i| i * strides[p]).collect())
        .collect();
    Ok(tensor(
        out,
        gather(f32s(&args[0]), &maps, out.shape.numel()),
    ))
}

/// Pads (positive entries) or crops (negative entries) every dim.
pub(super) fn pad(
    a: &PadAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "pad";
    // Extra ONNX operands (pads, constant value) may remain; the attributes hold them.
    ensure(!args.is_empty(), op, || "needs the data operand".into())?;
    let xd = args[0].shape.dims();
    let r = xd.len();
    ensure(a.pads.len() == 2 * r, op, || {
        format!("{} pads for {} dims", a.pads.len(), r)
    })?;
    let mut expect = Vec::with_capacity(r);
    for (d, &n) in xd.iter().enumerate() {
        let len = n as i64 + a.pads[d] + a.pads[d + r];
        ensure(len >= 0, op, || {
            format!("dim {d} would have negative size {len}")
        })?;
        expect.push(len as usize);
    }
    ensure(out.shape.dims() == expect, op, || {
        format!("result {} is not the padded {:?}", out.shape, expect)
    })?;
    let strides = args[0].shape.strides();
    // Per dim: the source index of every output index, or None for the constant fill.
    let mut maps: Vec<Vec<Option<usize>>> = Vec::with_capacity(r);
    for d in 0..r {
        let n = xd[d] as i64;
        let mut m = Vec::with_capacity(expect[d]);
        for o in 0..expect[d] as i64 {
            let i = o - a.pads[d];
            let src = if (0..n).contains(&i) {
                Some(i)
            } else {
                match a.mode {
                    PadMode::Constant => None,
                    PadMode::Edge => {
                        ensure(n > 0, op, || format!("edge padding of empty dim {d}"))?;
                        Some(i.clamp(0, n - 1))
                    }
                    PadMode::Reflect => {
                        ensure(n > 0, op, || format!("reflect padding of empty dim {d}"))?;
                        Some(reflect(i, n))
                    }
                }
            };
            m.push(src.map(|s| s as usize * strides[d]));
        }
        maps.push(m);
    }
    let x = f32s(&args[0]);
    let n = out.shape.numel();
    let mut y = Vec::with_capacity(n);
    if n > 0 {
        // Odometer over all output indices; an output element is the fill value as soon as
        // one of its per-dim sources is the fill.
        let mut idx = vec![0usize; r];
        for _ in 0..n {
            let mut off = Some(0usize);
            for d in 0..r {
                off = match (off, maps[d][idx[d]]) {
                    (Some(a), Some(b)) => Some(a + b),
                    _ => None,
                };
            }
            y.push(off.map_or(a.value, |o| x[o]));
            for d in (0..r).rev() {
                idx[d] += 1;
                if idx[d] < expect[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
    }
    Ok(tensor(out, y))
}

/// Mirror index `i` into `0..n` without repeating the edge (period `2n - 2`).
fn reflect(i: i64, n: i64) -> i64 {
    if n == 1 {
        return 0;
    }
    let p = 2 * (n - 1);
    let m = i.rem_euclid(p);
    if m < n { m } else { p - m }
}
