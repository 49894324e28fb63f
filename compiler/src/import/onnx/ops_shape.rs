//! Converters for data-movement ops on runtime tensors: Reshape and its aliases (Flatten,
//! Squeeze, Unsqueeze become `Op::Reshape`), Transpose, Concat, Split, Slice, Pad, Resize
//! and Upsample, and the pass-through ops (Identity, Dropout).
//!
//! Their shape and axes operands must be import-time constants (folded by
//! [`super::fold`]); the opset-dependent attribute-vs-input forms are handled here.

use super::ctx::{Cx, R, Val};
use super::fold::list_attr_or_input;
use super::shapes::{
    flatten_dims, norm_axes, norm_axis, reshape_dims, slice_plan, squeeze_dims, unsqueeze_dims,
};
use ir::{
    ConcatAttrs, CoordMode, NearestMode, Op, PadAttrs, PadMode, ResizeAttrs, ResizeMode,
    SliceAttrs, SplitAttrs, TensorType, TransposeAttrs,
};

/// Identity and Dropout (inference): the output is the input; Dropout's mask is all true.
pub(crate) fn pass_through(cx: &mut Cx) -> R<Vec<Val>> {
    let v = cx.val(0)?;
    let mut outs = vec![v];
    if cx.node.output.len() > 1 {
        let dims = cx.dims(0)?;
        let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        outs.push(match n.filter(|&n| n <= super::fold::FOLD_CAP) {
            Some(n) => Val::Const(std::rc::Rc::new(super::tensor::CVal::bool(
                dims,
                vec![true; n],
            ))),
            None => Val::Absent("Dropout's mask output (too large to materialize)".into()),
        });
    }
    Ok(outs)
}

/// Gather with constant indices on a runtime tensor: one Slice per index along the axis,
/// a Concat when there are several, and a Reshape to the Gather's shape.
pub(crate) fn gather(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(2, 2)?;
    let dims = cx.dims(0)?;
    let axis = cx.axis("axis", cx.int_or("axis", 0)?, dims.len())?;
    let idx = cx.konst(1, "indices")?;
    let size = dims[axis] as i64;
    let picks: Vec<usize> = idx
        .to_i64()
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + size } else { i };
            if (0..size).contains(&j) {
                Ok(j as usize)
            } else {
                Err(cx.invalid(format!("index {i} is out of range for size {size}")))
            }
        })
        .collect::<R<_>>()?;
    if picks.is_empty() || picks.len() > 4096 {
        return Err(cx.unsupported(format!(
            "Gather of {} indices on a runtime tensor is not supported",
            picks.len()
        )));
    }
    let x = cx.ir(0)?;
    let base = cx.imp.g.ty(x).clone();
    let mut parts = Vec::with_capacity(picks.len());
    for &p in &picks {
        let mut starts = vec![0; dims.len()];
        starts[axis] = p;
        let mut shape = dims.clone();
        shape[axis] = 1;
        let ty = TensorType {
            shape: ir::Shape(shape),
            ..base.clone()
        };
        let op = Op::Slice(SliceAttrs {
            starts,
            steps: vec![1; dims.len()],
        });
        match cx.add_stated(op, vec![x], ty)? {
            Val::Ir(v) => parts.push(v),
            _ => return Err(cx.invalid("slice")),
        }
    }
    let joined = if parts.len() == 1 {
        parts[0]
    } else {
        cx.add(Op::Concat(ConcatAttrs { axis }), parts)?[0]
    };
    let mut out = dims[..axis].to_vec();
    out.extend(&idx.shape);
    out.extend(&dims[axis + 1..]);
    Ok(vec![Val::Ir(cx.reshape(joined, out)?)])
}

/// Reshape, Flatten, Squeeze, Unsqueeze on a runtime tensor.
pub(crate) fn reshape_like(cx: &mut Cx) -> R<Vec<Val>> {
    let dims = cx.dims(0)?;
    let bad = |cx: &Cx, m: String| cx.invalid(m);
    let out = match cx.op_type() {
        "Reshape" => {
            cx.expect_inputs(2, 2)?;
            let target = cx.konst(1, "shape")?.to_i64();
            let allowzero = cx.int_or("allowzero", 0)? != 0;
            reshape_dims(&dims, &target, allowzero).map_err(|m| bad(cx, m))?
        }
        "Flatten" => {
            cx.expect_inputs(1, 1)?;
            flatten_dims(&dims, cx.int_or("axis", 1)?).map_err(|m| cx.attr_err("axis", m))?
        }
        "Squeeze" => {
            cx.expect_inputs(1, 2)?;
            let axes = list_attr_or_input(cx, "axes", 1, 13)?;
            squeeze_dims(&dims, axes.as_deref()).map_err(|m| cx.attr_err("axes", m))?
        }
        _ => {
            cx.expect_inputs(1, 2)?;
            let axes = list_attr_or_input(cx, "axes", 1, 13)?
                .ok_or_else(|| cx.attr_err("axes", "is required"))?;
            unsqueeze_dims(&dims, &axes).map_err(|m| cx.attr_err("axes", m))?
        }
    };
    let x = cx.ir(0)?;
    let ty = TensorType {
        shape: ir::Shape(out),
        ..cx.imp.g.ty(x).clone()
    };
    Ok(vec![cx.add_stated(Op::Reshape, vec![x], ty)?])
}

pub(crate) fn transpose(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(1, 1)?;
    let r = cx.dims(0)?.len();
    let perm = match cx.ints("perm")? {
        Some(p) => p
            .iter()
            .map(|&a| norm_axis(a, r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| cx.attr_err("perm", m))?,
        None => (0..r).rev().collect(),
    };
    let x = cx.ir(0)?;
    Ok(vec![
        cx.add1(Op::Transpose(TransposeAttrs { perm }), vec![x])?,
    ])
}

pub(crate) fn concat(cx: &mut Cx) -> R<Vec<Val>> {
    let n = cx.num_inputs();
    if n == 0 {
        return Err(cx.invalid("Concat needs at least one input"));
    }
    let r = cx.dims(0)?.len();
    let axis = cx
        .int("axis")?
        .ok_or_else(|| cx.attr_err("axis", "is required"))?;
    let axis = cx.axis("axis", axis, r)?;
    let ins = (0..n).map(|i| cx.ir(i)).collect::<R<Vec<_>>>()?;
    Ok(vec![cx.add1(Op::Concat(ConcatAttrs { axis }), ins)?])
}

pub(crate) fn split(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(1, 2)?;
    let dims = cx.dims(0)?;
    let axis = cx.axis("axis", cx.int_or("axis", 0)?, dims.len())?;
    let d = dims[axis];
    let n_out = cx.node.output.len();
    let given = list_attr_or_input(cx, "split", 1, 13)?;
    let sizes: Vec<usize> = match given {
        Some(s) if !s.is_empty() => s
            .iter()
            .map(|&v| {
                usize::try_from(v).map_err(|_| cx.attr_err("split", format!("negative size {v}")))
            })
            .collect::<R<_>>()?,
        _ => {
            let parts = match cx.int("num_outputs")? {
                Some(p) if cx.opset >= 18 => usize::try_from(p)
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| cx.attr_err("num_outputs", "must be positive"))?,
                _ => n_out,
            };
            if parts == 0 || parts != n_out {
                return Err(cx.invalid(format!(
                    "Split gives {parts} parts but the node has {n_out} outputs"
                )));
            }
            if cx.opset >= 18 && cx.int("num_outputs")?.is_some() {
                // The last chunk is smaller when the size does not divide evenly.
                let chunk = d.div_ceil(parts);
                (0..parts)
                    .map(|i| chunk.min(d.saturating_sub(i * chunk)))
                    .collect()
            } else {
                if !d.is_multiple_of(parts) {
                    return Err(cx.invalid(format!(
                        "axis size {d} does not split evenly into {parts} outputs"
                    )));
                }
                vec![d / parts; parts]
            }
        }
    };
    if sizes.len() != n_out {
        return Err(cx.invalid(format!(
            "Split gives {} parts but the node has {n_out} outputs",
            sizes.len()
        )));
    }
    let x = cx.ir(0)?;
    let outs = cx.add(Op::Split(SplitAttrs { axis, sizes }), vec![x])?;
    Ok(outs.into_iter().map(Val::Ir).collect())
}

pub(crate) fn slice(cx: &mut Cx) -> R<Vec<Val>> {
    let dims = cx.dims(0)?;
    let (starts, ends, axes, steps) = if cx.opset >= 10 {
        cx.expect_inputs(3, 5)?;
        (
            cx.konst(1, "starts")?.to_i64(),
            cx.konst(2, "ends")?.to_i64(),
            cx.opt_konst(3, "axes")?.map(|c| c.to_i64()),
            cx.opt_konst(4, "steps")?.map(|c| c.to_i64()),
        )
    } else {
        cx.expect_inputs(1, 1)?;
        (
            cx.ints("starts")?
                .ok_or_else(|| cx.attr_err("starts", "is required"))?,
            cx.ints("ends")?
                .ok_or_else(|| cx.attr_err("ends", "is required"))?,
            cx.ints("axes")?,
            None,
        )
    };
    let p = slice_plan(&dims, &starts, &ends, axes.as_deref(), steps.as_deref())
        .map_err(|m| cx.invalid(m))?;
    let x = cx.ir(0)?;
    if p.sizes == dims && p.steps.iter().all(|&s| s == 1) {
        return Ok(vec![Val::Ir(x)]);
    }
    let ty = TensorType {
        shape: ir::Shape(p.sizes),
        ..cx.imp.g.ty(x).clone()
    };
    let op = Op::Slice(SliceAttrs {
        starts: p.starts,
        steps: p.steps,
    });
    Ok(vec![cx.add_stated(op, vec![x], ty)?])
}

pub(crate) fn pad(cx: &mut Cx) -> R<Vec<Val>> {
    let dims = cx.dims(0)?;
    let r = dims.len();
    let mode = match cx.string_or("mode", "constant")?.as_str() {
        "constant" => PadMode::Constant,
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        other => {
            return Err(cx.unsupported(format!(
                "Pad mode `{other}` is not supported (constant, reflect, edge are)"
            )));
        }
    };
    let (given, value, axes) = if cx.opset < 11 {
        cx.expect_inputs(1, 1)?;
        let p = cx
            .ints("pads")?
            .ok_or_else(|| cx.attr_err("pads", "is required"))?;
        (p, cx.float_or("value", 0.0)?, None)
    } else {
        cx.expect_inputs(2, 4)?;
        let p = cx.konst(1, "pads")?.to_i64();
        let v = match cx.opt_konst(2, "constant_value")? {
            Some(c) if c.len() == 1 => c.to_f32()[0],
            Some(_) => return Err(cx.invalid("constant_value must be a scalar")),
            None => 0.0,
        };
        let axes = match cx.opt_konst(3, "axes")? {
            Some(a) => Some(norm_axes(&a.to_i64(), r).map_err(|m| cx.invalid(m))?),
            None => None,
        };
        (p, v, axes)
    };
    let axes: Vec<usize> = axes.unwrap_or_else(|| (0..r).collect());
    if given.len() != 2 * axes.len() {
        return Err(cx.invalid(format!(
            "pads has {} entries, expected {}",
            given.len(),
            2 * axes.len()
        )));
    }
    let mut pads = vec![0i64; 2 * r];
    for (k, &a) in axes.iter().enumerate() {
        pads[a] = given[k];
        pads[r + a] = given[axes.len() + k];
    }
    let x = cx.ir(0)?;
    if pads.iter().all(|&p| p == 0) {
        return Ok(vec![Val::Ir(x)]);
    }
    Ok(vec![
        cx.add1(Op::Pad(PadAttrs { pads, mode, value }), vec![x])?,
    ])
}

/// Resize (10+) and Upsample (7-9).
pub(crate) fn resize(cx: &mut Cx) -> R<Vec<Val>> {
    let dims = cx.dims(0)?;
    let r = dims.len();
    let upsample = cx.op_type() == "Upsample";
    let mode_s = cx.string_or("mode", "nearest")?;
    let mode = match mode_s.as_str() {
        "nearest" => ResizeMode::Nearest,
        "linear" | "bilinear" => ResizeMode::Linear,
        other => {
            return Err(cx.unsupported(format!(
                "{} mode `{other}` is not supported (nearest and linear are)",
                cx.op_type()
            )));
        }
    };
    // Opset <= 10 (and Upsample): asymmetric coordinates, floor for nearest.
    let legacy = upsample || cx.opset < 11;
    let scales_given: Option<Vec<f32>>;
    let mut sizes_given: Option<Vec<usize>> = None;
    if upsample && cx.opset < 9 {
        cx.expect_inputs(1, 1)?;
        scales_given = Some(
            cx.floats("scales")?
                .ok_or_else(|| cx.attr_err("scales", "is required"))?,
        );
    } else if legacy {
        cx.expect_inputs(2, 2)?;
        scales_given = Some(cx.konst(1, "scales")?.to_f32());
    } else {
        cx.expect_inputs(1, 4)?;
        scales_given = cx
            .opt_konst(2, "scales")?
            .map(|c| c.to_f32())
            .filter(|s| !s.is_empty());
        sizes_given = match cx.opt_konst(3, "sizes")? {
            Some(c) if c.len() > 0 => Some(
                c.to_i64()
                    .iter()
                    .map(|&v| {
                        usize::try_from(v).map_err(|_| cx.invalid(format!("negative size {v}")))
                    })
                    .collect::<R<_>>()?,
            ),
            _ => None,
        };
    }
    let (coord, nearest) = if legacy {
        (CoordMode::Asymmetric, NearestMode::Floor)
    } else {
        let coord = match cx
            .string_or("coordinate_transformation_mode", "half_pixel")?
            .as_str()
        {
            "half_pixel" => CoordMode::HalfPixel,
            "pytorch_half_pixel" => CoordMode::PytorchHalfPixel,
            "align_corners" => CoordMode::AlignCorners,
            "asymmetric" => CoordMode::Asymmetric,
            "tf_half_pixel_for_nn" => CoordMode::TfHalfPixelForNn,
            other => {
                return Err(cx.unsupported(format!(
                    "Resize coordinate_transformation_mode `{other}` is not supported"
                )));
            }
        };
        let nearest = match cx.string_or("nearest_mode", "round_prefer_floor")?.as_str() {
            "round_prefer_floor" => NearestMode::RoundPreferFloor,
            "round_prefer_ceil" => NearestMode::RoundPreferCeil,
            "floor" => NearestMode::Floor,
            "ceil" => NearestMode::Ceil,
            other => return Err(cx.attr_err("nearest_mode", format!("unknown value `{other}`"))),
        };
        if cx.int_or("antialias", 0)? != 0 {
            return Err(cx.unsupported("Resize with antialias is not supported"));
        }
        if cx.int_or("exclude_outside", 0)? != 0 {
            return Err(cx.unsupported("Resize with exclude_outside is not supported"));
        }
        if cx.string_or("keep_aspect_ratio_policy", "stretch")? != "stretch" {
            return Err(cx.unsupported(
                "Resize keep_aspect_ratio_policy other than `stretch` is not supported",
            ));
        }
        (coord, nearest)
    };
    // Resize 18+ may name a subset of axes, in any order (scales/sizes follow that order).
    let axes: Vec<usize> = match cx.ints("axes")? {
        Some(a) => {
            norm_axes(&a, r).map_err(|m| cx.attr_err("axes", m))?;
            a.iter()
                .map(|&x| norm_axis(x, r))
                .collect::<Result<_, _>>()
                .map_err(|m| cx.attr_err("axes", m))?
        }
        None => (0..r).collect(),
    };
    let mut scales = vec![1.0f32; r];
    let mut out = dims.clone();
    match (scales_given, sizes_given) {
        (Some(_), Some(_)) => return Err(cx.invalid("Resize takes scales or sizes, not both")),
        (Some(s), None) => {
            if s.len() != axes.len() {
                return Err(cx.invalid(format!(
                    "scales has {} entries for {} axes",
                    s.len(),
                    axes.len()
                )));
            }
            for (k, &a) in axes.iter().enumerate() {
                if !(s[k].is_finite() && s[k] > 0.0) {
                    return Err(cx.invalid(format!("scale {} is not positive", s[k])));
                }
                scales[a] = s[k];
                let o = (dims[a] as f64 * s[k] as f64).floor();
                if o > super::tensor::MAX_ELEMENTS as f64 {
                    return Err(cx.invalid(format!("scale {} makes dim {a} too large", s[k])));
                }
                out[a] = o as usize;
            }
        }
        (None, Some(z)) => {
            if z.len() != axes.len() {
                return Err(cx.invalid(format!(
                    "sizes has {} entries for {} axes",
                    z.len(),
                    axes.len()
                )));
            }
            for (k, &a) in axes.iter().enumerate() {
                out[a] = z[k];
                scales[a] = if dims[a] == 0 {
                    1.0
                } else {
                    z[k] as f32 / dims[a] as f32
                };
            }
        }
        (None, None) => return Err(cx.invalid("Resize needs scales or sizes")),
    }
    if out
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .is_none_or(|n| n > super::tensor::MAX_ELEMENTS)
    {
        return Err(cx.invalid(format!("the output shape {out:?} is too large")));
    }
    let x = cx.ir(0)?;
    let ty = TensorType {
        shape: ir::Shape(out),
        ..cx.imp.g.ty(x).clone()
    };
    let op = Op::Resize(ResizeAttrs {
        mode,
        coord,
        nearest,
        scales,
    });
    Ok(vec![cx.add_stated(op, vec![x], ty)?])
}

/// Expand of a runtime tensor: supported only when it does not change the shape.
pub(crate) fn expand(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(2, 2)?;
    let dims = cx.dims(0)?;
    let target: Vec<usize> = cx
        .konst(1, "shape")?
        .to_i64()
        .iter()
        .map(|&d| d.max(0) as usize)
        .collect();
    let out = ir::infer::broadcast_shapes(&ir::Shape(dims.clone()), &ir::Shape(target))
        .map_err(|e| cx.invalid(e.to_string()))?;
    let x = cx.ir(0)?;
    if out.0 == dims {
        return Ok(vec![Val::Ir(x)]);
    }
    // Broadcasting is an Add of zeros of the output shape.
    let n = out.checked_numel().filter(|&n| n <= super::fold::FOLD_CAP);
    let n = n.ok_or_else(|| cx.unsupported(format!("Expand to {out} is too large")))?;
    let zeros = super::tensor::CVal::f32(out.0.clone(), vec![0.0; n]);
    let key = format!("{}/zeros", cx.name);
    let z = cx.materialize(&key, &zeros)?;
    Ok(vec![cx.add1(Op::Add, vec![x, z])?])
}
