//! The `calibrate` pass: one sweep of the float program over the calibration batch.
//!
//! Phase: Float -> Calibrated. Needs `PassCtx::calib`.
//!
//! Every sample runs through the float reference interpreter; each f32 activation (graph
//! inputs and results of non-`Const` nodes) feeds one [`Histogram`] (which also keeps the
//! exact min/max). Afterwards `PassCtx::calibration` turns each histogram into a clipping
//! range with [`clip_range`] for the activation scheme of `PassCtx::quant`, written to
//! `Value::range`. Graph outputs always keep their observed min/max: clipping logits or
//! boxes costs the values that decide the answer.
//!
//! Establishes: every f32 activation that the graph outputs depend on has a range with
//! `lo <= 0 <= hi` widened to include zero (quantization always represents 0 exactly) and
//! `lo < hi`; the graph is in phase Calibrated. Samples are observed in order, so the result
//! is deterministic.

use super::{Histogram, Method, Scheme, clip_range};
use crate::{PassCtx, PassError, PassStats};
use ir::{DType, Graph, Op, Phase, ValueId, ValueRange};
use std::collections::BTreeMap;

/// Runs the pass.
pub fn run(g: &mut Graph, ctx: &PassCtx) -> Result<PassStats, PassError> {
    let samples = ctx.calib.as_ref().ok_or_else(|| PassError::Failed {
        node: None,
        message: "calibrate needs a calibration batch (--calib FILE.npy|.npz)".into(),
    })?;
    if samples.is_empty() {
        return Err(PassError::Failed {
            node: None,
            message: "the calibration batch holds no samples".into(),
        });
    }
    let observed: Vec<ValueId> = g
        .value_ids()
        .filter(|&v| g.ty(v).dtype == DType::F32 && !matches!(g.producer(v).op, Op::Const(_)))
        .collect();
    let mut hists: BTreeMap<ValueId, Histogram> =
        observed.iter().map(|&v| (v, Histogram::new())).collect();
    for (i, sample) in samples.iter().enumerate() {
        ctx.report("calibrating", i, samples.len());
        ir::interp::run_float_observed(g, sample, &mut |v, t| {
            if let (Some(h), Some(x)) = (hists.get_mut(&v), t.as_f32()) {
                h.observe(x);
            }
        })
        .map_err(|e| PassError::Failed {
            node: None,
            message: format!("calibration sample {i}: {e}"),
        })?;
    }
    ctx.report("calibrating", samples.len(), samples.len());
    let scheme = match ctx.quant.activation {
        DType::I8 => Scheme {
            bits: 8,
            symmetric: false,
        },
        _ => Scheme::U8_ASYMMETRIC,
    };
    let mut rewrites = 0;
    for (v, h) in hists {
        if h.stats().count() == 0 && h.stats().nonfinite() == 0 {
            // Not computed: nothing the outputs depend on.
            continue;
        }
        // Graph outputs (logits, boxes) keep their full observed range: clipping them trades
        // the values that decide the answer for resolution nobody reads.
        let method = if g.outputs.contains(&v) {
            Method::MinMax
        } else {
            ctx.calibration.0
        };
        let r = range_of(&h, method, scheme).map_err(|e| PassError::Failed {
            node: Some(g.value(v).producer),
            message: format!(
                "cannot calibrate the result of `{}`: {e}",
                g.producer(v).name
            ),
        })?;
        g.value_mut(v).range = Some(r);
        rewrites += 1;
    }
    g.phase = Phase::Calibrated;
    Ok(PassStats { rewrites })
}

/// The clipping range of one value, widened to contain 0 and never empty.
fn range_of(
    h: &Histogram,
    method: Method,
    scheme: Scheme,
) -> Result<ValueRange, super::CalibError> {
    let (lo, hi) = match h.stats().range() {
        // All observations non-finite or zero: a degenerate but valid range.
        None => (0.0, 0.0),
        Some((0.0, 0.0)) => (0.0, 0.0),
        Some(_) => {
            let c = clip_range(h, method, scheme)?;
            (c.lo, c.hi)
        }
    };
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let hi = if hi <= lo { lo + 1e-6 } else { hi };
    Ok(ValueRange { lo, hi })
}
