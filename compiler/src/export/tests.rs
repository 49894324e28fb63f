//! Export tests: graphs built with the IR API are exported, re-imported with qcc's importer
//! and compared structurally (names included) and by running both with the interpreter.

use super::onnx::{EXPORT_OPSET, ExportError, export_model, export_qdq_onnx};
use crate::import::onnx::{ImportOptions, import_model_bytes};
use ir::*;

/// Adds a node typed by shape inference.
fn add(g: &mut Graph, op: Op, ins: Vec<ValueId>, name: &str) -> ValueId {
    let tys: Vec<TensorType> = ins.iter().map(|&v| g.ty(v).clone()).collect();
    let refs: Vec<&TensorType> = tys.iter().collect();
    let out = ir::infer::infer_output_types(&op, &refs)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .unwrap_or_else(|| panic!("{name}: stated type"));
    g.add_node(op, ins, out, name).1[0]
}

fn konst(g: &mut Graph, name: &str, t: Tensor, quant: Option<QuantParams>) -> ValueId {
    let ty = TensorType {
        dtype: t.dtype,
        shape: t.shape.clone(),
        quant,
    };
    g.add_simple(Op::Const(ConstAttrs { value: t }), vec![], ty, name)
}

fn seq(shape: &[usize], step: f32) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_f32(
        shape.to_vec(),
        (0..n)
            .map(|i| ((i * 7919) % 23) as f32 * step - 0.5)
            .collect(),
    )
}

fn reimport(g: &Graph) -> Graph {
    let bytes = export_qdq_onnx(g).unwrap_or_else(|e| panic!("export: {e}"));
    let back = import_model_bytes(&bytes, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("re-import:\n{}", e.render_plain()));
    if let Err(e) = ir::verifier::verify(&back) {
        panic!("verifier:\n{}", e.render_annotated(&back));
    }
    back
}

/// Export -> import gives the same graph, which computes the same outputs.
fn check_round_trip(g: &Graph, input: Tensor) {
    ir::verifier::verify(g).unwrap_or_else(|e| panic!("{}", e.render_annotated(g)));
    let back = reimport(g);
    assert!(
        back == *g,
        "round trip differs:\n--- exported\n{}\n--- re-imported\n{}",
        ir::text::print(g),
        ir::text::print(&back)
    );
    let a = ir::interp::run_float(g, std::slice::from_ref(&input)).expect("run original");
    let b = ir::interp::run_float(&back, &[input]).expect("run re-imported");
    assert_eq!(a, b);
}

/// A float graph touching every float op.
fn float_zoo() -> Graph {
    let mut g = Graph::new("zoo");
    let x = g.add_input("image", TensorType::f32(vec![1, 2, 6, 6]));
    let w = konst(&mut g, "w", seq(&[4, 1, 3, 3], 0.05), None);
    let b = konst(&mut g, "b", seq(&[4], 0.1), None);
    let conv = ConvAttrs {
        strides: vec![1, 1],
        pads: vec![1, 1, 1, 1],
        dilations: vec![1, 1],
        group: 2,
    };
    let c = add(&mut g, Op::Conv(conv), vec![x, w, b], "conv");
    let scale = konst(&mut g, "bn_s", seq(&[4], 0.1), None);
    let bias = konst(&mut g, "bn_b", seq(&[4], 0.1), None);
    let mean = konst(&mut g, "bn_m", seq(&[4], 0.01), None);
    let var = konst(
        &mut g,
        "bn_v",
        Tensor::from_f32(vec![4], vec![1.0, 2.0, 0.5, 1.5]),
        None,
    );
    let c = add(
        &mut g,
        Op::BatchNorm(BatchNormAttrs { epsilon: 1e-5 }),
        vec![c, scale, bias, mean, var],
        "bn",
    );
    let c = add(
        &mut g,
        Op::Clip(ClipAttrs { min: 0.0, max: 6.0 }),
        vec![c],
        "relu6",
    );
    let c = add(
        &mut g,
        Op::Clip(ClipAttrs {
            min: -1.0,
            max: f32::INFINITY,
        }),
        vec![c],
        "clip_lo",
    );
    let c = add(
        &mut g,
        Op::Clip(ClipAttrs {
            min: f32::NEG_INFINITY,
            max: 5.0,
        }),
        vec![c],
        "clip_hi",
    );
    let pool = PoolAttrs {
        kernel: vec![2, 2],
        strides: vec![2, 2],
        pads: vec![0, 0, 0, 0],
        dilations: vec![1, 1],
        ceil_mode: false,
    };
    let m = add(&mut g, Op::MaxPool(pool.clone()), vec![c], "maxpool");
    let a = add(
        &mut g,
        Op::AveragePool(AvgPoolAttrs {
            pool: PoolAttrs {
                pads: vec![1, 1, 1, 1],
                ceil_mode: true,
                ..pool
            },
            count_include_pad: true,
        }),
        vec![c],
        "avgpool",
    );
    let a = g.add_simple(
        Op::Slice(SliceAttrs {
            starts: vec![0, 0, 1, 0],
            steps: vec![1, 1, 1, 1],
        }),
        vec![a],
        TensorType::f32(vec![1, 4, 3, 3]),
        "crop",
    );
    let m = add(&mut g, Op::Add, vec![m, a], "pool_sum");
    let s = g.add_simple(
        Op::Slice(SliceAttrs {
            starts: vec![0, 3, 2, 2],
            steps: vec![1, -1, -2, -1],
        }),
        vec![m],
        TensorType::f32(vec![1, 4, 2, 3]),
        "reverse_slice",
    );
    let p = add(
        &mut g,
        Op::Pad(PadAttrs {
            pads: vec![0, 0, 1, 0, 0, 0, 0, 0],
            mode: PadMode::Constant,
            value: 0.5,
        }),
        vec![s],
        "pad",
    );
    let p = add(
        &mut g,
        Op::Pad(PadAttrs {
            pads: vec![0, 0, 0, 1, 0, 0, 0, 1],
            mode: PadMode::Reflect,
            value: 0.0,
        }),
        vec![p],
        "pad_reflect",
    );
    let r = g.add_simple(
        Op::Resize(ResizeAttrs {
            mode: ResizeMode::Linear,
            coord: CoordMode::HalfPixel,
            nearest: NearestMode::RoundPreferFloor,
            scales: vec![1.0, 1.0, 2.0, 2.0],
        }),
        vec![p],
        TensorType::f32(vec![1, 4, 6, 10]),
        "resize",
    );
    let r = g.add_simple(
        Op::Resize(ResizeAttrs {
            mode: ResizeMode::Nearest,
            coord: CoordMode::Asymmetric,
            nearest: NearestMode::Floor,
            scales: vec![1.0, 1.0, 0.5, 0.75],
        }),
        vec![r],
        TensorType::f32(vec![1, 4, 3, 7]),
        "resize_nearest",
    );
    let parts = g.add_node(
        Op::Split(SplitAttrs {
            axis: 1,
            sizes: vec![1, 3],
        }),
        vec![r],
        vec![
            TensorType::f32(vec![1, 1, 3, 7]),
            TensorType::f32(vec![1, 3, 3, 7]),
        ],
        "split",
    );
    let (p0, p1) = (parts.1[0], parts.1[1]);
    let p0 = add(&mut g, Op::Sigmoid, vec![p0], "sigmoid");
    let p1 = add(&mut g, Op::Tanh, vec![p1], "tanh");
    let cat = add(
        &mut g,
        Op::Concat(ConcatAttrs { axis: 1 }),
        vec![p1, p0],
        "concat",
    );
    let t = add(
        &mut g,
        Op::Transpose(TransposeAttrs {
            perm: vec![0, 2, 3, 1],
        }),
        vec![cat],
        "transpose",
    );
    let sm = add(
        &mut g,
        Op::Softmax(SoftmaxAttrs { axis: 3 }),
        vec![t],
        "softmax",
    );
    let rm = add(
        &mut g,
        Op::ReduceMean(ReduceAttrs {
            axes: vec![1],
            keepdims: false,
        }),
        vec![sm],
        "reduce_mean",
    );
    let f = g.add_simple(
        Op::Reshape,
        vec![rm],
        TensorType::f32(vec![1, 28]),
        "flatten",
    );
    let gw = konst(&mut g, "gemm_w", seq(&[5, 28], 0.02), None);
    let gb = konst(&mut g, "gemm_b", seq(&[5], 0.1), None);
    let y = add(
        &mut g,
        Op::Gemm(GemmAttrs {
            alpha: 0.5,
            beta: 2.0,
            trans_a: false,
            trans_b: true,
        }),
        vec![f, gw, gb],
        "gemm",
    );
    let mw = konst(&mut g, "mm_w", seq(&[5, 3], 0.1), None);
    let y = add(&mut g, Op::MatMul, vec![y, mw], "matmul");
    let k = konst(&mut g, "k", seq(&[3], 0.3), None);
    let y = add(&mut g, Op::Add, vec![y, k], "add");
    let y = add(&mut g, Op::Sub, vec![y, k], "sub");
    let y = add(&mut g, Op::Mul, vec![y, k], "mul");
    let d = konst(
        &mut g,
        "d",
        Tensor::from_f32(vec![3], vec![2.0, 4.0, 8.0]),
        None,
    );
    let y = add(&mut g, Op::Div, vec![y, d], "div");
    let y = add(
        &mut g,
        Op::LeakyRelu(LeakyReluAttrs { alpha: 0.1 }),
        vec![y],
        "leaky",
    );
    let y = add(
        &mut g,
        Op::HardSigmoid(HardSigmoidAttrs {
            alpha: 0.3,
            beta: 0.4,
        }),
        vec![y],
        "hsig",
    );
    let y = add(&mut g, Op::HardSwish, vec![y], "hswish");
    let slope = konst(&mut g, "slope", seq(&[3], 0.1), None);
    let y = add(&mut g, Op::PRelu, vec![y, slope], "prelu");
    let y = add(&mut g, Op::Relu, vec![y], "relu");
    g.value_mut(y).name = Some("scores".into());
    g.outputs.push(y);
    // A second output: a global average pool of the conv branch through a conv transpose.
    let tw = konst(&mut g, "tw", seq(&[4, 2, 2, 2], 0.05), None);
    let ct = add(
        &mut g,
        Op::ConvTranspose(ConvTransposeAttrs {
            strides: vec![2, 2],
            pads: vec![0, 0, 1, 1],
            dilations: vec![1, 1],
            group: 1,
            output_padding: vec![1, 0],
        }),
        vec![m, tw],
        "deconv",
    );
    let gp = add(&mut g, Op::GlobalAveragePool, vec![ct], "gap");
    g.value_mut(gp).name = Some("pooled".into());
    g.outputs.push(gp);
    g
}

#[test]
fn float_graph_round_trips_through_onnx() {
    let g = float_zoo();
    check_round_trip(&g, seq(&[1, 2, 6, 6], 0.13));
}

#[test]
fn exported_model_header_and_names() {
    let m = export_model(&float_zoo()).unwrap();
    assert_eq!(m.ir_version, 8);
    assert_eq!(m.opset_import[0].version, EXPORT_OPSET);
    let graph = m.graph.unwrap();
    assert_eq!(graph.name, "zoo");
    assert_eq!(graph.input[0].name, "image");
    let outs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(outs, ["scores", "pooled"]);
    // Value names are unique.
    let mut names: Vec<&String> = graph
        .node
        .iter()
        .flat_map(|n| &n.output)
        .chain(graph.initializer.iter().map(|t| &t.name))
        .collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n);
    let clip = graph.node.iter().find(|n| n.name == "clip_hi").unwrap();
    assert_eq!(clip.input.len(), 3);
    assert_eq!(clip.input[1], "", "an absent min is an empty input");
}

/// input -> Q(u8) -> DQ -> conv(DQ(i8 per-axis w), DQ(i32 bias)) -> Q -> DQ -> max_pool ->
/// Q -> DQ -> output.
fn qdq_graph() -> Graph {
    let mut g = Graph::new("qdq");
    g.phase = Phase::Qdq;
    let x = g.add_input("x", TensorType::f32(vec![1, 2, 4, 4]));
    let q_act = |s: f32, zp: i32| Some(QuantParams::per_tensor(DType::U8, s, zp));
    let u8t = |shape: Vec<usize>, s: f32, zp: i32| TensorType {
        dtype: DType::U8,
        shape: Shape(shape),
        quant: q_act(s, zp),
    };
    let xq = g.add_simple(
        Op::Quantize,
        vec![x],
        u8t(vec![1, 2, 4, 4], 0.02, 128),
        "x_q",
    );
    let xf = add(&mut g, Op::Dequantize, vec![xq], "x_dq");
    let ws = vec![0.01, 0.02, 0.03];
    let w = Tensor {
        dtype: DType::I8,
        shape: Shape(vec![3, 2, 1, 1]),
        data: TensorData::I8(vec![1, -2, 3, -4, 127, -127]),
    };
    let wq = konst(
        &mut g,
        "w_q",
        w,
        Some(QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis: 0,
                scales: ws.clone(),
                zero_points: vec![0; 3],
            },
            bits: 8,
            pow2: false,
        }),
    );
    let wf = add(&mut g, Op::Dequantize, vec![wq], "w_dq");
    let b = Tensor {
        dtype: DType::I32,
        shape: Shape(vec![3]),
        data: TensorData::I32(vec![100, -200, 3000]),
    };
    let bq = konst(
        &mut g,
        "b_q",
        b,
        Some(QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis: 0,
                scales: ws.iter().map(|s| s * 0.02).collect(),
                zero_points: vec![0; 3],
            },
            bits: 32,
            pow2: false,
        }),
    );
    let bf = add(&mut g, Op::Dequantize, vec![bq], "b_dq");
    let conv = ConvAttrs {
        strides: vec![1, 1],
        pads: vec![0, 0, 0, 0],
        dilations: vec![1, 1],
        group: 1,
    };
    let c = add(&mut g, Op::Conv(conv), vec![xf, wf, bf], "conv");
    let r = add(&mut g, Op::Relu, vec![c], "relu");
    let rq = g.add_simple(
        Op::Quantize,
        vec![r],
        u8t(vec![1, 3, 4, 4], 0.05, 0),
        "relu_q",
    );
    let rf = add(&mut g, Op::Dequantize, vec![rq], "relu_dq");
    let pool = PoolAttrs {
        kernel: vec![2, 2],
        strides: vec![2, 2],
        pads: vec![0, 0, 0, 0],
        dilations: vec![1, 1],
        ceil_mode: false,
    };
    let m = add(&mut g, Op::MaxPool(pool), vec![rf], "pool");
    let mq = g.add_simple(
        Op::Quantize,
        vec![m],
        u8t(vec![1, 3, 2, 2], 0.05, 0),
        "pool_q",
    );
    let y = add(&mut g, Op::Dequantize, vec![mq], "pool_dq");
    g.value_mut(y).name = Some("y".into());
    g.outputs.push(y);
    g
}

#[test]
fn qdq_graph_round_trips_through_onnx() {
    let g = qdq_graph();
    check_round_trip(&g, seq(&[1, 2, 4, 4], 0.11));
    // Scale/zero-point initializers are shared by a Quantize and its Dequantize.
    let graph = export_model(&g).unwrap().graph.unwrap();
    let q = graph.node.iter().find(|n| n.name == "relu_q").unwrap();
    let dq = graph.node.iter().find(|n| n.name == "relu_dq").unwrap();
    assert_eq!(q.op_type, "QuantizeLinear");
    assert_eq!(q.input[1..], dq.input[1..]);
    let wdq = graph.node.iter().find(|n| n.name == "w_dq").unwrap();
    assert_eq!(wdq.attribute[0].name, "axis");
    assert_eq!(wdq.attribute[0].i, 0);
}

#[test]
fn what_opset_17_cannot_say_is_an_error() {
    let mut g = qdq_graph();
    g.phase = Phase::Integer;
    assert_eq!(export_qdq_onnx(&g), Err(ExportError::Phase(Phase::Integer)));

    // Quantize to i32 (the accumulator form of an imported ConvInteger).
    let mut g = Graph::new("acc");
    g.phase = Phase::Qdq;
    let x = g.add_input("x", TensorType::f32(vec![2]));
    let ty = TensorType {
        dtype: DType::I32,
        shape: Shape(vec![2]),
        quant: Some(QuantParams::per_tensor(DType::I32, 1.0, 0)),
    };
    let q = g.add_simple(Op::Quantize, vec![x], ty, "acc_q");
    let y = add(&mut g, Op::Dequantize, vec![q], "acc_dq");
    g.outputs.push(y);
    let e = export_qdq_onnx(&g).unwrap_err();
    assert!(
        matches!(&e, ExportError::Unsupported { node, op: "quantize", .. } if node == "acc_q"),
        "{e:?}"
    );
    assert!(e.to_string().contains("uint8 and int8 only"), "{e}");
}

#[test]
fn duplicate_names_are_made_unique() {
    let mut g = Graph::new("dups");
    let x = g.add_input("x", TensorType::f32(vec![1, 3]));
    let a = add(&mut g, Op::Relu, vec![x], "x");
    let b = add(&mut g, Op::Sigmoid, vec![a], "x");
    g.value_mut(b).name = Some("out".into());
    g.outputs.push(b);
    let graph = export_model(&g).unwrap().graph.unwrap();
    let outs: Vec<&str> = graph.node.iter().map(|n| n.output[0].as_str()).collect();
    assert_eq!(outs, ["x_1", "out"]);
    let nodes: Vec<&str> = graph.node.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        nodes,
        ["x", "x_1"],
        "onnxruntime rejects duplicate node names"
    );
    // The re-imported graph differs only in that node name.
    let mut back = reimport(&g);
    let renamed = back
        .node_ids()
        .find(|&n| back.node(n).name == "x_1")
        .expect("renamed node");
    back.set_node_name(renamed, "x");
    assert!(back == g);
}

/// qcc's own Qdq form lets integer tensors pass data-movement ops; the export keeps them
/// on integers (ONNX MaxPool/Reshape/Pad take uint8), and the re-import wraps them in
/// dequantize -> op -> quantize, which computes the same.
#[test]
fn integer_data_movement_exports_on_integers() {
    let mut g = Graph::new("int_move");
    g.phase = Phase::Qdq;
    let x = g.add_input("x", TensorType::f32(vec![1, 1, 4, 4]));
    let ty = |shape: Vec<usize>| TensorType {
        dtype: DType::U8,
        shape: Shape(shape),
        quant: Some(QuantParams::per_tensor(DType::U8, 0.1, 7)),
    };
    let q = g.add_simple(Op::Quantize, vec![x], ty(vec![1, 1, 4, 4]), "q");
    let pool = PoolAttrs {
        kernel: vec![2, 2],
        strides: vec![2, 2],
        pads: vec![0, 0, 0, 0],
        dilations: vec![1, 1],
        ceil_mode: false,
    };
    let m = add(&mut g, Op::MaxPool(pool), vec![q], "pool");
    let p = add(
        &mut g,
        Op::Pad(PadAttrs {
            pads: vec![0, 0, 1, 1, 0, 0, 0, 0],
            mode: PadMode::Constant,
            value: 7.0,
        }),
        vec![m],
        "pad",
    );
    let r = g.add_simple(Op::Reshape, vec![p], ty(vec![1, 9]), "flat");
    let y = add(&mut g, Op::Dequantize, vec![r], "dq");
    g.value_mut(y).name = Some("y".into());
    g.outputs.push(y);
    ir::verifier::verify(&g).unwrap_or_else(|e| panic!("{}", e.render_annotated(&g)));
    let graph = export_model(&g).unwrap().graph.unwrap();
    let pad = graph.node.iter().find(|n| n.op_type == "Pad").unwrap();
    let value = graph
        .initializer
        .iter()
        .find(|t| t.name == pad.input[2])
        .unwrap();
    assert_eq!(value.raw_data, [7u8]);
    let back = reimport(&g);
    let input = seq(&[1, 1, 4, 4], 0.17);
    let a = ir::interp::run_float(&g, std::slice::from_ref(&input)).unwrap();
    let b = ir::interp::run_float(&back, &[input]).unwrap();
    assert_eq!(a, b);
}
