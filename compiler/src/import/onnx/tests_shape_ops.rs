//! Import tests of data-movement ops, resizing, pooling and the constant evaluator.

use super::tests::*;
use ir::*;

#[test]
fn squeeze_unsqueeze_flatten_become_reshape() {
    let g = one_node(
        11,
        &[1, 3, 1],
        vec![],
        node("Squeeze", &["x"], &["y"], vec![a_ints("axes", &[-1])]),
    );
    assert_eq!((ops(&g), out_dims(&g, 0)), (vec![Op::Reshape], vec![1, 3]));
    let g = one_node(
        13,
        &[1, 3, 1],
        vec![ti64("ax", &[1], vec![0])],
        node("Squeeze", &["x", "ax"], &["y"], vec![]),
    );
    assert_eq!(out_dims(&g, 0), [3, 1]);
    let g = one_node(
        13,
        &[3],
        vec![ti64("ax", &[2], vec![0, 2])],
        node("Unsqueeze", &["x", "ax"], &["y"], vec![]),
    );
    assert_eq!(out_dims(&g, 0), [1, 3, 1]);
    let g = one_node(
        11,
        &[3],
        vec![],
        node("Unsqueeze", &["x"], &["y"], vec![a_ints("axes", &[1])]),
    );
    assert_eq!(out_dims(&g, 0), [3, 1]);
    let g = one_node(
        13,
        &[2, 3, 4],
        vec![],
        node("Flatten", &["x"], &["y"], vec![a_int("axis", 2)]),
    );
    assert_eq!((ops(&g), out_dims(&g, 0)), (vec![Op::Reshape], vec![6, 4]));
    let g = one_node(
        13,
        &[2, 3, 4],
        vec![ti64("s", &[2], vec![0, -1])],
        node("Reshape", &["x", "s"], &["y"], vec![]),
    );
    assert_eq!(out_dims(&g, 0), [2, 12]);
}

#[test]
fn reduce_mean_axes_attribute_and_input() {
    let g = one_node(
        13,
        &[1, 3, 4, 4],
        vec![],
        node(
            "ReduceMean",
            &["x"],
            &["y"],
            vec![a_ints("axes", &[-2, -1]), a_int("keepdims", 0)],
        ),
    );
    assert_eq!(
        ops(&g),
        [Op::ReduceMean(ReduceAttrs {
            axes: vec![2, 3],
            keepdims: false
        })]
    );
    let g = one_node(
        18,
        &[1, 3, 4, 4],
        vec![ti64("ax", &[2], vec![3, 2])],
        node("ReduceMean", &["x", "ax"], &["y"], vec![]),
    );
    assert_eq!(
        ops(&g),
        [Op::ReduceMean(ReduceAttrs {
            axes: vec![2, 3],
            keepdims: true
        })]
    );
    assert_eq!(out_dims(&g, 0), [1, 3, 1, 1]);
}

#[test]
fn split_attribute_input_and_num_outputs() {
    let m = |opset, n: super::proto::NodeProto, inits| {
        model(
            opset,
            vec![input("x", &[2, 7])],
            &["a", "b", "c"],
            inits,
            vec![n],
        )
    };
    let sizes = |g: &Graph| match &ops(g)[0] {
        Op::Split(s) => s.sizes.clone(),
        other => panic!("{other:?}"),
    };
    let g = ok(&m(
        11,
        node(
            "Split",
            &["x"],
            &["a", "b", "c"],
            vec![a_int("axis", 1), a_ints("split", &[1, 2, 4])],
        ),
        vec![],
    ));
    assert_eq!(sizes(&g), [1, 2, 4]);
    let g = ok(&m(
        13,
        node(
            "Split",
            &["x", "s"],
            &["a", "b", "c"],
            vec![a_int("axis", -1)],
        ),
        vec![ti64("s", &[3], vec![3, 3, 1])],
    ));
    assert_eq!(sizes(&g), [3, 3, 1]);
    let g = ok(&m(
        18,
        node(
            "Split",
            &["x"],
            &["a", "b", "c"],
            vec![a_int("axis", 1), a_int("num_outputs", 3)],
        ),
        vec![],
    ));
    assert_eq!(sizes(&g), [3, 3, 1]);
    assert_eq!(out_dims(&g, 2), [2, 1]);
}

#[test]
fn slice_transpose_concat() {
    let inits = vec![
        ti64("st", &[1], vec![-1]),
        ti64("en", &[1], vec![i64::MIN]),
        ti64("ax", &[1], vec![1]),
        ti64("sp", &[1], vec![-2]),
    ];
    let g = one_node(
        13,
        &[2, 5],
        inits,
        node("Slice", &["x", "st", "en", "ax", "sp"], &["y"], vec![]),
    );
    assert_eq!(
        ops(&g),
        [Op::Slice(SliceAttrs {
            starts: vec![0, 4],
            steps: vec![1, -2]
        })]
    );
    assert_eq!(out_dims(&g, 0), [2, 3]);
    let g = one_node(
        9,
        &[4, 6],
        vec![],
        node(
            "Slice",
            &["x"],
            &["y"],
            vec![
                a_ints("starts", &[1]),
                a_ints("ends", &[3]),
                a_ints("axes", &[0]),
            ],
        ),
    );
    assert_eq!(out_dims(&g, 0), [2, 6]);
    let g = one_node(
        13,
        &[2, 3, 4],
        vec![],
        node("Transpose", &["x"], &["y"], vec![]),
    );
    assert_eq!(
        ops(&g),
        [Op::Transpose(TransposeAttrs {
            perm: vec![2, 1, 0]
        })]
    );
    let g = one_node(
        13,
        &[2, 3],
        vec![tf32_seq("c", &[2, 1])],
        node("Concat", &["x", "c"], &["y"], vec![a_int("axis", -1)]),
    );
    assert_eq!(
        (ops(&g), out_dims(&g, 0)),
        (vec![Op::Concat(ConcatAttrs { axis: 1 })], vec![2, 4])
    );
}

#[test]
fn pad_forms_across_opsets() {
    let g = one_node(
        10,
        &[1, 2, 3, 3],
        vec![],
        node(
            "Pad",
            &["x"],
            &["y"],
            vec![
                a_ints("pads", &[0, 0, 1, 2, 0, 0, 1, 2]),
                a_str("mode", "reflect"),
            ],
        ),
    );
    assert_eq!(
        ops(&g),
        [Op::Pad(PadAttrs {
            pads: vec![0, 0, 1, 2, 0, 0, 1, 2],
            mode: PadMode::Reflect,
            value: 0.0
        })]
    );
    let inits = vec![
        ti64("p", &[8], vec![0, 0, 1, 1, 0, 0, 1, 1]),
        tf32("v", &[], vec![0.5]),
    ];
    let g = one_node(
        13,
        &[1, 2, 3, 3],
        inits,
        node("Pad", &["x", "p", "v"], &["y"], vec![]),
    );
    assert_eq!(
        ops(&g),
        [Op::Pad(PadAttrs {
            pads: vec![0, 0, 1, 1, 0, 0, 1, 1],
            mode: PadMode::Constant,
            value: 0.5
        })]
    );
    assert_eq!(out_dims(&g, 0), [1, 2, 5, 5]);
    let inits = vec![
        ti64("p", &[4], vec![1, 0, 1, 2]),
        ti64("ax", &[2], vec![-2, -1]),
    ];
    let g = one_node(
        18,
        &[1, 2, 3, 3],
        inits,
        node(
            "Pad",
            &["x", "p", "", "ax"],
            &["y"],
            vec![a_str("mode", "edge")],
        ),
    );
    assert_eq!(
        ops(&g),
        [Op::Pad(PadAttrs {
            pads: vec![0, 0, 1, 0, 0, 0, 1, 2],
            mode: PadMode::Edge,
            value: 0.0
        })]
    );
}

fn resize_attrs(g: &Graph) -> ResizeAttrs {
    match &ops(g)[0] {
        Op::Resize(a) => a.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn resize_opset_10_11_13_and_upsample() {
    let sc = || vec![tf32("s", &[4], vec![1.0, 1.0, 2.0, 2.0])];
    let g = one_node(
        10,
        &[1, 1, 2, 3],
        sc(),
        node("Resize", &["x", "s"], &["y"], vec![]),
    );
    let a = resize_attrs(&g);
    assert_eq!(
        (a.mode, a.coord, a.nearest),
        (
            ResizeMode::Nearest,
            CoordMode::Asymmetric,
            NearestMode::Floor
        )
    );
    assert_eq!(out_dims(&g, 0), [1, 1, 4, 6]);
    let inits = vec![
        tf32("roi", &[0], vec![]),
        ti64("sz", &[4], vec![1, 1, 3, 5]),
    ];
    let n = node(
        "Resize",
        &["x", "roi", "", "sz"],
        &["y"],
        vec![
            a_str("mode", "linear"),
            a_str("coordinate_transformation_mode", "align_corners"),
        ],
    );
    let g = one_node(11, &[1, 1, 2, 3], inits, n);
    let a = resize_attrs(&g);
    assert_eq!(
        (a.mode, a.coord),
        (ResizeMode::Linear, CoordMode::AlignCorners)
    );
    assert_eq!(a.scales, [1.0, 1.0, 1.5, 5.0 / 3.0]);
    assert_eq!(out_dims(&g, 0), [1, 1, 3, 5]);
    let n = node(
        "Resize",
        &["x", "", "s"],
        &["y"],
        vec![
            a_str("nearest_mode", "round_prefer_ceil"),
            a_str("coordinate_transformation_mode", "pytorch_half_pixel"),
        ],
    );
    let a = resize_attrs(&one_node(13, &[1, 1, 2, 3], sc(), n));
    assert_eq!(
        (a.coord, a.nearest, a.scales),
        (
            CoordMode::PytorchHalfPixel,
            NearestMode::RoundPreferCeil,
            vec![1.0, 1.0, 2.0, 2.0]
        )
    );
    let g = one_node(
        9,
        &[1, 1, 2, 3],
        sc(),
        node("Upsample", &["x", "s"], &["y"], vec![]),
    );
    assert_eq!(resize_attrs(&g).coord, CoordMode::Asymmetric);
    let g = one_node(
        7,
        &[1, 1, 2, 3],
        vec![],
        node(
            "Upsample",
            &["x"],
            &["y"],
            vec![a_floats("scales", &[1.0, 1.0, 2.0, 2.0])],
        ),
    );
    assert_eq!(out_dims(&g, 0), [1, 1, 4, 6]);
}

#[test]
fn pools() {
    let n = node(
        "MaxPool",
        &["x"],
        &["y"],
        vec![
            a_ints("kernel_shape", &[2, 2]),
            a_ints("strides", &[2, 2]),
            a_int("ceil_mode", 1),
        ],
    );
    let g = one_node(12, &[1, 1, 5, 5], vec![], n);
    assert_eq!(out_dims(&g, 0), [1, 1, 3, 3]);
    let n = node(
        "AveragePool",
        &["x"],
        &["y"],
        vec![
            a_ints("kernel_shape", &[3, 3]),
            a_str("auto_pad", "SAME_UPPER"),
            a_int("count_include_pad", 1),
        ],
    );
    let g = one_node(11, &[1, 1, 5, 5], vec![], n);
    match &ops(&g)[0] {
        Op::AveragePool(a) => {
            assert!(a.count_include_pad);
            assert_eq!(a.pool.pads, [1, 1, 1, 1]);
        }
        other => panic!("{other:?}"),
    }
    let g = one_node(
        11,
        &[1, 2, 5, 5],
        vec![],
        node("GlobalAveragePool", &["x"], &["y"], vec![]),
    );
    assert_eq!(
        (ops(&g), out_dims(&g, 0)),
        (vec![Op::GlobalAveragePool], vec![1, 2, 1, 1])
    );
    let g = one_node(
        11,
        &[1, 2, 5, 5],
        vec![],
        node("GlobalMaxPool", &["x"], &["y"], vec![]),
    );
    assert_eq!(out_dims(&g, 0), [1, 2, 1, 1]);
}

/// PyTorch's `x.view(x.size(0), -1)`: Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
#[test]
fn pytorch_flatten_shape_chain_folds_to_one_reshape() {
    let m = model(
        11,
        vec![input("x", &[1, 4, 2, 2])],
        &["y"],
        vec![ti64("zero", &[], vec![0]), ti64("minus1", &[1], vec![-1])],
        vec![
            node("Shape", &["x"], &["shp"], vec![]),
            node("Gather", &["shp", "zero"], &["n"], vec![a_int("axis", 0)]),
            node("Unsqueeze", &["n"], &["n1"], vec![a_ints("axes", &[0])]),
            node(
                "Concat",
                &["n1", "minus1"],
                &["target"],
                vec![a_int("axis", 0)],
            ),
            node("Reshape", &["x", "target"], &["y"], vec![]),
        ],
    );
    let g = ok(&m);
    assert_eq!(ops(&g), [Op::Reshape]);
    assert_eq!(out_dims(&g, 0), [1, 16]);
    assert_eq!(
        g.node_count(),
        2,
        "the folded shape chain leaves no nodes behind"
    );
}

/// Shape `[2, -1]` built from ConstantOfShape, Mul, Range, Equal, Where, Slice, Cast,
/// Expand and Concat as exporters emit them: all of it folds away.
#[test]
fn constant_evaluator_chains() {
    let m = model(
        13,
        vec![input("x", &[2, 6])],
        &["y"],
        vec![
            ti64("one", &[1], vec![1]),
            ti64("two", &[], vec![2]),
            ti64("two1", &[1], vec![2]),
            ti64("m1", &[1], vec![-1]),
            ti64("s0", &[], vec![0]),
            ti64("s1", &[], vec![1]),
            ti64("s3", &[], vec![3]),
        ],
        vec![
            node(
                "ConstantOfShape",
                &["one"],
                &["ones"],
                vec![a_tensor("value", ti64("", &[1], vec![1]))],
            ),
            node("Mul", &["ones", "two"], &["d0"], vec![]),
            node("Range", &["s0", "s3", "s1"], &["r"], vec![]),
            node("Equal", &["r", "s1"], &["is1"], vec![]),
            node("Where", &["is1", "s3", "s0"], &["w"], vec![]),
            node("Slice", &["w", "one", "two1"], &["w1"], vec![]),
            node("Cast", &["w1"], &["w1f"], vec![a_int("to", 1)]),
            node("Expand", &["m1", "one"], &["m1e"], vec![]),
            node(
                "Concat",
                &["d0", "m1e"],
                &["target"],
                vec![a_int("axis", 0)],
            ),
            node("Reshape", &["x", "target"], &["y"], vec![]),
        ],
    );
    let g = ok(&m);
    assert_eq!(ops(&g), [Op::Reshape]);
    assert_eq!(out_dims(&g, 0), [2, 6]);
    assert_eq!(g.node_count(), 2);
}

#[test]
fn constant_nodes_and_weight_transpose_fold() {
    let m = model(
        13,
        vec![input("x", &[2, 3])],
        &["y"],
        vec![tf32_seq("w", &[4, 3])],
        vec![
            node("Transpose", &["w"], &["wt"], vec![]),
            node("Constant", &[], &["k"], vec![a_float("value_float", 2.0)]),
            node("Mul", &["wt", "k"], &["wt2"], vec![]),
            node("MatMul", &["x", "wt2"], &["y"], vec![]),
        ],
    );
    let g = ok(&m);
    assert_eq!(ops(&g), [Op::MatMul]);
    let w = g
        .value_ids()
        .find_map(|v| g.const_value(v).cloned())
        .unwrap();
    assert_eq!(w.shape.0, [3, 4]);
    let v = w.as_f32().unwrap();
    assert!((v[1] - 0.8).abs() < 1e-6, "{v:?}"); // wt[0][1] = w[1][0] = 0.4, times 2
    let m = model(
        13,
        vec![input("x", &[2])],
        &["y"],
        vec![],
        vec![
            node(
                "Constant",
                &[],
                &["c"],
                vec![a_floats("value_floats", &[1.0, 2.0])],
            ),
            node("Add", &["x", "c"], &["y"], vec![]),
        ],
    );
    assert_eq!(ops(&ok(&m)), [Op::Add]);
}

#[test]
fn runtime_gather_becomes_slices() {
    let g = one_node(
        13,
        &[2, 5, 3],
        vec![ti64("i", &[], vec![-1])],
        node("Gather", &["x", "i"], &["y"], vec![a_int("axis", 1)]),
    );
    assert_eq!(
        ops(&g),
        [
            Op::Slice(SliceAttrs {
                starts: vec![0, 4, 0],
                steps: vec![1, 1, 1]
            }),
            Op::Reshape
        ]
    );
    assert_eq!(out_dims(&g, 0), [2, 3]);
    let g = one_node(
        13,
        &[2, 5],
        vec![ti64("i", &[2], vec![3, 0])],
        node("Gather", &["x", "i"], &["y"], vec![a_int("axis", 1)]),
    );
    let got = ops(&g);
    assert_eq!(got.len(), 3, "{got:?}"); // two slices and a concat; the reshape is a no-op
    assert!(matches!(got[2], Op::Concat(ConcatAttrs { axis: 1 })));
    assert_eq!(out_dims(&g, 0), [2, 2]);
}

#[test]
fn runtime_expand_adds_zeros_and_dropout_mask_is_constant() {
    let g = one_node(
        13,
        &[3, 1],
        vec![ti64("s", &[3], vec![2, 1, 4])],
        node("Expand", &["x", "s"], &["y"], vec![]),
    );
    assert_eq!((ops(&g), out_dims(&g, 0)), (vec![Op::Add], vec![2, 3, 4]));
    let m = model(
        13,
        vec![input("x", &[2, 2])],
        &["y", "mask"],
        vec![],
        vec![node("Dropout", &["x"], &["y", "mask"], vec![])],
    );
    let g = ok(&m);
    let mask = g.const_value(g.outputs[1]).expect("mask is a constant");
    assert_eq!(mask.data, TensorData::U8(vec![1; 4]));
}

#[test]
fn resize_axes_keep_their_order_and_clip_bounds_normalize() {
    let inits = vec![ti64("sz", &[2], vec![7, 8])];
    let n = node(
        "Resize",
        &["x", "", "", "sz"],
        &["y"],
        vec![a_ints("axes", &[3, 2])],
    );
    let g = one_node(19, &[1, 1, 2, 2], inits, n);
    assert_eq!(out_dims(&g, 0), [1, 1, 8, 7]);
    let inits = vec![tf32("lo", &[], vec![2.0]), tf32("hi", &[], vec![1.0])];
    let g = one_node(
        13,
        &[3],
        inits,
        node("Clip", &["x", "lo", "hi"], &["y"], vec![]),
    );
    assert_eq!(ops(&g), [Op::Clip(ClipAttrs { min: 1.0, max: 1.0 })]);
}

#[test]
fn variadic_sum_is_a_chain_of_adds() {
    let m = model(
        9,
        vec![input("a", &[2, 3]), input("b", &[3]), input("c", &[2, 1])],
        &["y"],
        vec![],
        vec![node("Sum", &["a", "b", "c"], &["y"], vec![])],
    );
    let g = ok(&m);
    assert_eq!(
        (ops(&g), out_dims(&g, 0)),
        (vec![Op::Add, Op::Add], vec![2, 3])
    );
}
