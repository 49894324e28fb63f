//! Reading and writing NumPy `.npy` files (and, through [`crate::npz`], `.npz` archives).
//!
//! qcc reads calibration and run inputs as `.npy` (single-input models) or `.npz` (keyed by
//! input name) and writes outputs as `.npz` keyed by output name. This is a small reader and
//! writer of the format (`numpy/lib/format.py`): a magic string, a version, a Python dict
//! literal header `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` and the raw
//! little-endian elements in C order.
//!
//! Element types read and the [`ir::DType`] they become:
//!
//! | descr | tensor |
//! |---|---|
//! | `<f4` | f32 |
//! | `<f8` | f32 (rounded to nearest) |
//! | `\|u1`, `\|b1` | u8 (bools as 0/1) |
//! | `\|i1` | i8 |
//! | `<i2` | i16 |
//! | `<i4` | i32 |
//! | `<i8` | i32, an error if a value does not fit |
//!
//! Anything else (big-endian, unsigned 16/32/64-bit, complex, structured, object, Fortran
//! order) is a typed error naming the file and the problem; malformed bytes never panic and
//! sizes are checked with checked arithmetic before anything is allocated.
//!
//! The writer emits version 1.0 (2.0 only if the header would not fit in 64 KiB), with the
//! header padded so the data starts at a multiple of 64 bytes, as numpy does. i4/u4 tensors
//! are written unpacked as `|i1`/`|u1` and so read back as i8/u8.

use std::io::Read;
use std::path::Path;

use ir::{DType, Shape, Tensor, TensorData};

pub use crate::npz::{read_npz, read_npz_file, write_npz, write_npz_file};

/// The six bytes every `.npy` file starts with.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Longest header accepted (numpy's own default limit for `np.load`).
pub const MAX_HEADER_LEN: usize = 10_000;

/// An error reading or writing `.npy`/`.npz` data: where, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {kind}")]
pub struct NpyError {
    /// The file (and archive member), or `<bytes>` for in-memory data.
    pub origin: String,
    /// What is wrong.
    pub kind: NpyErrorKind,
}

/// What is wrong with `.npy`/`.npz` data.
#[derive(Debug, thiserror::Error)]
pub enum NpyErrorKind {
    /// Reading or writing the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The data does not start with `\x93NUMPY`.
    #[error("not a .npy file (bad magic bytes)")]
    BadMagic,
    /// A format version other than 1.0, 2.0 or 3.0.
    #[error("unsupported .npy format version {major}.{minor}")]
    UnsupportedVersion {
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The header length field exceeds [`MAX_HEADER_LEN`].
    #[error("header too long ({len} bytes, at most {MAX_HEADER_LEN})")]
    HeaderTooLong {
        /// The declared header length.
        len: usize,
    },
    /// The header is not the expected dict literal.
    #[error("malformed header: {0}")]
    BadHeader(String),
    /// An element type this reader does not handle.
    #[error("unsupported dtype {0} (supported: <f4 <f8 |u1 |i1 <i2 <i4 <i8 |b1)")]
    UnsupportedDtype(String),
    /// `fortran_order: True`.
    #[error("fortran_order arrays are not supported; save a C-order array (np.ascontiguousarray)")]
    FortranOrder,
    /// The file ends before the header or the data does.
    #[error("truncated data: expected {expected} bytes, found {found}")]
    Truncated {
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// More data bytes than the shape needs.
    #[error("shape {shape:?} needs {expected} data bytes, found {found}")]
    SizeMismatch {
        /// The declared shape.
        shape: Vec<usize>,
        /// Bytes the shape and dtype need.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The element count or byte size of the shape overflows.
    #[error("shape {0:?} is too large (element count overflows)")]
    Overflow(Vec<usize>),
    /// An `<i8` value outside the i32 range.
    #[error("int64 element {index} = {value} does not fit in i32")]
    IntOutOfRange {
        /// Flat index of the element.
        index: usize,
        /// Its value.
        value: i64,
    },
    /// The `.npz` container is not a readable zip archive.
    #[error("bad .npz archive: {0}")]
    Zip(String),
    /// An `.npz` member whose name does not end in `.npy`.
    #[error("archive member {0:?} is not a .npy file")]
    NotNpyMember(String),
    /// Two arrays with the same name (reading or writing an `.npz`).
    #[error("duplicate array name {0:?}")]
    DuplicateName(String),
}

impl NpyError {
    /// An error at `origin`.
    pub fn new(origin: impl Into<String>, kind: NpyErrorKind) -> NpyError {
        NpyError {
            origin: origin.into(),
            kind,
        }
    }
}

/// Origin used for in-memory data.
const BYTES_ORIGIN: &str = "<bytes>";

/// Parses a whole `.npy` file held in memory.
pub fn read_npy(bytes: &[u8]) -> Result<Tensor, NpyError> {
    parse_npy(bytes).map_err(|kind| NpyError::new(BYTES_ORIGIN, kind))
}

/// Reads a `.npy` file.
pub fn read_npy_file(path: &Path) -> Result<Tensor, NpyError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| NpyError::new(&origin, e.into()))?;
    parse_npy(&bytes).map_err(|kind| NpyError::new(origin, kind))
}

/// Serializes a tensor as a version 1.0 `.npy` file.
pub fn write_npy(t: &Tensor) -> Vec<u8> {
    let (descr, item) = descr_of(&t.data);
    let header = header_text(descr, t.shape.dims());
    let mut out = Vec::with_capacity(128 + t.data.len() * item);
    push_header(&mut out, &header);
    push_data(&mut out, &t.data);
    out
}

/// Writes a tensor to a `.npy` file.
pub fn write_npy_file(path: &Path, t: &Tensor) -> Result<(), NpyError> {
    std::fs::write(path, write_npy(t))
        .map_err(|e| NpyError::new(path.display().to_string(), e.into()))
}

/// A parsed `.npy` header.
#[derive(Clone, PartialEq, Debug)]
pub(crate) struct Header {
    /// Element type.
    pub dtype: NpyDtype,
    /// Dims in C order.
    pub shape: Vec<usize>,
    /// Offset of the first data byte.
    pub data_offset: usize,
    /// Bytes of data the shape needs.
    pub data_len: usize,
}

/// The element types read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum NpyDtype {
    F4,
    F8,
    U1,
    B1,
    I1,
    I2,
    I4,
    I8,
}

impl NpyDtype {
    fn parse(descr: &str) -> Option<NpyDtype> {
        Some(match descr {
            "<f4" => NpyDtype::F4,
            "<f8" => NpyDtype::F8,
            "|u1" | "<u1" => NpyDtype::U1,
            "|b1" | "<b1" => NpyDtype::B1,
            "|i1" | "<i1" => NpyDtype::I1,
            "<i2" => NpyDtype::I2,
            "<i4" => NpyDtype::I4,
            "<i8" => NpyDtype::I8,
            _ => return None,
        })
    }

    fn item_size(self) -> usize {
        match self {
            NpyDtype::U1 | NpyDtype::B1 | NpyDtype::I1 => 1,
            NpyDtype::I2 => 2,
            NpyDtype::F4 | NpyDtype::I4 => 4,
            NpyDtype::F8 | NpyDtype::I8 => 8,
        }
    }
}

/// Parses a whole `.npy` file: header, then exactly the data the shape needs.
fn parse_npy(bytes: &[u8]) -> Result<Tensor, NpyErrorKind> {
    let header = parse_header(bytes)?;
    let data = &bytes[header.data_offset..];
    if data.len() != header.data_len {
        return Err(if data.len() < header.data_len {
            NpyErrorKind::Truncated {
                expected: header.data_offset + header.data_len,
                found: bytes.len(),
            }
        } else {
            NpyErrorKind::SizeMismatch {
                shape: header.shape.clone(),
                expected: header.data_len,
                found: data.len(),
            }
        });
    }
    decode(&header, data)
}

/// Reads one `.npy` stream (an archive member): header, then exactly the data the header
/// declares. Memory use is bounded by the declared sizes, never by the stream's length.
pub(crate) fn read_npy_stream(r: &mut impl Read) -> Result<Tensor, NpyErrorKind> {
    // Magic and version, then the 2- or 4-byte length field.
    let mut head = vec![0u8; 8];
    let got = read_up_to(r, &mut head)?;
    head.truncate(got);
    let prefix = prefix_len(&head)?;
    read_more(r, &mut head, prefix - 8)?;
    let header_len = declared_header_len(&head)?;
    read_more(r, &mut head, header_len)?;
    let header = parse_header(&head)?;
    let mut data = Vec::new();
    r.by_ref()
        .take(header.data_len as u64)
        .read_to_end(&mut data)?;
    if data.len() < header.data_len {
        return Err(NpyErrorKind::Truncated {
            expected: header.data_offset + header.data_len,
            found: header.data_offset + data.len(),
        });
    }
    // Bytes after the data are an error, as for a whole file; count them without storing.
    let trailing = std::io::copy(r, &mut std::io::sink())?;
    if trailing > 0 {
        return Err(NpyErrorKind::SizeMismatch {
            shape: header.shape.clone(),
            expected: header.data_len,
            found: header
                .data_len
                .saturating_add(usize::try_from(trailing).unwrap_or(usize::MAX)),
        });
    }
    decode(&header, &data)
}

/// Appends exactly `n` more bytes of the stream to `buf`, or reports truncation.
fn read_more(r: &mut impl Read, buf: &mut Vec<u8>, n: usize) -> Result<(), NpyErrorKind> {
    let want = buf.len() + n;
    r.by_ref().take(n as u64).read_to_end(buf)?;
    if buf.len() < want {
        return Err(NpyErrorKind::Truncated {
            expected: want,
            found: buf.len(),
        });
    }
    Ok(())
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, NpyErrorKind> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

/// Length of magic + version + length field, from the version bytes.
fn prefix_len(bytes: &[u8]) -> Result<usize, NpyErrorKind> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        // A short file that is a prefix of the magic is truncated, anything else is not npy.
        if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
            return Err(NpyErrorKind::Truncated {
                expected: MAGIC.len(),
                found: bytes.len(),
            });
        }
        return Err(NpyErrorKind::BadMagic);
    }
    if bytes.len() < 8 {
        return Err(NpyErrorKind::Truncated {
            expected: 8,
            found: bytes.len(),
        });
    }
    match (bytes[6], bytes[7]) {
        (1, 0) => Ok(10),
        (2, 0) | (3, 0) => Ok(12),
        (major, minor) => Err(NpyErrorKind::UnsupportedVersion { major, minor }),
    }
}

/// The header length field.
fn declared_header_len(bytes: &[u8]) -> Result<usize, NpyErrorKind> {
    let prefix = prefix_len(bytes)?;
    if bytes.len() < prefix {
        return Err(NpyErrorKind::Truncated {
            expected: prefix,
            found: bytes.len(),
        });
    }
    let len = if prefix == 10 {
        u16::from_le_bytes([bytes[8], bytes[9]]) as usize
    } else {
        u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
    };
    if len > MAX_HEADER_LEN {
        return Err(NpyErrorKind::HeaderTooLong { len });
    }
    Ok(len)
}

/// Parses magic, version and header dict; `bytes` may extend past the header.
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Header, NpyErrorKind> {
    let prefix = prefix_len(bytes)?;
    let len = declared_header_len(bytes)?;
    let end = prefix + len;
    if bytes.len() < end {
        return Err(NpyErrorKind::Truncated {
            expected: end,
            found: bytes.len(),
        });
    }
    let text = std::str::from_utf8(&bytes[prefix..end])
        .map_err(|_| NpyErrorKind::BadHeader("header is not UTF-8".into()))?;
    let dict = match literal::parse(text)? {
        literal::Value::Dict(d) => d,
        _ => return Err(NpyErrorKind::BadHeader("header is not a dict".into())),
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (key, value) in dict {
        match key.as_str() {
            "descr" => descr = Some(value),
            "fortran_order" => fortran = Some(value),
            "shape" => shape = Some(value),
            other => {
                return Err(NpyErrorKind::BadHeader(format!("unexpected key {other:?}")));
            }
        }
    }
    let missing = |k: &str| NpyErrorKind::BadHeader(format!("missing key {k:?}"));
    let dtype = match descr.ok_or_else(|| missing("descr"))? {
        literal::Value::Str(s) => NpyDtype::parse(&s).ok_or(NpyErrorKind::UnsupportedDtype(s))?,
        other => return Err(NpyErrorKind::UnsupportedDtype(other.to_string())),
    };
    match fortran.ok_or_else(|| missing("fortran_order"))? {
        literal::Value::Bool(false) => {}
        literal::Value::Bool(true) => return Err(NpyErrorKind::FortranOrder),
        other => {
            return Err(NpyErrorKind::BadHeader(format!(
                "fortran_order is {other}, not a bool"
            )));
        }
    }
    let shape = match shape.ok_or_else(|| missing("shape"))? {
        literal::Value::Tuple(items) => items
            .into_iter()
            .map(|v| match v {
                literal::Value::Int(n) => Ok(n),
                other => Err(NpyErrorKind::BadHeader(format!(
                    "shape entry {other} is not a non-negative integer"
                ))),
            })
            .collect::<Result<Vec<usize>, _>>()?,
        other => {
            return Err(NpyErrorKind::BadHeader(format!(
                "shape {other} is not a tuple"
            )));
        }
    };
    let data_len = Shape(shape.clone())
        .checked_numel()
        .and_then(|n| n.checked_mul(dtype.item_size()))
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| NpyErrorKind::Overflow(shape.clone()))?;
    Ok(Header {
        dtype,
        shape,
        data_offset: end,
        data_len,
    })
}

/// Converts exactly `header.data_len` little-endian bytes to a tensor.
fn decode(header: &Header, data: &[u8]) -> Result<Tensor, NpyErrorKind> {
    debug_assert_eq!(data.len(), header.data_len);
    let shape = Shape(header.shape.clone());
    let (dtype, data) = match header.dtype {
        NpyDtype::F4 => (
            DType::F32,
            TensorData::F32(chunks(data, |b: [u8; 4]| f32::from_le_bytes(b))),
        ),
        NpyDtype::F8 => (
            DType::F32,
            TensorData::F32(chunks(data, |b: [u8; 8]| f64::from_le_bytes(b) as f32)),
        ),
        NpyDtype::U1 => (DType::U8, TensorData::U8(data.to_vec())),
        NpyDtype::B1 => (
            DType::U8,
            TensorData::U8(data.iter().map(|&b| u8::from(b != 0)).collect()),
        ),
        NpyDtype::I1 => (
            DType::I8,
            TensorData::I8(data.iter().map(|&b| b as i8).collect()),
        ),
        NpyDtype::I2 => (
            DType::I16,
            TensorData::I16(chunks(data, |b: [u8; 2]| i16::from_le_bytes(b))),
        ),
        NpyDtype::I4 => (
            DType::I32,
            TensorData::I32(chunks(data, |b: [u8; 4]| i32::from_le_bytes(b))),
        ),
        NpyDtype::I8 => {
            let wide = chunks(data, |b: [u8; 8]| i64::from_le_bytes(b));
            let mut narrow = Vec::with_capacity(wide.len());
            for (index, value) in wide.into_iter().enumerate() {
                let v = i32::try_from(value)
                    .map_err(|_| NpyErrorKind::IntOutOfRange { index, value })?;
                narrow.push(v);
            }
            (DType::I32, TensorData::I32(narrow))
        }
    };
    Ok(Tensor { dtype, shape, data })
}

/// Decodes fixed-size little-endian elements.
fn chunks<const N: usize, T>(data: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    data.chunks_exact(N)
        .map(|c| {
            let mut b = [0u8; N];
            b.copy_from_slice(c);
            f(b)
        })
        .collect()
}

/// The descr string and item size written for a storage variant.
fn descr_of(data: &TensorData) -> (&'static str, usize) {
    match data {
        TensorData::F32(_) => ("<f4", 4),
        TensorData::I32(_) => ("<i4", 4),
        TensorData::I16(_) => ("<i2", 2),
        TensorData::I8(_) => ("|i1", 1),
        TensorData::U8(_) => ("|u1", 1),
    }
}

/// The header dict, as numpy writes it (without padding).
fn header_text(descr: &str, shape: &[usize]) -> String {
    let dims = match shape {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    };
    format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}")
}

/// Magic, version, length and the space-padded, newline-terminated header.
fn push_header(out: &mut Vec<u8>, header: &str) {
    // Version 1.0 has a 2-byte length; fall back to 2.0 for enormous headers.
    let (version, prefix) = if header.len() + 1 + 10 + 63 <= u16::MAX as usize {
        (1u8, 10usize)
    } else {
        (2u8, 12usize)
    };
    let unpadded = prefix + header.len() + 1;
    let padded = unpadded.div_ceil(64) * 64;
    let len = padded - prefix;
    out.extend_from_slice(MAGIC);
    out.push(version);
    out.push(0);
    if version == 1 {
        out.extend_from_slice(&(len as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.resize(padded - 1, b' ');
    out.push(b'\n');
}

/// The elements in little-endian order.
fn push_data(out: &mut Vec<u8>, data: &TensorData) {
    match data {
        TensorData::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::I32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::I16(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
        TensorData::U8(v) => out.extend_from_slice(v),
    }
}

/// A parser for the subset of Python literals `.npy` headers use.
mod literal {
    use super::NpyErrorKind;
    use std::fmt;

    /// Nesting deeper than this is rejected (headers nest at most two levels).
    const MAX_DEPTH: usize = 16;

    /// A Python literal.
    #[derive(Clone, PartialEq, Debug)]
    pub enum Value {
        Str(String),
        Int(usize),
        Bool(bool),
        Tuple(Vec<Value>),
        List(Vec<Value>),
        Dict(Vec<(String, Value)>),
    }

    impl fmt::Display for Value {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let seq = |f: &mut fmt::Formatter<'_>, items: &[Value]| -> fmt::Result {
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            };
            match self {
                Value::Str(s) => write!(f, "'{s}'"),
                Value::Int(n) => write!(f, "{n}"),
                Value::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
                Value::Tuple(items) => {
                    f.write_str("(")?;
                    seq(f, items)?;
                    f.write_str(")")
                }
                Value::List(items) => {
                    f.write_str("[")?;
                    seq(f, items)?;
                    f.write_str("]")
                }
                Value::Dict(items) => {
                    f.write_str("{")?;
                    for (i, (k, v)) in items.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "'{k}': {v}")?;
                    }
                    f.write_str("}")
                }
            }
        }
    }

    /// Parses one literal followed only by whitespace.
    pub fn parse(text: &str) -> Result<Value, NpyErrorKind> {
        let mut p = Parser {
            s: text.as_bytes(),
            pos: 0,
        };
        let v = p.value(0)?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(p.err("unexpected text after the dict"));
        }
        Ok(v)
    }

    struct Parser<'a> {
        s: &'a [u8],
        pos: usize,
    }

    impl Parser<'_> {
        fn err(&self, what: &str) -> NpyErrorKind {
            NpyErrorKind::BadHeader(format!("{what} at offset {}", self.pos))
        }

        fn skip_ws(&mut self) {
            while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
        }

        fn peek(&mut self) -> Option<u8> {
            self.skip_ws();
            self.s.get(self.pos).copied()
        }

        fn expect(&mut self, c: u8) -> Result<(), NpyErrorKind> {
            if self.peek() == Some(c) {
                self.pos += 1;
                Ok(())
            } else {
                Err(self.err(&format!("expected '{}'", c as char)))
            }
        }

        fn value(&mut self, depth: usize) -> Result<Value, NpyErrorKind> {
            if depth > MAX_DEPTH {
                return Err(self.err("nesting too deep"));
            }
            match self.peek() {
                Some(b'{') => self.dict(depth),
                Some(b'(') => {
                    let (items, _) = self.seq(b'(', b')', depth)?;
                    Ok(Value::Tuple(items))
                }
                Some(b'[') => {
                    let (items, _) = self.seq(b'[', b']', depth)?;
                    Ok(Value::List(items))
                }
                Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
                Some(c) if c.is_ascii_digit() => self.int(),
                Some(c) if c.is_ascii_alphabetic() => {
                    let start = self.pos;
                    while self.pos < self.s.len() && self.s[self.pos].is_ascii_alphanumeric() {
                        self.pos += 1;
                    }
                    match &self.s[start..self.pos] {
                        b"True" => Ok(Value::Bool(true)),
                        b"False" => Ok(Value::Bool(false)),
                        _ => {
                            self.pos = start;
                            Err(self.err("unknown name"))
                        }
                    }
                }
                Some(_) => Err(self.err("unexpected character")),
                None => Err(self.err("unexpected end of header")),
            }
        }

        /// Items between `open` and `close`, separated by commas (trailing comma allowed).
        fn seq(
            &mut self,
            open: u8,
            close: u8,
            depth: usize,
        ) -> Result<(Vec<Value>, bool), NpyErrorKind> {
            self.expect(open)?;
            let mut items = Vec::new();
            let mut trailing_comma = false;
            loop {
                if self.peek() == Some(close) {
                    self.pos += 1;
                    return Ok((items, trailing_comma));
                }
                items.push(self.value(depth + 1)?);
                trailing_comma = false;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        trailing_comma = true;
                    }
                    Some(c) if c == close => {}
                    _ => return Err(self.err(&format!("expected ',' or '{}'", close as char))),
                }
            }
        }

        fn dict(&mut self, depth: usize) -> Result<Value, NpyErrorKind> {
            self.expect(b'{')?;
            let mut items: Vec<(String, Value)> = Vec::new();
            loop {
                match self.peek() {
                    Some(b'}') => {
                        self.pos += 1;
                        return Ok(Value::Dict(items));
                    }
                    Some(b'\'' | b'"') => {}
                    _ => return Err(self.err("expected a string key or '}'")),
                }
                let key = self.string()?;
                self.expect(b':')?;
                let value = self.value(depth + 1)?;
                if items.iter().any(|(k, _)| *k == key) {
                    return Err(NpyErrorKind::BadHeader(format!("duplicate key {key:?}")));
                }
                items.push((key, value));
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {}
                    _ => return Err(self.err("expected ',' or '}'")),
                }
            }
        }

        fn string(&mut self) -> Result<String, NpyErrorKind> {
            let quote = self.s[self.pos];
            self.pos += 1;
            let start = self.pos;
            while self.pos < self.s.len() && self.s[self.pos] != quote {
                if self.s[self.pos] == b'\\' {
                    return Err(self.err("escapes in strings are not supported"));
                }
                self.pos += 1;
            }
            if self.pos >= self.s.len() {
                return Err(self.err("unterminated string"));
            }
            let text = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
            self.pos += 1;
            Ok(text)
        }

        fn int(&mut self) -> Result<Value, NpyErrorKind> {
            let start = self.pos;
            let mut n: usize = 0;
            while self.pos < self.s.len() && self.s[self.pos].is_ascii_digit() {
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add((self.s[self.pos] - b'0') as usize))
                    .ok_or_else(|| {
                        let text = String::from_utf8_lossy(&self.s[start..]).into_owned();
                        NpyErrorKind::BadHeader(format!("integer too large in {text:?}"))
                    })?;
                self.pos += 1;
            }
            // Python 2 era headers may write longs as `3L`.
            if self.pos < self.s.len() && self.s[self.pos] == b'L' {
                self.pos += 1;
            }
            Ok(Value::Int(n))
        }
    }
}

#[cfg(test)]
mod tests;
