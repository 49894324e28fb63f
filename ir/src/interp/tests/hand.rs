//! Hand-checkable cases and error cases.

use super::*;

fn t(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_f32(shape.to_vec(), v.to_vec())
}

fn conv_attrs(strides: Vec<usize>, pads: Vec<usize>, group: usize) -> ConvAttrs {
    ConvAttrs {
        dilations: vec![1; strides.len()],
        strides,
        pads,
        group,
    }
}

#[test]
fn conv_pointwise_scale_and_bias() {
    // y = 2x + 1.
    let x = t(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let w = t(&[1, 1, 1, 1], &[2.0]);
    let b = t(&[1], &[1.0]);
    let op = Op::Conv(conv_attrs(vec![1, 1], vec![0, 0, 0, 0], 1));
    check(op, &[x, w, b], &[&[1, 1, 2, 2]], &[&[3.0, 5.0, 7.0, 9.0]]);
}

#[test]
fn conv_box_filter_with_padding() {
    // A 3x3 box of ones over a 2x2 input of ones padded by 1: every output sees all 4 ones.
    let x = t(&[1, 1, 2, 2], &[1.0; 4]);
    let w = t(&[1, 1, 3, 3], &[1.0; 9]);
    let op = Op::Conv(conv_attrs(vec![1, 1], vec![1, 1, 1, 1], 1));
    check(op, &[x, w], &[&[1, 1, 2, 2]], &[&[4.0; 4]]);
}

#[test]
fn conv_transpose_scatters_with_stride() {
    // 1-d: x = [1, 2], w = [1, 10], stride 2: full output [1, 10, 2, 20], plus output
    // padding 1 gives a trailing 0.
    let x = t(&[1, 1, 2], &[1.0, 2.0]);
    let w = t(&[1, 1, 2], &[1.0, 10.0]);
    let op = Op::ConvTranspose(ConvTransposeAttrs {
        strides: vec![2],
        pads: vec![0, 0],
        dilations: vec![1],
        group: 1,
        output_padding: vec![1],
    });
    check(op, &[x, w], &[&[1, 1, 5]], &[&[1.0, 10.0, 2.0, 20.0, 0.0]]);
}

#[test]
fn average_pool_divisors() {
    // Ones 3x3, 2x2 windows, stride 2, pad 1: windows cover rows/cols {-1,0} and {1,2}.
    // Including pad, the corner window holds 1 real element of 4; excluding pad, the mean
    // of real elements is 1.
    let x = t(&[1, 1, 3, 3], &[1.0; 9]);
    let pool = PoolAttrs {
        kernel: vec![2, 2],
        strides: vec![2, 2],
        pads: vec![1, 1, 1, 1],
        dilations: vec![1, 1],
        ceil_mode: false,
    };
    let inc = Op::AveragePool(AvgPoolAttrs {
        pool: pool.clone(),
        count_include_pad: true,
    });
    check(
        inc,
        std::slice::from_ref(&x),
        &[&[1, 1, 2, 2]],
        &[&[0.25, 0.5, 0.5, 1.0]],
    );
    let exc = Op::AveragePool(AvgPoolAttrs {
        pool,
        count_include_pad: false,
    });
    check(exc, &[x], &[&[1, 1, 2, 2]], &[&[1.0; 4]]);
}

#[test]
fn max_pool_padding_never_wins() {
    let x = t(&[1, 1, 1, 3], &[-3.0, -2.0, -1.0]);
    let op = Op::MaxPool(PoolAttrs {
        kernel: vec![1, 2],
        strides: vec![1, 2],
        pads: vec![0, 1, 0, 0],
        dilations: vec![1, 1],
        ceil_mode: false,
    });
    check(op, &[x], &[&[1, 1, 1, 2]], &[&[-3.0, -1.0]]);
}

#[test]
fn slice_negative_step() {
    let x = t(&[5], &[0.0, 1.0, 2.0, 3.0, 4.0]);
    let op = Op::Slice(SliceAttrs {
        starts: vec![4],
        steps: vec![-2],
    });
    check(op, &[x], &[&[3]], &[&[4.0, 2.0, 0.0]]);
}

#[test]
fn pad_reflect_and_edge_1d() {
    let x = t(&[3], &[1.0, 2.0, 3.0]);
    let reflect = Op::Pad(PadAttrs {
        pads: vec![2, 2],
        mode: PadMode::Reflect,
        value: 0.0,
    });
    check(
        reflect,
        std::slice::from_ref(&x),
        &[&[7]],
        &[&[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]],
    );
    let edge = Op::Pad(PadAttrs {
        pads: vec![1, -1],
        mode: PadMode::Edge,
        value: 0.0,
    });
    check(edge, &[x], &[&[3]], &[&[1.0, 1.0, 2.0]]);
}

#[test]
fn matmul_vector_dot() {
    let a = t(&[3], &[1.0, 2.0, 3.0]);
    let b = t(&[3], &[4.0, 5.0, 6.0]);
    check(Op::MatMul, &[a, b], &[&[]], &[&[32.0]]);
}

#[test]
fn softmax_is_stable_for_large_inputs() {
    let x = t(&[1, 2], &[1000.0, 1000.0]);
    check(
        Op::Softmax(SoftmaxAttrs { axis: 1 }),
        &[x],
        &[&[1, 2]],
        &[&[0.5, 0.5]],
    );
}

#[test]
fn resize_nearest_doubles() {
    let x = t(&[1, 1, 1, 2], &[1.0, 2.0]);
    let op = Op::Resize(ResizeAttrs {
        mode: ResizeMode::Nearest,
        coord: CoordMode::Asymmetric,
        nearest: NearestMode::Floor,
        scales: vec![1.0, 1.0, 1.0, 2.0],
    });
    check(op, &[x], &[&[1, 1, 1, 4]], &[&[1.0, 1.0, 2.0, 2.0]]);
}

#[test]
fn const_evaluates_to_its_value() {
    let v = t(&[2], &[1.0, -1.0]);
    let op = Op::Const(ConstAttrs { value: v.clone() });
    let got = eval_node_float(&op, &[], &[TensorType::f32(vec![2])]).unwrap();
    assert_eq!(got, vec![v]);
}

#[test]
fn error_conv_channel_mismatch() {
    let op = Op::Conv(conv_attrs(vec![1, 1], vec![0, 0, 0, 0], 1));
    let e = eval_err(
        op,
        &[seq(&[1, 3, 4, 4], 0), seq(&[2, 2, 1, 1], 1)],
        &[&[1, 2, 4, 4]],
    );
    assert!(e.to_string().contains("group 1 does not fit"), "{e}");
}

#[test]
fn error_conv_wrong_result_shape() {
    let op = Op::Conv(conv_attrs(vec![1, 1], vec![0, 0, 0, 0], 1));
    let e = eval_err(
        op,
        &[seq(&[1, 1, 4, 4], 0), seq(&[1, 1, 3, 3], 1)],
        &[&[1, 1, 4, 4]],
    );
    assert!(
        e.to_string()
            .contains("does not match the computed [1, 1, 2, 2]"),
        "{e}"
    );
}

#[test]
fn error_add_incompatible_shapes() {
    let e = eval_err(Op::Add, &[seq(&[2, 3], 0), seq(&[4], 1)], &[&[2, 3]]);
    assert!(e.to_string().contains("do not broadcast"), "{e}");
}

#[test]
fn error_wrong_operand_count() {
    let e = eval_err(Op::Relu, &[seq(&[2], 0), seq(&[2], 1)], &[&[2]]);
    assert!(matches!(e, InterpError::Arity { op: "relu", .. }), "{e}");
}

#[test]
fn error_integer_operand() {
    let x = Tensor::zeros(crate::DType::I32, vec![2]);
    let e = eval_err(Op::Relu, &[x], &[&[2]]);
    assert_eq!(
        e.to_string(),
        "relu: element type i32 is not supported by the float interpreter"
    );
}

#[test]
fn error_input_op_alone() {
    let e = eval_err(Op::Input, &[], &[&[2]]);
    assert_eq!(e, InterpError::EvalInput);
}

#[test]
fn error_slice_out_of_range() {
    let op = Op::Slice(SliceAttrs {
        starts: vec![3],
        steps: vec![1],
    });
    let e = eval_err(op, &[seq(&[4], 0)], &[&[2]]);
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn error_pool_result_shape() {
    let op = Op::MaxPool(PoolAttrs {
        kernel: vec![2, 2],
        strides: vec![2, 2],
        pads: vec![0, 0, 0, 0],
        dilations: vec![1, 1],
        ceil_mode: false,
    });
    let e = eval_err(op, &[seq(&[1, 1, 5, 5], 0)], &[&[1, 1, 3, 3]]);
    assert!(e.to_string().contains("pooled size"), "{e}");
}

#[test]
fn error_bad_attribute_lengths() {
    let op = Op::Conv(ConvAttrs {
        strides: vec![1],
        pads: vec![0, 0, 0, 0],
        dilations: vec![1, 1],
        group: 1,
    });
    let e = eval_err(
        op,
        &[seq(&[1, 1, 3, 3], 0), seq(&[1, 1, 1, 1], 1)],
        &[&[1, 1, 3, 3]],
    );
    assert!(e.to_string().contains("need 2 strides"), "{e}");
}

#[test]
fn error_zero_group() {
    let op = Op::Conv(conv_attrs(vec![1, 1], vec![0, 0, 0, 0], 0));
    let e = eval_err(
        op,
        &[seq(&[1, 1, 3, 3], 0), seq(&[1, 1, 1, 1], 1)],
        &[&[1, 1, 3, 3]],
    );
    assert!(e.to_string().contains("group 0"), "{e}");
}
