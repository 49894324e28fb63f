//! `lower-integer` end to end: small Qdq graphs built with the Graph API are lowered, the
//! result verifies as an Integer graph, and has the expected integer ops.

mod qdq;

use ir::{Op, Phase};
use passes::{PassCtx, PassError, PassManager};
use qdq::Qdq;

fn lower(g: &mut ir::Graph) -> Result<(), PassError> {
    PassManager::new(&["lower-integer"], PassCtx::default())?.run(g)?;
    Ok(())
}

fn mnemonics(g: &ir::Graph) -> Vec<&'static str> {
    let mut v: Vec<_> = g.node_ids().map(|n| g.node(n).op.mnemonic()).collect();
    v.sort();
    v
}

fn count(g: &ir::Graph, m: &str) -> usize {
    mnemonics(g).iter().filter(|x| **x == m).count()
}

#[test]
fn conv_relu_conv_add_pool_gemm_lowers_to_integers() {
    let mut b = Qdq::new(7);
    let x = b.input("x", &[1, 3, 8, 8], 0.02, 128);
    let c1 = b.conv(x, 8, 3, 1, 1, true, 0.05, 0);
    let c2 = b.conv(c1, 8, 3, 1, 1, false, 0.08, 120);
    let s = b.add(c1, c2, true, 0.06, 0);
    let p = b.max_pool(s, 2);
    let gp = b.global_avg_pool(p);
    let fl = b.reshape(gp, &[1, 8]);
    let y = b.gemm(fl, 5, 0.1, 128);
    let mut g = b.finish(&[y]);
    lower(&mut g).unwrap();
    assert_eq!(g.phase, Phase::Integer);
    let ops = mnemonics(&g);
    for float in ["conv", "relu", "add", "gemm", "global_average_pool"] {
        assert!(!ops.contains(&float), "{float} stayed: {ops:?}");
    }
    assert_eq!(count(&g, "conv_int"), 2, "{ops:?}");
    assert_eq!(count(&g, "gemm_int"), 1, "{ops:?}");
    assert_eq!(count(&g, "add_int"), 1, "{ops:?}");
    assert_eq!(count(&g, "avg_pool_int"), 1, "{ops:?}");
    assert_eq!(count(&g, "max_pool"), 1, "{ops:?}");
    // One requant per conv/gemm: the ReLU became its clamp.
    assert_eq!(count(&g, "requant"), 3, "{ops:?}");
    assert_eq!(count(&g, "quantize"), 1, "{ops:?}");
    assert_eq!(count(&g, "dequantize"), 1, "{ops:?}");
    let relu_requant = g.node_ids().find_map(|n| match &g.node(n).op {
        Op::Requant(r) if r.lo == 0 && g.ty(g.node(n).outputs[0]).quant.is_some() => {
            Some(r.clone())
        }
        _ => None,
    });
    assert!(relu_requant.is_some());
    assert_eq!(g.value(g.outputs[0]).name.as_deref(), Some("y"));
}

#[test]
fn a_float_only_op_is_named_in_the_error() {
    let mut b = Qdq::new(1);
    let x = b.input("x", &[1, 4], 0.1, 0);
    let y = b.input("y", &[1, 4], 0.1, 0);
    let d = b.div(x, y, 0.2, 0);
    let mut g = b.finish(&[d]);
    let before = ir::text::print(&g);
    let err = lower(&mut g).unwrap_err().to_string();
    assert!(
        err.contains("node `div1` (op div) has no integer form"),
        "{err}"
    );
    assert_eq!(
        ir::text::print(&g),
        before,
        "a failed lowering changed the graph"
    );
}

#[test]
fn gemm_with_negative_alpha_explains_itself() {
    let mut b = Qdq::new(2);
    let x = b.input("x", &[2, 4], 0.1, 0);
    let y = b.gemm_alpha(x, 3, -1.0, 0.1, 0);
    let mut g = b.finish(&[y]);
    let err = lower(&mut g).unwrap_err().to_string();
    assert!(
        err.contains("(op gemm) gemm alpha -1 is not positive"),
        "{err}"
    );
}

#[test]
fn stats_report_saturation() {
    let mut b = Qdq::new(3);
    let x = b.input("x", &[1, 3, 8, 8], 0.02, 128);
    let c = b.conv(x, 4, 3, 1, 1, true, 0.05, 0);
    let mut g = b.finish(&[c]);
    let r = passes::lower_integer::lower(
        &mut g,
        &PassCtx::default(),
        &passes::egraph::Limits::default(),
    )
    .unwrap();
    assert_eq!(r.stop_reason, "saturated");
    assert!(r.cost < passes::egraph::INFEASIBLE);
}

/// Runs the Qdq graph with the float interpreter and its lowering with the integer
/// interpreter on the same input; returns (elements, elements more than 1 LSB apart).
fn agreement(mut g: ir::Graph, shape: &[usize], out_scale: f32) -> (usize, usize) {
    let n: usize = shape.iter().product();
    let x = ir::Tensor::from_f32(
        shape.to_vec(),
        (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.03)
            .collect(),
    );
    let want = ir::interp::run_float(&g, std::slice::from_ref(&x)).unwrap();
    lower(&mut g).unwrap();
    let got = ir::interp::int::run_int(&g, &[x]).unwrap();
    let (w, o) = (want[0].as_f32().unwrap(), got[0].as_f32().unwrap());
    let far = w
        .iter()
        .zip(o)
        .filter(|(a, b)| (*a - *b).abs() > 1.01 * out_scale)
        .count();
    (w.len(), far)
}

#[test]
fn integer_program_agrees_with_the_qdq_graph() {
    let mut b = Qdq::new(11);
    let x = b.input("x", &[1, 3, 8, 8], 0.02, 128);
    let c1 = b.conv(x, 8, 3, 1, 1, true, 0.05, 0);
    let c2 = b.conv(c1, 8, 3, 1, 1, false, 0.08, 120);
    let s = b.add(c1, c2, true, 0.06, 0);
    let p = b.max_pool(s, 2);
    let a = b.pool(p, 2, 1, 0, false);
    let gp = b.global_avg_pool(a);
    let fl = b.reshape(gp, &[1, 8]);
    let y = b.gemm(fl, 5, 0.1, 128);
    let (total, far) = agreement(b.finish(&[y]), &[1, 3, 8, 8], 0.1);
    assert_eq!(far, 0, "{far} of {total} outputs more than 1 LSB apart");

    let mut b = Qdq::new(12);
    let x = b.input("x", &[1, 2, 4, 4], 0.05, 128);
    let sg = b.unary(Op::Sigmoid, x, 1.0 / 256.0, 0);
    let y = b.unary(Op::Tanh, sg, 1.0 / 128.0, 128);
    let (total, far) = agreement(b.finish(&[y]), &[1, 2, 4, 4], 1.0 / 128.0);
    assert_eq!(far, 0, "{far} of {total} outputs more than 1 LSB apart");
}

#[test]
fn softmax_classifier_agrees_with_the_qdq_graph() {
    let mut b = Qdq::new(13);
    let x = b.input("x", &[2, 16], 0.05, 128);
    let logits = b.gemm(x, 10, 0.08, 120);
    let p = b.unary(
        Op::Softmax(ir::SoftmaxAttrs { axis: 1 }),
        logits,
        1.0 / 256.0,
        0,
    );
    let g = b.finish(&[p]);
    let mut lowered = g.clone();
    lower(&mut lowered).unwrap();
    assert_eq!(
        count(&lowered, "softmax_int"),
        1,
        "{:?}",
        mnemonics(&lowered)
    );
    assert_eq!(count(&lowered, "softmax"), 0);
    let (total, far) = agreement(g, &[2, 16], 1.0 / 256.0);
    assert!(
        far * 10 <= total,
        "{far} of {total} outputs more than 1 LSB apart"
    );
}

#[test]
fn gemm_with_alpha_and_beta_lowers_and_agrees() {
    for (alpha, beta) in [(0.5f32, 1.0f32), (2.0, 0.25)] {
        let mut b = Qdq::new(14);
        let x = b.input("x", &[2, 8], 0.05, 128);
        let y = b.gemm_alpha_beta(x, 6, alpha, beta, 0.1, 128);
        let g = b.finish(&[y]);
        let mut lowered = g.clone();
        lower(&mut lowered).unwrap();
        assert_eq!(count(&lowered, "gemm_int"), 1);
        let (total, far) = agreement(g, &[2, 8], 0.1);
        assert_eq!(far, 0, "alpha {alpha} beta {beta}: {far} of {total} apart");
    }
}
