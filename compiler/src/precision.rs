//! `--precision auto --max-accuracy-drop P`: the driver's side of the mixed-precision search
//! ([`passes::precision`]): option checks, and the search's part of `--emit report`.

use crate::error::CompileError;
use passes::precision::{Costs, KnobKind, SearchOptions, SearchResult};
use serde_json::{Value as Json, json};

/// The value of `--precision`.
#[derive(Clone, Debug, PartialEq)]
pub enum PrecisionArg {
    /// Search per-layer bit widths.
    Auto,
    /// Per-layer bit widths from a file.
    File(std::path::PathBuf),
}

impl PrecisionArg {
    /// Parses `auto` or a path.
    pub fn parse(s: &str) -> PrecisionArg {
        if s == "auto" {
            PrecisionArg::Auto
        } else {
            PrecisionArg::File(s.into())
        }
    }
}

/// Parses `--min-logit-sqnr`: a number of dB, or `off` (no floor).
pub fn parse_sqnr_floor(s: &str) -> Result<f64, String> {
    if s == "off" {
        return Ok(f64::NEG_INFINITY);
    }
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(format!("expected a number of dB or `off`, got `{s}`")),
    }
}

/// The search options of the command line, or `None` without `--precision auto`.
pub fn search_options(cli: &crate::driver::Cli) -> Result<Option<SearchOptions>, CompileError> {
    let (max_accuracy_drop, max_evaluations) = (cli.max_accuracy_drop, cli.max_search_evals);
    match cli.precision.as_deref().map(PrecisionArg::parse) {
        // A file is read into `QuantConfig::layers` by `driver::pass_ctx`.
        None | Some(PrecisionArg::File(_)) => Ok(None),
        Some(PrecisionArg::Auto) => {
            if !(0.0..=100.0).contains(&max_accuracy_drop) {
                return Err(CompileError::Usage(format!(
                    "--max-accuracy-drop {max_accuracy_drop}: expected percentage points in [0, 100]"
                )));
            }
            if max_evaluations == 0 {
                return Err(CompileError::Usage(
                    "--max-search-evals must be at least 1".into(),
                ));
            }
            let (w, a) = (&cli.search_weight_bits, &cli.search_activation_bits);
            if w.is_empty() || w.iter().any(|b| !(2..=8).contains(b)) {
                return Err(CompileError::Usage(format!(
                    "--search-weight-bits {w:?}: each must be in 2..=8"
                )));
            }
            if a.is_empty() || a.iter().any(|b| ![4, 8, 16].contains(b)) {
                return Err(CompileError::Usage(format!(
                    "--search-activation-bits {a:?}: each must be 4, 8 or 16"
                )));
            }
            Ok(Some(SearchOptions {
                max_accuracy_drop,
                max_evaluations,
                weight_bits: w.clone(),
                activation_bits: a.clone(),
                min_logit_sqnr_db: cli.min_logit_sqnr,
                ..SearchOptions::default()
            }))
        }
    }
}

fn costs_json(c: &Costs) -> Json {
    json!({
        "weight_bytes": c.weight_bytes,
        "arena_bytes": c.arena_bytes,
        "activation_bytes": c.activation_bytes,
        "memory_bytes": c.memory(),
        "mult_cost": c.mult_cost,
    })
}

/// The `precision` section of the report: the chosen bits per layer and the totals of the
/// chosen program against all-8-bit.
pub fn report_json(r: &SearchResult, opts: &SearchOptions) -> Json {
    let layers: Vec<Json> = r
        .layers
        .iter()
        .map(|(name, p)| {
            json!({
                "name": name,
                "weight_bits": p.weight_bits,
                "activation_bits": p.activation_bits,
            })
        })
        .collect();
    let sqnr = |e: &passes::precision::Evaluation| {
        let s = e.sqnr_db();
        if s.is_finite() {
            json!(s)
        } else {
            json!("inf")
        }
    };
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            100.0 * (b as f64 - a as f64) / b as f64
        }
    };
    json!({
        "method": "auto",
        "max_accuracy_drop": opts.max_accuracy_drop,
        "min_logit_sqnr_db": if r.sqnr_floor_db.is_finite() { json!(r.sqnr_floor_db) } else { json!(null) },
        "satisfied": r.satisfied,
        "evaluations": r.evaluations,
        "calibration_samples": r.chosen.samples,
        "agreement_percent": r.chosen.agreement_percent(),
        "expected_disagreement_percent": 100.0 * r.chosen.expected_flips / r.chosen.samples.max(1) as f64,
        "all_8bit_agreement_percent": r.all8.agreement_percent(),
        "logit_sqnr_db": sqnr(&r.chosen),
        "all_8bit_logit_sqnr_db": sqnr(&r.all8),
        "layers": layers,
        "totals": costs_json(&r.costs),
        "all_8bit_totals": costs_json(&r.baseline),
        "memory_saving_percent": r.memory_saving_percent(),
        "mult_cost_saving_percent": pct(r.costs.mult_cost, r.baseline.mult_cost),
    })
}

/// A one-line summary for stderr.
pub fn summary(r: &SearchResult) -> String {
    let low = r
        .knobs
        .iter()
        .map(|(k, b)| match k.kind {
            KnobKind::Weight => format!("{}:w{b}", k.name),
            KnobKind::Activation => format!("{}:a{b}", k.name),
        })
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "note: precision search: {} evaluations, memory (weights + arena) {} -> {} bytes ({:.1}% saved), mult cost {} -> {}, top-1 agreement {:.1}% (all 8-bit {:.1}%), expected {:.1}%, logit SQNR {:.1} dB (floor {:.1})\nnote: chosen bits: {low}",
        r.evaluations,
        r.baseline.memory(),
        r.costs.memory(),
        r.memory_saving_percent(),
        r.baseline.mult_cost,
        r.costs.mult_cost,
        r.chosen.agreement_percent(),
        r.all8.agreement_percent(),
        100.0 - 100.0 * r.chosen.expected_flips / r.chosen.samples.max(1) as f64,
        r.chosen.sqnr_db(),
        r.sqnr_floor_db,
    )
}

#[cfg(test)]
mod tests {
    use super::parse_sqnr_floor;

    #[test]
    fn the_sqnr_floor_is_a_number_of_db_or_off() {
        assert_eq!(parse_sqnr_floor("12.5"), Ok(12.5));
        assert_eq!(parse_sqnr_floor("off"), Ok(f64::NEG_INFINITY));
        assert!(parse_sqnr_floor("loud").is_err());
        assert!(parse_sqnr_floor("inf").is_err());
    }
}
