//! ONNX export of Float- and Qdq-phase graphs (opset 17, IR version 8).
//!
//! Every float op goes back to its ONNX form, with the opset-17 spelling of operands that
//! moved from attributes to inputs: Clip `min`/`max`, Pad `pads`/`constant_value`, Split
//! `split`, Slice `starts`/`ends`/`axes`/`steps`, Reshape `shape` and Resize `sizes` (or
//! `scales` when the model's scales differ from the size ratio) are initializers;
//! ReduceMean keeps `axes` as an attribute (it became an input at opset 18).
//!
//! The quantization boundary becomes QDQ: [`Op::Quantize`] is `QuantizeLinear` and
//! [`Op::Dequantize`] `DequantizeLinear`, with scale and zero-point initializers named after
//! the quantized value (`<value>_scale`, `<value>_zero_point`; an `axis` attribute for
//! per-axis parameters), and integer constants are integer initializers. 4-bit constants
//! are written in their 8-bit storage type (the values fit, and `DequantizeLinear` computes
//! the same reals). What opset 17 cannot say is an [`ExportError`]: quantizing to
//! i32/i16/4-bit or to fewer bits than the storage type, AveragePool dilations, and every
//! Integer-phase op.
//!
//! Names: graph inputs and outputs keep theirs; other values are named after their node
//! (made unique with a `_<k>` suffix); constants are initializers named after their node.
//! Each node's ONNX name is its IR node name (made unique the same way, as onnxruntime
//! requires), so re-importing a graph with unique node names reproduces it exactly.

use crate::import::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_proto::DataType, tensor_shape_proto, type_proto,
};
use ir::{
    CoordMode, DType, Graph, NearestMode, NodeId, Op, PadMode, Phase, QuantGranularity,
    QuantParams, ResizeMode, Tensor, TensorData, TensorType, ValueId,
};
use prost::Message;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use thiserror::Error;

/// The default-domain opset of exported models.
pub const EXPORT_OPSET: i64 = 17;
/// The ONNX IR version of exported models.
pub const EXPORT_IR_VERSION: i64 = 8;

/// Why a graph cannot be written as ONNX.
#[derive(Clone, PartialEq, Debug, Error)]
pub enum ExportError {
    /// Integer and Scheduled graphs have no ONNX form here.
    #[error(
        "cannot export a graph in the {0} phase as onnx: only float and qdq graphs can be exported (export before lower-integer)"
    )]
    Phase(Phase),
    /// A node that opset 17 cannot express.
    #[error("node `{node}` ({op}): {message}")]
    Unsupported {
        /// The IR node's name.
        node: String,
        /// Its mnemonic.
        op: &'static str,
        /// What cannot be expressed.
        message: String,
    },
    /// The graph has a cycle (it would not verify).
    #[error("the graph has a cycle through node `{0}`")]
    Cycle(String),
}

/// Serializes a Float- or Qdq-phase graph as an ONNX model (opset 17, QDQ form).
pub fn export_qdq_onnx(g: &Graph) -> Result<Vec<u8>, ExportError> {
    Ok(export_model(g)?.encode_to_vec())
}

/// The ONNX `ModelProto` of a Float- or Qdq-phase graph.
pub fn export_model(g: &Graph) -> Result<ModelProto, ExportError> {
    match g.phase {
        Phase::Float | Phase::Calibrated | Phase::Qdq => {}
        Phase::Integer | Phase::Scheduled => return Err(ExportError::Phase(g.phase)),
    }
    let order = creation_order(g)?;
    let mut ex = Exporter::new(g);
    ex.name_values(&order);
    for &n in &order {
        ex.node(n)?;
    }
    let input = g.inputs.iter().map(|&v| ex.value_info(v)).collect();
    let output = g.outputs.iter().map(|&v| ex.value_info(v)).collect();
    let graph = GraphProto {
        node: ex.nodes,
        name: g.name.clone(),
        initializer: ex.initializers,
        input,
        output,
        value_info: ex.value_infos,
        ..Default::default()
    };
    Ok(ModelProto {
        ir_version: EXPORT_IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: EXPORT_OPSET,
        }],
        producer_name: "qcc".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph),
        ..Default::default()
    })
}

/// Topological order that always takes the ready node created first (Kahn's algorithm on
/// node indices), so that re-importing the written node list recreates the graph's nodes
/// in the same order (qcc's importer also creates nodes in file order).
fn creation_order(g: &Graph) -> Result<Vec<NodeId>, ExportError> {
    let ids: Vec<NodeId> = g.node_ids().collect();
    let pos: HashMap<NodeId, usize> = ids.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let mut indeg = vec![0usize; ids.len()];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    for (i, &n) in ids.iter().enumerate() {
        for &v in &g.node(n).inputs {
            let p = pos[&g.value(v).producer];
            indeg[i] += 1;
            users[p].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<(usize, usize)>> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| indeg[*i] == 0)
        .map(|(i, n)| Reverse((n.index(), i)))
        .collect();
    let mut order = Vec::with_capacity(ids.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(ids[i]);
        for &u in &users[i] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                ready.push(Reverse((ids[u].index(), u)));
            }
        }
    }
    match (0..ids.len()).find(|&i| indeg[i] > 0) {
        Some(i) => Err(ExportError::Cycle(g.node(ids[i]).name.clone())),
        None => Ok(order),
    }
}

struct Exporter<'g> {
    g: &'g Graph,
    names: HashMap<ValueId, String>,
    used: HashSet<String>,
    /// Node names in use (onnxruntime rejects duplicates).
    node_names: HashSet<String>,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    value_infos: Vec<ValueInfoProto>,
    /// Scale and zero-point initializer names per quantized value.
    qparams: HashMap<ValueId, (String, String)>,
}

impl<'g> Exporter<'g> {
    fn new(g: &'g Graph) -> Exporter<'g> {
        Exporter {
            g,
            names: HashMap::new(),
            used: HashSet::new(),
            node_names: HashSet::new(),
            nodes: Vec::new(),
            initializers: Vec::new(),
            value_infos: Vec::new(),
            qparams: HashMap::new(),
        }
    }

    /// A name not used yet: `base`, else `base_1`, `base_2`, ...
    fn fresh(&mut self, base: &str) -> String {
        let base = if base.is_empty() { "v" } else { base };
        let mut name = base.to_string();
        let mut k = 0;
        while self.used.contains(&name) {
            k += 1;
            name = format!("{base}_{k}");
        }
        self.used.insert(name.clone());
        name
    }

    /// Names every value: graph inputs and outputs first (they keep their names), then the
    /// rest after their producing node.
    fn name_values(&mut self, order: &[NodeId]) {
        let g = self.g;
        for &v in g.inputs.iter().chain(&g.outputs) {
            if self.names.contains_key(&v) {
                continue;
            }
            if let Some(n) = &g.value(v).name {
                let n = self.fresh(n);
                self.names.insert(v, n);
            }
        }
        for &n in order {
            let node = g.node(n);
            for (i, &v) in node.outputs.iter().enumerate() {
                if self.names.contains_key(&v) {
                    continue;
                }
                let base = match (&g.value(v).name, node.outputs.len()) {
                    (Some(name), _) => name.clone(),
                    (None, 1) => node.name.clone(),
                    (None, _) => format!("{}_out{i}", node.name),
                };
                let name = self.fresh(&base);
                self.names.insert(v, name);
            }
        }
    }

    fn name(&self, v: ValueId) -> String {
        self.names.get(&v).cloned().unwrap_or_default()
    }

    fn value_info(&self, v: ValueId) -> ValueInfoProto {
        let ty = self.g.ty(v);
        ValueInfoProto {
            name: self.name(v),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: elem_type(ty.dtype) as i32,
                    shape: Some(TensorShapeProto {
                        dim: ty
                            .shape
                            .dims()
                            .iter()
                            .map(|&d| tensor_shape_proto::Dimension {
                                value: Some(tensor_shape_proto::dimension::Value::DimValue(
                                    d as i64,
                                )),
                                ..Default::default()
                            })
                            .collect(),
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Adds an initializer named after `base` and returns its name.
    fn init(&mut self, base: &str, mut t: TensorProto) -> String {
        let name = self.fresh(base);
        t.name = name.clone();
        self.initializers.push(t);
        name
    }

    fn push(
        &mut self,
        id: NodeId,
        op_type: &str,
        inputs: Vec<String>,
        attribute: Vec<AttributeProto>,
    ) {
        let node = self.g.node(id);
        let output: Vec<String> = node.outputs.iter().map(|&v| self.name(v)).collect();
        for &v in &node.outputs {
            if !self.g.outputs.contains(&v) {
                self.value_infos.push(self.value_info(v));
            }
        }
        let mut name = node.name.clone();
        let mut k = 0;
        while !self.node_names.insert(name.clone()) {
            k += 1;
            name = format!("{}_{k}", node.name);
        }
        self.nodes.push(NodeProto {
            input: inputs,
            output,
            name,
            op_type: op_type.to_string(),
            attribute,
            ..Default::default()
        });
    }

    /// Scale and zero-point initializers for the quantized value `v` (made once per value).
    fn qparam_inputs(
        &mut self,
        id: NodeId,
        v: ValueId,
    ) -> Result<(String, String, Option<i64>), ExportError> {
        let ty = self.g.ty(v).clone();
        let Some(q) = ty.quant.clone() else {
            return Err(self.unsupported(
                id,
                format!("{} value has no quantization parameters", ty.dtype),
            ));
        };
        let axis = match &q.granularity {
            QuantGranularity::PerTensor { .. } => None,
            QuantGranularity::PerAxis { axis, .. } => Some(*axis as i64),
        };
        if let Some((s, z)) = self.qparams.get(&v) {
            return Ok((s.clone(), z.clone(), axis));
        }
        let base = self.name(v);
        let (scales, zps, dims) = match &q.granularity {
            QuantGranularity::PerTensor { scale, zero_point } => {
                (vec![*scale], vec![*zero_point], vec![])
            }
            QuantGranularity::PerAxis {
                scales,
                zero_points,
                ..
            } => (
                scales.clone(),
                zero_points.clone(),
                vec![scales.len() as i64],
            ),
        };
        let scale = self.init(&format!("{base}_scale"), f32_tensor(&dims, &scales));
        let zp_tensor = int_tensor(storage_dtype(ty.dtype), &dims, &zps);
        let zp = self.init(&format!("{base}_zero_point"), zp_tensor);
        self.qparams.insert(v, (scale.clone(), zp.clone()));
        Ok((scale, zp, axis))
    }

    fn unsupported(&self, id: NodeId, message: String) -> ExportError {
        let node = self.g.node(id);
        ExportError::Unsupported {
            node: node.name.clone(),
            op: node.op.mnemonic(),
            message,
        }
    }

    fn node(&mut self, id: NodeId) -> Result<(), ExportError> {
        let g = self.g;
        let node = g.node(id);
        let ins: Vec<String> = node.inputs.iter().map(|&v| self.name(v)).collect();
        let out_ty = |i: usize| g.ty(node.outputs[i]);
        let in_ty = |i: usize| g.ty(node.inputs[i]);
        match &node.op {
            Op::Input => {}
            Op::Const(c) => {
                let v = node.outputs[0];
                let mut t = tensor_proto(&c.value);
                t.name = self.name(v);
                self.initializers.push(t);
            }
            Op::Conv(a) => {
                let kernel = in_ty(1).shape.dims()[2..].to_vec();
                let attrs = vec![
                    a_ints("dilations", &a.dilations),
                    a_int("group", a.group as i64),
                    a_ints("kernel_shape", &kernel),
                    a_ints("pads", &a.pads),
                    a_ints("strides", &a.strides),
                ];
                self.push(id, "Conv", ins, attrs);
            }
            Op::ConvTranspose(a) => {
                let kernel = in_ty(1).shape.dims()[2..].to_vec();
                let attrs = vec![
                    a_ints("dilations", &a.dilations),
                    a_int("group", a.group as i64),
                    a_ints("kernel_shape", &kernel),
                    a_ints("output_padding", &a.output_padding),
                    a_ints("pads", &a.pads),
                    a_ints("strides", &a.strides),
                ];
                self.push(id, "ConvTranspose", ins, attrs);
            }
            Op::Gemm(a) => {
                let attrs = vec![
                    a_float("alpha", a.alpha),
                    a_float("beta", a.beta),
                    a_int("transA", i64::from(a.trans_a)),
                    a_int("transB", i64::from(a.trans_b)),
                ];
                self.push(id, "Gemm", ins, attrs);
            }
            Op::MatMul => self.push(id, "MatMul", ins, vec![]),
            Op::BatchNorm(a) => {
                self.push(
                    id,
                    "BatchNormalization",
                    ins,
                    vec![a_float("epsilon", a.epsilon)],
                );
            }
            Op::Relu => self.push(id, "Relu", ins, vec![]),
            Op::PRelu => self.push(id, "PRelu", ins, vec![]),
            Op::LeakyRelu(a) => self.push(id, "LeakyRelu", ins, vec![a_float("alpha", a.alpha)]),
            Op::Clip(a) => {
                let base = node.name.clone();
                let mut inputs = ins;
                let min = if a.min == f32::NEG_INFINITY {
                    String::new()
                } else {
                    self.init(&format!("{base}_min"), f32_tensor(&[], &[a.min]))
                };
                if a.max != f32::INFINITY {
                    let max = self.init(&format!("{base}_max"), f32_tensor(&[], &[a.max]));
                    inputs.extend([min, max]);
                } else if !min.is_empty() {
                    inputs.push(min);
                }
                self.push(id, "Clip", inputs, vec![]);
            }
            Op::Sigmoid => self.push(id, "Sigmoid", ins, vec![]),
            Op::HardSigmoid(a) => {
                let attrs = vec![a_float("alpha", a.alpha), a_float("beta", a.beta)];
                self.push(id, "HardSigmoid", ins, attrs);
            }
            Op::HardSwish => self.push(id, "HardSwish", ins, vec![]),
            Op::Tanh => self.push(id, "Tanh", ins, vec![]),
            Op::Softmax(a) => {
                self.push(id, "Softmax", ins, vec![a_int("axis", a.axis as i64)]);
            }
            Op::Add => self.push(id, "Add", ins, vec![]),
            Op::Sub => self.push(id, "Sub", ins, vec![]),
            Op::Mul => self.push(id, "Mul", ins, vec![]),
            Op::Div => self.push(id, "Div", ins, vec![]),
            Op::MaxPool(p) => {
                let attrs = vec![
                    a_int("ceil_mode", i64::from(p.ceil_mode)),
                    a_ints("dilations", &p.dilations),
                    a_ints("kernel_shape", &p.kernel),
                    a_ints("pads", &p.pads),
                    a_ints("strides", &p.strides),
                ];
                self.push(id, "MaxPool", ins, attrs);
            }
            Op::AveragePool(a) => {
                if a.pool.dilations.iter().any(|&d| d != 1) {
                    return Err(self.unsupported(
                        id,
                        format!("AveragePool dilations need opset 19 (export uses {EXPORT_OPSET})"),
                    ));
                }
                let p = &a.pool;
                let attrs = vec![
                    a_int("ceil_mode", i64::from(p.ceil_mode)),
                    a_int("count_include_pad", i64::from(a.count_include_pad)),
                    a_ints("kernel_shape", &p.kernel),
                    a_ints("pads", &p.pads),
                    a_ints("strides", &p.strides),
                ];
                self.push(id, "AveragePool", ins, attrs);
            }
            Op::GlobalAveragePool => self.push(id, "GlobalAveragePool", ins, vec![]),
            Op::ReduceMean(a) => {
                let attrs = vec![
                    a_ints("axes", &a.axes),
                    a_int("keepdims", i64::from(a.keepdims)),
                ];
                self.push(id, "ReduceMean", ins, attrs);
            }
            Op::Concat(a) => self.push(id, "Concat", ins, vec![a_int("axis", a.axis as i64)]),
            Op::Split(a) => {
                let sizes: Vec<i64> = a.sizes.iter().map(|&s| s as i64).collect();
                let split = self.init(
                    &format!("{}_split", node.name),
                    i64_tensor(&[sizes.len() as i64], &sizes),
                );
                let mut inputs = ins;
                inputs.push(split);
                self.push(id, "Split", inputs, vec![a_int("axis", a.axis as i64)]);
            }
            Op::Slice(a) => {
                let out = out_ty(0).shape.dims().to_vec();
                let (mut starts, mut ends) = (Vec::new(), Vec::new());
                for (d, &n) in out.iter().enumerate() {
                    let s = a.starts[d] as i64;
                    let e = s + n as i64 * a.steps[d];
                    starts.push(s);
                    // A negative end would count from the back: "before index 0" is
                    // i64::MIN, which ONNX clamps to -1 for negative steps.
                    ends.push(if e < 0 { i64::MIN } else { e });
                }
                let r = out.len() as i64;
                let axes: Vec<i64> = (0..r).collect();
                let base = node.name.clone();
                let inputs = vec![
                    ins[0].clone(),
                    self.init(&format!("{base}_starts"), i64_tensor(&[r], &starts)),
                    self.init(&format!("{base}_ends"), i64_tensor(&[r], &ends)),
                    self.init(&format!("{base}_axes"), i64_tensor(&[r], &axes)),
                    self.init(&format!("{base}_steps"), i64_tensor(&[r], &a.steps)),
                ];
                self.push(id, "Slice", inputs, vec![]);
            }
            Op::Reshape => {
                let dims: Vec<i64> = out_ty(0).shape.dims().iter().map(|&d| d as i64).collect();
                let shape = self.init(
                    &format!("{}_shape", node.name),
                    i64_tensor(&[dims.len() as i64], &dims),
                );
                // A 0 in the shape means "copy the input dim" unless allowzero is set.
                let attrs = if dims.contains(&0) {
                    vec![a_int("allowzero", 1)]
                } else {
                    vec![]
                };
                self.push(id, "Reshape", vec![ins[0].clone(), shape], attrs);
            }
            Op::Transpose(a) => self.push(id, "Transpose", ins, vec![a_ints("perm", &a.perm)]),
            Op::Pad(a) => {
                let base = node.name.clone();
                let pads = self.init(
                    &format!("{base}_pads"),
                    i64_tensor(&[a.pads.len() as i64], &a.pads),
                );
                let mode = match a.mode {
                    PadMode::Constant => "constant",
                    PadMode::Reflect => "reflect",
                    PadMode::Edge => "edge",
                };
                let mut inputs = vec![ins[0].clone(), pads];
                if a.mode == PadMode::Constant && a.value != 0.0 {
                    let x = in_ty(0).dtype;
                    let value = if x == DType::F32 {
                        f32_tensor(&[], &[a.value])
                    } else {
                        int_tensor(storage_dtype(x), &[], &[a.value as i32])
                    };
                    inputs.push(self.init(&format!("{base}_value"), value));
                }
                self.push(id, "Pad", inputs, vec![a_str("mode", mode)]);
            }
            Op::Resize(a) => {
                let x = in_ty(0).shape.dims().to_vec();
                let y = out_ty(0).shape.dims().to_vec();
                let ratio_scales = x
                    .iter()
                    .zip(&y)
                    .zip(&a.scales)
                    .all(|((&i, &o), &s)| i == 0 || s == (o as f64 / i as f64) as f32);
                let base = node.name.clone();
                let mut inputs = vec![ins[0].clone(), String::new()];
                if ratio_scales {
                    inputs.push(String::new());
                    let sizes: Vec<i64> = y.iter().map(|&d| d as i64).collect();
                    inputs.push(self.init(
                        &format!("{base}_sizes"),
                        i64_tensor(&[sizes.len() as i64], &sizes),
                    ));
                } else {
                    inputs.push(self.init(
                        &format!("{base}_scales"),
                        f32_tensor(&[a.scales.len() as i64], &a.scales),
                    ));
                }
                let mode = match a.mode {
                    ResizeMode::Nearest => "nearest",
                    ResizeMode::Linear => "linear",
                };
                let coord = match a.coord {
                    CoordMode::HalfPixel => "half_pixel",
                    CoordMode::PytorchHalfPixel => "pytorch_half_pixel",
                    CoordMode::AlignCorners => "align_corners",
                    CoordMode::Asymmetric => "asymmetric",
                    CoordMode::TfHalfPixelForNn => "tf_half_pixel_for_nn",
                };
                let nearest = match a.nearest {
                    NearestMode::RoundPreferFloor => "round_prefer_floor",
                    NearestMode::RoundPreferCeil => "round_prefer_ceil",
                    NearestMode::Floor => "floor",
                    NearestMode::Ceil => "ceil",
                };
                let attrs = vec![
                    a_str("coordinate_transformation_mode", coord),
                    a_str("mode", mode),
                    a_str("nearest_mode", nearest),
                ];
                self.push(id, "Resize", inputs, attrs);
            }
            Op::Quantize => {
                let y = node.outputs[0];
                let ty = g.ty(y).clone();
                check_quantize_type(&ty).map_err(|m| self.unsupported(id, m))?;
                let (s, z, axis) = self.qparam_inputs(id, y)?;
                let attrs = axis.map(|a| a_int("axis", a)).into_iter().collect();
                self.push(id, "QuantizeLinear", vec![ins[0].clone(), s, z], attrs);
            }
            Op::Dequantize => {
                let x = node.inputs[0];
                if g.ty(x).dtype == DType::I16 {
                    return Err(self.unsupported(
                        id,
                        format!(
                            "int16 DequantizeLinear needs opset 21 (export uses {EXPORT_OPSET})"
                        ),
                    ));
                }
                let (s, z, axis) = self.qparam_inputs(id, x)?;
                let attrs = axis.map(|a| a_int("axis", a)).into_iter().collect();
                self.push(id, "DequantizeLinear", vec![ins[0].clone(), s, z], attrs);
            }
            Op::ConvInt(_)
            | Op::ConvTransposeInt(_)
            | Op::GemmInt(_)
            | Op::MatMulInt
            | Op::Requant(_)
            | Op::AddInt(_)
            | Op::MulInt(_)
            | Op::AvgPoolInt(_)
            | Op::Lut(_)
            | Op::SoftmaxInt(_)
            | Op::ResizeInt(_) => {
                return Err(self.unsupported(
                    id,
                    "integer ops have no onnx export (export the qdq graph before lower-integer)"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

/// Whether opset-17 QuantizeLinear can produce `ty` exactly.
fn check_quantize_type(ty: &TensorType) -> Result<(), String> {
    match ty.dtype {
        DType::U8 | DType::I8 => {}
        other => {
            return Err(format!(
                "QuantizeLinear to {other} is not expressible at opset {EXPORT_OPSET} (uint8 and int8 only)"
            ));
        }
    }
    if let Some(QuantParams { bits, .. }) = &ty.quant
        && *bits != ty.dtype.bits()
    {
        return Err(format!(
            "QuantizeLinear clamps to the full {} range; {bits}-bit quantization is not expressible",
            ty.dtype
        ));
    }
    Ok(())
}

// ---- tensors and attributes ---------------------------------------------------------------

fn elem_type(d: DType) -> DataType {
    match d {
        DType::F32 => DataType::Float,
        DType::I32 => DataType::Int32,
        DType::I16 => DataType::Int16,
        DType::I8 | DType::I4 => DataType::Int8,
        DType::U8 | DType::U4 => DataType::Uint8,
    }
}

/// The 8-bit-or-wider type that stores `d` (4-bit types are written as 8-bit).
fn storage_dtype(d: DType) -> DType {
    match d {
        DType::I4 => DType::I8,
        DType::U4 => DType::U8,
        other => other,
    }
}

fn dims_i64(t: &Tensor) -> Vec<i64> {
    t.shape.dims().iter().map(|&d| d as i64).collect()
}

/// An initializer (little-endian `raw_data`) holding `t`.
fn tensor_proto(t: &Tensor) -> TensorProto {
    let raw: Vec<u8> = match &t.data {
        TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I8(v) => v.iter().map(|&x| x as u8).collect(),
        TensorData::U8(v) => v.clone(),
    };
    TensorProto {
        dims: dims_i64(t),
        data_type: elem_type(t.dtype) as i32,
        raw_data: raw,
        ..Default::default()
    }
}

fn f32_tensor(dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn i64_tensor(dims: &[i64], v: &[i64]) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: DataType::Int64 as i32,
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// An integer tensor of element type `d` (values already in range).
fn int_tensor(d: DType, dims: &[i64], v: &[i32]) -> TensorProto {
    let raw: Vec<u8> = match d {
        DType::F32 | DType::I32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        DType::I16 => v.iter().flat_map(|&x| (x as i16).to_le_bytes()).collect(),
        DType::I8 | DType::I4 | DType::U8 | DType::U4 => v.iter().map(|&x| x as u8).collect(),
    };
    TensorProto {
        dims: dims.to_vec(),
        data_type: elem_type(d) as i32,
        raw_data: raw,
        ..Default::default()
    }
}

fn attr(name: &str, t: AttributeType) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: t as i32,
        ..Default::default()
    }
}

fn a_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        i: v,
        ..attr(name, AttributeType::Int)
    }
}

fn a_ints<T: Copy + TryInto<i64>>(name: &str, v: &[T]) -> AttributeProto {
    AttributeProto {
        ints: v
            .iter()
            .map(|&x| x.try_into().unwrap_or(i64::MAX))
            .collect(),
        ..attr(name, AttributeType::Ints)
    }
}

fn a_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        f: v,
        ..attr(name, AttributeType::Float)
    }
}

fn a_str(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        s: v.as_bytes().to_vec(),
        ..attr(name, AttributeType::String)
    }
}
