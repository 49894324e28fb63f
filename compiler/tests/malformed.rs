//! Malformed models through the `qcc` binary: each is a user error (exit 1) with a
//! diagnostic that names the problem and fits one screen, never a panic, and never an
//! allocation sized by the bad input. The models are mutations of the bundled LeNet.

use compiler::import::onnx::proto::{
    self, ModelProto, StringStringEntryProto, attribute_proto::AttributeType,
    tensor_proto::DataLocation,
};
use prost::Message;
use std::path::{Path, PathBuf};
use std::process::Command;

fn lenet() -> ModelProto {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testsuite/models/lenet_digits/model.onnx");
    ModelProto::decode(std::fs::read(p).expect("lenet model").as_slice()).expect("decode")
}

fn graph(m: &mut ModelProto) -> &mut proto::GraphProto {
    m.graph.as_mut().expect("graph")
}

/// Writes `bytes` as a model file and runs `qcc FILE --emit ir`; checks a user error whose
/// stderr mentions every needle.
fn check_bytes(bytes: &[u8], needles: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.onnx");
    std::fs::write(&path, bytes).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_qcc"))
        .arg(&path)
        .args(["--emit", "ir"])
        .output()
        .expect("run qcc");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.lines().count() <= 40, "longer than a screen:\n{err}");
    for n in needles {
        assert!(
            err.to_lowercase().contains(&n.to_lowercase()),
            "stderr lacks `{n}`:\n{err}"
        );
    }
    (dir, path)
}

fn check(m: &ModelProto, needles: &[&str]) {
    check_bytes(&m.encode_to_vec(), needles);
}

fn first_node(m: &mut ModelProto, op: &str) -> usize {
    graph(m)
        .node
        .iter()
        .position(|n| n.op_type == op)
        .expect("node")
}

#[test]
fn empty_file() {
    check_bytes(b"", &["empty"]);
}

#[test]
fn random_bytes() {
    let mut s = 0x9e37_79b9_u32;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as u8
        })
        .collect();
    check_bytes(&bytes, &["bad.onnx"]);
}

#[test]
fn truncated_protobuf() {
    let bytes = lenet().encode_to_vec();
    check_bytes(&bytes[..bytes.len() / 2], &["bad.onnx"]);
}

#[test]
fn input_nothing_produces() {
    let mut m = lenet();
    let i = first_node(&mut m, "Relu");
    graph(&mut m).node[i].input[0] = "ghost".into();
    check(&m, &["ghost", "Relu"]);
}

#[test]
fn dangling_graph_output() {
    let mut m = lenet();
    let mut out = graph(&mut m).output[0].clone();
    out.name = "nowhere".into();
    graph(&mut m).output.push(out);
    check(&m, &["nowhere"]);
}

#[test]
fn cycle() {
    let mut m = lenet();
    let last_out = graph(&mut m).node.last().expect("node").output[0].clone();
    let i = first_node(&mut m, "Relu");
    graph(&mut m).node[i].input[0] = last_out;
    check(&m, &["cycle"]);
}

#[test]
fn unknown_op() {
    let mut m = lenet();
    let i = first_node(&mut m, "Relu");
    graph(&mut m).node[i].op_type = "Frobnicate".into();
    check(&m, &["Frobnicate"]);
}

#[test]
fn unknown_domain() {
    let mut m = lenet();
    let i = first_node(&mut m, "Relu");
    graph(&mut m).node[i].domain = "com.example.custom".into();
    check(&m, &["com.example.custom"]);
}

#[test]
fn opset_newer_than_supported() {
    let mut m = lenet();
    for o in m.opset_import.iter_mut() {
        if o.domain.is_empty() || o.domain == "ai.onnx" {
            o.version = 99;
        }
    }
    check(&m, &["99", "21"]);
}

#[test]
fn attribute_of_wrong_type() {
    let mut m = lenet();
    let i = first_node(&mut m, "Conv");
    let a = graph(&mut m).node[i]
        .attribute
        .iter_mut()
        .find(|a| a.name == "strides")
        .expect("strides");
    a.r#type = AttributeType::Float as i32;
    a.ints.clear();
    a.f = 1.0;
    check(&m, &["strides"]);
}

#[test]
fn weight_of_wrong_rank() {
    let mut m = lenet();
    let i = first_node(&mut m, "Conv");
    let w = graph(&mut m).node[i].input[1].clone();
    let t = graph(&mut m)
        .initializer
        .iter_mut()
        .find(|t| t.name == w)
        .expect("weight");
    let n: i64 = t.dims.iter().product();
    t.dims = vec![n];
    check(&m, &["Conv"]);
}

#[test]
fn absurd_dims_with_data() {
    let mut m = lenet();
    let i = first_node(&mut m, "Conv");
    let w = graph(&mut m).node[i].input[1].clone();
    let t = graph(&mut m)
        .initializer
        .iter_mut()
        .find(|t| t.name == w)
        .expect("weight");
    t.dims = vec![1 << 20, 1 << 20, 1 << 20, 1];
    check(&m, &[&w]);
}

#[test]
fn absurd_dims_without_data() {
    let mut m = lenet();
    let ty = graph(&mut m).input[0]
        .r#type
        .as_mut()
        .and_then(|t| t.value.as_mut());
    let Some(proto::type_proto::Value::TensorType(t)) = ty else {
        panic!("input is a tensor");
    };
    let dims = &mut t.shape.as_mut().expect("input shape").dim;
    for d in dims.iter_mut().skip(2) {
        d.value = Some(proto::tensor_shape_proto::dimension::Value::DimValue(
            1 << 40,
        ));
    }
    check(&m, &["input"]);
}

#[test]
fn missing_external_data_file() {
    let mut m = lenet();
    let i = first_node(&mut m, "Conv");
    let w = graph(&mut m).node[i].input[1].clone();
    let t = graph(&mut m)
        .initializer
        .iter_mut()
        .find(|t| t.name == w)
        .expect("weight");
    t.raw_data.clear();
    t.float_data.clear();
    t.data_location = DataLocation::External as i32;
    t.external_data = vec![StringStringEntryProto {
        key: "location".into(),
        value: "missing_weights.bin".into(),
    }];
    check(&m, &["missing_weights.bin"]);
}
