//! Malformed and unsupported models: each gives a typed user error whose rendered
//! diagnostic names the problem, quickly and without large allocations.

use super::proto::{
    StringStringEntryProto, TensorProto,
    attribute_proto::AttributeType,
    tensor_proto::{DataLocation, DataType},
};
use super::tests::*;
use super::*;
use std::time::Instant;

/// Imports and returns the error, checking it is a user error that renders with `needles`.
fn fails(m: &ModelProto, needles: &[&str]) -> ImportError {
    fails_opts(m, &ImportOptions::default(), needles)
}

fn fails_opts(m: &ModelProto, o: &ImportOptions, needles: &[&str]) -> ImportError {
    let t = Instant::now();
    let e = match import_opts(m, o) {
        Ok(_) => panic!("import unexpectedly succeeded"),
        Err(e) => e,
    };
    check(&e, needles);
    assert!(t.elapsed().as_secs_f32() < 1.0, "took {:?}", t.elapsed());
    e
}

fn fails_bytes(b: &[u8], needles: &[&str]) -> ImportError {
    let t = Instant::now();
    let e = import_model_bytes(b, &ImportOptions::default()).expect_err("must fail");
    check(&e, needles);
    assert!(t.elapsed().as_secs_f32() < 1.0, "took {:?}", t.elapsed());
    e
}

fn check(e: &ImportError, needles: &[&str]) {
    assert!(e.is_user_error(), "{e:?}");
    let text = e.render_plain();
    assert!(text.contains("help:"), "{text}");
    for n in needles {
        assert!(text.contains(n), "missing `{n}` in:\n{text}");
    }
}

fn relu_model(opset: i64) -> ModelProto {
    model(
        opset,
        vec![input("x", &[1, 2])],
        &["y"],
        vec![],
        vec![node("Relu", &["x"], &["y"], vec![])],
    )
}

#[test]
fn empty_file() {
    let e = fails_bytes(&[], &["empty"]);
    assert!(matches!(e.kind(), ErrorKind::Decode { .. }));
}

#[test]
fn random_bytes() {
    let e = fails_bytes(&[0xff; 64], &["not a valid onnx model"]);
    assert!(matches!(e.kind(), ErrorKind::Decode { .. }));
    // Pseudo-random garbage of several sizes: always a user error, never a panic.
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for len in [1usize, 7, 100, 4096, 100_000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect();
        let t = Instant::now();
        let e = import_model_bytes(&bytes, &ImportOptions::default()).expect_err("garbage");
        assert!(e.is_user_error());
        assert!(!e.render_plain().is_empty());
        assert!(t.elapsed().as_secs_f32() < 1.0);
    }
}

#[test]
fn truncated_protobuf() {
    let m = model(
        13,
        vec![input("x", &[4])],
        &["y"],
        vec![tf32_seq("w", &[4])],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    let bytes = m.encode_to_vec();
    let e = fails_bytes(&bytes[..bytes.len() - 9], &["not a valid onnx model"]);
    assert!(matches!(e.kind(), ErrorKind::Decode { .. }));
}

#[test]
fn missing_graph() {
    let mut m = relu_model(13);
    m.graph = None;
    assert!(matches!(
        fails(&m, &["no graph"]).kind(),
        ErrorKind::NoGraph
    ));
}

#[test]
fn undefined_node_input() {
    let m = model(
        13,
        vec![input("x", &[2])],
        &["y"],
        vec![],
        vec![node("Add", &["x", "ghost"], &["y"], vec![])],
    );
    let e = fails(&m, &["`ghost`", "add_y", "Add", "opset 13"]);
    assert_eq!(
        e.kind(),
        &ErrorKind::MissingInput {
            node: 0,
            name: "ghost".into()
        }
    );
}

#[test]
fn dangling_graph_output() {
    let m = model(
        13,
        vec![input("x", &[2])],
        &["y", "nowhere"],
        vec![],
        vec![node("Relu", &["x"], &["y"], vec![])],
    );
    let e = fails(&m, &["`nowhere`", "output nowhere"]);
    assert!(matches!(e.kind(), ErrorKind::DanglingOutput { .. }));
}

#[test]
fn cycle() {
    let m = model(
        13,
        vec![input("x", &[2])],
        &["b"],
        vec![],
        vec![
            node("Add", &["x", "b"], &["a"], vec![]),
            node("Relu", &["a"], &["b"], vec![]),
        ],
    );
    let e = fails(&m, &["cycle"]);
    assert!(matches!(e.kind(), ErrorKind::Cycle { node: 0 | 1 }));
    // A node downstream of the cycle is not blamed.
    let mut m = m;
    let gp = m.graph.as_mut().unwrap();
    gp.node.insert(0, node("Relu", &["b"], &["c"], vec![]));
    let e = fails(&m, &["cycle"]);
    assert!(
        matches!(e.kind(), ErrorKind::Cycle { node: 1 | 2 }),
        "{:?}",
        e.kind()
    );
}

#[test]
fn unknown_op_and_domain() {
    let m = model(
        13,
        vec![input("x", &[2])],
        &["y"],
        vec![],
        vec![node("FancyAttention", &["x"], &["y"], vec![])],
    );
    let e = fails(
        &m,
        &["unknown operator `FancyAttention`", "fancyattention_y"],
    );
    assert!(matches!(e.kind(), ErrorKind::UnknownOp { .. }));
    let mut n = node("Relu", &["x"], &["y"], vec![]);
    n.domain = "com.microsoft".into();
    let m = model(13, vec![input("x", &[2])], &["y"], vec![], vec![n]);
    let e = fails(&m, &["domain `com.microsoft`"]);
    assert!(matches!(e.kind(), ErrorKind::UnknownOp { .. }));
}

#[test]
fn opset_out_of_range() {
    let e = fails(&relu_model(22), &["opset 22", "7 to 21", "convert_version"]);
    assert_eq!(e.kind(), &ErrorKind::Opset { version: 22 });
    let e = fails(&relu_model(6), &["opset 6"]);
    assert_eq!(e.kind(), &ErrorKind::Opset { version: 6 });
    let mut m = relu_model(13);
    m.opset_import.clear();
    assert!(matches!(
        fails(&m, &["no opset"]).kind(),
        ErrorKind::NoOpset
    ));
}

#[test]
fn attribute_of_wrong_type() {
    let mut strides = a_floats("strides", &[1.0, 1.0]);
    strides.r#type = AttributeType::Floats as i32;
    let m = model(
        13,
        vec![input("x", &[1, 1, 4, 4])],
        &["y"],
        vec![tf32_seq("w", &[1, 1, 3, 3])],
        vec![node("Conv", &["x", "w"], &["y"], vec![strides])],
    );
    let e = fails(
        &m,
        &["attribute `strides`", "FLOATS", "expected INTS", "conv_y"],
    );
    assert!(matches!(e.kind(), ErrorKind::Attribute { node: 0, .. }));
}

#[test]
fn weight_of_wrong_rank() {
    let m = model(
        13,
        vec![input("x", &[1, 2, 4, 4])],
        &["y"],
        vec![tf32_seq("w", &[3, 2, 3])],
        vec![node("Conv", &["x", "w"], &["y"], vec![])],
    );
    let e = fails(&m, &["weight has rank 3", "Conv"]);
    assert!(matches!(e.kind(), ErrorKind::InvalidNode { .. }));
    let m = model(
        13,
        vec![input("x", &[2, 5])],
        &["y"],
        vec![tf32_seq("w", &[5, 3, 1])],
        vec![node("Gemm", &["x", "w"], &["y"], vec![])],
    );
    let e = fails(&m, &["gemm input 1 has rank 3"]);
    assert!(matches!(e.kind(), ErrorKind::Shape { .. }));
}

#[test]
fn absurd_dims_are_rejected_before_allocation() {
    let huge = TensorProto {
        name: "w".into(),
        dims: vec![1 << 20, 1 << 20, 1 << 20],
        data_type: DataType::Float as i32,
        ..Default::default()
    };
    let m = model(
        13,
        vec![input("x", &[2])],
        &["y"],
        vec![huge],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    let e = fails(
        &m,
        &[
            "tensor `w`",
            "more than 2147483648 elements",
            "initializer w",
        ],
    );
    assert!(matches!(e.kind(), ErrorKind::Tensor { .. }));
    let overflow = TensorProto {
        name: "w".into(),
        dims: vec![i64::MAX, i64::MAX],
        data_type: DataType::Float as i32,
        raw_data: vec![0; 16],
        ..Default::default()
    };
    let m = model(
        13,
        vec![input("x", &[2])],
        &["y"],
        vec![overflow],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    fails(&m, &["more than"]);
    let negative = TensorProto {
        name: "w".into(),
        dims: vec![-4],
        data_type: DataType::Float as i32,
        ..Default::default()
    };
    let m = model(
        13,
        vec![input("x", &[2])],
        &["y"],
        vec![negative],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    fails(&m, &["negative dim"]);
    let m = model(
        13,
        vec![input("x", &[1 << 20, 1 << 20, 1 << 20])],
        &["y"],
        vec![],
        vec![node("Relu", &["x"], &["y"], vec![])],
    );
    assert!(matches!(
        fails(&m, &["more than"]).kind(),
        ErrorKind::InputShape { .. }
    ));
}

#[test]
fn data_length_must_match_dims() {
    let short = tf32("w", &[4], vec![1.0, 2.0, 3.0]);
    let m = model(
        13,
        vec![input("x", &[4])],
        &["y"],
        vec![short],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    fails(&m, &["has 3 elements but dims [4] need 4"]);
    let raw = TensorProto {
        name: "w".into(),
        dims: vec![4],
        data_type: DataType::Float as i32,
        raw_data: vec![0; 15],
        ..Default::default()
    };
    let m = model(
        13,
        vec![input("x", &[4])],
        &["y"],
        vec![raw],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    fails(&m, &["raw data has 15 bytes", "need 16"]);
}

fn external(location: &str) -> TensorProto {
    let kv = |k: &str, v: &str| StringStringEntryProto {
        key: k.into(),
        value: v.into(),
    };
    TensorProto {
        name: "w".into(),
        dims: vec![4],
        data_type: DataType::Float as i32,
        data_location: DataLocation::External as i32,
        external_data: vec![kv("location", location)],
        ..Default::default()
    }
}

#[test]
fn missing_or_escaping_external_data() {
    let dir = tempfile::tempdir().unwrap();
    let o = ImportOptions {
        base_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let m = model(
        13,
        vec![input("x", &[4])],
        &["y"],
        vec![external("weights.bin")],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    let e = fails_opts(&m, &o, &["cannot open external data file", "weights.bin"]);
    assert!(matches!(e.kind(), ErrorKind::Tensor { .. }));
    let m = model(
        13,
        vec![input("x", &[4])],
        &["y"],
        vec![external("../../etc/passwd")],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    fails_opts(
        &m,
        &o,
        &["must be a relative path inside the model's directory"],
    );
    let m = model(
        13,
        vec![input("x", &[4])],
        &["y"],
        vec![external("/etc/passwd")],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    fails_opts(&m, &o, &["relative path"]);
    std::fs::write(dir.path().join("short.bin"), [0u8; 8]).unwrap();
    let m = model(
        13,
        vec![input("x", &[4])],
        &["y"],
        vec![external("short.bin")],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
    );
    fails_opts(&m, &o, &["too few"]);
}

#[test]
fn unpinned_dynamic_dim_suggests_input_shape() {
    let m = model(
        13,
        vec![vi("img", &[D::P("N"), D::V(3), D::P("H"), D::P("W")])],
        &["y"],
        vec![],
        vec![node("Relu", &["img"], &["y"], vec![])],
    );
    let e = fails(
        &m,
        &[
            "dynamic dim 2 (`H`)",
            "--input-shape img=1,3,<H>,<W>",
            "input img",
        ],
    );
    assert!(matches!(e.kind(), ErrorKind::DynamicDim { dim: 2, .. }));
}

#[test]
fn bad_input_shape_pins() {
    let mut o = ImportOptions::default();
    o.input_shapes.insert("x".into(), vec![1, 3]);
    let e = fails_opts(&relu_model(13), &o, &["sets dim 1 to 3", "fixes it to 2"]);
    assert!(matches!(e.kind(), ErrorKind::InputShape { .. }));
    let mut o = ImportOptions::default();
    o.input_shapes.insert("nope".into(), vec![1]);
    fails_opts(&relu_model(13), &o, &["no graph input of this name"]);
    let mut o = ImportOptions::default();
    o.input_shapes.insert("x".into(), vec![1, 2, 3]);
    fails_opts(&relu_model(13), &o, &["rank 2"]);
}

#[test]
fn maxpool_indices_output_is_unsupported() {
    let n = node(
        "MaxPool",
        &["x"],
        &["y", "idx"],
        vec![a_ints("kernel_shape", &[2, 2])],
    );
    let m = model(13, vec![input("x", &[1, 1, 4, 4])], &["y"], vec![], vec![n]);
    let e = fails(&m, &["Indices output is not supported", "MaxPool"]);
    assert!(matches!(e.kind(), ErrorKind::Unsupported { .. }));
}

#[test]
fn resize_cubic_and_crop_are_unsupported() {
    let sc = || vec![tf32("s", &[4], vec![1.0, 1.0, 2.0, 2.0])];
    let m = model(
        13,
        vec![input("x", &[1, 1, 2, 2])],
        &["y"],
        sc(),
        vec![node(
            "Resize",
            &["x", "", "s"],
            &["y"],
            vec![a_str("mode", "cubic")],
        )],
    );
    fails(&m, &["mode `cubic` is not supported"]);
    let n = node(
        "Resize",
        &["x", "", "s"],
        &["y"],
        vec![a_str(
            "coordinate_transformation_mode",
            "tf_crop_and_resize",
        )],
    );
    let m = model(13, vec![input("x", &[1, 1, 2, 2])], &["y"], sc(), vec![n]);
    fails(&m, &["`tf_crop_and_resize` is not supported"]);
}

#[test]
fn broadcast_mismatch_is_a_shape_error() {
    let m = model(
        13,
        vec![input("x", &[2, 3])],
        &["y"],
        vec![tf32_seq("b", &[4])],
        vec![node("Add", &["x", "b"], &["y"], vec![])],
    );
    let e = fails(&m, &["shapes [2,3] and [4] do not broadcast", "add_y"]);
    assert!(matches!(e.kind(), ErrorKind::Shape { node: 0, .. }));
}

#[test]
fn runtime_shape_operand_is_unsupported() {
    let m = model(
        13,
        vec![input("x", &[2, 3]), input("s", &[2])],
        &["y"],
        vec![],
        vec![node("Reshape", &["x", "s"], &["y"], vec![])],
    );
    fails(&m, &["must be a constant known at import"]);
}

#[test]
fn training_output_used_downstream_is_unsupported() {
    let p = |n: &str| tf32(n, &[2], vec![1.0, 2.0]);
    let m = model(
        13,
        vec![input("x", &[1, 2, 2, 2])],
        &["y"],
        vec![p("s"), p("b"), p("m"), p("v")],
        vec![
            node(
                "BatchNormalization",
                &["x", "s", "b", "m", "v"],
                &["bn", "rm"],
                vec![],
            ),
            node("Add", &["bn", "rm"], &["y"], vec![]),
        ],
    );
    fails(&m, &["training-only output"]);
}

#[test]
fn huge_attributes_do_not_overflow() {
    let big = 1i64 << 62;
    let w = || vec![tf32_seq("w", &[1, 1, 3, 3])];
    let m = model(
        13,
        vec![input("x", &[1, 1, 4, 4])],
        &["y"],
        w(),
        vec![node(
            "Conv",
            &["x", "w"],
            &["y"],
            vec![a_ints("pads", &[big, big, big, big])],
        )],
    );
    fails(&m, &["Conv"]);
    // Huge strides or dilations with SAME padding are odd but valid; they must not overflow.
    for attrs in [
        vec![
            a_ints("dilations", &[big, big]),
            a_str("auto_pad", "SAME_LOWER"),
        ],
        vec![
            a_ints("strides", &[big, big]),
            a_str("auto_pad", "SAME_UPPER"),
        ],
    ] {
        let m = model(
            13,
            vec![input("x", &[1, 1, 4, 4])],
            &["y"],
            w(),
            vec![node("Conv", &["x", "w"], &["y"], attrs)],
        );
        if let Err(e) = import(&m) {
            assert!(e.is_user_error());
        }
    }
    for attrs in [
        vec![a_ints("strides", &[big, big])],
        vec![a_ints("output_padding", &[big, big])],
        vec![a_ints("output_shape", &[big, big])],
        vec![a_ints("pads", &[big, big, big, big])],
    ] {
        let m = model(
            13,
            vec![input("x", &[1, 1, 4, 4])],
            &["y"],
            w(),
            vec![node("ConvTranspose", &["x", "w"], &["y"], attrs)],
        );
        fails(&m, &["ConvTranspose"]);
    }
    let sizes = ti64("sz", &[4], vec![1, 1, 1 << 20, 1 << 20]);
    let m = model(
        13,
        vec![input("x", &[1, 1, 2, 2])],
        &["y"],
        vec![sizes],
        vec![node("Resize", &["x", "", "", "sz"], &["y"], vec![])],
    );
    fails(&m, &["too large"]);
    let m = model(
        13,
        vec![input("x", &[4])],
        &["y"],
        vec![ti64("s", &[1], vec![big])],
        vec![node("ConstantOfShape", &["s"], &["y"], vec![])],
    );
    fails(&m, &["larger than"]);
}

#[test]
fn rendered_diagnostics_snapshots() {
    let m = model(
        13,
        vec![input("x", &[1, 3, 8, 8])],
        &["y"],
        vec![tf32_seq("w", &[4, 3, 3, 3])],
        vec![
            node(
                "Conv",
                &["x", "w"],
                &["c"],
                vec![a_ints("pads", &[1, 1, 1, 1])],
            ),
            node("Add", &["c", "bias"], &["y"], vec![]),
        ],
    );
    insta::assert_snapshot!("undefined_input", import(&m).unwrap_err().render_plain());
    let m = model(
        13,
        vec![input("x", &[1, 3, 8, 8])],
        &["y"],
        vec![tf32_seq("w", &[4, 2, 3, 3])],
        vec![node(
            "Conv",
            &["x", "w"],
            &["y"],
            vec![a_ints("strides", &[2, 2])],
        )],
    );
    insta::assert_snapshot!(
        "conv_channel_mismatch",
        import(&m).unwrap_err().render_plain()
    );
}

#[test]
fn constant_evaluator_rejects_bad_operands_without_panicking() {
    let fold_model = |nodes: Vec<super::proto::NodeProto>, inits: Vec<TensorProto>| {
        model(13, vec![input("x", &[2])], &["y"], inits, nodes)
    };
    // Range with an empty start.
    let m = fold_model(
        vec![
            node("Range", &["e", "e", "e"], &["r"], vec![]),
            node("Reshape", &["x", "r"], &["y"], vec![]),
        ],
        vec![ti64("e", &[0], vec![])],
    );
    fails(&m, &["scalar start"]);
    // Integer division by zero.
    let m = fold_model(
        vec![
            node("Div", &["a", "z"], &["r"], vec![]),
            node("Reshape", &["x", "r"], &["y"], vec![]),
        ],
        vec![ti64("a", &[1], vec![2]), ti64("z", &[1], vec![0])],
    );
    fails(&m, &["division by zero"]);
    // Out-of-range Gather index.
    let m = fold_model(
        vec![
            node("Gather", &["a", "i"], &["r"], vec![]),
            node("Reshape", &["x", "r"], &["y"], vec![]),
        ],
        vec![ti64("a", &[1], vec![2]), ti64("i", &[], vec![5])],
    );
    fails(&m, &["index 5 is out of range"]);
    // i64::MIN % -1 must not overflow: it folds to 0, and 0 + 2 reshapes x to [2].
    let m = fold_model(
        vec![
            node("Mod", &["a", "m"], &["r0"], vec![]),
            node("Add", &["r0", "two"], &["r"], vec![]),
            node("Reshape", &["x", "r"], &["y"], vec![]),
        ],
        vec![
            ti64("a", &[1], vec![i64::MIN]),
            ti64("m", &[1], vec![-1]),
            ti64("two", &[1], vec![2]),
        ],
    );
    assert_eq!(out_dims(&ok(&m), 0), [2]);
}

/// Byte-flipped and truncated variants of a valid model: each either imports or fails with a
/// user error; none panics.
#[test]
fn mutated_models_never_panic() {
    let m = model(
        11,
        vec![input("x", &[1, 2, 6, 6])],
        &["y"],
        vec![
            tf32_seq("w", &[4, 2, 3, 3]),
            ti64("zero", &[], vec![0]),
            ti64("m1", &[1], vec![-1]),
            tf32("s", &[4], vec![1.0, 1.0, 2.0, 2.0]),
        ],
        vec![
            node(
                "Conv",
                &["x", "w"],
                &["c"],
                vec![a_ints("pads", &[1, 1, 1, 1]), a_ints("strides", &[2, 2])],
            ),
            node(
                "Resize",
                &["c", "", "s"],
                &["r"],
                vec![a_str("mode", "linear")],
            ),
            node(
                "MaxPool",
                &["r"],
                &["p"],
                vec![a_ints("kernel_shape", &[2, 2]), a_int("ceil_mode", 1)],
            ),
            node("Shape", &["p"], &["shp"], vec![]),
            node("Gather", &["shp", "zero"], &["n"], vec![]),
            node("Unsqueeze", &["n"], &["n1"], vec![a_ints("axes", &[0])]),
            node("Concat", &["n1", "m1"], &["t"], vec![a_int("axis", 0)]),
            node("Reshape", &["p", "t"], &["f"], vec![]),
            node("Softmax", &["f"], &["y"], vec![]),
        ],
    );
    let bytes = m.encode_to_vec();
    if let Err(e) = import_model_bytes(&bytes, &ImportOptions::default()) {
        panic!("{}", e.render_plain());
    }
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let t = Instant::now();
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % b.len();
            b[i] ^= 1 << (next() % 8);
        }
        if next() % 8 == 0 {
            b.truncate((next() as usize) % b.len());
        }
        if let Err(e) = import_model_bytes(&b, &ImportOptions::default()) {
            assert!(e.is_user_error(), "{}", e.render_plain());
            let _ = e.render_plain();
        }
    }
    assert!(t.elapsed().as_secs_f32() < 20.0);
}
