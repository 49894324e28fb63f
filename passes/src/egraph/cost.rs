//! Extraction cost: estimated DSP cycles per e-node, with float compute infeasible.
//!
//! A [`CostModel`] prices one op from its operand and result types. The target's table
//! (in `backends`) implements it and reaches the pass through `PassCtx::cost`; without one
//! the pass uses [`DefaultCostModel`], a rough 128-byte-vector estimate. Costs add with
//! saturation below [`INFEASIBLE`], which is reserved for float ops: an extraction whose
//! cost is below `INFEASIBLE` is the proof that the extracted program is integer-only.

use super::analysis::{EG, is_input, value_ty};
use super::lang::QLang;
use egg::{CostFunction, Id};
use ir::{Op, TensorType};
use std::fmt;

/// Estimated cycles.
pub type Cost = u64;

/// The cost of anything that cannot run on the integer target (float compute).
pub const INFEASIBLE: Cost = u64::MAX;

/// Adds two costs: [`INFEASIBLE`] is absorbing, feasible sums saturate just below it.
pub fn add_cost(a: Cost, b: Cost) -> Cost {
    if a == INFEASIBLE || b == INFEASIBLE {
        INFEASIBLE
    } else {
        a.saturating_add(b).min(INFEASIBLE - 1)
    }
}

/// Prices one op in target cycles.
pub trait CostModel: fmt::Debug {
    /// The cost of `op` with these operand and result types; [`INFEASIBLE`] for anything the
    /// target cannot run (every float compute op). Graph inputs and constants cost 0.
    fn node_cost(&self, op: &Op, inputs: &[&TensorType], output: &TensorType) -> Cost;
}

/// A simple integer-cycles model: 128 int8 MACs per cycle, 32-lane i32 arithmetic,
/// 128-byte moves, scalar float at the boundary.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultCostModel;

fn per(n: usize, lanes: usize) -> Cost {
    (n / lanes) as Cost + 1
}

impl CostModel for DefaultCostModel {
    fn node_cost(&self, op: &Op, inputs: &[&TensorType], output: &TensorType) -> Cost {
        let out = output.shape.numel();
        let in0 = inputs.first().map_or(0, |t| t.shape.numel());
        let w = |i: usize| {
            inputs.get(i).map_or((0, 1), |t| {
                (
                    t.shape.numel(),
                    t.shape.dims().first().copied().unwrap_or(1).max(1),
                )
            })
        };
        match op {
            Op::Input | Op::Const(_) => 0,
            Op::Quantize | Op::Dequantize => per(out.max(in0), 4),
            Op::ConvInt(_) => {
                let (wn, m) = w(1);
                per(out.saturating_mul(wn / m), 128) + per(out, 32)
            }
            Op::ConvTransposeInt(_) => {
                let (wn, c) = w(1);
                per(in0.saturating_mul(wn / c), 128) + per(out, 32)
            }
            Op::GemmInt(_) => {
                let k = inputs
                    .first()
                    .and_then(|t| t.shape.dims().last().copied())
                    .unwrap_or(1);
                per(out.saturating_mul(k), 128) + per(out, 32)
            }
            Op::MatMulInt => {
                let k = inputs
                    .first()
                    .and_then(|t| t.shape.dims().last().copied())
                    .unwrap_or(1);
                per(out.saturating_mul(k), 64) + per(out, 32)
            }
            Op::Requant(_) => per(out, 32),
            Op::AddInt(_) | Op::MulInt(_) => per(out, 16),
            Op::AvgPoolInt(a) => {
                let win: usize = a.pool.pool.kernel.iter().product();
                per(out.saturating_mul(win), 64)
            }
            Op::MaxPool(a) => {
                let win: usize = a.kernel.iter().product();
                per(out.saturating_mul(win), 128)
            }
            Op::Lut(_) => per(out, 8),
            Op::SoftmaxInt(_) => per(out, 4),
            Op::ResizeInt(_) => per(out, 16),
            Op::Reshape => 1,
            Op::Concat(_) | Op::Split(_) | Op::Slice(_) | Op::Transpose(_) | Op::Pad(_) => {
                per(out.max(in0), 64)
            }
            Op::Resize(r) => match r.mode {
                ir::ResizeMode::Nearest => per(out, 64),
                ir::ResizeMode::Linear => INFEASIBLE,
            },
            Op::Conv(_)
            | Op::ConvTranspose(_)
            | Op::Gemm(_)
            | Op::MatMul
            | Op::BatchNorm(_)
            | Op::Relu
            | Op::PRelu
            | Op::LeakyRelu(_)
            | Op::Clip(_)
            | Op::Sigmoid
            | Op::HardSigmoid(_)
            | Op::HardSwish
            | Op::Tanh
            | Op::Softmax(_)
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::AveragePool(_)
            | Op::GlobalAveragePool
            | Op::ReduceMean(_) => INFEASIBLE,
        }
    }
}

/// Whether `op` on operands of these types is float compute (infeasible on any target),
/// independent of the cost model. Data-movement ops are float compute on f32 operands.
pub fn is_float_compute(op: &Op, inputs: &[&TensorType]) -> bool {
    let float_operand = inputs.iter().any(|t| !t.dtype.is_int());
    match op {
        Op::Input | Op::Const(_) | Op::Quantize | Op::Dequantize => false,
        Op::MaxPool(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Slice(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Pad(_) => float_operand,
        Op::Resize(r) => float_operand || r.mode == ir::ResizeMode::Linear,
        Op::ConvInt(_)
        | Op::ConvTransposeInt(_)
        | Op::GemmInt(_)
        | Op::MatMulInt
        | Op::Requant(_)
        | Op::AddInt(_)
        | Op::MulInt(_)
        | Op::AvgPoolInt(_)
        | Op::Lut(_)
        | Op::SoftmaxInt(_)
        | Op::ResizeInt(_) => false,
        Op::Conv(_)
        | Op::ConvTranspose(_)
        | Op::Gemm(_)
        | Op::MatMul
        | Op::BatchNorm(_)
        | Op::Relu
        | Op::PRelu
        | Op::LeakyRelu(_)
        | Op::Clip(_)
        | Op::Sigmoid
        | Op::HardSigmoid(_)
        | Op::HardSwish
        | Op::Tanh
        | Op::Softmax(_)
        | Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::ReduceMean(_) => true,
    }
}

/// The op and operand types of an op e-node (`none` leaves and the split index skipped).
pub fn node_signature<'a>(
    eg: &'a EG,
    enode: &QLang,
) -> Option<(&'a Op, Vec<&'a TensorType>, &'a TensorType)> {
    let (t, a, operands) = enode.parts()?;
    let op = super::analysis::attr(eg, a)?;
    let out = super::analysis::leaf_ty(eg, t)?;
    let ins = operands.iter().filter_map(|&o| value_ty(eg, o)).collect();
    Some((op, ins, out))
}

/// The cost of one e-node alone (children excluded): the model's price, [`INFEASIBLE`] for
/// float compute whatever the model says, and for a `quantize` anywhere but directly on a
/// graph input (the only float-to-integer boundary an Integer graph has).
pub fn enode_cost(eg: &EG, model: &dyn CostModel, enode: &QLang) -> Cost {
    let Some((op, ins, out)) = node_signature(eg, enode) else {
        return 0;
    };
    if is_float_compute(op, &ins) {
        return INFEASIBLE;
    }
    if let (Op::Quantize, Some((_, _, [x]))) = (op, enode.parts()) {
        if !is_input(eg, *x) {
            return INFEASIBLE;
        }
    }
    model
        .node_cost(op, &ins, out)
        .max(u64::from(!matches!(op, Op::Input | Op::Const(_))))
}

/// The egg cost function over an e-graph: [`enode_cost`] plus the children's costs.
pub struct ExtractCost<'a> {
    /// The e-graph (for types and attributes).
    pub eg: &'a EG,
    /// The target's prices.
    pub model: &'a dyn CostModel,
}

impl CostFunction<QLang> for ExtractCost<'_> {
    type Cost = Cost;

    fn cost<C>(&mut self, enode: &QLang, mut costs: C) -> Cost
    where
        C: FnMut(Id) -> Cost,
    {
        let own = enode_cost(self.eg, self.model, enode);
        egg::Language::fold(enode, own, |s, id| add_cost(s, costs(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infeasible_absorbs_and_sums_saturate_below_it() {
        assert_eq!(add_cost(INFEASIBLE, 0), INFEASIBLE);
        assert_eq!(add_cost(3, INFEASIBLE), INFEASIBLE);
        assert_eq!(add_cost(INFEASIBLE - 1, INFEASIBLE - 1), INFEASIBLE - 1);
        assert_eq!(add_cost(2, 3), 5);
    }

    #[test]
    fn default_model_prices_float_as_infeasible_and_int_as_cycles() {
        let m = DefaultCostModel;
        let f = TensorType::f32(vec![1, 8, 4, 4]);
        assert_eq!(m.node_cost(&Op::Relu, &[&f], &f), INFEASIBLE);
        let q = TensorType::new(ir::DType::U8, vec![1, 8, 4, 4]);
        let c = m.node_cost(&Op::Reshape, &[&q], &q);
        assert!(c > 0 && c < INFEASIBLE);
        assert!(is_float_compute(&Op::Reshape, &[&f]));
        assert!(!is_float_compute(&Op::Reshape, &[&q]));
    }
}
