//! The search itself (steps 2 to 5 of the module documentation).

use super::eval::{Evaluation, Evaluator};
use super::model::{Config, Costs, SearchSpace};
use super::{SearchOptions, SearchResult};
use crate::{PassCtx, PassError};
use ir::{Graph, Phase};

fn usage(message: String) -> PassError {
    PassError::Failed {
        node: None,
        message,
    }
}

/// Sorted most precise first, without duplicates.
fn ladder(bits: &[u32]) -> Vec<u32> {
    let mut l = bits.to_vec();
    l.sort_unstable_by(|a, b| b.cmp(a));
    l.dedup();
    l
}

fn check_options(g: &Graph, opts: &SearchOptions) -> Result<(), PassError> {
    if g.phase != Phase::Calibrated {
        return Err(usage(format!(
            "the precision search needs a calibrated graph, got phase {}",
            g.phase
        )));
    }
    if !(0.0..=100.0).contains(&opts.max_accuracy_drop) {
        return Err(usage(format!(
            "the accuracy drop {} is outside [0, 100] percentage points",
            opts.max_accuracy_drop
        )));
    }
    if opts.max_evaluations == 0 {
        return Err(usage(
            "the precision search needs at least one evaluation".into(),
        ));
    }
    if opts.weight_bits.is_empty() || opts.weight_bits.iter().any(|b| !(2..=8).contains(b)) {
        return Err(usage(format!(
            "weight bits {:?}: each must be in 2..=8",
            opts.weight_bits
        )));
    }
    if opts.activation_bits.is_empty()
        || opts.activation_bits.iter().any(|b| ![4, 8, 16].contains(b))
    {
        return Err(usage(format!(
            "activation bits {:?}: each must be 4, 8 or 16",
            opts.activation_bits
        )));
    }
    Ok(())
}

/// The additive noise model of step 2: `noise[k]` at `probe[k]` bits.
struct NoiseModel {
    noise: Vec<f64>,
    probe: Vec<u32>,
}

impl NoiseModel {
    /// Modelled noise of knob `k` at `bits`.
    fn at(&self, k: usize, bits: u32) -> f64 {
        self.noise[k] * 4f64.powi(self.probe[k] as i32 - bits as i32)
    }
}

/// The objective of a cost against the all-8-bit cost.
fn objective(c: &Costs, base: &Costs, mult_weight: f64) -> f64 {
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    ratio(c.memory(), base.memory()) + mult_weight * ratio(c.mult_cost, base.mult_cost)
}

/// The best next lowering from `state` among knobs not `frozen`: objective saved per
/// modelled noise added (ties: the first knob).
fn best_move(
    space: &SearchSpace,
    model: &NoiseModel,
    state: &Config,
    frozen: &[bool],
    base: &Costs,
    mult_weight: f64,
) -> Option<(usize, u32)> {
    let now = objective(&space.costs(state), base, mult_weight);
    let mut best: Option<(f64, usize, u32)> = None;
    for (k, knob) in space.knobs.iter().enumerate() {
        if frozen[k] {
            continue;
        }
        let Some(&next) = knob.ladder.iter().find(|&&b| b < state[k]) else {
            continue;
        };
        let mut c = state.clone();
        c[k] = next;
        let saved = now - objective(&space.costs(&c), base, mult_weight);
        if saved <= 0.0 {
            continue;
        }
        let added = (model.at(k, next) - model.at(k, state[k])).max(1e-30);
        let ratio = saved / added;
        if best.is_none_or(|(r, _, _)| ratio > r) {
            best = Some((ratio, k, next));
        }
    }
    best.map(|(_, k, b)| (k, b))
}

/// The logit SQNR floor in dB: the explicit one, else `sqnr_db_at_1pt - 20·log10(P)` (the
/// disagreement on samples near a decision boundary grows linearly with the logit noise
/// amplitude), never above what all-8-bit reaches (`all8_db`), so all-8-bit stays a choice.
pub(crate) fn sqnr_floor(opts: &SearchOptions, all8_db: f64) -> f64 {
    match opts.min_logit_sqnr_db {
        Some(x) => x,
        None => {
            let scaled = opts.sqnr_db_at_1pt - 20.0 * opts.max_accuracy_drop.max(1e-6).log10();
            scaled.min(all8_db)
        }
    }
}

/// The costs of the cheapest program of the search space (every knob at its narrowest
/// width, accuracy aside): the most any search under `opts` can save.
pub fn cheapest_costs(
    calibrated: &Graph,
    ctx: &PassCtx,
    opts: &SearchOptions,
) -> Result<Costs, PassError> {
    check_options(calibrated, opts)?;
    let (wl, al) = (ladder(&opts.weight_bits), ladder(&opts.activation_bits));
    let space = SearchSpace::new(calibrated, ctx, &wl, &al)?;
    let cheapest: Config = space
        .knobs
        .iter()
        .map(|k| k.ladder.last().copied().unwrap_or(8))
        .collect();
    Ok(space.costs(&cheapest))
}

/// Chooses per-layer bit widths for `calibrated` (see the module documentation).
pub fn search(
    calibrated: &Graph,
    ctx: &PassCtx,
    opts: &SearchOptions,
) -> Result<SearchResult, PassError> {
    check_options(calibrated, opts)?;
    let samples = ctx
        .calib
        .as_ref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| usage("the precision search needs a calibration batch".into()))?;
    let (wl, al) = (ladder(&opts.weight_bits), ladder(&opts.activation_bits));
    let space = SearchSpace::new(calibrated, ctx, &wl, &al)?;
    let mut ev = Evaluator::new(calibrated, ctx, samples)?;
    let n = ev.len();
    let cap = opts.max_evaluations;
    // Allowed disagreements, counted and expected (see `Evaluation::expected_flips`).
    let budget = opts.max_accuracy_drop / 100.0 * n as f64 + 1e-9;
    let report = |ev: &Evaluator| ctx.report("precision search", ev.runs.min(cap), cap);
    let mult_weight = opts.mult_weight;

    // All 8-bit: the reference of the costs and of the sensitivities.
    // (The ladders may exclude 8; the reference is 8-bit all the same.)
    let all8 = space.uniform(8);
    let base = space.costs(&all8);
    let e8 = ev.evaluate(space.layers(&all8), &space.ranges(&all8), n, None)?;
    report(&ev);
    let min_sqnr = sqnr_floor(opts, e8.sqnr_db());
    let feasible = |e: &Evaluation| {
        e.complete
            && e.disagreements as f64 <= budget
            && e.expected_flips <= budget
            && e.sqnr_db() >= min_sqnr
    };

    // Step 2: sensitivities, the knobs with most memory at stake first.
    let ns = match opts.sensitivity_samples {
        0 => n,
        s => s.min(n),
    };
    let ref_noise = if ns == n || ev.runs >= cap {
        e8.noise
    } else {
        let e = ev.evaluate(space.layers(&all8), &space.ranges(&all8), ns, None)?;
        report(&ev);
        e.noise
    };
    let probe: Vec<u32> = space
        .knobs
        .iter()
        .map(|k| {
            if k.ladder.contains(&4) {
                4
            } else {
                *k.ladder.last().unwrap_or(&8)
            }
        })
        .collect();
    let mut stake: Vec<(u64, usize)> = (0..space.knobs.len())
        .map(|k| {
            let mut c = all8.clone();
            c[k] = probe[k];
            (base.memory().saturating_sub(space.costs(&c).memory()), k)
        })
        .collect();
    stake.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let sens_cap = (cap / 2).max(ev.runs);
    let mut noise: Vec<Option<f64>> = vec![None; space.knobs.len()];
    for &(_, k) in &stake {
        if ev.runs >= sens_cap {
            break;
        }
        let mut c = all8.clone();
        c[k] = probe[k];
        let e = ev.evaluate(space.layers(&c), &space.ranges(&c), ns, None)?;
        report(&ev);
        noise[k] = Some((e.noise - ref_noise).max(1e-12));
    }
    let worst = noise.iter().flatten().copied().fold(1e-12, f64::max);
    let model = NoiseModel {
        noise: noise.iter().map(|x| x.unwrap_or(worst)).collect(),
        probe,
    };

    // Step 3: the greedy path from the most precise setting to the cheapest.
    let no_frozen = vec![false; space.knobs.len()];
    let mut path: Vec<Config> = vec![space.top()];
    let mut moves: Vec<usize> = Vec::new();
    while let Some((k, b)) = best_move(
        &space,
        &model,
        path.last().unwrap_or(&all8),
        &no_frozen,
        &base,
        mult_weight,
    ) {
        let mut c = path.last().cloned().unwrap_or_default();
        c[k] = b;
        path.push(c);
        moves.push(k);
    }

    // Step 4: the longest feasible prefix (assuming feasibility shrinks along the path).
    let (mut lo, mut hi) = (0usize, path.len());
    let mut best: Option<(usize, Evaluation)> = None;
    while hi - lo > 1 && ev.runs < cap {
        let mid = (lo + hi) / 2;
        let e = ev.evaluate(
            space.layers(&path[mid]),
            &space.ranges(&path[mid]),
            n,
            Some(budget),
        )?;
        report(&ev);
        if feasible(&e) {
            lo = mid;
            best = Some((mid, e));
        } else {
            hi = mid;
        }
    }
    let mut top_eval = None;
    if best.is_none() && lo == 0 && ev.runs < cap {
        let e = ev.evaluate(
            space.layers(&path[0]),
            &space.ranges(&path[0]),
            n,
            Some(budget),
        )?;
        report(&ev);
        if feasible(&e) {
            best = Some((0, e));
        }
        top_eval = Some(e);
    }
    let (mut state, mut chosen, mut satisfied) = match best {
        Some((i, e)) => (path[i].clone(), e, true),
        None if space.all8() == all8 => (all8.clone(), e8, feasible(&e8)),
        None => (path[0].clone(), top_eval.unwrap_or(e8), false),
    };

    // Step 5: greedy refinement with real evaluations.
    let mut frozen = vec![false; space.knobs.len()];
    if let Some((i, _)) = best
        && i + 1 == hi
        && i < moves.len()
    {
        // path[hi] = path[i] + moves[i] was judged infeasible.
        frozen[moves[i]] = true;
    }
    while satisfied && ev.runs < cap {
        let Some((k, b)) = best_move(&space, &model, &state, &frozen, &base, mult_weight) else {
            break;
        };
        let mut c = state.clone();
        c[k] = b;
        let e = ev.evaluate(space.layers(&c), &space.ranges(&c), n, Some(budget))?;
        report(&ev);
        if feasible(&e) {
            state = c;
            chosen = e;
        } else {
            frozen[k] = true;
        }
    }

    // Never worse than all 8-bit when that is feasible.
    let obj = |c: &Config| objective(&space.costs(c), &base, mult_weight);
    let allowed = space.all8() == all8;
    if allowed && feasible(&e8) && (!satisfied || obj(&all8) < obj(&state)) {
        state = all8.clone();
        chosen = e8;
        satisfied = true;
    }
    ctx.report("precision search", cap, cap);
    Ok(SearchResult {
        layers: space.layers(&state),
        ranges: space.ranges(&state),
        knobs: space
            .knobs
            .iter()
            .cloned()
            .zip(state.iter().copied())
            .collect(),
        costs: space.costs(&state),
        baseline: base,
        chosen,
        all8: e8,
        sqnr_floor_db: min_sqnr,
        evaluations: ev.runs,
        satisfied,
    })
}
