//! Phase invariants: which element types may appear in which [`Phase`].

use super::{Loc, Sink};
use crate::graph::Graph;
use crate::ops::Op;
use crate::phase::Phase;
use crate::text::print::fmt_type;

/// The role of an op in the phase rules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Graph inputs and constants.
    Source,
    /// Float computation (every phase before `integer`).
    Float,
    /// Data movement: runs on float or integer tensors alike.
    Movement,
    /// `quantize` or `dequantize`.
    Boundary,
    /// Integer computation (`integer` and `scheduled` phases).
    Integer,
}

fn kind(op: &Op) -> Kind {
    match op {
        Op::Input | Op::Const(_) => Kind::Source,
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
        | Op::ReduceMean(_) => Kind::Float,
        Op::MaxPool(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Slice(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Pad(_)
        | Op::Resize(_) => Kind::Movement,
        Op::Quantize | Op::Dequantize => Kind::Boundary,
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
        | Op::ResizeInt(_) => Kind::Integer,
    }
}

/// Whether `op` converts between f32 and integers at the program boundary, so that its
/// results may be f32 in the integer phases (only `dequantize` produces f32 there).
fn converts_at_boundary(op: &Op) -> bool {
    kind(op) == Kind::Boundary
}

pub(super) fn check(g: &Graph, sink: &mut Sink) {
    for n in g.node_ids() {
        let node = g.node(n);
        let loc = Loc::Node(n);
        let name = node.op.mnemonic();
        match (g.phase, kind(&node.op)) {
            (Phase::Float | Phase::Calibrated, Kind::Boundary | Kind::Integer)
            | (Phase::Qdq, Kind::Integer) => {
                sink.error(loc, format!("`{name}` is not allowed in {} phase", g.phase));
            }
            (Phase::Integer | Phase::Scheduled, Kind::Float) => {
                sink.error(
                    loc,
                    format!("float op `{name}` is not allowed in {} phase", g.phase),
                );
            }
            (Phase::Qdq, Kind::Float) => {
                if let Some(&v) = node.inputs.iter().find(|&&v| g.ty(v).dtype.is_int()) {
                    sink.error(
                        loc,
                        format!(
                            "float op `{name}` takes integer operand {} in qdq phase (dequantize it first)",
                            fmt_type(g.ty(v))
                        ),
                    );
                }
            }
            (Phase::Integer | Phase::Scheduled, Kind::Boundary) => {
                let quantize = matches!(node.op, Op::Quantize);
                if quantize && node.inputs.iter().any(|v| !g.inputs.contains(v)) {
                    sink.error(
                        loc,
                        format!("in {} phase `quantize` only converts graph inputs", g.phase),
                    );
                }
                if !quantize && node.outputs.iter().any(|v| !g.outputs.contains(v)) {
                    sink.error(
                        loc,
                        format!(
                            "in {} phase `dequantize` results must be graph outputs",
                            g.phase
                        ),
                    );
                }
            }
            (Phase::Integer | Phase::Scheduled, Kind::Movement | Kind::Integer) => {
                if let Some(&v) = node.inputs.iter().find(|&&v| !g.ty(v).dtype.is_int()) {
                    sink.error(
                        loc,
                        format!(
                            "f32 operand {} in {} phase (only `quantize` takes f32)",
                            fmt_type(g.ty(v)),
                            g.phase
                        ),
                    );
                }
            }
            (
                Phase::Float | Phase::Calibrated | Phase::Qdq,
                Kind::Source | Kind::Float | Kind::Movement,
            )
            | (Phase::Qdq, Kind::Boundary)
            | (Phase::Integer | Phase::Scheduled, Kind::Source) => {}
        }
    }
    for v in g.value_ids() {
        let val = g.value(v);
        let loc = Loc::Node(val.producer);
        let ty = &val.ty;
        match g.phase {
            Phase::Float | Phase::Calibrated => {
                if ty.dtype.is_int() || ty.quant.is_some() {
                    sink.error(
                        loc,
                        format!(
                            "{} phase allows only f32 values, found {}",
                            g.phase,
                            fmt_type(ty)
                        ),
                    );
                }
            }
            Phase::Qdq => {}
            Phase::Integer | Phase::Scheduled => {
                let boundary =
                    g.inputs.contains(&v) || converts_at_boundary(&g.node(val.producer).op);
                if !ty.dtype.is_int() && !boundary {
                    sink.error(
                        loc,
                        format!(
                            "f32 value in {} phase (only graph inputs and `dequantize` results may be f32)",
                            g.phase
                        ),
                    );
                }
            }
        }
    }
}
