//! Times qcc's float reference interpreter on one model, single-threaded.
//!
//! `bench-float MODEL.onnx [--input X.npy] [--iters N] [--warmup W] [--profile]` imports the model, runs
//! the float clean-up pipeline, and times `ir::interp::run_float` on one sample (the first of
//! X.npy, or a deterministic pseudo-random input). Prints `qcc_ms <median ms per inference>`
//! and the min, and `qcc_cpu_ms <median thread CPU ms>`, for
//! tools/bench/bench_float.py to compare against onnxruntime.
//!
//! With `--profile`, it also prints where the time goes: every node's result is timed by
//! `ir::interp::run_float_observed` (time since the previous value appeared, so data
//! movement and bookkeeping count towards the next node), summed by op, operand shapes and result shape
//! over the timed runs, largest first. Observation turns off the Conv + Relu/Clip fusion,
//! so the activations show up as their own rows.

use anyhow::{Context, Result, bail};
use std::time::Instant;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut model = None;
    let mut input = None;
    let mut iters = 10usize;
    let mut warmup = 2usize;
    let mut profile = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--input" => input = args.next(),
            "--iters" => iters = args.next().context("--iters N")?.parse()?,
            "--warmup" => warmup = args.next().context("--warmup N")?.parse()?,
            "--profile" => profile = true,
            _ if model.is_none() => model = Some(a),
            _ => bail!("unexpected argument `{a}`"),
        }
    }
    let model = model.context("usage: bench-float MODEL.onnx [--input X.npy] [--iters N]")?;
    let mut g = compiler::driver::load_model(model.as_ref(), Default::default())
        .map_err(|e| anyhow::anyhow!(e.render_plain()))?;
    passes::PassManager::new(passes::pipelines::FLOAT_CLEANUP, passes::PassCtx::default())?
        .run(&mut g)?;
    let inputs: Vec<ir::Tensor> = match input {
        Some(p) => {
            let arrays = vec![compiler::npy::read_npy_file(p.as_ref())?];
            compiler::samples::split_samples(&g, &arrays)?.swap_remove(0)
        }
        None => g
            .inputs
            .iter()
            .map(|&v| {
                let shape = g.ty(v).shape.clone();
                let mut s = 0x2545_f491_u32;
                let data = (0..shape.numel())
                    .map(|_| {
                        s ^= s << 13;
                        s ^= s >> 17;
                        s ^= s << 5;
                        (s as f32 / u32::MAX as f32) * 2.0 - 1.0
                    })
                    .collect();
                ir::Tensor::from_f32(shape, data)
            })
            .collect(),
    };
    for _ in 0..warmup {
        ir::interp::run_float(&g, &inputs)?;
    }
    let mut times = Vec::with_capacity(iters);
    let mut cpu = Vec::with_capacity(iters);
    for _ in 0..iters.max(1) {
        let (t, c) = (Instant::now(), thread_cpu_ns());
        std::hint::black_box(ir::interp::run_float(&g, &inputs)?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if let (Some(c0), Some(c1)) = (c, thread_cpu_ns()) {
            cpu.push((c1 - c0) as f64 / 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!("qcc_ms {:.3}", times[times.len() / 2]);
    println!("qcc_min_ms {:.3}", times[0]);
    if !cpu.is_empty() {
        println!("qcc_cpu_ms {:.3}", cpu[cpu.len() / 2]);
    }
    if profile {
        print_profile(&g, &inputs, iters.max(1))?;
    }
    Ok(())
}

/// Prints the time per `(op, operand shapes, result shape)` summed over `iters` observed runs, as ms per
/// inference and share of the total.
fn print_profile(g: &ir::graph::Graph, inputs: &[ir::Tensor], iters: usize) -> Result<()> {
    use std::collections::HashMap;
    let mut per: HashMap<String, (f64, usize)> = HashMap::new();
    for _ in 0..iters {
        let mut last = Instant::now();
        ir::interp::run_float_observed(g, inputs, &mut |v, t| {
            let now = Instant::now();
            let node = g.producer(v);
            let ins: Vec<String> = node
                .inputs
                .iter()
                .map(|&i| g.ty(i).shape.to_string())
                .collect();
            let key = format!("{} {} -> {}", node.op.mnemonic(), ins.join(" "), t.shape);
            let e = per.entry(key).or_default();
            e.0 += (now - last).as_secs_f64() * 1e3 / iters as f64;
            e.1 += 1;
            last = now;
        })?;
    }
    let total: f64 = per.values().map(|e| e.0).sum();
    let mut rows: Vec<_> = per.into_iter().collect();
    rows.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    println!("profile: {total:.3} ms per inference (observed, unfused)");
    for (k, (ms, n)) in rows {
        println!(
            "profile {ms:>8.3} ms {:>5.1}% x{:<3} {k}",
            100.0 * ms / total,
            n / iters
        );
    }
    Ok(())
}

/// CPU time of this thread in ns (`CLOCK_THREAD_CPUTIME_ID`, the clock Python's
/// `time.thread_time` reads for onnxruntime), which a loaded machine inflates far less than
/// wall time. (`/proc/thread-self/schedstat` is no substitute: it lags by up to a
/// scheduler tick for the running thread.)
#[allow(unsafe_code)] // One libc call; the safe wrappers (nix) are not worth the dependency.
fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}
