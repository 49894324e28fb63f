//! Rules on the quantization boundary: cancel `quantize(dequantize(x))`, turn it into a
//! requantization otherwise, merge chains of requantizations, and fold ReLU/Clip into
//! requantization clamps (and clamps into `add_int`/`mul_int`).

use super::{Rewrite, add_requant, get, is_clamp, per_tensor, qrange, requant_attrs, rule, ty};
use crate::egraph::analysis::{EG, add_op, attr};
use egg::{Id, Subst};
use ir::arith::{QuantizedMultiplier, quantize, reciprocal, requantize};
use ir::{Op, RequantAttrs};

/// The rules of this topic.
pub fn rules() -> Vec<Rewrite> {
    vec![
        // q(dq(x)) == x when the quantize produces x's own type.
        rule(
            "cancel-quantize-dequantize",
            "(quantize ?t ?a (dequantize ?t2 ?a2 ?x))",
            cancel_quantize_dequantize,
        ),
        // q_y(dq_x(x)) == requant_{x->y}(x) for different parameters.
        rule(
            "quantize-dequantize-to-requant",
            "(quantize ?t ?a (dequantize ?t2 ?a2 ?x))",
            quantize_dequantize_to_requant,
        ),
        // requant2(requant1(x)) == requant3(x); exact when either is a pure clamp.
        rule(
            "requant-of-requant",
            "(requant ?t ?a (requant ?t1 ?a1 ?x))",
            requant_of_requant,
        ),
        // requant(x) == x for a clamp that does not clamp.
        rule("requant-identity", "(requant ?t ?a ?x)", requant_identity),
        // q(relu(f)) == max(q(f), zp): quantization is monotone and q(0) = zp.
        rule(
            "quantize-of-relu",
            "(quantize ?t ?a (relu ?t1 ?a1 ?f))",
            quantize_of_relu,
        ),
        // q(clip(f, lo, hi)) == clamp(q(f), q(lo), q(hi)).
        rule(
            "quantize-of-clip",
            "(quantize ?t ?a (clip ?t1 ?a1 ?f))",
            quantize_of_clip,
        ),
        // clamp(add_int(x, y)) == add_int(x, y) with the clamp in its bounds.
        rule(
            "clamp-into-add-int",
            "(requant ?t ?a (add_int ?t1 ?a1 ?x ?y))",
            clamp_into_add_int,
        ),
        // clamp(mul_int(x, y)) == mul_int(x, y) with the clamp in its bounds.
        rule(
            "clamp-into-mul-int",
            "(requant ?t ?a (mul_int ?t1 ?a1 ?x ?y))",
            clamp_into_mul_int,
        ),
    ]
}

fn cancel_quantize_dequantize(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let x = get(s, "?x");
    (ty(eg, x)? == ty(eg, m)?).then_some(x)
}

fn quantize_dequantize_to_requant(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let x = get(s, "?x");
    let to = ty(eg, m)?;
    if ty(eg, x)? == to {
        return None;
    }
    add_requant(eg, x, &to)
}

fn requant_attrs_of(eg: &EG, a: Id) -> Option<RequantAttrs> {
    match attr(eg, a)? {
        Op::Requant(r) => Some(r.clone()),
        _ => None,
    }
}

/// Merges `requant2(requant1(x))` into one requantization.
///
/// 1. Multipliers: the inner ones when the outer is a pure clamp, the outer one when the
///    inner is a pure clamp, else `s_x[c] / s_out` from the types.
/// 2. Clamps: the inner bounds mapped through the outer requantization (exact, since
///    requantization is monotone), intersected with the outer bounds.
///
/// Exact when either requantization is a pure clamp. Otherwise the merged form rounds once
/// where the chain rounded twice, so results can differ by one unit of the output (the
/// merged form is the closer one to the real product).
fn requant_of_requant(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let (x, mid) = (get(s, "?x"), get(s, "?t1"));
    let outer = requant_attrs_of(eg, get(s, "?a"))?;
    let inner = requant_attrs_of(eg, get(s, "?a1"))?;
    let (tx, t_out) = (ty(eg, x)?, ty(eg, m)?);
    let t_mid = crate::egraph::analysis::leaf_ty(eg, mid)?.clone();
    if outer.multipliers.len() != 1 {
        return None;
    }
    let (_, zp_mid) = per_tensor(&t_mid)?;
    let (_, zp_out) = per_tensor(&t_out)?;
    let (multipliers, axis) = if is_clamp(&outer, &t_mid, &t_out) {
        (inner.multipliers.clone(), inner.axis)
    } else if is_clamp(&inner, &tx, &t_mid) {
        (outer.multipliers.clone(), outer.axis)
    } else {
        let r = requant_attrs(&tx, &t_out, 0, 0, outer.rounding)?;
        (r.multipliers, r.axis)
    };
    let through = |v: i32| {
        requantize(
            v.saturating_sub(zp_mid),
            outer.multipliers[0],
            zp_out,
            i32::MIN,
            i32::MAX,
            outer.rounding,
        )
    };
    let lo = outer.lo.max(through(inner.lo));
    let hi = outer.hi.min(through(inner.hi));
    if lo > hi {
        return None;
    }
    let merged = RequantAttrs {
        multipliers,
        axis,
        rounding: outer.rounding,
        lo,
        hi,
    };
    Some(add_op(eg, &Op::Requant(merged), &t_out, &[x]))
}

fn requant_identity(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let x = get(s, "?x");
    let r = requant_attrs_of(eg, get(s, "?a"))?;
    let (tx, t) = (ty(eg, x)?, ty(eg, m)?);
    let (lo, hi) = qrange(&t);
    (is_clamp(&r, &tx, &t) && r.lo <= lo && r.hi >= hi).then_some(x)
}

/// Adds `(requant t clamp[lo, hi] (quantize t f))`.
fn clamp_quantized(eg: &mut EG, m: Id, s: &Subst, lo: i32, hi: i32) -> Option<Id> {
    let (t, f) = (ty(eg, m)?, get(s, "?f"));
    let q = add_op(eg, &Op::Quantize, &t, &[f]);
    let (qlo, qhi) = qrange(&t);
    let clamp = RequantAttrs {
        multipliers: vec![QuantizedMultiplier::ONE],
        axis: 0,
        rounding: eg.analysis.rounding,
        lo: lo.max(qlo),
        hi: hi.min(qhi),
    };
    Some(add_op(eg, &Op::Requant(clamp), &t, &[q]))
}

fn quantize_of_relu(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let (_, zp) = per_tensor(&ty(eg, m)?)?;
    clamp_quantized(eg, m, s, zp, i32::MAX)
}

fn quantize_of_clip(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let t = ty(eg, m)?;
    let (scale, zp) = per_tensor(&t)?;
    let Some(Op::Clip(c)) = attr(eg, get(s, "?a1")).cloned() else {
        return None;
    };
    let (qlo, qhi) = qrange(&t);
    let q = |v: f32| quantize(v, reciprocal(scale), zp, qlo, qhi);
    clamp_quantized(eg, m, s, q(c.min), q(c.max))
}

/// Folds a pure clamp into the bounds of the op below it (`add_int` or `mul_int`).
fn clamp_into(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let r = requant_attrs_of(eg, get(s, "?a"))?;
    let below = get(s, "?a1");
    let (t, t1) = (
        ty(eg, m)?,
        crate::egraph::analysis::leaf_ty(eg, get(s, "?t1"))?.clone(),
    );
    if !is_clamp(&r, &t1, &t) {
        return None;
    }
    let op = match attr(eg, below)?.clone() {
        Op::AddInt(mut a) => {
            (a.lo, a.hi) = (a.lo.max(r.lo), a.hi.min(r.hi));
            (a.lo <= a.hi).then_some(Op::AddInt(a))?
        }
        Op::MulInt(mut a) => {
            (a.lo, a.hi) = (a.lo.max(r.lo), a.hi.min(r.hi));
            (a.lo <= a.hi).then_some(Op::MulInt(a))?
        }
        _ => return None,
    };
    let (x, y) = (get(s, "?x"), get(s, "?y"));
    Some(add_op(eg, &op, &t, &[x, y]))
}

fn clamp_into_add_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    clamp_into(eg, m, s)
}

fn clamp_into_mul_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    clamp_into(eg, m, s)
}
