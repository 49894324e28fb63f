//! Quantize/Dequantize and data movement on integer tensors in the float interpreter.

use super::*;
use crate::TensorData;
use crate::interp::eval_node_typed;
use crate::text::parse;
use crate::types::{DType, QuantGranularity, QuantParams};

fn qt(dtype: DType, shape: &[usize], scale: f32, zp: i32) -> TensorType {
    TensorType {
        quant: Some(QuantParams::per_tensor(dtype, scale, zp)),
        ..TensorType::new(dtype, shape.to_vec())
    }
}

fn u8t(shape: &[usize], v: &[u8]) -> Tensor {
    Tensor {
        dtype: DType::U8,
        shape: Shape(shape.to_vec()),
        data: TensorData::U8(v.to_vec()),
    }
}

#[test]
fn quantize_rounds_half_even_and_saturates() {
    // scale 0.5: x / s = 2x; ties at x = k/4.
    let x = Tensor::from_f32(
        vec![8],
        vec![0.25, 0.75, -0.25, -0.75, 100.0, -100.0, 1.0, f32::NAN],
    );
    let out = qt(DType::I8, &[8], 0.5, 3);
    let y = eval_node_float(&Op::Quantize, &[&x], &[out]).unwrap();
    // 0.5 -> 0, 1.5 -> 2, -0.5 -> -0, -1.5 -> -2, then + 3 and clamp.
    assert_eq!(y[0].data, TensorData::I8(vec![3, 5, 3, 1, 127, -128, 5, 3]));
}

#[test]
fn quantize_per_axis_and_narrow_bits() {
    let x = Tensor::from_f32(vec![2, 2], vec![1.0, 100.0, 1.0, -100.0]);
    let out = TensorType {
        quant: Some(QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis: 0,
                scales: vec![0.5, 0.25],
                zero_points: vec![0, 1],
            },
            bits: 4,
            pow2: true,
        }),
        ..TensorType::new(DType::I8, vec![2, 2])
    };
    let y = eval_node_float(&Op::Quantize, &[&x], &[out]).unwrap();
    assert_eq!(y[0].data, TensorData::I8(vec![2, 7, 5, -8]));
}

#[test]
fn dequantize_uses_the_operand_type() {
    let q = u8t(&[3], &[0, 128, 255]);
    let ty = qt(DType::U8, &[3], 0.5, 128);
    let y = eval_node_typed(&Op::Dequantize, &[&q], &[&ty], &[TensorType::f32(vec![3])]).unwrap();
    assert_eq!(y[0].as_f32().unwrap(), &[-64.0, 0.0, 63.5]);
    // Without the operand's parameters (eval_node_float) it is an error, not a panic.
    let e = eval_node_float(&Op::Dequantize, &[&q], &[TensorType::f32(vec![3])]).unwrap_err();
    assert!(e.to_string().contains("no quantization parameters"), "{e}");
}

#[test]
fn integer_ops_need_the_integer_interpreter() {
    let x = u8t(&[2], &[1, 2]);
    let op = Op::MatMulInt;
    let e = eval_node_float(&op, &[&x, &x], &[TensorType::new(DType::I32, vec![])]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "integer op `matmul_int` needs the integer interpreter"
    );
}

#[test]
fn fake_quantized_graph_runs_in_the_float_interpreter() {
    let g = parse(
        r#"graph "qdq" phase=qdq
        inputs(%x)
        %x = input : f32[1,2,2]
        %q = quantize(%x) : u8[1,2,2]<0.5:10>
        %t = transpose(%q) {perm=[0,2,1]} : u8[1,2,2]<0.5:10>
        %p = pad(%t) {pads=[0,0,1,0,0,0], mode=constant, value=10.0} : u8[1,2,3]<0.5:10>
        %m = max_pool(%p) {kernel=[2], strides=[1], pads=[0,0], dilations=[1], ceil_mode=false} : u8[1,2,2]<0.5:10>
        %c = concat(%m, %q) {axis=1} : u8[1,4,2]<0.5:10>
        %s0, %s1 = split(%c) {axis=1, sizes=[1,3]} : u8[1,1,2]<0.5:10>, u8[1,3,2]<0.5:10>
        %r = reshape(%s1) : u8[6]<0.5:10>
        %l = slice(%r) {starts=[5], steps=[-2]} : u8[3]<0.5:10>
        %n = resize(%l) {mode=nearest, coord=asymmetric, nearest=floor, scales=[2.0]} : u8[6]<0.5:10>
        %y = dequantize(%n) : f32[6]
        outputs(%y)
        "#,
    )
    .unwrap();
    crate::verifier::verify(&g).unwrap();
    let x = Tensor::from_f32(vec![1, 2, 2], vec![1.0, 2.0, -1.0, 3.0]);
    // q = [12, 14, 8, 16]; t = [[12, 8], [14, 16]]; p = [[10, 12, 8], [10, 14, 16]];
    // m = [[12, 12], [14, 16]]; c rows: [12,12], [14,16], [12,14], [8,16];
    // s1 = [14,16,12,14,8,16]; l = [16, 14, 16]; n = [16,16,14,14,16,16].
    let y = run_float(&g, &[x]).unwrap();
    assert_eq!(y[0].as_f32().unwrap(), &[3.0, 3.0, 2.0, 2.0, 3.0, 3.0]);
}

#[test]
fn integer_data_movement_checks_its_types() {
    let x = u8t(&[2], &[1, 2]);
    // Result type of another element type.
    let e =
        eval_node_float(&Op::Reshape, &[&x], &[TensorType::new(DType::I8, vec![2])]).unwrap_err();
    assert!(
        e.to_string().contains("differs from the operand type"),
        "{e}"
    );
    // A fractional pad value on integers.
    let op = Op::Pad(PadAttrs {
        pads: vec![1, 0],
        mode: PadMode::Constant,
        value: 0.5,
    });
    let e = eval_node_float(&op, &[&x], &[TensorType::new(DType::U8, vec![3])]).unwrap_err();
    assert!(e.to_string().contains("not an integer"), "{e}");
    // Linear resize of integers.
    let op = Op::Resize(ResizeAttrs {
        mode: ResizeMode::Linear,
        coord: CoordMode::HalfPixel,
        nearest: NearestMode::Floor,
        scales: vec![2.0],
    });
    let e = eval_node_float(&op, &[&x], &[TensorType::new(DType::U8, vec![4])]).unwrap_err();
    assert!(e.to_string().contains("resize_int"), "{e}");
}

#[test]
fn i32_data_movement_is_exact_beyond_f32() {
    let big = Tensor {
        dtype: DType::I32,
        shape: Shape(vec![2]),
        data: TensorData::I32(vec![i32::MAX, -16_777_217]),
    };
    let op = Op::Transpose(TransposeAttrs { perm: vec![0] });
    let y = eval_node_float(&op, &[&big], &[TensorType::new(DType::I32, vec![2])]).unwrap();
    assert_eq!(y[0], big);
}
