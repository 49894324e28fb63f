//! The search space and its cost model: knobs (one bit width each), the quantized tensors
//! each knob sets, and the memory and multiplication cost of a configuration.
//!
//! Tensors are found on a Qdq graph built by `insert-qdq`: every `quantize` result is an
//! activation tensor, every quantized constant a weight (or bias) tensor. Which knob sets
//! which tensor is *observed*, not re-derived: each candidate knob is set alone to a test
//! width and the tensors whose bit width changed belong to it (so a max-pool that inherits
//! its input's parameters follows the knob of the layer before it). `insert-qdq` is
//! deterministic, so node ids of the Qdq graph are the same for every configuration.

use crate::calibrate::{Histogram, Method, Scheme, clip_range};
use crate::{LayerPrecision, PassCtx, PassError, QuantConfig};
use ir::{DType, Graph, NodeId, Op, Tensor, ValueId, ValueRange};
use rayon::prelude::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// What a knob sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KnobKind {
    /// The bits of a node's weights.
    Weight,
    /// The bits of a node's output activation.
    Activation,
}

/// One independent bit width of the search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knob {
    /// The node name (a key of `QuantConfig::layers`).
    pub name: String,
    /// Weight or activation bits.
    pub kind: KnobKind,
    /// The allowed widths, most precise first.
    pub ladder: Vec<u32>,
}

/// Memory and multiplication cost of one program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Costs {
    /// Bytes of all quantized constants, bit-packed (`numel * bits / 8`, biases at 32 bits).
    pub weight_bytes: u64,
    /// Bytes of the activation arena the deployed integer program allocates: `plan-memory`
    /// on the lowered program (128-byte aligned buffers, packed 4-bit tensors at half a byte
    /// per element, i32 accumulators fused into their requant left out).
    pub arena_bytes: u64,
    /// Container bytes of every quantized activation tensor of one inference (summed, not
    /// planned: for information, not part of [`Costs::memory`]).
    pub activation_bytes: u64,
    /// Sum over conv/gemm/matmul of `MACs * weight bits * input activation bits`.
    pub mult_cost: u64,
    /// Multiply-accumulates of one inference.
    pub macs: u64,
}

impl Costs {
    /// Weight plus arena bytes: what the deployed program needs besides its code.
    pub fn memory(&self) -> u64 {
        self.weight_bytes + self.arena_bytes
    }
}

/// Multiply-accumulates of one node for one inference (conv, conv-transpose, gemm and matmul,
/// float or integer; 0 for every other op). The report counts MACs with it too.
pub fn macs(g: &Graph, n: NodeId) -> u64 {
    let node = g.node(n);
    let out = |k: usize| g.ty(node.outputs[k]).shape.numel() as u64;
    let in_dims = |k: usize| g.ty(node.inputs[k]).shape.dims().to_vec();
    match &node.op {
        Op::Conv(_) | Op::ConvInt(_) => {
            let w = in_dims(1);
            out(0) * w[1..].iter().product::<usize>() as u64
        }
        Op::ConvTranspose(_) | Op::ConvTransposeInt(_) => {
            let x = g.ty(node.inputs[0]).shape.numel() as u64;
            let w = in_dims(1);
            x * w[1..].iter().product::<usize>() as u64
        }
        Op::Gemm(a) => {
            let av = in_dims(0);
            let k = if a.trans_a { av[0] } else { av[1] };
            out(0) * k as u64
        }
        Op::GemmInt(_) => out(0) * in_dims(0)[1] as u64,
        Op::MatMul | Op::MatMulInt => {
            let a = in_dims(0);
            out(0) * *a.last().unwrap_or(&1) as u64
        }
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
        | Op::Resize(_)
        | Op::Quantize
        | Op::Dequantize
        | Op::Requant(_)
        | Op::AddInt(_)
        | Op::MulInt(_)
        | Op::AvgPoolInt(_)
        | Op::Lut(_)
        | Op::SoftmaxInt(_)
        | Op::ResizeInt(_) => 0,
    }
}

/// Bits of a quantized tensor: the parameters' width.
fn quant_bits(g: &Graph, n: NodeId) -> Option<u32> {
    let node = g.node(n);
    let ty = g.ty(*node.outputs.first()?);
    if matches!(node.op, Op::Quantize | Op::Const(_)) {
        ty.quant.as_ref().map(|q| q.bits)
    } else {
        None
    }
}

/// Bytes of a tensor of `numel` elements of `bits` each, rounded up.
fn bytes(numel: u64, bits: u32) -> u64 {
    (numel * u64::from(bits)).div_ceil(8)
}

/// The node producing the quantized operand behind a `dequantize` result.
fn quantized_source(g: &Graph, v: ir::ValueId) -> Option<NodeId> {
    let d = g.producer(v);
    if !matches!(d.op, Op::Dequantize) {
        return None;
    }
    let src = g.value(d.inputs[0]).producer;
    matches!(g.node(src).op, Op::Quantize | Op::Const(_)).then_some(src)
}

/// Lowers a copy of a Qdq-phase graph to the integer program.
fn lowered(g: &Graph, ctx: &PassCtx) -> Result<Graph, PassError> {
    let mut l = g.clone();
    crate::lower_integer::run(&mut l, ctx)?;
    Ok(l)
}

/// Arena bytes of an integer program as `plan-memory` places it.
fn arena_of(g: &Graph, dtype: &dyn Fn(ValueId) -> DType) -> u64 {
    crate::plan_memory::plan_typed(g, crate::plan_memory::ARENA_ALIGN, dtype).arena_bytes as u64
}

/// Measured costs of a Qdq-phase graph (the definition the model below reproduces); the
/// arena is planned on its integer lowering (an error when it does not lower).
pub fn qdq_costs(g: &Graph, ctx: &PassCtx) -> Result<Costs, PassError> {
    let l = lowered(g, ctx)?;
    let mut c = qdq_costs_unplanned(g);
    c.arena_bytes = arena_of(&l, &|v| l.ty(v).dtype);
    Ok(c)
}

/// [`qdq_costs`] without the arena.
fn qdq_costs_unplanned(g: &Graph) -> Costs {
    let mut c = Costs::default();
    for n in g.node_ids() {
        let node = g.node(n);
        if let Some(bits) = quant_bits(g, n) {
            let ty = g.ty(node.outputs[0]);
            let numel = ty.shape.numel() as u64;
            if matches!(node.op, Op::Quantize) {
                c.activation_bytes += bytes(numel, ty.dtype.bits());
            } else {
                c.weight_bytes += bytes(numel, bits);
            }
        }
        let m = macs(g, n);
        if m > 0 {
            let bits_of = |k: usize| {
                node.inputs
                    .get(k)
                    .and_then(|&v| quantized_source(g, v))
                    .and_then(|s| quant_bits(g, s))
                    .unwrap_or(32)
            };
            c.macs += m;
            c.mult_cost += m * u64::from(bits_of(0)) * u64::from(bits_of(1));
        }
    }
    c
}

/// One quantized tensor of the Qdq graph.
#[derive(Clone, Debug)]
struct TensorRec {
    numel: u64,
    activation: bool,
    /// The knob that sets its width, if any.
    knob: Option<usize>,
    /// Its width in the all-8-bit program.
    base_bits: u32,
}

/// One conv/gemm/matmul: its MACs and the tensors of its two operands.
#[derive(Clone, Debug)]
struct MacRec {
    macs: u64,
    a: Option<usize>,
    b: Option<usize>,
}

/// The knobs of a calibrated graph and the cost of any setting of them.
#[derive(Clone, Debug)]
pub(crate) struct SearchSpace {
    pub knobs: Vec<Knob>,
    /// Per knob: the clipping ranges its float values take at 4 bits or fewer.
    low_ranges: Vec<Vec<(ValueId, ValueRange)>>,
    tensors: Vec<TensorRec>,
    macs: Vec<MacRec>,
    base: DType,
    /// The all-8-bit integer program, whose arena is planned at each candidate's widths.
    int8: Graph,
    /// Per value index of `int8`: the activation knob that sets its width, if any.
    int_knob: Vec<Option<usize>>,
    /// Planned arenas by the widths of the knobs in `int_knob` (the greedy path asks for
    /// the same ones many times).
    arenas: RefCell<HashMap<Vec<u32>, u64>>,
}

/// Bits per knob, in [`SearchSpace::knobs`] order.
pub(crate) type Config = Vec<u32>;

/// The Qdq program of `calibrated` with `layers` as the precision overrides and `ranges`
/// replacing the calibrated clipping ranges of those values: `insert-qdq`,
/// `fuse-activations` and `optimize-weights` (on `ctx.calib`), as the compiler builds it.
pub fn build_qdq(
    calibrated: &Graph,
    ctx: &PassCtx,
    layers: BTreeMap<String, LayerPrecision>,
    ranges: &[(ValueId, ValueRange)],
) -> Result<Graph, PassError> {
    let samples = ctx.calib.as_deref().map_or(&[][..], |s| &s[..]);
    Ok(build_qdq_on(calibrated, ctx, layers, ranges, samples)?.0)
}

/// Graph outputs per sample.
pub(crate) type Outputs = Vec<Vec<Tensor>>;

/// [`build_qdq`] with `optimize-weights` on `samples`; also returns the program's outputs
/// on them when the weight optimization ran the batch.
pub(crate) fn build_qdq_on(
    calibrated: &Graph,
    ctx: &PassCtx,
    layers: BTreeMap<String, LayerPrecision>,
    ranges: &[(ValueId, ValueRange)],
    samples: &[Vec<Tensor>],
) -> Result<(Graph, Option<Outputs>), PassError> {
    let mut g = calibrated.clone();
    for &(v, r) in ranges {
        g.value_mut(v).range = Some(r);
    }
    let mut c = ctx.clone();
    c.quant = QuantConfig {
        layers,
        ..ctx.quant.clone()
    };
    c.progress = None;
    crate::insert_qdq::run(&mut g, &c)?;
    crate::fuse_activations::run(&mut g, &c)?;
    let o = crate::optimize_weights::optimize(&mut g, &c, samples)?;
    Ok((g, o.outputs))
}

/// The integer programs with the activation of `name` at each non-8 width of `ladder` (and
/// everything else at 8 bits), or `None` when one of them does not lower.
fn lowered_at_every_width(
    calibrated: &Graph,
    ctx: &PassCtx,
    name: &str,
    ladder: &[u32],
) -> Option<Vec<(u32, Graph)>> {
    ladder
        .iter()
        .filter(|&&b| b != 8)
        .map(|&b| {
            let mut layers = BTreeMap::new();
            layers.insert(
                name.to_string(),
                set_bits(LayerPrecision::default(), KnobKind::Activation, b),
            );
            let g = build_qdq(calibrated, ctx, layers, &[]).ok()?;
            Some((b, lowered(&g, ctx).ok()?))
        })
        .collect()
}

/// The values of `probe` whose integer width differs from `int8`'s, when both programs have
/// the same values (shapes included); `None` when the lowering changed the program's shape.
fn retyped(int8: &Graph, probe: &Graph) -> Option<Vec<ValueId>> {
    if int8.value_bound() != probe.value_bound() {
        return None;
    }
    let mut out = Vec::new();
    for v in int8.value_ids() {
        if !probe.contains_value(v) {
            return None;
        }
        let (a, b) = (int8.ty(v), probe.ty(v));
        if a.shape != b.shape {
            return None;
        }
        if a.dtype != b.dtype && a.dtype.is_int() && b.dtype.is_int() {
            out.push(v);
        }
    }
    Some(out)
}

/// The bits of every quantized tensor, by node.
fn bit_map(g: &Graph) -> HashMap<NodeId, u32> {
    g.node_ids()
        .filter_map(|n| quant_bits(g, n).map(|b| (n, b)))
        .collect()
}

impl SearchSpace {
    /// Finds the knobs of `calibrated` (weights on `weight_ladder`, activations on
    /// `act_ladder`, both most precise first) by building one Qdq graph per candidate.
    pub fn new(
        calibrated: &Graph,
        ctx: &PassCtx,
        weight_ladder: &[u32],
        act_ladder: &[u32],
    ) -> Result<SearchSpace, PassError> {
        // The structure (knobs, tensors, the integer program's values) does not depend on
        // how weights are rounded: observe it on nearest rounding, which needs no batch run.
        let nearest = PassCtx {
            quant: QuantConfig {
                weight_rounding: crate::WeightRounding::Nearest,
                ..ctx.quant.clone()
            },
            ..ctx.clone()
        };
        let ctx = &nearest;
        let g0 = build_qdq(calibrated, ctx, BTreeMap::new(), &[])?;
        let int8 = lowered(&g0, ctx)?;
        let mut int_knob: Vec<Option<usize>> = vec![None; int8.value_bound()];
        let base_bits = bit_map(&g0);
        let order = g0.topo_order();
        let mut index: HashMap<NodeId, usize> = HashMap::new();
        let mut tensors = Vec::new();
        // Where each node runs, to list knobs in layer order.
        let pos: HashMap<NodeId, usize> = order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        let layer_pos = |n: NodeId| -> usize {
            let node = g0.node(n);
            let at = |m: NodeId| pos.get(&m).copied().unwrap_or(usize::MAX);
            if matches!(node.op, Op::Quantize) {
                return at(g0.value(node.inputs[0]).producer);
            }
            // A constant: the layer reading its dequantized value.
            let users = g0.users(node.outputs[0]);
            users
                .iter()
                .flat_map(|&(d, _)| g0.users(g0.node(d).outputs[0]))
                .map(|(u, _)| at(u))
                .min()
                .unwrap_or(usize::MAX)
        };
        let mut candidates: Vec<(usize, KnobKind, String)> = Vec::new();
        for &n in &order {
            let Some(&bits) = base_bits.get(&n) else {
                continue;
            };
            let node = g0.node(n);
            let activation = matches!(node.op, Op::Quantize);
            index.insert(n, tensors.len());
            tensors.push(TensorRec {
                numel: g0.ty(node.outputs[0]).shape.numel() as u64,
                activation,
                knob: None,
                base_bits: bits,
            });
            let kind = if activation {
                KnobKind::Activation
            } else if bits < 32 {
                KnobKind::Weight
            } else {
                continue;
            };
            if !candidates.iter().any(|c| c.1 == kind && c.2 == node.name) {
                candidates.push((layer_pos(n), kind, node.name.clone()));
            }
        }
        candidates.sort();
        let mut knobs = Vec::new();
        let mut own_values: Vec<Vec<ValueId>> = Vec::new();
        for (_, kind, name) in candidates {
            let ladder = match kind {
                KnobKind::Weight => weight_ladder,
                KnobKind::Activation => act_ladder,
            };
            // Probe with a width that differs from the all-8-bit one.
            let Some(&probe) = ladder.iter().rev().find(|&&b| b != 8) else {
                continue;
            };
            let mut layers = BTreeMap::new();
            layers.insert(
                name.clone(),
                set_bits(LayerPrecision::default(), kind, probe),
            );
            let g = build_qdq(calibrated, ctx, layers, &[])?;
            let mut changed: Vec<NodeId> = bit_map(&g)
                .into_iter()
                .filter(|(n, b)| base_bits.get(n) != Some(b))
                .map(|(n, _)| n)
                .collect();
            changed.sort();
            if changed.is_empty() {
                continue;
            }
            // An activation width the integer lowering refuses (a table op such as sigmoid
            // or hard-swish needs 8-bit inputs; an i16 product may not fit i32) is no choice:
            // such a knob stays at 8 bits.
            let k = knobs.len();
            if kind == KnobKind::Activation {
                let Some(progs) = lowered_at_every_width(calibrated, ctx, &name, ladder) else {
                    continue;
                };
                // The integer values this knob retypes (the arena's view of the knob). A
                // lowering whose program differs in shape leaves the arena model blind to
                // the knob (the measured costs of the result stay exact).
                if let Some((_, p)) = progs.iter().find(|(b, _)| *b == probe)
                    && let Some(vs) = retyped(&int8, p)
                {
                    for v in vs {
                        int_knob[v.index()] = Some(k);
                    }
                }
            }
            let mut own = Vec::new();
            for n in changed {
                if let Some(&t) = index.get(&n) {
                    tensors[t].knob = Some(k);
                }
                // The knob's own float values (not an inheriting max-pool's), except graph
                // outputs, which keep their observed range.
                let node = g0.node(n);
                if matches!(node.op, Op::Quantize) && node.name == name {
                    let v = node.inputs[0];
                    if !calibrated.outputs.contains(&v) && calibrated.contains_value(v) {
                        own.push(v);
                    }
                }
            }
            own_values.push(own);
            knobs.push(Knob {
                name,
                kind,
                ladder: ladder.to_vec(),
            });
        }
        let macs = order
            .iter()
            .filter_map(|&n| {
                let m = macs(&g0, n);
                let node = g0.node(n);
                let operand = |k: usize| {
                    node.inputs
                        .get(k)
                        .and_then(|&v| quantized_source(&g0, v))
                        .and_then(|s| index.get(&s).copied())
                };
                (m > 0).then(|| MacRec {
                    macs: m,
                    a: operand(0),
                    b: operand(1),
                })
            })
            .collect();
        let samples = ctx.calib.as_deref().map_or(&[][..], |s| &s[..]);
        let low_ranges = low_bit_ranges(calibrated, samples, &own_values, ctx.quant.activation)?;
        Ok(SearchSpace {
            knobs,
            low_ranges,
            tensors,
            macs,
            base: ctx.quant.activation,
            int8,
            int_knob,
            arenas: RefCell::new(HashMap::new()),
        })
    }

    /// Every knob at `bits`, whatever the ladders allow.
    pub fn uniform(&self, bits: u32) -> Config {
        vec![bits; self.knobs.len()]
    }

    /// Every knob at 8 bits (or its ladder's closest width).
    pub fn all8(&self) -> Config {
        self.knobs
            .iter()
            .map(|k| {
                *k.ladder
                    .iter()
                    .min_by_key(|&&b| (b as i64 - 8).abs())
                    .unwrap_or(&8)
            })
            .collect()
    }

    /// Every knob at its most precise width.
    pub fn top(&self) -> Config {
        self.knobs
            .iter()
            .map(|k| k.ladder.first().copied().unwrap_or(8))
            .collect()
    }

    fn bits(&self, c: &Config, t: usize) -> u32 {
        let r = &self.tensors[t];
        r.knob.map_or(r.base_bits, |k| c[k])
    }

    /// The modelled costs of `c` (equal to [`qdq_costs`] of its Qdq graph).
    pub fn costs(&self, c: &Config) -> Costs {
        let mut out = Costs::default();
        for (t, r) in self.tensors.iter().enumerate() {
            let b = self.bits(c, t);
            if r.activation {
                let container = if r.knob.is_some() {
                    crate::activation_dtype(self.base, b).bits()
                } else {
                    crate::activation_dtype(self.base, r.base_bits).bits()
                };
                out.activation_bytes += bytes(r.numel, container);
            } else {
                out.weight_bytes += bytes(r.numel, b);
            }
        }
        for m in &self.macs {
            let w = |t: Option<usize>| t.map_or(32, |t| self.bits(c, t));
            out.macs += m.macs;
            out.mult_cost += m.macs * u64::from(w(m.a)) * u64::from(w(m.b));
        }
        out.arena_bytes = self.arena(c);
        out
    }

    /// Arena bytes of `c`: the all-8-bit integer program planned with each knob's values at
    /// the knob's width (only the element width matters to the plan).
    fn arena(&self, c: &Config) -> u64 {
        let key: Vec<u32> = self.int_knob.iter().flatten().map(|&k| c[k]).collect();
        if let Some(&a) = self.arenas.borrow().get(&key) {
            return a;
        }
        let g = &self.int8;
        let dtype = |v: ValueId| {
            let d = g.ty(v).dtype;
            match self.int_knob.get(v.index()).copied().flatten() {
                None => d,
                Some(k) => match c[k] {
                    0..=4 if d.is_signed() => DType::I4,
                    0..=4 => DType::U4,
                    5..=8 => d,
                    _ => DType::I16,
                },
            }
        };
        let a = arena_of(g, &dtype);
        self.arenas.borrow_mut().insert(key, a);
        a
    }

    /// The clipping ranges replacing the calibrated ones in `c` (activations at 4 bits or
    /// fewer take the range minimizing their squared error at that width).
    pub fn ranges(&self, c: &Config) -> Vec<(ValueId, ValueRange)> {
        self.knobs
            .iter()
            .zip(c)
            .zip(&self.low_ranges)
            .filter(|((k, b), _)| k.kind == KnobKind::Activation && **b <= 4)
            .flat_map(|(_, r)| r.iter().copied())
            .collect()
    }

    /// The `QuantConfig::layers` overrides of `c`.
    pub fn layers(&self, c: &Config) -> BTreeMap<String, LayerPrecision> {
        let mut out: BTreeMap<String, LayerPrecision> = BTreeMap::new();
        for (k, &b) in self.knobs.iter().zip(c) {
            let e = out.entry(k.name.clone()).or_default();
            *e = set_bits(*e, k.kind, b);
        }
        out
    }
}

fn set_bits(mut p: LayerPrecision, kind: KnobKind, bits: u32) -> LayerPrecision {
    match kind {
        KnobKind::Weight => p.weight_bits = Some(bits),
        KnobKind::Activation => p.activation_bits = Some(bits),
    }
    p
}

/// For each knob's float values, the clipping range minimizing the expected squared error of
/// 4-bit asymmetric quantization ([`Method::Mse`]) over the calibration batch: with 16 levels
/// a min/max range spends most of them on rare outliers. One float run of the batch, samples
/// in parallel chunks, observed in sample order (deterministic).
fn low_bit_ranges(
    g: &Graph,
    samples: &[Vec<Tensor>],
    values: &[Vec<ValueId>],
    _base: DType,
) -> Result<Vec<Vec<(ValueId, ValueRange)>>, PassError> {
    let wanted: Vec<ValueId> = values.iter().flatten().copied().collect();
    let mut hists: HashMap<ValueId, Histogram> =
        wanted.iter().map(|&v| (v, Histogram::new())).collect();
    let chunk = (rayon::current_num_threads() * 2).max(4);
    for part in samples.chunks(chunk) {
        let seen: Vec<Vec<(ValueId, Vec<f32>)>> = part
            .par_iter()
            .map(|s| {
                let mut out = Vec::new();
                ir::interp::run_float_observed(g, s, &mut |v, t| {
                    if hists.contains_key(&v)
                        && let Some(x) = t.as_f32()
                    {
                        out.push((v, x.to_vec()));
                    }
                })
                .map(|_| out)
                .map_err(|e| PassError::Failed {
                    node: None,
                    message: format!("precision search, clipping ranges: {e}"),
                })
            })
            .collect::<Result<_, _>>()?;
        for (v, x) in seen.into_iter().flatten() {
            if let Some(h) = hists.get_mut(&v) {
                h.observe(&x);
            }
        }
    }
    let scheme = Scheme {
        bits: 4,
        symmetric: false,
    };
    Ok(values
        .iter()
        .map(|vs| {
            vs.iter()
                .filter_map(|v| {
                    let h = hists.get(v)?;
                    let c = clip_range(h, Method::Mse, scheme).ok()?;
                    let (lo, hi) = (c.lo.min(0.0), c.hi.max(0.0));
                    (hi > lo).then_some((*v, ValueRange { lo, hi }))
                })
                .collect()
        })
        .collect())
}
