//! The quantization boundary (Quantize, Dequantize) and integer tensor access shared by both
//! interpreters.
//!
//! Quantize and Dequantize run in the float interpreter too, so a Qdq-phase ("fake
//! quantized") graph executes with integer tensors flowing between them. Both use exactly
//! [`crate::arith::quantize`] (with the compile-time [`crate::arith::reciprocal`]) and
//! [`crate::arith::dequantize`], per tensor or per channel of the quantized axis.

use super::{InterpResult, ensure, invalid};
use crate::arith;
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, QuantGranularity, QuantParams, TensorType};

/// The elements of an integer tensor widened to i32 (every integer storage fits).
pub(crate) fn int_values(op: &'static str, t: &Tensor) -> InterpResult<Vec<i32>> {
    Ok(match &t.data {
        TensorData::I32(v) => v.clone(),
        TensorData::I16(v) => v.iter().map(|&x| i32::from(x)).collect(),
        TensorData::I8(v) => v.iter().map(|&x| i32::from(x)).collect(),
        TensorData::U8(v) => v.iter().map(|&x| i32::from(x)).collect(),
        TensorData::F32(_) => {
            return Err(invalid(op, "expected an integer operand, got f32"));
        }
    })
}

/// An integer tensor of type `ty` holding `v`; every value must fit the element type.
pub(crate) fn int_tensor(op: &'static str, ty: &TensorType, v: Vec<i32>) -> InterpResult<Tensor> {
    let (lo, hi) = ty
        .dtype
        .int_range()
        .ok_or_else(|| invalid(op, "expected an integer result type, got f32"))?;
    if let Some(x) = v.iter().find(|&&x| !(lo..=hi).contains(&i64::from(x))) {
        return Err(invalid(
            op,
            format!("value {x} does not fit the result type {}", ty.dtype),
        ));
    }
    ensure(v.len() == ty.shape.numel(), op, || {
        format!("{} values for result shape {}", v.len(), ty.shape)
    })?;
    // The range check above makes every narrowing below exact.
    let data = match ty.dtype {
        DType::F32 => return Err(invalid(op, "expected an integer result type, got f32")),
        DType::I32 => TensorData::I32(v),
        DType::I16 => TensorData::I16(v.into_iter().map(|x| x as i16).collect()),
        DType::I8 | DType::I4 => TensorData::I8(v.into_iter().map(|x| x as i8).collect()),
        DType::U8 | DType::U4 => TensorData::U8(v.into_iter().map(|x| x as u8).collect()),
    };
    Ok(Tensor {
        dtype: ty.dtype,
        shape: ty.shape.clone(),
        data,
    })
}

/// The quantization parameters of a type, or an error naming what lacks them.
pub(crate) fn quant_of<'t>(
    op: &'static str,
    what: &str,
    t: &'t TensorType,
) -> InterpResult<&'t QuantParams> {
    t.quant
        .as_ref()
        .ok_or_else(|| invalid(op, format!("{what} has no quantization parameters")))
}

/// Per element `i` of a tensor of `dims`, the `(scale, zero point)` that applies: the
/// single pair, or the pair of `i`'s index along the quantized axis.
pub(crate) struct Channels<'q> {
    q: &'q QuantParams,
    /// Elements after the axis (1 for per-tensor).
    inner: usize,
    /// Size of the axis (1 for per-tensor).
    len: usize,
}

impl<'q> Channels<'q> {
    /// Checks the parameters against the shape.
    pub(crate) fn new(op: &'static str, q: &'q QuantParams, dims: &[usize]) -> InterpResult<Self> {
        match &q.granularity {
            QuantGranularity::PerTensor { .. } => Ok(Channels {
                q,
                inner: 1,
                len: 1,
            }),
            QuantGranularity::PerAxis {
                axis,
                scales,
                zero_points,
            } => {
                ensure(
                    *axis < dims.len()
                        && scales.len() == dims[*axis]
                        && zero_points.len() == dims[*axis],
                    op,
                    || format!("per-axis parameters along axis {axis} do not fit {dims:?}"),
                )?;
                Ok(Channels {
                    q,
                    inner: dims[axis + 1..].iter().product(),
                    len: dims[*axis],
                })
            }
        }
    }

    /// The channel of element `i`.
    pub(crate) fn channel(&self, i: usize) -> usize {
        if self.len <= 1 {
            0
        } else {
            (i / self.inner) % self.len
        }
    }

    /// `(scale, zero point)` of element `i`.
    pub(crate) fn at(&self, i: usize) -> (f32, i32) {
        let c = self.channel(i);
        (self.q.scale(c), self.q.zero_point(c))
    }
}

/// The `[qmin, qmax]` of a quantized type (its bit width, signed like its storage).
pub(crate) fn qrange(
    op: &'static str,
    t: &TensorType,
    q: &QuantParams,
) -> InterpResult<(i32, i32)> {
    let (lo, hi) = t
        .dtype
        .quant_range(q.bits)
        .ok_or_else(|| invalid(op, "quantized type must be an integer type"))?;
    Ok((lo as i32, hi as i32))
}

/// `q = clamp(round_half_even(x * (1/s)) + zp, qmin, qmax)` with the result type's
/// parameters.
pub(crate) fn quantize(x: &Tensor, out: &TensorType) -> InterpResult<Tensor> {
    let op = "quantize";
    let xs = x
        .as_f32()
        .ok_or_else(|| invalid(op, format!("operand must be f32, got {}", x.dtype)))?;
    ensure(x.shape == out.shape, op, || {
        format!(
            "operand shape {} differs from result {}",
            x.shape, out.shape
        )
    })?;
    let q = quant_of(op, "the result type", out)?;
    let (qmin, qmax) = qrange(op, out, q)?;
    let ch = Channels::new(op, q, out.shape.dims())?;
    let v = xs
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let (s, zp) = ch.at(i);
            arith::quantize(x, arith::reciprocal(s), zp, qmin, qmax)
        })
        .collect();
    int_tensor(op, out, v)
}

/// `x = (q - zp) * s` with the operand type's parameters.
pub(crate) fn dequantize(q: &Tensor, q_ty: &TensorType, out: &TensorType) -> InterpResult<Tensor> {
    let op = "dequantize";
    let qs = int_values(op, q)?;
    ensure(out.dtype == DType::F32 && q.shape == out.shape, op, || {
        format!(
            "result type {}{} is not f32{}",
            out.dtype, out.shape, q.shape
        )
    })?;
    let params = quant_of(op, "the operand type", q_ty)?;
    let ch = Channels::new(op, params, q.shape.dims())?;
    let v = qs
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let (s, zp) = ch.at(i);
            arith::dequantize(x, s, zp)
        })
        .collect();
    Ok(Tensor::from_f32(out.shape.clone(), v))
}
