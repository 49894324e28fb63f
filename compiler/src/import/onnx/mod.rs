//! ONNX import: a `ModelProto` (opsets 7 to 21 of the default domain) to a float [`ir::Graph`],
//! or a Qdq-phase graph for already-quantized models ([`ops_quant`]).
//!
//! Steps:
//! 1. decode the protobuf and check the opset;
//! 2. type the graph inputs, pinning dynamic dims from [`ImportOptions::input_shapes`]
//!    (an unpinned dynamic dim 0 defaults to 1, any other is an error);
//! 3. decode initializers (and constant-bound inputs) into import-time constants;
//! 4. order the nodes topologically (rejecting undefined inputs and cycles);
//! 5. convert each node: shape subgraphs over constants are evaluated ([`fold`]), the rest
//!    become IR nodes typed by [`ir::infer::infer_output_types`];
//! 6. name the graph outputs and drop nodes nothing uses.
//!
//! Errors are [`ImportError`]s whose diagnostics point into a text listing of the model.

mod ctx;
mod error;
mod fold;
mod listing;
mod ops_nn;
mod ops_quant;
mod ops_shape;
#[allow(missing_docs)]
pub mod proto;
mod shapes;
mod tensor;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_ops;
#[cfg(test)]
mod tests_quant;
#[cfg(test)]
mod tests_shape_ops;

pub use error::{ErrorKind, ImportError, OPSET_RANGE};
pub use tensor::MAX_ELEMENTS;

use ctx::{Cx, Importer, R, Val};
use prost::Message;
use proto::{GraphProto, ModelProto};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Options of an import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Static shapes for graph inputs (`--input-shape NAME=D0,D1`), pinning dynamic dims.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    /// Where external data files live (the model's directory).
    pub base_dir: Option<PathBuf>,
    /// Graph inputs bound to constants (ONNX node tests use this for shape/axes inputs).
    pub constant_inputs: BTreeMap<String, proto::TensorProto>,
}

/// The external-data file names (relative to the model's directory) a serialized model
/// refers to, for build-system dependency files. Undecodable bytes give an empty list (the
/// import itself reports the problem).
pub fn external_data_files(bytes: &[u8]) -> Vec<String> {
    let Ok(m) = ModelProto::decode(bytes) else {
        return Vec::new();
    };
    let mut files: Vec<String> = m
        .graph
        .iter()
        .flat_map(|g| &g.initializer)
        .filter(|t| t.data_location == proto::tensor_proto::DataLocation::External as i32)
        .flat_map(|t| &t.external_data)
        .filter(|e| e.key == "location")
        .map(|e| e.value.clone())
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Imports a serialized ONNX model.
pub fn import_model_bytes(bytes: &[u8], opts: &ImportOptions) -> Result<ir::Graph, ImportError> {
    import_named(bytes, opts, "model.onnx")
}

/// Imports an ONNX model file; `base_dir` defaults to the file's directory.
pub fn import_model_file(path: &Path, opts: &ImportOptions) -> Result<ir::Graph, ImportError> {
    let bytes = std::fs::read(path).map_err(|e| ErrorKind::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut opts = opts.clone();
    if opts.base_dir.is_none() {
        opts.base_dir = Some(
            path.parent()
                .map(Path::to_path_buf)
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or_else(|| PathBuf::from(".")),
        );
    }
    let name = path.file_name().map_or_else(
        || "model.onnx".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    import_named(&bytes, &opts, &name)
}

/// Decodes one tensor (float, int32/16/8, uint8, fp16/bf16/double as f32, int64 fitting
/// i32, bool as u8); used by the node-test harness to read `input_K.pb`/`output_K.pb`.
pub fn tensor_from_proto(
    t: &proto::TensorProto,
    base_dir: Option<&Path>,
) -> Result<ir::Tensor, ImportError> {
    let c = tensor::decode(t, base_dir)?;
    tensor::to_ir_tensor(&c).map_err(|message| {
        ImportError::new(ErrorKind::Tensor {
            node: None,
            name: t.name.clone(),
            message,
        })
    })
}

fn import_named(
    bytes: &[u8],
    opts: &ImportOptions,
    file_name: &str,
) -> Result<ir::Graph, ImportError> {
    if bytes.is_empty() {
        return Err(ErrorKind::Decode {
            file: file_name.to_string(),
            message: "the file is empty".into(),
        }
        .into());
    }
    let model = ModelProto::decode(bytes).map_err(|e| ErrorKind::Decode {
        file: file_name.to_string(),
        message: e.to_string(),
    })?;
    let opset = default_opset(&model)?;
    let Some(graph) = model.graph.as_ref() else {
        return Err(ErrorKind::NoGraph.into());
    };
    import_graph(graph, opset, opts).map_err(|kind| {
        let listing = listing::Listing::new(&model, file_name, opset);
        ImportError::with_listing(kind, listing)
    })
}

fn default_opset(model: &ModelProto) -> Result<i64, ErrorKind> {
    let version = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or(ErrorKind::NoOpset)?;
    if !(OPSET_RANGE.0..=OPSET_RANGE.1).contains(&version) {
        return Err(ErrorKind::Opset { version });
    }
    Ok(version)
}

fn import_graph(graph: &GraphProto, opset: i64, opts: &ImportOptions) -> R<ir::Graph> {
    let name = if graph.name.is_empty() {
        "model".to_string()
    } else {
        graph.name.clone()
    };
    let mut imp = Importer {
        g: ir::Graph::new(name),
        env: HashMap::new(),
        materialized: HashMap::new(),
        base_dir: opts.base_dir.clone(),
    };

    // Constants: initializers, then constant-bound inputs.
    for t in &graph.initializer {
        let c = tensor::decode(t, opts.base_dir.as_deref())?;
        imp.env.insert(t.name.clone(), Val::Const(Rc::new(c)));
    }
    for (name, t) in &opts.constant_inputs {
        let c = tensor::decode(t, opts.base_dir.as_deref())?;
        imp.env.insert(name.clone(), Val::Const(Rc::new(c)));
    }

    // Runtime inputs.
    let input_names: HashSet<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    if let Some(unknown) = opts
        .input_shapes
        .keys()
        .find(|k| !input_names.contains(k.as_str()))
    {
        return Err(ErrorKind::InputShape {
            input: unknown.clone(),
            message: "the model has no graph input of this name".into(),
        });
    }
    for vi in &graph.input {
        if imp.env.contains_key(&vi.name) {
            continue; // an initializer listed as an input (IR < 4) is a constant
        }
        let ty = input_type(vi, opts)?;
        let v = imp.g.add_input(vi.name.clone(), ty);
        imp.env.insert(vi.name.clone(), Val::Ir(v));
    }

    let order = topo_order(graph, &imp.env)?;
    let mut producer_of: HashMap<&str, usize> = HashMap::new();
    for idx in order {
        let node = &graph.node[idx];
        for o in &node.output {
            producer_of.insert(o.as_str(), idx);
        }
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(ErrorKind::UnknownOp {
                node: idx,
                op_type: node.op_type.clone(),
                domain: node.domain.clone(),
            });
        }
        let mut cx = Cx {
            imp: &mut imp,
            idx,
            node,
            name: listing::display_name(node, idx),
            opset,
        };
        let outs = convert(&mut cx)?;
        for (i, name) in node.output.iter().enumerate() {
            if name.is_empty() {
                continue;
            }
            let v = outs
                .get(i)
                .cloned()
                .unwrap_or_else(|| Val::Absent(format!("output {i} of {}", node.op_type)));
            imp.env.insert(name.clone(), v);
        }
    }

    // Graph outputs keep their ONNX names.
    for o in &graph.output {
        let v = match imp.env.get(&o.name).cloned() {
            Some(Val::Ir(v)) => v,
            Some(Val::Const(c)) => {
                let node = producer_of.get(o.name.as_str()).copied().unwrap_or(0);
                imp.materialize(&o.name, &c, node)?
            }
            Some(Val::Absent(why)) => {
                return Err(ErrorKind::Unsupported {
                    node: producer_of.get(o.name.as_str()).copied().unwrap_or(0),
                    message: format!(
                        "graph output `{}` is {why}, which qcc does not compute",
                        o.name
                    ),
                });
            }
            None => {
                return Err(ErrorKind::DanglingOutput {
                    name: o.name.clone(),
                });
            }
        };
        let v = if imp.g.value(v).name.is_some() || imp.g.outputs.contains(&v) {
            // Already an input or another output: a same-shape Reshape carries the new name.
            let ty = imp.g.ty(v).clone();
            imp.g
                .add_simple(ir::Op::Reshape, vec![v], ty, o.name.clone())
        } else {
            v
        };
        imp.g.value_mut(v).name = Some(o.name.clone());
        imp.g.outputs.push(v);
    }
    imp.g.remove_dead_nodes();
    Ok(imp.g)
}

/// The static type of a runtime graph input.
fn input_type(vi: &proto::ValueInfoProto, opts: &ImportOptions) -> R<ir::TensorType> {
    use proto::tensor_shape_proto::dimension::Value as D;
    use proto::type_proto::Value as T;
    let bad = |message: String| ErrorKind::InputShape {
        input: vi.name.clone(),
        message,
    };
    let Some(T::TensorType(tt)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err(bad("is not a tensor".into()));
    };
    if tt.elem_type != proto::tensor_proto::DataType::Float as i32 {
        return Err(bad(format!(
            "element type {} is not supported (qcc takes float inputs)",
            listing::elem_name(tt.elem_type)
        )));
    }
    let model_dims: Option<Vec<Option<usize>>> = tt.shape.as_ref().map(|s| {
        s.dim
            .iter()
            .map(|d| match &d.value {
                Some(D::DimValue(v)) if *v > 0 => Some(*v as usize),
                _ => None,
            })
            .collect()
    });
    let dims = if let Some(pin) = opts.input_shapes.get(&vi.name) {
        if let Some(md) = &model_dims {
            if md.len() != pin.len() {
                return Err(bad(format!(
                    "--input-shape gives {} dims but the model's input has rank {}",
                    pin.len(),
                    md.len()
                )));
            }
            if let Some((i, (m, p))) = md
                .iter()
                .zip(pin)
                .enumerate()
                .find(|(_, (m, p))| m.is_some_and(|m| m != **p))
            {
                return Err(bad(format!(
                    "--input-shape sets dim {i} to {p} but the model fixes it to {}",
                    m.unwrap_or(0)
                )));
            }
        }
        pin.clone()
    } else {
        let md = model_dims
            .ok_or_else(|| bad("has no shape in the model; pass --input-shape".into()))?;
        let s = tt.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or(&[]);
        let mut out = Vec::with_capacity(md.len());
        for (i, d) in md.iter().enumerate() {
            match d {
                Some(v) => out.push(*v),
                None if i == 0 => out.push(1),
                None => {
                    let name_of = |j: usize| match s.get(j).and_then(|d| d.value.as_ref()) {
                        Some(D::DimParam(p)) if !p.is_empty() => p.clone(),
                        _ => "?".to_string(),
                    };
                    let suggestion: Vec<String> = md
                        .iter()
                        .enumerate()
                        .map(|(j, d)| match d {
                            Some(v) => v.to_string(),
                            None if j == 0 => "1".into(),
                            None => format!("<{}>", name_of(j)),
                        })
                        .collect();
                    return Err(ErrorKind::DynamicDim {
                        input: vi.name.clone(),
                        dim: i,
                        param: name_of(i),
                        suggestion: format!("{}={}", vi.name, suggestion.join(",")),
                    });
                }
            }
        }
        out
    };
    if dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .is_none_or(|n| n > MAX_ELEMENTS)
    {
        return Err(bad(format!(
            "shape {dims:?} has more than {MAX_ELEMENTS} elements"
        )));
    }
    Ok(ir::TensorType::f32(dims))
}

/// Kahn's algorithm in node-index order; undefined inputs and cycles are errors.
fn topo_order(graph: &GraphProto, env: &HashMap<String, Val>) -> R<Vec<usize>> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (idx, n) in graph.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if producer.insert(o.as_str(), idx).is_some() || env.contains_key(o) {
                return Err(ErrorKind::InvalidNode {
                    node: idx,
                    message: format!("value `{o}` is defined more than once"),
                });
            }
        }
    }
    let mut indeg = vec![0usize; graph.node.len()];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); graph.node.len()];
    for (idx, n) in graph.node.iter().enumerate() {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            if let Some(&p) = producer.get(i.as_str()) {
                indeg[idx] += 1;
                users[p].push(idx);
            } else if !env.contains_key(i) {
                return Err(ErrorKind::MissingInput {
                    node: idx,
                    name: i.clone(),
                });
            }
        }
    }
    for o in &graph.output {
        if !producer.contains_key(o.name.as_str()) && !env.contains_key(&o.name) {
            return Err(ErrorKind::DanglingOutput {
                name: o.name.clone(),
            });
        }
    }
    let mut ready: BTreeSet<usize> = (0..graph.node.len()).filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(graph.node.len());
    while let Some(n) = ready.pop_first() {
        order.push(n);
        for &u in &users[n] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() != graph.node.len() {
        // Walk from a stuck node to stuck producers until a node repeats: it is on a cycle.
        let mut node = (0..graph.node.len()).find(|&i| indeg[i] > 0).unwrap_or(0);
        let mut seen = vec![false; graph.node.len()];
        while !std::mem::replace(&mut seen[node], true) {
            let next = graph.node[node]
                .input
                .iter()
                .filter_map(|i| producer.get(i.as_str()).copied())
                .find(|&p| indeg[p] > 0);
            match next {
                Some(p) => node = p,
                None => break,
            }
        }
        return Err(ErrorKind::Cycle { node });
    }
    Ok(order)
}

/// Dispatches one node to its converter.
fn convert(cx: &mut Cx) -> R<Vec<Val>> {
    let op = cx.node.op_type.clone();
    match op.as_str() {
        "Constant" => return fold::constant(cx),
        "Shape" | "Size" => return fold::shape_of(cx),
        "Identity" | "Dropout" => return ops_shape::pass_through(cx),
        _ => {}
    }
    if let Some(r) = ops_quant::convert(cx, convert) {
        return r;
    }
    if fold::FOLDABLE.contains(&op.as_str()) && cx.num_inputs() > 0 && cx.all_const() {
        return fold::eval(cx);
    }
    match op.as_str() {
        "Conv" => ops_nn::conv(cx),
        "ConvTranspose" => ops_nn::conv_transpose(cx),
        "Gemm" => ops_nn::gemm(cx),
        "MatMul" => ops_nn::matmul(cx),
        "Sum" => ops_nn::sum(cx),
        "BatchNormalization" => ops_nn::batch_norm(cx),
        "Relu" | "Sigmoid" | "Tanh" | "HardSwish" | "LeakyRelu" | "HardSigmoid" => ops_nn::unary(cx),
        "Clip" => ops_nn::clip(cx),
        "PRelu" => ops_nn::prelu(cx),
        "Add" | "Sub" | "Mul" | "Div" => ops_nn::binary(cx),
        "Softmax" => ops_nn::softmax(cx),
        "MaxPool" | "AveragePool" | "GlobalMaxPool" => ops_nn::pool(cx),
        "GlobalAveragePool" => ops_nn::global_avg_pool(cx),
        "ReduceMean" => ops_nn::reduce_mean(cx),
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => ops_shape::reshape_like(cx),
        "Transpose" => ops_shape::transpose(cx),
        "Concat" => ops_shape::concat(cx),
        "Split" => ops_shape::split(cx),
        "Slice" => ops_shape::slice(cx),
        "Pad" => ops_shape::pad(cx),
        "Resize" | "Upsample" => ops_shape::resize(cx),
        "Expand" => ops_shape::expand(cx),
        "Gather" => ops_shape::gather(cx),
        t if fold::FOLD_ONLY.contains(&t) => Err(cx.unsupported(format!(
            "{t} on a tensor computed at run time is not supported (qcc evaluates it only on import-time constants)"
        ))),
        _ => Err(ErrorKind::UnknownOp {
            node: cx.idx,
            op_type: op,
            domain: String::new(),
        }),
    }
}
