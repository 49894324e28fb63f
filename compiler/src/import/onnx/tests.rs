//! Test helpers: build small ONNX models with the prost structs, import them, inspect the IR.
//! Also the end-to-end tests of input typing, initializers and output naming.

use super::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_proto::DataType, tensor_shape_proto::Dimension, tensor_shape_proto::dimension,
    type_proto,
};
use super::*;
use ir::{Graph, Op};

/// A graph input dim: a size or a symbolic name.
pub(super) enum D {
    V(i64),
    P(&'static str),
}

pub(super) fn vi(name: &str, dims: &[D]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            denotation: String::new(),
            value: Some(match d {
                D::V(v) => dimension::Value::DimValue(*v),
                D::P(p) => dimension::Value::DimParam(p.to_string()),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            denotation: String::new(),
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
        }),
        ..Default::default()
    }
}

pub(super) fn input(name: &str, dims: &[i64]) -> ValueInfoProto {
    vi(name, &dims.iter().map(|&d| D::V(d)).collect::<Vec<_>>())
}

pub(super) fn output(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        ..Default::default()
    }
}

pub(super) fn node(
    op: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: format!(
            "{}_{}",
            op.to_lowercase(),
            outputs.first().copied().unwrap_or("")
        ),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

fn attr(name: &str, t: AttributeType) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: t as i32,
        ..Default::default()
    }
}

pub(super) fn a_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        i: v,
        ..attr(name, AttributeType::Int)
    }
}

pub(super) fn a_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        ints: v.to_vec(),
        ..attr(name, AttributeType::Ints)
    }
}

pub(super) fn a_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        f: v,
        ..attr(name, AttributeType::Float)
    }
}

pub(super) fn a_floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto {
        floats: v.to_vec(),
        ..attr(name, AttributeType::Floats)
    }
}

pub(super) fn a_str(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        s: v.as_bytes().to_vec(),
        ..attr(name, AttributeType::String)
    }
}

pub(super) fn a_tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        t: Some(t),
        ..attr(name, AttributeType::Tensor)
    }
}

pub(super) fn tf32(name: &str, dims: &[i64], data: Vec<f32>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        float_data: data,
        ..Default::default()
    }
}

/// A float tensor filled with 0.1, 0.2, ...
pub(super) fn tf32_seq(name: &str, dims: &[i64]) -> TensorProto {
    let n: i64 = dims.iter().product();
    tf32(name, dims, (0..n).map(|i| (i + 1) as f32 * 0.1).collect())
}

pub(super) fn ti64(name: &str, dims: &[i64], data: Vec<i64>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Int64 as i32,
        int64_data: data,
        ..Default::default()
    }
}

pub(super) fn model(
    opset: i64,
    inputs: Vec<ValueInfoProto>,
    outputs: &[&str],
    inits: Vec<TensorProto>,
    nodes: Vec<NodeProto>,
) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(GraphProto {
            name: "test".into(),
            node: nodes,
            initializer: inits,
            input: inputs,
            output: outputs.iter().map(|o| output(o)).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) fn import(m: &ModelProto) -> Result<Graph, ImportError> {
    import_opts(m, &ImportOptions::default())
}

pub(super) fn import_opts(m: &ModelProto, o: &ImportOptions) -> Result<Graph, ImportError> {
    import_model_bytes(&m.encode_to_vec(), o)
}

pub(super) fn ok(m: &ModelProto) -> Graph {
    match import(m) {
        Ok(g) => g,
        Err(e) => panic!("import failed:\n{}", e.render_plain()),
    }
}

/// The compute ops in topological order (no inputs or constants).
pub(super) fn ops(g: &Graph) -> Vec<Op> {
    g.topo_order()
        .into_iter()
        .map(|n| g.node(n).op.clone())
        .filter(|op| !matches!(op, Op::Input | Op::Const(_)))
        .collect()
}

/// The dims of graph output `i`.
pub(super) fn out_dims(g: &Graph, i: usize) -> Vec<usize> {
    g.ty(g.outputs[i]).shape.0.clone()
}

/// A one-node model with input `x` and output `y`, imported.
pub(super) fn one_node(
    opset: i64,
    x: &[i64],
    inits: Vec<super::proto::TensorProto>,
    n: super::proto::NodeProto,
) -> Graph {
    ok(&model(opset, vec![input("x", x)], &["y"], inits, vec![n]))
}

#[test]
fn conv_relu_model_imports_with_names_and_types() {
    let m = model(
        13,
        vec![input("x", &[1, 3, 8, 8])],
        &["y"],
        vec![tf32_seq("w", &[4, 3, 3, 3]), tf32_seq("b", &[4])],
        vec![
            node(
                "Conv",
                &["x", "w", "b"],
                &["c"],
                vec![a_ints("pads", &[1, 1, 1, 1])],
            ),
            node("Relu", &["c"], &["y"], vec![]),
        ],
    );
    let g = ok(&m);
    assert_eq!(g.inputs.len(), 1);
    assert_eq!(g.value(g.inputs[0]).name.as_deref(), Some("x"));
    assert_eq!(g.value(g.outputs[0]).name.as_deref(), Some("y"));
    assert_eq!(out_dims(&g, 0), [1, 4, 8, 8]);
    let names: Vec<String> = g
        .topo_order()
        .into_iter()
        .map(|n| g.node(n).name.clone())
        .collect();
    assert!(names.contains(&"conv_c".to_string()), "{names:?}");
    let w = g
        .value_ids()
        .find(|&v| g.const_value(v).is_some_and(|t| t.shape.0 == [4, 3, 3, 3]));
    let w = g.const_value(w.expect("weight const")).unwrap();
    assert_eq!(w.as_f32().unwrap()[1], 0.2);
}

#[test]
fn dynamic_batch_defaults_to_one_and_pins_apply() {
    let m = model(
        13,
        vec![vi("x", &[D::P("N"), D::V(3), D::P("H"), D::P("W")])],
        &["y"],
        vec![],
        vec![node("Relu", &["x"], &["y"], vec![])],
    );
    let mut o = ImportOptions::default();
    o.input_shapes.insert("x".into(), vec![1, 3, 5, 7]);
    let g = import_opts(&m, &o).unwrap();
    assert_eq!(out_dims(&g, 0), [1, 3, 5, 7]);
    let m2 = model(
        13,
        vec![vi("x", &[D::P("batch"), D::V(3)])],
        &["y"],
        vec![],
        vec![node("Relu", &["x"], &["y"], vec![])],
    );
    assert_eq!(out_dims(&ok(&m2), 0), [1, 3]);
}

#[test]
fn initializer_listed_as_input_is_a_constant() {
    let m = model(
        8,
        vec![input("x", &[2, 3]), input("w", &[3, 4])],
        &["y"],
        vec![tf32_seq("w", &[3, 4])],
        vec![node("MatMul", &["x", "w"], &["y"], vec![])],
    );
    let g = ok(&m);
    assert_eq!(g.inputs.len(), 1);
    assert_eq!(out_dims(&g, 0), [2, 4]);
}

#[test]
fn raw_data_fp16_bf16_double_and_ints_decode() {
    use half::{bf16, f16};
    let raw = |dt: DataType, bytes: Vec<u8>, dims: &[i64]| TensorProto {
        name: "t".into(),
        dims: dims.to_vec(),
        data_type: dt as i32,
        raw_data: bytes,
        ..Default::default()
    };
    let f32s: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let t = tensor_from_proto(&raw(DataType::Float, f32s, &[2]), None).unwrap();
    assert_eq!(t.as_f32().unwrap(), [1.5, -2.0]);
    let h: Vec<u8> = [f16::from_f32(0.5), f16::from_f32(-3.0)]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!(
        tensor_from_proto(&raw(DataType::Float16, h, &[2]), None)
            .unwrap()
            .as_f32()
            .unwrap(),
        [0.5, -3.0]
    );
    let b: Vec<u8> = bf16::from_f32(2.0).to_le_bytes().to_vec();
    assert_eq!(
        tensor_from_proto(&raw(DataType::Bfloat16, b, &[1]), None)
            .unwrap()
            .as_f32()
            .unwrap(),
        [2.0]
    );
    let d: Vec<u8> = 0.25f64.to_le_bytes().to_vec();
    assert_eq!(
        tensor_from_proto(&raw(DataType::Double, d, &[]), None)
            .unwrap()
            .as_f32()
            .unwrap(),
        [0.25]
    );
    let i8s = tensor_from_proto(&raw(DataType::Int8, vec![0xff, 0x7f], &[2]), None).unwrap();
    assert_eq!(i8s.data, ir::TensorData::I8(vec![-1, 127]));
    let u8s = tensor_from_proto(&raw(DataType::Uint8, vec![0xff], &[1]), None).unwrap();
    assert_eq!(u8s.data, ir::TensorData::U8(vec![255]));
    let i16s: Vec<u8> = (-300i16).to_le_bytes().to_vec();
    assert_eq!(
        tensor_from_proto(&raw(DataType::Int16, i16s, &[1]), None)
            .unwrap()
            .data,
        ir::TensorData::I16(vec![-300])
    );
    let typed = TensorProto {
        int32_data: vec![-5, 7],
        ..raw(DataType::Int32, vec![], &[2])
    };
    assert_eq!(
        tensor_from_proto(&typed, None).unwrap().data,
        ir::TensorData::I32(vec![-5, 7])
    );
    let fp16_typed = TensorProto {
        int32_data: vec![f16::from_f32(1.0).to_bits() as i32],
        ..raw(DataType::Float16, vec![], &[1])
    };
    assert_eq!(
        tensor_from_proto(&fp16_typed, None)
            .unwrap()
            .as_f32()
            .unwrap(),
        [1.0]
    );
    let big = ti64("big", &[1], vec![1 << 40]);
    assert!(tensor_from_proto(&big, None).is_err());
}

#[test]
fn external_data_reads_relative_to_base_dir() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = vec![0u8; 8];
    bytes.extend([1.0f32, 2.0, 3.0].iter().flat_map(|x| x.to_le_bytes()));
    std::fs::write(dir.path().join("w.bin"), &bytes).unwrap();
    let kv = |k: &str, v: &str| super::proto::StringStringEntryProto {
        key: k.into(),
        value: v.into(),
    };
    let w = TensorProto {
        name: "w".into(),
        dims: vec![3],
        data_type: DataType::Float as i32,
        data_location: super::proto::tensor_proto::DataLocation::External as i32,
        external_data: vec![
            kv("location", "w.bin"),
            kv("offset", "8"),
            kv("length", "12"),
        ],
        ..Default::default()
    };
    let m = model(
        13,
        vec![input("x", &[3])],
        &["y"],
        vec![w],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    let path = dir.path().join("m.onnx");
    std::fs::write(&path, m.encode_to_vec()).unwrap();
    let g = import_model_file(&path, &ImportOptions::default()).unwrap();
    let c = g
        .value_ids()
        .find_map(|v| g.const_value(v).cloned())
        .unwrap();
    assert_eq!(c.as_f32().unwrap(), [1.0, 2.0, 3.0]);
}

#[test]
fn output_that_is_an_input_gets_a_named_copy() {
    let m = model(
        13,
        vec![input("x", &[2])],
        &["x_out"],
        vec![],
        vec![node("Identity", &["x"], &["x_out"], vec![])],
    );
    let g = ok(&m);
    assert_eq!(ops(&g), [Op::Reshape]);
    assert_eq!(g.value(g.outputs[0]).name.as_deref(), Some("x_out"));
    assert_eq!(g.value(g.inputs[0]).name.as_deref(), Some("x"));
}

#[test]
fn constant_inputs_bind_graph_inputs() {
    let m = model(
        13,
        vec![input("x", &[2, 3]), vi("shape", &[D::V(1)])],
        &["y"],
        vec![],
        vec![node("Reshape", &["x", "shape"], &["y"], vec![])],
    );
    let mut o = ImportOptions::default();
    o.constant_inputs
        .insert("shape".into(), ti64("shape", &[1], vec![6]));
    let g = import_opts(&m, &o).unwrap();
    assert_eq!(g.inputs.len(), 1);
    assert_eq!(out_dims(&g, 0), [6]);
}
