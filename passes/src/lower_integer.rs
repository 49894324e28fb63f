//! `lower-integer`: the fake-quantized (Qdq) graph becomes an integer program.
//!
//! **What.** Every `dequantize -> float op -> quantize` pattern is rewritten into the
//! integer op set of `ir::ops` (`conv_int` + `requant`, `add_int`, `lut`, `avg_pool_int`,
//! data movement on integers, ...), with equality saturation in egg: the graph becomes an
//! e-graph ([`crate::egraph::convert`]), the named rules of [`crate::egraph::rules`] add
//! integer alternatives to every float e-class they can lower, and extraction picks the
//! cheapest program under the target's [`CostModel`] (`PassCtx::cost`), in which every float
//! compute op is [`INFEASIBLE`].
//!
//! **Why an e-graph.** Rules stay small and compositional (a conv becomes a dequantized
//! accumulator, the quantize above it then becomes a requantization, a ReLU above it a
//! clamp, and the clamp merges into the requantization), and the choice between
//! alternatives (merging a chain of requantizations or not) is made once, by cost.
//!
//! **Phase.** Needs `Qdq` (the form of `docs/quantization.md`); leaves `Integer`.
//!
//! **Invariants established.**
//! - Between the graph inputs' `quantize` and the graph outputs' `dequantize` every value is
//!   an integer tensor; the extracted cost is below [`INFEASIBLE`], which is the proof.
//! - Every right shift the pass emits rounds with `PassCtx::rounding` (the target's).
//! - Graph inputs, original constants (weights, biases) and output names are kept; other
//!   nodes are rebuilt and named after the node they came from.
//! - A graph that cannot be lowered fully is left unchanged and the pass fails with
//!   [`PassError::Failed`] naming each node that stayed float and why.
//! - Every i32 accumulator is proven not to overflow ([`crate::accum_bound`]); a layer
//!   that could is refused with a diagnostic naming it.
//! - The saturation run has explicit iteration, node and time limits ([`Limits`]).
//!
//! Known approximation: merging two requantizations rounds once where the Qdq graph rounds
//! twice (at most one unit of the output apart; see `rules::requant`).

use crate::egraph::analysis::{EG, QAnalysis, attr, name_of};
use crate::egraph::convert::{graph_to_nodes, nodes_to_graph};
use crate::egraph::cost::{ExtractCost, enode_cost};
use crate::egraph::lang::Tables;
use crate::egraph::{
    Cost, CostModel, DefaultCostModel, INFEASIBLE, Limits, QLang, rules, saturate, stop_reason_name,
};
use crate::{PassCtx, PassError, PassStats};
use egg::{Extractor, Id};
use ir::{Graph, NodeId, Op, Phase};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// What one lowering did (for statistics and the benchmark).
#[derive(Clone, Debug)]
pub struct LowerReport {
    /// E-nodes after saturation.
    pub egraph_nodes: usize,
    /// E-classes after saturation.
    pub egraph_classes: usize,
    /// Saturation iterations.
    pub iterations: usize,
    /// Why saturation stopped.
    pub stop_reason: String,
    /// The extracted program's estimated cycles (tree cost: shared values count per use).
    pub cost: Cost,
    /// Nodes added to the graph.
    pub added: usize,
    /// Wall time of the whole lowering.
    pub time: Duration,
    /// How often each rule changed the e-graph, summed over the iterations, by rule name
    /// (rules that never applied are absent). Filetests use it to show that every rule has
    /// a case that exercises it.
    pub rules_applied: BTreeMap<String, usize>,
}

/// The pass entry point (see the module doc).
pub fn run(g: &mut Graph, ctx: &PassCtx) -> Result<PassStats, PassError> {
    let report = lower(g, ctx, &Limits::default())?;
    Ok(PassStats {
        rewrites: report.added,
    })
}

fn failed(message: String) -> PassError {
    PassError::Failed {
        node: None,
        message,
    }
}

/// Lowers `g` with explicit saturation limits and reports what happened.
pub fn lower(g: &mut Graph, ctx: &PassCtx, limits: &Limits) -> Result<LowerReport, PassError> {
    let start = Instant::now();
    let mut tables = Tables::default();
    let mut eg = EG::new(QAnalysis::new(Tables::default(), ctx.rounding));
    let fwd = graph_to_nodes(g, &mut tables, |n| eg.add(n))
        .map_err(|e| failed(format!("cannot convert the graph to an e-graph: {e}")))?;
    eg.analysis.tables = tables;
    let mut origin: HashMap<Id, NodeId> = HashMap::new();
    for (v, &id) in &fwd.class_of {
        origin.insert(id, g.value(*v).producer);
    }
    for (id, name) in &fwd.names {
        eg.analysis.names.entry(*id).or_insert_with(|| name.clone());
    }
    let runner = saturate(eg, &rules::all_rules(), limits);
    let stop = stop_reason_name(runner.stop_reason.as_ref());
    let iterations = runner.iterations.len();
    let mut rules_applied: BTreeMap<String, usize> = BTreeMap::new();
    for it in &runner.iterations {
        for (name, n) in &it.applied {
            *rules_applied.entry(name.to_string()).or_default() += n;
        }
    }
    let eg = runner.egraph;
    let default_model = DefaultCostModel;
    let model: &dyn CostModel = match ctx.cost.as_deref() {
        Some(m) => m,
        None => &default_model,
    };
    let extractor = Extractor::new(&eg, ExtractCost { eg: &eg, model });
    let root = eg.find(fwd.root);
    let cost = extractor.find_best_cost(root);
    if cost == INFEASIBLE {
        return Err(diagnose(&eg, &extractor, model, root, &origin, &stop));
    }
    let before = g.clone();
    let added = nodes_to_graph(
        g,
        &eg.analysis.tables,
        root,
        |id| extractor.find_best_node(id),
        |id| name_of(&eg, id).unwrap_or_default(),
    )
    .map_err(|e| failed(format!("cannot rebuild the graph from the e-graph: {e}")))?;
    if let Err(e) = crate::accum_bound::check(g) {
        *g = before;
        return Err(e);
    }
    g.phase = Phase::Integer;
    Ok(LowerReport {
        egraph_nodes: eg.total_number_of_nodes(),
        egraph_classes: eg.number_of_classes(),
        iterations,
        stop_reason: stop,
        cost,
        added,
        time: start.elapsed(),
        rules_applied,
    })
}

/// Why an op that stayed float has no integer form, when no rule left a note.
fn generic_reason(op: &Op) -> &'static str {
    match op {
        Op::Sub | Op::Div | Op::BatchNorm(_) | Op::ReduceMean(_) | Op::Softmax(_) => {
            "has no integer form"
        }
        Op::Relu | Op::Clip(_) => "is not followed by a quantize",
        Op::Quantize => "quantizes a float value that is not a graph input",
        Op::Gemm(_) | Op::Conv(_) | Op::ConvTranspose(_) | Op::MatMul => {
            "operands are not dequantized integer values (weights must be quantized constants)"
        }
        Op::Add | Op::Mul => "is not between dequantized operands and a quantize",
        Op::Sigmoid
        | Op::HardSigmoid(_)
        | Op::HardSwish
        | Op::Tanh
        | Op::LeakyRelu(_)
        | Op::PRelu => "is not between a dequantized 8-bit operand and a quantize",
        Op::Resize(_) => "has no integer form for these operands and mode",
        Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::MaxPool(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Slice(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Pad(_) => "operand is not a per-tensor dequantized integer value",
        Op::Input
        | Op::Const(_)
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
        | Op::ResizeInt(_) => "is not supported by the target",
    }
}

/// Names the float nodes of the cheapest (infeasible) program whose operands are all
/// integer: the places where lowering got stuck.
fn diagnose(
    eg: &EG,
    ex: &Extractor<'_, ExtractCost<'_>, QLang, QAnalysis>,
    model: &dyn CostModel,
    root: Id,
    origin: &HashMap<Id, NodeId>,
    stop: &str,
) -> PassError {
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    let mut stuck: Vec<(String, Option<NodeId>)> = Vec::new();
    while let Some(id) = stack.pop() {
        let id = eg.find(id);
        if !seen.insert(id) {
            continue;
        }
        let node = ex.find_best_node(id);
        let children = egg::Language::children(node);
        stack.extend(children.iter().copied());
        if enode_cost(eg, model, node) < INFEASIBLE
            || children.iter().any(|&c| ex.find_best_cost(c) == INFEASIBLE)
        {
            continue;
        }
        let Some(op) = node.parts().and_then(|(_, a, _)| attr(eg, a)) else {
            continue;
        };
        let name = name_of(eg, id).unwrap_or_default();
        let why = eg
            .analysis
            .notes
            .iter()
            .find(|(c, _)| eg.find(*c) == id)
            .map_or_else(|| generic_reason(op).to_string(), |(_, m)| m.clone());
        let node_id = origin
            .iter()
            .find(|(c, _)| eg.find(**c) == id)
            .map(|(_, n)| *n);
        stuck.push((
            format!("node `{name}` (op {}) {why}", op.mnemonic()),
            node_id,
        ));
    }
    stuck.sort();
    let mut message = format!(
        "cannot lower to integer ops: {}",
        stuck
            .iter()
            .map(|(m, _)| m.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    );
    if stuck.is_empty() {
        message.push_str("no integer program found");
    }
    if stop != "saturated" {
        message.push_str(&format!(" (e-graph stopped early: {stop})"));
    }
    PassError::Failed {
        node: stuck.iter().find_map(|(_, n)| *n),
        message,
    }
}
