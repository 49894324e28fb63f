//! Converters for compute ops: convolutions, Gemm/MatMul, normalization, activations,
//! elementwise arithmetic, pooling and reductions.
//!
//! ONNX's shape-dependent attributes are resolved here (auto_pad to explicit pads, negative
//! axes, opset-dependent attribute-vs-input forms) so IR attributes are normalized.

use super::ctx::{Cx, R, Val};
use super::fold::list_attr_or_input;
use super::shapes::norm_axes;
use ir::{
    AvgPoolAttrs, BatchNormAttrs, ClipAttrs, ConvAttrs, ConvTransposeAttrs, GemmAttrs,
    HardSigmoidAttrs, LeakyReluAttrs, Op, PoolAttrs, ReduceAttrs, SoftmaxAttrs,
};

/// Spatial dims of a conv/pool input, checked to be 1 or 2.
fn spatial(cx: &Cx, x: &[usize]) -> R<usize> {
    match x.len() {
        3 | 4 => Ok(x.len() - 2),
        r => Err(cx.unsupported(format!(
            "{} on a rank-{r} input is not supported (qcc handles 1-d and 2-d, i.e. rank 3 or 4)",
            cx.op_type()
        ))),
    }
}

/// Resolves `auto_pad`/`pads` to explicit `[begin.., end..]` pads.
fn resolve_pads(cx: &Cx, input: &[usize], extent: &[usize], strides: &[usize]) -> R<Vec<usize>> {
    let k = input.len();
    let auto = cx.string_or("auto_pad", "NOTSET")?;
    match auto.as_str() {
        "NOTSET" | "" => {
            let pads = cx.sizes("pads", vec![0; 2 * k])?;
            if pads.len() != 2 * k {
                return Err(cx.attr_err(
                    "pads",
                    format!("has {} entries, expected {}", pads.len(), 2 * k),
                ));
            }
            Ok(pads)
        }
        "VALID" => Ok(vec![0; 2 * k]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut pads = vec![0; 2 * k];
            for i in 0..k {
                let out = input[i].div_ceil(strides[i]);
                let total = (out.saturating_sub(1) * strides[i])
                    .saturating_add(extent[i])
                    .saturating_sub(input[i]);
                let small = total / 2;
                let (b, e) = if auto == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
                pads[i] = b;
                pads[k + i] = e;
            }
            Ok(pads)
        }
        other => Err(cx.attr_err("auto_pad", format!("unknown value `{other}`"))),
    }
}

fn strides_dilations(cx: &Cx, k: usize) -> R<(Vec<usize>, Vec<usize>)> {
    let strides = cx.sizes("strides", vec![1; k])?;
    let dilations = cx.sizes("dilations", vec![1; k])?;
    for (name, v) in [("strides", &strides), ("dilations", &dilations)] {
        if v.len() != k || v.contains(&0) {
            return Err(cx.attr_err(name, format!("must have {k} positive entries, got {v:?}")));
        }
    }
    Ok((strides, dilations))
}

fn check_kernel_shape(cx: &Cx, w: &[usize]) -> R<()> {
    if let Some(ks) = cx.ints("kernel_shape")?
        && (ks.len() + 2 != w.len() || ks.iter().zip(&w[2..]).any(|(&a, &b)| a != b as i64))
    {
        return Err(cx.attr_err(
            "kernel_shape",
            format!("{ks:?} does not match the weight shape {w:?}"),
        ));
    }
    Ok(())
}

pub(crate) fn conv(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(2, 3)?;
    let x = cx.dims(0)?;
    let w = cx.dims(1)?;
    let k = spatial(cx, &x)?;
    if w.len() != x.len() {
        return Err(cx.invalid(format!(
            "weight has rank {} but the input has rank {}",
            w.len(),
            x.len()
        )));
    }
    check_kernel_shape(cx, &w)?;
    let (strides, dilations) = strides_dilations(cx, k)?;
    let extent: Vec<usize> = (0..k)
        .map(|i| {
            (w[2 + i].max(1) - 1)
                .saturating_mul(dilations[i])
                .saturating_add(1)
        })
        .collect();
    let pads = resolve_pads(cx, &x[2..], &extent, &strides)?;
    let group = usize::try_from(cx.int_or("group", 1)?)
        .map_err(|_| cx.attr_err("group", "must be positive"))?;
    let mut ins = vec![cx.ir(0)?, cx.ir(1)?];
    if cx.has_input(2) {
        ins.push(cx.ir(2)?);
    }
    let op = Op::Conv(ConvAttrs {
        strides,
        pads,
        dilations,
        group,
    });
    Ok(vec![cx.add1(op, ins)?])
}

pub(crate) fn conv_transpose(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(2, 3)?;
    let x = cx.dims(0)?;
    let w = cx.dims(1)?;
    let k = spatial(cx, &x)?;
    if w.len() != x.len() {
        return Err(cx.invalid(format!(
            "weight has rank {} but the input has rank {}",
            w.len(),
            x.len()
        )));
    }
    check_kernel_shape(cx, &w)?;
    let (strides, dilations) = strides_dilations(cx, k)?;
    let group = usize::try_from(cx.int_or("group", 1)?)
        .map_err(|_| cx.attr_err("group", "must be positive"))?;
    let mut output_padding = cx.sizes("output_padding", vec![0; k])?;
    if output_padding.len() != k {
        return Err(cx.attr_err("output_padding", format!("must have {k} entries")));
    }
    let extent: Vec<usize> = (0..k)
        .map(|i| {
            (w[2 + i].max(1) - 1)
                .saturating_mul(dilations[i])
                .saturating_add(1)
        })
        .collect();
    let auto = cx.string_or("auto_pad", "NOTSET")?;
    let output_shape = match cx.ints("output_shape")? {
        Some(s) => {
            // Either the spatial sizes or the full shape.
            let s = if s.len() == k + 2 { s[2..].to_vec() } else { s };
            if s.len() != k || s.iter().any(|&v| v <= 0) {
                return Err(cx.attr_err("output_shape", format!("must have {k} positive entries")));
            }
            Some(s.iter().map(|&v| v as usize).collect::<Vec<usize>>())
        }
        None if auto == "SAME_UPPER" || auto == "SAME_LOWER" => Some(
            (0..k)
                .map(|i| x[2 + i].saturating_mul(strides[i]))
                .collect(),
        ),
        None => None,
    };
    let pads = match output_shape {
        Some(target) => {
            let mut pads = vec![0; 2 * k];
            for i in 0..k {
                let full = strides[i]
                    .saturating_mul(x[2 + i].max(1) - 1)
                    .saturating_add(output_padding[i])
                    .saturating_add(extent[i])
                    .min(i64::MAX as usize) as i64;
                let total = full - target[i].min(i64::MAX as usize) as i64;
                if total < 0 {
                    // A larger requested output is zero padding at the end.
                    output_padding[i] = output_padding[i].saturating_add((-total) as usize);
                    continue;
                }
                let total = total as usize;
                let (b, e) = if auto == "SAME_UPPER" {
                    (total / 2, total - total / 2)
                } else {
                    (total - total / 2, total / 2)
                };
                pads[i] = b;
                pads[k + i] = e;
            }
            pads
        }
        None if auto == "VALID" => vec![0; 2 * k],
        None => {
            let pads = cx.sizes("pads", vec![0; 2 * k])?;
            if pads.len() != 2 * k {
                return Err(cx.attr_err("pads", format!("must have {} entries", 2 * k)));
            }
            pads
        }
    };
    let mut ins = vec![cx.ir(0)?, cx.ir(1)?];
    if cx.has_input(2) {
        ins.push(cx.ir(2)?);
    }
    let op = Op::ConvTranspose(ConvTransposeAttrs {
        strides,
        pads,
        dilations,
        group,
        output_padding,
    });
    Ok(vec![cx.add1(op, ins)?])
}

pub(crate) fn gemm(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(2, 3)?;
    let attrs = GemmAttrs {
        alpha: cx.float_or("alpha", 1.0)?,
        beta: cx.float_or("beta", 1.0)?,
        trans_a: cx.int_or("transA", 0)? != 0,
        trans_b: cx.int_or("transB", 0)? != 0,
    };
    let mut ins = vec![cx.ir(0)?, cx.ir(1)?];
    if cx.has_input(2) {
        ins.push(cx.ir(2)?);
    }
    Ok(vec![cx.add1(Op::Gemm(attrs), ins)?])
}

pub(crate) fn batch_norm(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(5, 5)?;
    if cx.int_or("training_mode", 0)? != 0 {
        return Err(cx.unsupported(
            "BatchNormalization in training mode is not supported (export the model in eval mode)",
        ));
    }
    if cx.int_or("spatial", 1)? == 0 && cx.dims(1)?.len() != 1 {
        return Err(cx.unsupported(
            "BatchNormalization with spatial=0 and per-activation parameters is not supported",
        ));
    }
    let epsilon = cx.float_or("epsilon", 1e-5)?;
    let ins = (0..5).map(|i| cx.ir(i)).collect::<R<Vec<_>>>()?;
    let y = cx.add1(Op::BatchNorm(BatchNormAttrs { epsilon }), ins)?;
    // Training outputs (running mean/var, saved stats) have no inference meaning.
    let mut outs = vec![y];
    for _ in 1..cx.node.output.len() {
        outs.push(Val::Absent(
            "a training-only output of BatchNormalization".into(),
        ));
    }
    Ok(outs)
}

/// Single-input activations.
pub(crate) fn unary(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(1, 1)?;
    let op = match cx.op_type() {
        "Relu" => Op::Relu,
        "Sigmoid" => Op::Sigmoid,
        "Tanh" => Op::Tanh,
        "HardSwish" => Op::HardSwish,
        "LeakyRelu" => Op::LeakyRelu(LeakyReluAttrs {
            alpha: cx.float_or("alpha", 0.01)?,
        }),
        "HardSigmoid" => Op::HardSigmoid(HardSigmoidAttrs {
            alpha: cx.float_or("alpha", 0.2)?,
            beta: cx.float_or("beta", 0.5)?,
        }),
        other => return Err(cx.invalid(format!("`{other}` is not a unary activation"))),
    };
    let x = cx.ir(0)?;
    Ok(vec![cx.add1(op, vec![x])?])
}

pub(crate) fn clip(cx: &mut Cx) -> R<Vec<Val>> {
    let (min, max) = if cx.opset < 11 {
        cx.expect_inputs(1, 1)?;
        (
            cx.float_or("min", f32::NEG_INFINITY)?,
            cx.float_or("max", f32::INFINITY)?,
        )
    } else {
        cx.expect_inputs(1, 3)?;
        let bound = |cx: &Cx, i: usize, what: &str, d: f32| -> R<f32> {
            match cx.opt_konst(i, what)? {
                None => Ok(d),
                Some(c) if c.len() == 1 => Ok(c.to_f32()[0]),
                Some(_) => Err(cx.invalid(format!("the {what} bound must be a scalar"))),
            }
        };
        (
            bound(cx, 1, "min", f32::NEG_INFINITY)?,
            bound(cx, 2, "max", f32::INFINITY)?,
        )
    };
    // ONNX computes min(max(x, min), max): with min > max every element becomes max.
    let min = if min > max { max } else { min };
    let x = cx.ir(0)?;
    Ok(vec![cx.add1(Op::Clip(ClipAttrs { min, max }), vec![x])?])
}

pub(crate) fn prelu(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(2, 2)?;
    let x = cx.ir(0)?;
    let s = cx.ir(1)?;
    Ok(vec![cx.add1(Op::PRelu, vec![x, s])?])
}

pub(crate) fn binary(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(2, 2)?;
    let op = match cx.op_type() {
        "Add" => Op::Add,
        "Sub" => Op::Sub,
        "Mul" => Op::Mul,
        "Div" => Op::Div,
        other => return Err(cx.invalid(format!("`{other}` is not a binary op"))),
    };
    if cx.int("broadcast")?.is_some() || cx.int("axis")?.is_some() {
        return Err(
            cx.unsupported("legacy broadcast/axis attributes (opset < 7) are not supported")
        );
    }
    let a = cx.ir(0)?;
    let b = cx.ir(1)?;
    Ok(vec![cx.add1(op, vec![a, b])?])
}

/// Variadic Sum as a chain of Adds (one input is the input itself).
pub(crate) fn sum(cx: &mut Cx) -> R<Vec<Val>> {
    let n = cx.num_inputs();
    if n == 0 || (0..n).any(|i| !cx.has_input(i)) {
        return Err(cx.invalid("Sum needs at least one input"));
    }
    let mut acc = cx.ir(0)?;
    for i in 1..n {
        let b = cx.ir(i)?;
        acc = cx.add(Op::Add, vec![acc, b])?[0];
    }
    Ok(vec![Val::Ir(acc)])
}

pub(crate) fn matmul(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(2, 2)?;
    let a = cx.ir(0)?;
    let b = cx.ir(1)?;
    Ok(vec![cx.add1(Op::MatMul, vec![a, b])?])
}

/// Softmax; before opset 13 the input is flattened to 2-d at `axis`, so unless `axis` is the
/// last dim it is emitted as Reshape -> Softmax -> Reshape.
pub(crate) fn softmax(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(1, 1)?;
    let dims = cx.dims(0)?;
    let r = dims.len();
    let legacy = cx.opset < 13;
    let axis_attr = cx.int_or("axis", if legacy { 1 } else { -1 })?;
    let x = cx.ir(0)?;
    if !legacy || r == 0 {
        let axis = cx.axis("axis", axis_attr, r)?;
        return Ok(vec![cx.add1(Op::Softmax(SoftmaxAttrs { axis }), vec![x])?]);
    }
    let axis = cx.axis("axis", axis_attr, r)?;
    if axis + 1 == r {
        return Ok(vec![cx.add1(Op::Softmax(SoftmaxAttrs { axis }), vec![x])?]);
    }
    let flat = vec![dims[..axis].iter().product(), dims[axis..].iter().product()];
    let f = cx.reshape(x, flat)?;
    let s = cx.add(Op::Softmax(SoftmaxAttrs { axis: 1 }), vec![f])?[0];
    let y = cx.reshape(s, dims)?;
    Ok(vec![Val::Ir(y)])
}

pub(crate) fn pool(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(1, 1)?;
    let op_type = cx.op_type().to_string();
    if op_type == "MaxPool" && cx.node.output.get(1).is_some_and(|s| !s.is_empty()) {
        return Err(cx.unsupported("MaxPool's Indices output is not supported"));
    }
    let x = cx.dims(0)?;
    let k = spatial(cx, &x)?;
    let kernel = if op_type == "GlobalMaxPool" {
        x[2..].to_vec()
    } else {
        let ks = cx.sizes("kernel_shape", vec![])?;
        if ks.len() != k || ks.contains(&0) {
            return Err(cx.attr_err(
                "kernel_shape",
                format!("must have {k} positive entries, got {ks:?}"),
            ));
        }
        ks
    };
    let (strides, dilations) = strides_dilations(cx, k)?;
    let extent: Vec<usize> = (0..k)
        .map(|i| {
            (kernel[i] - 1)
                .saturating_mul(dilations[i])
                .saturating_add(1)
        })
        .collect();
    let pads = resolve_pads(cx, &x[2..], &extent, &strides)?;
    let ceil_mode = cx.int_or("ceil_mode", 0)? != 0;
    let attrs = PoolAttrs {
        kernel,
        strides,
        pads,
        dilations,
        ceil_mode,
    };
    let op = if op_type == "AveragePool" {
        Op::AveragePool(AvgPoolAttrs {
            pool: attrs,
            count_include_pad: cx.int_or("count_include_pad", 0)? != 0,
        })
    } else {
        Op::MaxPool(attrs)
    };
    let xv = cx.ir(0)?;
    Ok(vec![cx.add1(op, vec![xv])?])
}

pub(crate) fn global_avg_pool(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(1, 1)?;
    let x = cx.ir(0)?;
    Ok(vec![cx.add1(Op::GlobalAveragePool, vec![x])?])
}

pub(crate) fn reduce_mean(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(1, 2)?;
    let r = cx.dims(0)?.len();
    let axes = list_attr_or_input(cx, "axes", 1, 18)?;
    let keepdims = cx.int_or("keepdims", 1)? != 0;
    let x = cx.ir(0)?;
    let axes = match axes {
        Some(a) if !a.is_empty() => norm_axes(&a, r).map_err(|m| cx.attr_err("axes", m))?,
        _ if cx.int_or("noop_with_empty_axes", 0)? != 0 => return Ok(vec![Val::Ir(x)]),
        _ => (0..r).collect(),
    };
    Ok(vec![cx.add1(
        Op::ReduceMean(ReduceAttrs { axes, keepdims }),
        vec![x],
    )?])
}
