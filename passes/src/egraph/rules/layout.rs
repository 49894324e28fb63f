//! Data movement on integers: a dequantize moves below max pool, reshape, transpose, slice,
//! split, pad and nearest resize (they commute with the monotone affine dequantization, so
//! the op runs on the integers unchanged), and a quantize moves into the operands of a
//! concat (so each operand is requantized to the output's parameters).

use super::{Rewrite, get, per_tensor, qrange, rule, ty, with_shape};
use crate::egraph::analysis::{EG, add_op, attr, dequantized};
use crate::egraph::lang::QLang;
use egg::{Id, Subst};
use ir::arith::{quantize, reciprocal};
use ir::{Op, PadAttrs, ResizeMode};

/// The rules of this topic.
pub fn rules() -> Vec<Rewrite> {
    let mut r: Vec<Rewrite> = [
        ("dequantize-through-max-pool", "max_pool"),
        ("dequantize-through-reshape", "reshape"),
        ("dequantize-through-transpose", "transpose"),
        ("dequantize-through-slice", "slice"),
        ("dequantize-through-pad", "pad"),
        ("dequantize-through-resize-nearest", "resize"),
    ]
    .into_iter()
    // op(dq(x)) == dq(op(x)) for data movement (pad fills with q(value)).
    .map(|(name, op)| {
        let lhs = format!("({op} ?t ?a (dequantize ?tx ?ax ?x))");
        rule(name, &lhs, dequantize_through)
    })
    .collect();
    // split_k(dq(x)) == dq(split_k(x)).
    r.push(rule(
        "dequantize-through-split",
        "(split ?t ?a ?k (dequantize ?tx ?ax ?x))",
        dequantize_through_split,
    ));
    // q(concat(dq(x1), .., dq(xn))) == concat(q(dq(x1)), .., q(dq(xn))).
    r.push(rule(
        "quantize-into-concat",
        "(quantize ?t ?a ?c)",
        quantize_into_concat,
    ));
    r
}

fn dequantize_through(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let (x, t) = (get(s, "?x"), ty(eg, m)?);
    let tx = ty(eg, x)?;
    let (scale, zp) = per_tensor(&tx)?;
    let op = match attr(eg, get(s, "?a"))?.clone() {
        Op::Resize(r) if r.mode != ResizeMode::Nearest => return None,
        Op::Pad(p) => {
            let (lo, hi) = qrange(&tx);
            let q = quantize(p.value, reciprocal(scale), zp, lo, hi);
            Op::Pad(PadAttrs {
                value: q as f32,
                ..p
            })
        }
        op => op,
    };
    let moved = add_op(eg, &op, &with_shape(&tx, &t.shape), &[x]);
    Some(add_op(eg, &Op::Dequantize, &t, &[moved]))
}

fn dequantize_through_split(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let (x, k, t) = (get(s, "?x"), get(s, "?k"), ty(eg, m)?);
    let tx = ty(eg, x)?;
    per_tensor(&tx)?;
    let op = attr(eg, get(s, "?a"))?.clone();
    let moved = add_op(eg, &op, &with_shape(&tx, &t.shape), &[k, x]);
    Some(add_op(eg, &Op::Dequantize, &t, &[moved]))
}

fn quantize_into_concat(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let (c, t) = (get(s, "?c"), ty(eg, m)?);
    per_tensor(&t)?;
    let (a, ins) = eg[c].nodes.iter().find_map(|n| match n {
        QLang::Concat(ch) if ch.len() > 2 => Some((ch[1], ch[2..].to_vec())),
        _ => None,
    })?;
    if !ins.iter().all(|&i| dequantized(eg, i).is_some()) {
        return None;
    }
    let op = attr(eg, a)?.clone();
    let mut qs = Vec::with_capacity(ins.len());
    for i in ins {
        let ti = with_shape(&t, &ty(eg, i)?.shape);
        qs.push(add_op(eg, &Op::Quantize, &ti, &[i]));
    }
    Some(add_op(eg, &op, &t, &qs))
}
