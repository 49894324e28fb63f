//! `choose-quant-params`: the analysis that picks quantization parameters (read-only).
//!
//! Activations: per tensor, asymmetric, from the calibrated range, with
//! [`ir::arith::choose_qparams_asymmetric`] over the full range of the element type.
//! Weights: symmetric (zero point 0) over `[-(2^(b-1)-1), 2^(b-1)-1]`, per output channel
//! along a given axis or per tensor, quantized with [`ir::arith::quantize`] (the one
//! definition). Biases: i32 in the accumulator scale `s_x * s_w[c]` with
//! [`ir::arith::bias_q`]. [`insert_qdq`](crate::insert_qdq) applies the choices.

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
    let (qmin, qmax) = dtype
        .quant_range(bits)
        .ok_or_else(|| format!("activation type {dtype} cannot hold {bits}-bit values"))?;
    let (scale, zp) = choose_qparams_asymmetric(range.lo, range.hi, qmin as i32, qmax as i32)
        .map_err(|e| e.to_string())?;
    let mut p = QuantParams::per_tensor(dtype, scale, zp);
    p.bits = bits.min(dtype.bits());
    Ok(p)
}

/// Symmetric weight quantization of `w` with `bits` bits, per index of `axis` (or per tensor
/// when `None`): the i8 tensor and its parameters.
pub fn quantize_weights(
    w: &Tensor,
    axis: Option<usize>,
    bits: u32,
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
        .map(|&m| choose_qparams_symmetric(m, bits).map_err(|e| e.to_string()))
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
        pow2: false,
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
