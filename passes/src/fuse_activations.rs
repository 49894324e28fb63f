//! `fuse-activations`: Relu, Relu6 and Clip join the op that produces their input.
//!
//! **What.** In a fake-quantized graph, a `Conv`, `ConvTranspose`, `Gemm`, `MatMul`, `Add` or
//! `Mul` whose result goes only through `quantize -> dequantize` into one `Relu` or `Clip`
//! (Relu6 is `Clip(0, 6)`) loses that quantize/dequantize pair: the activation reads the
//! producer's float result directly, and only the activation's result is quantized.
//!
//! ```text
//! conv -> quantize -> dequantize -> relu -> quantize -> dequantize
//! conv ---------------------------> relu -> quantize -> dequantize
//! ```
//!
//! **Why.** The integer kernel computes the producer in its i32 accumulator and applies the
//! activation as the clamp of its one requantization (`lower-integer`'s `quantize-of-relu`
//! / `quantize-of-clip` rules, then the clamp merges into the requant, `add_int` or
//! `mul_int`). The pair removed here would round the pre-activation value to a scale of its
//! own, which that kernel never does; without it the fake-quantized float graph computes what
//! the fused integer kernel computes, and lowering produces one kernel instead of a
//! requant-clamp chain.
//!
//! **Phase.** Qdq -> Qdq, after `insert-qdq` (which quantizes every activation, the producer's
//! included). It runs only on graphs that our own `insert-qdq` quantized: a QDQ model
//! imported from a file keeps the quantization its author wrote, pairs included.
//!
//! **Invariants established.**
//! - No `quantize -> dequantize` pair remains between a fusable producer and a Relu/Clip
//!   that is the only user of the pair (the pattern above).
//! - Everything else is untouched: a producer whose result has other uses (another op, a
//!   graph output, the quantize feeding more than one dequantize) keeps its pair, because
//!   those uses need the quantized value; activations after other ops (sigmoid, pools)
//!   are not fused.
//! - Every f32 operand of a compute op other than the fused activation still comes from a
//!   `dequantize`, so `lower-integer`'s patterns still match.

use crate::{PassCtx, PassError, PassStats};
use ir::{Graph, NodeId, Op, ValueId};

/// Runs the pass.
pub fn run(g: &mut Graph, _ctx: &PassCtx) -> Result<PassStats, PassError> {
    let mut rewrites = 0;
    for act in g.topo_order() {
        let Some((v, slot)) = fusable_input(g, act) else {
            continue;
        };
        g.set_input(act, slot, v);
        rewrites += 1;
    }
    g.remove_dead_nodes();
    Ok(PassStats { rewrites })
}

/// Whether `op` is a producer whose integer form ends in a requantization with a clamp.
fn is_fusable_producer(op: &Op) -> bool {
    match op {
        Op::Conv(_) | Op::ConvTranspose(_) | Op::Gemm(_) | Op::MatMul | Op::Add | Op::Mul => true,
        Op::Input
        | Op::Const(_)
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
        | Op::Sub
        | Op::Div
        | Op::ReduceMean(_)
        | Op::MaxPool(_)
        | Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Slice(_)
        | Op::Split(_)
        | Op::Pad(_)
        | Op::Resize(_)
        | Op::Concat(_)
        | Op::Quantize
        | Op::Dequantize
        | Op::ConvInt(_)
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
    }
}

/// For a Relu/Clip node `act` reading `producer -> quantize -> dequantize` where each link
/// is the only use, the producer's result and the operand slot to rewire.
fn fusable_input(g: &Graph, act: NodeId) -> Option<(ValueId, usize)> {
    let node = g.node(act);
    if !matches!(node.op, Op::Relu | Op::Clip(_)) {
        return None;
    }
    let slot = 0;
    let d = *node.inputs.get(slot)?;
    let only_use = |v: ValueId| !g.outputs.contains(&v) && g.users(v).len() == 1;
    let dq = g.producer(d);
    if !matches!(dq.op, Op::Dequantize) || !only_use(d) {
        return None;
    }
    let q = *dq.inputs.first()?;
    let qn = g.producer(q);
    if !matches!(qn.op, Op::Quantize) || !only_use(q) {
        return None;
    }
    let v = *qn.inputs.first()?;
    (is_fusable_producer(&g.producer(v).op) && only_use(v)).then_some((v, slot))
}
