//! Hand-checked goldens per integer op (ties in both rounding modes, saturation, zero
//! points, per-channel parameters), ConvInt against a float conv of dequantized values, and
//! whole integer graphs.

#![allow(clippy::cloned_ref_to_slice_refs)]

use super::super::{InterpError, eval_node_float};
use super::*;
use crate::arith::RoundingMode::{self, HalfAwayFromZero, HalfUp};
use crate::arith::quantize_multiplier;
use crate::ops::*;
use crate::tensor::TensorData;
use crate::text::parse;
use crate::types::{DType, QuantParams, Shape};

fn qt(dtype: DType, shape: &[usize], scale: f32, zp: i32) -> TensorType {
    TensorType {
        quant: Some(QuantParams::per_tensor(dtype, scale, zp)),
        ..TensorType::new(dtype, shape.to_vec())
    }
}

fn ints(dtype: DType, shape: &[usize], v: &[i32]) -> Tensor {
    super::super::qdq::int_tensor("test", &TensorType::new(dtype, shape.to_vec()), v.to_vec())
        .unwrap()
}

fn qm(real: f64) -> crate::arith::QuantizedMultiplier {
    quantize_multiplier(real).unwrap()
}

/// Evaluates one integer op.
fn ev(op: &Op, args: &[Tensor], ins: &[TensorType], out: TensorType) -> InterpResult<Vec<i32>> {
    let cows: Vec<Cow<'_, Tensor>> = args.iter().map(Cow::Borrowed).collect();
    let refs: Vec<&TensorType> = ins.iter().collect();
    let y = eval(op, &cows, &refs, &[out])?;
    super::super::qdq::int_values("test", &y[0])
}

fn requant_op(m: &[f64], axis: usize, rounding: RoundingMode, lo: i32, hi: i32) -> Op {
    Op::Requant(RequantAttrs {
        multipliers: m.iter().map(|&r| qm(r)).collect(),
        axis,
        rounding,
        lo,
        hi,
    })
}

#[test]
fn requant_ties_in_both_modes() {
    let acc = ints(DType::I32, &[6], &[6, -6, -2, 2, -10, 10]);
    let ty = TensorType::new(DType::I32, vec![6]);
    let out = TensorType::new(DType::I32, vec![6]);
    for (mode, want) in [
        (HalfUp, [2, -1, 0, 1, -2, 3]),
        (HalfAwayFromZero, [2, -2, -1, 1, -3, 3]),
    ] {
        let op = requant_op(&[0.25], 0, mode, i32::MIN, i32::MAX);
        assert_eq!(
            ev(&op, &[acc.clone()], &[ty.clone()], out.clone()).unwrap(),
            want
        );
    }
}

#[test]
fn requant_zero_points_saturation_and_relu_clamp() {
    let acc = ints(DType::I32, &[4], &[-6, 1000, -1000, 40]);
    let ty = TensorType::new(DType::I32, vec![4]);
    let out = qt(DType::U8, &[4], 0.1, 128);
    let up = requant_op(&[0.25], 0, HalfUp, 0, 255);
    assert_eq!(
        ev(&up, &[acc.clone()], &[ty.clone()], out.clone()).unwrap(),
        [127, 255, 0, 138]
    );
    let away = requant_op(&[0.25], 0, HalfAwayFromZero, 0, 255);
    assert_eq!(
        ev(&away, &[acc.clone()], &[ty.clone()], out.clone()).unwrap(),
        [126, 255, 0, 138]
    );
    // A fused ReLU: lo is the output zero point.
    let relu = requant_op(&[0.25], 0, HalfUp, 128, 255);
    assert_eq!(ev(&relu, &[acc], &[ty], out).unwrap(), [128, 255, 128, 138]);
    // The input zero point is subtracted first (an i8 input with zp 3).
    let x = ints(DType::I8, &[2], &[7, -1]);
    let op = requant_op(&[0.5], 0, HalfUp, -128, 127);
    let got = ev(
        &op,
        &[x],
        &[qt(DType::I8, &[2], 1.0, 3)],
        qt(DType::I8, &[2], 2.0, -1),
    );
    assert_eq!(got.unwrap(), [1, -3]);
}

#[test]
fn requant_per_channel() {
    let acc = ints(DType::I32, &[1, 2, 2], &[4, 6, 4, 6]);
    let ty = TensorType::new(DType::I32, vec![1, 2, 2]);
    let op = requant_op(&[0.5, 0.25], 1, HalfUp, -128, 127);
    let got = ev(
        &op,
        &[acc],
        &[ty],
        TensorType::new(DType::I8, vec![1, 2, 2]),
    );
    assert_eq!(got.unwrap(), [2, 3, 1, 2]);
}

#[test]
fn add_int_follows_tflite_with_ties() {
    // s_a = s_b = 0.1, s_y = 0.2, all zero points 128: ma = mb = 0.5, mo = 2^-20.
    let a = ints(DType::U8, &[2, 2], &[130, 128, 127, 131]);
    let b = ints(DType::U8, &[2, 2], &[131, 128, 128, 130]);
    let t = qt(DType::U8, &[2, 2], 0.1, 128);
    for (mode, want) in [
        (HalfUp, [131, 128, 128, 131]),
        (HalfAwayFromZero, [131, 128, 127, 131]),
    ] {
        let op = Op::AddInt(AddIntAttrs {
            shift: 20,
            ma: qm(0.5),
            mb: qm(0.5),
            mo: qm(2f64.powi(-20)),
            rounding: mode,
            lo: 0,
            hi: 255,
        });
        let got = ev(
            &op,
            &[a.clone(), b.clone()],
            &[t.clone(), t.clone()],
            qt(DType::U8, &[2, 2], 0.2, 128),
        );
        assert_eq!(got.unwrap(), want, "{mode}");
    }
    // Broadcasting a [2] operand over [2, 2], with saturation at hi.
    let b2 = ints(DType::U8, &[2], &[255, 128]);
    let op = Op::AddInt(AddIntAttrs {
        shift: 20,
        ma: qm(0.5),
        mb: qm(0.5),
        mo: qm(2f64.powi(-20)),
        rounding: HalfUp,
        lo: 0,
        hi: 200,
    });
    let got = ev(
        &op,
        &[a, b2],
        &[t.clone(), qt(DType::U8, &[2], 0.1, 128)],
        qt(DType::U8, &[2, 2], 0.2, 128),
    );
    assert_eq!(got.unwrap(), [193, 128, 191, 130]);
}

#[test]
fn mul_int_with_zero_points_and_ties() {
    let a = ints(DType::I8, &[3], &[6, -6, 100]);
    let b = ints(DType::I8, &[3], &[2, 2, 101]);
    let ins = [qt(DType::I8, &[3], 1.0, 0), qt(DType::I8, &[3], 1.0, 1)];
    for (mode, want) in [(HalfUp, [2, -1, 127]), (HalfAwayFromZero, [2, -2, 127])] {
        let op = Op::MulInt(MulIntAttrs {
            m: qm(0.25),
            rounding: mode,
            lo: -128,
            hi: 127,
        });
        let got = ev(
            &op,
            &[a.clone(), b.clone()],
            &ins,
            qt(DType::I8, &[3], 1.0, 0),
        );
        assert_eq!(got.unwrap(), want);
    }
}

fn avg_op(
    kernel: [usize; 2],
    pads: [usize; 4],
    strides: [usize; 2],
    cip: bool,
    mode: RoundingMode,
) -> Op {
    Op::AvgPoolInt(AvgPoolIntAttrs {
        pool: AvgPoolAttrs {
            pool: PoolAttrs {
                kernel: kernel.to_vec(),
                strides: strides.to_vec(),
                pads: pads.to_vec(),
                dilations: vec![1, 1],
                ceil_mode: false,
            },
            count_include_pad: cip,
        },
        rounding: mode,
    })
}

#[test]
fn avg_pool_int_ties_and_padding() {
    // Windows [99 99; 100 100] (mean -0.5 around zp 100) and [101 101; 100 100] (+0.5).
    let x = ints(
        DType::U8,
        &[1, 1, 2, 4],
        &[99, 99, 101, 101, 100, 100, 100, 100],
    );
    let t = qt(DType::U8, &[1, 1, 2, 4], 0.1, 100);
    let out = qt(DType::U8, &[1, 1, 1, 2], 0.1, 100);
    let up = avg_op([2, 2], [0; 4], [2, 2], false, HalfUp);
    assert_eq!(
        ev(&up, &[x.clone()], &[t.clone()], out.clone()).unwrap(),
        [100, 101]
    );
    let away = avg_op([2, 2], [0; 4], [2, 2], false, HalfAwayFromZero);
    assert_eq!(ev(&away, &[x], &[t], out).unwrap(), [99, 101]);
    // Padding adds real zero; the divisor follows count_include_pad.
    let x = ints(DType::U8, &[1, 1, 1, 2], &[104, 100]);
    let t = qt(DType::U8, &[1, 1, 1, 2], 0.1, 100);
    let out = qt(DType::U8, &[1, 1, 1, 2], 0.1, 100);
    let excl = avg_op([1, 2], [0, 1, 0, 1], [1, 2], false, HalfUp);
    assert_eq!(
        ev(&excl, &[x.clone()], &[t.clone()], out.clone()).unwrap(),
        [104, 100]
    );
    let incl = avg_op([1, 2], [0, 1, 0, 1], [1, 2], true, HalfUp);
    assert_eq!(ev(&incl, &[x], &[t], out).unwrap(), [102, 100]);
}

#[test]
fn lut_per_tensor_and_per_channel() {
    let x = ints(DType::I8, &[3], &[-128, 0, 127]);
    let op = Op::Lut(LutAttrs {
        table: (0..256).map(|k| 2 * k).collect(),
        axis: None,
    });
    let got = ev(
        &op,
        &[x],
        &[TensorType::new(DType::I8, vec![3])],
        TensorType::new(DType::I16, vec![3]),
    );
    assert_eq!(got.unwrap(), [0, 256, 510]);
    let x = ints(DType::U8, &[1, 2, 1], &[5, 5]);
    let op = Op::Lut(LutAttrs {
        table: (0..256).chain((0..256).map(|k| 255 - k)).collect(),
        axis: Some(1),
    });
    let t = TensorType::new(DType::U8, vec![1, 2, 1]);
    assert_eq!(ev(&op, &[x], &[t.clone()], t).unwrap(), [5, 250]);
}

fn softmax_op(s_x: f64, rounding: RoundingMode) -> Op {
    Op::SoftmaxInt(SoftmaxIntAttrs {
        axis: 1,
        exp_table: (0..256)
            .map(|d| (65536.0 * (-s_x * f64::from(d)).exp()).round() as i32)
            .collect(),
        exp_bits: 16,
        rounding,
    })
}

#[test]
fn softmax_int_golden_and_against_float() {
    // Equal inputs: exactly 1/4 = 64/256.
    let x = ints(DType::U8, &[1, 4], &[7, 7, 7, 7]);
    let t = qt(DType::U8, &[1, 4], 0.1, 0);
    let out = qt(DType::U8, &[1, 4], 1.0 / 256.0, 0);
    assert_eq!(
        ev(&softmax_op(0.1, HalfUp), &[x], &[t], out.clone()).unwrap(),
        [64; 4]
    );
    // Against the float softmax of the dequantized input, within one unit.
    let vals: Vec<i32> = (0..24).map(|i| (i * 37 % 61) * 4).collect();
    let x = ints(DType::U8, &[2, 12], &vals);
    let t = qt(DType::U8, &[2, 12], 0.05, 0);
    let out = qt(DType::U8, &[2, 12], 1.0 / 256.0, 0);
    for mode in RoundingMode::ALL {
        let y = ev(
            &softmax_op(0.05, mode),
            &[x.clone()],
            &[t.clone()],
            out.clone(),
        )
        .unwrap();
        for row in 0..2 {
            let xs = &vals[row * 12..][..12];
            let mx = *xs.iter().max().unwrap();
            let e: Vec<f64> = xs
                .iter()
                .map(|&v| (-0.05 * f64::from(mx - v)).exp())
                .collect();
            let s: f64 = e.iter().sum();
            for j in 0..12 {
                let want = (e[j] / s * 256.0).round().min(255.0);
                let got = f64::from(y[row * 12 + j]);
                assert!((got - want).abs() <= 1.0, "{row},{j}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn resize_int_ties_in_both_modes() {
    let x = ints(DType::U8, &[1, 1, 2], &[10, 0]);
    let t = qt(DType::U8, &[1, 1, 2], 0.1, 10);
    let out = qt(DType::U8, &[1, 1, 4], 0.1, 10);
    for (mode, want) in [(HalfUp, [10, 8, 3, 0]), (HalfAwayFromZero, [10, 7, 2, 0])] {
        let op = Op::ResizeInt(ResizeIntAttrs {
            resize: ResizeAttrs {
                mode: ResizeMode::Linear,
                coord: CoordMode::HalfPixel,
                nearest: NearestMode::Floor,
                scales: vec![1.0, 1.0, 2.0],
            },
            frac_bits: 8,
            rounding: mode,
        });
        assert_eq!(
            ev(&op, &[x.clone()], &[t.clone()], out.clone()).unwrap(),
            want
        );
    }
}

#[test]
fn conv_int_padding_contributes_zero() {
    // Centered input [1, 2, 3, 4] (zp 2); a 3x3 box with padding 1 sees all four.
    let x = ints(DType::U8, &[1, 1, 2, 2], &[3, 4, 5, 6]);
    let w = ints(DType::I8, &[1, 1, 3, 3], &[1; 9]);
    let b = ints(DType::I32, &[1], &[5]);
    let op = Op::ConvInt(ConvIntAttrs {
        conv: ConvAttrs {
            strides: vec![1, 1],
            pads: vec![1, 1, 1, 1],
            dilations: vec![1, 1],
            group: 1,
        },
    });
    let ins = [
        qt(DType::U8, &[1, 1, 2, 2], 0.1, 2),
        qt(DType::I8, &[1, 1, 3, 3], 0.5, 0),
        TensorType::new(DType::I32, vec![1]),
    ];
    let got = ev(
        &op,
        &[x, w, b],
        &ins,
        TensorType::new(DType::I32, vec![1, 1, 2, 2]),
    );
    assert_eq!(got.unwrap(), [15; 4]);
}

#[test]
fn conv_transpose_int_scatters() {
    // x [1,1,1,2] = [1, 2] (zp 0), w [1,1,1,2] = [1, 3], stride 2: y = [1, 3, 2, 6].
    let x = ints(DType::I8, &[1, 1, 1, 2], &[1, 2]);
    let w = ints(DType::I8, &[1, 1, 1, 2], &[1, 3]);
    let op = Op::ConvTransposeInt(ConvTransposeIntAttrs {
        conv: ConvTransposeAttrs {
            strides: vec![1, 2],
            pads: vec![0, 0, 0, 0],
            dilations: vec![1, 1],
            group: 1,
            output_padding: vec![0, 0],
        },
    });
    let ins = [
        TensorType::new(DType::I8, vec![1, 1, 1, 2]),
        TensorType::new(DType::I8, vec![1, 1, 1, 2]),
    ];
    let got = ev(
        &op,
        &[x, w],
        &ins,
        TensorType::new(DType::I32, vec![1, 1, 1, 4]),
    );
    assert_eq!(got.unwrap(), [1, 3, 2, 6]);
}

#[test]
fn gemm_and_matmul_int() {
    let a = ints(DType::U8, &[1, 2], &[2, 3]);
    let b = ints(DType::I8, &[2, 2], &[1, 2, 3, 4]);
    let bias = ints(DType::I32, &[2], &[1, -1]);
    let ins = [
        qt(DType::U8, &[1, 2], 0.1, 1),
        qt(DType::I8, &[2, 2], 0.1, 0),
        TensorType::new(DType::I32, vec![2]),
    ];
    let out = TensorType::new(DType::I32, vec![1, 2]);
    for (trans_b, want) in [(false, [8, 9]), (true, [6, 10])] {
        let op = Op::GemmInt(GemmIntAttrs { trans_b });
        let got = ev(
            &op,
            &[a.clone(), b.clone(), bias.clone()],
            &ins,
            out.clone(),
        );
        assert_eq!(got.unwrap(), want);
    }
    // Batched with broadcasting: a [2,1,2] (zp 0) @ b [2,1] (zp 1).
    let a = ints(DType::U8, &[2, 1, 2], &[1, 2, 3, 4]);
    let b = ints(DType::U8, &[2, 1], &[1, 2]);
    let ins = [
        qt(DType::U8, &[2, 1, 2], 0.1, 0),
        qt(DType::U8, &[2, 1], 0.1, 1),
    ];
    let got = ev(
        &Op::MatMulInt,
        &[a, b],
        &ins,
        TensorType::new(DType::I32, vec![2, 1, 1]),
    );
    assert_eq!(got.unwrap(), [2, 4]);
}

#[test]
fn accumulator_overflow_is_an_error() {
    let a = ints(DType::I16, &[1, 2], &[32767, 32767]);
    let b = ints(DType::I8, &[2, 1], &[127, 127]);
    let bias = ints(DType::I32, &[1], &[i32::MAX]);
    let ins = [
        TensorType::new(DType::I16, vec![1, 2]),
        TensorType::new(DType::I8, vec![2, 1]),
        TensorType::new(DType::I32, vec![1]),
    ];
    let e = ev(
        &Op::GemmInt(GemmIntAttrs { trans_b: false }),
        &[a, b, bias],
        &ins,
        TensorType::new(DType::I32, vec![1, 1]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("overflows i32"), "{e}");
}

/// Deterministic pseudo-random integers in `lo..=hi`.
fn lcg(n: usize, seed: u64, lo: i32, hi: i32) -> Vec<i32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + ((s >> 33) % (hi - lo + 1) as u64) as i32
        })
        .collect()
}

#[test]
fn conv_int_matches_float_conv_of_dequantized_values_within_one_lsb() {
    let (s_x, zp_x) = (0.02f32, 120);
    let s_w = [0.004f32, 0.007, 0.011];
    let (s_y, zp_y) = (0.05f32, 100);
    let xq = lcg(2 * 6 * 6, 1, 0, 255);
    let wq = lcg(3 * 2 * 3 * 3, 2, -127, 127);
    let bq = lcg(3, 3, -2000, 2000);
    let conv = ConvAttrs {
        strides: vec![1, 1],
        pads: vec![1, 0, 1, 2],
        dilations: vec![1, 1],
        group: 1,
    };
    // Integer: ConvInt then per-channel Requant.
    let w_ty = TensorType {
        quant: Some(QuantParams {
            granularity: crate::types::QuantGranularity::PerAxis {
                axis: 0,
                scales: s_w.to_vec(),
                zero_points: vec![0; 3],
            },
            bits: 8,
            pow2: false,
        }),
        ..TensorType::new(DType::I8, vec![3, 2, 3, 3])
    };
    let ins = [
        qt(DType::U8, &[1, 2, 6, 6], s_x, zp_x),
        w_ty,
        TensorType::new(DType::I32, vec![3]),
    ];
    let args = [
        ints(DType::U8, &[1, 2, 6, 6], &xq),
        ints(DType::I8, &[3, 2, 3, 3], &wq),
        ints(DType::I32, &[3], &bq),
    ];
    let acc = ev(
        &Op::ConvInt(ConvIntAttrs { conv: conv.clone() }),
        &args,
        &ins,
        TensorType::new(DType::I32, vec![1, 3, 6, 6]),
    )
    .unwrap();
    let mults: Vec<f64> = s_w
        .iter()
        .map(|&s| f64::from(s_x) * f64::from(s) / f64::from(s_y))
        .collect();
    let out = qt(DType::U8, &[1, 3, 6, 6], s_y, zp_y);
    let y = ev(
        &requant_op(&mults, 1, HalfUp, 0, 255),
        &[ints(DType::I32, &[1, 3, 6, 6], &acc)],
        &[TensorType::new(DType::I32, vec![1, 3, 6, 6])],
        out,
    )
    .unwrap();
    // Float: conv of the dequantized values, then quantized.
    let xf: Vec<f32> = xq.iter().map(|&q| (q - zp_x) as f32 * s_x).collect();
    let wf: Vec<f32> = wq
        .iter()
        .enumerate()
        .map(|(i, &q)| q as f32 * s_w[i / 18])
        .collect();
    let bf: Vec<f32> = bq
        .iter()
        .enumerate()
        .map(|(m, &q)| q as f32 * s_x * s_w[m])
        .collect();
    let yf = eval_node_float(
        &Op::Conv(conv),
        &[
            &Tensor::from_f32(vec![1, 2, 6, 6], xf),
            &Tensor::from_f32(vec![3, 2, 3, 3], wf),
            &Tensor::from_f32(vec![3], bf),
        ],
        &[TensorType::f32(vec![1, 3, 6, 6])],
    )
    .unwrap();
    for (i, (&yi, &f)) in y.iter().zip(yf[0].as_f32().unwrap()).enumerate() {
        let want = (f64::from(f) / f64::from(s_y)).round() + f64::from(zp_y);
        let want = want.clamp(0.0, 255.0);
        assert!((f64::from(yi) - want).abs() <= 1.0, "{i}: {yi} vs {want}");
    }
}

const INT_GRAPH: &str = r#"graph "small" phase=integer
inputs(%x)
%x "x" = input : f32[1,1,4,4]
%q = quantize(%x) : u8[1,1,4,4]<0.0078125:128>
%w = const dense<[1, 2, 1, 0, -3, 0, -1, 2, -1, 4, 0, -4, 2, 2, 2, -1, 0, 1]> : i8[2,1,3,3]<axis=0, {0.05:0, 0.1:0}>
%b = const dense<[100, -50]> : i32[2]
%acc = conv_int(%q, %w, %b) {strides=[1,1], pads=[1,1,1,1], dilations=[1,1], group=1} : i32[1,2,4,4]<axis=1, {0.000390625:0, 0.00078125:0}>
%r = requant(%acc) {multipliers=[[1677721600,5],[1677721600,4]], axis=1, rounding=half-up, lo=0, hi=255} : u8[1,2,4,4]<0.01:0>
%m = max_pool(%r) {kernel=[2,2], strides=[2,2], pads=[0,0,0,0], dilations=[1,1], ceil_mode=false} : u8[1,2,2,2]<0.01:0>
%f = reshape(%m) : u8[1,8]<0.01:0>
%gw = const dense<[1, -2, 3, -4, 5, -6, 7, -8, 8, 7, 6, 5, 4, 3, 2, 1, -1, -1, -1, -1, 2, 2, 2, 2]> : i8[3,8]<0.05:0>
%gb = const dense<[10, -10, 0]> : i32[3]
%ga = gemm_int(%f, %gw, %gb) {trans_b=true} : i32[1,3]<0.0005:0>
%gr = requant(%ga) {multipliers=[[1073741824,6]], axis=0, rounding=half-away-from-zero, lo=-128, hi=127} : i8[1,3]<0.016:-3>
%y "y" = dequantize(%gr) : f32[1,3]
outputs(%y)
"#;

fn int_graph() -> crate::Graph {
    let g = parse(INT_GRAPH).unwrap();
    crate::verifier::verify(&g).unwrap();
    g
}

#[test]
fn whole_integer_graph_by_hand() {
    let g = int_graph();
    // x = k/64 - 1 for k = 0..16 step 4.
    let x = Tensor::from_f32(
        vec![1, 1, 4, 4],
        (0..16).map(|k| k as f32 * 0.125 - 1.0).collect(),
    );
    // Recompute every stage with the arith functions directly.
    let q: Vec<i32> = x
        .as_f32()
        .unwrap()
        .iter()
        .map(|&v| crate::arith::quantize(v, 128.0, 128, 0, 255))
        .collect();
    let w = [
        [1, 2, 1, 0, -3, 0, -1, 2, -1],
        [4, 0, -4, 2, 2, 2, -1, 0, 1],
    ];
    let mults = [
        crate::arith::QuantizedMultiplier {
            m0: 1677721600,
            shift: 5,
        },
        crate::arith::QuantizedMultiplier {
            m0: 1677721600,
            shift: 4,
        },
    ];
    let mut r = [0i32; 32];
    for m in 0..2 {
        for oy in 0..4i32 {
            for ox in 0..4i32 {
                let mut acc = [100, -50][m];
                for ky in 0..3i32 {
                    for kx in 0..3i32 {
                        let (iy, ix) = (oy + ky - 1, ox + kx - 1);
                        if (0..4).contains(&iy) && (0..4).contains(&ix) {
                            acc += (q[(iy * 4 + ix) as usize] - 128) * w[m][(ky * 3 + kx) as usize];
                        }
                    }
                }
                r[m * 16 + (oy * 4 + ox) as usize] =
                    crate::arith::requantize(acc, mults[m], 0, 0, 255, HalfUp);
            }
        }
    }
    let mut f = vec![];
    for m in 0..2 {
        for py in 0..2 {
            for px in 0..2 {
                let at = |y: usize, x: usize| r[m * 16 + y * 4 + x];
                let (y0, x0) = (2 * py, 2 * px);
                f.push(
                    at(y0, x0)
                        .max(at(y0, x0 + 1))
                        .max(at(y0 + 1, x0))
                        .max(at(y0 + 1, x0 + 1)),
                );
            }
        }
    }
    let gw: [i32; 24] = [
        1, -2, 3, -4, 5, -6, 7, -8, 8, 7, 6, 5, 4, 3, 2, 1, -1, -1, -1, -1, 2, 2, 2, 2,
    ];
    let want: Vec<f32> = (0..3)
        .map(|n| {
            let acc = [10, -10, 0][n] + (0..8).map(|k| f[k] * gw[n * 8 + k]).sum::<i32>();
            let m = crate::arith::QuantizedMultiplier {
                m0: 1 << 30,
                shift: 6,
            };
            let yq = crate::arith::requantize(acc, m, -3, -128, 127, HalfAwayFromZero);
            crate::arith::dequantize(yq, 0.016, -3)
        })
        .collect();
    let got = run_int(&g, std::slice::from_ref(&x)).unwrap();
    assert_eq!(got[0].as_f32().unwrap(), want.as_slice());
    assert!(want.iter().any(|&v| v != 0.0), "{want:?}");
    // Batches equal single runs; observation sees every computed value once.
    let x2 = Tensor::from_f32(
        vec![1, 1, 4, 4],
        (0..16).map(|k| 0.9 - k as f32 * 0.1).collect(),
    );
    let batch = run_int_batch(&g, &[vec![x.clone()], vec![x2.clone()]]).unwrap();
    assert_eq!(batch[0], got);
    assert_eq!(batch[1], run_int(&g, &[x2]).unwrap());
    let mut seen = 0;
    run_int_observed(&g, &[x], &mut |_, _| seen += 1).unwrap();
    assert_eq!(seen, g.node_count());
}

#[test]
fn interpreters_reject_the_other_kind_of_op() {
    let g = int_graph();
    let x = Tensor::from_f32(vec![1, 1, 4, 4], vec![0.0; 16]);
    let e = super::super::run_float(&g, std::slice::from_ref(&x)).unwrap_err();
    let InterpError::Node { source, .. } = e else {
        panic!("{e}")
    };
    assert_eq!(
        *source,
        InterpError::NeedsIntegerInterpreter { op: "conv_int" }
    );
    let f = parse(
        r#"graph "f" phase=float
        inputs(%x)
        %x = input : f32[2]
        %y = relu(%x) : f32[2]
        outputs(%y)"#,
    )
    .unwrap();
    let e = run_int(&f, &[Tensor::from_f32(vec![2], vec![1.0, -1.0])]).unwrap_err();
    assert!(
        e.to_string()
            .contains("float op `relu` cannot run in the integer interpreter"),
        "{e}"
    );
    // Data: wrong storage is reported, not a panic.
    let bad = Tensor {
        dtype: DType::U8,
        shape: Shape(vec![2]),
        data: TensorData::U8(vec![1]),
    };
    assert!(run_int(&g, &[bad]).is_err());
}

/// 16-bit activations times 4-bit weights, requantized to packed u4 (held unpacked in a u8
/// vector by the interpreter), a u4 max pool, then a pow2 requantize (m0 = 2^30) back to i16:
/// every stage recomputed with the arith functions.
#[test]
fn sixteen_bit_and_four_bit_formats_by_hand() {
    let g = parse(
        r#"graph "formats" phase=integer
inputs(%x)
%x "x" = input : f32[1,1,2,2]
%q = quantize(%x) : i16[1,1,2,2]<0.0001:0>
%w = const dense<[7, -8, 3, 1]> : i4[2,1,1,2]<4 bits, axis=0, {0.05:0, 0.1:0}>
%acc = conv_int(%q, %w) {strides=[1,1], pads=[0,0,0,0], dilations=[1,1], group=1} : i32[1,2,2,1]<axis=1, {0.000005:0, 0.00001:0}>
%r = requant(%acc) {multipliers=[[1717986918,12],[1717986918,11]], axis=1, rounding=half-up, lo=0, hi=15} : u4[1,2,2,1]<0.1:3>
%m = max_pool(%r) {kernel=[2,1], strides=[1,1], pads=[0,0,0,0], dilations=[1,1], ceil_mode=false} : u4[1,2,1,1]<0.1:3>
%p = requant(%m) {multipliers=[[1073741824,2]], axis=0, rounding=half-up, lo=-32768, hi=32767} : i16[1,2,1,1]<0.8:0>
%y "y" = dequantize(%p) : f32[1,2,1,1]
outputs(%y)
"#,
    )
    .unwrap();
    crate::verifier::verify(&g).unwrap();
    let xs = [0.5f32, -0.3, 0.1, 3.3];
    let x = Tensor::from_f32(vec![1, 1, 2, 2], xs.to_vec());
    let q: Vec<i32> = xs
        .iter()
        .map(|&v| crate::arith::quantize(v, crate::arith::reciprocal(0.0001), 0, -32768, 32767))
        .collect();
    assert_eq!(q[3], 32767);
    let w = [[7, -8], [3, 1]];
    let mq = |shift| crate::arith::QuantizedMultiplier {
        m0: 1717986918,
        shift,
    };
    let m = [mq(12), mq(11)];
    let mut r = [[0i32; 2]; 2];
    for (c, row) in r.iter_mut().enumerate() {
        for (oy, v) in row.iter_mut().enumerate() {
            let acc = q[oy * 2] * w[c][0] + q[oy * 2 + 1] * w[c][1];
            *v = crate::arith::requantize(acc, m[c], 3, 0, 15, HalfUp);
        }
    }
    let want: Vec<f32> = r
        .iter()
        .map(|row| {
            let mx = row[0].max(row[1]);
            let y = crate::arith::requantize_pow2(mx - 3, 3, 0, -32768, 32767, HalfUp);
            crate::arith::dequantize(y, 0.8, 0)
        })
        .collect();
    let got = run_int(&g, &[x]).unwrap();
    assert_eq!(got[0].as_f32().unwrap(), want.as_slice());
    assert!(
        r.iter().flatten().any(|&v| v != 3 && v != 0 && v != 15),
        "{r:?}"
    );
}
