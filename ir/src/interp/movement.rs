//! Data movement on integer tensors (Concat, Split, Slice, Reshape, Transpose, Pad, Resize
//! nearest, MaxPool), reusing the float kernels so each op has one implementation.
//!
//! Pure copies are run by *index tracing*: every operand element is replaced by its index
//! (an f32, exact below 2^24), the float kernel moves the indices, and the result picks the
//! integer elements by index. Pad's constant fill is traced as -1 and filled with
//! `PadAttrs::value`, which on integer tensors is the stored integer itself (e.g. the zero
//! point for real 0) and must be an integer of the element type's range. MaxPool compares,
//! so it runs on the values converted to f32, which is exact for integers up to 2^24 in
//! magnitude (every 8- and 16-bit type; larger i32 values are an error).

use super::qdq::{int_tensor, int_values};
use super::{InterpResult, ensure, invalid};
use crate::ops::{Op, PadAttrs, ResizeMode};
use crate::tensor::Tensor;
use crate::types::{DType, TensorType};
use std::borrow::Cow;

/// Integers and indices below this are exact in f32.
const F32_EXACT: usize = 1 << 24;

/// Runs the data-movement `op` on integer operands; `float` runs the f32 kernel of an op.
pub(super) fn run_int(
    op: &Op,
    args: &[Cow<'_, Tensor>],
    out: &[TensorType],
    float: impl FnOnce(&Op, Vec<Cow<'_, Tensor>>, &[TensorType]) -> InterpResult<Vec<Tensor>>,
) -> InterpResult<Vec<Tensor>> {
    let name = op.mnemonic();
    ensure(!args.is_empty(), name, || "needs a data operand".into())?;
    let dtype = args[0].dtype;
    // Concat moves every operand; the others move operand 0 (extra ONNX operands such as
    // Reshape's shape tensor may remain and are passed through untouched).
    let data_args = if matches!(op, Op::Concat(_)) {
        args.len()
    } else {
        1
    };
    for (i, a) in args[..data_args].iter().enumerate() {
        ensure(a.dtype == dtype, name, || {
            format!("operand {i} is {}, operand 0 is {dtype}", a.dtype)
        })?;
    }
    for t in out {
        ensure(t.dtype == dtype, name, || {
            format!(
                "result type {} differs from the operand type {dtype}",
                t.dtype
            )
        })?;
    }
    let float_out: Vec<TensorType> = out
        .iter()
        .map(|t| TensorType::f32(t.shape.clone()))
        .collect();
    let values: Vec<Vec<i32>> = args[..data_args]
        .iter()
        .map(|a| int_values(name, a))
        .collect::<InterpResult<_>>()?;

    if let Op::MaxPool(_) = op {
        let x = &values[0];
        ensure(
            x.iter().all(|&v| v.unsigned_abs() as usize <= F32_EXACT),
            name,
            || "integer max pool needs values within +-2^24".into(),
        )?;
        let xf = Tensor::from_f32(args[0].shape.clone(), x.iter().map(|&v| v as f32).collect());
        let res = float(op, vec![Cow::Owned(xf)], &float_out)?;
        return res
            .iter()
            .zip(out)
            .map(|(r, t)| {
                let v = r
                    .as_f32()
                    .unwrap_or(&[])
                    .iter()
                    .map(|&f| f as i32)
                    .collect();
                int_tensor(name, t, v)
            })
            .collect();
    }

    // Index tracing.
    let fill = match op {
        Op::Pad(a) => Some(pad_fill(a, dtype)?),
        Op::Resize(a) if a.mode == ResizeMode::Linear => {
            return Err(invalid(
                name,
                "linear resize of an integer tensor needs `resize_int`",
            ));
        }
        _ => None,
    };
    let total: usize = values.iter().map(Vec::len).sum();
    ensure(total < F32_EXACT, name, || {
        format!("integer data movement supports fewer than 2^24 elements, got {total}")
    })?;
    let mut traced_args: Vec<Cow<'_, Tensor>> = Vec::with_capacity(args.len());
    let mut base = 0usize;
    for (i, a) in args.iter().enumerate() {
        if i < data_args {
            let n = values[i].len();
            let idx = (base..base + n).map(|k| k as f32).collect();
            traced_args.push(Cow::Owned(Tensor::from_f32(a.shape.clone(), idx)));
            base += n;
        } else {
            traced_args.push(Cow::Borrowed(&**a));
        }
    }
    let all: Vec<i32> = values.concat();
    let traced_op = match op {
        Op::Pad(a) => Op::Pad(PadAttrs {
            value: -1.0,
            ..a.clone()
        }),
        other => other.clone(),
    };
    let res = float(&traced_op, traced_args, &float_out)?;
    res.iter()
        .zip(out)
        .map(|(r, t)| {
            let v = r
                .as_f32()
                .unwrap_or(&[])
                .iter()
                .map(|&f| {
                    if f < 0.0 {
                        fill.ok_or_else(|| invalid(name, "traced a fill without padding"))
                    } else {
                        all.get(f as usize)
                            .copied()
                            .ok_or_else(|| invalid(name, "traced index out of range"))
                    }
                })
                .collect::<InterpResult<Vec<i32>>>()?;
            int_tensor(name, t, v)
        })
        .collect()
}

/// The integer fill of a constant pad on an integer tensor.
fn pad_fill(a: &PadAttrs, dtype: DType) -> InterpResult<i32> {
    let (lo, hi) = dtype.int_range().unwrap_or((0, 0));
    let v = a.value;
    if v.fract() != 0.0 || !(lo as f32..=hi as f32).contains(&v) || v.is_nan() {
        return Err(invalid(
            "pad",
            format!("pad value {v} is not an integer of {dtype}"),
        ));
    }
    Ok(v as i32)
}
