//! The closed operation set and its typed attributes.
//!
//! Every consumer (verifier, printer, parser, interpreters, e-graph conversion, emitters)
//! matches [`Op`] exhaustively with no catch-all arm, so adding an op breaks the build at
//! every place that must handle it (see `docs/adding-an-op.md`).
//!
//! Conventions:
//! - Layout is NCHW (the model's). Spatial attributes have one entry per spatial dim
//!   (1 or 2); `pads` are `[begin_0, .., begin_k, end_0, .., end_k]` as in ONNX.
//! - Everything ONNX computes from shapes (auto_pad, output sizes, negative axes) is resolved
//!   at import, so attributes are normalized: axes are non-negative, pads explicit.
//! - Output shapes live in the output values' types; ops whose result shape is not derivable
//!   from inputs plus attributes (Reshape, Resize) read it from there.

use crate::arith::{QuantizedMultiplier, RoundingMode};
use crate::tensor::Tensor;

/// Attributes of [`Op::Const`].
#[derive(Clone, PartialEq, Debug)]
pub struct ConstAttrs {
    /// The constant's value; its dtype and shape equal the output type's.
    pub value: Tensor,
}

/// Attributes of [`Op::Conv`]: inputs `x [N,C,*]`, `w [M,C/group,*k]`, optional `b [M]`.
#[derive(Clone, PartialEq, Debug)]
pub struct ConvAttrs {
    /// Stride per spatial dim.
    pub strides: Vec<usize>,
    /// `[begin.., end..]` zero padding.
    pub pads: Vec<usize>,
    /// Dilation per spatial dim.
    pub dilations: Vec<usize>,
    /// Number of groups (C for depthwise).
    pub group: usize,
}

/// Attributes of [`Op::ConvTranspose`]: inputs `x [N,C,*]`, `w [C,M/group,*k]`, optional `b [M]`.
#[derive(Clone, PartialEq, Debug)]
pub struct ConvTransposeAttrs {
    /// Stride per spatial dim.
    pub strides: Vec<usize>,
    /// `[begin.., end..]` cropping of the full output.
    pub pads: Vec<usize>,
    /// Dilation per spatial dim.
    pub dilations: Vec<usize>,
    /// Number of groups.
    pub group: usize,
    /// Extra size added at the end of each spatial dim.
    pub output_padding: Vec<usize>,
}

/// Attributes of [`Op::Gemm`]: `y = alpha * op(a) @ op(b) + beta * c`, inputs `a, b, [c]`.
#[derive(Clone, PartialEq, Debug)]
pub struct GemmAttrs {
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of `c`.
    pub beta: f32,
    /// Transpose `a` first.
    pub trans_a: bool,
    /// Transpose `b` first.
    pub trans_b: bool,
}

/// Attributes of [`Op::BatchNorm`]: inputs `x, scale, bias, mean, var` (inference form).
#[derive(Clone, PartialEq, Debug)]
pub struct BatchNormAttrs {
    /// Added to the variance.
    pub epsilon: f32,
}

/// Attributes of [`Op::LeakyRelu`].
#[derive(Clone, PartialEq, Debug)]
pub struct LeakyReluAttrs {
    /// Slope for negative inputs.
    pub alpha: f32,
}

/// Attributes of [`Op::Clip`] (both ONNX forms are normalized to these bounds).
#[derive(Clone, PartialEq, Debug)]
pub struct ClipAttrs {
    /// Lower bound (`-inf` when absent).
    pub min: f32,
    /// Upper bound (`+inf` when absent).
    pub max: f32,
}

/// Attributes of [`Op::HardSigmoid`]: `max(0, min(1, alpha*x + beta))`.
#[derive(Clone, PartialEq, Debug)]
pub struct HardSigmoidAttrs {
    /// Slope.
    pub alpha: f32,
    /// Offset.
    pub beta: f32,
}

/// Attributes of [`Op::Softmax`] (opset-13 semantics: normalize along one axis).
#[derive(Clone, PartialEq, Debug)]
pub struct SoftmaxAttrs {
    /// The normalized axis.
    pub axis: usize,
}

/// Attributes shared by [`Op::MaxPool`] and [`Op::AveragePool`].
#[derive(Clone, PartialEq, Debug)]
pub struct PoolAttrs {
    /// Window size per spatial dim.
    pub kernel: Vec<usize>,
    /// Stride per spatial dim.
    pub strides: Vec<usize>,
    /// `[begin.., end..]` padding.
    pub pads: Vec<usize>,
    /// Dilation per spatial dim.
    pub dilations: Vec<usize>,
    /// Output size was computed with ceil instead of floor.
    pub ceil_mode: bool,
}

/// Attributes of [`Op::AveragePool`].
#[derive(Clone, PartialEq, Debug)]
pub struct AvgPoolAttrs {
    /// Window geometry.
    pub pool: PoolAttrs,
    /// Padded elements count in the divisor.
    pub count_include_pad: bool,
}

/// Attributes of [`Op::ReduceMean`].
#[derive(Clone, PartialEq, Debug)]
pub struct ReduceAttrs {
    /// Reduced axes, sorted, non-negative.
    pub axes: Vec<usize>,
    /// Keep reduced axes as size 1.
    pub keepdims: bool,
}

/// Attributes of [`Op::Concat`].
#[derive(Clone, PartialEq, Debug)]
pub struct ConcatAttrs {
    /// Concatenation axis.
    pub axis: usize,
}

/// Attributes of [`Op::Split`] (one output per entry of `sizes`).
#[derive(Clone, PartialEq, Debug)]
pub struct SplitAttrs {
    /// Split axis.
    pub axis: usize,
    /// Size of each output along `axis`; they sum to the input's size.
    pub sizes: Vec<usize>,
}

/// Attributes of [`Op::Slice`], normalized to one entry per input dim.
///
/// Output element `i` along dim `d` is input element `starts[d] + i * steps[d]`; the output
/// size per dim is in the output type.
#[derive(Clone, PartialEq, Debug)]
pub struct SliceAttrs {
    /// First index taken per dim (already clamped into range).
    pub starts: Vec<usize>,
    /// Step per dim (non-zero; negative walks backwards).
    pub steps: Vec<i64>,
}

/// Attributes of [`Op::Transpose`].
#[derive(Clone, PartialEq, Debug)]
pub struct TransposeAttrs {
    /// Output dim `i` is input dim `perm[i]`.
    pub perm: Vec<usize>,
}

/// Padding mode of [`Op::Pad`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PadMode {
    /// Fill with a constant.
    Constant,
    /// Mirror without repeating the edge.
    Reflect,
    /// Repeat the edge.
    Edge,
}

/// Attributes of [`Op::Pad`].
#[derive(Clone, PartialEq, Debug)]
pub struct PadAttrs {
    /// `[begin.., end..]` per dim; negative values crop.
    pub pads: Vec<i64>,
    /// How to fill.
    pub mode: PadMode,
    /// Fill value for [`PadMode::Constant`]. On an integer tensor it is the stored integer
    /// (the zero point for real 0) and must be an integer of the element type's range.
    pub value: f32,
}

/// Interpolation of [`Op::Resize`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ResizeMode {
    /// Nearest neighbour.
    Nearest,
    /// (Bi)linear.
    Linear,
}

/// Coordinate transformation of [`Op::Resize`] (ONNX `coordinate_transformation_mode`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CoordMode {
    /// `(x_out + 0.5) / scale - 0.5`.
    HalfPixel,
    /// Like half_pixel, but 0 when the output length is 1.
    PytorchHalfPixel,
    /// `x_out * (len_in - 1) / (len_out - 1)`.
    AlignCorners,
    /// `x_out / scale`.
    Asymmetric,
    /// `(x_out + 0.5) / scale` (no `- 0.5`; opset 11 `half_pixel_symmetric` is not supported).
    TfHalfPixelForNn,
}

/// Rounding of [`ResizeMode::Nearest`] (ONNX `nearest_mode`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NearestMode {
    /// Round half down.
    RoundPreferFloor,
    /// Round half up.
    RoundPreferCeil,
    /// Floor.
    Floor,
    /// Ceil.
    Ceil,
}

/// Attributes of [`Op::Resize`]; the output shape is in the output type.
#[derive(Clone, PartialEq, Debug)]
pub struct ResizeAttrs {
    /// Interpolation.
    pub mode: ResizeMode,
    /// Coordinate transformation.
    pub coord: CoordMode,
    /// Rounding for nearest.
    pub nearest: NearestMode,
    /// Scale per dim used by the coordinate transform (output/input unless the model gave scales).
    pub scales: Vec<f32>,
}

/// Attributes of [`Op::ConvInt`]: the integer form of [`Op::Conv`].
///
/// Inputs `x` (u8/i8/i16, per-tensor quantized with zero point `zp_x`), `w` (i8/i4
/// constant, symmetric: zero point 0, per output channel or per tensor), optional `bias`
/// (i32 `[M]`, already in the accumulator scale `s_x * s_w[m]`). Output: i32 accumulator
/// `acc[m] = bias[m] + sum (x - zp_x) * w` with padded positions contributing 0; its type is
/// quantized per axis 1 with scales `s_x * s_w[m]` and zero point 0.
#[derive(Clone, PartialEq, Debug)]
pub struct ConvIntAttrs {
    /// Window geometry (as for the float conv).
    pub conv: ConvAttrs,
}

/// Attributes of [`Op::ConvTransposeInt`]: the integer form of [`Op::ConvTranspose`]
/// (operands and accumulator as for [`ConvIntAttrs`]; `w` per-channel along axis 1).
#[derive(Clone, PartialEq, Debug)]
pub struct ConvTransposeIntAttrs {
    /// Window geometry (as for the float conv-transpose).
    pub conv: ConvTransposeAttrs,
}

/// Attributes of [`Op::GemmInt`]: `acc = (a - zp_a) @ op(b) + bias` with int32 accumulation.
///
/// `a` is `[M, K]` (u8/i8/i16, per tensor), `b` a constant i8/i4 `[N, K]` (`trans_b`) or
/// `[K, N]`, symmetric per output column or per tensor; `bias` optional i32 `[N]`. Float
/// Gemm's `alpha` is folded into `b`'s scales and `beta` into `bias` at lowering; `trans_a`
/// is lowered to a Transpose.
#[derive(Clone, PartialEq, Debug)]
pub struct GemmIntAttrs {
    /// `b` is stored `[N, K]`.
    pub trans_b: bool,
}

/// Attributes of [`Op::Requant`]: rescale an integer tensor to another quantization.
///
/// Steps (the one definition is [`crate::arith::requantize`]):
/// 1. subtract the input zero point (`x - zp_in`, from the input type; 0 for accumulators);
/// 2. multiply by `multipliers[c]` (`c` the index along `axis`, or the single multiplier) with
///    the saturating rounding doubling high multiply and the rounding shift of `rounding`;
/// 3. add the output zero point (from the output type);
/// 4. clamp to `[lo, hi]`, which carry any fused ReLU/ReLU6/Clip and the output type's range.
#[derive(Clone, PartialEq, Debug)]
pub struct RequantAttrs {
    /// One multiplier per index of `axis`, or exactly one for the whole tensor.
    pub multipliers: Vec<QuantizedMultiplier>,
    /// The channel axis of `multipliers` (ignored with one multiplier).
    pub axis: usize,
    /// Rounding of the right shift (a target property).
    pub rounding: RoundingMode,
    /// Lower clamp (in output integer units).
    pub lo: i32,
    /// Upper clamp (in output integer units).
    pub hi: i32,
}

/// Attributes of [`Op::AddInt`]: quantized broadcasting addition (TFLite's algorithm).
///
/// `y = clamp(zp_y + R(R((a - zp_a) << shift, ma) + R((b - zp_b) << shift, mb), mo), lo, hi)`
/// where `R(v, m)` is the requantization of step 2 of [`RequantAttrs`] and `ma = s_a/(2 max)`,
/// `mb = s_b/(2 max)`, `mo = 2 max / (2^shift s_y)` with `max = max(s_a, s_b)`.
#[derive(Clone, PartialEq, Debug)]
pub struct AddIntAttrs {
    /// Left shift applied to both inputs before rescaling (20 for 8-bit inputs).
    pub shift: u32,
    /// Multiplier of input `a`.
    pub ma: QuantizedMultiplier,
    /// Multiplier of input `b`.
    pub mb: QuantizedMultiplier,
    /// Multiplier of the sum.
    pub mo: QuantizedMultiplier,
    /// Rounding of right shifts.
    pub rounding: RoundingMode,
    /// Lower clamp of the output.
    pub lo: i32,
    /// Upper clamp of the output.
    pub hi: i32,
}

/// Attributes of [`Op::MulInt`]: `y = clamp(zp_y + R((a - zp_a) * (b - zp_b), m), lo, hi)`
/// with `m = s_a s_b / s_y` (broadcasting).
#[derive(Clone, PartialEq, Debug)]
pub struct MulIntAttrs {
    /// Multiplier of the product.
    pub m: QuantizedMultiplier,
    /// Rounding of right shifts.
    pub rounding: RoundingMode,
    /// Lower clamp of the output.
    pub lo: i32,
    /// Upper clamp of the output.
    pub hi: i32,
}

/// Attributes of [`Op::AvgPoolInt`]: integer average pooling, same quantization in and out.
///
/// Per window: `sum = sum (x - zp)` over the counted elements, then
/// `y = zp + average(sum, fixed_reciprocal(count), rounding)` ([`crate::arith::average`]), so
/// no division happens at run time. Global average pooling is a window over all spatial dims.
#[derive(Clone, PartialEq, Debug)]
pub struct AvgPoolIntAttrs {
    /// Window geometry and divisor rule.
    pub pool: AvgPoolAttrs,
    /// Rounding of the average.
    pub rounding: RoundingMode,
}

/// Attributes of [`Op::Lut`]: an elementwise function as a table built at compile time.
///
/// For an 8-bit input, `y = table[c * 256 + (x - x_min)]` where `x_min` is the input type's
/// minimum (0 for u8, -128 for i8) and `c` the index along `axis` for per-channel tables
/// (PRelu with per-channel slopes), else 0. Used for sigmoid, hard-sigmoid, hard-swish, tanh,
/// leaky-relu and prelu.
#[derive(Clone, PartialEq, Debug)]
pub struct LutAttrs {
    /// Output values, 256 per table.
    pub table: Vec<i32>,
    /// The channel axis when there is more than one table.
    pub axis: Option<usize>,
}

/// Attributes of [`Op::SoftmaxInt`]: integer softmax along `axis` (8-bit in, integer out
/// quantized per tensor, typically `1/256`).
///
/// Per slice along `axis`, without division:
/// 1. `d[i] = x_max - x[i]` (0..=255), `e[i] = exp_table[d[i]]` (Q`exp_bits` values of
///    `exp(-s_x * d)` built at compile time), `sum = sum e[i]` (must fit i32 and be positive);
/// 2. `(r, n) = `[`crate::arith::reciprocal_q31`]`(sum)`: `1/sum ~ r * 2^-31 * 2^(1-n)`
///    (leading-zero normalization, then gemmlowp's Newton-Raphson
///    `one_over_one_plus_x_for_x_in_0_1` in Q31);
/// 3. `t[i] = sqrdmulh(e[i] << (30 - exp_bits), r)`;
/// 4. `y[i] = requantize(t[i], (m_y.m0, 29 + n + m_y.shift - exp_bits), zp_y, qmin, qmax,
///    rounding)` with `m_y = quantize_multiplier(1 / s_y)` from the result type.
///
/// The interpreter is `ir::interp::int` (`softmax.rs`).
#[derive(Clone, PartialEq, Debug)]
pub struct SoftmaxIntAttrs {
    /// The normalized axis.
    pub axis: usize,
    /// `exp(-s_x * d)` for `d = 0..=255` in Q0.`exp_bits` fixed point.
    pub exp_table: Vec<i32>,
    /// Fractional bits of `exp_table`.
    pub exp_bits: u32,
    /// Rounding of right shifts.
    pub rounding: RoundingMode,
}

/// Attributes of [`Op::ResizeInt`]: linear resize of an 8/16-bit integer tensor in fixed
/// point (same type and quantization in and out).
///
/// Per dim, source coordinates are computed as in [`ResizeAttrs`] (clamped into the input)
/// and at compile time each output index gets two input indices `i0 <= i1` with weights
/// `w1 = round_half_even(frac * 2^frac_bits)`, `w0 = 2^frac_bits - w1`
/// (`ir::interp::int::resize_int_taps`). Then over all `r` dims
/// `y = zp + round_shift(sum_corners (x - zp) * prod_d w_d, frac_bits * r, rounding)`, summed
/// exactly, one rounding shift, clamped to the type's range. Dims whose weights are all
/// `(2^frac_bits, 0)` (N, C) may be skipped with their share of the shift (exactly equal).
#[derive(Clone, PartialEq, Debug)]
pub struct ResizeIntAttrs {
    /// The float resize it implements (mode must be linear).
    pub resize: ResizeAttrs,
    /// Fractional bits of the interpolation weights.
    pub frac_bits: u32,
    /// Rounding of the final shift.
    pub rounding: RoundingMode,
}

/// One operation. Inputs and outputs are [`crate::ValueId`]s on the node.
#[derive(Clone, PartialEq, Debug)]
pub enum Op {
    /// A graph input (no inputs, one output).
    Input,
    /// A constant tensor (no inputs, one output).
    Const(ConstAttrs),
    /// N-d convolution (1 or 2 spatial dims), grouped and depthwise included.
    Conv(ConvAttrs),
    /// Transposed convolution.
    ConvTranspose(ConvTransposeAttrs),
    /// General matrix multiply on 2-d inputs.
    Gemm(GemmAttrs),
    /// Numpy-style batched matrix product.
    MatMul,
    /// Inference batch normalization over axis 1.
    BatchNorm(BatchNormAttrs),
    /// `max(x, 0)`.
    Relu,
    /// `x < 0 ? slope * x : x`, slope broadcast (inputs `x, slope`).
    PRelu,
    /// `x < 0 ? alpha * x : x`.
    LeakyRelu(LeakyReluAttrs),
    /// `min(max(x, min), max)`.
    Clip(ClipAttrs),
    /// Logistic sigmoid.
    Sigmoid,
    /// Piecewise-linear sigmoid.
    HardSigmoid(HardSigmoidAttrs),
    /// `x * relu6(x + 3) / 6`.
    HardSwish,
    /// Hyperbolic tangent.
    Tanh,
    /// Softmax along one axis.
    Softmax(SoftmaxAttrs),
    /// Broadcasting addition.
    Add,
    /// Broadcasting subtraction.
    Sub,
    /// Broadcasting multiplication.
    Mul,
    /// Broadcasting division.
    Div,
    /// Max pooling.
    MaxPool(PoolAttrs),
    /// Average pooling.
    AveragePool(AvgPoolAttrs),
    /// Mean over all spatial dims, keeping them as size 1.
    GlobalAveragePool,
    /// Mean over the given axes.
    ReduceMean(ReduceAttrs),
    /// Concatenation of all inputs.
    Concat(ConcatAttrs),
    /// Split into several outputs.
    Split(SplitAttrs),
    /// Strided slice.
    Slice(SliceAttrs),
    /// Reinterpret with the output type's shape (same element count).
    Reshape,
    /// Permute dims.
    Transpose(TransposeAttrs),
    /// Pad or crop.
    Pad(PadAttrs),
    /// Resize (nearest or linear).
    Resize(ResizeAttrs),

    // ----- Quantization boundary (Qdq and Integer phases) -----
    /// f32 -> integer: `q = clamp(round_half_even(x * (1/s)) + zp, qmin, qmax)` with the
    /// parameters of the output type ([`crate::arith::quantize`]).
    Quantize,
    /// integer -> f32: `x = (q - zp) * s` with the parameters of the input type.
    Dequantize,

    // ----- Integer ops (Integer phase). Data-movement ops above (Reshape, Transpose, Concat,
    // Split, Slice, Pad, MaxPool, Resize nearest) also run on integer tensors whose input and
    // output quantization are equal. -----
    /// Integer convolution into an i32 accumulator.
    ConvInt(ConvIntAttrs),
    /// Integer transposed convolution into an i32 accumulator.
    ConvTransposeInt(ConvTransposeIntAttrs),
    /// Integer matrix multiply with a constant weight into an i32 accumulator.
    GemmInt(GemmIntAttrs),
    /// Integer batched matrix product of two quantized activations into i32:
    /// `acc = (a - zp_a) @ (b - zp_b)`.
    MatMulInt,
    /// Requantization with fixed-point multipliers and clamps.
    Requant(RequantAttrs),
    /// Quantized addition.
    AddInt(AddIntAttrs),
    /// Quantized multiplication.
    MulInt(MulIntAttrs),
    /// Integer average pooling.
    AvgPoolInt(AvgPoolIntAttrs),
    /// Table lookup.
    Lut(LutAttrs),
    /// Integer softmax.
    SoftmaxInt(SoftmaxIntAttrs),
    /// Integer linear resize.
    ResizeInt(ResizeIntAttrs),
}

impl Op {
    /// The mnemonic used in `.qir` text.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Const(_) => "const",
            Op::Conv(_) => "conv",
            Op::ConvTranspose(_) => "conv_transpose",
            Op::Gemm(_) => "gemm",
            Op::MatMul => "matmul",
            Op::BatchNorm(_) => "batch_norm",
            Op::Relu => "relu",
            Op::PRelu => "prelu",
            Op::LeakyRelu(_) => "leaky_relu",
            Op::Clip(_) => "clip",
            Op::Sigmoid => "sigmoid",
            Op::HardSigmoid(_) => "hard_sigmoid",
            Op::HardSwish => "hard_swish",
            Op::Tanh => "tanh",
            Op::Softmax(_) => "softmax",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::MaxPool(_) => "max_pool",
            Op::AveragePool(_) => "average_pool",
            Op::GlobalAveragePool => "global_average_pool",
            Op::ReduceMean(_) => "reduce_mean",
            Op::Concat(_) => "concat",
            Op::Split(_) => "split",
            Op::Slice(_) => "slice",
            Op::Reshape => "reshape",
            Op::Transpose(_) => "transpose",
            Op::Pad(_) => "pad",
            Op::Resize(_) => "resize",
            Op::Quantize => "quantize",
            Op::Dequantize => "dequantize",
            Op::ConvInt(_) => "conv_int",
            Op::ConvTransposeInt(_) => "conv_transpose_int",
            Op::GemmInt(_) => "gemm_int",
            Op::MatMulInt => "matmul_int",
            Op::Requant(_) => "requant",
            Op::AddInt(_) => "add_int",
            Op::MulInt(_) => "mul_int",
            Op::AvgPoolInt(_) => "avg_pool_int",
            Op::Lut(_) => "lut",
            Op::SoftmaxInt(_) => "softmax_int",
            Op::ResizeInt(_) => "resize_int",
        }
    }
}
