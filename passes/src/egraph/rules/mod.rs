//! The lowering rules, by topic (see `README.md` in this directory for how to write them).
//!
//! - [`requant`]: quantize/dequantize/requantize algebra and clamp folding;
//! - [`arith`]: compute ops (conv, gemm, matmul, add, mul, pools, tables, softmax, resize);
//! - [`layout`]: data movement on integers (max pool, reshape, transpose, slice, split, pad,
//!   nearest resize, concat).
//!
//! Every rule is a [`egg::Pattern`] searcher plus an applier function that computes the
//! new attributes from the matched types ([`rule`]). An applier returns `None` to decline;
//! when it declines for a reason a user should read (an unsupported attribute), it calls
//! [`note`] so the pass can explain why a node stayed float.

pub mod arith;
pub mod layout;
pub mod requant;

#[cfg(test)]
mod tests;

use super::analysis::{EG, QAnalysis, name_of, value_ty};
use super::lang::QLang;
use egg::{Applier, Id, PatternAst, Subst, Symbol, Var};
use ir::arith::{QuantizedMultiplier, RoundingMode, quantize_multiplier};
use ir::{DType, Op, QuantGranularity, RequantAttrs, Shape, TensorType};

/// A lowering rewrite.
pub type Rewrite = egg::Rewrite<QLang, QAnalysis>;

/// An applier function: the e-graph, the matched e-class and the substitution; returns the
/// e-class to union with the match, or `None` to decline.
pub type ApplyFn = fn(&mut EG, Id, &Subst) -> Option<Id>;

struct FnApplier {
    f: ApplyFn,
}

impl Applier<QLang, QAnalysis> for FnApplier {
    fn apply_one(
        &self,
        eg: &mut EG,
        eclass: Id,
        subst: &Subst,
        _ast: Option<&PatternAst<QLang>>,
        _rule: Symbol,
    ) -> Vec<Id> {
        eg.analysis.current_name = name_of(eg, eclass);
        let new = (self.f)(eg, eclass, subst);
        eg.analysis.current_name = None;
        match new {
            Some(id) if eg.union(eclass, id) => vec![eclass],
            _ => vec![],
        }
    }
}

/// A named rule: the pattern `lhs` and the applier `f`.
pub fn rule(name: &str, lhs: &str, f: ApplyFn) -> Rewrite {
    let pattern: egg::Pattern<QLang> = lhs
        .parse()
        .unwrap_or_else(|e| panic!("rule {name}: bad pattern {lhs}: {e}"));
    Rewrite::new(name, pattern, FnApplier { f }).unwrap_or_else(|e| panic!("rule {name}: {e}"))
}

/// Every lowering rule.
pub fn all_rules() -> Vec<Rewrite> {
    let mut r = requant::rules();
    r.extend(arith::rules());
    r.extend(layout::rules());
    r
}

/// The name of every lowering rule, in [`all_rules`] order.
pub fn rule_names() -> Vec<String> {
    all_rules().iter().map(|r| r.name.to_string()).collect()
}

/// The e-class bound to `?name` in `s`.
pub fn get(s: &Subst, name: &str) -> Id {
    let v: Var = name
        .parse()
        .unwrap_or_else(|e| panic!("bad var {name}: {e}"));
    s[v]
}

/// Records why a rule declined to lower e-class `id`.
pub fn note(eg: &mut EG, id: Id, msg: impl Into<String>) {
    let msg = msg.into();
    if !eg.analysis.notes.iter().any(|(i, m)| *i == id && *m == msg) {
        eg.analysis.notes.push((id, msg));
    }
}

/// The type of value e-class `id` (cloned).
pub fn ty(eg: &EG, id: Id) -> Option<TensorType> {
    value_ty(eg, id).cloned()
}

/// The clamp range of a quantized type: its bit width's range (narrow widths inside a wider
/// storage type included), else the storage type's.
pub fn qrange(ty: &TensorType) -> (i32, i32) {
    let (lo, hi) = ty
        .dtype
        .int_range()
        .unwrap_or((i32::MIN as i64, i32::MAX as i64));
    let bits = ty.quant.as_ref().map_or(ty.dtype.bits(), |q| q.bits);
    if bits >= ty.dtype.bits() || bits == 0 || bits >= 32 {
        return (lo as i32, hi as i32);
    }
    if ty.dtype.is_signed() {
        (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    } else {
        (0, (1 << bits) - 1)
    }
}

/// `(scale, zero point)` of a per-tensor quantized integer type.
pub fn per_tensor(ty: &TensorType) -> Option<(f32, i32)> {
    if !ty.dtype.is_int() {
        return None;
    }
    match ty.quant.as_ref()?.granularity {
        QuantGranularity::PerTensor { scale, zero_point } => Some((scale, zero_point)),
        QuantGranularity::PerAxis { .. } => None,
    }
}

/// Scales of a quantized type, with the axis when per-axis.
pub fn scales(ty: &TensorType) -> Option<(Option<usize>, Vec<f32>)> {
    match &ty.quant.as_ref()?.granularity {
        QuantGranularity::PerTensor { scale, .. } => Some((None, vec![*scale])),
        QuantGranularity::PerAxis { axis, scales, .. } => Some((Some(*axis), scales.clone())),
    }
}

/// Whether every zero point of the type is 0.
pub fn zero_zps(ty: &TensorType) -> bool {
    match ty.quant.as_ref().map(|q| &q.granularity) {
        Some(QuantGranularity::PerTensor { zero_point, .. }) => *zero_point == 0,
        Some(QuantGranularity::PerAxis { zero_points, .. }) => zero_points.iter().all(|&z| z == 0),
        None => false,
    }
}

/// `ty` with another shape.
pub fn with_shape(ty: &TensorType, shape: &Shape) -> TensorType {
    TensorType {
        dtype: ty.dtype,
        shape: shape.clone(),
        quant: ty.quant.clone(),
    }
}

/// The i32 accumulator type `[shape]` quantized per `axis` with `scales` (zero point 0).
pub fn acc_type(shape: &Shape, axis: usize, scales: Vec<f32>) -> TensorType {
    let n = scales.len();
    TensorType {
        dtype: DType::I32,
        shape: shape.clone(),
        quant: Some(ir::QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis,
                scales,
                zero_points: vec![0; n],
            },
            bits: 32,
            pow2: false,
        }),
    }
}

/// One multiplier per input scale for rescaling to `s_out` (`None` if one is not
/// representable).
pub fn multipliers(s_in: &[f32], s_out: f32) -> Option<Vec<QuantizedMultiplier>> {
    s_in.iter()
        .map(|&s| quantize_multiplier(f64::from(s) / f64::from(s_out)).ok())
        .collect()
}

/// The requantization of a value of type `from` to the per-tensor type `to`, clamped to
/// `[lo, hi]` (see [`RequantAttrs`]).
pub fn requant_attrs(
    from: &TensorType,
    to: &TensorType,
    lo: i32,
    hi: i32,
    rounding: RoundingMode,
) -> Option<RequantAttrs> {
    let (s_out, _) = per_tensor(to)?;
    let (axis, s_in) = scales(from)?;
    if !from.dtype.is_int() {
        return None;
    }
    let multipliers = multipliers(&s_in, s_out)?;
    let axis = if multipliers.len() == 1 { 0 } else { axis? };
    Some(RequantAttrs {
        multipliers,
        axis,
        rounding,
        lo,
        hi,
    })
}

/// Adds `(requant to x)` rescaling `x` to `to` with the full output range (plus any extra
/// clamp the caller narrows later).
pub fn add_requant(eg: &mut EG, x: Id, to: &TensorType) -> Option<Id> {
    let from = ty(eg, x)?;
    let (lo, hi) = qrange(to);
    let attrs = requant_attrs(&from, to, lo, hi, eg.analysis.rounding)?;
    Some(super::analysis::add_op(eg, &Op::Requant(attrs), to, &[x]))
}

/// Whether the requant is a pure clamp: one multiplier of 1 and the same type in and out.
pub fn is_clamp(attrs: &RequantAttrs, from: &TensorType, to: &TensorType) -> bool {
    attrs.multipliers == [QuantizedMultiplier::ONE] && from == to
}
