use super::model::{Config, SearchSpace, build_qdq};
use super::*;
use crate::PassCtx;
use ir::{DType, Graph, Shape, Tensor};
use std::sync::Arc;

/// A deterministic stream of numbers in [-1, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn list(&mut self, n: usize, scale: f32) -> String {
        let v: Vec<String> = (0..n)
            .map(|_| format!("{:?}", self.next() * scale))
            .collect();
        v.join(", ")
    }
}

/// conv(1->4) relu, conv(4->4, stride 2) relu, flatten, gemm(36->5).
fn tiny_model() -> Graph {
    let mut r = Lcg(7);
    let text = format!(
        r#"graph "tiny" phase=float
inputs(%x)
%x "x" = input : f32[1,1,6,6]
%w1 = const dense<[{w1}]> : f32[4,1,3,3]
%b1 = const dense<[{b1}]> : f32[4]
%c1 = conv(%x, %w1, %b1) {{strides=[1,1], pads=[1,1,1,1], dilations=[1,1], group=1}} : f32[1,4,6,6] @"conv1"
%r1 = relu(%c1) : f32[1,4,6,6] @"relu1"
%w2 = const dense<[{w2}]> : f32[4,4,3,3]
%c2 = conv(%r1, %w2) {{strides=[2,2], pads=[1,1,1,1], dilations=[1,1], group=1}} : f32[1,4,3,3] @"conv2"
%r2 = relu(%c2) : f32[1,4,3,3] @"relu2"
%f = reshape(%r2) : f32[1,36] @"flatten"
%w3 = const dense<[{w3}]> : f32[5,36]
%y "y" = gemm(%f, %w3) {{alpha=1.0, beta=1.0, trans_a=false, trans_b=true}} : f32[1,5] @"fc"
outputs(%y)
"#,
        w1 = r.list(36, 0.6),
        b1 = r.list(4, 0.1),
        w2 = r.list(144, 0.3),
        w3 = r.list(180, 0.3),
    );
    ir::text::parse(&text).expect("the tiny model parses")
}

fn samples(n: usize) -> Vec<Vec<Tensor>> {
    let mut r = Lcg(11);
    (0..n)
        .map(|_| {
            let data = (0..36).map(|_| r.next()).collect();
            vec![Tensor::from_f32(Shape::from(vec![1, 1, 6, 6]), data)]
        })
        .collect()
}

/// The tiny model calibrated on `n` samples, and the context holding them.
fn calibrated(n: usize) -> (Graph, PassCtx) {
    let mut g = tiny_model();
    let ctx = PassCtx {
        calib: Some(Arc::new(samples(n))),
        ..PassCtx::default()
    };
    crate::calibrate::run(&mut g, &ctx).expect("calibrates");
    (g, ctx)
}

fn opts(drop: f64, cap: usize) -> SearchOptions {
    SearchOptions {
        max_accuracy_drop: drop,
        max_evaluations: cap,
        sensitivity_samples: 0,
        ..SearchOptions::default()
    }
}

/// Top-1 agreement of `layers` with float, computed independently of the search.
fn agreement(g: &Graph, ctx: &PassCtx, r: &SearchResult) -> f64 {
    let mut q = g.clone();
    r.apply_ranges(&mut q);
    let mut c = ctx.clone();
    c.quant.layers = r.layers.clone();
    crate::insert_qdq::run(&mut q, &c).expect("builds");
    crate::fuse_activations::run(&mut q, &c).expect("fuses");
    let s = ctx.calib.as_ref().expect("samples");
    let argmax = |t: &Tensor| {
        let x = t.as_f32().expect("f32");
        (0..x.len()).fold(0, |b, i| if x[i] > x[b] { i } else { b })
    };
    let same = s
        .iter()
        .filter(|smp| {
            let f = ir::interp::run_float(g, smp).expect("float runs");
            let y = ir::interp::run_float(&q, smp).expect("qdq runs");
            argmax(&f[0]) == argmax(&y[0])
        })
        .count();
    100.0 * same as f64 / s.len() as f64
}

#[test]
fn the_knobs_are_the_weights_and_the_own_activations() {
    let (g, ctx) = calibrated(8);
    let space = SearchSpace::new(&g, &ctx, &[8, 4, 2], &[16, 8, 4]).expect("space");
    let names: Vec<(String, KnobKind)> = space
        .knobs
        .iter()
        .map(|k| (k.name.clone(), k.kind))
        .collect();
    // conv1 and conv2 are fused with their relus; the flatten inherits relu2's parameters.
    let expect = [
        ("x", KnobKind::Activation),
        ("conv1", KnobKind::Weight),
        ("relu1", KnobKind::Activation),
        ("conv2", KnobKind::Weight),
        ("relu2", KnobKind::Activation),
        ("fc", KnobKind::Weight),
        ("fc", KnobKind::Activation),
    ];
    let expect: Vec<(String, KnobKind)> = expect.iter().map(|(n, k)| (n.to_string(), *k)).collect();
    assert_eq!(names, expect);
}

#[test]
fn the_cost_model_matches_the_built_program() {
    let (g, ctx) = calibrated(8);
    let space = SearchSpace::new(&g, &ctx, &[8, 6, 3, 2], &[16, 8, 4]).expect("space");
    let configs = [space.all8(), space.top(), vec![4, 3, 16, 2, 4, 6, 8]];
    for c in configs {
        let q = build_qdq(&g, &ctx, space.layers(&c), &space.ranges(&c)).expect("builds");
        assert_eq!(
            space.costs(&c),
            qdq_costs(&q, &ctx).expect("lowers"),
            "config {c:?}"
        );
    }
    let all8 = space.costs(&space.all8());
    // Weights 36 + 144 + 180 at 8 bits plus the i32 bias of conv1.
    assert_eq!(all8.weight_bytes, 36 + 144 + 180 + 4 * 4);
    // x, relu1, relu2 (the flatten shares relu2's size), fc.
    assert_eq!(all8.activation_bytes, 36 + 144 + 36 + 36 + 5);
    assert_eq!(all8.macs, 144 * 9 + 36 * 36 + 5 * 36);
    assert_eq!(all8.mult_cost, all8.macs * 64);
}

#[test]
fn the_result_meets_the_constraint_and_saves_memory() {
    let (g, ctx) = calibrated(24);
    let r = search(&g, &ctx, &opts(5.0, 30)).expect("searches");
    assert!(r.satisfied);
    assert!(
        r.chosen.complete && r.chosen.samples == 24,
        "{:?}",
        r.chosen
    );
    // At most floor(5% of 24) = 1 disagreement, checked independently.
    assert!(r.chosen.disagreements <= 1, "{:?}", r.chosen);
    let agree = agreement(&g, &ctx, &r);
    assert_eq!(agree, r.chosen.agreement_percent());
    assert!(agree >= 95.0, "{agree}");
    assert!(
        r.costs.memory() < r.baseline.memory(),
        "{:?} vs {:?}",
        r.costs,
        r.baseline
    );
    assert!(r.memory_saving_percent() > 0.0);
    assert!(r.evaluations <= 30);
}

#[test]
fn the_search_is_deterministic() {
    let (g, ctx) = calibrated(16);
    let a = search(&g, &ctx, &opts(10.0, 16)).expect("searches");
    let b = search(&g, &ctx, &opts(10.0, 16)).expect("searches");
    assert_eq!(a, b);
}

#[test]
fn the_evaluation_cap_is_respected() {
    let (g, ctx) = calibrated(8);
    for cap in [1, 2, 5] {
        let r = search(&g, &ctx, &opts(50.0, cap)).expect("searches");
        assert!(
            r.evaluations <= cap,
            "cap {cap}: {} evaluations",
            r.evaluations
        );
    }
}

#[test]
fn no_drop_allowed_keeps_full_agreement() {
    let (g, ctx) = calibrated(16);
    let r = search(&g, &ctx, &opts(0.0, 20)).expect("searches");
    if r.satisfied {
        assert_eq!(r.chosen.disagreements, 0);
        assert_eq!(agreement(&g, &ctx, &r), 100.0);
    }
}

#[test]
fn bad_options_and_inputs_are_errors() {
    let (g, ctx) = calibrated(4);
    let bad = [
        SearchOptions {
            max_accuracy_drop: -1.0,
            ..SearchOptions::default()
        },
        SearchOptions {
            max_evaluations: 0,
            ..SearchOptions::default()
        },
        SearchOptions {
            weight_bits: vec![1, 8],
            ..SearchOptions::default()
        },
        SearchOptions {
            activation_bits: vec![6],
            ..SearchOptions::default()
        },
    ];
    for o in bad {
        assert!(search(&g, &ctx, &o).is_err(), "{o:?}");
    }
    let float = tiny_model();
    assert!(search(&float, &ctx, &SearchOptions::default()).is_err());
    let no_calib = PassCtx::default();
    assert!(search(&g, &no_calib, &SearchOptions::default()).is_err());
    assert_eq!(float.ty(float.inputs[0]).dtype, DType::F32);
}

#[test]
fn the_sqnr_floor_is_respected() {
    let (g, ctx) = calibrated(16);
    let loose = search(&g, &ctx, &opts(50.0, 20)).expect("searches");
    let floor = SearchOptions {
        min_logit_sqnr_db: Some(30.0),
        ..opts(50.0, 20)
    };
    let r = search(&g, &ctx, &floor).expect("searches");
    assert!(r.satisfied);
    assert!(r.chosen.sqnr_db() >= 30.0, "{:?}", r.chosen);
    assert!(r.costs.memory() >= loose.costs.memory());
}

#[test]
fn activations_feeding_tables_stay_8_bit() {
    // relu2 replaced by a sigmoid: conv2's result feeds a table, which needs 8-bit inputs,
    // so it is no knob, and the chosen program lowers.
    let text = ir::text::print(&tiny_model())
        .replace("relu(%", "sigmoid(%")
        .replacen("sigmoid(%", "relu(%", 1);
    let mut g = ir::text::parse(&text).expect("parses");
    let ctx = PassCtx {
        calib: Some(Arc::new(samples(8))),
        ..PassCtx::default()
    };
    crate::calibrate::run(&mut g, &ctx).expect("calibrates");
    assert!(text.contains("sigmoid("), "{text}");
    let space = SearchSpace::new(&g, &ctx, &[8, 4, 2], &[16, 8, 4]).expect("space");
    let knobs: Vec<(String, KnobKind)> = space
        .knobs
        .iter()
        .map(|k| (k.name.clone(), k.kind))
        .collect();
    assert!(
        !knobs.contains(&("conv2".to_string(), KnobKind::Activation)),
        "{knobs:?}"
    );
    let r = search(&g, &ctx, &opts(100.0, 40)).expect("searches");
    let mut c = ctx.clone();
    c.quant.layers = r.layers.clone();
    let mut q = g.clone();
    r.apply_ranges(&mut q);
    crate::insert_qdq::run(&mut q, &c).expect("builds");
    crate::fuse_activations::run(&mut q, &c).expect("fuses");
    crate::lower_integer::run(&mut q, &c).expect("the chosen precision lowers");
}

/// conv(1->4) relu on 16x16, conv(4->4, stride 2) relu, flatten, gemm(256->5). Its integer
/// program's arena peaks while the quantized input (256 B) and relu1 (1024 B) are live
/// together at conv1 (its i32 accumulator is fused, no slot); relu2 (256 B) never sits in the
/// peak.
fn wide_model() -> Graph {
    let mut r = Lcg(5);
    let text = format!(
        r#"graph "wide" phase=float
inputs(%x)
%x "x" = input : f32[1,1,16,16]
%w1 = const dense<[{w1}]> : f32[4,1,3,3]
%c1 = conv(%x, %w1) {{strides=[1,1], pads=[1,1,1,1], dilations=[1,1], group=1}} : f32[1,4,16,16] @"conv1"
%r1 = relu(%c1) : f32[1,4,16,16] @"relu1"
%w2 = const dense<[{w2}]> : f32[4,4,3,3]
%c2 = conv(%r1, %w2) {{strides=[2,2], pads=[1,1,1,1], dilations=[1,1], group=1}} : f32[1,4,8,8] @"conv2"
%r2 = relu(%c2) : f32[1,4,8,8] @"relu2"
%f = reshape(%r2) : f32[1,256] @"flatten"
%w3 = const dense<[{w3}]> : f32[5,256]
%y "y" = gemm(%f, %w3) {{alpha=1.0, beta=1.0, trans_a=false, trans_b=true}} : f32[1,5] @"fc"
outputs(%y)
"#,
        w1 = r.list(36, 0.6),
        w2 = r.list(144, 0.3),
        w3 = r.list(1280, 0.1),
    );
    let mut g = ir::text::parse(&text).expect("the wide model parses");
    let mut s = Lcg(3);
    let samples: Vec<Vec<Tensor>> = (0..6)
        .map(|_| {
            let data = (0..256).map(|_| s.next()).collect();
            vec![Tensor::from_f32(Shape::from(vec![1, 1, 16, 16]), data)]
        })
        .collect();
    let ctx = PassCtx {
        calib: Some(Arc::new(samples)),
        ..PassCtx::default()
    };
    crate::calibrate::run(&mut g, &ctx).expect("calibrates");
    g
}

#[test]
fn the_arena_shrinks_with_the_peak_tensor_only() {
    let g = wide_model();
    let ctx = PassCtx {
        calib: Some(Arc::new(vec![vec![Tensor::from_f32(
            Shape::from(vec![1, 1, 16, 16]),
            vec![0.5; 256],
        )]])),
        ..PassCtx::default()
    };
    let space = SearchSpace::new(&g, &ctx, &[8, 4], &[8, 4]).expect("space");
    let knob = |name: &str| {
        space
            .knobs
            .iter()
            .position(|k| k.name == name && k.kind == KnobKind::Activation)
            .unwrap_or_else(|| panic!("no activation knob {name}: {:?}", space.knobs))
    };
    let all8 = space.all8();
    let with4 = |name: &str| {
        let mut c = all8.clone();
        c[knob(name)] = 4;
        c
    };
    let (peak4, other4) = (with4("relu1"), with4("relu2"));
    let measured = |c: &Config| {
        let q = build_qdq(&g, &ctx, space.layers(c), &space.ranges(c)).expect("builds");
        qdq_costs(&q, &ctx).expect("lowers")
    };
    for c in [&all8, &peak4, &other4] {
        assert_eq!(space.costs(c), measured(c), "config {c:?}");
    }
    let (base, peak, other) = (
        space.costs(&all8),
        space.costs(&peak4),
        space.costs(&other4),
    );
    // conv1's accumulator is fused into relu1's requant (no slot): the input and relu1,
    // live together at conv1, are the peak.
    assert_eq!(base.arena_bytes, 256 + 1024);
    assert_eq!(peak.arena_bytes, 256 + 512);
    // relu2 at 4 bits saves container bytes but not arena bytes.
    assert!(other.activation_bytes < base.activation_bytes, "{other:?}");
    assert_eq!(other.arena_bytes, base.arena_bytes);
    assert_eq!(base.memory(), base.weight_bytes + base.arena_bytes);
}

#[test]
fn the_default_sqnr_floor_scales_with_the_allowed_drop() {
    let at = |drop: f64, explicit: Option<f64>, all8: f64| {
        let o = SearchOptions {
            max_accuracy_drop: drop,
            min_logit_sqnr_db: explicit,
            ..SearchOptions::default()
        };
        super::search::sqnr_floor(&o, all8)
    };
    assert_eq!(at(1.0, None, 40.0), 15.0);
    assert!((at(2.0, None, 40.0) - (15.0 - 20.0 * 2f64.log10())).abs() < 1e-9);
    assert!((at(0.1, None, 40.0) - 35.0).abs() < 1e-9);
    // Never above what all-8-bit reaches; an explicit floor is taken as given.
    assert_eq!(at(1.0, None, 12.0), 12.0);
    assert_eq!(at(1.0, Some(30.0), 12.0), 30.0);
    assert_eq!(at(1.0, Some(f64::NEG_INFINITY), 12.0), f64::NEG_INFINITY);
}

#[test]
fn the_default_search_meets_its_sqnr_floor() {
    let (g, ctx) = calibrated(16);
    let r = search(&g, &ctx, &opts(1.0, 20)).expect("searches");
    assert!(r.satisfied);
    assert_eq!(r.sqnr_floor_db, r.all8.sqnr_db().min(15.0));
    assert!(r.chosen.sqnr_db() >= r.sqnr_floor_db, "{:?}", r.chosen);
    let off = SearchOptions {
        min_logit_sqnr_db: Some(f64::NEG_INFINITY),
        ..opts(1.0, 20)
    };
    let loose = search(&g, &ctx, &off).expect("searches");
    assert_eq!(loose.sqnr_floor_db, f64::NEG_INFINITY);
}

/// The independent cross-fitted agreement of `r`: each sample judged by the program whose
/// weights were fitted on the other fold (even / odd samples).
fn cross_fitted_agreement(g: &Graph, ctx: &PassCtx, r: &SearchResult) -> f64 {
    let s = ctx.calib.as_ref().expect("samples");
    let mut cal = g.clone();
    r.apply_ranges(&mut cal);
    let argmax = |t: &Tensor| {
        let x = t.as_f32().expect("f32");
        (0..x.len()).fold(0, |b, i| if x[i] > x[b] { i } else { b })
    };
    let mut same = 0;
    for fold in 0..2 {
        let fit: Vec<Vec<Tensor>> = s
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == fold)
            .map(|(_, x)| x.clone())
            .collect();
        let c = PassCtx {
            calib: Some(Arc::new(fit)),
            ..ctx.clone()
        };
        let q = build_qdq(&cal, &c, r.layers.clone(), &[]).expect("builds");
        for (_, smp) in s.iter().enumerate().filter(|(i, _)| i % 2 != fold) {
            let f = ir::interp::run_float(g, smp).expect("float runs");
            let y = ir::interp::run_float(&q, smp).expect("qdq runs");
            same += usize::from(argmax(&f[0]) == argmax(&y[0]));
        }
    }
    100.0 * same as f64 / s.len() as f64
}

#[test]
fn optimized_rounding_is_judged_on_samples_the_fit_has_not_seen() {
    let (g, mut ctx) = calibrated(24);
    ctx.quant.weight_rounding = crate::WeightRounding::Optimized;
    let r = search(&g, &ctx, &opts(10.0, 20)).expect("searches");
    assert!(r.satisfied);
    assert_eq!(r.chosen.samples, 24);
    assert_eq!(
        cross_fitted_agreement(&g, &ctx, &r),
        r.chosen.agreement_percent()
    );
    assert!(r.chosen.agreement_percent() >= 90.0, "{:?}", r.chosen);
    // The chosen program (fitted on the whole batch) has no float weights left.
    let q = build_qdq(&g, &ctx, r.layers.clone(), &r.ranges).expect("builds");
    assert!(q.node_ids().all(|n| {
        let node = q.node(n);
        !matches!(node.op, ir::Op::Quantize)
            || !matches!(q.producer(node.inputs[0]).op, ir::Op::Const(_))
    }));
}
