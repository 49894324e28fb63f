//! One `"lhs" => "rhs"` test per rule: the left side is added to a fresh e-graph, the named
//! rule runs to saturation, and the right side (with the attributes the rule must compute,
//! interned in the same tables) must land in the same e-class.

use super::*;
use crate::egraph::analysis::{QAnalysis, attr, value_ty};
use crate::egraph::lang::{QLang, Tables};
use crate::egraph::{Limits, saturate};
use egg::{RecExpr, StopReason};
use ir::arith::{QuantizedMultiplier, RoundingMode, quantize, reciprocal};
use ir::*;

struct T {
    eg: EG,
}

fn q(dtype: DType, shape: &[usize], s: f32, zp: i32) -> TensorType {
    TensorType {
        dtype,
        shape: Shape(shape.to_vec()),
        quant: Some(QuantParams::per_tensor(dtype, s, zp)),
    }
}

fn f(shape: &[usize]) -> TensorType {
    TensorType::f32(shape.to_vec())
}

fn per_axis(dtype: DType, shape: &[usize], axis: usize, scales: Vec<f32>) -> TensorType {
    let n = scales.len();
    TensorType {
        dtype,
        shape: Shape(shape.to_vec()),
        quant: Some(QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis,
                scales,
                zero_points: vec![0; n],
            },
            bits: dtype.bits(),
            pow2: false,
        }),
    }
}

fn qm(x: f64) -> QuantizedMultiplier {
    ir::arith::quantize_multiplier(x).unwrap()
}

impl T {
    fn new() -> T {
        T {
            eg: EG::new(QAnalysis::new(Tables::default(), RoundingMode::HalfUp)),
        }
    }

    fn t(&mut self, ty: &TensorType) -> String {
        self.eg.analysis.tables.ty(ty).to_string()
    }

    fn a(&mut self, op: &Op) -> String {
        self.eg.analysis.tables.attr(op).to_string()
    }

    /// A fresh graph input of type `ty`, as an s-expression.
    fn input(&mut self, ty: &TensorType) -> String {
        format!("(input {} {})", self.t(ty), self.a(&Op::Input))
    }

    /// A constant, as an s-expression.
    fn konst(&mut self, ty: &TensorType, data: TensorData) -> String {
        let value = Tensor {
            dtype: ty.dtype,
            shape: ty.shape.clone(),
            data,
        };
        format!(
            "(const {} {})",
            self.t(ty),
            self.a(&Op::Const(ConstAttrs { value }))
        )
    }

    /// `(dequantize f x)`.
    fn dq(&mut self, ty: &TensorType, x: &str) -> String {
        format!(
            "(dequantize {} {} {x})",
            self.t(ty),
            self.a(&Op::Dequantize)
        )
    }

    fn add(&mut self, s: &str) -> Id {
        let e: RecExpr<QLang> = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        self.eg.add_expr(&e)
    }

    fn run(&mut self, names: &[&str]) {
        let rules: Vec<Rewrite> = all_rules()
            .into_iter()
            .filter(|r| names.contains(&r.name.as_str()))
            .collect();
        assert_eq!(rules.len(), names.len(), "unknown rule in {names:?}");
        let eg = std::mem::replace(
            &mut self.eg,
            EG::new(QAnalysis::new(Tables::default(), RoundingMode::HalfUp)),
        );
        let limits = Limits {
            iterations: 20,
            nodes: 10_000,
            time: std::time::Duration::from_secs(60),
        };
        let runner = saturate(eg, &rules, &limits);
        assert!(
            matches!(runner.stop_reason, Some(StopReason::Saturated)),
            "{:?}",
            runner.stop_reason
        );
        self.eg = runner.egraph;
    }

    /// `lhs => rhs` under `rules`.
    fn check(&mut self, rules: &[&str], lhs: &str, rhs: &str) {
        let l = self.add(lhs);
        self.run(rules);
        let r = self.add(rhs);
        self.eg.rebuild();
        assert_eq!(
            self.eg.find(l),
            self.eg.find(r),
            "{rules:?}: {lhs} => {rhs} did not hold"
        );
    }

    /// `lhs` stays alone in its class (the rule declines).
    fn declines(&mut self, rules: &[&str], lhs: &str) -> Id {
        let l = self.add(lhs);
        self.run(rules);
        assert_eq!(self.eg[l].nodes.len(), 1, "{rules:?} fired on {lhs}");
        l
    }

    /// The attributes of the first node of `kind` in the class of `id`.
    fn find_op(&self, id: Id, kind: &str) -> Op {
        self.eg[id]
            .nodes
            .iter()
            .find(|n| n.to_string() == kind)
            .and_then(|n| n.parts())
            .and_then(|(_, a, _)| attr(&self.eg, a).cloned())
            .unwrap_or_else(|| panic!("no {kind} in the class"))
    }
}

fn rq(multipliers: Vec<QuantizedMultiplier>, axis: usize, lo: i32, hi: i32) -> Op {
    Op::Requant(RequantAttrs {
        multipliers,
        axis,
        rounding: RoundingMode::HalfUp,
        lo,
        hi,
    })
}

const S4: [usize; 4] = [1, 2, 4, 4];

#[test]
fn cancel_quantize_dequantize() {
    let mut t = T::new();
    let qx = q(DType::U8, &S4, 0.5, 10);
    let x = t.input(&qx);
    let d = t.dq(&f(&S4), &x);
    let lhs = format!("(quantize {} {} {d})", t.t(&qx), t.a(&Op::Quantize));
    t.check(&["cancel-quantize-dequantize"], &lhs, &x);
}

#[test]
fn quantize_dequantize_to_requant() {
    let mut t = T::new();
    let (qx, qy) = (q(DType::U8, &S4, 0.5, 10), q(DType::U8, &S4, 0.25, 3));
    let x = t.input(&qx);
    let d = t.dq(&f(&S4), &x);
    let lhs = format!("(quantize {} {} {d})", t.t(&qy), t.a(&Op::Quantize));
    let rhs = format!(
        "(requant {} {} {x})",
        t.t(&qy),
        t.a(&rq(vec![qm(2.0)], 0, 0, 255))
    );
    t.check(&["quantize-dequantize-to-requant"], &lhs, &rhs);
    // Equal parameters are the cancel rule's business, not this one's.
    let mut t = T::new();
    let x = t.input(&qx);
    let d = t.dq(&f(&S4), &x);
    let lhs = format!("(quantize {} {} {d})", t.t(&qx), t.a(&Op::Quantize));
    t.declines(&["quantize-dequantize-to-requant"], &lhs);
}

#[test]
fn requant_of_requant_with_a_clamp_is_exact() {
    let mut t = T::new();
    let (qx, qy) = (q(DType::U8, &S4, 0.5, 10), q(DType::U8, &S4, 0.25, 3));
    let x = t.input(&qx);
    let inner = format!(
        "(requant {} {} {x})",
        t.t(&qy),
        t.a(&rq(vec![qm(2.0)], 0, 0, 255))
    );
    let outer = rq(vec![QuantizedMultiplier::ONE], 0, 3, 200);
    let lhs = format!("(requant {} {} {inner})", t.t(&qy), t.a(&outer));
    let rhs = format!(
        "(requant {} {} {x})",
        t.t(&qy),
        t.a(&rq(vec![qm(2.0)], 0, 3, 200))
    );
    t.check(&["requant-of-requant"], &lhs, &rhs);
}

#[test]
fn requant_of_requant_general_uses_the_scale_ratio() {
    let mut t = T::new();
    let acc = per_axis(DType::I32, &S4, 1, vec![0.01, 0.02]);
    let (qm1, qy) = (q(DType::U8, &S4, 0.5, 10), q(DType::I8, &S4, 0.25, -3));
    let x = t.input(&acc);
    let m1 = rq(vec![qm(0.02), qm(0.04)], 1, 0, 255);
    let inner = format!("(requant {} {} {x})", t.t(&qm1), t.a(&m1));
    let lhs = format!(
        "(requant {} {} {inner})",
        t.t(&qy),
        t.a(&rq(vec![qm(2.0)], 0, -128, 127))
    );
    // The inner range [0, 255] maps to [-23, 487] and is intersected with [-128, 127].
    let want = rq(
        vec![qm(f64::from(0.01f32) / 0.25), qm(f64::from(0.02f32) / 0.25)],
        1,
        -23,
        127,
    );
    let rhs = format!("(requant {} {} {x})", t.t(&qy), t.a(&want));
    t.check(&["requant-of-requant"], &lhs, &rhs);
}

#[test]
fn requant_identity() {
    let mut t = T::new();
    let qx = q(DType::U8, &S4, 0.5, 10);
    let x = t.input(&qx);
    let lhs = format!(
        "(requant {} {} {x})",
        t.t(&qx),
        t.a(&rq(vec![QuantizedMultiplier::ONE], 0, 0, 255))
    );
    t.check(&["requant-identity"], &lhs, &x);
    let mut t = T::new();
    let x = t.input(&qx);
    let lhs = format!(
        "(requant {} {} {x})",
        t.t(&qx),
        t.a(&rq(vec![QuantizedMultiplier::ONE], 0, 10, 255))
    );
    t.declines(&["requant-identity"], &lhs);
}

#[test]
fn quantize_of_relu() {
    let mut t = T::new();
    let (qx, qy) = (q(DType::U8, &S4, 0.5, 10), q(DType::U8, &S4, 0.25, 3));
    let x = t.input(&qx);
    let d = t.dq(&f(&S4), &x);
    let relu = format!("(relu {} {} {d})", t.t(&f(&S4)), t.a(&Op::Relu));
    let aq = t.a(&Op::Quantize);
    let lhs = format!("(quantize {} {aq} {relu})", t.t(&qy));
    let clamp = rq(vec![QuantizedMultiplier::ONE], 0, 3, 255);
    let rhs = format!(
        "(requant {0} {1} (quantize {0} {aq} {d}))",
        t.t(&qy),
        t.a(&clamp)
    );
    t.check(&["quantize-of-relu"], &lhs, &rhs);
}

#[test]
fn quantize_of_clip() {
    let mut t = T::new();
    let (qx, qy) = (q(DType::U8, &S4, 0.5, 10), q(DType::U8, &S4, 0.1, 10));
    let x = t.input(&qx);
    let d = t.dq(&f(&S4), &x);
    let clip = Op::Clip(ClipAttrs {
        min: -0.5,
        max: 3.0,
    });
    let c = format!("(clip {} {} {d})", t.t(&f(&S4)), t.a(&clip));
    let aq = t.a(&Op::Quantize);
    let lhs = format!("(quantize {} {aq} {c})", t.t(&qy));
    let lo = quantize(-0.5, reciprocal(0.1), 10, 0, 255);
    let hi = quantize(3.0, reciprocal(0.1), 10, 0, 255);
    assert_eq!((lo, hi), (5, 40));
    let clamp = rq(vec![QuantizedMultiplier::ONE], 0, lo, hi);
    let rhs = format!(
        "(requant {0} {1} (quantize {0} {aq} {d}))",
        t.t(&qy),
        t.a(&clamp)
    );
    t.check(&["quantize-of-clip"], &lhs, &rhs);
}

fn add_attrs(lo: i32, hi: i32) -> AddIntAttrs {
    AddIntAttrs {
        shift: 20,
        ma: qm(0.5),
        mb: qm(0.25),
        mo: qm(1.0 / 1024.0),
        rounding: RoundingMode::HalfUp,
        lo,
        hi,
    }
}

#[test]
fn add_to_add_int_then_clamp_into_add_int() {
    let mut t = T::new();
    let (qa, qb, qy) = (
        q(DType::U8, &S4, 0.5, 10),
        q(DType::U8, &S4, 0.25, 0),
        q(DType::U8, &S4, 2.0, 7),
    );
    let a = t.input(&qa);
    let b = t.input(&qb);
    let (da, db) = (t.dq(&f(&S4), &a), t.dq(&f(&S4), &b));
    let add = format!("(add {} {} {da} {db})", t.t(&f(&S4)), t.a(&Op::Add));
    let lhs = format!("(quantize {} {} {add})", t.t(&qy), t.a(&Op::Quantize));
    // ma = 0.5 / 1, mb = 0.25 / 1, mo = 1 / (2^20 * 2).
    let mut want = add_attrs(0, 255);
    want.mo = qm(1.0 / f64::from(1u32 << 21));
    let rhs = format!(
        "(add_int {} {} {a} {b})",
        t.t(&qy),
        t.a(&Op::AddInt(want.clone()))
    );
    t.check(&["add-to-add-int"], &lhs, &rhs);

    let clamp = rq(vec![QuantizedMultiplier::ONE], 0, 7, 255);
    let lhs = format!("(requant {} {} {rhs})", t.t(&qy), t.a(&clamp));
    want.lo = 7;
    let rhs = format!("(add_int {} {} {a} {b})", t.t(&qy), t.a(&Op::AddInt(want)));
    t.check(&["clamp-into-add-int"], &lhs, &rhs);
}

#[test]
fn mul_to_mul_int_then_clamp_into_mul_int() {
    let mut t = T::new();
    let (qa, qb, qy) = (
        q(DType::I8, &S4, 0.5, 0),
        q(DType::I8, &S4, 0.25, 1),
        q(DType::I8, &S4, 0.5, -2),
    );
    let a = t.input(&qa);
    let b = t.input(&qb);
    let (da, db) = (t.dq(&f(&S4), &a), t.dq(&f(&S4), &b));
    let mul = format!("(mul {} {} {da} {db})", t.t(&f(&S4)), t.a(&Op::Mul));
    let lhs = format!("(quantize {} {} {mul})", t.t(&qy), t.a(&Op::Quantize));
    let mut want = MulIntAttrs {
        m: qm(0.25),
        rounding: RoundingMode::HalfUp,
        lo: -128,
        hi: 127,
    };
    let rhs = format!(
        "(mul_int {} {} {a} {b})",
        t.t(&qy),
        t.a(&Op::MulInt(want.clone()))
    );
    t.check(&["mul-to-mul-int"], &lhs, &rhs);
    let clamp = rq(vec![QuantizedMultiplier::ONE], 0, -2, 100);
    let lhs = format!("(requant {} {} {rhs})", t.t(&qy), t.a(&clamp));
    (want.lo, want.hi) = (-2, 100);
    let rhs = format!("(mul_int {} {} {a} {b})", t.t(&qy), t.a(&Op::MulInt(want)));
    t.check(&["clamp-into-mul-int"], &lhs, &rhs);
}

/// A 1x1 conv 2 -> 3 channels with per-channel weights, in Qdq form.
struct ConvCase {
    t: T,
    x: String,
    w: String,
    dx: String,
    dw: String,
    acc: Vec<f32>,
}

fn conv_case(w_shape: &[usize], w_axis: usize, w_scales: Vec<f32>) -> ConvCase {
    let mut t = T::new();
    let qx = q(DType::U8, &S4, 0.5, 10);
    let x = t.input(&qx);
    let tw = per_axis(DType::I8, w_shape, w_axis, w_scales.clone());
    let n: usize = w_shape.iter().product();
    let w = t.konst(&tw, TensorData::I8((0..n).map(|i| i as i8 - 3).collect()));
    let dx = t.dq(&f(&S4), &x);
    let dw = t.dq(&f(w_shape), &w);
    let acc = w_scales.iter().map(|s| 0.5 * s).collect();
    ConvCase {
        t,
        x,
        w,
        dx,
        dw,
        acc,
    }
}

fn conv_attrs() -> ConvAttrs {
    ConvAttrs {
        strides: vec![1, 1],
        pads: vec![0; 4],
        dilations: vec![1, 1],
        group: 1,
    }
}

#[test]
fn conv_to_conv_int() {
    let ConvCase {
        mut t,
        x,
        w,
        dx,
        dw,
        acc,
    } = conv_case(&[3, 2, 1, 1], 0, vec![0.1, 0.2, 0.3]);
    let out = [1, 3, 4, 4];
    let tb = per_axis(DType::I32, &[3], 0, acc.clone());
    let b = t.konst(&tb, TensorData::I32(vec![5, -6, 7]));
    let db = t.dq(&f(&[3]), &b);
    let conv = Op::Conv(conv_attrs());
    let lhs = format!("(conv {} {} {dx} {dw} {db})", t.t(&f(&out)), t.a(&conv));
    let acc_ty = acc_type(&Shape(out.to_vec()), 1, acc);
    let ci = Op::ConvInt(ConvIntAttrs { conv: conv_attrs() });
    let rhs = format!(
        "(dequantize {} {} (conv_int {} {} {x} {w} {b}))",
        t.t(&f(&out)),
        t.a(&Op::Dequantize),
        t.t(&acc_ty),
        t.a(&ci)
    );
    t.check(&["conv-to-conv-int"], &lhs, &rhs);
}

#[test]
fn conv_without_bias_and_with_float_bias() {
    let ConvCase {
        mut t,
        x,
        w,
        dx,
        dw,
        acc,
    } = conv_case(&[3, 2, 1, 1], 0, vec![0.1, 0.2, 0.3]);
    let out = [1, 3, 4, 4];
    let conv = Op::Conv(conv_attrs());
    let lhs = format!("(conv {} {} {dx} {dw} none)", t.t(&f(&out)), t.a(&conv));
    let acc_ty = acc_type(&Shape(out.to_vec()), 1, acc.clone());
    let ci = Op::ConvInt(ConvIntAttrs { conv: conv_attrs() });
    let rhs = format!(
        "(dequantize {} {} (conv_int {} {} {x} {w} none))",
        t.t(&f(&out)),
        t.a(&Op::Dequantize),
        t.t(&acc_ty),
        t.a(&ci)
    );
    t.check(&["conv-to-conv-int"], &lhs, &rhs);
    // A float bias is quantized at compile time: round(b / (s_x s_w[m])).
    let fb = t.konst(&f(&[3]), TensorData::F32(vec![0.5, -0.5, 0.075]));
    let lhs = format!("(conv {} {} {dx} {dw} {fb})", t.t(&f(&out)), t.a(&conv));
    let l = t.add(&lhs);
    t.run(&["conv-to-conv-int"]);
    let dq = t.eg[l]
        .nodes
        .iter()
        .find(|n| matches!(n, QLang::Dequantize(_)))
        .cloned();
    let Some(QLang::Dequantize([_, _, c])) = dq else {
        panic!("conv not lowered")
    };
    let QLang::ConvInt([_, _, _, _, b]) = t.eg[c].nodes[0].clone() else {
        panic!("no conv_int")
    };
    let bias = crate::egraph::analysis::const_tensor(&t.eg, b).unwrap();
    assert_eq!(bias.data, TensorData::I32(vec![10, -5, 0]));
    assert_eq!(value_ty(&t.eg, b).unwrap().dtype, DType::I32);
}

#[test]
fn conv_transpose_to_conv_transpose_int() {
    // w [C=2, M=3, 1, 1], per channel along axis 1.
    let ConvCase {
        mut t,
        x,
        w,
        dx,
        dw,
        acc,
    } = conv_case(&[2, 3, 1, 1], 1, vec![0.1, 0.2, 0.3]);
    let out = [1, 3, 4, 4];
    let a = ConvTransposeAttrs {
        strides: vec![1, 1],
        pads: vec![0; 4],
        dilations: vec![1, 1],
        group: 1,
        output_padding: vec![0, 0],
    };
    let lhs = format!(
        "(conv_transpose {} {} {dx} {dw} none)",
        t.t(&f(&out)),
        t.a(&Op::ConvTranspose(a.clone()))
    );
    let acc_ty = acc_type(&Shape(out.to_vec()), 1, acc);
    let ci = Op::ConvTransposeInt(ConvTransposeIntAttrs { conv: a });
    let rhs = format!(
        "(dequantize {} {} (conv_transpose_int {} {} {x} {w} none))",
        t.t(&f(&out)),
        t.a(&Op::Dequantize),
        t.t(&acc_ty),
        t.a(&ci)
    );
    t.check(&["conv-transpose-to-conv-transpose-int"], &lhs, &rhs);
}

fn gemm_case(alpha: f32, trans_a: bool) -> (T, String, String, Option<String>) {
    let mut t = T::new();
    let xs: &[usize] = if trans_a { &[4, 2] } else { &[2, 4] };
    let qx = q(DType::U8, xs, 0.5, 10);
    let x = t.input(&qx);
    let tw = per_axis(DType::I8, &[3, 4], 0, vec![0.1, 0.2, 0.4]);
    let w = t.konst(&tw, TensorData::I8(vec![1; 12]));
    let (dx, dw) = (t.dq(&f(xs), &x), t.dq(&f(&[3, 4]), &w));
    let g = Op::Gemm(GemmAttrs {
        alpha,
        beta: alpha,
        trans_a,
        trans_b: true,
    });
    let lhs = format!("(gemm {} {} {dx} {dw} none)", t.t(&f(&[2, 3])), t.a(&g));
    let acc: Vec<f32> = [0.1f32, 0.2, 0.4].iter().map(|s| 0.5 * s * alpha).collect();
    let acc_ty = acc_type(&Shape(vec![2, 3]), 1, acc);
    let xt = if trans_a {
        let perm = Op::Transpose(TransposeAttrs { perm: vec![1, 0] });
        format!(
            "(transpose {} {} {x})",
            t.t(&q(DType::U8, &[2, 4], 0.5, 10)),
            t.a(&perm)
        )
    } else {
        x
    };
    let gi = Op::GemmInt(GemmIntAttrs { trans_b: true });
    let rhs = (alpha > 0.0).then(|| {
        format!(
            "(dequantize {} {} (gemm_int {} {} {xt} {w} none))",
            t.t(&f(&[2, 3])),
            t.a(&Op::Dequantize),
            t.t(&acc_ty),
            t.a(&gi)
        )
    });
    (t, lhs, String::new(), rhs)
}

#[test]
fn gemm_to_gemm_int() {
    for (alpha, trans_a) in [(1.0, false), (1.0, true)] {
        let (mut t, lhs, _, rhs) = gemm_case(alpha, trans_a);
        t.check(&["gemm-to-gemm-int"], &lhs, &rhs.unwrap());
    }
    // alpha > 0 is folded into the weight scales: same integers, scales times alpha.
    let (mut t, lhs, _, _) = gemm_case(2.0, false);
    let l = t.add(&lhs);
    t.run(&["gemm-to-gemm-int"]);
    let gi = t.eg[l]
        .nodes
        .iter()
        .find(|n| n.to_string() == "dequantize")
        .map(|n| n.parts().unwrap().2[0])
        .expect("lowered");
    let w = t.eg[gi].nodes[0].parts().unwrap().2[1];
    let tw = value_ty(&t.eg, w).unwrap();
    assert_eq!(
        scales(tw),
        Some((Some(0), vec![0.2f32, 0.4, 0.8])),
        "alpha folded into the weight scales"
    );
    let (mut t, lhs, _, _) = gemm_case(-1.0, false);
    let l = t.declines(&["gemm-to-gemm-int"], &lhs);
    assert!(
        t.eg.analysis
            .notes
            .iter()
            .any(|(i, m)| *i == l && m.contains("alpha"))
    );
}

#[test]
fn matmul_to_matmul_int() {
    let mut t = T::new();
    let (qa, qb) = (
        q(DType::I8, &[2, 3], 0.5, 1),
        q(DType::U8, &[3, 4], 0.25, 128),
    );
    let (a, b) = (t.input(&qa), t.input(&qb));
    let (da, db) = (t.dq(&f(&[2, 3]), &a), t.dq(&f(&[3, 4]), &b));
    let lhs = format!(
        "(matmul {} {} {da} {db})",
        t.t(&f(&[2, 4])),
        t.a(&Op::MatMul)
    );
    let acc = TensorType {
        dtype: DType::I32,
        shape: Shape(vec![2, 4]),
        quant: Some(QuantParams::per_tensor(DType::I32, 0.125, 0)),
    };
    let rhs = format!(
        "(dequantize {} {} (matmul_int {} {} {a} {b}))",
        t.t(&f(&[2, 4])),
        t.a(&Op::Dequantize),
        t.t(&acc),
        t.a(&Op::MatMulInt)
    );
    t.check(&["matmul-to-matmul-int"], &lhs, &rhs);
}

fn pool_attrs(k: usize, s: usize) -> PoolAttrs {
    PoolAttrs {
        kernel: vec![k, k],
        strides: vec![s, s],
        pads: vec![0; 4],
        dilations: vec![1, 1],
        ceil_mode: false,
    }
}

#[test]
fn average_pools_to_avg_pool_int() {
    let out = [1, 2, 2, 2];
    let ap = AvgPoolAttrs {
        pool: pool_attrs(2, 2),
        count_include_pad: false,
    };
    let global = AvgPoolAttrs {
        pool: pool_attrs(4, 1),
        count_include_pad: false,
    };
    for (rule, op, out, pool) in [
        (
            "average-pool-to-avg-pool-int",
            Op::AveragePool(ap.clone()),
            &out[..],
            ap,
        ),
        (
            "global-average-pool-to-avg-pool-int",
            Op::GlobalAveragePool,
            &[1, 2, 1, 1][..],
            global,
        ),
    ] {
        let mut t = T::new();
        let qx = q(DType::U8, &S4, 0.5, 10);
        let x = t.input(&qx);
        let dx = t.dq(&f(&S4), &x);
        let lhs = format!("({} {} {} {dx})", op.mnemonic(), t.t(&f(out)), t.a(&op));
        let pi = Op::AvgPoolInt(AvgPoolIntAttrs {
            pool,
            rounding: RoundingMode::HalfUp,
        });
        let rhs = format!(
            "(dequantize {} {} (avg_pool_int {} {} {x}))",
            t.t(&f(out)),
            t.a(&Op::Dequantize),
            t.t(&q(DType::U8, out, 0.5, 10)),
            t.a(&pi)
        );
        t.check(&[rule], &lhs, &rhs);
    }
}

/// Runs a table rule on `q_y(op(dq_x(x)))` and compares the table with `func` (computed
/// here independently) within one unit, exactly on most entries.
fn check_lut(rule: &str, op: Op, func: impl Fn(f32) -> f32) {
    let mut t = T::new();
    let (qx, qy) = (
        q(DType::I8, &S4, 0.05, 3),
        q(DType::U8, &S4, 1.0 / 128.0, 100),
    );
    let x = t.input(&qx);
    let dx = t.dq(&f(&S4), &x);
    let lhs = format!(
        "(quantize {} {} ({} {} {} {dx}))",
        t.t(&qy),
        t.a(&Op::Quantize),
        op.mnemonic(),
        t.t(&f(&S4)),
        t.a(&op)
    );
    let l = t.add(&lhs);
    t.run(&[rule]);
    let Op::Lut(lut) = t.find_op(l, "lut") else {
        panic!("not a lut")
    };
    assert_eq!((lut.table.len(), lut.axis), (256, None));
    let mut exact = 0;
    for (i, &v) in lut.table.iter().enumerate() {
        let xf = (i as i32 - 128 - 3) as f32 * 0.05;
        let want = quantize(func(xf), 128.0, 100, 0, 255);
        assert!((v - want).abs() <= 1, "{rule} [{i}]: {v} vs {want}");
        exact += i32::from(v == want);
    }
    assert!(exact >= 250, "{rule}: only {exact} exact entries");
}

#[test]
fn elementwise_functions_to_luts() {
    check_lut("sigmoid-to-lut", Op::Sigmoid, |x| 1.0 / (1.0 + (-x).exp()));
    check_lut("tanh-to-lut", Op::Tanh, f32::tanh);
    let hs = HardSigmoidAttrs {
        alpha: 0.2,
        beta: 0.5,
    };
    check_lut("hard-sigmoid-to-lut", Op::HardSigmoid(hs), |x| {
        (0.2 * x + 0.5).clamp(0.0, 1.0)
    });
    check_lut("hard-swish-to-lut", Op::HardSwish, |x| {
        x * (x + 3.0).clamp(0.0, 6.0) / 6.0
    });
    let lr = LeakyReluAttrs { alpha: 0.1 };
    check_lut("leaky-relu-to-lut", Op::LeakyRelu(lr), |x| {
        if x < 0.0 { 0.1 * x } else { x }
    });
}

#[test]
fn prelu_to_per_channel_lut() {
    let mut t = T::new();
    let (qx, qy) = (q(DType::U8, &S4, 0.05, 128), q(DType::U8, &S4, 0.05, 128));
    let x = t.input(&qx);
    let dx = t.dq(&f(&S4), &x);
    let slope = t.konst(&f(&[2, 1, 1]), TensorData::F32(vec![0.25, 0.5]));
    let lhs = format!(
        "(quantize {} {} (prelu {} {} {dx} {slope}))",
        t.t(&qy),
        t.a(&Op::Quantize),
        t.t(&f(&S4)),
        t.a(&Op::PRelu)
    );
    let l = t.add(&lhs);
    t.run(&["prelu-to-lut"]);
    let Op::Lut(lut) = t.find_op(l, "lut") else {
        panic!("not a lut")
    };
    assert_eq!((lut.table.len(), lut.axis), (512, Some(1)));
    // x = 0 (index 0, real -6.4): 0.25 * -128 = -32 steps; 0.5 * -128 = -64 steps.
    assert_eq!((lut.table[0], lut.table[256]), (96, 64));
    assert_eq!((lut.table[255], lut.table[511]), (255, 255));
}

#[test]
fn resize_linear_to_resize_int() {
    let mut t = T::new();
    let qx = q(DType::U8, &S4, 0.5, 10);
    let x = t.input(&qx);
    let dx = t.dq(&f(&S4), &x);
    let r = ResizeAttrs {
        mode: ResizeMode::Linear,
        coord: CoordMode::HalfPixel,
        nearest: NearestMode::Floor,
        scales: vec![1.0, 1.0, 2.0, 2.0],
    };
    let out = [1, 2, 8, 8];
    let lhs = format!(
        "(resize {} {} {dx})",
        t.t(&f(&out)),
        t.a(&Op::Resize(r.clone()))
    );
    let ri = Op::ResizeInt(ResizeIntAttrs {
        resize: r,
        frac_bits: super::arith::RESIZE_FRAC_BITS_8,
        rounding: RoundingMode::HalfUp,
    });
    let rhs = format!(
        "(dequantize {} {} (resize_int {} {} {x}))",
        t.t(&f(&out)),
        t.a(&Op::Dequantize),
        t.t(&q(DType::U8, &out, 0.5, 10)),
        t.a(&ri)
    );
    t.check(&["resize-linear-to-resize-int"], &lhs, &rhs);
}

/// `q_y(softmax(dq_x(x)))` over axis 1 of `[2, 10]` with input type `tx`.
fn softmax_case(t: &mut T, tx: &TensorType) -> String {
    let qy = q(DType::U8, &[2, 10], 1.0 / 256.0, 0);
    let x = t.input(tx);
    let dx = t.dq(&f(&[2, 10]), &x);
    let sm = Op::Softmax(SoftmaxAttrs { axis: 1 });
    format!(
        "(quantize {} {} (softmax {} {} {dx}))",
        t.t(&qy),
        t.a(&Op::Quantize),
        t.t(&f(&[2, 10])),
        t.a(&sm)
    )
}

#[test]
fn softmax_to_softmax_int() {
    let mut t = T::new();
    let qx = q(DType::I8, &[2, 10], 0.1, 5);
    let lhs = softmax_case(&mut t, &qx);
    // The table: exp(-0.1 d) in Q20 (10 elements * 2^20 < 2^31).
    assert_eq!(super::arith::softmax_exp_bits(10), Some(20));
    assert_eq!(super::arith::softmax_exp_bits(1 << 11), Some(19));
    let exp_table: Vec<i32> = (0..256)
        .map(|d| ((-0.1f64 * f64::from(d)).exp() * f64::from(1 << 20)).round() as i32)
        .collect();
    assert_eq!(exp_table[0], 1 << 20);
    let si = Op::SoftmaxInt(SoftmaxIntAttrs {
        axis: 1,
        exp_table,
        exp_bits: 20,
        rounding: RoundingMode::HalfUp,
    });
    let l = t.add(&lhs);
    t.run(&["softmax-to-softmax-int"]);
    assert_eq!(t.find_op(l, "softmax_int"), si);

    // A 16-bit input has no 256-entry table.
    let mut t = T::new();
    let lhs = softmax_case(&mut t, &q(DType::I16, &[2, 10], 0.1, 0));
    let l = t.declines(&["softmax-to-softmax-int"], &lhs);
    assert!(
        t.eg.analysis
            .notes
            .iter()
            .any(|(i, m)| *i == l && m.contains("8-bit input"))
    );
}

#[test]
fn dequantize_through_data_movement() {
    let out = [1, 2, 2, 2];
    let nearest = ResizeAttrs {
        mode: ResizeMode::Nearest,
        coord: CoordMode::Asymmetric,
        nearest: NearestMode::Floor,
        scales: vec![1.0, 1.0, 0.5, 0.5],
    };
    let pad = |value| PadAttrs {
        pads: vec![0, 0, 0, 0, 0, 0, -2, -2],
        mode: PadMode::Constant,
        value,
    };
    let cases: Vec<(&str, Op, Op)> = vec![
        (
            "dequantize-through-max-pool",
            Op::MaxPool(pool_attrs(2, 2)),
            Op::MaxPool(pool_attrs(2, 2)),
        ),
        ("dequantize-through-reshape", Op::Reshape, Op::Reshape),
        (
            "dequantize-through-transpose",
            Op::Transpose(TransposeAttrs {
                perm: vec![0, 1, 2, 3],
            }),
            Op::Transpose(TransposeAttrs {
                perm: vec![0, 1, 2, 3],
            }),
        ),
        (
            "dequantize-through-slice",
            Op::Slice(SliceAttrs {
                starts: vec![0, 0, 0, 0],
                steps: vec![1, 1, 2, 2],
            }),
            Op::Slice(SliceAttrs {
                starts: vec![0, 0, 0, 0],
                steps: vec![1, 1, 2, 2],
            }),
        ),
        // The fill value 0.0 becomes the zero point.
        (
            "dequantize-through-pad",
            Op::Pad(pad(0.0)),
            Op::Pad(pad(10.0)),
        ),
        (
            "dequantize-through-resize-nearest",
            Op::Resize(nearest.clone()),
            Op::Resize(nearest),
        ),
    ];
    for (rule, op, int_op) in cases {
        let mut t = T::new();
        let qx = q(DType::U8, &S4, 0.5, 10);
        let x = t.input(&qx);
        let dx = t.dq(&f(&S4), &x);
        let lhs = format!("({} {} {} {dx})", op.mnemonic(), t.t(&f(&out)), t.a(&op));
        let rhs = format!(
            "(dequantize {} {} ({} {} {} {x}))",
            t.t(&f(&out)),
            t.a(&Op::Dequantize),
            int_op.mnemonic(),
            t.t(&q(DType::U8, &out, 0.5, 10)),
            t.a(&int_op)
        );
        t.check(&[rule], &lhs, &rhs);
    }
}

#[test]
fn dequantize_through_split() {
    let mut t = T::new();
    let qx = q(DType::U8, &S4, 0.5, 10);
    let x = t.input(&qx);
    let dx = t.dq(&f(&S4), &x);
    let s = Op::Split(SplitAttrs {
        axis: 1,
        sizes: vec![1, 1],
    });
    let part = [1, 1, 4, 4];
    let lhs = format!("(split {} {} 1 {dx})", t.t(&f(&part)), t.a(&s));
    let rhs = format!(
        "(dequantize {} {} (split {} {} 1 {x}))",
        t.t(&f(&part)),
        t.a(&Op::Dequantize),
        t.t(&q(DType::U8, &part, 0.5, 10)),
        t.a(&s)
    );
    t.check(&["dequantize-through-split"], &lhs, &rhs);
}

#[test]
fn quantize_into_concat() {
    let mut t = T::new();
    let (qa, qb) = (q(DType::U8, &S4, 0.5, 10), q(DType::U8, &S4, 0.25, 0));
    let qy = q(DType::U8, &[1, 4, 4, 4], 0.5, 10);
    let (a, b) = (t.input(&qa), t.input(&qb));
    let (da, db) = (t.dq(&f(&S4), &a), t.dq(&f(&S4), &b));
    let c = Op::Concat(ConcatAttrs { axis: 1 });
    let aq = t.a(&Op::Quantize);
    let lhs = format!(
        "(quantize {} {aq} (concat {} {} {da} {db}))",
        t.t(&qy),
        t.t(&f(&[1, 4, 4, 4])),
        t.a(&c)
    );
    let part = t.t(&q(DType::U8, &S4, 0.5, 10));
    let rhs = format!(
        "(concat {} {} (quantize {part} {aq} {da}) (quantize {part} {aq} {db}))",
        t.t(&qy),
        t.a(&c)
    );
    t.check(&["quantize-into-concat"], &lhs, &rhs);
}

#[test]
fn every_rule_has_a_test() {
    let src = include_str!("tests.rs");
    for r in all_rules() {
        let quoted = format!("\"{}\"", r.name);
        assert!(src.contains(&quoted), "rule {} has no test", r.name);
    }
}

#[test]
fn qrange_respects_narrow_bit_widths() {
    let mut t = q(DType::I8, &[1], 0.5, 0);
    assert_eq!(qrange(&t), (-128, 127));
    t.quant.as_mut().unwrap().bits = 4;
    assert_eq!(qrange(&t), (-8, 7));
    assert_eq!(qrange(&q(DType::U8, &[1], 0.5, 0)), (0, 255));
    let _ = value_ty;
}
