//! `choose-quant-params`: the analysis that picks quantization parameters (read-only).
//!
//! Activations: per tensor, asymmetric, from the calibrated range, with
//! [`ir::arith::choose_qparams_asymmetric`] over the full range of the element type.
//! Weights: symmetric (zero point 0) over `[-(2^(b-1)-1), 2^(b-1)-1]`, per output channel
//! along a given axis or per tensor, quantized with [`ir::arith::quantize`] (the one
//! definition). Biases: i32 in the accumulator scale `s_x * s_w[c]` with
//! [`ir::arith::bias_q`]. [`insert_qdq`](crate::insert_qdq) applies the choices.
//!
//! 16-bit activations (`i16`) are symmetric: zero point 0 over `[-(2^(b-1)-1), 2^(b-1)-1]`
//! (as TFLite's 16x8 scheme), which halves the worst-case `|x - zp|` that the accumulator
//! overflow proof of lowering must bound.
//!
//! Power-of-two scales ([`ScaleMode::Pow2`], `--scales pow2`): every activation and weight
//! scale is `2^-f` from [`ir::arith::pow2_scale`] (the largest `f` whose grid still covers the
//! range), `QuantParams::pow2` is set, and biases follow (`s_x * s_w` is a power of two too).
//! Every requantize multiplier is then an exact power of two, `m0 = 2^30` (see
//! `ir::arith::requantize`, whose kernels take a shift-only path for it).

use crate::ScaleMode;
use ir::arith::pow2_scale;
use ir::arith::{
    bias_q, choose_qparams_asymmetric, choose_qparams_symmetric, quantize, reciprocal,
    symmetric_range,
};
use ir::{DType, QuantGranularity, QuantParams, Tensor, TensorData, ValueRange};

/// Per-tensor activation parameters for `range` with `bits`-bit values stored in element
/// type `dtype` (u8, i8, u4, i4 or i16; `bits` at most the storage width).
pub fn activation_params(
    range: ValueRange,
    dtype: DType,
    bits: u32,
) -> Result<QuantParams, String> {
    activation_params_in(range, dtype, bits, ScaleMode::Float)
}

/// [`activation_params`] with the scale rule `mode`: under [`ScaleMode::Pow2`] the scale is
/// `2^-f` (asymmetric types: the widened range `hi - lo` fits `qmax - qmin` steps; `i16`:
/// `max(|lo|, |hi|)` fits `2^(b-1) - 1`), the zero point is chosen for it as usual.
pub fn activation_params_in(
    range: ValueRange,
    dtype: DType,
    bits: u32,
    mode: ScaleMode,
) -> Result<QuantParams, String> {
    let bits = if bits == 0 {
        dtype.bits()
    } else {
        bits.min(dtype.bits())
    };
    let (qmin, qmax) = dtype
        .quant_range(bits)
        .ok_or_else(|| format!("activation type {dtype} cannot hold {bits}-bit values"))?;
    let symmetric = dtype == DType::I16;
    let (scale, zp) = match (symmetric, mode) {
        (true, ScaleMode::Float) => {
            let absmax = range.lo.abs().max(range.hi.abs());
            (
                choose_qparams_symmetric(absmax, bits).map_err(|e| e.to_string())?,
                0,
            )
        }
        (true, ScaleMode::Pow2) => {
            let absmax = range.lo.abs().max(range.hi.abs());
            (
                pow2_scale(absmax, bits, true).map_err(|e| e.to_string())?.0,
                0,
            )
        }
        (false, ScaleMode::Float) => {
            choose_qparams_asymmetric(range.lo, range.hi, qmin as i32, qmax as i32)
                .map_err(|e| e.to_string())?
        }
        (false, ScaleMode::Pow2) => {
            if !range.lo.is_finite() || !range.hi.is_finite() || range.lo > range.hi {
                return Err(format!("invalid range [{}, {}]", range.lo, range.hi));
            }
            let (lo, hi) = (range.lo.min(0.0), range.hi.max(0.0));
            // `hi - lo` over `qmax - qmin` steps: pow2_scale's unsigned form counts
            // `2^bits - 1` steps, the same number.
            let (scale, _) = pow2_scale(hi - lo, bits, false).map_err(|e| e.to_string())?;
            let zp = (f64::from(qmin as i32) - f64::from(lo) / f64::from(scale))
                .round_ties_even()
                .clamp(qmin as f64, qmax as f64) as i32;
            (scale, zp)
        }
    };
    let mut p = QuantParams::per_tensor(dtype, scale, zp);
    p.bits = bits;
    p.pow2 = mode == ScaleMode::Pow2;
    Ok(p)
}

/// Symmetric weight quantization of `w` with `bits` bits, per index of `axis` (or per tensor
/// when `None`): the i8 tensor and its parameters.
pub fn quantize_weights(
    w: &Tensor,
    axis: Option<usize>,
    bits: u32,
) -> Result<(Tensor, QuantParams), String> {
    quantize_weights_in(w, axis, bits, ScaleMode::Float)
}

/// [`quantize_weights`] with the scale rule `mode` (under [`ScaleMode::Pow2`] each scale is
/// `2^-f` with `absmax * 2^f <= 2^(b-1) - 1`).
pub fn quantize_weights_in(
    w: &Tensor,
    axis: Option<usize>,
    bits: u32,
    mode: ScaleMode,
) -> Result<(Tensor, QuantParams), String> {
    let data = w.as_f32().ok_or("weights must be f32")?;
    let (qmin, qmax) = symmetric_range(bits).map_err(|e| e.to_string())?;
    let dims = w.shape.dims();
    let (channels, inner) = match axis {
        Some(a) if a < dims.len() => (dims[a], dims[a + 1..].iter().product::<usize>()),
        Some(a) => {
            return Err(format!(
                "weight axis {a} out of range for rank {}",
                dims.len()
            ));
        }
        None => (1, data.len()),
    };
    let channel_of = |i: usize| {
        if channels == 1 {
            0
        } else {
            (i / inner) % channels
        }
    };
    let mut absmax = vec![0f32; channels];
    for (i, x) in data.iter().enumerate() {
        let c = channel_of(i);
        absmax[c] = absmax[c].max(x.abs());
    }
    let scales: Vec<f32> = absmax
        .iter()
        .map(|&m| match mode {
            ScaleMode::Float => choose_qparams_symmetric(m, bits).map_err(|e| e.to_string()),
            ScaleMode::Pow2 => pow2_scale(m, bits, true)
                .map(|(s, _)| s)
                .map_err(|e| e.to_string()),
        })
        .collect::<Result<_, _>>()?;
    let recips: Vec<f32> = scales.iter().map(|&s| reciprocal(s)).collect();
    let q: Vec<i8> = data
        .iter()
        .enumerate()
        .map(|(i, &x)| quantize(x, recips[channel_of(i)], 0, qmin, qmax) as i8)
        .collect();
    let granularity = match axis {
        Some(axis) => QuantGranularity::PerAxis {
            axis,
            zero_points: vec![0; channels],
            scales,
        },
        None => QuantGranularity::PerTensor {
            scale: scales[0],
            zero_point: 0,
        },
    };
    let params = QuantParams {
        granularity,
        bits,
        pow2: mode == ScaleMode::Pow2,
    };
    let dtype = if bits <= 4 { DType::I4 } else { DType::I8 };
    Ok((
        Tensor {
            dtype,
            shape: w.shape.clone(),
            data: TensorData::I8(q),
        },
        params,
    ))
}

/// The i32 bias for input scale `s_x` and per-channel weight scales (channel `c` uses
/// `s_w[c % s_w.len()]`, which covers per-tensor and grouped conv-transpose weights).
pub fn quantize_bias(b: &[f32], s_x: f32, s_w: &[f32]) -> (Tensor, QuantParams) {
    let scale_of = |c: usize| s_x * s_w[c % s_w.len()];
    let q: Vec<i32> = b
        .iter()
        .enumerate()
        .map(|(c, &x)| bias_q(x, s_x, s_w[c % s_w.len()]))
        .collect();
    let params = QuantParams {
        granularity: QuantGranularity::PerAxis {
            axis: 0,
            scales: (0..b.len()).map(scale_of).collect(),
            zero_points: vec![0; b.len()],
        },
        bits: 32,
        pow2: false,
    };
    (
        Tensor {
            dtype: DType::I32,
            shape: vec![b.len()].into(),
            data: TensorData::I32(q),
        },
        params,
    )
}

/// The per-channel (or single) scales of weight parameters.
pub fn scales(p: &QuantParams) -> Vec<f32> {
    match &p.granularity {
        QuantGranularity::PerTensor { scale, .. } => vec![*scale],
        QuantGranularity::PerAxis { scales, .. } => scales.clone(),
    }
}
