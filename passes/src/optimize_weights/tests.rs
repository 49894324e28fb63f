//! `optimize-weights` on small generated networks: nearest folding equals `insert-qdq`'s
//! rounding, optimized weights lower the output error on the batch and off it, the batch
//! run agrees with the interpreter, and the written constants keep their grids.

use super::*;
use crate::{LayerPrecision, ScaleMode, WeightRounding};
use std::sync::Arc;

/// xorshift64*: deterministic pseudo-random numbers without `rand`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let u = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32;
        2.0 * u - 1.0
    }

    fn list(&mut self, n: usize, scale: f32) -> String {
        let v: Vec<String> = (0..n)
            .map(|_| format!("{:.6}", self.next() * scale))
            .collect();
        format!("[{}]", v.join(", "))
    }
}

/// conv 3x3 (2 -> 8, bias) -> relu -> depthwise 3x3 stride 2 (no bias) -> relu ->
/// 1-d-free reshape -> gemm (trans_b, 72 -> 5) -> gemm (no trans_b, 5 -> 3).
fn net() -> String {
    let mut r = Rng(0x1234_5678_9ABC_DEF1);
    format!(
        r#"graph "net" phase=float
inputs(%x)
%x "x" = input : f32[1,2,6,6]
%w1 = const dense<{w1}> : f32[8,2,3,3]
%b1 = const dense<{b1}> : f32[8]
%c1 = conv(%x, %w1, %b1) {{strides=[1,1], pads=[1,1,1,1], dilations=[1,1], group=1}} : f32[1,8,6,6] @"conv1"
%r1 = relu(%c1) : f32[1,8,6,6] @"relu1"
%w2 = const dense<{w2}> : f32[8,1,3,3]
%c2 = conv(%r1, %w2) {{strides=[2,2], pads=[1,1,1,1], dilations=[1,1], group=8}} : f32[1,8,3,3] @"dw"
%r2 = relu(%c2) : f32[1,8,3,3] @"relu2"
%f = reshape(%r2) : f32[1,72] @"flat"
%w3 = const dense<{w3}> : f32[5,72]
%b3 = const dense<{b3}> : f32[5]
%g1 = gemm(%f, %w3, %b3) {{alpha=1.0, beta=1.0, trans_a=false, trans_b=true}} : f32[1,5] @"fc1"
%w4 = const dense<{w4}> : f32[5,3]
%b4 = const dense<{b4}> : f32[3]
%y "y" = gemm(%g1, %w4, %b4) {{alpha=1.0, beta=1.0, trans_a=false, trans_b=false}} : f32[1,3] @"fc2"
outputs(%y)
"#,
        w1 = r.list(144, 0.5),
        b1 = r.list(8, 0.2),
        w2 = r.list(72, 0.6),
        w3 = r.list(360, 0.3),
        b3 = r.list(5, 0.1),
        w4 = r.list(15, 0.8),
        b4 = r.list(3, 0.1),
    )
}

fn samples(n: usize, seed: u64) -> Vec<Vec<Tensor>> {
    let mut r = Rng(seed);
    (0..n)
        .map(|_| {
            let d: Vec<f32> = (0..72).map(|_| r.next().abs() * 2.0).collect();
            vec![Tensor::from_f32(vec![1, 2, 6, 6], d)]
        })
        .collect()
}

fn ctx(bits: u32, rounding: WeightRounding, calib: &[Vec<Tensor>]) -> PassCtx {
    let mut c = PassCtx {
        verify_each: true,
        calib: Some(Arc::new(calib.to_vec())),
        ..PassCtx::default()
    };
    c.quant.weight_bits = bits;
    c.quant.weight_rounding = rounding;
    c
}

fn calibrated(c: &PassCtx) -> Graph {
    let mut g = ir::text::parse(&net()).expect("parses");
    crate::calibrate::run(&mut g, c).expect("calibrates");
    g
}

/// insert-qdq, fuse-activations, and optimize-weights with `samples` (empty: no batch).
fn quantized(c: &PassCtx, samples: &[Vec<Tensor>]) -> (Graph, Optimized) {
    let mut g = calibrated(c);
    crate::insert_qdq::run(&mut g, c).expect("insert-qdq");
    crate::fuse_activations::run(&mut g, c).expect("fuse-activations");
    let o = optimize(&mut g, c, samples).expect("optimize-weights");
    if let Err(e) = ir::verifier::verify(&g) {
        panic!("verifier: {e:?}");
    }
    (g, o)
}

/// Integer constants by node name, in node order.
fn int_consts(g: &Graph) -> Vec<(String, Vec<i64>)> {
    let mut out: Vec<(String, Vec<i64>)> = g
        .topo_order()
        .into_iter()
        .filter_map(|n| match &g.node(n).op {
            Op::Const(a) if a.value.dtype.is_int() => Some((
                g.node(n).name.clone(),
                (0..a.value.data.len())
                    .map(|i| a.value.data.get_i64(i))
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

fn output_error(float: &Graph, q: &Graph, samples: &[Vec<Tensor>]) -> f64 {
    let mut e = 0.0;
    for s in samples {
        let f = ir::interp::run_float(float, s).expect("float run");
        let o = ir::interp::run_float(q, s).expect("qdq run");
        for (a, b) in f[0].as_f32().unwrap().iter().zip(o[0].as_f32().unwrap()) {
            e += f64::from(a - b).powi(2);
        }
    }
    e
}

fn has_quantized_const(g: &Graph) -> bool {
    g.node_ids().any(|n| {
        matches!(g.node(n).op, Op::Quantize)
            && matches!(g.producer(g.node(n).inputs[0]).op, Op::Const(_))
    })
}

#[test]
fn without_a_batch_chains_fold_to_insert_qdqs_nearest_rounding() {
    let calib = samples(8, 7);
    for bits in [3, 4, 8] {
        let (nearest, _) = quantized(&ctx(bits, WeightRounding::Nearest, &calib), &[]);
        let c = ctx(bits, WeightRounding::Optimized, &calib);
        let mut g = calibrated(&c);
        crate::insert_qdq::run(&mut g, &c).expect("insert-qdq");
        assert!(
            has_quantized_const(&g),
            "optimized rounding leaves float weight chains"
        );
        crate::fuse_activations::run(&mut g, &c).expect("fuse");
        let mut c2 = c.clone();
        c2.calib = None;
        let stats = run(&mut g, &c2).expect("runs");
        assert_eq!(stats.rewrites, 4, "four weight chains folded");
        assert!(!has_quantized_const(&g));
        assert_eq!(int_consts(&g), int_consts(&nearest), "{bits} bits");
    }
}

#[test]
fn optimized_weights_lower_the_output_error_on_and_off_the_batch() {
    let calib = samples(24, 11);
    let held_out = samples(24, 99);
    for bits in [3, 4] {
        let c = ctx(bits, WeightRounding::Nearest, &calib);
        let float = calibrated(&c);
        let (nearest, _) = quantized(&c, &calib);
        let co = ctx(bits, WeightRounding::Optimized, &calib);
        let (opt, o) = quantized(&co, &calib);
        assert_eq!(o.stats.rewrites, 4);
        assert!(!has_quantized_const(&opt));
        for (what, set) in [("batch", &calib), ("held out", &held_out)] {
            let (en, eo) = (
                output_error(&float, &nearest, set),
                output_error(&float, &opt, set),
            );
            assert!(
                eo < 0.8 * en,
                "{bits} bits, {what}: optimized {eo} vs nearest {en}"
            );
        }
    }
}

#[test]
fn the_batch_run_computes_what_the_interpreter_computes() {
    let calib = samples(6, 3);
    let c = ctx(4, WeightRounding::Optimized, &calib);
    let (g, o) = quantized(&c, &calib);
    let outs = o.outputs.expect("the batch ran");
    assert_eq!(outs.len(), calib.len());
    for (s, got) in calib.iter().zip(&outs) {
        let want = ir::interp::run_float(&g, s).expect("runs");
        assert_eq!(want.len(), got.len());
        assert_eq!(want[0].as_f32(), got[0].as_f32());
    }
}

#[test]
fn written_weights_stay_on_their_grid_with_their_axis() {
    let calib = samples(12, 5);
    for (bits, scales) in [
        (2, ScaleMode::Float),
        (4, ScaleMode::Pow2),
        (6, ScaleMode::Float),
    ] {
        let mut c = ctx(bits, WeightRounding::Optimized, &calib);
        c.quant.scales = scales;
        c.quant.layers.insert(
            "fc2".into(),
            LayerPrecision {
                weight_bits: Some(8),
                activation_bits: None,
            },
        );
        let (g, _) = quantized(&c, &calib);
        for n in g.node_ids() {
            let node = g.node(n);
            let Op::Const(a) = &node.op else { continue };
            let ty = g.ty(node.outputs[0]);
            let Some(p) = &ty.quant else { continue };
            if ty.dtype == DType::I32 {
                continue;
            }
            let want_bits = if node.name == "fc2" { 8 } else { bits };
            assert_eq!(p.bits, want_bits, "{}", node.name);
            let lim = (1i64 << (want_bits - 1)) - 1;
            assert!(
                (0..a.value.data.len()).all(|i| a.value.data.get_i64(i).abs() <= lim),
                "{}: weights outside +-{lim}",
                node.name
            );
            let want_axis = if node.name == "fc2" { 1 } else { 0 };
            match &p.granularity {
                QuantGranularity::PerAxis {
                    axis, scales: s, ..
                } => {
                    assert_eq!(*axis, want_axis, "{}", node.name);
                    if scales == ScaleMode::Pow2 {
                        assert!(p.pow2);
                        assert!(s.iter().all(|x| x.log2().fract() == 0.0), "{s:?}");
                    }
                }
                QuantGranularity::PerTensor { .. } => panic!("{}: per tensor", node.name),
            }
        }
    }
}

#[test]
fn per_tensor_weights_get_one_scale() {
    let calib = samples(8, 21);
    let mut c = ctx(4, WeightRounding::Optimized, &calib);
    c.quant.per_channel = false;
    let (g, o) = quantized(&c, &calib);
    assert_eq!(o.stats.rewrites, 4);
    let per_tensor = g
        .node_ids()
        .filter(|&n| matches!(g.node(n).op, Op::Const(_)))
        .filter_map(|n| g.ty(g.node(n).outputs[0]).quant.clone())
        .filter(|p| p.bits == 4)
        .all(|p| matches!(p.granularity, QuantGranularity::PerTensor { .. }));
    assert!(per_tensor);
}

#[test]
fn a_float_graph_is_refused() {
    let c = ctx(4, WeightRounding::Optimized, &[]);
    let mut g = calibrated(&ctx(4, WeightRounding::Optimized, &samples(2, 1)));
    let err = run(&mut g, &c).expect_err("needs Qdq");
    assert!(err.to_string().contains("needs a Qdq graph"), "{err}");
}

/// Regression: with 100 samples a 7x7 output took every 7th position from the same phase,
/// always column 0, whose patches' left column is padding: that weight column looked dead.
#[test]
fn sampled_patches_cover_every_image_column() {
    let attrs = ConvAttrs {
        strides: vec![2, 2],
        pads: vec![1, 1, 1, 1],
        dilations: vec![1, 1],
        group: 1,
    };
    let geom = Geom {
        kind: Kind::Conv(attrs),
        m: 1,
        groups: 1,
        k: 9,
        in_dims: vec![1, 1, 14, 14],
        out_spatial: vec![7, 7],
        kernel: vec![3, 3],
    };
    let x = Tensor::from_f32(vec![1, 1, 14, 14], vec![1.0; 196]);
    let xs: Vec<&Tensor> = (0..100).map(|_| &x).collect();
    let (rows, _, n) = patch_rows(&geom, 0, 10, &xs, &xs).expect("patches");
    assert!((640..49 * 100).contains(&n), "{n} rows");
    for j in 0..9 {
        assert!(
            (0..n).any(|r| rows[r * 10 + j] != 0.0),
            "patch column {j} is never touched"
        );
    }
    // Both strided phases: patches at the left border (column 0 padded) and inside.
    let left = (0..n).filter(|&r| rows[r * 10] == 0.0).count();
    assert!(left > 0 && left < n, "{left} of {n}");
}
