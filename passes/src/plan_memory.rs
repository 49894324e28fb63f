//! `plan-memory`: a static memory plan placing every integer activation in one arena.
//!
//! **What.** [`plan`] is a pure analysis: it orders the nodes (a deterministic topological
//! order), computes the live interval of every integer activation (every integer value that
//! is not produced by a `Const`; f32 values are the program's boundary and live outside the
//! arena) and gives each one a byte offset in a single arena, aligned to `align` bytes (128
//! for every target: one HVX vector).
//!
//! **Why a pure function.** [`ir::Graph`] has no slot for a memory plan, and the plan is a
//! function of the graph alone. So the pass [`run`] only checks that a plan exists (it never
//! fails on a verified graph) and moves the graph to [`Phase::Scheduled`]; the emitters call
//! [`plan`] themselves. Because the topological order and the placement are deterministic,
//! every caller gets the same plan for the same graph.
//!
//! **Buffers.** Values are grouped into buffers that share storage:
//! - `Reshape` of an arena value is a *view*: its result aliases the input's buffer.
//! - An elementwise `Requant`, `Lut`, `AddInt` or `MulInt` works *in place*: its result
//!   reuses the buffer of an input whose last use is this node and whose element count and
//!   element size equal the result's (each element is read before the same element is
//!   written, so kernels stay correct).
//!
//! A buffer is live from the first definition of any member to the last use of any member
//! (inclusive: a node's inputs and outputs are live together while it runs). Graph outputs
//! stay live to the end. The float boundary runs outside the kernel sequence, so a graph
//! input's `Quantize` result is live from the start and the operand of a graph output's
//! `Dequantize` to the end.
//!
//! **Placement.** Greedy by size (TFLite's arena planner): buffers are placed largest first,
//! each at the lowest offset where it overlaps no already-placed buffer with an intersecting
//! live interval (ties by definition order). [`MemoryPlan::lower_bound`] is the maximum over
//! program points of the sum of aligned sizes of live buffers; no plan can be smaller.
//!
//! **Phase.** Needs `Integer`, leaves `Scheduled`. Invariant established (checked by the
//! property test): no two buffers with intersecting live intervals overlap in the arena.

use crate::{PassCtx, PassStats};
use ir::{DType, Graph, NodeId, Op, Phase, ValueId};

/// The alignment of every arena offset, and of the arena itself (one 128-byte vector).
pub const ARENA_ALIGN: usize = 128;

/// Where every integer activation lives.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MemoryPlan {
    /// The execution order the liveness was computed on (all live nodes).
    pub order: Vec<NodeId>,
    /// Byte offset per value index (`None`: not in the arena).
    pub offsets: Vec<Option<usize>>,
    /// Buffer id per value index (`None`: not in the arena).
    pub buffer_of: Vec<Option<usize>>,
    /// The buffers (storage shared by views and in-place results).
    pub buffers: Vec<Buffer>,
    /// Total arena size in bytes (a multiple of `align`).
    pub arena_bytes: usize,
    /// Maximum over program points of the sum of the live buffers' aligned sizes.
    pub lower_bound: usize,
    /// The alignment used.
    pub align: usize,
}

/// One region of the arena shared by one or more values.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Buffer {
    /// Byte offset in the arena.
    pub offset: usize,
    /// Size in bytes, rounded up to the alignment.
    pub size: usize,
    /// First program point (index into [`MemoryPlan::order`]) where it is live.
    pub start: usize,
    /// Last program point where it is live (inclusive).
    pub end: usize,
    /// The values stored in it, in definition order.
    pub values: Vec<ValueId>,
}

impl MemoryPlan {
    /// The byte offset of `v`, if it lives in the arena.
    pub fn offset(&self, v: ValueId) -> Option<usize> {
        self.offsets.get(v.index()).copied().flatten()
    }

    /// Whether two buffers are live at a common program point.
    pub fn live_together(&self, a: usize, b: usize) -> bool {
        let (x, y) = (&self.buffers[a], &self.buffers[b]);
        x.start <= y.end && y.start <= x.end
    }
}

/// Bytes of one element's container (packed 4-bit types count 1 here; the arena stores them
/// two per byte, see [`storage_bytes`]).
pub fn elem_bytes(d: DType) -> usize {
    match d {
        DType::F32 | DType::I32 => 4,
        DType::I16 => 2,
        DType::I8 | DType::U8 | DType::I4 | DType::U4 => 1,
    }
}

/// Bytes that `numel` elements of `d` take in the arena: packed 4-bit types (`i4`/`u4`) hold
/// two elements per byte (element `i` in byte `i / 2`, low nibble first), so `ceil(numel / 2)`;
/// every other type `numel * elem_bytes(d)`.
pub fn storage_bytes(d: DType, numel: usize) -> usize {
    match d {
        DType::I4 | DType::U4 => numel.div_ceil(2),
        DType::F32 | DType::I32 | DType::I16 | DType::I8 | DType::U8 => numel * elem_bytes(d),
    }
}

/// Whether `v` lives in the arena: an integer value not produced by `Const`.
pub fn in_arena(g: &Graph, v: ValueId) -> bool {
    g.ty(v).dtype.is_int() && !matches!(g.producer(v).op, Op::Const(_))
}

/// Runs the analysis and moves the graph to `Scheduled` (the emitters recompute [`plan`]).
pub fn run(g: &mut Graph, _ctx: &PassCtx) -> Result<PassStats, crate::PassError> {
    let p = plan(g, ARENA_ALIGN);
    debug_assert!(p.arena_bytes >= p.lower_bound);
    g.phase = Phase::Scheduled;
    Ok(PassStats::default())
}

/// Plans the arena of `g` with every offset a multiple of `align` (a power of two; 0 and 1
/// mean no alignment). The graph must be acyclic (verified).
pub fn plan(g: &Graph, align: usize) -> MemoryPlan {
    plan_typed(g, align, &|v| g.ty(v).dtype)
}

/// Plans like [`plan`] with the element type of every value given by `dtype` instead of its
/// type in `g` (same shapes, same liveness). The precision search plans one lowered program
/// at the bit widths of each candidate this way; `dtype` must keep integer values integer.
pub fn plan_typed(g: &Graph, align: usize, dtype: &dyn Fn(ValueId) -> DType) -> MemoryPlan {
    let align = align.max(1);
    let order = g.topo_order();
    let nv = g.value_bound();
    let mut pos = vec![usize::MAX; g.node_bound()];
    for (i, &n) in order.iter().enumerate() {
        pos[n.index()] = i;
    }
    let end_of_program = order.len().saturating_sub(1);
    // Last use of every value (its definition point when unused).
    let mut last_use = vec![0usize; nv];
    for v in g.value_ids() {
        let def = pos[g.value(v).producer.index()];
        let mut last = def;
        for (user, _) in g.users(v) {
            last = last.max(pos[user.index()]);
        }
        if g.outputs.contains(&v) {
            last = end_of_program;
        }
        last_use[v.index()] = last;
    }
    // The boundary runs outside the kernel sequence: inputs are quantized into the arena
    // before the first kernel and outputs dequantized after the last one.
    let mut first_def = vec![usize::MAX; nv];
    for &v in &g.outputs {
        let node = g.producer(v);
        if matches!(node.op, Op::Dequantize) {
            for &x in &node.inputs {
                last_use[x.index()] = end_of_program;
            }
        }
    }
    for &v in &g.inputs {
        for (user, _) in g.users(v) {
            if matches!(g.node(user).op, Op::Quantize) {
                for &q in &g.node(user).outputs {
                    first_def[q.index()] = 0;
                }
            }
        }
    }

    // Group values into buffers, in execution order.
    let mut buffer_of: Vec<Option<usize>> = vec![None; nv];
    let mut buffers: Vec<Buffer> = Vec::new();
    for (i, &n) in order.iter().enumerate() {
        let node = g.node(n);
        for &out in &node.outputs {
            if !in_arena(g, out) {
                continue;
            }
            let bytes = storage_bytes(dtype(out), g.ty(out).shape.numel());
            let shared = shared_input(g, node, out, &buffer_of, &buffers, &last_use, i, dtype);
            let b = match shared {
                Some(b) => b,
                None => {
                    buffers.push(Buffer {
                        offset: 0,
                        size: round_up(bytes.max(1), align),
                        start: i.min(first_def[out.index()]),
                        end: i,
                        values: Vec::new(),
                    });
                    buffers.len() - 1
                }
            };
            buffer_of[out.index()] = Some(b);
            buffers[b].values.push(out);
            buffers[b].end = buffers[b].end.max(last_use[out.index()]);
        }
    }

    // Greedy by size: largest first, lowest fitting offset.
    let mut by_size: Vec<usize> = (0..buffers.len()).collect();
    by_size.sort_by(|&a, &b| {
        buffers[b]
            .size
            .cmp(&buffers[a].size)
            .then(buffers[a].start.cmp(&buffers[b].start))
    });
    let mut placed: Vec<usize> = Vec::new();
    let mut arena_bytes = 0;
    for b in by_size {
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&p| buffers[p].start <= buffers[b].end && buffers[b].start <= buffers[p].end)
            .map(|&p| (buffers[p].offset, buffers[p].offset + buffers[p].size))
            .collect();
        busy.sort_unstable();
        let size = buffers[b].size;
        // Best fit: the smallest gap that holds the buffer, else the end.
        let mut best: Option<(usize, usize)> = None; // (gap, offset)
        let mut cursor = 0;
        for &(lo, hi) in &busy {
            if lo >= cursor + size {
                let gap = lo - cursor;
                if best.is_none_or(|(g0, _)| gap < g0) {
                    best = Some((gap, cursor));
                }
            }
            cursor = cursor.max(hi);
        }
        let offset = best.map_or(cursor, |(_, o)| o);
        buffers[b].offset = offset;
        arena_bytes = arena_bytes.max(offset + size);
        placed.push(b);
    }

    let mut lower_bound = 0;
    for t in 0..order.len() {
        let live: usize = buffers
            .iter()
            .filter(|b| b.start <= t && t <= b.end)
            .map(|b| b.size)
            .sum();
        lower_bound = lower_bound.max(live);
    }
    let offsets = buffer_of
        .iter()
        .map(|b| b.map(|b| buffers[b].offset))
        .collect();
    MemoryPlan {
        order,
        offsets,
        buffer_of,
        buffers,
        arena_bytes,
        lower_bound,
        align,
    }
}

/// The buffer `out` may share with an input of its node: a view (`Reshape`) or an in-place
/// elementwise result.
#[allow(clippy::too_many_arguments)]
fn shared_input(
    g: &Graph,
    node: &ir::Node,
    out: ValueId,
    buffer_of: &[Option<usize>],
    buffers: &[Buffer],
    last_use: &[usize],
    here: usize,
    dtype: &dyn Fn(ValueId) -> DType,
) -> Option<usize> {
    let elementwise = match &node.op {
        Op::Reshape => return node.inputs.first().and_then(|x| buffer_of[x.index()]),
        Op::Requant(_) | Op::Lut(_) | Op::AddInt(_) | Op::MulInt(_) => true,
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
        | Op::Transpose(_)
        | Op::Pad(_)
        | Op::Resize(_)
        | Op::Quantize
        | Op::Dequantize
        | Op::ConvInt(_)
        | Op::ConvTransposeInt(_)
        | Op::GemmInt(_)
        | Op::MatMulInt
        | Op::SoftmaxInt(_)
        | Op::ResizeInt(_)
        | Op::AvgPoolInt(_) => false,
    };
    if !elementwise {
        return None;
    }
    let oty = g.ty(out);
    node.inputs.iter().find_map(|&x| {
        let b = buffer_of[x.index()]?;
        let xty = g.ty(x);
        let fits = xty.shape.numel() == oty.shape.numel() && dtype(x).bits() == dtype(out).bits();
        // Every member of the buffer must die here (views keep it alive otherwise).
        let escapes = buffers[b].values.iter().any(|v| g.outputs.contains(v));
        (fits && !escapes && buffers[b].end <= here && last_use[x.index()] == here).then_some(b)
    })
}

fn round_up(x: usize, align: usize) -> usize {
    x.div_ceil(align) * align
}

#[cfg(test)]
mod tests;
