//! Judging one candidate: the whole fake-quantized graph on the calibration batch against
//! the float program's outputs (top-1 agreement and logit noise power).
//!
//! Samples run in parallel (rayon) in chunks; results are combined in sample order, so the
//! outcome does not depend on the number of threads. With a disagreement budget the run
//! stops after the first chunk that exceeds it (the candidate is rejected either way).

use super::model::build_qdq;
use crate::{LayerPrecision, PassCtx, PassError};
use ir::{Graph, Tensor};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// A candidate's outcome on (a prefix of) the calibration batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Samples run.
    pub samples: usize,
    /// Samples whose top-1 class differs from the float program's.
    pub disagreements: usize,
    /// `Σ(q - f)² / Σf²` over the first output of the samples run.
    pub noise: f64,
    /// Whether every requested sample ran (false after an early stop).
    pub complete: bool,
}

impl Evaluation {
    /// Top-1 agreement with float in percent.
    pub fn agreement_percent(&self) -> f64 {
        if self.samples == 0 {
            100.0
        } else {
            100.0 * (self.samples - self.disagreements) as f64 / self.samples as f64
        }
    }

    /// Logit SQNR in dB (infinite when exact).
    pub fn sqnr_db(&self) -> f64 {
        if self.noise == 0.0 {
            f64::INFINITY
        } else {
            -10.0 * self.noise.log10()
        }
    }
}

/// Index of the largest element (the first of equals; NaN never wins).
fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}

fn failed(message: String) -> PassError {
    PassError::Failed {
        node: None,
        message,
    }
}

/// Runs candidates of one calibrated graph against its float outputs.
pub(crate) struct Evaluator<'a> {
    calibrated: &'a Graph,
    ctx: &'a PassCtx,
    samples: &'a [Vec<Tensor>],
    float: Vec<Vec<f32>>,
    /// Graph runs so far.
    pub runs: usize,
}

impl<'a> Evaluator<'a> {
    /// Runs the float program once on every sample.
    pub fn new(
        calibrated: &'a Graph,
        ctx: &'a PassCtx,
        samples: &'a [Vec<Tensor>],
    ) -> Result<Evaluator<'a>, PassError> {
        let float = run_first_outputs(calibrated, samples)?;
        Ok(Evaluator {
            calibrated,
            ctx,
            samples,
            float,
            runs: 0,
        })
    }

    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Judges `layers` on the first `n` samples; with `budget`, stops once more than that
    /// many samples disagree.
    pub fn evaluate(
        &mut self,
        layers: BTreeMap<String, LayerPrecision>,
        n: usize,
        budget: Option<usize>,
    ) -> Result<Evaluation, PassError> {
        self.runs += 1;
        let g = build_qdq(self.calibrated, self.ctx, layers)?;
        let n = n.min(self.samples.len());
        let chunk = (rayon::current_num_threads() * 4).max(8);
        let mut e = Evaluation {
            samples: 0,
            disagreements: 0,
            noise: 0.0,
            complete: true,
        };
        let (mut num, mut den) = (0f64, 0f64);
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            let outs = run_first_outputs(&g, &self.samples[start..end])?;
            for (q, f) in outs.iter().zip(&self.float[start..end]) {
                if argmax(q) != argmax(f) {
                    e.disagreements += 1;
                }
                for (&a, &b) in f.iter().zip(q) {
                    num += f64::from(a - b) * f64::from(a - b);
                    den += f64::from(a) * f64::from(a);
                }
            }
            e.samples = end;
            start = end;
            if budget.is_some_and(|b| e.disagreements > b) && start < n {
                e.complete = false;
                break;
            }
        }
        e.noise = if num == 0.0 {
            0.0
        } else {
            num / den.max(1e-30)
        };
        Ok(e)
    }
}

/// The first output of `g` for every sample, flattened, samples in parallel.
fn run_first_outputs(g: &Graph, samples: &[Vec<Tensor>]) -> Result<Vec<Vec<f32>>, PassError> {
    samples
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            let outs = ir::interp::run_float(g, s)
                .map_err(|e| failed(format!("precision search, sample {i}: {e}")))?;
            outs.first()
                .and_then(|t| t.as_f32())
                .map(<[f32]>::to_vec)
                .ok_or_else(|| failed("the model's first output is not f32".into()))
        })
        .collect()
}
