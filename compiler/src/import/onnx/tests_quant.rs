//! Import tests of quantized ONNX: QuantizeLinear/DequantizeLinear (opset 10 and 13+ forms,
//! per tensor and per axis, zero-point defaults), QLinearConv, QLinearMatMul, ConvInteger,
//! MatMulInteger, Cast of accumulators, integer data movement, and their errors.

use super::error::ErrorKind;
use super::proto::{TensorProto, tensor_proto::DataType};
use super::tests::*;
use ir::*;

fn tensor(name: &str, dt: DataType, dims: &[i64], data: Vec<i32>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: dt as i32,
        int32_data: data,
        ..Default::default()
    }
}

fn tu8(name: &str, dims: &[i64], data: Vec<i32>) -> TensorProto {
    tensor(name, DataType::Uint8, dims, data)
}

fn ti8(name: &str, dims: &[i64], data: Vec<i32>) -> TensorProto {
    tensor(name, DataType::Int8, dims, data)
}

fn ti32(name: &str, dims: &[i64], data: Vec<i32>) -> TensorProto {
    tensor(name, DataType::Int32, dims, data)
}

fn scalar(name: &str, v: f32) -> TensorProto {
    tf32(name, &[], vec![v])
}

/// Imports and verifies.
fn qok(m: &super::proto::ModelProto) -> Graph {
    let g = ok(m);
    if let Err(e) = ir::verifier::verify(&g) {
        panic!("verifier:\n{}", e.render_annotated(&g));
    }
    g
}

fn err(m: &super::proto::ModelProto) -> (ErrorKind, String) {
    match import(m) {
        Ok(g) => panic!("import succeeded:\n{}", ir::text::print(&g)),
        Err(e) => (e.kind().clone(), e.render_plain()),
    }
}

fn per_tensor(t: &TensorType) -> (f32, i32) {
    match t.quant.as_ref().map(|q| &q.granularity) {
        Some(QuantGranularity::PerTensor { scale, zero_point }) => (*scale, *zero_point),
        other => panic!("expected per-tensor params, got {other:?}"),
    }
}

fn per_axis(t: &TensorType) -> (usize, Vec<f32>, Vec<i32>) {
    match t.quant.as_ref().map(|q| &q.granularity) {
        Some(QuantGranularity::PerAxis {
            axis,
            scales,
            zero_points,
        }) => (*axis, scales.clone(), zero_points.clone()),
        other => panic!("expected per-axis params, got {other:?}"),
    }
}

/// The type of the first input of the first node with this mnemonic.
fn input_type_of(g: &Graph, mnemonic: &str, slot: usize) -> TensorType {
    let n = g
        .topo_order()
        .into_iter()
        .find(|&n| g.node(n).op.mnemonic() == mnemonic)
        .unwrap_or_else(|| panic!("no {mnemonic} node"));
    g.ty(g.node(n).inputs[slot]).clone()
}

fn output_type_of(g: &Graph, mnemonic: &str) -> TensorType {
    let n = g
        .topo_order()
        .into_iter()
        .find(|&n| g.node(n).op.mnemonic() == mnemonic)
        .unwrap_or_else(|| panic!("no {mnemonic} node"));
    g.ty(g.node(n).outputs[0]).clone()
}

/// The operand type of the dequantize whose operand is `dtype`.
fn dequantized(g: &Graph, dtype: DType) -> TensorType {
    g.node_ids()
        .filter(|&n| matches!(g.node(n).op, Op::Dequantize))
        .map(|n| g.ty(g.node(n).inputs[0]).clone())
        .find(|t| t.dtype == dtype)
        .unwrap_or_else(|| panic!("no dequantize of {dtype}"))
}

fn mnemonics(g: &Graph) -> Vec<&'static str> {
    ops(g).iter().map(|o| o.mnemonic()).collect()
}

/// x -> QuantizeLinear -> DequantizeLinear -> y at `opset`.
fn qdq_model(opset: i64, zp: Option<TensorProto>) -> super::proto::ModelProto {
    let mut inits = vec![scalar("s", 0.5)];
    let ins: Vec<&str> = if let Some(z) = zp {
        inits.push(z);
        vec!["x", "s", "zp"]
    } else {
        vec!["x", "s"]
    };
    model(
        opset,
        vec![input("x", &[1, 4])],
        &["y"],
        inits,
        vec![
            node("QuantizeLinear", &ins, &["q"], vec![]),
            node(
                "DequantizeLinear",
                &ins.iter()
                    .map(|s| if *s == "x" { "q" } else { s })
                    .collect::<Vec<_>>(),
                &["y"],
                vec![],
            ),
        ],
    )
}

#[test]
fn qdq_pair_opset10_per_tensor_runs_the_arithmetic() {
    let g = qok(&qdq_model(10, Some(tu8("zp", &[], vec![128]))));
    assert_eq!(g.phase, Phase::Qdq);
    assert_eq!(mnemonics(&g), ["quantize", "dequantize"]);
    let q = output_type_of(&g, "quantize");
    assert_eq!(q.dtype, DType::U8);
    assert_eq!(per_tensor(&q), (0.5, 128));
    let x = Tensor::from_f32(vec![1, 4], vec![0.2, -0.3, 100.0, 0.75]);
    let y = ir::interp::run_float(&g, &[x]).expect("run");
    // round-half-even(x * 2) + 128, clamped to u8, minus 128, times 0.5.
    assert_eq!(y[0].as_f32().unwrap(), &[0.0, -0.5, 63.5, 1.0]);
}

#[test]
fn zero_point_defaults_u8_for_quantize_and_input_type_for_dequantize() {
    let g = qok(&qdq_model(13, None));
    assert_eq!(output_type_of(&g, "quantize").dtype, DType::U8);
    assert_eq!(per_tensor(&output_type_of(&g, "quantize")), (0.5, 0));
    // An int8 initializer dequantized without zero point: i8 with zero point 0.
    let m = model(
        13,
        vec![input("x", &[1, 3])],
        &["y"],
        vec![ti8("w", &[3], vec![-3, 0, 5]), scalar("s", 0.25)],
        vec![
            node("DequantizeLinear", &["w", "s"], &["wf"], vec![]),
            node("Add", &["x", "wf"], &["y"], vec![]),
        ],
    );
    let g = qok(&m);
    let w = input_type_of(&g, "dequantize", 0);
    assert_eq!((w.dtype, per_tensor(&w)), (DType::I8, (0.25, 0)));
    let y = ir::interp::run_float(&g, &[Tensor::from_f32(vec![1, 3], vec![0.0; 3])]).unwrap();
    assert_eq!(y[0].as_f32().unwrap(), &[-0.75, 0.0, 1.25]);
}

#[test]
fn int8_quantize_with_int8_zero_point() {
    let g = qok(&qdq_model(13, Some(ti8("zp", &[], vec![-3]))));
    let q = output_type_of(&g, "quantize");
    assert_eq!((q.dtype, per_tensor(&q)), (DType::I8, (0.5, -3)));
}

/// x[1,2,3,3] -> Conv with a per-channel int8 weight (DequantizeLinear axis `axis`) and
/// int32 bias.
fn per_channel_conv(opset: i64, axis: Option<i64>) -> super::proto::ModelProto {
    let attrs = axis.map(|a| vec![a_int("axis", a)]).unwrap_or_default();
    model(
        opset,
        vec![input("x", &[1, 2, 3, 3])],
        &["y"],
        vec![
            ti8("w", &[3, 2, 1, 1], vec![1, -2, 3, -4, 5, -6]),
            tf32("ws", &[3], vec![0.5, 0.25, 0.125]),
            ti8("wz", &[3], vec![0, 0, 0]),
            ti32("b", &[3], vec![10, -20, 30]),
            tf32("bs", &[3], vec![0.05, 0.025, 0.0125]),
        ],
        vec![
            node(
                "DequantizeLinear",
                &["w", "ws", "wz"],
                &["wf"],
                attrs.clone(),
            ),
            node(
                "DequantizeLinear",
                &["b", "bs"],
                &["bf"],
                vec![a_int("axis", 0)],
            ),
            node("Conv", &["x", "wf", "bf"], &["y"], vec![]),
        ],
    )
}

#[test]
fn per_axis_weights_and_i32_bias() {
    let g = qok(&per_channel_conv(13, Some(0)));
    assert_eq!(g.phase, Phase::Qdq);
    let w = dequantized(&g, DType::I8);
    assert_eq!(per_axis(&w), (0, vec![0.5, 0.25, 0.125], vec![0, 0, 0]));
    // The negative axis -4 is axis 0 of the rank-4 weight.
    let g2 = qok(&per_channel_conv(13, Some(-4)));
    assert!(g == g2);
    let b = dequantized(&g, DType::I32);
    assert_eq!(per_axis(&b).1, vec![0.05, 0.025, 0.0125]);
    let x = Tensor::from_f32(vec![1, 2, 3, 3], vec![1.0; 18]);
    let y = ir::interp::run_float(&g, &[x]).unwrap();
    // channel 0: (1 - 2) * 0.5 + 10 * 0.05 = 0.0
    assert_eq!(y[0].as_f32().unwrap()[0], 0.0);
}

#[test]
fn bad_axis_and_scale_counts_are_diagnosed() {
    // axis 1 (the default) has size 2, but there are 3 scales.
    let (kind, text) = err(&per_channel_conv(13, None));
    assert!(matches!(kind, ErrorKind::InvalidNode { .. }), "{kind:?}");
    assert!(
        text.contains("3 per-axis scales for axis 1 of a tensor of shape [3, 2, 1, 1]"),
        "{text}"
    );
    assert!(
        text.contains("DequantizeLinear node `dequantizelinear_wf`"),
        "{text}"
    );
    let (kind, text) = err(&per_channel_conv(13, Some(4)));
    assert!(
        matches!(&kind, ErrorKind::Attribute { attr, .. } if attr == "axis"),
        "{kind:?}"
    );
    assert!(text.contains("axis"), "{text}");
    // Per-axis parameters do not exist before opset 13.
    let (kind, _) = err(&per_channel_conv(10, None));
    assert!(matches!(kind, ErrorKind::Unsupported { .. }), "{kind:?}");
    let (kind, _) = err(&per_channel_conv(10, Some(0)));
    assert!(
        matches!(&kind, ErrorKind::Attribute { attr, .. } if attr == "axis"),
        "{kind:?}"
    );
}

#[test]
fn bad_scales_and_zero_points_are_errors() {
    let bad_scale = |s: f32| {
        let mut m = qdq_model(13, None);
        let g = m.graph.as_mut().unwrap();
        g.initializer[0] = scalar("s", s);
        err(&m).0
    };
    for s in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(matches!(bad_scale(s), ErrorKind::InvalidNode { .. }), "{s}");
    }
    let (kind, _) = err(&qdq_model(
        13,
        Some(tensor("zp", DataType::Uint16, &[], vec![3])),
    ));
    assert!(matches!(kind, ErrorKind::Unsupported { .. }), "{kind:?}");
    let (kind, _) = err(&qdq_model(
        13,
        Some(tensor("zp", DataType::Float, &[], vec![])),
    ));
    assert!(
        matches!(
            kind,
            ErrorKind::Unsupported { .. } | ErrorKind::Tensor { .. }
        ),
        "{kind:?}"
    );
}

#[test]
fn dequantize_with_other_params_than_the_quantize_is_unsupported() {
    let m = model(
        13,
        vec![input("x", &[1, 4])],
        &["y"],
        vec![scalar("s", 0.5), scalar("s2", 0.25)],
        vec![
            node("QuantizeLinear", &["x", "s"], &["q"], vec![]),
            node("DequantizeLinear", &["q", "s2"], &["y"], vec![]),
        ],
    );
    let (kind, text) = err(&m);
    assert!(matches!(kind, ErrorKind::Unsupported { .. }), "{kind:?}");
    assert!(
        text.contains("u8[1,4]<0.5:0>") && text.contains("<0.25:0>"),
        "{text}"
    );
}

#[test]
fn opset21_output_dtype_and_block_size() {
    let mut m = qdq_model(21, None);
    m.graph.as_mut().unwrap().node[0]
        .attribute
        .push(a_int("output_dtype", DataType::Int8 as i64));
    let g = qok(&m);
    assert_eq!(output_type_of(&g, "quantize").dtype, DType::I8);
    let mut m = qdq_model(21, None);
    m.graph.as_mut().unwrap().node[0]
        .attribute
        .push(a_int("block_size", 2));
    assert!(matches!(err(&m).0, ErrorKind::Unsupported { .. }));
}

#[test]
fn quantize_of_a_float_initializer_folds_to_an_integer_const() {
    let m = model(
        13,
        vec![input("x", &[1, 3])],
        &["y"],
        vec![
            tf32("w", &[3], vec![0.3, -1.0, 100.0]),
            scalar("s", 0.1),
            ti8("z", &[], vec![0]),
        ],
        vec![
            node("QuantizeLinear", &["w", "s", "z"], &["wq"], vec![]),
            node("DequantizeLinear", &["wq", "s", "z"], &["wf"], vec![]),
            node("Add", &["x", "wf"], &["y"], vec![]),
        ],
    );
    let g = qok(&m);
    assert_eq!(mnemonics(&g), ["dequantize", "add"]);
    let c = g
        .node_ids()
        .find_map(|n| match &g.node(n).op {
            Op::Const(c) => Some(c.value.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(c.data, TensorData::I8(vec![3, -10, 127]));
}

#[test]
fn float_model_stays_float() {
    let m = model(
        13,
        vec![input("x", &[1, 3])],
        &["y"],
        vec![],
        vec![node("Relu", &["x"], &["y"], vec![])],
    );
    assert_eq!(qok(&m).phase, Phase::Float);
}

/// x -> Q(u8 0.1:128) -> QLinearConv (per-channel i8 weight, i32 bias) -> MaxPool (on u8)
/// -> DequantizeLinear -> y.
fn qlinear_conv_model() -> super::proto::ModelProto {
    model(
        13,
        vec![input("x", &[1, 1, 4, 4])],
        &["y"],
        vec![
            scalar("xs", 0.1),
            tu8("xz", &[], vec![128]),
            ti8("w", &[2, 1, 1, 1], vec![2, -4]),
            tf32("ws", &[2], vec![0.5, 0.25]),
            ti8("wz", &[2], vec![0, 0]),
            scalar("ys", 0.2),
            tu8("yz", &[], vec![10]),
            ti32("b", &[2], vec![20, -40]),
        ],
        vec![
            node("QuantizeLinear", &["x", "xs", "xz"], &["xq"], vec![]),
            node(
                "QLinearConv",
                &["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"],
                &["yq"],
                vec![a_ints("kernel_shape", &[1, 1])],
            ),
            node(
                "MaxPool",
                &["yq"],
                &["pq"],
                vec![a_ints("kernel_shape", &[2, 2]), a_ints("strides", &[2, 2])],
            ),
            node("DequantizeLinear", &["pq", "ys", "yz"], &["y"], vec![]),
        ],
    )
}

#[test]
fn qlinear_conv_expands_to_qdq_form() {
    let g = qok(&qlinear_conv_model());
    assert_eq!(g.phase, Phase::Qdq);
    let ms = mnemonics(&g);
    assert_eq!(
        ms.iter().filter(|m| **m == "dequantize").count(),
        5,
        "{ms:?}"
    );
    assert_eq!(ms.iter().filter(|m| **m == "quantize").count(), 3, "{ms:?}");
    assert!(ms.contains(&"conv") && ms.contains(&"max_pool"));
    // The max pool runs on floats between a dequantize and a quantize of equal parameters.
    let p = input_type_of(&g, "max_pool", 0);
    assert_eq!(p.dtype, DType::F32);
    let out = output_type_of(&g, "max_pool");
    assert_eq!(out.dtype, DType::F32);
    // Bias: i32 per axis 0 with scales s_x * s_w.
    let b = input_type_of(&g, "conv", 2);
    assert_eq!(b.dtype, DType::F32);
    let bias = g
        .node_ids()
        .map(|n| g.ty(g.node(n).outputs[0]).clone())
        .find(|t| t.dtype == DType::I32)
        .expect("bias");
    assert_eq!(per_axis(&bias).1, vec![0.1f32 * 0.5, 0.1f32 * 0.25]);
    // x = 0.5 everywhere: xq = 133, (133-128)*0.1 = 0.5; ch0: 0.5*1.0 + 20*0.05 = 1.5
    // -> 10 + 7.5 -> 18 (half to even) -> 1.6; ch1: 0.5*-1 + -40*0.025 = -1.5 -> 10 - 7.5 -> 2
    // -> -1.6.
    let x = Tensor::from_f32(vec![1, 1, 4, 4], vec![0.5; 16]);
    let y = ir::interp::run_float(&g, &[x]).unwrap();
    let y = y[0].as_f32().unwrap();
    assert!(
        (y[0] - 1.6).abs() < 1e-6 && (y[4] + 1.6).abs() < 1e-6,
        "{y:?}"
    );
}

#[test]
fn qlinear_conv_per_channel_at_opset_10() {
    let mut m = qlinear_conv_model();
    m.opset_import[0].version = 10;
    let g = qok(&m);
    assert_eq!(per_axis(&dequantized(&g, DType::I8)).0, 0);
}

#[test]
fn qlinear_conv_input_params_must_match() {
    let mut m = qlinear_conv_model();
    m.graph
        .as_mut()
        .unwrap()
        .initializer
        .push(scalar("xs2", 0.3));
    m.graph.as_mut().unwrap().node[1].input[1] = "xs2".into();
    let (kind, text) = err(&m);
    assert!(matches!(kind, ErrorKind::Unsupported { .. }), "{kind:?}");
    assert!(text.contains("QLinearConv node"), "{text}");
}

#[test]
fn qlinear_matmul_per_column_weights() {
    let m = model(
        13,
        vec![input("x", &[1, 2])],
        &["y"],
        vec![
            scalar("as", 0.5),
            ti8("az", &[], vec![0]),
            ti8("b", &[2, 3], vec![1, 2, 3, 4, 5, 6]),
            tf32("bs", &[3], vec![1.0, 0.5, 0.25]),
            ti8("bz", &[3], vec![0, 0, 0]),
            scalar("ys", 1.0),
            ti8("yz", &[], vec![0]),
        ],
        vec![
            node("QuantizeLinear", &["x", "as", "az"], &["aq"], vec![]),
            node(
                "QLinearMatMul",
                &["aq", "as", "az", "b", "bs", "bz", "ys", "yz"],
                &["yq"],
                vec![],
            ),
            node("DequantizeLinear", &["yq", "ys", "yz"], &["y"], vec![]),
        ],
    );
    let g = qok(&m);
    assert_eq!(per_tensor(&dequantized(&g, DType::I8)), (0.5, 0));
    let b = g
        .node_ids()
        .filter(|&n| matches!(g.node(n).op, Op::Dequantize))
        .map(|n| g.ty(g.node(n).inputs[0]).clone())
        .find(|t| t.shape.dims() == [2, 3])
        .unwrap();
    assert_eq!(per_axis(&b).0, 1);
    // a = [1, 2]: [1*1 + 2*4, (2 + 10) * 0.5, (3 + 12) * 0.25] = [9, 6, 3.75 -> 4]
    let y = ir::interp::run_float(&g, &[Tensor::from_f32(vec![1, 2], vec![1.0, 2.0])]).unwrap();
    assert_eq!(y[0].as_f32().unwrap(), &[9.0, 6.0, 4.0]);
}

#[test]
fn conv_integer_and_matmul_integer_give_exact_accumulators() {
    // x -> Q(0.1:100, u8) -> ConvInteger(w u8, zp 3) -> Cast -> y1;
    // x -> Q -> Flatten -> MatMulInteger(b i8) -> Cast -> y2.
    let m = model(
        13,
        vec![input("x", &[1, 1, 2, 2])],
        &["y1", "y2"],
        vec![
            scalar("xs", 0.1),
            tu8("xz", &[], vec![100]),
            tu8("w", &[1, 1, 1, 1], vec![7]),
            tu8("wz", &[], vec![3]),
            ti8("b", &[4, 2], vec![1, -1, 2, -2, 3, -3, 4, -4]),
        ],
        vec![
            node("QuantizeLinear", &["x", "xs", "xz"], &["xq"], vec![]),
            node("ConvInteger", &["xq", "w", "xz", "wz"], &["acc"], vec![]),
            node("Cast", &["acc"], &["y1"], vec![a_int("to", 1)]),
            node("Flatten", &["xq"], &["fq"], vec![]),
            node("MatMulInteger", &["fq", "b", "xz"], &["acc2"], vec![]),
            node("Cast", &["acc2"], &["y2"], vec![a_int("to", 1)]),
        ],
    );
    let g = qok(&m);
    let acc = output_type_of(&g, "quantize");
    assert_eq!(acc.dtype, DType::U8);
    let w = input_type_of(&g, "conv", 1);
    assert_eq!(w.dtype, DType::F32);
    let x = Tensor::from_f32(vec![1, 1, 2, 2], vec![0.3, -1.0, 2.5, 12.0]);
    let y = ir::interp::run_float(&g, &[x]).unwrap();
    // xq = [103, 90, 125, 220]; (xq - 100) * (7 - 3) = [12, -40, 100, 480].
    assert_eq!(y[0].as_f32().unwrap(), &[12.0, -40.0, 100.0, 480.0]);
    // [3, -10, 25, 120] @ b = [3 - 20 + 75 + 480, -(...)] = [538, -538].
    assert_eq!(y[1].as_f32().unwrap(), &[538.0, -538.0]);
}

#[test]
fn cast_of_a_scaled_integer_is_unsupported() {
    let m = model(
        13,
        vec![input("x", &[1, 4])],
        &["y"],
        vec![scalar("s", 0.5)],
        vec![
            node("QuantizeLinear", &["x", "s"], &["q"], vec![]),
            node("Cast", &["q"], &["y"], vec![a_int("to", 1)]),
        ],
    );
    let (kind, text) = err(&m);
    assert!(matches!(kind, ErrorKind::Unsupported { .. }), "{kind:?}");
    assert!(text.contains("DequantizeLinear"), "{text}");
}

#[test]
fn concat_of_integers_with_different_params_is_unsupported() {
    let m = model(
        13,
        vec![input("x", &[1, 4])],
        &["y"],
        vec![scalar("s", 0.5), scalar("s2", 0.25)],
        vec![
            node("QuantizeLinear", &["x", "s"], &["q"], vec![]),
            node("QuantizeLinear", &["x", "s2"], &["q2"], vec![]),
            node("Concat", &["q", "q2"], &["c"], vec![a_int("axis", 1)]),
            node("DequantizeLinear", &["c", "s"], &["y"], vec![]),
        ],
    );
    assert!(matches!(err(&m).0, ErrorKind::Unsupported { .. }));
}
