//! Dense tensor values: constants in the graph and runtime values of the interpreters.

use crate::types::{DType, Shape};

/// Element storage of a tensor. Packed 4-bit types are held unpacked (one per byte).
#[derive(Clone, Debug)]
pub enum TensorData {
    /// f32 elements.
    F32(Vec<f32>),
    /// i32 elements.
    I32(Vec<i32>),
    /// i16 elements.
    I16(Vec<i16>),
    /// i8 elements (also i4).
    I8(Vec<i8>),
    /// u8 elements (also u4).
    U8(Vec<u8>),
}

impl TensorData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I16(v) => v.len(),
            TensorData::I8(v) => v.len(),
            TensorData::U8(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Zero-filled storage of `n` elements for `dtype`.
    pub fn zeros(dtype: DType, n: usize) -> TensorData {
        match dtype {
            DType::F32 => TensorData::F32(vec![0.0; n]),
            DType::I32 => TensorData::I32(vec![0; n]),
            DType::I16 => TensorData::I16(vec![0; n]),
            DType::I8 | DType::I4 => TensorData::I8(vec![0; n]),
            DType::U8 | DType::U4 => TensorData::U8(vec![0; n]),
        }
    }

    /// Whether this storage can hold elements of `dtype`.
    pub fn fits(&self, dtype: DType) -> bool {
        matches!(
            (self, dtype),
            (TensorData::F32(_), DType::F32)
                | (TensorData::I32(_), DType::I32)
                | (TensorData::I16(_), DType::I16)
                | (TensorData::I8(_), DType::I8 | DType::I4)
                | (TensorData::U8(_), DType::U8 | DType::U4)
        )
    }

    /// Element `i` widened to i64 (f32 is truncated toward zero).
    pub fn get_i64(&self, i: usize) -> i64 {
        match self {
            TensorData::F32(v) => v[i] as i64,
            TensorData::I32(v) => v[i] as i64,
            TensorData::I16(v) => v[i] as i64,
            TensorData::I8(v) => v[i] as i64,
            TensorData::U8(v) => v[i] as i64,
        }
    }
}

impl PartialEq for TensorData {
    /// Bitwise equality (so NaN payloads and -0.0 round-trip exactly).
    fn eq(&self, other: &TensorData) -> bool {
        match (self, other) {
            (TensorData::F32(a), TensorData::F32(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (TensorData::I32(a), TensorData::I32(b)) => a == b,
            (TensorData::I16(a), TensorData::I16(b)) => a == b,
            (TensorData::I8(a), TensorData::I8(b)) => a == b,
            (TensorData::U8(a), TensorData::U8(b)) => a == b,
            _ => false,
        }
    }
}

/// A dense row-major tensor.
#[derive(Clone, PartialEq, Debug)]
pub struct Tensor {
    /// Element type (the storage variant must fit it).
    pub dtype: DType,
    /// Shape; `data.len() == shape.numel()`.
    pub shape: Shape,
    /// Elements in row-major order.
    pub data: TensorData,
}

impl Tensor {
    /// A float tensor. `data.len()` must equal the shape's element count.
    pub fn from_f32(shape: impl Into<Shape>, data: Vec<f32>) -> Tensor {
        let shape = shape.into();
        debug_assert_eq!(shape.numel(), data.len());
        Tensor {
            dtype: DType::F32,
            shape,
            data: TensorData::F32(data),
        }
    }

    /// A zero-filled tensor.
    pub fn zeros(dtype: DType, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        let n = shape.numel();
        Tensor {
            dtype,
            shape,
            data: TensorData::zeros(dtype, n),
        }
    }

    /// The f32 elements, if this is a float tensor.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::F32(v) => Some(v),
            _ => None,
        }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }
}
