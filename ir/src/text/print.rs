//! The `.qir` printer.
//!
//! Nodes are printed in the canonical order of `graph_eq.rs` and values are renumbered
//! densely in that order, so equal graphs print to equal text. Attributes are printed in the
//! order of their struct fields. The printer never panics, even on a malformed graph: operands
//! that are not live print as `%deadN` and live values that no node lists as a result print as
//! `%unlistedN` (`N` being the raw value index); such text does not parse back.

use super::lexer::quote;
use super::names::{Spelled, Storage, fmt_f32};
use crate::arith::QuantizedMultiplier;
use crate::entities::{NodeId, ValueId};
use crate::graph::Graph;
use crate::graph_eq::canonical_order;
use crate::ops::*;
use crate::tensor::{Tensor, TensorData};
use crate::types::{QuantGranularity, QuantParams, Shape, TensorType};
use std::collections::HashMap;
use std::fmt::Write;
use std::ops::Range;

/// Constants with more elements than this print as a hex blob instead of a list.
const HEX_ABOVE: usize = 16;

/// Printer options.
#[derive(Clone, Debug, Default)]
pub struct PrintOptions {
    /// Replace constants with more elements than this by a summary
    /// (`dense<elided 1152 x f32, sum=3.25>`). Such text does not parse back.
    pub elide_constants_above: Option<usize>,
}

/// Printed text with the location of every node's line.
#[derive(Clone, Debug)]
pub struct Printed {
    /// The `.qir` text.
    pub text: String,
    /// Each node's line (without the newline) in `text`, in print order.
    pub node_spans: Vec<(NodeId, Range<usize>)>,
    /// The `graph ...` header line.
    pub header_span: Range<usize>,
    /// The `inputs(...)` line.
    pub inputs_span: Range<usize>,
    /// The `outputs(...)` line.
    pub outputs_span: Range<usize>,
}

/// Prints `g` in full fidelity.
pub fn print(g: &Graph) -> String {
    print_with(g, &PrintOptions::default()).text
}

/// Prints `g` with options, recording where each node's line is.
pub fn print_with(g: &Graph, opts: &PrintOptions) -> Printed {
    let order = canonical_order(g);
    let mut numbers: HashMap<ValueId, usize> = HashMap::new();
    for &n in &order.nodes {
        for &v in &g.node(n).outputs {
            let next = numbers.len();
            numbers.entry(v).or_insert(next);
        }
    }
    let p = Printer { g, opts, numbers };
    let mut text = String::new();
    let line = |text: &mut String, s: &str| {
        let start = text.len();
        text.push_str(s);
        let span = start..text.len();
        text.push('\n');
        span
    };
    let header_span = line(
        &mut text,
        &format!("graph {} phase={}", quote(&g.name), g.phase),
    );
    let inputs_span = line(&mut text, &format!("inputs({})", p.refs(&g.inputs)));
    let mut node_spans = Vec::with_capacity(order.nodes.len());
    for &n in &order.nodes {
        let s = p.node_line(n);
        node_spans.push((n, line(&mut text, &s)));
    }
    let outputs_span = line(&mut text, &format!("outputs({})", p.refs(&g.outputs)));
    Printed {
        text,
        node_spans,
        header_span,
        inputs_span,
        outputs_span,
    }
}

struct Printer<'a> {
    g: &'a Graph,
    opts: &'a PrintOptions,
    numbers: HashMap<ValueId, usize>,
}

impl Printer<'_> {
    fn value_ref(&self, v: ValueId) -> String {
        match self.numbers.get(&v) {
            Some(n) if self.g.contains_value(v) => format!("%{n}"),
            _ if self.g.contains_value(v) => format!("%unlisted{}", v.index()),
            _ => format!("%dead{}", v.index()),
        }
    }

    fn refs(&self, vs: &[ValueId]) -> String {
        vs.iter()
            .map(|&v| self.value_ref(v))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn node_line(&self, n: NodeId) -> String {
        let g = self.g;
        let node = g.node(n);
        let mut s = String::new();
        if !node.outputs.is_empty() {
            let results: Vec<String> = node
                .outputs
                .iter()
                .map(|&v| {
                    let mut r = self.value_ref(v);
                    if let Some(name) = g
                        .contains_value(v)
                        .then(|| &g.value(v).name)
                        .and_then(|n| n.as_ref())
                    {
                        r.push(' ');
                        r.push_str(&quote(name));
                    }
                    r
                })
                .collect();
            s.push_str(&results.join(", "));
            s.push_str(" = ");
        }
        s.push_str(node.op.mnemonic());
        if !node.inputs.is_empty() {
            let _ = write!(s, "({})", self.refs(&node.inputs));
        }
        if let Op::Const(c) = &node.op {
            s.push(' ');
            s.push_str(&self.dense(&c.value, node.outputs.as_slice()));
        }
        let attrs = attrs(&node.op);
        if !attrs.is_empty() {
            let _ = write!(s, " {{{}}}", attrs.join(", "));
        }
        let types: Vec<String> = node
            .outputs
            .iter()
            .filter(|&&v| g.contains_value(v))
            .map(|&v| fmt_type(&g.value(v).ty))
            .collect();
        if !types.is_empty() {
            let _ = write!(s, " : {}", types.join(", "));
        }
        if node.name != default_node_name(g, n) {
            let _ = write!(s, " @{}", quote(&node.name));
        }
        s
    }

    /// `dense<...>`: the tensor's type is implied by the single result's type when they agree.
    fn dense(&self, t: &Tensor, outputs: &[ValueId]) -> String {
        let mut s = String::from("dense<");
        if let Some(limit) = self.opts.elide_constants_above
            && t.numel() > limit
        {
            let _ = write!(
                s,
                "elided {} x {}, sum={}>",
                t.numel(),
                t.dtype,
                fmt_sum(&t.data)
            );
            return s;
        }
        let implied = match outputs {
            [v] if self.g.contains_value(*v) => {
                let ty = &self.g.value(*v).ty;
                ty.dtype == t.dtype && ty.shape == t.shape
            }
            _ => false,
        };
        if !implied {
            let _ = write!(s, "{}{} ", t.dtype, t.shape);
        }
        let storage = Storage::of(&t.data);
        if storage != Storage::default_for(t.dtype) {
            let _ = write!(s, "storage={} ", storage.spelling());
        }
        if t.numel() > HEX_ABOVE {
            s.push_str("0x");
            hex_bytes(&t.data, &mut s);
        } else {
            s.push('[');
            s.push_str(&elements(&t.data).join(", "));
            s.push(']');
        }
        s.push('>');
        s
    }
}

/// The node name implied when no `@"..."` is printed: an `input` node is named after its
/// first result, every other node is unnamed.
pub(crate) fn default_node_name(g: &Graph, n: NodeId) -> String {
    let node = g.node(n);
    match (&node.op, node.outputs.first()) {
        (Op::Input, Some(&v)) if g.contains_value(v) => g.value(v).name.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

fn fmt_sum(data: &TensorData) -> String {
    match data {
        TensorData::F32(v) => format!("{:?}", v.iter().map(|&x| x as f64).sum::<f64>()),
        TensorData::I32(v) => v.iter().map(|&x| x as i64).sum::<i64>().to_string(),
        TensorData::I16(v) => v.iter().map(|&x| x as i64).sum::<i64>().to_string(),
        TensorData::I8(v) => v.iter().map(|&x| x as i64).sum::<i64>().to_string(),
        TensorData::U8(v) => v.iter().map(|&x| x as i64).sum::<i64>().to_string(),
    }
}

fn elements(data: &TensorData) -> Vec<String> {
    match data {
        TensorData::F32(v) => v.iter().map(|&x| fmt_f32(x)).collect(),
        TensorData::I32(v) => v.iter().map(|x| x.to_string()).collect(),
        TensorData::I16(v) => v.iter().map(|x| x.to_string()).collect(),
        TensorData::I8(v) => v.iter().map(|x| x.to_string()).collect(),
        TensorData::U8(v) => v.iter().map(|x| x.to_string()).collect(),
    }
}

/// Appends the little-endian bytes of every element as lowercase hex.
fn hex_bytes(data: &TensorData, s: &mut String) {
    let mut push = |bytes: &[u8]| {
        for b in bytes {
            let _ = write!(s, "{b:02x}");
        }
    };
    match data {
        TensorData::F32(v) => v.iter().for_each(|x| push(&x.to_le_bytes())),
        TensorData::I32(v) => v.iter().for_each(|x| push(&x.to_le_bytes())),
        TensorData::I16(v) => v.iter().for_each(|x| push(&x.to_le_bytes())),
        TensorData::I8(v) => v.iter().for_each(|x| push(&x.to_le_bytes())),
        TensorData::U8(v) => push(v),
    }
}

fn fmt_shape(s: &Shape) -> String {
    s.to_string()
}

/// `u8[1,8,28,28]<0.0235:128>`, `i8[8,3]<4 bits, pow2, axis=0, {0.5:0, 0.25:0}>`.
pub(crate) fn fmt_type(t: &TensorType) -> String {
    let mut s = format!("{}{}", t.dtype, fmt_shape(&t.shape));
    if let Some(q) = &t.quant {
        let _ = write!(s, "<{}>", fmt_quant(q, t.dtype.bits()));
    }
    s
}

fn fmt_quant(q: &QuantParams, storage_bits: u32) -> String {
    let mut parts = Vec::new();
    if q.bits != storage_bits {
        parts.push(format!("{} bits", q.bits));
    }
    if q.pow2 {
        parts.push("pow2".to_string());
    }
    match &q.granularity {
        QuantGranularity::PerTensor { scale, zero_point } => {
            parts.push(format!("{}:{zero_point}", fmt_f32(*scale)));
        }
        QuantGranularity::PerAxis {
            axis,
            scales,
            zero_points,
        } => {
            parts.push(format!("axis={axis}"));
            if scales.len() == zero_points.len() {
                let pairs: Vec<String> = scales
                    .iter()
                    .zip(zero_points)
                    .map(|(&s, z)| format!("{}:{z}", fmt_f32(s)))
                    .collect();
                parts.push(format!("{{{}}}", pairs.join(", ")));
            } else {
                parts.push(format!("scales={}", f32_list(scales)));
                parts.push(format!(
                    "zero_points=[{}]",
                    zero_points
                        .iter()
                        .map(|z| z.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
        }
    }
    parts.join(", ")
}

fn usize_list(v: &[usize]) -> String {
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(","))
}

fn i64_list(v: &[i64]) -> String {
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(","))
}

fn f32_list(v: &[f32]) -> String {
    let items: Vec<String> = v.iter().map(|&x| fmt_f32(x)).collect();
    format!("[{}]", items.join(","))
}

fn pool_attrs(p: &PoolAttrs) -> Vec<String> {
    vec![
        format!("kernel={}", usize_list(&p.kernel)),
        format!("strides={}", usize_list(&p.strides)),
        format!("pads={}", usize_list(&p.pads)),
        format!("dilations={}", usize_list(&p.dilations)),
        format!("ceil_mode={}", p.ceil_mode),
    ]
}

/// The `name=value` attributes of `op`, in struct field order.
fn attrs(op: &Op) -> Vec<String> {
    match op {
        Op::Input | Op::Const(_) => vec![],
        Op::Conv(a) => conv_attrs(a),
        Op::ConvTranspose(a) => conv_transpose_attrs(a),
        Op::Gemm(a) => vec![
            format!("alpha={}", fmt_f32(a.alpha)),
            format!("beta={}", fmt_f32(a.beta)),
            format!("trans_a={}", a.trans_a),
            format!("trans_b={}", a.trans_b),
        ],
        Op::MatMul => vec![],
        Op::BatchNorm(a) => vec![format!("epsilon={}", fmt_f32(a.epsilon))],
        Op::Relu | Op::PRelu => vec![],
        Op::LeakyRelu(a) => vec![format!("alpha={}", fmt_f32(a.alpha))],
        Op::Clip(a) => vec![
            format!("min={}", fmt_f32(a.min)),
            format!("max={}", fmt_f32(a.max)),
        ],
        Op::Sigmoid => vec![],
        Op::HardSigmoid(a) => vec![
            format!("alpha={}", fmt_f32(a.alpha)),
            format!("beta={}", fmt_f32(a.beta)),
        ],
        Op::HardSwish | Op::Tanh => vec![],
        Op::Softmax(a) => vec![format!("axis={}", a.axis)],
        Op::Add | Op::Sub | Op::Mul | Op::Div => vec![],
        Op::MaxPool(a) => pool_attrs(a),
        Op::AveragePool(a) => {
            let mut v = pool_attrs(&a.pool);
            v.push(format!("count_include_pad={}", a.count_include_pad));
            v
        }
        Op::GlobalAveragePool => vec![],
        Op::ReduceMean(a) => vec![
            format!("axes={}", usize_list(&a.axes)),
            format!("keepdims={}", a.keepdims),
        ],
        Op::Concat(a) => vec![format!("axis={}", a.axis)],
        Op::Split(a) => vec![
            format!("axis={}", a.axis),
            format!("sizes={}", usize_list(&a.sizes)),
        ],
        Op::Slice(a) => vec![
            format!("starts={}", usize_list(&a.starts)),
            format!("steps={}", i64_list(&a.steps)),
        ],
        Op::Reshape => vec![],
        Op::Transpose(a) => vec![format!("perm={}", usize_list(&a.perm))],
        Op::Pad(a) => vec![
            format!("pads={}", i64_list(&a.pads)),
            format!("mode={}", a.mode.spelling()),
            format!("value={}", fmt_f32(a.value)),
        ],
        Op::Resize(a) => resize_attrs(a),
        Op::Quantize | Op::Dequantize => vec![],
        Op::ConvInt(a) => conv_attrs(&a.conv),
        Op::ConvTransposeInt(a) => conv_transpose_attrs(&a.conv),
        Op::GemmInt(a) => vec![format!("trans_b={}", a.trans_b)],
        Op::MatMulInt => vec![],
        Op::Requant(a) => vec![
            format!("multipliers={}", multiplier_list(&a.multipliers)),
            format!("axis={}", a.axis),
            format!("rounding={}", a.rounding.spelling()),
            format!("lo={}", a.lo),
            format!("hi={}", a.hi),
        ],
        Op::AddInt(a) => vec![
            format!("shift={}", a.shift),
            format!("ma={}", multiplier(a.ma)),
            format!("mb={}", multiplier(a.mb)),
            format!("mo={}", multiplier(a.mo)),
            format!("rounding={}", a.rounding.spelling()),
            format!("lo={}", a.lo),
            format!("hi={}", a.hi),
        ],
        Op::MulInt(a) => vec![
            format!("m={}", multiplier(a.m)),
            format!("rounding={}", a.rounding.spelling()),
            format!("lo={}", a.lo),
            format!("hi={}", a.hi),
        ],
        Op::AvgPoolInt(a) => {
            let mut v = pool_attrs(&a.pool.pool);
            v.push(format!("count_include_pad={}", a.pool.count_include_pad));
            v.push(format!("rounding={}", a.rounding.spelling()));
            v
        }
        Op::Lut(a) => vec![
            format!("table={}", i32_list(&a.table)),
            format!(
                "axis={}",
                a.axis.map_or_else(|| "none".to_string(), |x| x.to_string())
            ),
        ],
        Op::SoftmaxInt(a) => vec![
            format!("axis={}", a.axis),
            format!("exp_table={}", i32_list(&a.exp_table)),
            format!("exp_bits={}", a.exp_bits),
            format!("rounding={}", a.rounding.spelling()),
        ],
        Op::ResizeInt(a) => {
            let mut v = resize_attrs(&a.resize);
            v.push(format!("frac_bits={}", a.frac_bits));
            v.push(format!("rounding={}", a.rounding.spelling()));
            v
        }
    }
}

fn conv_attrs(a: &ConvAttrs) -> Vec<String> {
    vec![
        format!("strides={}", usize_list(&a.strides)),
        format!("pads={}", usize_list(&a.pads)),
        format!("dilations={}", usize_list(&a.dilations)),
        format!("group={}", a.group),
    ]
}

fn conv_transpose_attrs(a: &ConvTransposeAttrs) -> Vec<String> {
    vec![
        format!("strides={}", usize_list(&a.strides)),
        format!("pads={}", usize_list(&a.pads)),
        format!("dilations={}", usize_list(&a.dilations)),
        format!("group={}", a.group),
        format!("output_padding={}", usize_list(&a.output_padding)),
    ]
}

fn resize_attrs(a: &ResizeAttrs) -> Vec<String> {
    vec![
        format!("mode={}", a.mode.spelling()),
        format!("coord={}", a.coord.spelling()),
        format!("nearest={}", a.nearest.spelling()),
        format!("scales={}", f32_list(&a.scales)),
    ]
}

fn i32_list(v: &[i32]) -> String {
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(","))
}

/// `[m0,shift]`: the multiplier `m0 * 2^-31 * 2^-shift`.
fn multiplier(m: QuantizedMultiplier) -> String {
    format!("[{},{}]", m.m0, m.shift)
}

fn multiplier_list(v: &[QuantizedMultiplier]) -> String {
    let items: Vec<String> = v.iter().map(|&m| multiplier(m)).collect();
    format!("[{}]", items.join(","))
}
