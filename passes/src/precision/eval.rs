//! Judging one candidate: the whole fake-quantized graph on the calibration batch against
//! the float program's outputs (top-1 agreement and logit noise power).
//!
//! Samples run in parallel (rayon) in chunks; results are combined in sample order, so the
//! outcome does not depend on the number of threads. With a disagreement budget the run
//! stops after the first chunk that exceeds it (the candidate is rejected either way).

use super::model::build_qdq_on;
use crate::{LayerPrecision, PassCtx, PassError, WeightRounding};
use ir::{Graph, Tensor, ValueId, ValueRange};
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
    /// Expected number of disagreements: for each sample, the probability that logit noise
    /// of the observed size flips its float top-1 (`Φ(-margin / (√2·σ))`, σ the RMS of the
    /// sample's logit error, margin the float top-1 minus runner-up). Smoother than the
    /// count, it sees near-flips on a small batch.
    pub expected_flips: f64,
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

/// `erfc(x)` for `x >= 0` (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).
fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x);
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    poly * (-x * x).exp()
}

/// Probability that Gaussian noise of RMS `sigma` on each logit flips a top-1 lead of
/// `margin`: the difference of two logits' noise has standard deviation `√2·σ`.
fn flip_probability(margin: f64, sigma: f64) -> f64 {
    if sigma <= 0.0 {
        0.0
    } else {
        0.5 * erfc(margin.max(0.0) / (2.0 * sigma))
    }
}

/// Top-1 minus runner-up.
fn margin(x: &[f32]) -> f64 {
    let top = argmax(x);
    let second = x
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != top)
        .map(|(_, &v)| v)
        .fold(f32::NEG_INFINITY, f32::max);
    if second.is_finite() {
        f64::from(x[top] - second)
    } else {
        f64::INFINITY
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
    /// many samples disagree or are expected to.
    pub fn evaluate(
        &mut self,
        layers: BTreeMap<String, LayerPrecision>,
        ranges: &[(ValueId, ValueRange)],
        n: usize,
        budget: Option<f64>,
    ) -> Result<Evaluation, PassError> {
        self.runs += 1;
        let n = n.min(self.samples.len());
        let optimized = self.ctx.quant.weight_rounding == WeightRounding::Optimized;
        let (fitted, g) = if optimized && n >= 2 {
            (Some(self.cross_fitted(&layers, ranges, n)?), None)
        } else {
            // Nearest rounding (or a batch too small to hold a sample out): the program
            // built on the batch, and its outputs when fitting ran the batch anyway.
            let (g, outs) = build_qdq_on(
                self.calibrated,
                self.ctx,
                layers,
                ranges,
                &self.samples[..n],
            )?;
            let outs = outs
                .map(|o| {
                    o.iter()
                        .map(|t| first_f32(t))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            (outs, Some(g))
        };
        let chunk = (rayon::current_num_threads() * 4).max(8);
        let mut e = Evaluation {
            samples: 0,
            disagreements: 0,
            noise: 0.0,
            expected_flips: 0.0,
            complete: true,
        };
        let (mut num, mut den) = (0f64, 0f64);
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            let outs = match (&fitted, &g) {
                (Some(f), _) => f[start..end].to_vec(),
                (None, Some(g)) => run_first_outputs(g, &self.samples[start..end])?,
                (None, None) => unreachable!("a program is built when nothing was fitted"),
            };
            for (q, f) in outs.iter().zip(&self.float[start..end]) {
                if argmax(q) != argmax(f) {
                    e.disagreements += 1;
                }
                let mut err = 0f64;
                for (&a, &b) in f.iter().zip(q) {
                    err += f64::from(a - b) * f64::from(a - b);
                    den += f64::from(a) * f64::from(a);
                }
                num += err;
                let sigma = (err / f.len().max(1) as f64).sqrt();
                e.expected_flips += flip_probability(margin(f), sigma);
            }
            e.samples = end;
            start = end;
            let over = |b: f64| e.disagreements as f64 > b || e.expected_flips > b;
            if budget.is_some_and(over) && start < n {
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

impl Evaluator<'_> {
    /// The first outputs of the first `n` samples when weights are fitted on the batch
    /// (`optimize-weights`): judged on samples the fit has not seen, since a fit scored on
    /// its own samples looks better than it is (a 3-bit classifier gemm fitted on 100
    /// samples: 41 dB of logit SQNR on them, 30 dB on new data). Two folds, even and odd
    /// samples: each program is fitted on one fold and run on the other.
    fn cross_fitted(
        &self,
        layers: &BTreeMap<String, LayerPrecision>,
        ranges: &[(ValueId, ValueRange)],
        n: usize,
    ) -> Result<Vec<Vec<f32>>, PassError> {
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); n];
        for fold in 0..2 {
            let (fit, judge): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 2 == fold);
            let fit_samples: Vec<Vec<Tensor>> =
                fit.iter().map(|&i| self.samples[i].clone()).collect();
            let judge_samples: Vec<Vec<Tensor>> =
                judge.iter().map(|&i| self.samples[i].clone()).collect();
            let (g, _) = build_qdq_on(
                self.calibrated,
                self.ctx,
                layers.clone(),
                ranges,
                &fit_samples,
            )?;
            for (i, o) in judge.iter().zip(run_first_outputs(&g, &judge_samples)?) {
                out[*i] = o;
            }
        }
        Ok(out)
    }
}

/// The first output of one sample's outputs, flattened.
fn first_f32(outs: &[Tensor]) -> Result<Vec<f32>, PassError> {
    outs.first()
        .and_then(|t| t.as_f32())
        .map(<[f32]>::to_vec)
        .ok_or_else(|| failed("the model's first output is not f32".into()))
}

/// The first output of `g` for every sample, flattened, samples in parallel.
fn run_first_outputs(g: &Graph, samples: &[Vec<Tensor>]) -> Result<Vec<Vec<f32>>, PassError> {
    samples
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            let outs = ir::interp::run_float(g, s)
                .map_err(|e| failed(format!("precision search, sample {i}: {e}")))?;
            first_f32(&outs)
        })
        .collect()
}
