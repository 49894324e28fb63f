//! Per-op invariants: operand and result counts, and attribute sanity against operand types.
//!
//! Runs after the structural checks, so every operand and result is a live value.

use super::{Loc, Sink};
use crate::entities::NodeId;
use crate::graph::Graph;
use crate::ops::*;
use crate::types::TensorType;

/// Accepted operand counts and the exact result count of `op`.
fn arity(op: &Op) -> (usize, Option<usize>, usize) {
    match op {
        Op::Input | Op::Const(_) => (0, Some(0), 1),
        Op::Conv(_) | Op::ConvTranspose(_) | Op::Gemm(_) => (2, Some(3), 1),
        Op::MatMul | Op::PRelu | Op::Add | Op::Sub | Op::Mul | Op::Div => (2, Some(2), 1),
        Op::BatchNorm(_) => (5, Some(5), 1),
        Op::Relu
        | Op::LeakyRelu(_)
        | Op::Clip(_)
        | Op::Sigmoid
        | Op::HardSigmoid(_)
        | Op::HardSwish
        | Op::Tanh
        | Op::Softmax(_)
        | Op::MaxPool(_)
        | Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::ReduceMean(_)
        | Op::Slice(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Pad(_)
        | Op::Resize(_) => (1, Some(1), 1),
        Op::Concat(_) => (1, None, 1),
        Op::Split(a) => (1, Some(1), a.sizes.len()),
    }
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

pub(super) fn check(g: &Graph, n: NodeId, sink: &mut Sink) {
    let node = g.node(n);
    let op = &node.op;
    let name = op.mnemonic();
    let (min, max, outs) = arity(op);
    let n_in = node.inputs.len();
    let mut ok = true;
    if n_in < min || max.is_some_and(|m| n_in > m) {
        let expected = match max {
            Some(m) if m == min => plural(m, "operand"),
            Some(m) => format!("{min} to {m} operands"),
            None => format!("at least {}", plural(min, "operand")),
        };
        sink.fatal(
            Loc::Node(n),
            format!("`{name}` takes {expected}, got {n_in}"),
        );
        ok = false;
    }
    if node.outputs.len() != outs {
        sink.fatal(
            Loc::Node(n),
            format!(
                "`{name}` has {}, got {}",
                plural(outs, "result"),
                node.outputs.len()
            ),
        );
        ok = false;
    }
    if !ok {
        return;
    }
    let ins: Vec<&TensorType> = node.inputs.iter().map(|&v| g.ty(v)).collect();
    // Every op but a size-less split has a result (arity was checked above).
    let out = node.outputs.first().map(|&v| g.ty(v));
    let mut c = Checker { sink, n, op: name };
    match op {
        Op::Input | Op::Const(_) => {}
        Op::Conv(a) => {
            if let Some(k) = c.spatial(ins[0]) {
                c.window(k, &a.strides, &a.dilations, &a.pads);
                c.groups(a.group, ins[0], ins[1], false);
                c.bias(&ins, ins[1].shape.dims().first().copied());
            }
        }
        Op::ConvTranspose(a) => {
            if let Some(k) = c.spatial(ins[0]) {
                c.window(k, &a.strides, &a.dilations, &a.pads);
                c.len("output_padding", a.output_padding.len(), k);
                c.groups(a.group, ins[0], ins[1], true);
                let m = ins[1].shape.dims().get(1).map(|m| m * a.group);
                c.bias(&ins, m);
            }
        }
        Op::Gemm(_) => {
            if ins[0].shape.rank() != 2 || ins[1].shape.rank() != 2 {
                c.error(format!(
                    "operands must be 2-d, got ranks {} and {}",
                    ins[0].shape.rank(),
                    ins[1].shape.rank()
                ));
            }
        }
        Op::MatMul => {
            if ins[0].shape.rank() == 0 || ins[1].shape.rank() == 0 {
                c.error("operands must have rank >= 1");
            }
        }
        Op::BatchNorm(a) => {
            c.finite_nonneg("epsilon", a.epsilon);
            match ins[0].shape.dims().get(1) {
                Some(&ch) if ins[0].shape.rank() >= 2 => {
                    for (i, t) in ins[1..].iter().enumerate() {
                        if t.shape.dims() != [ch] {
                            c.error(format!(
                                "operand {} has shape {}, expected [{ch}]",
                                i + 1,
                                t.shape
                            ));
                        }
                    }
                }
                _ => c.error(format!(
                    "input must have rank >= 2, got {}",
                    ins[0].shape.rank()
                )),
            }
        }
        Op::LeakyRelu(a) => c.finite("alpha", a.alpha),
        Op::Clip(a) => {
            if a.min.is_nan() || a.max.is_nan() {
                c.error("clip bounds must not be NaN");
            } else if a.min > a.max {
                c.error(format!("clip min {:?} exceeds max {:?}", a.min, a.max));
            }
        }
        Op::HardSigmoid(a) => {
            c.finite("alpha", a.alpha);
            c.finite("beta", a.beta);
        }
        Op::Relu | Op::PRelu | Op::Sigmoid | Op::HardSwish | Op::Tanh => {}
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Reshape => {}
        Op::Softmax(a) => c.axis("axis", a.axis, ins[0].shape.rank()),
        Op::MaxPool(a) => c.pool(a, ins[0]),
        Op::AveragePool(a) => c.pool(&a.pool, ins[0]),
        Op::GlobalAveragePool => {
            c.spatial(ins[0]);
        }
        Op::ReduceMean(a) => {
            let r = ins[0].shape.rank();
            if a.axes.windows(2).any(|w| w[0] >= w[1]) {
                c.error(format!(
                    "axes {:?} must be sorted and distinct",
                    a.axes.as_slice()
                ));
            }
            for &ax in &a.axes {
                c.axis("axes", ax, r);
            }
        }
        Op::Concat(a) => {
            let r = ins[0].shape.rank();
            if let Some(i) = ins.iter().position(|t| t.shape.rank() != r) {
                c.error(format!(
                    "operand {i} has rank {}, operand 0 has rank {r}",
                    ins[i].shape.rank()
                ));
            }
            c.axis("axis", a.axis, r);
        }
        Op::Split(a) => {
            let r = ins[0].shape.rank();
            if a.sizes.is_empty() {
                c.error("split needs at least one size");
            } else if a.axis >= r {
                c.axis("axis", a.axis, r);
            } else {
                let total: Option<usize> =
                    a.sizes.iter().try_fold(0usize, |s, &x| s.checked_add(x));
                let dim = ins[0].shape.dims()[a.axis];
                if total != Some(dim) {
                    c.error(format!(
                        "split sizes {:?} do not sum to the axis size {dim}",
                        a.sizes.as_slice()
                    ));
                }
            }
        }
        Op::Slice(a) => {
            let dims = ins[0].shape.dims();
            let ok_len = c.len("starts", a.starts.len(), dims.len())
                & c.len("steps", a.steps.len(), dims.len());
            if a.steps.contains(&0) {
                c.error("slice steps must be non-zero");
            }
            if ok_len {
                let out_dims = out.map(|t| t.shape.dims()).unwrap_or(&[]);
                for (d, (&s, &dim)) in a.starts.iter().zip(dims).enumerate() {
                    let taken = out_dims.get(d).copied().unwrap_or(1);
                    if taken > 0 && s >= dim {
                        c.error(format!(
                            "start {s} of dim {d} is out of range for size {dim}"
                        ));
                    }
                }
            }
        }
        Op::Transpose(a) => {
            let r = ins[0].shape.rank();
            let mut seen = vec![false; r];
            let is_perm = a.perm.len() == r
                && a.perm
                    .iter()
                    .all(|&p| p < r && !std::mem::replace(&mut seen[p], true));
            if !is_perm {
                c.error(format!(
                    "perm {:?} is not a permutation of 0..{r}",
                    a.perm.as_slice()
                ));
            }
        }
        Op::Pad(a) => {
            let r = ins[0].shape.rank();
            c.len("pads", a.pads.len(), 2 * r);
        }
        Op::Resize(a) => {
            let r = ins[0].shape.rank();
            c.len("scales", a.scales.len(), r);
            if a.scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                c.error("resize scales must be positive and finite");
            }
            if let Some(o) = out.filter(|o| o.shape.rank() != r) {
                c.error(format!(
                    "result rank {} differs from input rank {r}",
                    o.shape.rank()
                ));
            }
        }
    }
}

struct Checker<'a> {
    sink: &'a mut Sink,
    n: NodeId,
    op: &'static str,
}

impl Checker<'_> {
    fn error(&mut self, message: impl Into<String>) {
        self.sink.error(Loc::Node(self.n), message);
    }

    /// Checks an attribute list length; returns whether it matched.
    fn len(&mut self, attr: &str, got: usize, want: usize) -> bool {
        if got != want {
            self.error(format!(
                "{attr} has {}, expected {want}",
                if got == 1 {
                    "1 entry".to_string()
                } else {
                    format!("{got} entries")
                }
            ));
        }
        got == want
    }

    fn positive(&mut self, attr: &str, v: &[usize]) {
        if v.contains(&0) {
            self.error(format!("{attr} must be positive, got {v:?}"));
        }
    }

    fn finite(&mut self, attr: &str, x: f32) {
        if !x.is_finite() {
            self.error(format!("{attr} must be finite, got {x:?}"));
        }
    }

    fn finite_nonneg(&mut self, attr: &str, x: f32) {
        if !(x.is_finite() && x >= 0.0) {
            self.error(format!("{attr} must be finite and non-negative, got {x:?}"));
        }
    }

    fn axis(&mut self, attr: &str, axis: usize, rank: usize) {
        if axis >= rank {
            self.error(format!("{attr} {axis} is out of range for rank {rank}"));
        }
    }

    /// The number of spatial dims of an `[N, C, spatial..]` input (1 or 2).
    fn spatial(&mut self, x: &TensorType) -> Option<usize> {
        let r = x.shape.rank();
        if !(3..=4).contains(&r) {
            self.error(format!(
                "`{}` needs an [N,C,..] input with 1 or 2 spatial dims, got rank {r}",
                self.op
            ));
            return None;
        }
        Some(r - 2)
    }

    fn window(&mut self, k: usize, strides: &[usize], dilations: &[usize], pads: &[usize]) {
        if self.len("strides", strides.len(), k) {
            self.positive("strides", strides);
        }
        if self.len("dilations", dilations.len(), k) {
            self.positive("dilations", dilations);
        }
        self.len("pads", pads.len(), 2 * k);
    }

    fn pool(&mut self, a: &PoolAttrs, x: &TensorType) {
        if let Some(k) = self.spatial(x) {
            if self.len("kernel", a.kernel.len(), k) {
                self.positive("kernel", &a.kernel);
            }
            self.window(k, &a.strides, &a.dilations, &a.pads);
        }
    }

    /// Group and channel checks. Conv weights are `[M, C/group, k..]`, transposed conv
    /// weights `[C, M/group, k..]`.
    fn groups(&mut self, group: usize, x: &TensorType, w: &TensorType, transposed: bool) {
        let c = x.shape.dims()[1];
        if group == 0 {
            self.error("group must be positive");
            return;
        }
        if !c.is_multiple_of(group) {
            self.error(format!("group {group} does not divide {c} input channels"));
        }
        if w.shape.rank() != x.shape.rank() {
            self.error(format!(
                "weight rank {} differs from input rank {}",
                w.shape.rank(),
                x.shape.rank()
            ));
            return;
        }
        let (w0, w1) = (w.shape.dims()[0], w.shape.dims()[1]);
        if transposed {
            if w0 != c {
                self.error(format!("weight has {w0} input channels, expected {c}"));
            }
        } else {
            if !w0.is_multiple_of(group) {
                self.error(format!(
                    "group {group} does not divide {w0} output channels"
                ));
            }
            if w1.checked_mul(group) != Some(c) {
                self.error(format!(
                    "weight has {w1} input channels per group, expected {c}/{group}"
                ));
            }
        }
    }

    fn bias(&mut self, ins: &[&TensorType], out_channels: Option<usize>) {
        if let (Some(b), Some(m)) = (ins.get(2), out_channels)
            && b.shape.dims() != [m]
        {
            self.error(format!(
                "bias has shape {}, expected [{m}] (one per output channel)",
                b.shape
            ));
        }
    }
}
