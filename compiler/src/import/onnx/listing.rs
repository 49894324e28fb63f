//! A text listing of an ONNX graph for diagnostics, with the byte range of every line.
//!
//! ```text
//! model "net" (opset 13)
//! input x: f32[N,3,224,224]
//! initializer conv.weight: f32[8,3,3,3]
//! conv1: Conv(x, conv.weight) -> y {pads=[1,1,1,1], strides=[1,1]}
//! output y
//! ```
//! Long names and attribute lists are shortened so a hostile model cannot blow up the listing.

use super::error::ErrorKind;
use super::proto::{self, AttributeProto, GraphProto, ModelProto, attribute_proto::AttributeType};
use std::collections::HashMap;
use std::fmt::Write;
use std::ops::Range;

/// One node's line.
#[derive(Clone, Debug)]
pub(crate) struct NodeInfo {
    pub name: String,
    pub op_type: String,
    pub span: Range<usize>,
}

/// The rendered model and where each entity's line is.
#[derive(Clone, Debug)]
pub(crate) struct Listing {
    pub file_name: String,
    pub text: String,
    pub opset: i64,
    pub nodes: Vec<NodeInfo>,
    inputs: HashMap<String, Range<usize>>,
    initializers: HashMap<String, Range<usize>>,
    outputs: HashMap<String, Range<usize>>,
}

const MAX_NAME: usize = 80;
const MAX_LIST: usize = 16;

impl Listing {
    /// Renders `model`'s graph.
    pub fn new(model: &ModelProto, file_name: &str, opset: i64) -> Listing {
        let mut l = Listing {
            file_name: format!("{file_name}.listing"),
            text: String::new(),
            opset,
            nodes: Vec::new(),
            inputs: HashMap::new(),
            initializers: HashMap::new(),
            outputs: HashMap::new(),
        };
        let empty = GraphProto::default();
        let g = model.graph.as_ref().unwrap_or(&empty);
        let _ = writeln!(l.text, "model \"{}\" (opset {opset})", short(&g.name));
        for i in &g.input {
            let start = l.text.len();
            let _ = write!(l.text, "input {}: {}", short(&i.name), value_type(i));
            l.inputs.insert(i.name.clone(), start..l.text.len());
            l.text.push('\n');
        }
        for t in &g.initializer {
            let start = l.text.len();
            let _ = write!(
                l.text,
                "initializer {}: {}{}",
                short(&t.name),
                elem_name(t.data_type),
                dims_text(&t.dims)
            );
            l.initializers.insert(t.name.clone(), start..l.text.len());
            l.text.push('\n');
        }
        for (idx, n) in g.node.iter().enumerate() {
            let start = l.text.len();
            let name = display_name(n, idx);
            let _ = write!(
                l.text,
                "{}: {}({}) -> {}",
                short(&name),
                short(&n.op_type),
                names(&n.input),
                names(&n.output)
            );
            if !n.attribute.is_empty() {
                let attrs: Vec<String> = n.attribute.iter().take(MAX_LIST).map(attr_text).collect();
                let _ = write!(l.text, " {{{}}}", attrs.join(", "));
            }
            l.nodes.push(NodeInfo {
                name: short(&name),
                op_type: short(&n.op_type),
                span: start..l.text.len(),
            });
            l.text.push('\n');
        }
        for o in &g.output {
            let start = l.text.len();
            let _ = write!(l.text, "output {}", short(&o.name));
            l.outputs.insert(o.name.clone(), start..l.text.len());
            l.text.push('\n');
        }
        l
    }

    /// The line an error should point at.
    pub fn span_for(&self, kind: &ErrorKind) -> Option<Range<usize>> {
        if let Some(n) = kind.node() {
            return self.nodes.get(n).map(|i| i.span.clone());
        }
        match kind {
            ErrorKind::DanglingOutput { name } => self.outputs.get(name).cloned(),
            ErrorKind::DynamicDim { input, .. } | ErrorKind::InputShape { input, .. } => {
                self.inputs.get(input).cloned()
            }
            ErrorKind::Tensor { name, .. } => self
                .initializers
                .get(name)
                .or_else(|| self.inputs.get(name))
                .cloned(),
            _ => None,
        }
    }
}

/// The name the importer and the listing use for node `idx`: its own, else its first output.
pub(crate) fn display_name(n: &proto::NodeProto, idx: usize) -> String {
    if !n.name.is_empty() {
        n.name.clone()
    } else if let Some(o) = n.output.first().filter(|o| !o.is_empty()) {
        o.clone()
    } else {
        format!("{}_{idx}", n.op_type)
    }
}

fn short(s: &str) -> String {
    if s.len() <= MAX_NAME {
        return s.to_string();
    }
    let mut end = MAX_NAME;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}..", &s[..end])
}

fn names(v: &[String]) -> String {
    let mut parts: Vec<String> = v.iter().take(MAX_LIST).map(|s| short(s)).collect();
    if v.len() > MAX_LIST {
        parts.push(format!("..{} more", v.len() - MAX_LIST));
    }
    parts.join(", ")
}

fn list<T: std::fmt::Display>(v: &[T]) -> String {
    let mut parts: Vec<String> = v.iter().take(MAX_LIST).map(|x| x.to_string()).collect();
    if v.len() > MAX_LIST {
        parts.push("..".into());
    }
    format!("[{}]", parts.join(","))
}

fn dims_text(d: &[i64]) -> String {
    list(d)
}

pub(crate) fn elem_name(code: i32) -> &'static str {
    proto::tensor_proto::DataType::try_from(code)
        .map(|d| d.as_str_name())
        .unwrap_or("UNKNOWN")
}

fn value_type(v: &proto::ValueInfoProto) -> String {
    use proto::tensor_shape_proto::dimension::Value as D;
    use proto::type_proto::Value as T;
    match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(T::TensorType(t)) => {
            let dims = match &t.shape {
                Some(s) => {
                    let d: Vec<String> = s
                        .dim
                        .iter()
                        .take(MAX_LIST)
                        .map(|d| match &d.value {
                            Some(D::DimValue(v)) => v.to_string(),
                            Some(D::DimParam(p)) => short(p),
                            None => "?".into(),
                        })
                        .collect();
                    format!("[{}]", d.join(","))
                }
                None => "[?]".into(),
            };
            format!("{}{dims}", elem_name(t.elem_type))
        }
        Some(_) => "non-tensor".into(),
        None => "untyped".into(),
    }
}

fn attr_text(a: &AttributeProto) -> String {
    let v = match AttributeType::try_from(a.r#type) {
        Ok(AttributeType::Float) => a.f.to_string(),
        Ok(AttributeType::Int) => a.i.to_string(),
        Ok(AttributeType::String) => format!("\"{}\"", short(&String::from_utf8_lossy(&a.s))),
        Ok(AttributeType::Floats) => list(&a.floats),
        Ok(AttributeType::Ints) => list(&a.ints),
        Ok(AttributeType::Tensor) => match &a.t {
            Some(t) => format!("tensor {}{}", elem_name(t.data_type), dims_text(&t.dims)),
            None => "tensor".into(),
        },
        Ok(t) => t.as_str_name().to_lowercase(),
        Err(_) => "?".into(),
    };
    format!("{}={v}", short(&a.name))
}
