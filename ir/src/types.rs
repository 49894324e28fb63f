//! Tensor types: element type + static shape + optional quantization parameters.
//!
//! Quantization lives inside the type (as in MLIR's `!quant.uniform`): a value of type
//! `u8[1,8,28,28]<0.0235:128>` *is* a quantized tensor, and every pass that touches it sees
//! its scale and zero point. Text syntax is documented in `docs/qir.md`.

use std::fmt;

/// Element type of a tensor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 32-bit signed integer (accumulators, biases).
    I32,
    /// 16-bit signed integer.
    I16,
    /// 8-bit signed integer.
    I8,
    /// 8-bit unsigned integer.
    U8,
    /// Packed signed 4-bit (weights). Held unpacked, one element per `i8`, in memory.
    I4,
    /// Packed unsigned 4-bit (weights). Held unpacked, one element per `u8`, in memory.
    U4,
}

impl DType {
    /// All element types, in a fixed order.
    pub const ALL: [DType; 7] = [
        DType::F32,
        DType::I32,
        DType::I16,
        DType::I8,
        DType::U8,
        DType::I4,
        DType::U4,
    ];

    /// The spelling used in `.qir` text.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::I32 => "i32",
            DType::I16 => "i16",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I4 => "i4",
            DType::U4 => "u4",
        }
    }

    /// Parses the `.qir` spelling.
    pub fn from_name(s: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == s)
    }

    /// True for integer element types.
    pub fn is_int(self) -> bool {
        !matches!(self, DType::F32)
    }

    /// True for signed element types (f32 counts as signed).
    pub fn is_signed(self) -> bool {
        !matches!(self, DType::U8 | DType::U4)
    }

    /// Storage bits of one element (4 for the packed types).
    pub fn bits(self) -> u32 {
        match self {
            DType::F32 | DType::I32 => 32,
            DType::I16 => 16,
            DType::I8 | DType::U8 => 8,
            DType::I4 | DType::U4 => 4,
        }
    }

    /// The representable integer range `(min, max)`; `None` for f32.
    pub fn int_range(self) -> Option<(i64, i64)> {
        match self {
            DType::F32 => None,
            DType::I32 => Some((i32::MIN as i64, i32::MAX as i64)),
            DType::I16 => Some((i16::MIN as i64, i16::MAX as i64)),
            DType::I8 => Some((-128, 127)),
            DType::U8 => Some((0, 255)),
            DType::I4 => Some((-8, 7)),
            DType::U4 => Some((0, 15)),
        }
    }

    /// The range of `bits`-wide quantized values stored in this type, signed like it
    /// (`(-8, 7)` for 4 bits in an i8, `(0, 15)` in a u8); a `bits` of 0 or above the storage
    /// width gives the storage range. `None` for f32.
    pub fn quant_range(self, bits: u32) -> Option<(i64, i64)> {
        let full = self.int_range()?;
        if bits == 0 || bits >= self.bits() {
            return Some(full);
        }
        Some(if self.is_signed() {
            (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
        } else {
            (0, (1i64 << bits) - 1)
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A static shape (all dims known; dynamic dims are pinned at import).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements, or `None` on overflow.
    pub fn checked_numel(&self) -> Option<usize> {
        self.0.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
    }

    /// Number of elements. Shapes in a verified graph never overflow.
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// The dims.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut s = vec![1; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * self.0[i + 1];
        }
        s
    }
}

impl From<Vec<usize>> for Shape {
    fn from(v: Vec<usize>) -> Shape {
        Shape(v)
    }
}

impl From<&[usize]> for Shape {
    fn from(v: &[usize]) -> Shape {
        Shape(v.to_vec())
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// How scales and zero points are laid out.
#[derive(Clone, PartialEq, Debug)]
pub enum QuantGranularity {
    /// One scale and zero point for the whole tensor.
    PerTensor {
        /// Real value of one step.
        scale: f32,
        /// Integer that represents real zero.
        zero_point: i32,
    },
    /// One scale and zero point per index of `axis`.
    PerAxis {
        /// The quantized axis (e.g. 0 = output channels of a conv weight).
        axis: usize,
        /// One scale per index of `axis`.
        scales: Vec<f32>,
        /// One zero point per index of `axis`.
        zero_points: Vec<i32>,
    },
}

/// Quantization parameters carried by a tensor type.
#[derive(Clone, PartialEq, Debug)]
pub struct QuantParams {
    /// Scales and zero points.
    pub granularity: QuantGranularity,
    /// Bit width of the quantized values (may be below the storage width, e.g. 4 in an i8).
    pub bits: u32,
    /// Every scale is an exact power of two `2^-f` (fixed-point with `f` fractional bits).
    pub pow2: bool,
}

impl QuantParams {
    /// Per-tensor parameters with the storage type's full bit width.
    pub fn per_tensor(dtype: DType, scale: f32, zero_point: i32) -> QuantParams {
        QuantParams {
            granularity: QuantGranularity::PerTensor { scale, zero_point },
            bits: dtype.bits(),
            pow2: false,
        }
    }

    /// Scale for channel `c` (ignored for per-tensor).
    pub fn scale(&self, c: usize) -> f32 {
        match &self.granularity {
            QuantGranularity::PerTensor { scale, .. } => *scale,
            QuantGranularity::PerAxis { scales, .. } => scales[c],
        }
    }

    /// Zero point for channel `c` (ignored for per-tensor).
    pub fn zero_point(&self, c: usize) -> i32 {
        match &self.granularity {
            QuantGranularity::PerTensor { zero_point, .. } => *zero_point,
            QuantGranularity::PerAxis { zero_points, .. } => zero_points[c],
        }
    }
}

/// A value's type.
#[derive(Clone, PartialEq, Debug)]
pub struct TensorType {
    /// Element type.
    pub dtype: DType,
    /// Static shape.
    pub shape: Shape,
    /// Quantization, for quantized integer tensors.
    pub quant: Option<QuantParams>,
}

impl TensorType {
    /// A float tensor type.
    pub fn f32(shape: impl Into<Shape>) -> TensorType {
        TensorType {
            dtype: DType::F32,
            shape: shape.into(),
            quant: None,
        }
    }

    /// A non-quantized tensor type of any element type.
    pub fn new(dtype: DType, shape: impl Into<Shape>) -> TensorType {
        TensorType {
            dtype,
            shape: shape.into(),
            quant: None,
        }
    }
}
