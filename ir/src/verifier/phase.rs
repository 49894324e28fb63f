//! Phase invariants: which element types may appear in which [`Phase`].

use super::{Loc, Sink};
use crate::graph::Graph;
use crate::ops::Op;
use crate::phase::Phase;
use crate::text::print::fmt_type;

/// HOOK(phase): whether `op` converts between f32 and integers at the program boundary, so
/// that its results may be f32 in the integer phases. The quantize/dequantize ops do not exist
/// yet; when they are added they return true here (and the exhaustive match makes adding any
/// op decide this).
fn converts_at_boundary(op: &Op) -> bool {
    match op {
        Op::Input
        | Op::Const(_)
        | Op::Conv(_)
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
        | Op::MaxPool(_)
        | Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::ReduceMean(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Slice(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Pad(_)
        | Op::Resize(_) => false,
    }
}

pub(super) fn check(g: &Graph, sink: &mut Sink) {
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
                let boundary = g.inputs.contains(&v)
                    || g.outputs.contains(&v)
                    || converts_at_boundary(&g.node(val.producer).op);
                if !ty.dtype.is_int() && !boundary {
                    sink.error(
                        loc,
                        format!(
                            "f32 value in {} phase (only graph inputs, graph outputs and boundary conversions may be f32)",
                            g.phase
                        ),
                    );
                }
            }
        }
    }
}
