//! `plan-memory`: a static memory plan placing every integer activation in one arena.
//!
//! **What.** [`plan`] is a pure analysis: it orders the nodes (a deterministic topological
//! order), computes the live interval of every integer activation (every integer value that
//! is not produced by a `Const`; f32 values are the program's boundary and live outside the
//! arena) and gives each one a byte offset in a single arena, aligned to `align` bytes (128
//! for every target: one HVX vector).
//!
//! **Fused accumulators.** A production kernel computes each output of a convolution,
//! requantizes it and stores the narrow value: its i32 accumulator tensor never exists.
//! [`fused_accumulators`] is the one definition of which accumulators that applies to (an
//! i32 result of `conv_int`/`gemm_int`/`matmul_int` whose only use is one `requant` whose
//! channel layout the kernels' epilogue can index, and that is not a graph output;
//! `conv_transpose_int` scatters into its accumulator, so it stays materialized). [`plan`]
//! gives these values no slot ([`MemoryPlan::fused`], offset `None`) and leaves them out of
//! the lower bound; the fused `requant`'s result is live from the producer's program point
//! (the fused kernel writes it while reading the producer's inputs). `backends::program::
//! build_fast` emits every such pair as one call; callers that still materialize every
//! accumulator (the unfused generic program) use [`plan_unfused`].
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
//! **Placement.** Greedy (TFLite's arena planner): buffers are placed one by one, each at
//! the smallest (best fit) or lowest (first fit) gap where it overlaps no already-placed
//! buffer with an intersecting live interval. Six orders are tried (largest first, which is
//! TFLite's; by start; by lifetime; by size times lifetime; by size then end; by end) with
//! both fits, then, while the arena is above the lower bound, up to `PERTURBATIONS`
//! deterministic random perturbations of largest-first; the smallest arena is kept (fused
//! requant results, live from their producer on, make plain largest-first miss the bound
//! by 6% on `tiny_detector`). [`MemoryPlan::lower_bound`] is the maximum over
//! program points of the sum of aligned sizes of live buffers; no plan can be smaller.
//!
//! **Phase.** Needs `Integer`, leaves `Scheduled`. Invariants established (checked by the
//! property test and the unit tests): no two buffers with intersecting live intervals overlap
//! in the arena; every integer non-constant value has an offset except exactly the fused
//! accumulators of [`plan`], which have none (and no buffer).

use crate::{PassCtx, PassStats};
use ir::{DType, Graph, NodeId, Op, Phase, ValueId};

/// A placement order: buffers sorted by this key (ties by index).
type OrderKey = dyn Fn(&Buffer) -> (usize, usize, usize);

/// Random orders tried when the fixed orders leave the arena above the lower bound.
const PERTURBATIONS: usize = 48;

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
    /// Per value index: an accumulator fused into its `requant` ([`fused_accumulators`]),
    /// which has no slot. All `false` in a [`plan_unfused`] plan.
    pub fused: Vec<bool>,
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

    /// Whether `v` is an accumulator fused into its `requant` (it has no slot).
    pub fn is_fused(&self, v: ValueId) -> bool {
        self.fused.get(v.index()).copied().unwrap_or(false)
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

/// The `requant` node that accumulator `v` is fused into, if `v` is one
/// ([`fused_accumulators`]).
pub fn fused_requant(g: &Graph, v: ValueId) -> Option<NodeId> {
    let ty = g.ty(v);
    if ty.dtype != DType::I32 || g.outputs.contains(&v) {
        return None;
    }
    let rank = ty.shape.dims().len();
    // The channel axis of the producer's result (what the epilogue indexes tables by).
    let ch_axis = match &g.producer(v).op {
        Op::ConvInt(_) | Op::GemmInt(_) => 1,
        Op::MatMulInt => rank.checked_sub(1)?,
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
        | Op::Reshape
        | Op::Quantize
        | Op::Dequantize
        | Op::ConvTransposeInt(_)
        | Op::Requant(_)
        | Op::Lut(_)
        | Op::AddInt(_)
        | Op::MulInt(_)
        | Op::SoftmaxInt(_)
        | Op::ResizeInt(_)
        | Op::AvgPoolInt(_) => return None,
    };
    if g.producer(v).outputs.len() != 1 || ch_axis >= rank {
        return None;
    }
    let users = g.users(v);
    let [(r, 0)] = users.as_slice() else {
        return None;
    };
    let Op::Requant(a) = &g.node(*r).op else {
        return None;
    };
    if g.node(*r).inputs.len() != 1 || !g.ty(g.node(*r).outputs[0]).dtype.is_int() {
        return None;
    }
    let channels = ty.shape.dims()[ch_axis];
    let per_channel = a.axis == ch_axis && a.multipliers.len() == channels;
    if a.multipliers.len() != 1 && !per_channel {
        return None;
    }
    // The input zero points must be indexable like the multipliers.
    let zp_ok = match ty.quant.as_ref().map(|q| &q.granularity) {
        None | Some(ir::QuantGranularity::PerTensor { .. }) => true,
        Some(ir::QuantGranularity::PerAxis {
            axis, zero_points, ..
        }) => {
            zero_points.iter().all(|&z| z == 0)
                || (per_channel && *axis == ch_axis && zero_points.len() == channels)
        }
    };
    zp_ok.then_some(*r)
}

/// Per value index: whether the value is an i32 accumulator the emitted program never
/// materializes. It is the result of `conv_int`, `gemm_int` or `matmul_int` (not
/// `conv_transpose_int`, which scatters into its whole accumulator), not a graph output, and
/// its only use is one `requant` with one multiplier or one per channel of the producer's
/// channel axis (1 for `conv_int`/`gemm_int`, the last for `matmul_int`), with input zero
/// points indexable the same way. `backends::program::build_fast` computes each such pair
/// in one kernel call.
pub fn fused_accumulators(g: &Graph) -> Vec<bool> {
    let mut fused = vec![false; g.value_bound()];
    for v in g.value_ids() {
        fused[v.index()] = fused_requant(g, v).is_some();
    }
    fused
}

/// Plans the arena of `g` with every offset a multiple of `align` (a power of two; 0 and 1
/// mean no alignment), with the [`fused_accumulators`] left out. The graph must be acyclic
/// (verified).
pub fn plan(g: &Graph, align: usize) -> MemoryPlan {
    plan_typed(g, align, &|v| g.ty(v).dtype)
}

/// Plans like [`plan`] but gives every integer activation a slot, fused accumulators
/// included (for programs that materialize them: `backends::program::build`).
pub fn plan_unfused(g: &Graph, align: usize) -> MemoryPlan {
    plan_with(g, align, &|v| g.ty(v).dtype, false)
}

/// Plans like [`plan`] with the element type of every value given by `dtype` instead of its
/// type in `g` (same shapes, same liveness). The precision search plans one lowered program
/// at the bit widths of each candidate this way; `dtype` must keep integer values integer.
pub fn plan_typed(g: &Graph, align: usize, dtype: &dyn Fn(ValueId) -> DType) -> MemoryPlan {
    plan_with(g, align, dtype, true)
}

fn plan_with(g: &Graph, align: usize, dtype: &dyn Fn(ValueId) -> DType, fuse: bool) -> MemoryPlan {
    let align = align.max(1);
    let fused = if fuse {
        fused_accumulators(g)
    } else {
        vec![false; g.value_bound()]
    };
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

    // A fused requant's result is written while its producer runs.
    for v in g.value_ids() {
        if fused[v.index()] {
            let producer = pos[g.value(v).producer.index()];
            for (r, _) in g.users(v) {
                for &out in &g.node(r).outputs {
                    first_def[out.index()] = first_def[out.index()].min(producer);
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
            if !in_arena(g, out) || fused[out.index()] {
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

    let mut lower_bound = 0;
    for t in 0..order.len() {
        let live: usize = buffers
            .iter()
            .filter(|b| b.start <= t && t <= b.end)
            .map(|b| b.size)
            .sum();
        lower_bound = lower_bound.max(live);
    }
    // Greedy placement under a few orders (TFLite's largest-first, then by start, by
    // lifetime, by size x lifetime); the smallest arena wins (ties: the first order).
    let orders: [&OrderKey; 6] = [
        &|b| (usize::MAX - b.size, b.start, 0),
        &|b| (b.start, usize::MAX - b.size, 0),
        &|b| (usize::MAX - (b.end - b.start), usize::MAX - b.size, b.start),
        &|b| {
            (
                usize::MAX - b.size.saturating_mul(b.end - b.start + 1),
                b.start,
                0,
            )
        },
        &|b| (usize::MAX - b.size, usize::MAX - b.end, 0),
        &|b| (usize::MAX - b.end, usize::MAX - b.size, 0),
    ];
    let mut best: Option<(usize, Vec<usize>)> = None;
    for key in orders {
        let mut by: Vec<usize> = (0..buffers.len()).collect();
        by.sort_by_key(|&i| (key(&buffers[i]), i));
        for best_fit in [true, false] {
            let (bytes, offsets) = place(&buffers, &by, best_fit);
            if best.as_ref().is_none_or(|(b0, _)| bytes < *b0) {
                best = Some((bytes, offsets));
            }
        }
    }
    // Above the lower bound: a few deterministic perturbations of the largest-first order
    // (each buffer swapped with one of the next two at random), stopping at the bound.
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut by0: Vec<usize> = (0..buffers.len()).collect();
    by0.sort_by_key(|&i| (usize::MAX - buffers[i].size, buffers[i].start, i));
    for _ in 0..PERTURBATIONS {
        if best.as_ref().is_none_or(|(b0, _)| *b0 <= lower_bound) {
            break;
        }
        let mut by = by0.clone();
        for i in 0..by.len() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let j = (i + (rng % 3) as usize).min(by.len() - 1);
            by.swap(i, j);
        }
        for best_fit in [true, false] {
            let (bytes, offsets) = place(&buffers, &by, best_fit);
            if best.as_ref().is_none_or(|(b0, _)| bytes < *b0) {
                best = Some((bytes, offsets));
            }
        }
    }
    let (arena_bytes, placed) = best.unwrap_or_default();
    for (b, off) in buffers.iter_mut().zip(placed) {
        b.offset = off;
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
        fused,
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

/// Places `buffers` in the order `by`, each at the offset of the smallest gap (`best_fit`,
/// else the lowest gap) that holds it among the already-placed buffers live with it (else
/// after them). Returns the arena size
/// and the offset of every buffer.
fn place(buffers: &[Buffer], by: &[usize], best_fit: bool) -> (usize, Vec<usize>) {
    let mut offsets = vec![0usize; buffers.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut arena_bytes = 0;
    for &b in by {
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&p| buffers[p].start <= buffers[b].end && buffers[b].start <= buffers[p].end)
            .map(|&p| (offsets[p], offsets[p] + buffers[p].size))
            .collect();
        busy.sort_unstable();
        let size = buffers[b].size;
        // Best fit: the smallest gap that holds the buffer, else the end.
        let mut best: Option<(usize, usize)> = None; // (gap, offset)
        let mut cursor = 0;
        for &(lo, hi) in &busy {
            if lo >= cursor + size {
                let gap = lo - cursor;
                if best.is_none_or(|(g0, _)| best_fit && gap < g0) {
                    best = Some((gap, cursor));
                }
            }
            cursor = cursor.max(hi);
        }
        let offset = best.map_or(cursor, |(_, o)| o);
        offsets[b] = offset;
        arena_bytes = arena_bytes.max(offset + size);
        placed.push(b);
    }
    (arena_bytes, offsets)
}

fn round_up(x: usize, align: usize) -> usize {
    x.div_ceil(align) * align
}

#[cfg(test)]
mod tests;
