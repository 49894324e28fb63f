//! Decoding ONNX `TensorProto`s: typed fields, little-endian `raw_data`, external data files.
//!
//! Decoding goes to [`CVal`], the import-time constant (f32, i64 or bool elements, the
//! values the constant evaluator works on). Element counts are checked against
//! [`MAX_ELEMENTS`] with checked arithmetic and the data length is checked against the dims
//! before anything is allocated, so an absurd or truncated tensor is an error, not an OOM.

use super::error::ErrorKind;
use super::proto::{TensorProto, tensor_proto::DataLocation, tensor_proto::DataType};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

/// The most elements one tensor may have.
pub const MAX_ELEMENTS: usize = 1 << 31;

/// Element storage of an import-time constant.
#[derive(Clone, PartialEq, Debug)]
pub(crate) enum CData {
    F32(Vec<f32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

/// An import-time constant: shape, elements and the ONNX element type it came from.
#[derive(Clone, PartialEq, Debug)]
pub(crate) struct CVal {
    pub shape: Vec<usize>,
    pub data: CData,
    /// The ONNX `DataType` code (kept so Cast and materialization know the width).
    pub elem: i32,
}

impl CVal {
    pub fn f32(shape: Vec<usize>, v: Vec<f32>) -> CVal {
        CVal {
            shape,
            data: CData::F32(v),
            elem: DataType::Float as i32,
        }
    }

    pub fn i64(shape: Vec<usize>, v: Vec<i64>) -> CVal {
        CVal {
            shape,
            data: CData::I64(v),
            elem: DataType::Int64 as i32,
        }
    }

    pub fn bool(shape: Vec<usize>, v: Vec<bool>) -> CVal {
        CVal {
            shape,
            data: CData::Bool(v),
            elem: DataType::Bool as i32,
        }
    }

    pub fn len(&self) -> usize {
        match &self.data {
            CData::F32(v) => v.len(),
            CData::I64(v) => v.len(),
            CData::Bool(v) => v.len(),
        }
    }

    /// Elements as i64 (floats truncated).
    pub fn to_i64(&self) -> Vec<i64> {
        match &self.data {
            CData::F32(v) => v.iter().map(|&x| x as i64).collect(),
            CData::I64(v) => v.clone(),
            CData::Bool(v) => v.iter().map(|&b| b as i64).collect(),
        }
    }

    /// Elements as f32.
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            CData::F32(v) => v.clone(),
            CData::I64(v) => v.iter().map(|&x| x as f32).collect(),
            CData::Bool(v) => v.iter().map(|&b| b as i32 as f32).collect(),
        }
    }

    pub fn is_float(&self) -> bool {
        matches!(self.data, CData::F32(_))
    }
}

/// Decodes `t`; errors carry the tensor's name and no node.
pub(crate) fn decode(t: &TensorProto, base_dir: Option<&Path>) -> Result<CVal, ErrorKind> {
    let err = |message: String| ErrorKind::Tensor {
        node: None,
        name: t.name.clone(),
        message,
    };
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| err(format!("negative dim {d}"))))
        .collect::<Result<Vec<usize>, _>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            err(format!(
                "dims {:?} give more than {MAX_ELEMENTS} elements",
                t.dims
            ))
        })?;
    let dt = DataType::try_from(t.data_type)
        .map_err(|_| err(format!("unknown element type code {}", t.data_type)))?;
    let size = match dt {
        DataType::Float | DataType::Int32 | DataType::Uint32 => 4,
        DataType::Double | DataType::Int64 | DataType::Uint64 => 8,
        DataType::Float16 | DataType::Bfloat16 | DataType::Int16 | DataType::Uint16 => 2,
        DataType::Int8 | DataType::Uint8 | DataType::Bool => 1,
        other => {
            return Err(err(format!(
                "element type {} is not supported",
                other.as_str_name()
            )));
        }
    };
    let external = t.data_location == DataLocation::External as i32;
    let raw_owned;
    let raw: Option<&[u8]> = if external {
        raw_owned = read_external(t, base_dir, n * size).map_err(err)?;
        Some(&raw_owned)
    } else if !t.raw_data.is_empty() || n == 0 {
        Some(&t.raw_data)
    } else {
        None
    };
    let data = if let Some(raw) = raw {
        if raw.len() != n * size {
            return Err(err(format!(
                "raw data has {} bytes but dims {:?} of {} need {}",
                raw.len(),
                t.dims,
                dt.as_str_name(),
                n * size
            )));
        }
        from_raw(dt, raw)
    } else {
        let typed_len = match dt {
            DataType::Float => t.float_data.len(),
            DataType::Double => t.double_data.len(),
            DataType::Int64 => t.int64_data.len(),
            DataType::Uint32 | DataType::Uint64 => t.uint64_data.len(),
            _ => t.int32_data.len(),
        };
        if typed_len != n {
            return Err(err(format!(
                "has {typed_len} elements but dims {:?} need {n}",
                t.dims
            )));
        }
        match dt {
            DataType::Float => CData::F32(t.float_data.clone()),
            DataType::Double => CData::F32(t.double_data.iter().map(|&x| x as f32).collect()),
            DataType::Int64 => CData::I64(t.int64_data.clone()),
            DataType::Uint32 | DataType::Uint64 => {
                CData::I64(t.uint64_data.iter().map(|&x| x as i64).collect())
            }
            DataType::Float16 => CData::F32(
                t.int32_data
                    .iter()
                    .map(|&x| half::f16::from_bits(x as u16).to_f32())
                    .collect(),
            ),
            DataType::Bfloat16 => CData::F32(
                t.int32_data
                    .iter()
                    .map(|&x| half::bf16::from_bits(x as u16).to_f32())
                    .collect(),
            ),
            DataType::Bool => CData::Bool(t.int32_data.iter().map(|&x| x != 0).collect()),
            DataType::Int8 => CData::I64(t.int32_data.iter().map(|&x| x as i8 as i64).collect()),
            DataType::Uint8 => CData::I64(t.int32_data.iter().map(|&x| x as u8 as i64).collect()),
            DataType::Int16 => CData::I64(t.int32_data.iter().map(|&x| x as i16 as i64).collect()),
            DataType::Uint16 => CData::I64(t.int32_data.iter().map(|&x| x as u16 as i64).collect()),
            _ => CData::I64(t.int32_data.iter().map(|&x| x as i64).collect()),
        }
    };
    Ok(CVal {
        shape,
        data,
        elem: t.data_type,
    })
}

fn from_raw(dt: DataType, raw: &[u8]) -> CData {
    fn chunks<const N: usize>(raw: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        raw.chunks_exact(N).map(|c| {
            let mut b = [0u8; N];
            b.copy_from_slice(c);
            b
        })
    }
    match dt {
        DataType::Float => CData::F32(chunks::<4>(raw).map(f32::from_le_bytes).collect()),
        DataType::Double => CData::F32(
            chunks::<8>(raw)
                .map(|b| f64::from_le_bytes(b) as f32)
                .collect(),
        ),
        DataType::Float16 => CData::F32(
            chunks::<2>(raw)
                .map(|b| half::f16::from_le_bytes(b).to_f32())
                .collect(),
        ),
        DataType::Bfloat16 => CData::F32(
            chunks::<2>(raw)
                .map(|b| half::bf16::from_le_bytes(b).to_f32())
                .collect(),
        ),
        DataType::Int64 => CData::I64(chunks::<8>(raw).map(i64::from_le_bytes).collect()),
        DataType::Uint64 => CData::I64(
            chunks::<8>(raw)
                .map(|b| u64::from_le_bytes(b) as i64)
                .collect(),
        ),
        DataType::Int32 => CData::I64(
            chunks::<4>(raw)
                .map(|b| i32::from_le_bytes(b) as i64)
                .collect(),
        ),
        DataType::Uint32 => CData::I64(
            chunks::<4>(raw)
                .map(|b| u32::from_le_bytes(b) as i64)
                .collect(),
        ),
        DataType::Int16 => CData::I64(
            chunks::<2>(raw)
                .map(|b| i16::from_le_bytes(b) as i64)
                .collect(),
        ),
        DataType::Uint16 => CData::I64(
            chunks::<2>(raw)
                .map(|b| u16::from_le_bytes(b) as i64)
                .collect(),
        ),
        DataType::Int8 => CData::I64(raw.iter().map(|&b| b as i8 as i64).collect()),
        DataType::Bool => CData::Bool(raw.iter().map(|&b| b != 0).collect()),
        _ => CData::I64(raw.iter().map(|&b| b as i64).collect()),
    }
}

/// Reads an external-data tensor's bytes (`location`, `offset`, `length` keys), refusing
/// paths that leave `base_dir` and checking sizes before reading.
fn read_external(t: &TensorProto, base_dir: Option<&Path>, want: usize) -> Result<Vec<u8>, String> {
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for kv in &t.external_data {
        match kv.key.as_str() {
            "location" => location = Some(kv.value.as_str()),
            "offset" => {
                offset = kv
                    .value
                    .parse()
                    .map_err(|_| format!("bad external data offset `{}`", kv.value))?
            }
            "length" => {
                length = Some(
                    kv.value
                        .parse::<u64>()
                        .map_err(|_| format!("bad external data length `{}`", kv.value))?,
                )
            }
            _ => {}
        }
    }
    let location = location.ok_or("external data without a `location`")?;
    let rel = Path::new(location);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "external data location `{location}` must be a relative path inside the model's directory"
        ));
    }
    let base = base_dir.ok_or_else(|| {
        format!("external data `{location}` needs the model's directory (import from a file)")
    })?;
    let path = base.join(rel);
    if let Some(len) = length
        && len != want as u64
    {
        return Err(format!(
            "external data length {len} does not match the {want} bytes the dims need"
        ));
    }
    let mut f = std::fs::File::open(&path)
        .map_err(|e| format!("cannot open external data file `{}`: {e}", path.display()))?;
    let file_len = f
        .metadata()
        .map_err(|e| format!("cannot stat `{}`: {e}", path.display()))?
        .len();
    if offset
        .checked_add(want as u64)
        .is_none_or(|end| end > file_len)
    {
        return Err(format!(
            "external data file `{}` has {file_len} bytes, too few for {want} bytes at offset {offset}",
            path.display()
        ));
    }
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| format!("cannot seek `{}`: {e}", path.display()))?;
    let mut buf = vec![0u8; want];
    f.read_exact(&mut buf)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    Ok(buf)
}

/// Converts a decoded constant to an IR tensor: floats to f32, integers to their own width
/// (int64 and uint32 must fit i32), bool to u8.
pub(crate) fn to_ir_tensor(c: &CVal) -> Result<ir::Tensor, String> {
    use ir::{DType, Tensor, TensorData};
    let shape = ir::Shape(c.shape.clone());
    let elem = DataType::try_from(c.elem).unwrap_or(DataType::Undefined);
    let (dtype, data) = match &c.data {
        CData::F32(v) => (DType::F32, TensorData::F32(v.clone())),
        CData::Bool(v) => (
            DType::U8,
            TensorData::U8(v.iter().map(|&b| b as u8).collect()),
        ),
        CData::I64(v) => match elem {
            DataType::Int8 => (
                DType::I8,
                TensorData::I8(v.iter().map(|&x| x as i8).collect()),
            ),
            DataType::Uint8 => (
                DType::U8,
                TensorData::U8(v.iter().map(|&x| x as u8).collect()),
            ),
            DataType::Int16 => (
                DType::I16,
                TensorData::I16(v.iter().map(|&x| x as i16).collect()),
            ),
            _ => {
                let out: Option<Vec<i32>> = v.iter().map(|&x| i32::try_from(x).ok()).collect();
                let out = out.ok_or_else(|| {
                    format!(
                        "{} values do not fit in i32",
                        DataType::try_from(c.elem)
                            .map(|d| d.as_str_name())
                            .unwrap_or("integer")
                    )
                })?;
                (DType::I32, TensorData::I32(out))
            }
        },
    };
    Ok(Tensor { dtype, shape, data })
}
