//! The `.qir` parser: tokens to statements, statements to a [`Graph`].
//!
//! Parsing happens in two steps so that operands may refer to values defined later (cycles
//! are expressible, for verifier tests): first every statement is read, then nodes are added
//! in text order and their operands connected. The parser never verifies; it only rejects
//! what a graph cannot represent.

use super::ParseError;
use super::lexer::{Tok, Token, lex};
use super::names::{Spelled, Storage, parse_f32};
use crate::arith::QuantizedMultiplier;
use crate::entities::{NodeId, ValueId};
use crate::graph::Graph;
use crate::ops::*;
use crate::phase::Phase;
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, QuantGranularity, QuantParams, Shape, TensorType};
use std::collections::HashMap;
use std::ops::Range;

/// A parsed graph with the source location of each statement.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The graph (not verified).
    pub graph: Graph,
    /// Each node's statement in the source, in text order.
    pub node_spans: Vec<(NodeId, Range<usize>)>,
    /// The `graph ...` header.
    pub header_span: Range<usize>,
    /// The `inputs(...)` statement, if present.
    pub inputs_span: Option<Range<usize>>,
    /// The `outputs(...)` statement, if present.
    pub outputs_span: Option<Range<usize>>,
}

/// Parses `.qir` text into a graph (without verifying it).
pub fn parse(text: &str) -> Result<Graph, ParseError> {
    parse_with_spans(text).map(|p| p.graph)
}

/// Parses `.qir` text and reports where each statement is.
pub fn parse_with_spans(text: &str) -> Result<Parsed, ParseError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        len: text.len(),
    };
    let file = p.file()?;
    build(file)
}

type Span = Range<usize>;

fn err(span: Span, message: impl Into<String>) -> ParseError {
    ParseError {
        span,
        message: message.into(),
    }
}

/// A value list like `inputs(%0, %1)`.
struct RefList {
    refs: Vec<(String, Span)>,
    span: Span,
}

enum AttrValue {
    Word(String, Span),
    List(Vec<AttrValue>, Span),
}

impl AttrValue {
    fn span(&self) -> Span {
        match self {
            AttrValue::Word(_, s) | AttrValue::List(_, s) => s.clone(),
        }
    }
}

enum DenseBody {
    List(Vec<(String, Span)>),
    Hex(String, Span),
}

struct Dense {
    ty: Option<(DType, Shape)>,
    storage: Option<Storage>,
    body: DenseBody,
    span: Span,
}

struct NodeStmt {
    results: Vec<(String, Option<String>, Span)>,
    mnemonic: String,
    mnemonic_span: Span,
    operands: Vec<(String, Span)>,
    dense: Option<Dense>,
    attrs: Vec<(String, AttrValue, Span)>,
    types: Vec<TensorType>,
    types_span: Span,
    name: Option<String>,
    span: Span,
}

struct File {
    name: String,
    phase: Phase,
    header_span: Span,
    inputs: Option<RefList>,
    outputs: Option<RefList>,
    nodes: Vec<NodeStmt>,
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn here(&self) -> Span {
        self.toks
            .get(self.pos)
            .map(|t| t.span.clone())
            .unwrap_or(self.len..self.len)
    }

    /// End of the previous token.
    fn prev_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map(|t| t.span.end)
            .unwrap_or(0)
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of input".to_string(),
            Some(Tok::Word(w)) => format!("`{w}`"),
            Some(Tok::Str(_)) => "a string".to_string(),
            Some(Tok::Value(v)) => format!("`%{v}`"),
            Some(Tok::Punct(c)) => format!("`{c}`"),
        }
    }

    fn unexpected(&self, what: &str) -> ParseError {
        err(
            self.here(),
            format!("expected {what}, found {}", self.describe()),
        )
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<Span, ParseError> {
        let span = self.here();
        if self.eat_punct(c) {
            Ok(span)
        } else {
            Err(self.unexpected(&format!("`{c}`")))
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn word(&mut self, what: &str) -> Result<(String, Span), ParseError> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                let span = self.here();
                self.pos += 1;
                Ok((w, span))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<Span, ParseError> {
        if self.is_word(w) {
            let span = self.here();
            self.pos += 1;
            Ok(span)
        } else {
            Err(self.unexpected(&format!("`{w}`")))
        }
    }

    fn string(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek() {
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn value(&mut self) -> Result<(String, Span), ParseError> {
        match self.peek() {
            Some(Tok::Value(v)) => {
                let v = v.clone();
                let span = self.here();
                self.pos += 1;
                Ok((v, span))
            }
            _ => Err(self.unexpected("a value `%name`")),
        }
    }

    /// Parses a comma-separated list up to `close` (the opening bracket is already eaten).
    fn list<T>(
        &mut self,
        close: char,
        mut item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        let mut out = Vec::new();
        if self.eat_punct(close) {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if self.eat_punct(close) {
                return Ok(out);
            }
            if !self.eat_punct(',') {
                return Err(self.unexpected(&format!("`,` or `{close}`")));
            }
        }
    }

    fn file(&mut self) -> Result<File, ParseError> {
        let start = self.here().start;
        self.expect_word("graph")?;
        let name = self.string("the graph name as a string")?;
        self.expect_word("phase")?;
        self.expect_punct('=')?;
        let (ph, ph_span) = self.word("a phase")?;
        let phase = Phase::from_name(&ph).ok_or_else(|| {
            let all: Vec<String> = Phase::ALL.iter().map(|p| format!("`{p}`")).collect();
            err(
                ph_span.clone(),
                format!("unknown phase `{ph}` (expected one of {})", all.join(", ")),
            )
        })?;
        let mut file = File {
            name,
            phase,
            header_span: start..ph_span.end,
            inputs: None,
            outputs: None,
            nodes: Vec::new(),
        };
        while let Some(tok) = self.peek() {
            match tok {
                Tok::Word(w) if w == "inputs" || w == "outputs" => {
                    let is_inputs = w == "inputs";
                    let start = self.here();
                    self.pos += 1;
                    self.expect_punct('(')?;
                    let refs = self.list(')', |p| p.value())?;
                    let list = RefList {
                        refs,
                        span: start.start..self.prev_end(),
                    };
                    let slot = if is_inputs {
                        &mut file.inputs
                    } else {
                        &mut file.outputs
                    };
                    if slot.is_some() {
                        return Err(err(
                            list.span,
                            format!(
                                "duplicate `{}` statement",
                                if is_inputs { "inputs" } else { "outputs" }
                            ),
                        ));
                    }
                    *slot = Some(list);
                }
                Tok::Word(w) if w == "graph" => {
                    return Err(err(self.here(), "only one `graph` header is allowed"));
                }
                Tok::Word(_) | Tok::Value(_) => file.nodes.push(self.node()?),
                Tok::Str(_) | Tok::Punct(_) => {
                    return Err(self.unexpected("a node, `inputs(...)` or `outputs(...)`"));
                }
            }
        }
        Ok(file)
    }

    fn node(&mut self) -> Result<NodeStmt, ParseError> {
        let start = self.here().start;
        let mut results = Vec::new();
        if matches!(self.peek(), Some(Tok::Value(_))) {
            loop {
                let (v, span) = self.value()?;
                let name = match self.peek() {
                    Some(Tok::Str(_)) => Some(self.string("a value name")?),
                    _ => None,
                };
                results.push((v, name, span));
                if !self.eat_punct(',') {
                    break;
                }
            }
            self.expect_punct('=')?;
        }
        let (mnemonic, mnemonic_span) = self.word("an op mnemonic")?;
        let operands = if self.eat_punct('(') {
            self.list(')', |p| p.value())?
        } else {
            Vec::new()
        };
        let dense = if self.is_word("dense") {
            Some(self.dense()?)
        } else {
            None
        };
        let mut attrs: Vec<(String, AttrValue, Span)> = Vec::new();
        if self.eat_punct('{') {
            attrs = self.list('}', |p| {
                let (k, kspan) = p.word("an attribute name")?;
                p.expect_punct('=')?;
                let v = p.attr_value()?;
                Ok((k, v, kspan))
            })?;
            for (i, (k, _, span)) in attrs.iter().enumerate() {
                if attrs[..i].iter().any(|(j, _, _)| j == k) {
                    return Err(err(span.clone(), format!("duplicate attribute `{k}`")));
                }
            }
        }
        let mut types = Vec::new();
        let mut types_span = self.here();
        if self.eat_punct(':') {
            types_span = self.here();
            loop {
                types.push(self.tensor_type()?);
                if !self.eat_punct(',') {
                    break;
                }
            }
            types_span.end = self.prev_end();
        }
        let name = if self.eat_punct('@') {
            Some(self.string("a node name string after `@`")?)
        } else {
            None
        };
        Ok(NodeStmt {
            results,
            mnemonic,
            mnemonic_span,
            operands,
            dense,
            attrs,
            types,
            types_span,
            name,
            span: start..self.prev_end(),
        })
    }

    fn attr_value(&mut self) -> Result<AttrValue, ParseError> {
        let start = self.here();
        if self.eat_punct('[') {
            let items = self.list(']', |p| p.attr_value())?;
            Ok(AttrValue::List(items, start.start..self.prev_end()))
        } else {
            let (w, span) = self.word("an attribute value")?;
            Ok(AttrValue::Word(w, span))
        }
    }

    fn usize_word(&mut self, what: &str) -> Result<usize, ParseError> {
        let (w, span) = self.word(what)?;
        w.parse()
            .map_err(|_| err(span, format!("expected {what}, found `{w}`")))
    }

    fn dtype_shape(&mut self) -> Result<(DType, Shape), ParseError> {
        let (d, dspan) = self.word("an element type")?;
        let dtype = DType::from_name(&d)
            .ok_or_else(|| err(dspan, format!("unknown element type `{d}`")))?;
        self.expect_punct('[')?;
        let dims = self.list(']', |p| p.usize_word("a dimension"))?;
        Ok((dtype, Shape(dims)))
    }

    fn tensor_type(&mut self) -> Result<TensorType, ParseError> {
        let (dtype, shape) = self.dtype_shape()?;
        let quant = if self.eat_punct('<') {
            Some(self.quant(dtype)?)
        } else {
            None
        };
        Ok(TensorType {
            dtype,
            shape,
            quant,
        })
    }

    fn f32_word(&mut self, what: &str) -> Result<f32, ParseError> {
        let (w, span) = self.word(what)?;
        parse_f32(&w).ok_or_else(|| err(span, format!("expected {what}, found `{w}`")))
    }

    fn i32_word(&mut self, what: &str) -> Result<i32, ParseError> {
        let (w, span) = self.word(what)?;
        w.parse()
            .map_err(|_| err(span, format!("expected {what}, found `{w}`")))
    }

    fn scale_zp(&mut self) -> Result<(f32, i32), ParseError> {
        let s = self.f32_word("a scale")?;
        self.expect_punct(':')?;
        let z = self.i32_word("a zero point")?;
        Ok((s, z))
    }

    /// `[N bits,] [pow2,] (scale:zp | axis=K, {s:z, ..} | axis=K, scales=[..], zero_points=[..])>`
    fn quant(&mut self, dtype: DType) -> Result<QuantParams, ParseError> {
        let mut bits = dtype.bits();
        let mut pow2 = false;
        // `N bits`: a number followed by the word `bits`.
        if matches!(self.toks.get(self.pos + 1), Some(Token { tok: Tok::Word(w), .. }) if w == "bits")
        {
            let (w, span) = self.word("a bit width")?;
            bits = w
                .parse()
                .map_err(|_| err(span, format!("expected a bit width, found `{w}`")))?;
            self.pos += 1;
            self.expect_punct(',')?;
        }
        if self.is_word("pow2") {
            self.pos += 1;
            pow2 = true;
            self.expect_punct(',')?;
        }
        let granularity = if self.is_word("axis") {
            self.pos += 1;
            self.expect_punct('=')?;
            let axis = self.usize_word("an axis")?;
            self.expect_punct(',')?;
            let (scales, zero_points) = if self.eat_punct('{') {
                self.list('}', |p| p.scale_zp())?.into_iter().unzip()
            } else {
                self.expect_word("scales")?;
                self.expect_punct('=')?;
                self.expect_punct('[')?;
                let scales = self.list(']', |p| p.f32_word("a scale"))?;
                self.expect_punct(',')?;
                self.expect_word("zero_points")?;
                self.expect_punct('=')?;
                self.expect_punct('[')?;
                let zps = self.list(']', |p| p.i32_word("a zero point"))?;
                (scales, zps)
            };
            QuantGranularity::PerAxis {
                axis,
                scales,
                zero_points,
            }
        } else {
            let (scale, zero_point) = self.scale_zp()?;
            QuantGranularity::PerTensor { scale, zero_point }
        };
        self.expect_punct('>')?;
        Ok(QuantParams {
            granularity,
            bits,
            pow2,
        })
    }

    /// `dense<[dtype[shape]] [storage=kind] ([e, ..] | 0xHEX)>`
    fn dense(&mut self) -> Result<Dense, ParseError> {
        let start = self.expect_word("dense")?.start;
        self.expect_punct('<')?;
        if self.is_word("elided") {
            return Err(err(
                self.here(),
                "elided constants cannot be parsed (print without `elide_constants_above`)",
            ));
        }
        let ty = match self.peek() {
            Some(Tok::Word(w)) if DType::from_name(w).is_some() => Some(self.dtype_shape()?),
            _ => None,
        };
        let storage = if self.is_word("storage") {
            self.pos += 1;
            self.expect_punct('=')?;
            let (w, span) = self.word("a storage kind")?;
            Some(Storage::from_spelling(&w).ok_or_else(|| {
                err(
                    span,
                    format!(
                        "unknown storage `{w}` (expected one of {})",
                        Storage::expected()
                    ),
                )
            })?)
        } else {
            None
        };
        let body = if self.eat_punct('[') {
            DenseBody::List(self.list(']', |p| p.word("a constant element"))?)
        } else {
            match self.word("`[` or a hex blob")? {
                (w, span) if w.starts_with("0x") => DenseBody::Hex(w, span),
                (w, span) => {
                    return Err(err(
                        span,
                        format!("expected `[` or a hex blob, found `{w}`"),
                    ));
                }
            }
        };
        self.expect_punct('>')?;
        Ok(Dense {
            ty,
            storage,
            body,
            span: start..self.prev_end(),
        })
    }
}

/// Typed access to a node's attribute dictionary; every attribute must be used exactly once.
struct Attrs<'a> {
    items: Vec<(String, AttrValue, Span)>,
    used: Vec<bool>,
    op: &'a str,
    op_span: Span,
}

impl Attrs<'_> {
    fn get(&mut self, key: &str) -> Result<&AttrValue, ParseError> {
        match self.items.iter().position(|(k, _, _)| k == key) {
            Some(i) => {
                self.used[i] = true;
                Ok(&self.items[i].1)
            }
            None => Err(err(
                self.op_span.clone(),
                format!("missing attribute `{key}` of `{}`", self.op),
            )),
        }
    }

    fn scalar<T>(
        &mut self,
        key: &str,
        what: &str,
        conv: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ParseError> {
        match self.get(key)? {
            AttrValue::Word(w, span) => conv(w).ok_or_else(|| {
                err(
                    span.clone(),
                    format!("attribute `{key}` expects {what}, found `{w}`"),
                )
            }),
            v @ AttrValue::List(..) => Err(err(
                v.span(),
                format!("attribute `{key}` expects {what}, found a list"),
            )),
        }
    }

    fn list<T>(
        &mut self,
        key: &str,
        what: &str,
        conv: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, ParseError> {
        let items = match self.get(key)? {
            AttrValue::List(items, _) => items,
            AttrValue::Word(w, span) => {
                return Err(err(
                    span.clone(),
                    format!("attribute `{key}` expects a list of {what}, found `{w}`"),
                ));
            }
        };
        items
            .iter()
            .map(|item| match item {
                AttrValue::Word(w, span) => conv(w).ok_or_else(|| {
                    err(
                        span.clone(),
                        format!("attribute `{key}` expects a list of {what}, found `{w}`"),
                    )
                }),
                AttrValue::List(_, span) => Err(err(
                    span.clone(),
                    format!("attribute `{key}` expects a list of {what}, found a nested list"),
                )),
            })
            .collect()
    }

    fn usize(&mut self, key: &str) -> Result<usize, ParseError> {
        self.scalar(key, "a non-negative integer", |w| w.parse().ok())
    }

    fn usizes(&mut self, key: &str) -> Result<Vec<usize>, ParseError> {
        self.list(key, "non-negative integers", |w| w.parse().ok())
    }

    fn i64s(&mut self, key: &str) -> Result<Vec<i64>, ParseError> {
        self.list(key, "integers", |w| w.parse().ok())
    }

    fn f32(&mut self, key: &str) -> Result<f32, ParseError> {
        self.scalar(key, "a float", parse_f32)
    }

    fn f32s(&mut self, key: &str) -> Result<Vec<f32>, ParseError> {
        self.list(key, "floats", parse_f32)
    }

    fn bool(&mut self, key: &str) -> Result<bool, ParseError> {
        self.scalar(key, "`true` or `false`", |w| match w {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        })
    }

    fn spelled<T: Spelled>(&mut self, key: &str) -> Result<T, ParseError> {
        self.scalar(key, &format!("one of {}", T::expected()), T::from_spelling)
    }

    fn i32(&mut self, key: &str) -> Result<i32, ParseError> {
        self.scalar(key, "a 32-bit integer", |w| w.parse().ok())
    }

    fn u32(&mut self, key: &str) -> Result<u32, ParseError> {
        self.scalar(key, "a non-negative 32-bit integer", |w| w.parse().ok())
    }

    fn i32s(&mut self, key: &str) -> Result<Vec<i32>, ParseError> {
        self.list(key, "32-bit integers", |w| w.parse().ok())
    }

    /// `none` or a non-negative integer.
    fn opt_usize(&mut self, key: &str) -> Result<Option<usize>, ParseError> {
        self.scalar(key, "`none` or a non-negative integer", |w| match w {
            "none" => Some(None),
            _ => w.parse().ok().map(Some),
        })
    }

    /// A multiplier `[m0,shift]`.
    fn multiplier(&mut self, key: &str) -> Result<QuantizedMultiplier, ParseError> {
        let v = self.get(key)?;
        multiplier_value(key, v)
    }

    /// A list of multipliers `[[m0,shift],..]`.
    fn multipliers(&mut self, key: &str) -> Result<Vec<QuantizedMultiplier>, ParseError> {
        match self.get(key)? {
            AttrValue::List(items, _) => items.iter().map(|v| multiplier_value(key, v)).collect(),
            AttrValue::Word(w, span) => Err(err(
                span.clone(),
                format!(
                    "attribute `{key}` expects a list of `[m0,shift]` multipliers, found `{w}`"
                ),
            )),
        }
    }

    fn conv(&mut self) -> Result<ConvAttrs, ParseError> {
        Ok(ConvAttrs {
            strides: self.usizes("strides")?,
            pads: self.usizes("pads")?,
            dilations: self.usizes("dilations")?,
            group: self.usize("group")?,
        })
    }

    fn conv_transpose(&mut self) -> Result<ConvTransposeAttrs, ParseError> {
        Ok(ConvTransposeAttrs {
            strides: self.usizes("strides")?,
            pads: self.usizes("pads")?,
            dilations: self.usizes("dilations")?,
            group: self.usize("group")?,
            output_padding: self.usizes("output_padding")?,
        })
    }

    fn resize(&mut self) -> Result<ResizeAttrs, ParseError> {
        Ok(ResizeAttrs {
            mode: self.spelled("mode")?,
            coord: self.spelled("coord")?,
            nearest: self.spelled("nearest")?,
            scales: self.f32s("scales")?,
        })
    }

    fn avg_pool(&mut self) -> Result<AvgPoolAttrs, ParseError> {
        Ok(AvgPoolAttrs {
            pool: self.pool()?,
            count_include_pad: self.bool("count_include_pad")?,
        })
    }

    fn pool(&mut self) -> Result<PoolAttrs, ParseError> {
        Ok(PoolAttrs {
            kernel: self.usizes("kernel")?,
            strides: self.usizes("strides")?,
            pads: self.usizes("pads")?,
            dilations: self.usizes("dilations")?,
            ceil_mode: self.bool("ceil_mode")?,
        })
    }

    fn finish(self) -> Result<(), ParseError> {
        match self.used.iter().position(|u| !u) {
            Some(i) => Err(err(
                self.items[i].2.clone(),
                format!("unknown attribute `{}` for `{}`", self.items[i].0, self.op),
            )),
            None => Ok(()),
        }
    }
}

/// Reads `[m0,shift]` as a multiplier.
fn multiplier_value(key: &str, v: &AttrValue) -> Result<QuantizedMultiplier, ParseError> {
    let bad = |span: Span| {
        err(
            span,
            format!("attribute `{key}` expects a multiplier `[m0,shift]` of two 32-bit integers"),
        )
    };
    match v {
        AttrValue::List(items, span) => match items.as_slice() {
            [AttrValue::Word(m0, _), AttrValue::Word(shift, _)] => {
                match (m0.parse(), shift.parse()) {
                    (Ok(m0), Ok(shift)) => Ok(QuantizedMultiplier { m0, shift }),
                    _ => Err(bad(span.clone())),
                }
            }
            _ => Err(bad(span.clone())),
        },
        AttrValue::Word(_, span) => Err(bad(span.clone())),
    }
}

/// Builds the op of a node statement (without its constant, filled in by the caller).
fn build_op(stmt: &mut NodeStmt) -> Result<Op, ParseError> {
    let items = std::mem::take(&mut stmt.attrs);
    let mut a = Attrs {
        used: vec![false; items.len()],
        items,
        op: &stmt.mnemonic,
        op_span: stmt.mnemonic_span.clone(),
    };
    let placeholder = Tensor {
        dtype: DType::F32,
        shape: Shape(vec![0]),
        data: TensorData::F32(vec![]),
    };
    let op = match stmt.mnemonic.as_str() {
        "input" => Op::Input,
        "const" => Op::Const(ConstAttrs { value: placeholder }),
        "conv" => Op::Conv(a.conv()?),
        "conv_transpose" => Op::ConvTranspose(a.conv_transpose()?),
        "gemm" => Op::Gemm(GemmAttrs {
            alpha: a.f32("alpha")?,
            beta: a.f32("beta")?,
            trans_a: a.bool("trans_a")?,
            trans_b: a.bool("trans_b")?,
        }),
        "matmul" => Op::MatMul,
        "batch_norm" => Op::BatchNorm(BatchNormAttrs {
            epsilon: a.f32("epsilon")?,
        }),
        "relu" => Op::Relu,
        "prelu" => Op::PRelu,
        "leaky_relu" => Op::LeakyRelu(LeakyReluAttrs {
            alpha: a.f32("alpha")?,
        }),
        "clip" => Op::Clip(ClipAttrs {
            min: a.f32("min")?,
            max: a.f32("max")?,
        }),
        "sigmoid" => Op::Sigmoid,
        "hard_sigmoid" => Op::HardSigmoid(HardSigmoidAttrs {
            alpha: a.f32("alpha")?,
            beta: a.f32("beta")?,
        }),
        "hard_swish" => Op::HardSwish,
        "tanh" => Op::Tanh,
        "softmax" => Op::Softmax(SoftmaxAttrs {
            axis: a.usize("axis")?,
        }),
        "add" => Op::Add,
        "sub" => Op::Sub,
        "mul" => Op::Mul,
        "div" => Op::Div,
        "max_pool" => Op::MaxPool(a.pool()?),
        "average_pool" => Op::AveragePool(a.avg_pool()?),
        "global_average_pool" => Op::GlobalAveragePool,
        "reduce_mean" => Op::ReduceMean(ReduceAttrs {
            axes: a.usizes("axes")?,
            keepdims: a.bool("keepdims")?,
        }),
        "concat" => Op::Concat(ConcatAttrs {
            axis: a.usize("axis")?,
        }),
        "split" => Op::Split(SplitAttrs {
            axis: a.usize("axis")?,
            sizes: a.usizes("sizes")?,
        }),
        "slice" => Op::Slice(SliceAttrs {
            starts: a.usizes("starts")?,
            steps: a.i64s("steps")?,
        }),
        "reshape" => Op::Reshape,
        "transpose" => Op::Transpose(TransposeAttrs {
            perm: a.usizes("perm")?,
        }),
        "pad" => Op::Pad(PadAttrs {
            pads: a.i64s("pads")?,
            mode: a.spelled("mode")?,
            value: a.f32("value")?,
        }),
        "resize" => Op::Resize(a.resize()?),
        "quantize" => Op::Quantize,
        "dequantize" => Op::Dequantize,
        "conv_int" => Op::ConvInt(ConvIntAttrs { conv: a.conv()? }),
        "conv_transpose_int" => Op::ConvTransposeInt(ConvTransposeIntAttrs {
            conv: a.conv_transpose()?,
        }),
        "gemm_int" => Op::GemmInt(GemmIntAttrs {
            trans_b: a.bool("trans_b")?,
        }),
        "matmul_int" => Op::MatMulInt,
        "requant" => Op::Requant(RequantAttrs {
            multipliers: a.multipliers("multipliers")?,
            axis: a.usize("axis")?,
            rounding: a.spelled("rounding")?,
            lo: a.i32("lo")?,
            hi: a.i32("hi")?,
        }),
        "add_int" => Op::AddInt(AddIntAttrs {
            shift: a.u32("shift")?,
            ma: a.multiplier("ma")?,
            mb: a.multiplier("mb")?,
            mo: a.multiplier("mo")?,
            rounding: a.spelled("rounding")?,
            lo: a.i32("lo")?,
            hi: a.i32("hi")?,
        }),
        "mul_int" => Op::MulInt(MulIntAttrs {
            m: a.multiplier("m")?,
            rounding: a.spelled("rounding")?,
            lo: a.i32("lo")?,
            hi: a.i32("hi")?,
        }),
        "avg_pool_int" => Op::AvgPoolInt(AvgPoolIntAttrs {
            pool: a.avg_pool()?,
            rounding: a.spelled("rounding")?,
        }),
        "lut" => Op::Lut(LutAttrs {
            table: a.i32s("table")?,
            axis: a.opt_usize("axis")?,
        }),
        "softmax_int" => Op::SoftmaxInt(SoftmaxIntAttrs {
            axis: a.usize("axis")?,
            exp_table: a.i32s("exp_table")?,
            exp_bits: a.u32("exp_bits")?,
            rounding: a.spelled("rounding")?,
        }),
        "resize_int" => Op::ResizeInt(ResizeIntAttrs {
            resize: a.resize()?,
            frac_bits: a.u32("frac_bits")?,
            rounding: a.spelled("rounding")?,
        }),
        m => {
            return Err(err(stmt.mnemonic_span.clone(), format!("unknown op `{m}`")));
        }
    };
    a.finish()?;
    match (&op, stmt.dense.take()) {
        (Op::Const(_), Some(d)) => Ok(Op::Const(ConstAttrs {
            value: build_tensor(d, &stmt.types)?,
        })),
        (Op::Const(_), None) => Err(err(
            stmt.mnemonic_span.clone(),
            "`const` needs a `dense<...>` value",
        )),
        (_, Some(d)) => Err(err(
            d.span,
            format!(
                "only `const` takes a `dense<...>` value, not `{}`",
                stmt.mnemonic
            ),
        )),
        (_, None) => Ok(op),
    }
}

fn parse_elems<T: std::str::FromStr>(
    elems: &[(String, Span)],
    kind: Storage,
) -> Result<Vec<T>, ParseError> {
    elems
        .iter()
        .map(|(w, span)| {
            w.parse().map_err(|_| {
                err(
                    span.clone(),
                    format!("`{w}` is not a valid {} element", kind.spelling()),
                )
            })
        })
        .collect()
}

fn decode_hex(hex: &str, span: &Span, kind: Storage) -> Result<Vec<u8>, ParseError> {
    let digits = &hex[2..];
    if !digits.len().is_multiple_of(2 * kind.size()) {
        return Err(err(
            span.clone(),
            format!(
                "hex blob length {} is not a multiple of the {}-byte {} element",
                digits.len() / 2,
                kind.size(),
                kind.spelling()
            ),
        ));
    }
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| err(span.clone(), "malformed hex blob"))
        })
        .collect()
}

fn build_tensor(d: Dense, types: &[TensorType]) -> Result<Tensor, ParseError> {
    let (dtype, shape) = match (d.ty, types) {
        (Some(ts), _) => ts,
        (None, [t]) => (t.dtype, t.shape.clone()),
        (None, _) => {
            return Err(err(
                d.span,
                "a constant without exactly one result needs an explicit `dense<dtype[shape] ...>`",
            ));
        }
    };
    let kind = d.storage.unwrap_or(Storage::default_for(dtype));
    let data = match d.body {
        DenseBody::List(elems) => match kind {
            Storage::F32 => TensorData::F32(
                elems
                    .iter()
                    .map(|(w, span)| {
                        parse_f32(w).ok_or_else(|| {
                            err(span.clone(), format!("`{w}` is not a valid f32 element"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Storage::I32 => TensorData::I32(parse_elems(&elems, kind)?),
            Storage::I16 => TensorData::I16(parse_elems(&elems, kind)?),
            Storage::I8 => TensorData::I8(parse_elems(&elems, kind)?),
            Storage::U8 => TensorData::U8(parse_elems(&elems, kind)?),
        },
        DenseBody::Hex(hex, span) => {
            let bytes = decode_hex(&hex, &span, kind)?;
            match kind {
                Storage::F32 => TensorData::F32(
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                ),
                Storage::I32 => TensorData::I32(
                    bytes
                        .chunks_exact(4)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                ),
                Storage::I16 => TensorData::I16(
                    bytes
                        .chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]))
                        .collect(),
                ),
                Storage::I8 => TensorData::I8(bytes.iter().map(|&b| b as i8).collect()),
                Storage::U8 => TensorData::U8(bytes),
            }
        }
    };
    Ok(Tensor { dtype, shape, data })
}

fn build(file: File) -> Result<Parsed, ParseError> {
    let mut g = Graph::new(file.name);
    g.phase = file.phase;
    let mut defs: HashMap<String, ValueId> = HashMap::new();
    let mut built: Vec<(NodeId, NodeStmt)> = Vec::with_capacity(file.nodes.len());
    for mut stmt in file.nodes {
        if !stmt.types.is_empty() && stmt.types.len() != stmt.results.len() {
            return Err(err(
                stmt.types_span.clone(),
                format!(
                    "{} results but {} types",
                    stmt.results.len(),
                    stmt.types.len()
                ),
            ));
        }
        if stmt.types.is_empty() && !stmt.results.is_empty() {
            return Err(err(
                stmt.types_span.clone(),
                format!(
                    "expected `:` and the types of {} results",
                    stmt.results.len()
                ),
            ));
        }
        let op = build_op(&mut stmt)?;
        let is_input = matches!(op, Op::Input);
        let types = std::mem::take(&mut stmt.types);
        let (id, outs) = g.add_node(op, vec![], types, "");
        for ((name, vname, span), &v) in stmt.results.iter().zip(&outs) {
            if defs.insert(name.clone(), v).is_some() {
                return Err(err(
                    span.clone(),
                    format!("value `%{name}` is defined twice"),
                ));
            }
            g.value_mut(v).name = vname.clone();
        }
        let default_name = match stmt.results.first() {
            Some((_, Some(n), _)) if is_input => n.clone(),
            _ => String::new(),
        };
        g.set_node_name(id, stmt.name.clone().unwrap_or(default_name));
        built.push((id, stmt));
    }
    let resolve = |refs: &[(String, Span)]| -> Result<Vec<ValueId>, ParseError> {
        refs.iter()
            .map(|(name, span)| {
                defs.get(name)
                    .copied()
                    .ok_or_else(|| err(span.clone(), format!("undefined value `%{name}`")))
            })
            .collect()
    };
    let mut node_spans = Vec::with_capacity(built.len());
    for (id, stmt) in &built {
        let inputs = resolve(&stmt.operands)?;
        g.set_inputs(*id, inputs);
        node_spans.push((*id, stmt.span.clone()));
    }
    if let Some(l) = &file.inputs {
        g.inputs = resolve(&l.refs)?;
    }
    if let Some(l) = &file.outputs {
        g.outputs = resolve(&l.refs)?;
    }
    Ok(Parsed {
        graph: g,
        node_spans,
        header_span: file.header_span,
        inputs_span: file.inputs.map(|l| l.span),
        outputs_span: file.outputs.map(|l| l.span),
    })
}
