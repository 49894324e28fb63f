//! Target descriptions: vector width, MAC shape, rounding, activation type and a per-op
//! cycle estimate.
//!
//! Two targets:
//! - `hvx-like`: 128-byte vectors; `u8 x i8` four-way dot products into `i32` lanes (HVX
//!   `vrmpy`: 32 lanes x 4 MACs = 128 MACs per instruction); right shifts round half up
//!   (`:rnd`); no division; u8 activations.
//! - `generic-c`: scalar C99; rounding selectable (half-up by default, gemmlowp's
//!   half-away-from-zero on request); one MAC per cycle.
//!
//! The cycle table (see [`Target::cycles`]) is an estimate for extraction, not a simulator:
//! `MACs / macs_per_cycle` for the multiply ops, `elements * ops / lanes` for elementwise
//! ones, plus a fixed per-op overhead (loop setup and pointer arithmetic). Float ops cost
//! [`INFEASIBLE`], so an extracted program with a finite cost is integer-only.

use ir::arith::RoundingMode;
use ir::{DType, Op, TensorType};

pub use passes::egraph::INFEASIBLE;
use passes::egraph::{Cost, CostModel};

/// A code generation target.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The `--target` name.
    pub name: &'static str,
    /// Bytes per vector register (1 for scalar code).
    pub vector_bytes: usize,
    /// Multiply-accumulates of 8-bit operands per cycle.
    pub macs_per_cycle: u64,
    /// Rounding of every right shift.
    pub rounding: RoundingMode,
    /// The default activation element type.
    pub activation: DType,
    /// Whether the target may divide at run time (neither does: kernels never divide).
    pub has_division: bool,
    /// Fixed cycles per op call (loop setup, pointer arithmetic).
    pub op_overhead: u64,
}

impl Target {
    /// The names accepted by [`Target::by_name`].
    pub const NAMES: [&'static str; 2] = ["hvx-like", "generic-c"];

    /// The HVX-like DSP target.
    pub fn hvx_like() -> Target {
        Target {
            name: "hvx-like",
            vector_bytes: 128,
            macs_per_cycle: 128,
            rounding: RoundingMode::HalfUp,
            activation: DType::U8,
            has_division: false,
            op_overhead: 40,
        }
    }

    /// The portable scalar C99 target with the given rounding.
    pub fn generic_c(rounding: RoundingMode) -> Target {
        Target {
            name: "generic-c",
            vector_bytes: 1,
            macs_per_cycle: 1,
            rounding,
            activation: DType::U8,
            has_division: false,
            op_overhead: 10,
        }
    }

    /// A target by its `--target` name (`generic-c` with half-up rounding).
    pub fn by_name(name: &str) -> Option<Target> {
        match name {
            "hvx-like" => Some(Target::hvx_like()),
            "generic-c" => Some(Target::generic_c(RoundingMode::HalfUp)),
            _ => None,
        }
    }

    /// Whether the target can round right shifts with `mode` (hvx-like only rounds half up).
    pub fn supports_rounding(&self, mode: RoundingMode) -> bool {
        self.vector_bytes == 1 || mode == RoundingMode::HalfUp
    }

    /// Lanes of `bytes`-wide elements per vector (at least 1).
    fn lanes(&self, bytes: usize) -> u64 {
        (self.vector_bytes / bytes.max(1)).max(1) as u64
    }

    /// Cycles for `elements` elements of `bytes` each with `ops` vector instructions per
    /// vector.
    fn elementwise(&self, elements: usize, bytes: usize, ops: u64) -> u64 {
        self.op_overhead + (elements as u64).div_ceil(self.lanes(bytes)) * ops
    }

    /// Estimated cycles of `op` with the given operand and result types.
    ///
    /// | op | cycles |
    /// |---|---|
    /// | conv/conv-transpose/gemm/matmul (int) | `overhead + MACs / macs_per_cycle` (x2 for 16-bit inputs) + bias pass |
    /// | requant | `overhead + 6 * vectors` of i32 lanes (shift, sqrdmulh, round, add, 2 clamps) |
    /// | add/mul (int) | `overhead + 12 * vectors` of i32 lanes (two rescales and a requant) |
    /// | lut | `overhead + 2 * vectors` of bytes (table lookup `vlut`) |
    /// | avg pool | `overhead + (window + 4) * vectors` |
    /// | max pool | `overhead + window * vectors` |
    /// | softmax | `overhead + 20 * vectors` of i32 lanes |
    /// | data movement | `overhead + vectors` (one load/store per vector), reshape 0 |
    /// | quantize/dequantize | `overhead + 4 * vectors` of f32 lanes (only at the boundary) |
    /// | float ops | [`INFEASIBLE`] |
    pub fn cycles(&self, op: &Op, inputs: &[&TensorType], outputs: &[&TensorType]) -> u64 {
        let out_elems = outputs.first().map_or(0, |t| t.shape.numel());
        let in_bytes = inputs.first().map_or(1, |t| elem_bytes(t.dtype));
        let widen = if in_bytes > 1 { 2 } else { 1 };
        let macs = |per_output: usize| -> u64 {
            self.op_overhead
                + (out_elems as u64 * per_output as u64 * widen).div_ceil(self.macs_per_cycle)
                + (out_elems as u64).div_ceil(self.lanes(4))
        };
        let window = |k: &[usize]| k.iter().product::<usize>() as u64;
        let all_int = inputs.iter().chain(outputs).all(|t| t.dtype.is_int());
        match op {
            Op::Input | Op::Const(_) => 0,
            Op::Reshape if all_int => 0,
            Op::MaxPool(a) if all_int => self.elementwise(out_elems, in_bytes, window(&a.kernel)),
            Op::ConvInt(_) => {
                // Each output sums C/group * kernel taps: the weight's dims after the first.
                let k: usize = inputs
                    .get(1)
                    .map_or(1, |w| w.shape.dims().iter().skip(1).product());
                macs(k)
            }
            Op::ConvTransposeInt(_) => {
                // Every input element meets every tap of its group's outputs.
                let w = inputs
                    .get(1)
                    .map_or(1, |w| w.shape.dims().iter().skip(1).product::<usize>());
                let in_elems = inputs.first().map_or(0, |t| t.shape.numel());
                macs((in_elems * w).div_ceil(out_elems.max(1)))
            }
            Op::GemmInt(_) | Op::MatMulInt => {
                let k = inputs
                    .first()
                    .and_then(|t| t.shape.dims().last().copied())
                    .unwrap_or(1);
                macs(k)
            }
            Op::Requant(_) => self.elementwise(out_elems, 4, 6),
            Op::AddInt(_) | Op::MulInt(_) => self.elementwise(out_elems, 4, 12),
            Op::Lut(_) => self.elementwise(out_elems, 1, 2),
            Op::AvgPoolInt(a) => self.elementwise(out_elems, 4, window(&a.pool.pool.kernel) + 4),
            Op::SoftmaxInt(_) => self.elementwise(out_elems, 4, 20),
            Op::ResizeInt(_) => self.elementwise(out_elems, 4, 8),
            Op::Concat(_) | Op::Split(_) | Op::Slice(_) | Op::Transpose(_) | Op::Pad(_)
                if all_int =>
            {
                self.elementwise(out_elems.max(1), in_bytes, 1)
            }
            Op::Resize(r) if all_int && r.mode == ir::ResizeMode::Nearest => {
                self.elementwise(out_elems.max(1), in_bytes, 1)
            }
            Op::Reshape
            | Op::MaxPool(_)
            | Op::Concat(_)
            | Op::Split(_)
            | Op::Slice(_)
            | Op::Transpose(_)
            | Op::Pad(_)
            | Op::Resize(_) => INFEASIBLE,
            Op::Quantize | Op::Dequantize => self.elementwise(out_elems, 4, 4),
            Op::Conv(_)
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
            | Op::ReduceMean(_) => INFEASIBLE,
        }
    }
}

/// The target's table as the e-graph extraction's cost (`PassCtx::cost`).
impl CostModel for Target {
    fn node_cost(&self, op: &Op, inputs: &[&TensorType], output: &TensorType) -> Cost {
        self.cycles(op, inputs, &[output])
    }
}

fn elem_bytes(d: DType) -> usize {
    passes::plan_memory::elem_bytes(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{ConvAttrs, ConvIntAttrs, LutAttrs};

    fn t(d: DType, s: &[usize]) -> TensorType {
        TensorType::new(d, s.to_vec())
    }

    #[test]
    fn names_and_properties() {
        for n in Target::NAMES {
            assert_eq!(Target::by_name(n).map(|t| t.name), Some(n));
        }
        assert!(Target::by_name("x86").is_none());
        let h = Target::hvx_like();
        assert!(h.supports_rounding(RoundingMode::HalfUp));
        assert!(!h.supports_rounding(RoundingMode::HalfAwayFromZero));
        assert!(
            Target::generic_c(RoundingMode::HalfUp)
                .supports_rounding(RoundingMode::HalfAwayFromZero)
        );
    }

    #[test]
    fn conv_cost_scales_with_macs_and_float_is_infeasible() {
        let conv = Op::ConvInt(ConvIntAttrs {
            conv: ConvAttrs {
                strides: vec![1, 1],
                pads: vec![0; 4],
                dilations: vec![1, 1],
                group: 1,
            },
        });
        let (x, w) = (t(DType::U8, &[1, 8, 10, 10]), t(DType::I8, &[16, 8, 3, 3]));
        let y = t(DType::I32, &[1, 16, 8, 8]);
        let (ins, outs) = ([&x, &w], [&y]);
        let macs = 16 * 64 * 72;
        let c = Target::generic_c(RoundingMode::HalfUp);
        assert_eq!(c.cycles(&conv, &ins, &outs), 10 + macs + 1024);
        let h = Target::hvx_like();
        assert_eq!(h.cycles(&conv, &ins, &outs), 40 + macs / 128 + 1024 / 32);
        assert!(h.cycles(&conv, &ins, &outs) < c.cycles(&conv, &ins, &outs));
        let f = t(DType::F32, &[1, 8, 10, 10]);
        assert_eq!(h.cycles(&Op::Relu, &[&f], &[&f]), INFEASIBLE);
        assert_eq!(h.cycles(&Op::Reshape, &[&f], &[&f]), INFEASIBLE);
        assert_eq!(h.node_cost(&Op::Reshape, &[&x], &x), 0);
        assert_eq!(
            h.node_cost(&conv, &[&x, &w], &y),
            h.cycles(&conv, &ins, &outs)
        );
        let lut = Op::Lut(LutAttrs {
            table: vec![0; 256],
            axis: None,
        });
        let b = t(DType::U8, &[1, 256]);
        assert_eq!(h.cycles(&lut, &[&b], &[&b]), 40 + 4);
    }
}
