//! Mixed-precision search benchmark: memory, multiplication cost and test top-1 of float,
//! all-8-bit, `--precision auto` and auto with power-of-two scales, and the search time.
//!
//! Usage: `cargo run --release -p qcc-tools --bin bench-precision [-- --models a,b]
//! [--max-accuracy-drop 1] [--evals 80] [--weight-rounding optimized|nearest]` (from the
//! repository root; RAYON_NUM_THREADS=2 reproduces the 2-core target). The auto variants
//! round weights as `qcc --precision auto` does (`optimized`, the `optimize-weights` pass)
//! unless `--weight-rounding nearest` says otherwise.
//!
//! For each trained test model (testsuite/models/<m>/ with calib.npy, test_x.npy,
//! test_y.npy): the float program is calibrated on calib.npy (minmax); the search runs on
//! the same batch; every variant's Qdq program (fake-quantized, run by the float reference
//! interpreter, which models the integer program) is scored on the test set (`qdq top-1`).
//! `int top-1` is the integer program (`lower-integer` + the integer interpreter), or `n/a`
//! where this build cannot lower the chosen formats. Memory = bit-packed weight bytes
//! (biases at 32 bits) + the arena `plan-memory` allocates for the integer program (`act sum`,
//! the container bytes of every activation tensor summed, is shown for comparison only);
//! mult cost = sum of MACs * weight bits * activation bits; `sqnr/floor` = the chosen
//! program's logit SQNR on the calibration batch and the floor the search applied
//! (`--min-logit-sqnr DB|off` overrides the default floor). `auto+pow2` is `n/a` when insert-qdq does
//! not produce power-of-two scales yet.

use anyhow::{Context, Result, bail};
use clap_free_args::Args;
use ir::{Graph, Op, Tensor, TensorData};
use passes::precision::{Costs, SearchOptions, qdq_costs};
use passes::{PassCtx, ScaleMode, WeightRounding};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A tiny `--key value` parser (the tools crate has no clap).
mod clap_free_args {
    pub struct Args(pub Vec<String>);

    impl Args {
        pub fn get(&self, key: &str) -> Option<String> {
            let i = self.0.iter().position(|a| a == key)?;
            self.0.get(i + 1).cloned()
        }
    }
}

const MODELS: &[&str] = &[
    "digits_speech_dw",
    "fashion_cnn",
    "fashion_mobilenet",
    "fashion_resnet",
    "fashion_se_hswish",
    "lenet_digits",
];

fn argmax(x: &[f32]) -> usize {
    (0..x.len()).fold(0, |b, i| if x[i] > x[b] { i } else { b })
}

/// Top-1 accuracy in percent of `outs` (first output per sample) against `labels`.
fn top1(outs: &[Vec<Tensor>], labels: &[i32]) -> f64 {
    let hits = outs
        .iter()
        .zip(labels)
        .filter(|(o, y)| o[0].as_f32().is_some_and(|x| argmax(x) as i32 == **y))
        .count();
    100.0 * hits as f64 / labels.len() as f64
}

fn labels(path: &Path) -> Result<Vec<i32>> {
    let t = compiler::npy::read_npy_file(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    match t.data {
        TensorData::I32(v) => Ok(v),
        TensorData::U8(v) => Ok(v.into_iter().map(i32::from).collect()),
        TensorData::I8(v) => Ok(v.into_iter().map(i32::from).collect()),
        TensorData::I16(v) => Ok(v.into_iter().map(i32::from).collect()),
        TensorData::F32(_) => bail!("{}: labels must be integers", path.display()),
    }
}

fn load_samples(g: &Graph, path: &Path) -> Result<Vec<Vec<Tensor>>> {
    let t = compiler::npy::read_npy_file(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    compiler::samples::split_samples(g, &[t]).map_err(|e| anyhow::anyhow!("{e}"))
}

/// One row of the table.
struct Row {
    variant: &'static str,
    costs: Option<Costs>,
    qdq_top1: Option<f64>,
    int_top1: Option<f64>,
    agreement: Option<f64>,
    sqnr: Option<(f64, f64)>,
    search_s: Option<f64>,
    evals: Option<usize>,
}

/// The Qdq program of `cal` with `ctx`'s quantization choices (insert-qdq,
/// fuse-activations, optimize-weights: the compiler's pipeline).
fn qdq(cal: &Graph, ctx: &PassCtx) -> Result<Graph> {
    passes::precision::build_qdq(cal, ctx, ctx.quant.layers.clone(), &[]).context("quantize")
}

/// Whether every quantized activation of `g` has a power-of-two scale.
fn all_pow2(g: &Graph) -> bool {
    g.node_ids()
        .filter(|&n| matches!(g.node(n).op, Op::Quantize))
        .all(|n| {
            g.ty(g.node(n).outputs[0])
                .quant
                .as_ref()
                .is_some_and(|q| q.pow2)
        })
}

/// Test top-1 of the integer program of `q`, if it lowers.
fn int_top1(q: &Graph, ctx: &PassCtx, test: &[Vec<Tensor>], y: &[i32]) -> Option<f64> {
    let mut g = q.clone();
    passes::lower_integer::run(&mut g, ctx).ok()?;
    let outs = ir::interp::int::run_int_batch(&g, test).ok()?;
    Some(top1(&outs, y))
}

fn bench_model(
    dir: &Path,
    drop: f64,
    evals: usize,
    sqnr_floor: Option<f64>,
    rounding: WeightRounding,
) -> Result<Vec<Row>> {
    let args: Vec<std::ffi::OsString> = vec![
        "qcc".into(),
        dir.join("model.onnx").into(),
        "--calib".into(),
        dir.join("calib.npy").into(),
    ];
    let cli = <compiler::driver::Cli as clap::Parser>::try_parse_from(args)?;
    let mut g = compiler::driver::load_model(&cli.model, Default::default())?;
    compiler::driver::float_pipeline(&mut g, &cli)?;
    let calib = load_samples(&g, &dir.join("calib.npy"))?;
    let test = load_samples(&g, &dir.join("test_x.npy"))?;
    let y = labels(&dir.join("test_y.npy"))?;
    let mut ctx = compiler::driver::pass_ctx(&cli)?;
    ctx.calib = Some(Arc::new(calib));
    let mut cal = g.clone();
    compiler::driver::run_passes(&mut cal, &["calibrate"], &cli, ctx.clone())?;

    let mut rows = vec![Row {
        variant: "float",
        costs: None,
        qdq_top1: Some(top1(&ir::interp::run_float_batch(&g, &test)?, &y)),
        int_top1: None,
        agreement: None,
        sqnr: None,
        search_s: None,
        evals: None,
    }];
    let all8 = qdq(&cal, &ctx)?;
    rows.push(Row {
        variant: "all-8-bit",
        costs: qdq_costs(&all8, &ctx).ok(),
        qdq_top1: Some(top1(&ir::interp::run_float_batch(&all8, &test)?, &y)),
        int_top1: int_top1(&all8, &ctx, &test, &y),
        agreement: None,
        sqnr: None,
        search_s: None,
        evals: None,
    });
    // The cheapest program of the search space (every knob at its narrowest width): the
    // bound on any saving, whatever the accuracy.
    let cheapest = SearchOptions {
        min_logit_sqnr_db: sqnr_floor,
        max_accuracy_drop: drop,
        max_evaluations: evals,
        ..SearchOptions::default()
    };
    rows.push(Row {
        variant: "cheapest",
        costs: Some(passes::precision::cheapest_costs(&cal, &ctx, &cheapest)?),
        qdq_top1: None,
        int_top1: None,
        agreement: None,
        sqnr: None,
        search_s: None,
        evals: None,
    });
    for (variant, scales) in [("auto", ScaleMode::Float), ("auto+pow2", ScaleMode::Pow2)] {
        let mut c = ctx.clone();
        c.quant.scales = scales;
        // What `qcc --precision auto` rounds with (unless the bench is told otherwise).
        c.quant.weight_rounding = rounding;
        let probe = qdq(&cal, &c)?;
        if scales == ScaleMode::Pow2 && !all_pow2(&probe) {
            rows.push(Row {
                variant,
                costs: None,
                qdq_top1: None,
                int_top1: None,
                agreement: None,
                sqnr: None,
                search_s: None,
                evals: None,
            });
            continue;
        }
        let opts = SearchOptions {
            min_logit_sqnr_db: sqnr_floor,
            max_accuracy_drop: drop,
            max_evaluations: evals,
            ..SearchOptions::default()
        };
        let t = Instant::now();
        let r = passes::precision::search(&cal, &c, &opts)?;
        let secs = t.elapsed().as_secs_f64();
        c.quant.layers = r.layers.clone();
        let mut cal_r = cal.clone();
        r.apply_ranges(&mut cal_r);
        let q = qdq(&cal_r, &c)?;
        rows.push(Row {
            variant,
            costs: qdq_costs(&q, &c).ok(),
            qdq_top1: Some(top1(&ir::interp::run_float_batch(&q, &test)?, &y)),
            int_top1: int_top1(&q, &c, &test, &y),
            agreement: Some(r.chosen.agreement_percent()),
            sqnr: Some((r.chosen.sqnr_db(), r.sqnr_floor_db)),
            search_s: Some(secs),
            evals: Some(r.evaluations),
        });
    }
    Ok(rows)
}

fn opt<T>(x: Option<T>, f: impl Fn(T) -> String) -> String {
    x.map_or("n/a".into(), f)
}

fn main() -> Result<()> {
    let args = Args(std::env::args().skip(1).collect());
    let drop: f64 = args
        .get("--max-accuracy-drop")
        .map_or(Ok(1.0), |s| s.parse())?;
    let evals: usize = args.get("--evals").map_or(Ok(80), |s| s.parse())?;
    // `--min-logit-sqnr DB|off`; absent: the search's default floor.
    let sqnr_floor: Option<f64> = match args.get("--min-logit-sqnr").as_deref() {
        None => None,
        Some("off") => Some(f64::NEG_INFINITY),
        Some(s) => Some(s.parse()?),
    };
    let rounding = match args.get("--weight-rounding").as_deref() {
        None | Some("optimized") => WeightRounding::Optimized,
        Some("nearest") => WeightRounding::Nearest,
        Some(other) => bail!("--weight-rounding {other}: expected nearest or optimized"),
    };
    let models: Vec<String> = args.get("--models").map_or_else(
        || MODELS.iter().map(|s| s.to_string()).collect(),
        |s| s.split(',').map(str::to_string).collect(),
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testsuite/models");
    println!(
        "max accuracy drop {drop} pt (top-1 agreement on the calibration batch), eval cap {evals}, {} threads",
        rayon_threads()
    );
    println!(
        "{:<18} {:<10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10} {:>7} {:>6} {:>6} {:>7} {:>11} {:>8} {:>5}",
        "model",
        "variant",
        "w bytes",
        "arena",
        "act sum",
        "memory",
        "mem %8",
        "mult Mbit",
        "mult %8",
        "qdq",
        "int",
        "agree",
        "sqnr/floor",
        "search s",
        "evals"
    );
    for m in models {
        let rows = bench_model(&root.join(&m), drop, evals, sqnr_floor, rounding)
            .with_context(|| m.clone())?;
        let base = rows
            .iter()
            .find_map(|r| (r.variant == "all-8-bit").then_some(r.costs))
            .flatten();
        for r in &rows {
            let pct = |f: fn(&Costs) -> u64| {
                opt(r.costs.zip(base), |(c, b)| {
                    format!("{:.1}", 100.0 * f(&c) as f64 / f(&b).max(1) as f64)
                })
            };
            println!(
                "{:<18} {:<10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10} {:>7} {:>6} {:>6} {:>7} {:>11} {:>8} {:>5}",
                m,
                r.variant,
                opt(r.costs, |c| c.weight_bytes.to_string()),
                opt(r.costs, |c| c.arena_bytes.to_string()),
                opt(r.costs, |c| c.activation_bytes.to_string()),
                opt(r.costs, |c| c.memory().to_string()),
                pct(|c| c.memory()),
                opt(r.costs, |c| format!("{:.1}", c.mult_cost as f64 / 1e6)),
                pct(|c| c.mult_cost),
                opt(r.qdq_top1, |a| format!("{a:.2}")),
                opt(r.int_top1, |a| format!("{a:.2}")),
                opt(r.agreement, |a| format!("{a:.1}")),
                opt(r.sqnr, |(s, f)| format!("{s:.1}/{f:.1}")),
                opt(r.search_s, |s| format!("{s:.1}")),
                opt(r.evals, |e| e.to_string()),
            );
        }
    }
    Ok(())
}

fn rayon_threads() -> String {
    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into())
}
