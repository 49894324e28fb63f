//! Type invariants of each node's results (shape size, quantization parameters) and of
//! constant tensors.

use super::{Loc, Sink};
use crate::entities::NodeId;
use crate::graph::Graph;
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::types::{DType, QuantGranularity, QuantParams, TensorType};

/// Checks the types of `n`'s results and, for a constant, its tensor.
pub(super) fn check_node(g: &Graph, n: NodeId, sink: &mut Sink) {
    let node = g.node(n);
    for (i, &v) in node.outputs.iter().enumerate() {
        let prefix = if node.outputs.len() == 1 {
            String::new()
        } else {
            format!("result {i}: ")
        };
        for m in type_errors(&g.value(v).ty) {
            sink.error(Loc::Node(n), format!("{prefix}{m}"));
        }
    }
    if let Op::Const(c) = &node.op {
        let out = node.outputs.first().map(|&v| g.ty(v));
        for m in const_errors(&c.value, out) {
            sink.error(Loc::Node(n), m);
        }
    }
}

/// The integer range of `bits`-wide values, signed like `dtype`.
pub(super) fn quant_range(dtype: DType, bits: u32) -> (i64, i64) {
    dtype.quant_range(bits).unwrap_or((i64::MIN, i64::MAX))
}

fn is_pow2(s: f32) -> bool {
    s > 0.0 && s.is_finite() && {
        let bits = s.to_bits();
        let (exp, mant) = (bits >> 23, bits & 0x7f_ffff);
        if exp == 0 {
            mant.is_power_of_two()
        } else {
            mant == 0
        }
    }
}

/// Problems with a tensor type, as messages.
pub(super) fn type_errors(t: &TensorType) -> Vec<String> {
    let mut errs = Vec::new();
    if t.shape.checked_numel().is_none() {
        errs.push(format!("shape {} overflows the element count", t.shape));
    }
    let Some(q) = &t.quant else {
        return errs;
    };
    if !t.dtype.is_int() {
        errs.push(format!(
            "quantization parameters on non-integer type {}",
            t.dtype
        ));
        return errs;
    }
    quant_errors(t, q, &mut errs);
    errs
}

fn quant_errors(t: &TensorType, q: &QuantParams, errs: &mut Vec<String>) {
    let storage = t.dtype.bits();
    if q.bits == 0 || q.bits > storage {
        errs.push(format!(
            "quantized bit width {} must be between 1 and the {storage} bits of {}",
            q.bits, t.dtype
        ));
    }
    let (lo, hi) = quant_range(t.dtype, q.bits);
    let scale_zp = |s: f32, z: i32, errs: &mut Vec<String>| {
        if !(s.is_finite() && s > 0.0) {
            errs.push(format!("scale {s:?} must be positive and finite"));
        } else if q.pow2 && !is_pow2(s) {
            errs.push(format!("pow2 scale {s:?} is not a power of two"));
        }
        if !(lo..=hi).contains(&(z as i64)) {
            errs.push(format!(
                "zero point {z} out of range [{lo}, {hi}] for {}-bit {}",
                q.bits, t.dtype
            ));
        }
    };
    match &q.granularity {
        QuantGranularity::PerTensor { scale, zero_point } => {
            scale_zp(*scale, *zero_point, errs);
        }
        QuantGranularity::PerAxis {
            axis,
            scales,
            zero_points,
        } => {
            let r = t.shape.rank();
            match t.shape.dims().get(*axis) {
                None => errs.push(format!(
                    "quantization axis {axis} is out of range for rank {r}"
                )),
                Some(&d) => {
                    if scales.len() != d {
                        errs.push(format!("per-axis scale count {} != dim {d}", scales.len()));
                    }
                    if zero_points.len() != d {
                        errs.push(format!(
                            "per-axis zero point count {} != dim {d}",
                            zero_points.len()
                        ));
                    }
                }
            }
            // Report each kind of bad parameter once per type, not once per channel.
            let mut seen = Vec::new();
            for (&s, &z) in scales.iter().zip(zero_points) {
                let mut one = Vec::new();
                scale_zp(s, z, &mut one);
                for m in one {
                    let kind = m.split(' ').next().unwrap_or("").to_string();
                    if !seen.contains(&kind) {
                        seen.push(kind);
                        errs.push(m);
                    }
                }
            }
        }
    }
}

/// Problems with a constant tensor and its result type.
fn const_errors(t: &Tensor, out: Option<&TensorType>) -> Vec<String> {
    let mut errs = Vec::new();
    match t.shape.checked_numel() {
        Some(m) if m == t.numel() => {}
        Some(m) => errs.push(format!(
            "constant has {} elements but shape {} needs {m}",
            t.numel(),
            t.shape
        )),
        None => errs.push(format!("constant shape {} overflows", t.shape)),
    }
    if !t.data.fits(t.dtype) {
        errs.push(format!("constant storage cannot hold {} elements", t.dtype));
    } else if t.dtype.is_int() {
        let (lo, hi) = match out.and_then(|o| o.quant.as_ref().map(|q| (o.dtype, q.bits))) {
            Some((d, bits)) if d == t.dtype => quant_range(d, bits),
            _ => t.dtype.int_range().unwrap_or((i64::MIN, i64::MAX)),
        };
        if let Some(x) = (0..t.numel())
            .map(|i| t.data.get_i64(i))
            .find(|x| !(lo..=hi).contains(x))
        {
            errs.push(format!("constant element {x} out of range [{lo}, {hi}]"));
        }
    }
    if let Some(o) = out {
        if o.dtype != t.dtype {
            errs.push(format!(
                "constant element type {} differs from its result type {}",
                t.dtype, o.dtype
            ));
        }
        if o.shape != t.shape {
            errs.push(format!(
                "constant shape {} differs from its result shape {}",
                t.shape, o.shape
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_detection() {
        for s in [
            1.0f32,
            0.5,
            0.25,
            2.0,
            1024.0,
            f32::from_bits(1),
            f32::from_bits(0x0040_0000),
        ] {
            assert!(is_pow2(s), "{s:?}");
        }
        for s in [
            0.0f32,
            -0.5,
            0.3,
            3.0,
            f32::INFINITY,
            f32::NAN,
            f32::from_bits(3),
        ] {
            assert!(!is_pow2(s), "{s:?}");
        }
    }

    #[test]
    fn quant_ranges_follow_bits_and_signedness() {
        assert_eq!(quant_range(DType::I8, 4), (-8, 7));
        assert_eq!(quant_range(DType::U8, 4), (0, 15));
        assert_eq!(
            quant_range(DType::I32, 32),
            (i32::MIN as i64, i32::MAX as i64)
        );
        assert_eq!(quant_range(DType::U8, 9), (0, 255));
    }
}
