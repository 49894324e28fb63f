//! Tests of the text form: the round-trip law on random graphs covering every op, parse
//! errors with spans, robustness against garbage, and file snapshots of printed graphs.

use super::*;
use crate::ops::*;
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, QuantGranularity, QuantParams, Shape, TensorType};
use crate::{Graph, Phase};
use proptest::prelude::*;
use proptest::strategy::Union;

/// Position of `op`'s variant in [`Op`]; the exhaustive match makes a new op a build error
/// here, so the strategy below and [`all_ops_graph`] get extended with it.
fn variant_index(op: &Op) -> usize {
    match op {
        Op::Input => 0,
        Op::Const(_) => 1,
        Op::Conv(_) => 2,
        Op::ConvTranspose(_) => 3,
        Op::Gemm(_) => 4,
        Op::MatMul => 5,
        Op::BatchNorm(_) => 6,
        Op::Relu => 7,
        Op::PRelu => 8,
        Op::LeakyRelu(_) => 9,
        Op::Clip(_) => 10,
        Op::Sigmoid => 11,
        Op::HardSigmoid(_) => 12,
        Op::HardSwish => 13,
        Op::Tanh => 14,
        Op::Softmax(_) => 15,
        Op::Add => 16,
        Op::Sub => 17,
        Op::Mul => 18,
        Op::Div => 19,
        Op::MaxPool(_) => 20,
        Op::AveragePool(_) => 21,
        Op::GlobalAveragePool => 22,
        Op::ReduceMean(_) => 23,
        Op::Concat(_) => 24,
        Op::Split(_) => 25,
        Op::Slice(_) => 26,
        Op::Reshape => 27,
        Op::Transpose(_) => 28,
        Op::Pad(_) => 29,
        Op::Resize(_) => 30,
        Op::Quantize => 31,
        Op::Dequantize => 32,
        Op::ConvInt(_) => 33,
        Op::ConvTransposeInt(_) => 34,
        Op::GemmInt(_) => 35,
        Op::MatMulInt => 36,
        Op::Requant(_) => 37,
        Op::AddInt(_) => 38,
        Op::MulInt(_) => 39,
        Op::AvgPoolInt(_) => 40,
        Op::Lut(_) => 41,
        Op::SoftmaxInt(_) => 42,
        Op::ResizeInt(_) => 43,
    }
}

const VARIANTS: usize = 44;

fn f(v: Vec<usize>) -> TensorType {
    TensorType::f32(v)
}

fn cst(g: &mut Graph, t: Tensor) -> crate::ValueId {
    let ty = TensorType::new(t.dtype, t.shape.clone());
    g.add_simple(Op::Const(ConstAttrs { value: t }), vec![], ty, "")
}

/// A float graph that uses every op once, with plausible shapes.
pub(crate) fn all_ops_graph() -> Graph {
    let mut g = Graph::new("all_ops");
    let x = g.add_input("x", f(vec![1, 2, 4, 4]));
    let w = cst(
        &mut g,
        Tensor::from_f32(vec![2, 2, 1, 1], vec![1.0, -0.5, 0.25, 2.0]),
    );
    let b = cst(&mut g, Tensor::from_f32(vec![2], vec![0.0, -0.0]));
    let conv = ConvAttrs {
        strides: vec![1, 1],
        pads: vec![0, 0, 0, 0],
        dilations: vec![1, 1],
        group: 1,
    };
    let c = g.add_simple(Op::Conv(conv), vec![x, w, b], f(vec![1, 2, 4, 4]), "Conv_0");
    let ct = g.add_simple(
        Op::ConvTranspose(ConvTransposeAttrs {
            strides: vec![2, 2],
            pads: vec![0, 0, 0, 0],
            dilations: vec![1, 1],
            group: 1,
            output_padding: vec![1, 1],
        }),
        vec![c, w],
        f(vec![1, 2, 8, 8]),
        "",
    );
    let big = cst(
        &mut g,
        Tensor::from_f32(vec![2, 2, 3, 3], (0..36).map(|i| i as f32 / 8.0).collect()),
    );
    let mp = g.add_simple(
        Op::MaxPool(PoolAttrs {
            kernel: vec![3, 3],
            strides: vec![1, 1],
            pads: vec![1, 1, 1, 1],
            dilations: vec![1, 1],
            ceil_mode: false,
        }),
        vec![ct],
        f(vec![1, 2, 8, 8]),
        "",
    );
    let ap = g.add_simple(
        Op::AveragePool(AvgPoolAttrs {
            pool: PoolAttrs {
                kernel: vec![2, 2],
                strides: vec![2, 2],
                pads: vec![0, 0, 0, 0],
                dilations: vec![1, 1],
                ceil_mode: true,
            },
            count_include_pad: false,
        }),
        vec![mp],
        f(vec![1, 2, 4, 4]),
        "",
    );
    let c2 = g.add_simple(
        Op::Conv(ConvAttrs {
            strides: vec![1, 1],
            pads: vec![1, 1, 1, 1],
            dilations: vec![1, 1],
            group: 1,
        }),
        vec![ap, big],
        f(vec![1, 2, 4, 4]),
        "",
    );
    let scale = cst(&mut g, Tensor::from_f32(vec![2], vec![1.0, 1.0]));
    let bn = g.add_simple(
        Op::BatchNorm(BatchNormAttrs { epsilon: 1e-5 }),
        vec![c2, scale, b, b, scale],
        f(vec![1, 2, 4, 4]),
        "",
    );
    let r = g.add_simple(Op::Relu, vec![bn], f(vec![1, 2, 4, 4]), "");
    let slope = cst(&mut g, Tensor::from_f32(vec![2, 1, 1], vec![0.1, 0.2]));
    let pr = g.add_simple(Op::PRelu, vec![r, slope], f(vec![1, 2, 4, 4]), "");
    let lr = g.add_simple(
        Op::LeakyRelu(LeakyReluAttrs { alpha: 0.01 }),
        vec![pr],
        f(vec![1, 2, 4, 4]),
        "",
    );
    let cl = g.add_simple(
        Op::Clip(ClipAttrs {
            min: 0.0,
            max: f32::INFINITY,
        }),
        vec![lr],
        f(vec![1, 2, 4, 4]),
        "",
    );
    let sg = g.add_simple(Op::Sigmoid, vec![cl], f(vec![1, 2, 4, 4]), "");
    let hs = g.add_simple(
        Op::HardSigmoid(HardSigmoidAttrs {
            alpha: 0.2,
            beta: 0.5,
        }),
        vec![sg],
        f(vec![1, 2, 4, 4]),
        "",
    );
    let hw = g.add_simple(Op::HardSwish, vec![hs], f(vec![1, 2, 4, 4]), "");
    let th = g.add_simple(Op::Tanh, vec![hw], f(vec![1, 2, 4, 4]), "");
    let ad = g.add_simple(Op::Add, vec![th, x], f(vec![1, 2, 4, 4]), "");
    let sb = g.add_simple(Op::Sub, vec![ad, x], f(vec![1, 2, 4, 4]), "");
    let ml = g.add_simple(Op::Mul, vec![sb, x], f(vec![1, 2, 4, 4]), "");
    let dv = g.add_simple(Op::Div, vec![ml, x], f(vec![1, 2, 4, 4]), "");
    let pd = g.add_simple(
        Op::Pad(PadAttrs {
            pads: vec![0, 0, 1, 1, 0, 0, -1, -1],
            mode: PadMode::Reflect,
            value: 0.0,
        }),
        vec![dv],
        f(vec![1, 2, 4, 4]),
        "",
    );
    let rs = g.add_simple(
        Op::Resize(ResizeAttrs {
            mode: ResizeMode::Nearest,
            coord: CoordMode::Asymmetric,
            nearest: NearestMode::Floor,
            scales: vec![1.0, 1.0, 2.0, 2.0],
        }),
        vec![pd],
        f(vec![1, 2, 8, 8]),
        "",
    );
    let sl = g.add_simple(
        Op::Slice(SliceAttrs {
            starts: vec![0, 0, 7, 0],
            steps: vec![1, 1, -2, 2],
        }),
        vec![rs],
        f(vec![1, 2, 4, 4]),
        "",
    );
    let (_, parts) = g.add_node(
        Op::Split(SplitAttrs {
            axis: 1,
            sizes: vec![1, 1],
        }),
        vec![sl],
        vec![f(vec![1, 1, 4, 4]), f(vec![1, 1, 4, 4])],
        "Split_7",
    );
    g.value_mut(parts[1]).name = Some("second half".into());
    let cc = g.add_simple(
        Op::Concat(ConcatAttrs { axis: 1 }),
        vec![parts[1], parts[0]],
        f(vec![1, 2, 4, 4]),
        "",
    );
    let tr = g.add_simple(
        Op::Transpose(TransposeAttrs {
            perm: vec![0, 2, 3, 1],
        }),
        vec![cc],
        f(vec![1, 4, 4, 2]),
        "",
    );
    let rm = g.add_simple(
        Op::ReduceMean(ReduceAttrs {
            axes: vec![1, 2],
            keepdims: true,
        }),
        vec![tr],
        f(vec![1, 1, 1, 2]),
        "",
    );
    let gap = g.add_simple(Op::GlobalAveragePool, vec![cc], f(vec![1, 2, 1, 1]), "");
    let flat = g.add_simple(Op::Reshape, vec![gap], f(vec![1, 2]), "");
    let flat2 = g.add_simple(Op::Reshape, vec![rm], f(vec![2, 1]), "");
    let mm = g.add_simple(Op::MatMul, vec![flat, flat2], f(vec![1, 1]), "");
    let gw = cst(&mut g, Tensor::from_f32(vec![3, 1], vec![1.0, 2.0, 3.0]));
    let gm = g.add_simple(
        Op::Gemm(GemmAttrs {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: true,
        }),
        vec![mm, gw],
        f(vec![1, 3]),
        "Gemm",
    );
    let sm = g.add_simple(
        Op::Softmax(SoftmaxAttrs { axis: 1 }),
        vec![gm],
        f(vec![1, 3]),
        "",
    );
    g.value_mut(sm).name = Some("probs".into());
    g.outputs.push(sm);
    g
}

/// A per-tensor quantized type.
fn qt(dtype: DType, shape: Vec<usize>, scale: f32, zp: i32) -> TensorType {
    TensorType {
        quant: Some(QuantParams::per_tensor(dtype, scale, zp)),
        ..TensorType::new(dtype, shape)
    }
}

fn qm(real: f64) -> crate::arith::QuantizedMultiplier {
    crate::arith::quantize_multiplier(real).unwrap()
}

/// An integer-phase graph that uses every quantization and integer op once (and some
/// data-movement ops on integer tensors), with plausible types; it verifies.
pub(crate) fn int_ops_graph() -> Graph {
    use crate::arith::RoundingMode::{HalfAwayFromZero, HalfUp};
    let mut g = Graph::new("int_ops");
    g.phase = Phase::Integer;
    let act = |shape: Vec<usize>| qt(DType::U8, shape, 0.05, 128);
    let x = g.add_input("x", f(vec![1, 2, 4, 4]));
    let q = g.add_simple(Op::Quantize, vec![x], act(vec![1, 2, 4, 4]), "");
    let w_ty = TensorType {
        quant: Some(QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis: 0,
                scales: vec![0.01, 0.02],
                zero_points: vec![0, 0],
            },
            bits: 8,
            pow2: false,
        }),
        ..TensorType::new(DType::I8, vec![2, 2, 1, 1])
    };
    let w = g.add_simple(
        Op::Const(ConstAttrs {
            value: Tensor {
                dtype: DType::I8,
                shape: Shape(vec![2, 2, 1, 1]),
                data: TensorData::I8(vec![-127, 3, 64, 127]),
            },
        }),
        vec![],
        w_ty,
        "",
    );
    let b = cst(
        &mut g,
        Tensor {
            dtype: DType::I32,
            shape: Shape(vec![2]),
            data: TensorData::I32(vec![-100, 250]),
        },
    );
    let conv = ConvAttrs {
        strides: vec![1, 1],
        pads: vec![0, 0, 0, 0],
        dilations: vec![1, 1],
        group: 1,
    };
    let acc_ty = TensorType {
        quant: Some(QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis: 1,
                scales: vec![0.05 * 0.01, 0.05 * 0.02],
                zero_points: vec![0, 0],
            },
            bits: 32,
            pow2: false,
        }),
        ..TensorType::new(DType::I32, vec![1, 2, 4, 4])
    };
    let acc = g.add_simple(
        Op::ConvInt(ConvIntAttrs { conv }),
        vec![q, w, b],
        acc_ty,
        "conv",
    );
    let r = g.add_simple(
        Op::Requant(RequantAttrs {
            multipliers: vec![qm(0.01), qm(0.02)],
            axis: 1,
            rounding: HalfUp,
            lo: 128,
            hi: 255,
        }),
        vec![acc],
        act(vec![1, 2, 4, 4]),
        "relu",
    );
    let wt = g.add_simple(
        Op::Const(ConstAttrs {
            value: Tensor {
                dtype: DType::I8,
                shape: Shape(vec![2, 2, 1, 1]),
                data: TensorData::I8(vec![1, -2, 3, -4]),
            },
        }),
        vec![],
        qt(DType::I8, vec![2, 2, 1, 1], 0.5, 0),
        "",
    );
    let acc2 = g.add_simple(
        Op::ConvTransposeInt(ConvTransposeIntAttrs {
            conv: ConvTransposeAttrs {
                strides: vec![1, 1],
                pads: vec![0, 0, 0, 0],
                dilations: vec![1, 1],
                group: 1,
                output_padding: vec![0, 0],
            },
        }),
        vec![r, wt],
        qt(DType::I32, vec![1, 2, 4, 4], 0.025, 0),
        "",
    );
    let r2 = g.add_simple(
        Op::Requant(RequantAttrs {
            multipliers: vec![qm(0.5)],
            axis: 0,
            rounding: HalfAwayFromZero,
            lo: 0,
            hi: 255,
        }),
        vec![acc2],
        act(vec![1, 2, 4, 4]),
        "",
    );
    let add = g.add_simple(
        Op::AddInt(AddIntAttrs {
            shift: 20,
            ma: qm(0.5),
            mb: qm(0.5),
            mo: qm(2.0 / f64::from(1u32 << 20)),
            rounding: HalfUp,
            lo: 0,
            hi: 255,
        }),
        vec![r, r2],
        act(vec![1, 2, 4, 4]),
        "",
    );
    let mul = g.add_simple(
        Op::MulInt(MulIntAttrs {
            m: qm(0.05),
            rounding: HalfUp,
            lo: 0,
            hi: 255,
        }),
        vec![add, r],
        act(vec![1, 2, 4, 4]),
        "",
    );
    let mp = g.add_simple(
        Op::MaxPool(PoolAttrs {
            kernel: vec![1, 1],
            strides: vec![1, 1],
            pads: vec![0, 0, 0, 0],
            dilations: vec![1, 1],
            ceil_mode: false,
        }),
        vec![mul],
        act(vec![1, 2, 4, 4]),
        "",
    );
    let ap = g.add_simple(
        Op::AvgPoolInt(AvgPoolIntAttrs {
            pool: AvgPoolAttrs {
                pool: PoolAttrs {
                    kernel: vec![2, 2],
                    strides: vec![2, 2],
                    pads: vec![0, 0, 0, 0],
                    dilations: vec![1, 1],
                    ceil_mode: false,
                },
                count_include_pad: false,
            },
            rounding: HalfUp,
        }),
        vec![mp],
        act(vec![1, 2, 2, 2]),
        "",
    );
    let lut = g.add_simple(
        Op::Lut(LutAttrs {
            table: (0..256).map(|i| 255 - i).collect(),
            axis: None,
        }),
        vec![ap],
        act(vec![1, 2, 2, 2]),
        "",
    );
    let rs = g.add_simple(
        Op::ResizeInt(ResizeIntAttrs {
            resize: ResizeAttrs {
                mode: ResizeMode::Linear,
                coord: CoordMode::HalfPixel,
                nearest: NearestMode::RoundPreferFloor,
                scales: vec![1.0, 1.0, 2.0, 2.0],
            },
            frac_bits: 8,
            rounding: HalfUp,
        }),
        vec![lut],
        act(vec![1, 2, 4, 4]),
        "",
    );
    let sm = g.add_simple(
        Op::SoftmaxInt(SoftmaxIntAttrs {
            axis: 1,
            exp_table: (0..256)
                .map(|d| (65536.0 * (-0.05 * d as f64).exp()).round() as i32)
                .collect(),
            exp_bits: 16,
            rounding: HalfUp,
        }),
        vec![rs],
        qt(DType::U8, vec![1, 2, 4, 4], 1.0 / 256.0, 0),
        "",
    );
    let flat = g.add_simple(
        Op::Reshape,
        vec![sm],
        qt(DType::U8, vec![1, 32], 1.0 / 256.0, 0),
        "",
    );
    let wg = cst(
        &mut g,
        Tensor {
            dtype: DType::I8,
            shape: Shape(vec![3, 32]),
            data: TensorData::I8((0..96).map(|i| (i % 11) as i8 - 5).collect()),
        },
    );
    g.value_mut(wg).ty.quant = Some(QuantParams::per_tensor(DType::I8, 0.1, 0));
    let gm = g.add_simple(
        Op::GemmInt(GemmIntAttrs { trans_b: true }),
        vec![flat, wg],
        qt(DType::I32, vec![1, 3], 0.1 / 256.0, 0),
        "",
    );
    let gr = g.add_simple(
        Op::Requant(RequantAttrs {
            multipliers: vec![qm(0.1 / 256.0 / 0.05)],
            axis: 0,
            rounding: HalfUp,
            lo: 0,
            hi: 255,
        }),
        vec![gm],
        act(vec![1, 3]),
        "",
    );
    let col = g.add_simple(Op::Reshape, vec![gr], act(vec![3, 1]), "");
    let mm = g.add_simple(
        Op::MatMulInt,
        vec![gr, col],
        qt(DType::I32, vec![1, 1], 0.05 * 0.05, 0),
        "",
    );
    let mr = g.add_simple(
        Op::Requant(RequantAttrs {
            multipliers: vec![qm(0.05)],
            axis: 0,
            rounding: HalfUp,
            lo: 0,
            hi: 255,
        }),
        vec![mm],
        act(vec![1, 1]),
        "",
    );
    let y = g.add_simple(Op::Dequantize, vec![mr], f(vec![1, 1]), "");
    g.value_mut(y).name = Some("y".into());
    g.outputs.push(y);
    g
}

/// A small integer graph with the quantized type forms.
fn quant_graph() -> Graph {
    let mut g = Graph::new("quant \"demo\"");
    g.phase = Phase::Integer;
    let u8t = |shape: Vec<usize>, s: f32, z: i32| TensorType {
        quant: Some(QuantParams::per_tensor(DType::U8, s, z)),
        ..TensorType::new(DType::U8, shape)
    };
    let x = g.add_input("in", u8t(vec![1, 2, 3, 3], 0.0235, 128));
    let wt = TensorType {
        dtype: DType::I8,
        shape: Shape(vec![2, 2, 1, 1]),
        quant: Some(QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis: 0,
                scales: vec![0.5, 0.25],
                zero_points: vec![0, 0],
            },
            bits: 4,
            pow2: true,
        }),
    };
    let w = g.add_simple(
        Op::Const(ConstAttrs {
            value: Tensor {
                dtype: DType::I8,
                shape: Shape(vec![2, 2, 1, 1]),
                data: TensorData::I8(vec![-8, 7, 0, 1]),
            },
        }),
        vec![],
        wt,
        "",
    );
    let bias = g.add_simple(
        Op::Const(ConstAttrs {
            value: Tensor {
                dtype: DType::I32,
                shape: Shape(vec![2]),
                data: TensorData::I32(vec![i32::MIN, i32::MAX]),
            },
        }),
        vec![],
        TensorType::new(DType::I32, vec![2]),
        "",
    );
    let y = g.add_simple(
        Op::Conv(ConvAttrs {
            strides: vec![1, 1],
            pads: vec![0, 0, 0, 0],
            dilations: vec![1, 1],
            group: 1,
        }),
        vec![x, w, bias],
        TensorType {
            dtype: DType::I32,
            shape: Shape(vec![1, 2, 3, 3]),
            quant: None,
        },
        "conv\n2",
    );
    g.outputs.push(y);
    g
}

#[test]
fn every_variant_is_in_the_all_ops_graphs() {
    let mut seen = [false; VARIANTS];
    for g in [all_ops_graph(), int_ops_graph()] {
        for n in g.node_ids() {
            seen[variant_index(&g.node(n).op)] = true;
        }
    }
    let missing: Vec<usize> = (0..VARIANTS).filter(|&i| !seen[i]).collect();
    assert!(missing.is_empty(), "variants missing: {missing:?}");
}

#[test]
fn snapshot_all_ops() {
    let g = all_ops_graph();
    let text = print(&g);
    insta::assert_snapshot!("all_ops", text);
    assert!(parse(&text).unwrap() == g);
}

#[test]
fn snapshot_int_ops() {
    let g = int_ops_graph();
    let text = print(&g);
    insta::assert_snapshot!("int_ops", text);
    assert!(parse(&text).unwrap() == g);
}

#[test]
fn snapshot_quant_types() {
    let g = quant_graph();
    let text = print(&g);
    insta::assert_snapshot!("quant_types", text);
    assert!(parse(&text).unwrap() == g);
}

#[test]
fn snapshot_elided_constants() {
    let p = print_with(
        &all_ops_graph(),
        &PrintOptions {
            elide_constants_above: Some(4),
        },
    );
    insta::assert_snapshot!("all_ops_elided", p.text);
    assert!(parse(&p.text).unwrap_err().message.contains("elided"));
}

#[test]
fn node_spans_cover_their_lines() {
    let g = all_ops_graph();
    let p = print_with(&g, &PrintOptions::default());
    assert_eq!(p.node_spans.len(), g.node_count());
    for (n, span) in &p.node_spans {
        let line = &p.text[span.clone()];
        assert!(!line.contains('\n'));
        assert!(line.contains(g.node(*n).op.mnemonic()), "{line}");
        assert_eq!(&p.text[span.end..span.end + 1], "\n");
    }
    assert!(p.text[p.header_span.clone()].starts_with("graph "));
    assert!(p.text[p.inputs_span.clone()].starts_with("inputs("));
    assert!(p.text[p.outputs_span.clone()].starts_with("outputs("));
}

#[test]
fn hand_written_text_parses() {
    let text = r#"
        // Comments are ignored; operands may be defined later.
        graph "hand" phase=float
        %y = relu(%x) : f32[2]
        %x "x" = input : f32[2]
        %c = const dense<[1, 2.5]> : f32[2] @"k"
        %s = add(%y, %c) : f32[2]
        outputs(%s)
        inputs(%x)
    "#;
    let p = parse_with_spans(text).unwrap();
    let g = &p.graph;
    assert_eq!(g.node_count(), 4);
    assert_eq!(g.inputs.len(), 1);
    let printed = print(g);
    assert!(printed.contains("%0 \"x\" = input : f32[2]\n"), "{printed}");
    assert!(printed.contains("const dense<[1.0, 2.5]> : f32[2] @\"k\""));
    assert!(parse(&printed).unwrap() == *g);
    // The statement spans point at the source lines.
    let (_, span) = &p.node_spans[0];
    assert_eq!(&text[span.clone()], "%y = relu(%x) : f32[2]");
}

fn parse_err(text: &str) -> (String, String) {
    let e = parse(text).unwrap_err();
    (text[e.span.clone()].to_string(), e.message)
}

#[test]
fn parse_errors_point_at_the_problem() {
    let h = "graph \"g\" phase=float\n";
    let cases: &[(&str, &str, &str)] = &[
        ("graph \"g\" phase=liquid", "liquid", "unknown phase"),
        ("%0 = input : f32[1]", "%0", "expected `graph`"),
        (
            "%0 = frobnicate : f32[1]",
            "frobnicate",
            "unknown op `frobnicate`",
        ),
        ("%0 = relu(%9) : f32[1]", "%9", "undefined value `%9`"),
        (
            "%0 = input : f32[1]\n%0 = input : f32[1]",
            "%0",
            "defined twice",
        ),
        ("%0 = input : f33[1]", "f33", "unknown element type"),
        ("%0 = input : f32[1,-2]", "-2", "expected a dimension"),
        ("%0 = input : f32[1", "", "expected `,` or `]`"),
        (
            "%0 = input : u8[1]<0.1:300000000000>",
            "300000000000",
            "zero point",
        ),
        ("%0 = input : u8[1]<0.1>", ">", "expected `:`"),
        ("%0 = input : u8[1]<x bits, 0.1:0>", "x", "bit width"),
        (
            "%0 = softmax(%0) : f32[1]",
            "softmax",
            "missing attribute `axis`",
        ),
        (
            "%0 = softmax(%0) {axis=1, axis=2} : f32[1]",
            "axis",
            "duplicate attribute",
        ),
        (
            "%0 = softmax(%0) {axis=-1} : f32[1]",
            "-1",
            "non-negative integer",
        ),
        (
            "%0 = relu(%0) {alpha=1.0} : f32[1]",
            "alpha",
            "unknown attribute `alpha`",
        ),
        (
            "%0 = pad(%0) {pads=[0], mode=wrap, value=0.0} : f32[1]",
            "wrap",
            "one of",
        ),
        (
            "%0 = gemm(%0) {alpha=1, beta=x, trans_a=false, trans_b=false} : f32[1]",
            "x",
            "a float",
        ),
        ("%0 = const : f32[1]", "const", "needs a `dense"),
        (
            "%0 = relu dense<[1]> : f32[1]",
            "dense<[1]>",
            "only `const`",
        ),
        (
            "%0 = const dense<[1.5]> : i8[1]",
            "1.5",
            "not a valid i8 element",
        ),
        ("%0 = const dense<0x010> : i8[1]", "0x010", "not a multiple"),
        ("%0 = const dense<0x0102> : i16[2]", "", ""),
        ("%0 = const dense<0xzz> : i8[1]", "0xzz", "malformed hex"),
        (
            "%0, %1 = const dense<[1]> : f32[1], f32[1]",
            "dense<[1]>",
            "explicit",
        ),
        ("%0, %1 = input : f32[1]", "f32[1]", "2 results but 1 types"),
        ("%0 = input", "", "expected `:`"),
        ("inputs(%0)\ninputs(%0)", "inputs(%0)", "duplicate `inputs`"),
        ("outputs(%7)", "%7", "undefined value"),
        ("%0 = input : f32[1] @name", "name", "node name string"),
        ("%0 = input : f32[1] $", "$", "unexpected character"),
        (
            "%0 = input : f32[1]\ngraph \"again\" phase=float",
            "graph",
            "only one",
        ),
        ("\"stray\"", "\"stray\"", "expected a node"),
    ];
    for &(body, at, msg) in cases {
        let raw = body.starts_with("graph") || msg == "expected `graph`";
        let text = if raw {
            body.to_string()
        } else {
            format!("{h}{body}")
        };
        match parse(&text) {
            Ok(_) if msg.is_empty() => {}
            Ok(_) => panic!("parsed but expected error {msg:?}: {text}"),
            Err(e) => {
                assert!(
                    e.message.contains(msg),
                    "{text}\n  got {:?}, want {msg:?}",
                    e.message
                );
                assert_eq!(&text[e.span.clone()], at, "{text}\n  message {}", e.message);
            }
        }
    }
}

#[test]
fn parse_error_at_end_of_input_has_empty_span_at_end() {
    let (at, msg) = parse_err("graph \"g\" phase=float\n%0 = input : f32[1");
    assert_eq!(at, "");
    assert!(msg.contains("end of input"), "{msg}");
}

#[test]
fn nan_payloads_and_negative_zero_round_trip() {
    let mut g = Graph::new("nan");
    let vals = vec![
        f32::from_bits(0x7fc0_0001),
        f32::from_bits(0xffc0_0000),
        -0.0,
        f32::MIN_POSITIVE / 4.0,
        f32::NEG_INFINITY,
    ];
    let c = cst(&mut g, Tensor::from_f32(vec![5], vals));
    let cl = g.add_simple(
        Op::Clip(ClipAttrs {
            min: f32::from_bits(0x7f80_0001),
            max: -0.0,
        }),
        vec![c],
        f(vec![5]),
        "",
    );
    g.outputs.push(cl);
    let text = print(&g);
    assert!(
        text.contains("0x7fc00001") && text.contains("-0.0"),
        "{text}"
    );
    assert!(parse(&text).unwrap() == g);
}

// ---- property tests ----------------------------------------------------------------------

fn arb_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => (-8i32..8).prop_map(|x| x as f32 * 0.25),
        2 => any::<u32>().prop_map(f32::from_bits),
        1 => prop_oneof![
            Just(f32::NAN),
            Just(-0.0f32),
            Just(f32::INFINITY),
            Just(f32::NEG_INFINITY),
            Just(1e-7f32),
        ],
    ]
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        3 => "[a-zA-Z_][a-zA-Z0-9_./:]{0,8}",
        1 => "[ -~\n\t\u{0}é\u{1b}\u{301}]{0,6}",
    ]
}

fn arb_usizes(max_len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..5, 0..max_len)
}

fn arb_shape() -> impl Strategy<Value = Shape> {
    prop::collection::vec(0usize..5, 0..4).prop_map(Shape)
}

fn arb_quant() -> impl Strategy<Value = QuantParams> {
    let gran = prop_oneof![
        (arb_f32(), any::<i32>())
            .prop_map(|(scale, zero_point)| QuantGranularity::PerTensor { scale, zero_point }),
        (
            0usize..4,
            prop::collection::vec(arb_f32(), 0..4),
            prop::collection::vec(-200i32..200, 0..4)
        )
            .prop_map(|(axis, scales, zero_points)| QuantGranularity::PerAxis {
                axis,
                scales,
                zero_points
            }),
    ];
    (gran, 0u32..40, any::<bool>()).prop_map(|(granularity, bits, pow2)| QuantParams {
        granularity,
        bits,
        pow2,
    })
}

fn arb_type() -> impl Strategy<Value = TensorType> {
    (
        prop::sample::select(DType::ALL.to_vec()),
        arb_shape(),
        prop::option::weighted(0.4, arb_quant()),
    )
        .prop_map(|(dtype, shape, quant)| TensorType {
            dtype,
            shape,
            quant,
        })
}

fn arb_data(n: usize) -> BoxedStrategy<TensorData> {
    use prop::collection::vec;
    prop_oneof![
        vec(arb_f32(), n..=n).prop_map(TensorData::F32),
        vec(any::<i32>(), n..=n).prop_map(TensorData::I32),
        vec(any::<i16>(), n..=n).prop_map(TensorData::I16),
        vec(any::<i8>(), n..=n).prop_map(TensorData::I8),
        vec(any::<u8>(), n..=n).prop_map(TensorData::U8),
    ]
    .boxed()
}

/// Tensors whose storage usually fits the dtype and whose length usually matches the shape.
fn arb_tensor() -> impl Strategy<Value = Tensor> {
    let shape = prop::collection::vec(0usize..6, 0..3).prop_map(Shape);
    (prop::sample::select(DType::ALL.to_vec()), shape, 0usize..4)
        .prop_flat_map(|(dtype, shape, odd)| {
            let n = if odd == 0 {
                shape.numel() + 1
            } else {
                shape.numel()
            };
            (Just(dtype), Just(shape), arb_data(n))
        })
        .prop_map(|(dtype, shape, data)| Tensor { dtype, shape, data })
}

fn arb_multiplier() -> impl Strategy<Value = crate::arith::QuantizedMultiplier> {
    (any::<i32>(), -40i32..40)
        .prop_map(|(m0, shift)| crate::arith::QuantizedMultiplier { m0, shift })
}

fn arb_rounding() -> impl Strategy<Value = crate::arith::RoundingMode> {
    prop::sample::select(crate::arith::RoundingMode::ALL.to_vec())
}

fn arb_op() -> BoxedStrategy<Op> {
    let pool = || {
        (
            arb_usizes(3),
            arb_usizes(3),
            arb_usizes(5),
            arb_usizes(3),
            any::<bool>(),
        )
            .prop_map(|(kernel, strides, pads, dilations, ceil_mode)| PoolAttrs {
                kernel,
                strides,
                pads,
                dilations,
                ceil_mode,
            })
    };
    let arms: Vec<BoxedStrategy<Op>> = vec![
        Just(Op::Input).boxed(),
        arb_tensor()
            .prop_map(|value| Op::Const(ConstAttrs { value }))
            .boxed(),
        (arb_usizes(3), arb_usizes(5), arb_usizes(3), 0usize..4)
            .prop_map(|(strides, pads, dilations, group)| {
                Op::Conv(ConvAttrs {
                    strides,
                    pads,
                    dilations,
                    group,
                })
            })
            .boxed(),
        (
            arb_usizes(3),
            arb_usizes(5),
            arb_usizes(3),
            0usize..4,
            arb_usizes(3),
        )
            .prop_map(|(strides, pads, dilations, group, output_padding)| {
                Op::ConvTranspose(ConvTransposeAttrs {
                    strides,
                    pads,
                    dilations,
                    group,
                    output_padding,
                })
            })
            .boxed(),
        (arb_f32(), arb_f32(), any::<bool>(), any::<bool>())
            .prop_map(|(alpha, beta, trans_a, trans_b)| {
                Op::Gemm(GemmAttrs {
                    alpha,
                    beta,
                    trans_a,
                    trans_b,
                })
            })
            .boxed(),
        Just(Op::MatMul).boxed(),
        arb_f32()
            .prop_map(|epsilon| Op::BatchNorm(BatchNormAttrs { epsilon }))
            .boxed(),
        Just(Op::Relu).boxed(),
        Just(Op::PRelu).boxed(),
        arb_f32()
            .prop_map(|alpha| Op::LeakyRelu(LeakyReluAttrs { alpha }))
            .boxed(),
        (arb_f32(), arb_f32())
            .prop_map(|(min, max)| Op::Clip(ClipAttrs { min, max }))
            .boxed(),
        Just(Op::Sigmoid).boxed(),
        (arb_f32(), arb_f32())
            .prop_map(|(alpha, beta)| Op::HardSigmoid(HardSigmoidAttrs { alpha, beta }))
            .boxed(),
        Just(Op::HardSwish).boxed(),
        Just(Op::Tanh).boxed(),
        (0usize..5)
            .prop_map(|axis| Op::Softmax(SoftmaxAttrs { axis }))
            .boxed(),
        Just(Op::Add).boxed(),
        Just(Op::Sub).boxed(),
        Just(Op::Mul).boxed(),
        Just(Op::Div).boxed(),
        pool().prop_map(Op::MaxPool).boxed(),
        (pool(), any::<bool>())
            .prop_map(|(pool, count_include_pad)| {
                Op::AveragePool(AvgPoolAttrs {
                    pool,
                    count_include_pad,
                })
            })
            .boxed(),
        Just(Op::GlobalAveragePool).boxed(),
        (arb_usizes(4), any::<bool>())
            .prop_map(|(axes, keepdims)| Op::ReduceMean(ReduceAttrs { axes, keepdims }))
            .boxed(),
        (0usize..5)
            .prop_map(|axis| Op::Concat(ConcatAttrs { axis }))
            .boxed(),
        (0usize..5, arb_usizes(4))
            .prop_map(|(axis, sizes)| Op::Split(SplitAttrs { axis, sizes }))
            .boxed(),
        (arb_usizes(4), prop::collection::vec(-3i64..4, 0..4))
            .prop_map(|(starts, steps)| Op::Slice(SliceAttrs { starts, steps }))
            .boxed(),
        Just(Op::Reshape).boxed(),
        arb_usizes(5)
            .prop_map(|perm| Op::Transpose(TransposeAttrs { perm }))
            .boxed(),
        (
            prop::collection::vec(-3i64..4, 0..8),
            prop::sample::select(vec![PadMode::Constant, PadMode::Reflect, PadMode::Edge]),
            arb_f32(),
        )
            .prop_map(|(pads, mode, value)| Op::Pad(PadAttrs { pads, mode, value }))
            .boxed(),
        (
            prop::sample::select(vec![ResizeMode::Nearest, ResizeMode::Linear]),
            prop::sample::select(vec![
                CoordMode::HalfPixel,
                CoordMode::PytorchHalfPixel,
                CoordMode::AlignCorners,
                CoordMode::Asymmetric,
                CoordMode::TfHalfPixelForNn,
            ]),
            prop::sample::select(vec![
                NearestMode::RoundPreferFloor,
                NearestMode::RoundPreferCeil,
                NearestMode::Floor,
                NearestMode::Ceil,
            ]),
            prop::collection::vec(arb_f32(), 0..4),
        )
            .prop_map(|(mode, coord, nearest, scales)| {
                Op::Resize(ResizeAttrs {
                    mode,
                    coord,
                    nearest,
                    scales,
                })
            })
            .boxed(),
        Just(Op::Quantize).boxed(),
        Just(Op::Dequantize).boxed(),
        (arb_usizes(3), arb_usizes(5), arb_usizes(3), 0usize..4)
            .prop_map(|(strides, pads, dilations, group)| {
                Op::ConvInt(ConvIntAttrs {
                    conv: ConvAttrs {
                        strides,
                        pads,
                        dilations,
                        group,
                    },
                })
            })
            .boxed(),
        (arb_usizes(3), arb_usizes(5), 0usize..4, arb_usizes(3))
            .prop_map(|(strides, pads, group, output_padding)| {
                Op::ConvTransposeInt(ConvTransposeIntAttrs {
                    conv: ConvTransposeAttrs {
                        dilations: strides.clone(),
                        strides,
                        pads,
                        group,
                        output_padding,
                    },
                })
            })
            .boxed(),
        any::<bool>()
            .prop_map(|trans_b| Op::GemmInt(GemmIntAttrs { trans_b }))
            .boxed(),
        Just(Op::MatMulInt).boxed(),
        (
            prop::collection::vec(arb_multiplier(), 0..4),
            0usize..5,
            arb_rounding(),
            any::<i32>(),
            any::<i32>(),
        )
            .prop_map(|(multipliers, axis, rounding, lo, hi)| {
                Op::Requant(RequantAttrs {
                    multipliers,
                    axis,
                    rounding,
                    lo,
                    hi,
                })
            })
            .boxed(),
        (
            0u32..40,
            (arb_multiplier(), arb_multiplier(), arb_multiplier()),
            arb_rounding(),
            -300i32..300,
            -300i32..300,
        )
            .prop_map(|(shift, (ma, mb, mo), rounding, lo, hi)| {
                Op::AddInt(AddIntAttrs {
                    shift,
                    ma,
                    mb,
                    mo,
                    rounding,
                    lo,
                    hi,
                })
            })
            .boxed(),
        (arb_multiplier(), arb_rounding(), any::<i32>(), any::<i32>())
            .prop_map(|(m, rounding, lo, hi)| {
                Op::MulInt(MulIntAttrs {
                    m,
                    rounding,
                    lo,
                    hi,
                })
            })
            .boxed(),
        (pool(), any::<bool>(), arb_rounding())
            .prop_map(|(pool, count_include_pad, rounding)| {
                Op::AvgPoolInt(AvgPoolIntAttrs {
                    pool: AvgPoolAttrs {
                        pool,
                        count_include_pad,
                    },
                    rounding,
                })
            })
            .boxed(),
        (
            prop::collection::vec(any::<i32>(), 0..6),
            prop::option::of(0usize..4),
        )
            .prop_map(|(table, axis)| Op::Lut(LutAttrs { table, axis }))
            .boxed(),
        (
            0usize..4,
            prop::collection::vec(any::<i32>(), 0..6),
            0u32..40,
            arb_rounding(),
        )
            .prop_map(|(axis, exp_table, exp_bits, rounding)| {
                Op::SoftmaxInt(SoftmaxIntAttrs {
                    axis,
                    exp_table,
                    exp_bits,
                    rounding,
                })
            })
            .boxed(),
        (
            prop::collection::vec(arb_f32(), 0..4),
            0u32..20,
            arb_rounding(),
            any::<bool>(),
        )
            .prop_map(|(scales, frac_bits, rounding, linear)| {
                Op::ResizeInt(ResizeIntAttrs {
                    resize: ResizeAttrs {
                        mode: if linear {
                            ResizeMode::Linear
                        } else {
                            ResizeMode::Nearest
                        },
                        coord: CoordMode::AlignCorners,
                        nearest: NearestMode::Ceil,
                        scales,
                    },
                    frac_bits,
                    rounding,
                })
            })
            .boxed(),
    ];
    assert_eq!(arms.len(), VARIANTS);
    Union::new(arms).boxed()
}

/// One node to add: op, operand picks (indices into the values so far), result types and
/// names.
#[derive(Debug, Clone)]
struct NodeSpec {
    op: Op,
    picks: Vec<usize>,
    results: Vec<(TensorType, Option<String>)>,
    name: String,
}

fn arb_node() -> impl Strategy<Value = NodeSpec> {
    (
        arb_op(),
        prop::collection::vec(any::<usize>(), 0..4),
        prop::collection::vec((arb_type(), prop::option::weighted(0.3, arb_name())), 0..3),
        arb_name(),
        any::<bool>(),
    )
        .prop_map(|(op, picks, mut results, name, const_typed)| {
            // Constants usually have the single result their tensor implies.
            if let (Op::Const(c), true) = (&op, const_typed) {
                results = vec![(TensorType::new(c.value.dtype, c.value.shape.clone()), None)];
            }
            NodeSpec {
                op,
                picks,
                results,
                name,
            }
        })
}

fn arb_graph() -> impl Strategy<Value = Graph> {
    (
        arb_name(),
        prop::sample::select(Phase::ALL.to_vec()),
        prop::collection::vec((arb_name(), arb_type(), any::<bool>()), 0..3),
        prop::collection::vec(arb_node(), 0..10),
        prop::collection::vec(any::<usize>(), 0..4),
    )
        .prop_map(|(name, phase, inputs, nodes, outs)| {
            let mut g = Graph::new(name);
            g.phase = phase;
            let mut values = Vec::new();
            for (name, ty, rename) in inputs {
                let v = g.add_input(name, ty);
                if rename {
                    let n = g.value(v).producer;
                    g.set_node_name(n, "renamed");
                }
                values.push(v);
            }
            for spec in nodes {
                let operands: Vec<_> = if values.is_empty() {
                    vec![]
                } else {
                    spec.picks
                        .iter()
                        .map(|&i| values[i % values.len()])
                        .collect()
                };
                let (types, names): (Vec<_>, Vec<_>) = spec.results.into_iter().unzip();
                let (_, outs) = g.add_node(spec.op, operands, types, spec.name);
                for (&v, name) in outs.iter().zip(names) {
                    g.value_mut(v).name = name;
                }
                values.extend(outs);
            }
            if !values.is_empty() {
                g.outputs = outs.iter().map(|&i| values[i % values.len()]).collect();
            }
            g
        })
}

#[test]
fn the_op_strategy_covers_every_variant() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strat = arb_op();
    let mut seen = [false; VARIANTS];
    for _ in 0..2000 {
        let op = strat.new_tree(&mut runner).unwrap().current();
        seen[variant_index(&op)] = true;
    }
    assert!(seen.iter().all(|&s| s), "{seen:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn print_parse_round_trip(g in arb_graph()) {
        let text = print(&g);
        let back = match parse(&text) {
            Ok(b) => b,
            Err(e) => panic!("{}\nat {:?}: {text}", e.message, &text[e.span.clone()]),
        };
        prop_assert!(back == g, "not equal after round trip:\n{text}");
        prop_assert_eq!(print(&back), text);
    }

    #[test]
    fn verify_never_panics(g in arb_graph()) {
        let _ = crate::verifier::verify(&g);
    }

    #[test]
    fn parse_never_panics_on_token_soup(words in prop::collection::vec(prop_oneof![
        Just("graph"), Just("\"g\""), Just("phase=float"), Just("phase"), Just("="),
        Just("%0"), Just("%1"), Just("%x"), Just("input"), Just("const"), Just("relu"),
        Just("conv"), Just("split"), Just("dense<"), Just("["), Just("]"), Just("("),
        Just(")"), Just("{"), Just("}"), Just("<"), Just(">"), Just(","), Just(":"),
        Just("@"), Just("f32[1]"), Just("u8[2]"), Just("i8"), Just("0.5:3"), Just("axis=0"),
        Just("4 bits"), Just("pow2"), Just("0x00ff"), Just("-1"), Just("nan"),
        Just("1e40"), Just("99999999999999999999"), Just("inputs("), Just("outputs("),
        Just("// c\n"), Just("\n"), Just("\"\\u{"), Just("%"), Just("storage=i32"),
        Just("axis=1"), Just("sizes=[1,1]"), Just("f32[18446744073709551615,2]"),
    ], 0..40)) {
        let text = words.join(" ");
        if let Ok(g) = parse(&text) {
            let _ = crate::verifier::verify(&g);
            let printed = print(&g);
            prop_assert!(parse(&printed).unwrap() == g);
        }
    }

    #[test]
    fn parse_never_panics_on_mutated_text(
        cut in any::<prop::sample::Index>(),
        len in 0usize..12,
        insert in "[ -~\n]{0,6}",
    ) {
        let text = print(&all_ops_graph());
        let mut start = cut.index(text.len());
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &text[..start], insert, &text[end..]);
        if let Ok(g) = parse(&mutated) {
            let _ = crate::verifier::verify(&g);
            prop_assert!(parse(&print(&g)).unwrap() == g);
        }
    }
}
