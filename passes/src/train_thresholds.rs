//! `train-thresholds`: learns one scale factor per activation clipping threshold on the
//! calibration batch, without labels (`--calibration trained`).
//!
//! Phase: Calibrated -> Calibrated. Needs `PassCtx::calib` and a calibrated range on every
//! activation (the `calibrate` pass; with `--calibration trained` it starts from `minmax`).
//!
//! What it minimizes: the distance between the fake-quantized program and the float program
//! on the calibration batch, measured at the graph outputs (the logits) as the normalized
//! squared error `sum (q - f)^2 / sum f^2` over all outputs and samples (the inverse of the
//! linear logit SQNR). The quantized program of a candidate is exactly what the compiler
//! would build: `insert-qdq` on a copy of the graph with the candidate ranges (so bias scales
//! and inherited parameters follow), run by the float interpreter, which runs Qdq graphs
//! exactly.
//!
//! How (derivative-free, documented here because it replaces a straight-through gradient):
//! coordinate descent over the factors `alpha_v` of each trainable activation `v`, in
//! topological order, so every candidate is judged with its upstream thresholds already
//! trained and everything else quantized as it will be.
//! 1. The starting ranges `[lo_v, hi_v]` are the calibrated ones; the candidate range of
//!    `alpha` is `[alpha * lo_v, alpha * hi_v]` (it still contains 0, and clips both tails by
//!    the same factor: one scale factor per clipping threshold).
//! 2. A value is trainable when its range reaches the quantized program: scaling it by 1/2
//!    changes some quantization parameter of the Qdq graph. The inner value of a fused
//!    conv -> relu pair, values whose parameters are inherited (pools, reshapes) and graph
//!    outputs (which keep their observed range, see `calibrate`) are not.
//! 3. First one common factor for all values is chosen from the coarse grid
//!    [`TrainConfig::grid`] (a joint move coordinate descent cannot make on its own). Then
//!    each sweep tries the grid for each value (in the first [`TrainConfig::grid_sweeps`]
//!    sweeps) and refines around the best factor with steps of `step / 2` and `step / 4`.
//!    Later sweeps matter because consecutive quantizers interact: a grid that is an integer
//!    multiple of the one upstream re-rounds nothing, so the best factor of a value can move
//!    once its neighbours have moved. A candidate is accepted only if it lowers the error by
//!    more than a relative `1e-9`, so `alpha = 1` (the starting range) stays unless
//!    something beats it: the trained error is never above the starting one.
//! 4. The total number of evaluations is capped ([`TrainConfig::max_evals`]); each one is a
//!    forward pass of the batch (samples in parallel). The float reference outputs are
//!    computed once.
//!
//! Establishes: every range still contains 0 with `lo < hi`; only activation ranges change.
//! Deterministic: the search order is fixed and the error is summed in sample order.

use crate::{PassCtx, PassError, PassStats};
use ir::{Graph, Phase, QuantParams, Tensor, ValueId, ValueRange};

/// Knobs of the search.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Coarse factors tried in the first sweep (1 is always the start).
    pub grid: Vec<f32>,
    /// Spacing of the coarse grid; refinement steps are half and a quarter of it.
    pub step: f32,
    /// Number of coordinate-descent sweeps over all values.
    pub sweeps: usize,
    /// How many of the first sweeps try the whole coarse grid (the others only refine).
    pub grid_sweeps: usize,
    /// Upper bound on forward passes of the batch.
    pub max_evals: usize,
    /// Use at most this many calibration samples (the first ones).
    pub max_samples: usize,
    /// Smallest factor ever tried.
    pub min_alpha: f32,
}

impl Default for TrainConfig {
    fn default() -> TrainConfig {
        TrainConfig {
            grid: vec![0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],
            step: 0.1,
            sweeps: 2,
            grid_sweeps: 2,
            max_evals: 600,
            max_samples: 256,
            min_alpha: 0.05,
        }
    }
}

/// What the search did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// Normalized output error of the starting ranges.
    pub initial_error: f64,
    /// Normalized output error of the trained ranges (never above `initial_error`).
    pub final_error: f64,
    /// The factor learned for each trainable value, in search order.
    pub alphas: Vec<(ValueId, f32)>,
    /// Forward passes of the batch spent.
    pub evals: usize,
}

/// Runs the pass with [`TrainConfig::default`].
pub fn run(g: &mut Graph, ctx: &PassCtx) -> Result<PassStats, PassError> {
    let report = train(g, ctx, &TrainConfig::default())?;
    Ok(PassStats {
        rewrites: report.alphas.iter().filter(|(_, a)| *a != 1.0).count(),
    })
}

/// Trains the ranges of `g` in place with `cfg`; see the module docs.
pub fn train(g: &mut Graph, ctx: &PassCtx, cfg: &TrainConfig) -> Result<TrainReport, PassError> {
    if g.phase != Phase::Calibrated {
        return Err(failed(format!(
            "train-thresholds needs a calibrated graph, found phase {}",
            g.phase
        )));
    }
    let samples = ctx.calib.as_ref().ok_or_else(|| {
        failed("train-thresholds needs a calibration batch (--calib FILE.npy|.npz)".into())
    })?;
    let samples = &samples[..samples.len().min(cfg.max_samples)];
    if samples.is_empty() {
        return Err(failed("the calibration batch holds no samples".into()));
    }
    let reference: Vec<Vec<f32>> = ir::interp::run_float_batch(g, samples)
        .map_err(|e| failed(format!("float reference run: {e}")))?
        .iter()
        .map(|outs| flatten(outs))
        .collect();
    let mut search = Search {
        base: g.clone(),
        ctx,
        samples,
        reference: &reference,
        evals: 0,
        max_evals: cfg.max_evals,
    };
    let start = search.ranges_of(g);
    let (initial_error, start_sig) = search.evaluate(&start)?;
    let trainable = search.trainable(&start, &start_sig)?;
    let n = trainable.len();
    // The ranges of a vector of factors (one per trainable value).
    let ranges_of = |alphas: &[f32]| {
        let mut r = start.clone();
        for (&(i, v), &a) in trainable.iter().zip(alphas) {
            r[i] = (v, scale_range(start[i].1, a));
        }
        r
    };
    let mut alphas: Vec<f32> = vec![1.0; n];
    let mut best = initial_error;
    // Evaluates `cand` and keeps it if it is better.
    let consider = |search: &mut Search<'_>,
                    cand: Vec<f32>,
                    alphas: &mut Vec<f32>,
                    best: &mut f64|
     -> Result<(), PassError> {
        if search.exhausted() {
            return Ok(());
        }
        let (e, _) = search.evaluate(&ranges_of(&cand))?;
        if e < *best * (1.0 - 1e-9) {
            *best = e;
            *alphas = cand;
        }
        Ok(())
    };
    let clamp = |a: f32| a.clamp(cfg.min_alpha, 1.0);
    // Step 0: one common factor for every value.
    if n > 0 {
        for &a in &cfg.grid {
            consider(&mut search, vec![clamp(a); n], &mut alphas, &mut best)?;
        }
    }
    // Coordinate descent.
    for sweep in 0..cfg.sweeps {
        for k in 0..n {
            let mut tried: Vec<f32> = vec![alphas[k]];
            let mut try_alpha =
                |search: &mut Search<'_>, a: f32, alphas: &mut Vec<f32>, best: &mut f64| {
                    let a = clamp(a);
                    if tried.iter().any(|&t| (t - a).abs() < 1e-6) {
                        return Ok(());
                    }
                    tried.push(a);
                    let mut cand = alphas.clone();
                    cand[k] = a;
                    consider(search, cand, alphas, best)
                };
            if sweep < cfg.grid_sweeps {
                for a in std::iter::once(1.0).chain(cfg.grid.iter().copied()) {
                    try_alpha(&mut search, a, &mut alphas, &mut best)?;
                }
            }
            for step in [cfg.step / 2.0, cfg.step / 4.0] {
                let centre = alphas[k];
                for a in [centre - step, centre + step] {
                    try_alpha(&mut search, a, &mut alphas, &mut best)?;
                }
            }
            ctx.report("training thresholds", sweep * n + k + 1, cfg.sweeps * n);
        }
    }
    for (v, r) in ranges_of(&alphas) {
        g.value_mut(v).range = Some(r);
    }
    Ok(TrainReport {
        initial_error,
        final_error: best,
        alphas: trainable
            .iter()
            .zip(&alphas)
            .map(|(&(_, v), &a)| (v, a))
            .collect(),
        evals: search.evals,
    })
}

/// `[alpha * lo, alpha * hi]`, kept non-empty.
fn scale_range(r: ValueRange, alpha: f32) -> ValueRange {
    let (lo, hi) = (r.lo * alpha, r.hi * alpha);
    let hi = if hi <= lo { lo + 1e-6 } else { hi };
    ValueRange { lo, hi }
}

fn failed(message: String) -> PassError {
    PassError::Failed {
        node: None,
        message,
    }
}

fn flatten(outs: &[Tensor]) -> Vec<f32> {
    outs.iter()
        .flat_map(|t| t.as_f32().unwrap_or(&[]).iter().copied())
        .collect()
}

/// The quantization parameters of every value of a Qdq graph, in value order: two graphs
/// with equal signatures compute the same thing (their constants follow from them).
type Signature = Vec<Option<QuantParams>>;

/// The state of one search: the calibrated graph, the batch and the float outputs.
struct Search<'a> {
    base: Graph,
    ctx: &'a PassCtx,
    samples: &'a [Vec<Tensor>],
    reference: &'a [Vec<f32>],
    evals: usize,
    max_evals: usize,
}

impl Search<'_> {
    /// The calibrated activation ranges of `g` that the graph outputs do not keep, in
    /// topological order of their producers.
    fn ranges_of(&self, g: &Graph) -> Vec<(ValueId, ValueRange)> {
        g.topo_order()
            .into_iter()
            .flat_map(|n| g.node(n).outputs.clone())
            .filter(|v| !g.outputs.contains(v))
            .filter_map(|v| g.value(v).range.map(|r| (v, r)))
            .collect()
    }

    fn exhausted(&self) -> bool {
        self.evals >= self.max_evals
    }

    /// The Qdq program of `ranges`.
    fn quantized(&self, ranges: &[(ValueId, ValueRange)]) -> Result<Graph, PassError> {
        let mut g = self.base.clone();
        for &(v, r) in ranges {
            g.value_mut(v).range = Some(r);
        }
        crate::insert_qdq::run(&mut g, self.ctx)?;
        crate::fuse_activations::run(&mut g, self.ctx)?;
        Ok(g)
    }

    fn signature(q: &Graph) -> Signature {
        q.value_ids().map(|v| q.ty(v).quant.clone()).collect()
    }

    /// The normalized output error of `ranges` (one forward pass of the batch).
    fn evaluate(
        &mut self,
        ranges: &[(ValueId, ValueRange)],
    ) -> Result<(f64, Signature), PassError> {
        let q = self.quantized(ranges)?;
        self.evals += 1;
        let outs = ir::interp::run_float_batch(&q, self.samples)
            .map_err(|e| failed(format!("fake-quantized run: {e}")))?;
        let (mut num, mut den) = (0f64, 0f64);
        for (o, f) in outs.iter().zip(self.reference) {
            for (a, b) in flatten(o).iter().zip(f) {
                let d = f64::from(*a) - f64::from(*b);
                num += d * d;
                den += f64::from(*b) * f64::from(*b);
            }
        }
        let err = if den > 0.0 { num / den } else { num };
        Ok((err, Self::signature(&q)))
    }

    /// Indices (into `start`) and ids of the values whose range reaches the Qdq program.
    fn trainable(
        &self,
        start: &[(ValueId, ValueRange)],
        start_sig: &Signature,
    ) -> Result<Vec<(usize, ValueId)>, PassError> {
        let mut out = Vec::new();
        for (i, &(v, r)) in start.iter().enumerate() {
            let mut probe = start.to_vec();
            probe[i] = (v, scale_range(r, 0.5));
            if Self::signature(&self.quantized(&probe)?) != *start_sig {
                out.push((i, v));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
