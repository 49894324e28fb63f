//! `--emit report`: per-layer quantization facts as JSON.
//!
//! A layer is a compute node of the Qdq program (everything but constants, inputs,
//! quantize/dequantize and pure data movement). For each: its name and op, weight and
//! activation bits, the output scale and zero point, the weight scales (min and max over
//! channels), the SQNR in dB of its quantized output against the float program's value on
//! the calibration batch, weight bytes and multiply-accumulates. Totals: `weight_bytes`
//! (all quantized weights and biases), `activation_bytes` (every quantized activation tensor
//! of one inference, before memory planning), `macs`, and the static memory plan of the
//! integer program: `arena_bytes` and `arena_lower_bound` (the largest live set).
//! `mult_cost` sums `MACs * weight bits * input activation bits` over the layers, and
//! `baseline_8bit` gives what the same model costs at all-8-bit (weights one byte per
//! element with biases kept at 32 bits, activations one byte per element, multiplications
//! `MACs * 64`).
//!
//! `activations` lists each quantized activation with a histogram of its float values on
//! the calibration batch (`HIST_BINS` bins over `min..max`) and its clipping thresholds
//! `scale * (qmin - zp) .. scale * (qmax - zp)`; [`crate::report_html`] draws them.

use ir::{Graph, Op, QuantGranularity, Tensor, ValueId};
use serde_json::{Value as Json, json};
use std::collections::HashMap;

/// Signal-to-quantization-noise ratio in dB of `q` against `f` (infinite when equal).
pub fn sqnr_db(f: &[f32], q: &[f32]) -> f64 {
    let (mut s, mut n) = (0f64, 0f64);
    for (&a, &b) in f.iter().zip(q) {
        s += f64::from(a) * f64::from(a);
        n += f64::from(a - b) * f64::from(a - b);
    }
    if n == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (s / n).log10()
    }
}

/// Bins of each activation histogram in the report.
pub const HIST_BINS: usize = 64;

/// A histogram of `xs` over `min..max` in [`HIST_BINS`] bins, as JSON
/// `{min, max, counts}` (non-finite values are skipped).
fn histogram_json(xs: &[f32]) -> Json {
    let finite = || xs.iter().copied().filter(|x| x.is_finite());
    let lo = finite().fold(f32::INFINITY, f32::min);
    let hi = finite().fold(f32::NEG_INFINITY, f32::max);
    let mut counts = vec![0u64; HIST_BINS];
    if lo <= hi {
        let w = f64::from(hi - lo);
        for x in finite() {
            let k = if w > 0.0 {
                ((f64::from(x - lo) / w) * HIST_BINS as f64) as usize
            } else {
                0
            };
            counts[k.min(HIST_BINS - 1)] += 1;
        }
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 0.0) };
    json!({ "min": lo, "max": hi, "counts": counts })
}

/// For each float value `v` of the Qdq program that is quantized, the `dequantize` result
/// that replaced it.
fn dequantized_of(g: &Graph) -> HashMap<ValueId, ValueId> {
    let mut m = HashMap::new();
    for n in g.node_ids() {
        let node = g.node(n);
        if let Op::Dequantize = node.op {
            let q = g.producer(node.inputs[0]);
            if let Op::Quantize = q.op {
                m.insert(q.inputs[0], node.outputs[0]);
            }
        }
    }
    m
}

/// Builds the report from the float program, the Qdq program derived from it (same value
/// ids), the integer program (for its memory plan) and the calibration samples.
pub fn build(
    float: &Graph,
    qdq: &Graph,
    int: &Graph,
    samples: &[Vec<Tensor>],
) -> Result<Json, ir::interp::InterpError> {
    let dq = dequantized_of(qdq);
    let mut float_vals: HashMap<ValueId, Vec<f32>> = HashMap::new();
    let mut quant_vals: HashMap<ValueId, Vec<f32>> = HashMap::new();
    let wanted: std::collections::HashSet<ValueId> = dq.values().copied().collect();
    for s in samples {
        ir::interp::run_float_observed(float, s, &mut |v, t| {
            if dq.contains_key(&v)
                && let Some(x) = t.as_f32()
            {
                float_vals.entry(v).or_default().extend_from_slice(x);
            }
        })?;
        ir::interp::run_float_observed(qdq, s, &mut |v, t| {
            if wanted.contains(&v)
                && let Some(x) = t.as_f32()
            {
                quant_vals.entry(v).or_default().extend_from_slice(x);
            }
        })?;
    }
    let mut layers = Vec::new();
    let (mut total_w, mut total_a, mut total_macs) = (0u64, 0u64, 0u64);
    let (mut base_w, mut base_a, mut total_mult) = (0u64, 0u64, 0u64);
    let mut activations = Vec::new();
    for n in qdq.topo_order() {
        let node = qdq.node(n);
        for &v in &node.outputs {
            let ty = qdq.ty(v);
            if matches!(node.op, Op::Const(_)) && ty.quant.is_some() {
                total_w += (ty.shape.numel() as u64
                    * u64::from(ty.quant.as_ref().map_or(8, |q| q.bits)))
                .div_ceil(8);
                let wide = ty.quant.as_ref().is_some_and(|q| q.bits > 16);
                base_w += ty.shape.numel() as u64 * if wide { 4 } else { 1 };
            }
            if matches!(node.op, Op::Quantize) {
                total_a += (ty.shape.numel() as u64 * u64::from(ty.dtype.bits())).div_ceil(8);
                base_a += ty.shape.numel() as u64;
                if let (Some(q), Some(xs)) = (&ty.quant, float_vals.get(&node.inputs[0])) {
                    let (qmin, qmax) = ty.dtype.quant_range(q.bits).unwrap_or((0, 255));
                    let (s, zp) = (f64::from(q.scale(0)), i64::from(q.zero_point(0)));
                    activations.push(json!({
                        "name": qdq.producer(node.inputs[0]).name,
                        "bits": q.bits,
                        "threshold_min": s * (qmin - zp) as f64,
                        "threshold_max": s * (qmax - zp) as f64,
                        "histogram": histogram_json(xs),
                    }));
                }
            }
        }
        let is_layer = !matches!(
            node.op,
            Op::Input
                | Op::Const(_)
                | Op::Quantize
                | Op::Dequantize
                | Op::Reshape
                | Op::Transpose(_)
        );
        if !is_layer {
            continue;
        }
        let out = node.outputs[0];
        // The quantized output: this node's own, or that of the fused activation after it.
        let q_out = dq.get(&out).copied().or_else(|| {
            let users = qdq.users(out);
            (users.len() == 1)
                .then(|| qdq.node(users[0].0).outputs[0])
                .and_then(|a| dq.get(&a).copied())
        });
        let out_params = q_out.and_then(|d| qdq.ty(qdq.producer(d).inputs[0]).quant.clone());
        let weight = node.inputs.get(1).and_then(|&w| {
            let dqn = qdq.producer(w);
            matches!(dqn.op, Op::Dequantize).then(|| qdq.ty(dqn.inputs[0]).clone())
        });
        let weight_bytes = weight.as_ref().map_or(0, |t| {
            (t.shape.numel() as u64 * u64::from(t.quant.as_ref().map_or(8, |q| q.bits))).div_ceil(8)
        });
        let (wmin, wmax) =
            weight
                .as_ref()
                .and_then(|t| t.quant.as_ref())
                .map_or((None, None), |q| match &q.granularity {
                    QuantGranularity::PerTensor { scale, .. } => (Some(*scale), Some(*scale)),
                    QuantGranularity::PerAxis { scales, .. } => (
                        scales.iter().copied().reduce(f32::min),
                        scales.iter().copied().reduce(f32::max),
                    ),
                });
        let sqnr = q_out.and_then(|d| {
            let src = dq.iter().find(|(_, dd)| **dd == d).map(|(s, _)| *s)?;
            Some(sqnr_db(float_vals.get(&src)?, quant_vals.get(&d)?))
        });
        let m = passes::precision::macs(qdq, n);
        total_macs += m;
        // The bits of the quantized input the multiplications read.
        let in_bits = node.inputs.first().and_then(|&x| {
            let p = qdq.producer(x);
            matches!(p.op, Op::Dequantize)
                .then(|| qdq.ty(p.inputs[0]).quant.as_ref().map(|q| q.bits))
                .flatten()
        });
        let wbits = weight
            .as_ref()
            .and_then(|t| t.quant.as_ref())
            .map(|q| q.bits);
        let abits = in_bits.or(out_params.as_ref().map(|q| q.bits));
        total_mult += m * u64::from(wbits.unwrap_or(8)) * u64::from(abits.unwrap_or(8));
        layers.push(json!({
            "name": node.name,
            "op": node.op.mnemonic(),
            "weight_bits": weight.as_ref().and_then(|t| t.quant.as_ref()).map(|q| q.bits),
            "activation_bits": out_params.as_ref().map(|q| q.bits),
            "output_scale": out_params.as_ref().map(|q| q.scale(0)),
            "output_zero_point": out_params.as_ref().map(|q| q.zero_point(0)),
            "weight_scale_min": wmin,
            "weight_scale_max": wmax,
            "sqnr_db": sqnr.map(|s| if s.is_finite() { json!(s) } else { json!("inf") }),
            "weight_bytes": weight_bytes,
            "macs": m,
        }));
    }
    let plan = passes::plan_memory::plan(int, passes::plan_memory::ARENA_ALIGN);
    Ok(json!({
        "model": qdq.name,
        "calibration_samples": samples.len(),
        "layers": layers,
        "totals": {
            "weight_bytes": total_w,
            "activation_bytes": total_a,
            "macs": total_macs,
            "arena_bytes": plan.arena_bytes,
            "arena_lower_bound": plan.lower_bound,
            "mult_cost": total_mult,
            "baseline_8bit": {
                "weight_bytes": base_w,
                "activation_bytes": base_a,
                "mult_cost": total_macs * 64,
            },
        },
        "activations": activations,
    }))
}
