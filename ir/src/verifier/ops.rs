//! Per-op invariants: operand and result counts, and attribute sanity against operand types.
//!
//! Runs after the structural checks, so every operand and result is a live value.

use super::{Loc, Sink};
use crate::arith::{MAX_LEFT_SHIFT, QuantizedMultiplier};
use crate::entities::NodeId;
use crate::graph::Graph;
use crate::ops::*;
use crate::types::{DType, QuantGranularity, TensorType};

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
        Op::Quantize
        | Op::Dequantize
        | Op::Requant(_)
        | Op::AvgPoolInt(_)
        | Op::Lut(_)
        | Op::SoftmaxInt(_)
        | Op::ResizeInt(_) => (1, Some(1), 1),
        Op::ConvInt(_) | Op::ConvTransposeInt(_) | Op::GemmInt(_) => (2, Some(3), 1),
        Op::MatMulInt | Op::AddInt(_) | Op::MulInt(_) => (2, Some(2), 1),
    }
}

/// Whether `op`'s result carries its (first) operand's quantization parameters unchanged
/// (data movement and integer average pooling).
pub(super) fn propagates_quant(op: &Op) -> bool {
    match op {
        Op::MaxPool(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Slice(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Pad(_)
        | Op::Resize(_)
        | Op::AvgPoolInt(_)
        | Op::ResizeInt(_) => true,
        Op::Input
        | Op::Const(_)
        | Op::Conv(_)
        | Op::ConvTranspose(_)
        | Op::Gemm(_)
        | Op::MatMul
        | Op::BatchNorm(_)
        | Op::Relu
        | Op::PRelu
        | Op::LeakyRelu(_)
        | Op::Clip(_)
        | Op::Sigmoid
        | Op::HardSigmoid(_)
        | Op::HardSwish
        | Op::Tanh
        | Op::Softmax(_)
        | Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::ReduceMean(_)
        | Op::Quantize
        | Op::Dequantize
        | Op::ConvInt(_)
        | Op::ConvTransposeInt(_)
        | Op::GemmInt(_)
        | Op::MatMulInt
        | Op::Requant(_)
        | Op::AddInt(_)
        | Op::MulInt(_)
        | Op::Lut(_)
        | Op::SoftmaxInt(_) => false,
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
            if let Some((lo, hi)) = ins[0].dtype.int_range()
                && a.mode == PadMode::Constant
                && !(a.value.fract() == 0.0 && (lo as f32..=hi as f32).contains(&a.value))
            {
                c.error(format!(
                    "pad value {:?} of an {} tensor must be an integer of its range (the stored value)",
                    a.value, ins[0].dtype
                ));
            }
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
        Op::Quantize => {
            if ins[0].dtype != DType::F32 {
                c.error(format!("operand must be f32, got {}", ins[0].dtype));
            }
            if let Some(o) = out
                && (!o.dtype.is_int() || o.quant.is_none())
            {
                c.error("result must be an integer type with quantization parameters");
            }
        }
        Op::Dequantize => {
            if !ins[0].dtype.is_int() || ins[0].quant.is_none() {
                c.error("operand must be an integer type with quantization parameters");
            }
            if let Some(o) = out
                && (o.dtype != DType::F32 || o.quant.is_some())
            {
                c.error("result must be f32 without quantization parameters");
            }
        }
        Op::ConvInt(a) => {
            if let Some(k) = c.spatial(ins[0]) {
                let a = &a.conv;
                c.window(k, &a.strides, &a.dilations, &a.pads);
                c.groups(a.group, ins[0], ins[1], false);
                c.bias(&ins, ins[1].shape.dims().first().copied());
            }
            c.int_product(&ins, out, true);
        }
        Op::ConvTransposeInt(a) => {
            if let Some(k) = c.spatial(ins[0]) {
                let a = &a.conv;
                c.window(k, &a.strides, &a.dilations, &a.pads);
                c.len("output_padding", a.output_padding.len(), k);
                c.groups(a.group, ins[0], ins[1], true);
                let m = ins[1].shape.dims().get(1).map(|m| m * a.group);
                c.bias(&ins, m);
            }
            c.int_product(&ins, out, true);
        }
        Op::GemmInt(_) => {
            if ins[0].shape.rank() != 2 || ins[1].shape.rank() != 2 {
                c.error(format!(
                    "operands must be 2-d, got ranks {} and {}",
                    ins[0].shape.rank(),
                    ins[1].shape.rank()
                ));
            }
            c.int_product(&ins, out, true);
        }
        Op::MatMulInt => {
            if ins[0].shape.rank() == 0 || ins[1].shape.rank() == 0 {
                c.error("operands must have rank >= 1");
            }
            c.int_product(&ins, out, false);
        }
        Op::Requant(a) => {
            let r = ins[0].shape.rank();
            match a.multipliers.len() {
                0 => c.error("requant needs at least one multiplier"),
                1 => {}
                n => {
                    if a.axis >= r {
                        c.axis("axis", a.axis, r);
                    } else if n != ins[0].shape.dims()[a.axis] {
                        c.error(format!(
                            "{n} multipliers for axis {} of size {}",
                            a.axis,
                            ins[0].shape.dims()[a.axis]
                        ));
                    }
                }
            }
            for &m in &a.multipliers {
                c.multiplier("multipliers", m);
            }
            c.int_operand(0, ins[0], true);
            c.clamp(a.lo, a.hi, out);
        }
        Op::AddInt(a) => {
            if a.shift > 31 {
                c.error(format!("shift {} exceeds 31", a.shift));
            }
            c.multiplier("ma", a.ma);
            c.multiplier("mb", a.mb);
            c.multiplier("mo", a.mo);
            c.int_operand(0, ins[0], false);
            c.int_operand(1, ins[1], false);
            c.clamp(a.lo, a.hi, out);
        }
        Op::MulInt(a) => {
            c.multiplier("m", a.m);
            c.int_operand(0, ins[0], false);
            c.int_operand(1, ins[1], false);
            c.clamp(a.lo, a.hi, out);
        }
        Op::AvgPoolInt(a) => {
            c.pool(&a.pool.pool, ins[0]);
            c.int_operand(0, ins[0], false);
        }
        Op::Lut(a) => {
            c.eight_bit(ins[0]);
            let channels = match a.axis {
                None => Some(1),
                Some(ax) => {
                    c.axis("axis", ax, ins[0].shape.rank());
                    ins[0].shape.dims().get(ax).copied()
                }
            };
            if let Some(ch) = channels
                && a.table.len() != 256 * ch
            {
                c.error(format!(
                    "table has {} entries, expected 256 x {ch} channels",
                    a.table.len()
                ));
            }
            c.entries_fit("table", &a.table, out);
        }
        Op::SoftmaxInt(a) => {
            c.eight_bit(ins[0]);
            c.axis("axis", a.axis, ins[0].shape.rank());
            if a.exp_table.len() != 256 {
                c.error(format!(
                    "exp_table has {} entries, expected 256",
                    a.exp_table.len()
                ));
            }
            if !(1..=30).contains(&a.exp_bits) {
                c.error(format!("exp_bits {} must be in 1..=30", a.exp_bits));
            } else if let Some(e) = a
                .exp_table
                .iter()
                .find(|&&e| !(0..=1i64 << a.exp_bits).contains(&i64::from(e)))
            {
                c.error(format!(
                    "exp_table entry {e} is outside [0, 2^{}]",
                    a.exp_bits
                ));
            }
            if let Some(o) = out
                && !o.dtype.is_int()
            {
                c.error(format!("result must be an integer type, got {}", o.dtype));
            }
        }
        Op::ResizeInt(a) => {
            let r = ins[0].shape.rank();
            if a.resize.mode != ResizeMode::Linear {
                c.error("resize_int implements linear resize only (nearest is `resize`)");
            }
            c.len("scales", a.resize.scales.len(), r);
            if a.resize.scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                c.error("resize scales must be positive and finite");
            }
            if !(1..=15).contains(&a.frac_bits) {
                c.error(format!("frac_bits {} must be in 1..=15", a.frac_bits));
            }
            if !matches!(ins[0].dtype, DType::U8 | DType::I8 | DType::I16) {
                c.error(format!(
                    "operand must be u8, i8 or i16, got {}",
                    ins[0].dtype
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

    /// A multiplier is `m0 >= 0` with a shift in `[-31, 31]`.
    fn multiplier(&mut self, attr: &str, m: QuantizedMultiplier) {
        if m.m0 < 0 || !(-MAX_LEFT_SHIFT..=31).contains(&m.shift) {
            self.error(format!(
                "{attr}: multiplier [{},{}] needs m0 >= 0 and shift in [-31, 31]",
                m.m0, m.shift
            ));
        }
    }

    /// `lo <= hi`, both within the result type's quantized range.
    fn clamp(&mut self, lo: i32, hi: i32, out: Option<&TensorType>) {
        if lo > hi {
            self.error(format!("clamp lo {lo} exceeds hi {hi}"));
        }
        if let Some(o) = out {
            match o.dtype.quant_range(o.quant.as_ref().map_or(0, |q| q.bits)) {
                None => self.error(format!("result must be an integer type, got {}", o.dtype)),
                Some((qlo, qhi)) => {
                    if !(qlo..=qhi).contains(&i64::from(lo))
                        || !(qlo..=qhi).contains(&i64::from(hi))
                    {
                        self.error(format!(
                            "clamp [{lo}, {hi}] is outside the result range [{qlo}, {qhi}]"
                        ));
                    }
                }
            }
        }
    }

    /// Table entries fit the result type.
    fn entries_fit(&mut self, attr: &str, table: &[i32], out: Option<&TensorType>) {
        let Some(o) = out else { return };
        match o.dtype.quant_range(o.quant.as_ref().map_or(0, |q| q.bits)) {
            None => self.error(format!("result must be an integer type, got {}", o.dtype)),
            Some((lo, hi)) => {
                if let Some(e) = table.iter().find(|&&e| !(lo..=hi).contains(&i64::from(e))) {
                    self.error(format!(
                        "{attr} entry {e} is outside the result range [{lo}, {hi}]"
                    ));
                }
            }
        }
    }

    /// An 8-bit integer operand (u8 or i8).
    fn eight_bit(&mut self, x: &TensorType) {
        if !matches!(x.dtype, DType::U8 | DType::I8) {
            self.error(format!("operand must be u8 or i8, got {}", x.dtype));
        }
    }

    /// An integer activation operand: integer, and per-tensor quantized (one zero point)
    /// unless `per_axis_ok`.
    fn int_operand(&mut self, i: usize, x: &TensorType, per_axis_ok: bool) {
        if !x.dtype.is_int() {
            self.error(format!(
                "operand {i} must be an integer type, got {}",
                x.dtype
            ));
        } else if !per_axis_ok
            && matches!(
                x.quant.as_ref().map(|q| &q.granularity),
                Some(QuantGranularity::PerAxis { .. })
            )
        {
            self.error(format!("operand {i} must be quantized per tensor"));
        }
    }

    /// Operand and result types of an integer product: activations u8/i8/i16/u4/i4 per tensor,
    /// a weight (`weight`: operand 1) i8/i4 with zero points 0, an i32 bias, an i32 result
    /// with zero points 0.
    fn int_product(&mut self, ins: &[&TensorType], out: Option<&TensorType>, weight: bool) {
        let act = |t: &TensorType| {
            matches!(
                t.dtype,
                DType::U8 | DType::I8 | DType::I16 | DType::U4 | DType::I4
            )
        };
        let zero_zps = |t: &TensorType| {
            t.quant.as_ref().is_none_or(|q| match &q.granularity {
                QuantGranularity::PerTensor { zero_point, .. } => *zero_point == 0,
                QuantGranularity::PerAxis { zero_points, .. } => {
                    zero_points.iter().all(|&z| z == 0)
                }
            })
        };
        let n_act = if weight { 1 } else { 2 };
        for (i, t) in ins.iter().enumerate().take(n_act) {
            if !act(t) {
                self.error(format!(
                    "operand {i} must be u8, i8, i16, u4 or i4, got {}",
                    t.dtype
                ));
            } else {
                self.int_operand(i, t, false);
            }
        }
        if weight {
            let w = ins[1];
            if !matches!(w.dtype, DType::I8 | DType::I4) {
                self.error(format!("weight must be i8 or i4, got {}", w.dtype));
            }
            if !zero_zps(w) {
                self.error("weight zero points must be 0 (symmetric)");
            }
        }
        if let Some(b) = ins.get(2)
            && b.dtype != DType::I32
        {
            self.error(format!("bias must be i32, got {}", b.dtype));
        }
        if let Some(o) = out {
            if o.dtype != DType::I32 {
                self.error(format!("accumulator result must be i32, got {}", o.dtype));
            } else if !zero_zps(o) {
                self.error("accumulator zero points must be 0");
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
