//! Import tests of compute ops: convolutions, Gemm/MatMul, normalization, activations, Clip, Softmax.

use super::tests::*;
use ir::*;

fn conv_attrs(g: &Graph) -> ConvAttrs {
    match &ops(g)[0] {
        Op::Conv(a) => a.clone(),
        other => panic!("expected conv, got {other:?}"),
    }
}

#[test]
fn conv_auto_pad_same_upper_lower_valid() {
    let w = || vec![tf32_seq("w", &[2, 3, 4, 4])];
    let conv = |pad: &str| {
        node(
            "Conv",
            &["x", "w"],
            &["y"],
            vec![a_str("auto_pad", pad), a_ints("strides", &[2, 2])],
        )
    };
    // in 7, stride 2 -> out 4; total pad = 3*2 + 4 - 7 = 3.
    let g = one_node(13, &[1, 3, 7, 7], w(), conv("SAME_UPPER"));
    assert_eq!(conv_attrs(&g).pads, [1, 1, 2, 2]);
    assert_eq!(out_dims(&g, 0), [1, 2, 4, 4]);
    let g = one_node(13, &[1, 3, 7, 7], w(), conv("SAME_LOWER"));
    assert_eq!(conv_attrs(&g).pads, [2, 2, 1, 1]);
    let g = one_node(13, &[1, 3, 7, 7], w(), conv("VALID"));
    assert_eq!(conv_attrs(&g).pads, [0, 0, 0, 0]);
    assert_eq!(out_dims(&g, 0), [1, 2, 2, 2]);
}

#[test]
fn depthwise_dilated_and_1d_conv() {
    let n = node(
        "Conv",
        &["x", "w"],
        &["y"],
        vec![
            a_int("group", 4),
            a_ints("dilations", &[2, 2]),
            a_ints("pads", &[2, 2, 2, 2]),
        ],
    );
    let g = one_node(11, &[1, 4, 6, 6], vec![tf32_seq("w", &[4, 1, 3, 3])], n);
    let a = conv_attrs(&g);
    assert_eq!((a.group, a.dilations.clone()), (4, vec![2, 2]));
    assert_eq!(out_dims(&g, 0), [1, 4, 6, 6]);
    let n = node(
        "Conv",
        &["x", "w", "b"],
        &["y"],
        vec![a_ints("kernel_shape", &[3])],
    );
    let g = one_node(
        9,
        &[1, 2, 10],
        vec![tf32_seq("w", &[5, 2, 3]), tf32_seq("b", &[5])],
        n,
    );
    assert_eq!(conv_attrs(&g).strides, [1]);
    assert_eq!(out_dims(&g, 0), [1, 5, 8]);
}

#[test]
fn conv_transpose_output_shape_and_padding() {
    let n = node(
        "ConvTranspose",
        &["x", "w"],
        &["y"],
        vec![a_ints("strides", &[2, 2]), a_ints("output_shape", &[9, 10])],
    );
    let g = one_node(13, &[1, 2, 4, 4], vec![tf32_seq("w", &[2, 3, 3, 3])], n);
    // full = 2*3 + 3 = 9: no padding for 9; 10 needs one extra output_padding.
    match &ops(&g)[0] {
        Op::ConvTranspose(a) => {
            assert_eq!(a.pads, [0, 0, 0, 0]);
            assert_eq!(a.output_padding, [0, 1]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(out_dims(&g, 0), [1, 3, 9, 10]);
    let n = node(
        "ConvTranspose",
        &["x", "w"],
        &["y"],
        vec![
            a_ints("strides", &[2, 2]),
            a_ints("pads", &[1, 1, 1, 1]),
            a_ints("output_padding", &[1, 1]),
        ],
    );
    let g = one_node(13, &[1, 2, 4, 4], vec![tf32_seq("w", &[2, 3, 3, 3])], n);
    assert_eq!(out_dims(&g, 0), [1, 3, 8, 8]);
    let n = node(
        "ConvTranspose",
        &["x", "w"],
        &["y"],
        vec![a_ints("strides", &[2, 2]), a_str("auto_pad", "SAME_UPPER")],
    );
    let g = one_node(13, &[1, 2, 4, 4], vec![tf32_seq("w", &[2, 3, 3, 3])], n);
    assert_eq!(out_dims(&g, 0), [1, 3, 8, 8]);
}

#[test]
fn gemm_matmul_and_activations() {
    let n = node(
        "Gemm",
        &["x", "w", "b"],
        &["y"],
        vec![a_int("transB", 1), a_float("alpha", 0.5)],
    );
    let g = one_node(
        13,
        &[2, 5],
        vec![tf32_seq("w", &[3, 5]), tf32_seq("b", &[3])],
        n,
    );
    assert_eq!(
        ops(&g),
        [Op::Gemm(GemmAttrs {
            alpha: 0.5,
            beta: 1.0,
            trans_a: false,
            trans_b: true
        })]
    );
    assert_eq!(out_dims(&g, 0), [2, 3]);
    let m = model(
        13,
        vec![input("x", &[1, 2, 3])],
        &["y"],
        vec![tf32_seq("s", &[2, 1])],
        vec![
            node("LeakyRelu", &["x"], &["a"], vec![]),
            node("HardSigmoid", &["a"], &["b"], vec![a_float("alpha", 0.25)]),
            node("HardSwish", &["b"], &["c"], vec![]),
            node("Sigmoid", &["c"], &["d"], vec![]),
            node("Tanh", &["d"], &["e"], vec![]),
            node("PRelu", &["e", "s"], &["y"], vec![]),
        ],
    );
    let got = ops(&ok(&m));
    assert_eq!(
        got,
        [
            Op::LeakyRelu(LeakyReluAttrs { alpha: 0.01 }),
            Op::HardSigmoid(HardSigmoidAttrs {
                alpha: 0.25,
                beta: 0.5
            }),
            Op::HardSwish,
            Op::Sigmoid,
            Op::Tanh,
            Op::PRelu
        ]
    );
    let n = node("MatMul", &["x", "w"], &["y"], vec![]);
    let g = one_node(13, &[2, 3, 4], vec![tf32_seq("w", &[4, 6])], n);
    assert_eq!(out_dims(&g, 0), [2, 3, 6]);
}

#[test]
fn batch_norm_and_dropout_drop_training_outputs() {
    let p = |n: &str| tf32(n, &[2], vec![1.0, 2.0]);
    let m = model(
        7,
        vec![input("x", &[1, 2, 3, 3])],
        &["y"],
        vec![p("s"), p("b"), p("m"), p("v")],
        vec![
            node(
                "BatchNormalization",
                &["x", "s", "b", "m", "v"],
                &["bn", "rm", "rv", "sm", "sv"],
                vec![a_int("spatial", 1), a_float("epsilon", 1e-3)],
            ),
            node(
                "Dropout",
                &["bn"],
                &["y", "mask"],
                vec![a_float("ratio", 0.5)],
            ),
        ],
    );
    let g = ok(&m);
    assert_eq!(ops(&g), [Op::BatchNorm(BatchNormAttrs { epsilon: 1e-3 })]);
}

#[test]
fn clip_attribute_and_input_forms() {
    let g = one_node(
        10,
        &[4],
        vec![],
        node(
            "Clip",
            &["x"],
            &["y"],
            vec![a_float("min", 0.0), a_float("max", 6.0)],
        ),
    );
    assert_eq!(ops(&g), [Op::Clip(ClipAttrs { min: 0.0, max: 6.0 })]);
    let g = one_node(
        13,
        &[4],
        vec![tf32("lo", &[], vec![-1.0])],
        node("Clip", &["x", "lo"], &["y"], vec![]),
    );
    assert_eq!(
        ops(&g),
        [Op::Clip(ClipAttrs {
            min: -1.0,
            max: f32::INFINITY
        })]
    );
    let g = one_node(
        13,
        &[4],
        vec![tf32("hi", &[], vec![6.0])],
        node("Clip", &["x", "", "hi"], &["y"], vec![]),
    );
    assert_eq!(
        ops(&g),
        [Op::Clip(ClipAttrs {
            min: f32::NEG_INFINITY,
            max: 6.0
        })]
    );
}

#[test]
fn softmax_before_13_flattens() {
    let g = one_node(
        11,
        &[1, 3, 4, 5],
        vec![],
        node("Softmax", &["x"], &["y"], vec![]),
    );
    assert_eq!(
        ops(&g),
        [
            Op::Reshape,
            Op::Softmax(SoftmaxAttrs { axis: 1 }),
            Op::Reshape
        ]
    );
    let order = g.topo_order();
    let shapes: Vec<Vec<usize>> = order
        .iter()
        .flat_map(|&n| g.node(n).outputs.clone())
        .map(|v| g.ty(v).shape.0.clone())
        .collect();
    assert!(shapes.contains(&vec![1, 60]), "{shapes:?}");
    assert_eq!(out_dims(&g, 0), [1, 3, 4, 5]);
    let g = one_node(11, &[2, 5], vec![], node("Softmax", &["x"], &["y"], vec![]));
    assert_eq!(ops(&g), [Op::Softmax(SoftmaxAttrs { axis: 1 })]);
    let g = one_node(
        13,
        &[1, 3, 4, 5],
        vec![],
        node("Softmax", &["x"], &["y"], vec![]),
    );
    assert_eq!(ops(&g), [Op::Softmax(SoftmaxAttrs { axis: 3 })]);
}
