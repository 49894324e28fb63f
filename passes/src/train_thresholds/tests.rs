//! The search on a small graph whose activations carry rare outliers.

use super::*;
use crate::calibrate::Method;
use crate::{CalibrationMethod, PassCtx};
use ir::{DType, Op, TensorType};
use std::sync::Arc;

/// xorshift64*: a tiny deterministic generator, so the tests need no `rand`.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn normal(&mut self) -> f32 {
        let u = ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let v = ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// `x -> relu -> sigmoid -> y`: a saturating function of an input whose bulk is N(0, 1)
/// and which holds a few outliers at +-40. Minmax spends the 8-bit grid on the outliers; the
/// sigmoid does not care whether 40 arrives as 40 or as 8.
fn outlier_graph() -> Graph {
    let mut g = Graph::new("outliers");
    let x = g.add_input("x", TensorType::f32(vec![1, 64]));
    let r = g.add_simple(Op::Relu, vec![x], TensorType::f32(vec![1, 64]), "relu");
    let y = g.add_simple(Op::Sigmoid, vec![r], TensorType::f32(vec![1, 64]), "sig");
    g.value_mut(y).name = Some("y".into());
    g.outputs.push(y);
    g
}

fn outlier_batch() -> Vec<Vec<Tensor>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..24)
        .map(|i| {
            let mut xs: Vec<f32> = (0..64).map(|_| rng.normal()).collect();
            if i % 8 == 3 {
                xs[i % 64] = 40.0;
                xs[(i + 7) % 64] = -40.0;
            }
            vec![Tensor::from_f32(vec![1, 64], xs)]
        })
        .collect()
}

fn calibrated(method: Method) -> (Graph, PassCtx) {
    let mut g = outlier_graph();
    let ctx = PassCtx {
        calib: Some(Arc::new(outlier_batch())),
        calibration: CalibrationMethod(method),
        ..PassCtx::default()
    };
    crate::calibrate::run(&mut g, &ctx).expect("calibrates");
    (g, ctx)
}

fn ranges(g: &Graph) -> Vec<(ValueId, Option<ValueRange>)> {
    g.value_ids().map(|v| (v, g.value(v).range)).collect()
}

#[test]
fn trained_factors_lower_the_output_error_of_minmax() {
    let (mut g, ctx) = calibrated(Method::Trained);
    let (minmax, _) = calibrated(Method::MinMax);
    assert_eq!(ranges(&g), ranges(&minmax), "trained starts from minmax");
    let report = train(&mut g, &ctx, &TrainConfig::default()).expect("trains");
    // Both the input and the relu result are trainable; the output keeps its range.
    assert_eq!(report.alphas.len(), 2, "{report:?}");
    assert!(
        report.alphas.iter().all(|&(_, a)| a < 0.5),
        "the outliers should be clipped: {report:?}"
    );
    assert!(
        report.final_error < 0.25 * report.initial_error,
        "at least 6 dB better than minmax: {report:?}"
    );
    assert!(report.evals <= TrainConfig::default().max_evals);
    // The ranges written back still contain 0 and are non-empty.
    for (v, r) in ranges(&g) {
        if let Some(r) = r {
            assert!(r.lo <= 0.0 && 0.0 <= r.hi && r.lo < r.hi, "{v}: {r:?}");
        }
    }
    // The trained graph's error, measured from scratch, is the reported one.
    let again = train(
        &mut g.clone(),
        &ctx,
        &TrainConfig {
            sweeps: 0,
            ..TrainConfig::default()
        },
    )
    .expect("evaluates");
    assert_eq!(again.initial_error, report.final_error);
}

#[test]
fn training_is_deterministic_and_respects_the_evaluation_cap() {
    let (g0, ctx) = calibrated(Method::Trained);
    let (mut a, mut b) = (g0.clone(), g0.clone());
    let ra = train(&mut a, &ctx, &TrainConfig::default()).expect("trains");
    let rb = train(&mut b, &ctx, &TrainConfig::default()).expect("trains");
    assert_eq!(ra, rb);
    assert_eq!(ranges(&a), ranges(&b));
    let mut c = g0.clone();
    let capped = TrainConfig {
        max_evals: 3,
        ..TrainConfig::default()
    };
    let rc = train(&mut c, &ctx, &capped).expect("trains");
    assert_eq!(rc.evals, 3);
    assert!(rc.final_error <= rc.initial_error);
}

#[test]
fn the_pass_needs_a_calibrated_graph_and_a_batch() {
    let mut g = outlier_graph();
    let err = run(&mut g, &PassCtx::default()).expect_err("float graph");
    assert!(err.to_string().contains("calibrated graph"), "{err}");
    let (mut g, _) = calibrated(Method::Trained);
    let err = run(&mut g, &PassCtx::default()).expect_err("no batch");
    assert!(err.to_string().contains("calibration batch"), "{err}");
    assert_eq!(g.ty(g.inputs[0]).dtype, DType::F32);
}
