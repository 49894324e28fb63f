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
    /// Fill value for [`PadMode::Constant`].
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
    /// `(x_out + 0.5) / scale - 0.5` with `scale = len_out/len_in` (opset 11 `half_pixel_symmetric` is not supported).
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
        }
    }
}
