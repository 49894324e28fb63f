//! Spellings of attribute enums and constant storage kinds, shared by printer and parser.

use crate::arith::RoundingMode;
use crate::ops::{CoordMode, NearestMode, PadMode, ResizeMode};
use crate::tensor::TensorData;
use crate::types::DType;

/// An enum with a fixed `.qir` spelling per variant.
pub(crate) trait Spelled: Sized + Copy + 'static {
    /// Every variant.
    const ALL: &'static [Self];
    /// The `.qir` spelling.
    fn spelling(self) -> &'static str;
    /// Parses a spelling.
    fn from_spelling(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.spelling() == s)
    }
    /// All spellings, for error messages.
    fn expected() -> String {
        Self::ALL
            .iter()
            .map(|v| format!("`{}`", v.spelling()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Spelled for PadMode {
    const ALL: &'static [Self] = &[PadMode::Constant, PadMode::Reflect, PadMode::Edge];
    fn spelling(self) -> &'static str {
        match self {
            PadMode::Constant => "constant",
            PadMode::Reflect => "reflect",
            PadMode::Edge => "edge",
        }
    }
}

impl Spelled for ResizeMode {
    const ALL: &'static [Self] = &[ResizeMode::Nearest, ResizeMode::Linear];
    fn spelling(self) -> &'static str {
        match self {
            ResizeMode::Nearest => "nearest",
            ResizeMode::Linear => "linear",
        }
    }
}

impl Spelled for CoordMode {
    const ALL: &'static [Self] = &[
        CoordMode::HalfPixel,
        CoordMode::PytorchHalfPixel,
        CoordMode::AlignCorners,
        CoordMode::Asymmetric,
        CoordMode::TfHalfPixelForNn,
    ];
    fn spelling(self) -> &'static str {
        match self {
            CoordMode::HalfPixel => "half_pixel",
            CoordMode::PytorchHalfPixel => "pytorch_half_pixel",
            CoordMode::AlignCorners => "align_corners",
            CoordMode::Asymmetric => "asymmetric",
            CoordMode::TfHalfPixelForNn => "tf_half_pixel_for_nn",
        }
    }
}

impl Spelled for NearestMode {
    const ALL: &'static [Self] = &[
        NearestMode::RoundPreferFloor,
        NearestMode::RoundPreferCeil,
        NearestMode::Floor,
        NearestMode::Ceil,
    ];
    fn spelling(self) -> &'static str {
        match self {
            NearestMode::RoundPreferFloor => "round_prefer_floor",
            NearestMode::RoundPreferCeil => "round_prefer_ceil",
            NearestMode::Floor => "floor",
            NearestMode::Ceil => "ceil",
        }
    }
}

impl Spelled for RoundingMode {
    const ALL: &'static [Self] = &RoundingMode::ALL;
    fn spelling(self) -> &'static str {
        self.name()
    }
}

/// The storage variant of a [`TensorData`], without the elements.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Storage {
    F32,
    I32,
    I16,
    I8,
    U8,
}

impl Spelled for Storage {
    const ALL: &'static [Self] = &[
        Storage::F32,
        Storage::I32,
        Storage::I16,
        Storage::I8,
        Storage::U8,
    ];
    fn spelling(self) -> &'static str {
        match self {
            Storage::F32 => "f32",
            Storage::I32 => "i32",
            Storage::I16 => "i16",
            Storage::I8 => "i8",
            Storage::U8 => "u8",
        }
    }
}

impl Storage {
    /// The storage a tensor of `dtype` normally uses.
    pub fn default_for(dtype: DType) -> Storage {
        match dtype {
            DType::F32 => Storage::F32,
            DType::I32 => Storage::I32,
            DType::I16 => Storage::I16,
            DType::I8 | DType::I4 => Storage::I8,
            DType::U8 | DType::U4 => Storage::U8,
        }
    }

    /// The storage of `data`.
    pub fn of(data: &TensorData) -> Storage {
        match data {
            TensorData::F32(_) => Storage::F32,
            TensorData::I32(_) => Storage::I32,
            TensorData::I16(_) => Storage::I16,
            TensorData::I8(_) => Storage::I8,
            TensorData::U8(_) => Storage::U8,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Storage::F32 | Storage::I32 => 4,
            Storage::I16 => 2,
            Storage::I8 | Storage::U8 => 1,
        }
    }
}

/// Formats an f32 exactly: Rust's shortest round-trip form, or the raw bits `0x7fc00000`
/// for NaN (whose payload and sign the decimal form would lose).
pub(crate) fn fmt_f32(x: f32) -> String {
    if x.is_nan() {
        format!("0x{:08x}", x.to_bits())
    } else {
        format!("{x:?}")
    }
}

/// Parses what [`fmt_f32`] prints (and any decimal form `str::parse` accepts).
pub(crate) fn parse_f32(s: &str) -> Option<f32> {
    match s.strip_prefix("0x") {
        Some(hex) if !hex.is_empty() && hex.len() <= 8 => {
            u32::from_str_radix(hex, 16).ok().map(f32::from_bits)
        }
        Some(_) => None,
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_formatting_is_exact() {
        for bits in [
            0u32,
            0x8000_0000,
            0x7f80_0000,
            0xff80_0000,
            0x7fc0_0000,
            0xffc0_0001,
            0x0000_0001,
            0x3f80_0000,
            0x3dcc_cccd,
            0x7f7f_ffff,
        ] {
            let x = f32::from_bits(bits);
            assert_eq!(
                parse_f32(&fmt_f32(x)).map(f32::to_bits),
                Some(bits),
                "{x:?}"
            );
        }
        assert_eq!(parse_f32("nan").map(f32::is_nan), Some(true));
        assert_eq!(parse_f32("0x"), None);
        assert_eq!(parse_f32("0x123456789"), None);
    }
}
