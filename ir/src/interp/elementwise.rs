//! Elementwise ops: activations, numpy-broadcasting arithmetic (and PRelu), batch
//! normalization and softmax. Operands whose last use is here are updated in place.

use super::{InterpResult, arity, ensure, f32s, into_f32_vec, tensor};
use crate::ops::{BatchNormAttrs, Op, SoftmaxAttrs};
use crate::tensor::Tensor;
use crate::types::TensorType;
use std::borrow::Cow;

/// Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish and Tanh.
pub(super) fn unary(op: &Op, args: Vec<Cow<'_, Tensor>>, out: &TensorType) -> InterpResult<Tensor> {
    let name = op.mnemonic();
    arity(name, &args, 1, 1)?;
    ensure(args[0].shape == out.shape, name, || {
        format!(
            "operand shape {} differs from result shape {}",
            args[0].shape, out.shape
        )
    })?;
    let mut v = into_f32_vec(args.into_iter().next().expect("arity checked"));
    match op {
        Op::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
        Op::LeakyRelu(a) => {
            let alpha = a.alpha;
            v.iter_mut()
                .for_each(|x| *x = if *x < 0.0 { alpha * *x } else { *x });
        }
        Op::Clip(a) => {
            let (lo, hi) = (a.min, a.max);
            v.iter_mut().for_each(|x| *x = x.max(lo).min(hi));
        }
        Op::Sigmoid => v.iter_mut().for_each(|x| *x = sigmoid(*x)),
        Op::HardSigmoid(a) => {
            let (alpha, beta) = (a.alpha, a.beta);
            v.iter_mut()
                .for_each(|x| *x = (alpha * *x + beta).clamp(0.0, 1.0));
        }
        Op::HardSwish => v
            .iter_mut()
            .for_each(|x| *x *= (*x * (1.0 / 6.0) + 0.5).clamp(0.0, 1.0)),
        Op::Tanh => v.iter_mut().for_each(|x| *x = x.tanh()),
        Op::Input
        | Op::Const(_)
        | Op::Conv(_)
        | Op::ConvTranspose(_)
        | Op::Gemm(_)
        | Op::MatMul
        | Op::BatchNorm(_)
        | Op::PRelu
        | Op::Softmax(_)
        | Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::MaxPool(_)
        | Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::ReduceMean(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Slice(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Pad(_)
        | Op::Resize(_)
        | Op::Quantize
        | Op::Dequantize
        | Op::ConvInt(_)
        | Op::ConvTransposeInt(_)
        | Op::GemmInt(_)
        | Op::MatMulInt
        | Op::Requant(_)
        | Op::AddInt(_)
        | Op::MulInt(_)
        | Op::AvgPoolInt(_)
        | Op::Lut(_)
        | Op::SoftmaxInt(_)
        | Op::ResizeInt(_) => {
            return Err(super::invalid(name, "not a unary elementwise op"));
        }
    }
    Ok(tensor(out, v))
}

/// The logistic function, stable for large |x|.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// The numpy broadcast of two shapes, or `None` when they are incompatible.
pub(super) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for (i, o) in out.iter_mut().enumerate() {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Strides of `shape` broadcast to `out` (0 along broadcast dims).
pub(super) fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let r = out.len();
    let own = crate::types::Shape(shape.to_vec()).strides();
    (0..r)
        .map(|i| {
            if i + shape.len() < r {
                0
            } else {
                let j = i + shape.len() - r;
                if shape[j] == 1 && out[i] != 1 {
                    0
                } else {
                    own[j]
                }
            }
        })
        .collect()
}

/// One contiguous run of a broadcast loop: `len` output elements from `out`, reading the
/// operands from `a` and `b` with inner strides `sa` and `sb` (each 0 or 1).
#[derive(Clone, Copy)]
struct Segment {
    out: usize,
    a: usize,
    sa: usize,
    b: usize,
    sb: usize,
    len: usize,
}

/// Calls `f` on every segment of the broadcast of strides `sa`, `sb` over `dims`, after
/// merging dims that are laid out alike so that inner runs are as long as possible.
fn for_each_segment(dims: &[usize], sa: &[usize], sb: &[usize], mut f: impl FnMut(Segment)) {
    if dims.contains(&0) {
        return;
    }
    // Merge dim i+1 into dim i when both operands walk them as one longer dim.
    let mut d: Vec<(usize, usize, usize)> = Vec::new();
    for i in 0..dims.len() {
        if dims[i] == 1 {
            continue;
        }
        if let Some(last) = d.last_mut()
            && last.1 == sa[i] * dims[i]
            && last.2 == sb[i] * dims[i]
        {
            last.0 *= dims[i];
            last.1 = sa[i];
            last.2 = sb[i];
            continue;
        }
        d.push((dims[i], sa[i], sb[i]));
    }
    let (len, ia, ib) = d.pop().unwrap_or((1, 0, 0));
    let outer: usize = d.iter().map(|x| x.0).product();
    let mut idx = vec![0usize; d.len()];
    let (mut oa, mut ob) = (0usize, 0usize);
    for o in 0..outer {
        f(Segment {
            out: o * len,
            a: oa,
            sa: ia,
            b: ob,
            sb: ib,
            len,
        });
        for k in (0..d.len()).rev() {
            idx[k] += 1;
            oa += d[k].1;
            ob += d[k].2;
            if idx[k] < d[k].0 {
                break;
            }
            oa -= d[k].1 * d[k].0;
            ob -= d[k].2 * d[k].0;
            idx[k] = 0;
        }
    }
}

/// Where the result of a broadcast binary op is written.
enum Dest {
    Fresh,
    InA,
    InB,
}

/// `out = f(a, b)` under numpy broadcasting, reusing an owned operand's buffer when it has
/// the result's shape.
fn broadcast_binary(
    name: &'static str,
    args: Vec<Cow<'_, Tensor>>,
    out: &TensorType,
    f: impl Fn(f32, f32) -> f32 + Copy,
) -> InterpResult<Tensor> {
    arity(name, &args, 2, 2)?;
    let dims = out.shape.dims();
    let bshape = broadcast_shape(args[0].shape.dims(), args[1].shape.dims());
    ensure(bshape.as_deref() == Some(dims), name, || {
        format!(
            "operands {} and {} do not broadcast to result shape {}",
            args[0].shape, args[1].shape, out.shape
        )
    })?;
    let sa = broadcast_strides(args[0].shape.dims(), dims);
    let sb = broadcast_strides(args[1].shape.dims(), dims);
    let mut it = args.into_iter();
    let (a, b) = (it.next().expect("arity"), it.next().expect("arity"));
    let dest = match (&a, &b) {
        (Cow::Owned(t), _) if t.shape == out.shape => Dest::InA,
        (_, Cow::Owned(t)) if t.shape == out.shape => Dest::InB,
        _ => Dest::Fresh,
    };
    let n = out.shape.numel();
    let data = match dest {
        Dest::InA => {
            let mut v = into_f32_vec(a);
            let bv = f32s(&b);
            for_each_segment(dims, &sa, &sb, |s| {
                let o = &mut v[s.out..s.out + s.len];
                if s.sb == 1 {
                    o.iter_mut()
                        .zip(&bv[s.b..s.b + s.len])
                        .for_each(|(x, &y)| *x = f(*x, y));
                } else {
                    let y = bv[s.b];
                    o.iter_mut().for_each(|x| *x = f(*x, y));
                }
            });
            v
        }
        Dest::InB => {
            let mut v = into_f32_vec(b);
            let av = f32s(&a);
            for_each_segment(dims, &sa, &sb, |s| {
                let o = &mut v[s.out..s.out + s.len];
                if s.sa == 1 {
                    o.iter_mut()
                        .zip(&av[s.a..s.a + s.len])
                        .for_each(|(y, &x)| *y = f(x, *y));
                } else {
                    let x = av[s.a];
                    o.iter_mut().for_each(|y| *y = f(x, *y));
                }
            });
            v
        }
        Dest::Fresh => {
            let mut v = vec![0.0f32; n];
            let (av, bv) = (f32s(&a), f32s(&b));
            for_each_segment(dims, &sa, &sb, |s| {
                let o = &mut v[s.out..s.out + s.len];
                match (s.sa, s.sb) {
                    (1, 1) => o
                        .iter_mut()
                        .zip(av[s.a..s.a + s.len].iter().zip(&bv[s.b..s.b + s.len]))
                        .for_each(|(z, (&x, &y))| *z = f(x, y)),
                    (1, _) => {
                        let y = bv[s.b];
                        o.iter_mut()
                            .zip(&av[s.a..s.a + s.len])
                            .for_each(|(z, &x)| *z = f(x, y));
                    }
                    (_, 1) => {
                        let x = av[s.a];
                        o.iter_mut()
                            .zip(&bv[s.b..s.b + s.len])
                            .for_each(|(z, &y)| *z = f(x, y));
                    }
                    _ => o.fill(f(av[s.a], bv[s.b])),
                }
            });
            v
        }
    };
    Ok(tensor(out, data))
}

/// Add, Sub, Mul, Div and PRelu (slope broadcast onto `x`).
pub(super) fn binary(
    op: &Op,
    args: Vec<Cow<'_, Tensor>>,
    out: &TensorType,
) -> InterpResult<Tensor> {
    let name = op.mnemonic();
    match op {
        Op::Add => broadcast_binary(name, args, out, |x, y| x + y),
        Op::Sub => broadcast_binary(name, args, out, |x, y| x - y),
        Op::Mul => broadcast_binary(name, args, out, |x, y| x * y),
        Op::Div => broadcast_binary(name, args, out, |x, y| x / y),
        Op::PRelu => {
            arity(name, &args, 2, 2)?;
            ensure(args[0].shape == out.shape, name, || {
                format!(
                    "x shape {} differs from result shape {}",
                    args[0].shape, out.shape
                )
            })?;
            broadcast_binary(name, args, out, |x, s| if x < 0.0 { s * x } else { x })
        }
        Op::Input
        | Op::Const(_)
        | Op::Conv(_)
        | Op::ConvTranspose(_)
        | Op::Gemm(_)
        | Op::MatMul
        | Op::BatchNorm(_)
        | Op::Relu
        | Op::LeakyRelu(_)
        | Op::Clip(_)
        | Op::Sigmoid
        | Op::HardSigmoid(_)
        | Op::HardSwish
        | Op::Tanh
        | Op::Softmax(_)
        | Op::MaxPool(_)
        | Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::ReduceMean(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Slice(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Pad(_)
        | Op::Resize(_)
        | Op::Quantize
        | Op::Dequantize
        | Op::ConvInt(_)
        | Op::ConvTransposeInt(_)
        | Op::GemmInt(_)
        | Op::MatMulInt
        | Op::Requant(_)
        | Op::AddInt(_)
        | Op::MulInt(_)
        | Op::AvgPoolInt(_)
        | Op::Lut(_)
        | Op::SoftmaxInt(_)
        | Op::ResizeInt(_) => Err(super::invalid(name, "not a binary elementwise op")),
    }
}

/// Inference batch normalization over axis 1: `(x - mean) / sqrt(var + eps) * scale + bias`.
pub(super) fn batch_norm(
    a: &BatchNormAttrs,
    args: Vec<Cow<'_, Tensor>>,
    out: &TensorType,
) -> InterpResult<Tensor> {
    let name = "batch_norm";
    arity(name, &args, 5, 5)?;
    let dims = args[0].shape.dims().to_vec();
    ensure(dims.len() >= 2 && args[0].shape == out.shape, name, || {
        format!(
            "x shape {} must have rank >= 2 and equal the result shape {}",
            args[0].shape, out.shape
        )
    })?;
    let c = dims[1];
    for (i, p) in args[1..].iter().enumerate() {
        ensure(p.shape.dims() == [c], name, || {
            format!("parameter {} has shape {}, expected [{c}]", i + 1, p.shape)
        })?;
    }
    let (scale, bias, mean, var) = (
        f32s(&args[1]),
        f32s(&args[2]),
        f32s(&args[3]),
        f32s(&args[4]),
    );
    let mul: Vec<f32> = (0..c)
        .map(|i| scale[i] / (var[i] + a.epsilon).sqrt())
        .collect();
    let add: Vec<f32> = (0..c).map(|i| bias[i] - mean[i] * mul[i]).collect();
    let inner: usize = dims[2..].iter().product();
    let mut v = into_f32_vec(args.into_iter().next().expect("arity"));
    if inner > 0 {
        for (i, plane) in v.chunks_mut(inner).enumerate() {
            let (m, b) = (mul[i % c], add[i % c]);
            plane.iter_mut().for_each(|x| *x = *x * m + b);
        }
    }
    Ok(tensor(out, v))
}

/// Softmax along one axis, shifted by the maximum for stability.
pub(super) fn softmax(
    a: &SoftmaxAttrs,
    args: Vec<Cow<'_, Tensor>>,
    out: &TensorType,
) -> InterpResult<Tensor> {
    let name = "softmax";
    arity(name, &args, 1, 1)?;
    let dims = args[0].shape.dims().to_vec();
    ensure(
        a.axis < dims.len() && args[0].shape == out.shape,
        name,
        || {
            format!(
                "axis {} invalid for shape {} (result {})",
                a.axis, args[0].shape, out.shape
            )
        },
    )?;
    let n = dims[a.axis];
    let inner: usize = dims[a.axis + 1..].iter().product();
    let mut v = into_f32_vec(args.into_iter().next().expect("arity"));
    if n == 0 || inner == 0 {
        return Ok(tensor(out, v));
    }
    for block in v.chunks_mut(n * inner) {
        for j in 0..inner {
            let max = (0..n)
                .map(|i| block[i * inner + j])
                .fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f32;
            for i in 0..n {
                let e = (block[i * inner + j] - max).exp();
                block[i * inner + j] = e;
                sum += e;
            }
            let inv = 1.0 / sum;
            for i in 0..n {
                block[i * inner + j] *= inv;
            }
        }
    }
    Ok(tensor(out, v))
}
