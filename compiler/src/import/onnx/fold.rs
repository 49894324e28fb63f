//! The import-time constant evaluator.
//!
//! Exporters compute shapes at run time (`Shape -> Gather -> Unsqueeze -> Concat ->
//! Reshape`, PyTorch's flatten). Because every IR shape is static, those subgraphs are
//! evaluated here over i64/f32/bool constants and vanish from the IR. A node is evaluated
//! when all its inputs are constants and its op is one of [`FOLDABLE`]; `Shape` and `Size`
//! are always evaluated (shapes are static). Results are capped at [`FOLD_CAP`] elements.

use super::ctx::{Cx, R, Val};
use super::proto::tensor_proto::DataType;
use super::shapes::{
    bcast_index, flatten_dims, norm_axes, norm_axis, reshape_dims, slice_plan, squeeze_dims,
    unsqueeze_dims,
};
use super::tensor::{CData, CVal, decode};
use std::rc::Rc;

/// The most elements a folded constant may have: 2^27 (512 MiB of f32) fits the largest
/// weights of classic CNNs made by ConstantOfShape (VGG's fc6 has 102.8M) while keeping a
/// tiny hostile model from allocating more than about 1 GiB.
pub(crate) const FOLD_CAP: usize = 1 << 27;

/// Ops evaluated when all inputs are constants.
pub(crate) const FOLDABLE: &[&str] = &[
    "Identity",
    "Gather",
    "Slice",
    "Concat",
    "Cast",
    "Range",
    "ConstantOfShape",
    "Expand",
    "Squeeze",
    "Unsqueeze",
    "Reshape",
    "Flatten",
    "Transpose",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Min",
    "Max",
    "Mod",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "And",
    "Or",
    "Not",
    "Where",
    "Floor",
    "Ceil",
    "Neg",
    "Abs",
    "Sqrt",
    "Reciprocal",
    "Round",
    "Relu",
    "Sigmoid",
    "Tanh",
];

/// Ops that only exist as import-time computations (an error when an input is a runtime
/// tensor).
pub(crate) const FOLD_ONLY: &[&str] = &[
    "Gather",
    "Cast",
    "Range",
    "ConstantOfShape",
    "Expand",
    "Pow",
    "Min",
    "Max",
    "Mod",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "And",
    "Or",
    "Not",
    "Where",
    "Floor",
    "Ceil",
    "Neg",
    "Abs",
    "Sqrt",
    "Reciprocal",
    "Round",
];

/// An axes-like list that moved from an attribute to an input at opset `since`.
pub(crate) fn list_attr_or_input(
    cx: &Cx,
    attr: &str,
    input: usize,
    since: i64,
) -> R<Option<Vec<i64>>> {
    if cx.opset >= since {
        if cx.attr(attr).is_some() {
            return Err(cx.attr_err(
                attr,
                format!("is an input since opset {since}, not an attribute"),
            ));
        }
        Ok(cx.opt_konst(input, attr)?.map(|c| c.to_i64()))
    } else {
        cx.ints(attr)
    }
}

fn cap(cx: &Cx, shape: &[usize]) -> R<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= FOLD_CAP)
        .ok_or_else(|| {
            cx.unsupported(format!(
                "the constant result of shape {shape:?} is larger than {FOLD_CAP} elements"
            ))
        })
}

fn take(d: &CData, idx: &[usize]) -> CData {
    match d {
        CData::F32(v) => CData::F32(idx.iter().map(|&i| v[i]).collect()),
        CData::I64(v) => CData::I64(idx.iter().map(|&i| v[i]).collect()),
        CData::Bool(v) => CData::Bool(idx.iter().map(|&i| v[i]).collect()),
    }
}

fn with_shape(c: &CVal, shape: Vec<usize>) -> CVal {
    CVal {
        shape,
        data: c.data.clone(),
        elem: c.elem,
    }
}

/// Row-major walk over `shape`, mapping each multi-index to a source index.
fn walk(shape: &[usize], mut f: impl FnMut(&[usize]) -> usize) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut idx = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(f(&idx));
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

fn strides(shape: &[usize]) -> Vec<usize> {
    ir::Shape(shape.to_vec()).strides()
}

/// Evaluates a `Constant` node.
pub(crate) fn constant(cx: &Cx) -> R<Vec<Val>> {
    let c = if let Some(t) = cx.tensor("value")? {
        decode(t, cx.imp.base_dir.as_deref()).map_err(|e| match e {
            super::error::ErrorKind::Tensor { name, message, .. } => {
                super::error::ErrorKind::Tensor {
                    node: Some(cx.idx),
                    name,
                    message,
                }
            }
            other => other,
        })?
    } else if cx.attr("value_float").is_some() {
        CVal::f32(vec![], vec![cx.float_or("value_float", 0.0)?])
    } else if let Some(v) = cx.floats("value_floats")? {
        CVal::f32(vec![v.len()], v)
    } else if let Some(v) = cx.int("value_int")? {
        CVal::i64(vec![], vec![v])
    } else if let Some(v) = cx.ints("value_ints")? {
        CVal::i64(vec![v.len()], v)
    } else {
        let which = cx
            .node
            .attribute
            .first()
            .map_or("none", |a| a.name.as_str());
        return Err(cx.unsupported(format!(
            "Constant with attribute `{which}` is not supported (value, value_float(s), value_int(s) are)"
        )));
    };
    Ok(vec![Val::Const(Rc::new(c))])
}

/// `Shape` and `Size` of any value.
pub(crate) fn shape_of(cx: &Cx) -> R<Vec<Val>> {
    cx.expect_inputs(1, 1)?;
    let dims: Vec<i64> = cx.dims(0)?.iter().map(|&d| d as i64).collect();
    if cx.op_type() == "Size" {
        return Ok(vec![Val::Const(Rc::new(CVal::i64(
            vec![],
            vec![dims.iter().product()],
        )))]);
    }
    let r = dims.len() as i64;
    let clamp = |v: i64| if v < 0 { (v + r).max(0) } else { v.min(r) } as usize;
    let start = clamp(cx.int_or("start", 0)?);
    let end = clamp(cx.int_or("end", r)?);
    let sel: Vec<i64> = if start < end {
        dims[start..end].to_vec()
    } else {
        vec![]
    };
    Ok(vec![Val::Const(Rc::new(CVal::i64(vec![sel.len()], sel)))])
}

/// Evaluates a foldable op whose inputs are all constants.
pub(crate) fn eval(cx: &Cx) -> R<Vec<Val>> {
    let n = cx.node.input.len();
    let ins: Vec<Option<Rc<CVal>>> = (0..n)
        .map(|i| cx.opt_konst(i, "operand"))
        .collect::<R<_>>()?;
    let arg = |i: usize| -> R<&CVal> {
        ins.get(i)
            .and_then(|c| c.as_deref())
            .ok_or_else(|| cx.invalid(format!("input {i} is required")))
    };
    let bad = |m: String| cx.invalid(m);
    let op = cx.op_type();
    let out = match op {
        "Identity" => arg(0)?.clone(),
        "Gather" => {
            let (d, ix) = (arg(0)?, arg(1)?);
            let axis = cx.axis("axis", cx.int_or("axis", 0)?, d.shape.len())?;
            let size = d.shape[axis] as i64;
            let idx: Vec<usize> = ix
                .to_i64()
                .iter()
                .map(|&i| {
                    let j = if i < 0 { i + size } else { i };
                    if (0..size).contains(&j) {
                        Ok(j as usize)
                    } else {
                        Err(bad(format!("index {i} is out of range for size {size}")))
                    }
                })
                .collect::<R<_>>()?;
            let mut shape = d.shape[..axis].to_vec();
            shape.extend(&ix.shape);
            shape.extend(&d.shape[axis + 1..]);
            cap(cx, &shape)?;
            let outer: usize = d.shape[..axis].iter().product();
            let inner: usize = d.shape[axis + 1..].iter().product();
            let mut src = Vec::with_capacity(outer * idx.len() * inner);
            for o in 0..outer {
                for &j in &idx {
                    for k in 0..inner {
                        src.push((o * d.shape[axis] + j) * inner + k);
                    }
                }
            }
            CVal {
                shape,
                data: take(&d.data, &src),
                elem: d.elem,
            }
        }
        "Slice" => {
            let d = arg(0)?;
            let (starts, ends, axes, steps) = if cx.opset >= 10 {
                (
                    arg(1)?.to_i64(),
                    arg(2)?.to_i64(),
                    ins.get(3).and_then(|c| c.as_ref()).map(|c| c.to_i64()),
                    ins.get(4).and_then(|c| c.as_ref()).map(|c| c.to_i64()),
                )
            } else {
                (
                    cx.ints("starts")?
                        .ok_or_else(|| cx.attr_err("starts", "is required"))?,
                    cx.ints("ends")?
                        .ok_or_else(|| cx.attr_err("ends", "is required"))?,
                    cx.ints("axes")?,
                    None,
                )
            };
            let p = slice_plan(&d.shape, &starts, &ends, axes.as_deref(), steps.as_deref())
                .map_err(bad)?;
            let st = strides(&d.shape);
            let src = walk(&p.sizes, |ix| {
                ix.iter()
                    .enumerate()
                    .map(|(k, &i)| (p.starts[k] as i64 + i as i64 * p.steps[k]) as usize * st[k])
                    .sum()
            });
            CVal {
                shape: p.sizes,
                data: take(&d.data, &src),
                elem: d.elem,
            }
        }
        "Concat" => {
            let parts: Vec<&CVal> = (0..n).map(arg).collect::<R<_>>()?;
            let first = parts
                .first()
                .ok_or_else(|| bad("Concat needs inputs".into()))?;
            let axis_attr = cx
                .int("axis")?
                .ok_or_else(|| cx.attr_err("axis", "is required"))?;
            let axis = cx.axis("axis", axis_attr, first.shape.len())?;
            let mut shape = first.shape.clone();
            shape[axis] = 0;
            for p in &parts {
                let ok = p.shape.len() == first.shape.len()
                    && p.shape
                        .iter()
                        .zip(&first.shape)
                        .enumerate()
                        .all(|(j, (a, b))| j == axis || a == b);
                if !ok {
                    return Err(bad(format!(
                        "cannot concatenate shapes {:?} and {:?} on axis {axis}",
                        first.shape, p.shape
                    )));
                }
                shape[axis] += p.shape[axis];
            }
            cap(cx, &shape)?;
            let outer: usize = shape[..axis].iter().product();
            let any_float = parts.iter().any(|p| p.is_float());
            let mut f = Vec::new();
            let mut i = Vec::new();
            for o in 0..outer {
                for p in &parts {
                    let chunk: usize = p.shape[axis..].iter().product();
                    let range = o * chunk..(o + 1) * chunk;
                    if any_float {
                        f.extend_from_slice(&p.to_f32()[range]);
                    } else {
                        i.extend_from_slice(&p.to_i64()[range]);
                    }
                }
            }
            if any_float {
                CVal::f32(shape, f)
            } else {
                CVal {
                    shape,
                    data: CData::I64(i),
                    elem: first.elem,
                }
            }
        }
        "Cast" => {
            let d = arg(0)?;
            let to = cx
                .int("to")?
                .ok_or_else(|| cx.attr_err("to", "is required"))?;
            cast(d, to as i32)
                .ok_or_else(|| cx.attr_err("to", format!("cast to type {to} is not supported")))?
        }
        "Range" => {
            let (s, l, dl) = (arg(0)?, arg(1)?, arg(2)?);
            if s.len() != 1 || l.len() != 1 || dl.len() != 1 {
                return Err(bad("Range takes scalar start, limit and delta".into()));
            }
            if s.is_float() || l.is_float() || dl.is_float() {
                let (s, l, dl) = (s.to_f32()[0], l.to_f32()[0], dl.to_f32()[0]);
                let cnt = ((l - s) / dl).ceil().max(0.0);
                if dl == 0.0 || !cnt.is_finite() || cnt as usize > FOLD_CAP {
                    return Err(bad("bad Range arguments".into()));
                }
                let v = (0..cnt as usize)
                    .map(|i| s + i as f32 * dl)
                    .collect::<Vec<_>>();
                CVal::f32(vec![v.len()], v)
            } else {
                let (s, l, dl) = (s.to_i64()[0], l.to_i64()[0], dl.to_i64()[0]);
                if dl == 0 {
                    return Err(bad("Range delta is 0".into()));
                }
                let span = (l as i128 - s as i128).max(0) as u128;
                let span_neg = (s as i128 - l as i128).max(0) as u128;
                let cnt = if dl > 0 {
                    span.div_ceil(dl as u128)
                } else {
                    span_neg.div_ceil((-dl) as u128)
                };
                if cnt > FOLD_CAP as u128 {
                    return Err(bad("Range is too long".into()));
                }
                let v = (0..cnt as i64).map(|i| s + i * dl).collect::<Vec<_>>();
                CVal {
                    shape: vec![v.len()],
                    data: CData::I64(v),
                    elem: arg(0)?.elem,
                }
            }
        }
        "ConstantOfShape" => {
            let shape: Vec<usize> = arg(0)?
                .to_i64()
                .iter()
                .map(|&d| usize::try_from(d).map_err(|_| bad(format!("negative dim {d}"))))
                .collect::<R<_>>()?;
            let n = cap(cx, &shape)?;
            let value = match cx.tensor("value")? {
                Some(t) => decode(t, None)?,
                None => CVal::f32(vec![1], vec![0.0]),
            };
            if value.len() != 1 {
                return Err(cx.attr_err("value", "must hold one element"));
            }
            let data = match &value.data {
                CData::F32(v) => CData::F32(vec![v[0]; n]),
                CData::I64(v) => CData::I64(vec![v[0]; n]),
                CData::Bool(v) => CData::Bool(vec![v[0]; n]),
            };
            CVal {
                shape,
                data,
                elem: value.elem,
            }
        }
        "Expand" => {
            let d = arg(0)?;
            let target: Vec<usize> = arg(1)?
                .to_i64()
                .iter()
                .map(|&x| x.max(0) as usize)
                .collect();
            let shape =
                ir::infer::broadcast_shapes(&ir::Shape(d.shape.clone()), &ir::Shape(target))
                    .map_err(|e| bad(e.to_string()))?
                    .0;
            cap(cx, &shape)?;
            CVal {
                data: take(&d.data, &bcast_index(&d.shape, &shape)),
                shape,
                elem: d.elem,
            }
        }
        "Squeeze" => {
            let d = arg(0)?;
            let axes = list_attr_or_input(cx, "axes", 1, 13)?;
            with_shape(d, squeeze_dims(&d.shape, axes.as_deref()).map_err(bad)?)
        }
        "Unsqueeze" => {
            let d = arg(0)?;
            let axes = list_attr_or_input(cx, "axes", 1, 13)?
                .ok_or_else(|| cx.attr_err("axes", "is required"))?;
            with_shape(d, unsqueeze_dims(&d.shape, &axes).map_err(bad)?)
        }
        "Reshape" => {
            let d = arg(0)?;
            let target = arg(1)?.to_i64();
            let allowzero = cx.int_or("allowzero", 0)? != 0;
            with_shape(d, reshape_dims(&d.shape, &target, allowzero).map_err(bad)?)
        }
        "Flatten" => {
            let d = arg(0)?;
            with_shape(
                d,
                flatten_dims(&d.shape, cx.int_or("axis", 1)?).map_err(bad)?,
            )
        }
        "Transpose" => {
            let d = arg(0)?;
            let r = d.shape.len();
            let perm = match cx.ints("perm")? {
                Some(p) => p
                    .iter()
                    .map(|&a| norm_axis(a, r))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(bad)?,
                None => (0..r).rev().collect(),
            };
            if norm_axes(&perm.iter().map(|&p| p as i64).collect::<Vec<_>>(), r)
                .map_or(true, |v| v.len() != r)
            {
                return Err(cx.attr_err("perm", format!("{perm:?} is not a permutation")));
            }
            let shape: Vec<usize> = perm.iter().map(|&p| d.shape[p]).collect();
            let st = strides(&d.shape);
            let src = walk(&shape, |ix| {
                ix.iter().enumerate().map(|(k, &i)| i * st[perm[k]]).sum()
            });
            CVal {
                shape,
                data: take(&d.data, &src),
                elem: d.elem,
            }
        }
        "Where" => {
            let (c, x, y) = (arg(0)?, arg(1)?, arg(2)?);
            let s = |v: &CVal| ir::Shape(v.shape.clone());
            let shape = ir::infer::broadcast_shapes(&s(c), &s(x))
                .and_then(|t| ir::infer::broadcast_shapes(&t, &s(y)))
                .map_err(|e| bad(e.to_string()))?
                .0;
            cap(cx, &shape)?;
            let (ic, ix, iy) = (
                bcast_index(&c.shape, &shape),
                bcast_index(&x.shape, &shape),
                bcast_index(&y.shape, &shape),
            );
            let cv = c.to_i64();
            if x.is_float() || y.is_float() {
                let (xv, yv) = (x.to_f32(), y.to_f32());
                let v = (0..ic.len())
                    .map(|k| if cv[ic[k]] != 0 { xv[ix[k]] } else { yv[iy[k]] })
                    .collect();
                CVal::f32(shape, v)
            } else {
                let (xv, yv) = (x.to_i64(), y.to_i64());
                let v = (0..ic.len())
                    .map(|k| if cv[ic[k]] != 0 { xv[ix[k]] } else { yv[iy[k]] })
                    .collect();
                CVal {
                    shape,
                    data: CData::I64(v),
                    elem: x.elem,
                }
            }
        }
        "Not" | "Floor" | "Ceil" | "Neg" | "Abs" | "Sqrt" | "Reciprocal" | "Round" | "Relu"
        | "Sigmoid" | "Tanh" => unary(op, arg(0)?)?,
        _ => binary(cx, op, arg(0)?, arg(1)?)?,
    };
    Ok(vec![Val::Const(Rc::new(out))])
}

fn cast(d: &CVal, to: i32) -> Option<CVal> {
    let dt = DataType::try_from(to).ok()?;
    let data = match dt {
        DataType::Float | DataType::Double | DataType::Float16 | DataType::Bfloat16 => {
            CData::F32(d.to_f32())
        }
        DataType::Bool => CData::Bool(match &d.data {
            CData::F32(v) => v.iter().map(|&x| x != 0.0).collect(),
            _ => d.to_i64().iter().map(|&x| x != 0).collect(),
        }),
        DataType::Int64 | DataType::Uint64 => CData::I64(d.to_i64()),
        DataType::Int32 => CData::I64(d.to_i64().iter().map(|&x| x as i32 as i64).collect()),
        DataType::Uint32 => CData::I64(d.to_i64().iter().map(|&x| x as u32 as i64).collect()),
        DataType::Int16 => CData::I64(d.to_i64().iter().map(|&x| x as i16 as i64).collect()),
        DataType::Uint16 => CData::I64(d.to_i64().iter().map(|&x| x as u16 as i64).collect()),
        DataType::Int8 => CData::I64(d.to_i64().iter().map(|&x| x as i8 as i64).collect()),
        DataType::Uint8 => CData::I64(d.to_i64().iter().map(|&x| x as u8 as i64).collect()),
        _ => return None,
    };
    Some(CVal {
        shape: d.shape.clone(),
        data,
        elem: to,
    })
}

fn unary(op: &str, a: &CVal) -> R<CVal> {
    if op == "Not" {
        let v = a.to_i64().iter().map(|&x| x == 0).collect();
        return Ok(CVal::bool(a.shape.clone(), v));
    }
    if let (CData::I64(v), "Neg" | "Abs" | "Floor" | "Ceil" | "Round" | "Relu") = (&a.data, op) {
        let f = |x: i64| match op {
            "Neg" => x.wrapping_neg(),
            "Abs" => x.wrapping_abs(),
            "Relu" => x.max(0),
            _ => x,
        };
        return Ok(CVal {
            shape: a.shape.clone(),
            data: CData::I64(v.iter().map(|&x| f(x)).collect()),
            elem: a.elem,
        });
    }
    let f = |x: f32| match op {
        "Floor" => x.floor(),
        "Ceil" => x.ceil(),
        "Neg" => -x,
        "Abs" => x.abs(),
        "Sqrt" => x.sqrt(),
        "Reciprocal" => 1.0 / x,
        "Round" => x.round_ties_even(),
        "Relu" => x.max(0.0),
        "Sigmoid" => 1.0 / (1.0 + (-x).exp()),
        _ => x.tanh(),
    };
    Ok(CVal::f32(
        a.shape.clone(),
        a.to_f32().into_iter().map(f).collect(),
    ))
}

fn binary(cx: &Cx, op: &str, a: &CVal, b: &CVal) -> R<CVal> {
    let shape =
        ir::infer::broadcast_shapes(&ir::Shape(a.shape.clone()), &ir::Shape(b.shape.clone()))
            .map_err(|e| cx.invalid(e.to_string()))?
            .0;
    cap(cx, &shape)?;
    let (ia, ib) = (bcast_index(&a.shape, &shape), bcast_index(&b.shape, &shape));
    let cmp = matches!(
        op,
        "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or"
    );
    if cmp {
        let (x, y) = (a.to_f32(), b.to_f32());
        let (xi, yi) = (a.to_i64(), b.to_i64());
        let both_int = !a.is_float() && !b.is_float();
        let v = (0..ia.len())
            .map(|k| {
                let (p, q) = (ia[k], ib[k]);
                match (op, both_int) {
                    ("Equal", true) => xi[p] == yi[q],
                    ("Equal", false) => x[p] == y[q],
                    ("Less", true) => xi[p] < yi[q],
                    ("Less", false) => x[p] < y[q],
                    ("Greater", true) => xi[p] > yi[q],
                    ("Greater", false) => x[p] > y[q],
                    ("LessOrEqual", true) => xi[p] <= yi[q],
                    ("LessOrEqual", false) => x[p] <= y[q],
                    ("GreaterOrEqual", true) => xi[p] >= yi[q],
                    ("GreaterOrEqual", false) => x[p] >= y[q],
                    ("And", _) => xi[p] != 0 && yi[q] != 0,
                    _ => xi[p] != 0 || yi[q] != 0,
                }
            })
            .collect();
        return Ok(CVal::bool(shape, v));
    }
    if let (CData::I64(x), CData::I64(y)) = (&a.data, &b.data) {
        let mut v = Vec::with_capacity(ia.len());
        for k in 0..ia.len() {
            let (p, q) = (x[ia[k]], y[ib[k]]);
            v.push(match op {
                "Add" => p.wrapping_add(q),
                "Sub" => p.wrapping_sub(q),
                "Mul" => p.wrapping_mul(q),
                "Div" | "Mod" if q == 0 => {
                    return Err(cx.invalid("integer division by zero in a constant"));
                }
                "Div" => p.wrapping_div(q),
                "Mod" => {
                    // Python-style: the result takes the divisor's sign.
                    let r = p.wrapping_rem_euclid(q);
                    if q < 0 && r != 0 {
                        r.wrapping_add(q)
                    } else {
                        r
                    }
                }
                "Pow" => p.checked_pow(u32::try_from(q).unwrap_or(0)).unwrap_or(0),
                "Min" => p.min(q),
                _ => p.max(q),
            });
        }
        return Ok(CVal {
            shape,
            data: CData::I64(v),
            elem: a.elem,
        });
    }
    let (x, y) = (a.to_f32(), b.to_f32());
    let v = (0..ia.len())
        .map(|k| {
            let (p, q) = (x[ia[k]], y[ib[k]]);
            match op {
                "Add" => p + q,
                "Sub" => p - q,
                "Mul" => p * q,
                "Div" => p / q,
                "Mod" => p % q,
                "Pow" => p.powf(q),
                "Min" => p.min(q),
                _ => p.max(q),
            }
        })
        .collect();
    Ok(CVal::f32(shape, v))
}
