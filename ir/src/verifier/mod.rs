//! The IR verifier: checks every invariant a well-formed [`Graph`] must satisfy.
//!
//! [`verify`] accumulates errors instead of stopping at the first one. An error is *fatal*
//! when checks that depend on the broken fact were skipped because of it (a dead operand
//! stops every later stage; a wrong operand count stops the attribute checks of that node).
//! Each error carries the node it is about (or none for graph-level errors) and the printed
//! `.qir` line of that node as context. [`VerifierErrors::render_annotated`] prints the whole
//! graph with `// error: ...` lines under the offending lines.
//!
//! # Invariants
//!
//! ## Structure (`structure.rs`; any failure here is fatal and stops the later stages)
//! - every operand of every node is a live value;
//! - every result of a node is a live value whose `producer` is that node and whose
//!   `output_index` is the result's position;
//! - every live value has a live producer that lists it as a result;
//! - graph inputs are live, distinct, and produced by [`crate::Op::Input`] nodes; every `input`
//!   node's result is a graph input;
//! - graph outputs are live;
//! - the graph has no cycle (every node on a cycle is reported).
//!
//! ## Operations (`ops.rs`)
//! - arity: the number of operands and results fits the op (e.g. `conv` takes 2 or 3
//!   operands, `split` has one result per size); a wrong count is fatal for that node;
//! - attribute sanity against the operand types: strides, dilations and kernel sizes are
//!   positive with one entry per spatial dim, `pads` has two entries per spatial dim (per dim
//!   for `pad`), `group` divides the input and output channels, the weight's channel count
//!   matches, a bias has one entry per output channel, `perm` is a permutation, split sizes sum
//!   to the axis size, axes (`softmax`, `concat`, `split`, `reduce_mean`) are in range and
//!   `reduce_mean` axes are sorted and distinct, slice steps are non-zero with one start and
//!   step per dim and starts in range, clip bounds are ordered, float attributes that must be
//!   finite are, resize scales are positive and finite with one per dim;
//! - output-type consistency: a node's result types equal the types inferred from its
//!   operands (`ir::infer`, see `check_inferred_types` below), quantization included for
//!   ops that keep their operand's.
//!
//! ## Types (`types.rs`)
//! - shapes do not overflow `usize` when multiplied out;
//! - quantization parameters appear only on integer element types; the bit width is between
//!   1 and the storage width; scales are positive and finite; zero points fit the quantized
//!   range (`bits` wide, signed like the storage type); per-axis parameters have an axis below
//!   the rank and exactly one scale and one zero point per index of that axis; `pow2` scales
//!   are exact powers of two;
//! - constants: the element count equals the shape's, the storage can hold the element type,
//!   every element fits the element type (and the quantized bit width, if narrower), and the
//!   tensor's element type and shape equal its result's.
//!
//! ## Integer and boundary ops (`ops.rs`)
//! - `quantize` takes f32 and gives an integer type with quantization parameters, same shape;
//!   `dequantize` the reverse;
//! - `conv_int`/`conv_transpose_int`/`gemm_int`: activation u8/i8/i16 quantized per tensor,
//!   weight i8/i4 with zero points 0, optional i32 bias, i32 accumulator with zero points 0;
//!   `matmul_int`: two per-tensor activations into i32;
//! - `requant`: one multiplier or one per index of `axis`; `add_int`/`mul_int`: per-tensor
//!   operands, `shift <= 31`; multipliers have `m0 >= 0` and a shift in `[-31, 31]`; clamps
//!   have `lo <= hi` within the result's quantized range;
//! - `lut`: 8-bit operand, 256 entries per channel of `axis` (or 256), entries within the
//!   result range; `softmax_int`: 8-bit operand, 256 `exp_table` entries in
//!   `[0, 2^exp_bits]`, `exp_bits` in `1..=30`; `resize_int`: linear, 8/16-bit operand,
//!   `frac_bits` in `1..=15`;
//! - data movement (`max_pool`, `concat`, `split`, `slice`, `reshape`, `transpose`, `pad`,
//!   `resize`), `avg_pool_int` and `resize_int` keep their operand's element type and
//!   quantization (all `concat` operands share them); a constant `pad` of an integer tensor
//!   fills with an integer of its range; linear `resize` of integers is `resize_int`.
//!
//! ## Phase (`phase.rs`)
//! - `float` and `calibrated`: every value is f32 without quantization parameters; no
//!   `quantize`, `dequantize` or integer op;
//! - `qdq`: `quantize`/`dequantize` around float ops; float ops take only f32 operands (the
//!   integer values between a `quantize` and a `dequantize` may pass data-movement ops); no
//!   integer op;
//! - `integer` and `scheduled`: no float compute op; f32 only at the boundary: graph inputs
//!   feed `quantize` (which converts nothing else), `dequantize` results are graph outputs
//!   (`phase::converts_at_boundary`), and no other op takes or makes f32.

mod ops;
mod phase;
mod structure;
mod types;

#[cfg(test)]
mod tests;

use crate::entities::NodeId;
use crate::graph::Graph;
use crate::text::print::fmt_type;
use crate::text::{PrintOptions, print_with};
use std::fmt;

/// Constants larger than this are elided in error contexts and annotated dumps.
const CONTEXT_ELIDE_ABOVE: usize = 16;

/// One broken invariant.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifierError {
    /// The node the error is about; `None` for graph-level errors.
    pub node: Option<NodeId>,
    /// The printed `.qir` line of that node (for graph-level errors, the `graph`, `inputs(..)`
    /// or `outputs(..)` line).
    pub context: String,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// Whether checks depending on this fact were skipped.
    pub fatal: bool,
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(n) => write!(f, "{n}: {}\n    {}", self.message, self.context),
            None => write!(f, "graph: {}\n    {}", self.message, self.context),
        }
    }
}

/// All errors found in one graph, in print order.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub struct VerifierErrors(pub Vec<VerifierError>);

impl fmt::Display for VerifierErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} verifier error{}", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n{e}")?;
        }
        Ok(())
    }
}

impl VerifierErrors {
    /// Whether any error is fatal.
    pub fn has_fatal(&self) -> bool {
        self.0.iter().any(|e| e.fatal)
    }

    /// The graph's `.qir` text with a `// error: <message>` line under each offending line
    /// (graph-level errors go under the `graph`, `inputs(..)` or `outputs(..)` line they are
    /// about). Large constants are elided.
    pub fn render_annotated(&self, g: &Graph) -> String {
        let p = print_with(g, &context_options());
        let mut out = String::new();
        let mut placed = vec![false; self.0.len()];
        let mut start = 0;
        for line in p.text.lines() {
            let span = start..start + line.len();
            start += line.len() + 1;
            out.push_str(line);
            out.push('\n');
            let node = p
                .node_spans
                .iter()
                .find(|(_, s)| *s == span)
                .map(|(n, _)| *n);
            let graph_level =
                span == p.header_span || span == p.inputs_span || span == p.outputs_span;
            for (i, e) in self.0.iter().enumerate() {
                let here = match e.node {
                    Some(n) => node == Some(n),
                    None => graph_level && e.context == line,
                };
                if here && !placed[i] {
                    placed[i] = true;
                    out.push_str(&format!("// error: {}\n", e.message));
                }
            }
        }
        for (e, _) in self.0.iter().zip(&placed).filter(|(_, p)| !**p) {
            out.push_str(&format!("// error: {}\n", e.message));
        }
        out
    }
}

fn context_options() -> PrintOptions {
    PrintOptions {
        elide_constants_above: Some(CONTEXT_ELIDE_ABOVE),
    }
}

/// Where an error points.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Loc {
    Header,
    Inputs,
    Node(NodeId),
    Outputs,
}

/// Errors collected so far.
#[derive(Default)]
struct Sink {
    errors: Vec<(Loc, String, bool)>,
}

impl Sink {
    fn error(&mut self, loc: Loc, message: impl Into<String>) {
        self.errors.push((loc, message.into(), false));
    }

    fn fatal(&mut self, loc: Loc, message: impl Into<String>) {
        self.errors.push((loc, message.into(), true));
    }

    fn has_fatal(&self) -> bool {
        self.errors.iter().any(|e| e.2)
    }

    fn count_at(&self, loc: Loc) -> usize {
        self.errors.iter().filter(|e| e.0 == loc).count()
    }
}

/// Checks every invariant listed in the module documentation.
pub fn verify(g: &Graph) -> Result<(), VerifierErrors> {
    let mut sink = Sink::default();
    structure::check(g, &mut sink);
    if !sink.has_fatal() {
        let order = crate::graph_eq::canonical_order(g).nodes;
        for &n in &order {
            let before = sink.count_at(Loc::Node(n));
            ops::check(g, n, &mut sink);
            types::check_node(g, n, &mut sink);
            if sink.count_at(Loc::Node(n)) == before
                && let Err(message) = check_inferred_types(g, n)
            {
                sink.error(Loc::Node(n), message);
            }
        }
        phase::check(g, &mut sink);
    }
    if sink.errors.is_empty() {
        return Ok(());
    }
    Err(finish(g, sink))
}

/// Output-type consistency: the node's result types have the shapes and element types that
/// [`crate::infer::infer_output_types`] derives from its operand types (quantization
/// parameters are chosen by passes, not derived, so they are not compared). Ops whose result
/// shape is stated rather than derived (Reshape, Slice, Resize, Const) get the checks of
/// [`crate::infer::check_given_output_types`]. Only
/// called for nodes that passed the arity, attribute and type checks.
fn check_inferred_types(g: &Graph, n: NodeId) -> Result<(), String> {
    let node = g.node(n);
    let inputs: Vec<&crate::TensorType> = node.inputs.iter().map(|&v| g.ty(v)).collect();
    let Some(inferred) =
        crate::infer::infer_output_types(&node.op, &inputs).map_err(|e| e.to_string())?
    else {
        // Stated result shapes (Reshape, Slice, Resize, Const): check what can be checked.
        let outputs: Vec<&crate::TensorType> = node.outputs.iter().map(|&v| g.ty(v)).collect();
        return crate::infer::check_given_output_types(&node.op, &inputs, &outputs)
            .map_err(|e| e.to_string());
    };
    if inferred.len() != node.outputs.len() {
        return Err(format!(
            "{} results, inferred {}",
            node.outputs.len(),
            inferred.len()
        ));
    }
    for (k, (&v, want)) in node.outputs.iter().zip(&inferred).enumerate() {
        let got = g.ty(v);
        if got.dtype != want.dtype || got.shape != want.shape {
            return Err(format!(
                "result {k} has type {}{}, inferred {}{}",
                got.dtype, got.shape, want.dtype, want.shape
            ));
        }
        let same_quant = match (&got.quant, &want.quant) {
            (None, None) => true,
            (Some(a), Some(b)) => crate::graph_eq::quant_eq(a, b),
            _ => false,
        };
        if ops::propagates_quant(&node.op) && !same_quant {
            return Err(format!(
                "result {k} has type {}, but `{}` keeps its operand's quantization: {}",
                fmt_type(got),
                node.op.mnemonic(),
                fmt_type(want)
            ));
        }
    }
    Ok(())
}

/// Sorts errors into print order and fills in their contexts.
fn finish(g: &Graph, sink: Sink) -> VerifierErrors {
    let p = print_with(g, &context_options());
    let rank = |loc: &Loc| -> usize {
        match loc {
            Loc::Header => 0,
            Loc::Inputs => 1,
            Loc::Node(n) => {
                2 + p
                    .node_spans
                    .iter()
                    .position(|(m, _)| m == n)
                    .unwrap_or(p.node_spans.len())
            }
            Loc::Outputs => 3 + p.node_spans.len(),
        }
    };
    let mut errors = sink.errors;
    errors.sort_by_key(|(loc, _, _)| rank(loc));
    let line = |span: &std::ops::Range<usize>| p.text[span.clone()].to_string();
    VerifierErrors(
        errors
            .into_iter()
            .map(|(loc, message, fatal)| {
                let (node, context) = match loc {
                    Loc::Header => (None, line(&p.header_span)),
                    Loc::Inputs => (None, line(&p.inputs_span)),
                    Loc::Outputs => (None, line(&p.outputs_span)),
                    Loc::Node(n) => (
                        Some(n),
                        p.node_spans
                            .iter()
                            .find(|(m, _)| *m == n)
                            .map(|(_, s)| line(s))
                            .unwrap_or_default(),
                    ),
                };
                VerifierError {
                    node,
                    context,
                    message,
                    fatal,
                }
            })
            .collect(),
    )
}
