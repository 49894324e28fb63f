//! Lowers a synthetic ResNet-50-shaped Qdq graph (conv/add/relu/pool, random weights) with
//! `lower-integer` and prints time, e-graph size, iterations and stop reason.
//!
//! Usage: `cargo run --release -p qcc-tools --bin bench-lower [-- --size 224]`.
//! The pass must finish within a second and saturate without hitting the node limit.

#[path = "../../../../passes/tests/qdq/mod.rs"]
mod qdq;

use anyhow::{Context, bail};
use ir::ValueId;
use passes::PassCtx;
use passes::egraph::Limits;
use qdq::Qdq;
use std::time::Instant;

/// One bottleneck block: 1x1 reduce, 3x3, 1x1 expand, projection shortcut when the shape
/// changes, residual add with fused ReLU.
fn bottleneck(b: &mut Qdq, x: ValueId, mid: usize, out: usize, stride: usize) -> ValueId {
    let cin = b.g.ty(x).shape.dims()[1];
    let a = b.conv(x, mid, 1, 1, 0, true, 0.03, 0);
    let a = b.conv(a, mid, 3, stride, 1, true, 0.03, 0);
    let a = b.conv(a, out, 1, 1, 0, false, 0.05, 128);
    let short = if stride != 1 || cin != out {
        b.conv(x, out, 1, stride, 0, false, 0.05, 128)
    } else {
        x
    };
    b.add(a, short, true, 0.04, 0)
}

/// ResNet-50: stem, 3-4-6-3 bottlenecks, global average pool, classifier.
fn resnet50(size: usize) -> ir::Graph {
    let mut b = Qdq::new(50);
    let x = b.input("x", &[1, 3, size, size], 0.02, 128);
    let mut v = b.conv(x, 64, 7, 2, 3, true, 0.03, 0);
    v = b.pool(v, 3, 2, 1, true);
    for (stage, (blocks, mid)) in [(3, 64), (4, 128), (6, 256), (3, 512)].into_iter().enumerate() {
        for i in 0..blocks {
            let stride = if i == 0 && stage > 0 { 2 } else { 1 };
            v = bottleneck(&mut b, v, mid, mid * 4, stride);
        }
    }
    v = b.global_avg_pool(v);
    v = b.reshape(v, &[1, 2048]);
    let y = b.gemm(v, 1000, 0.1, 128);
    b.finish(&[y])
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let size = match args.iter().position(|a| a == "--size") {
        Some(i) => args.get(i + 1).context("--size needs a value")?.parse()?,
        None => 224,
    };
    let t0 = Instant::now();
    let mut g = resnet50(size);
    let build = t0.elapsed();
    let float_nodes = g
        .node_ids()
        .filter(|&n| !matches!(g.node(n).op, ir::Op::Quantize | ir::Op::Dequantize | ir::Op::Const(_)))
        .count();
    println!(
        "graph: {} nodes ({float_nodes} compute), built in {:.1} ms",
        g.node_count(),
        build.as_secs_f64() * 1e3
    );
    let limits = Limits::default();
    let r = passes::lower_integer::lower(&mut g, &PassCtx::default(), &limits)
        .context("lowering the synthetic ResNet-50")?;
    println!(
        "lower-integer: {:.1} ms, e-graph {} nodes / {} classes, {} iterations, stop: {}, cost {}",
        r.time.as_secs_f64() * 1e3,
        r.egraph_nodes,
        r.egraph_classes,
        r.iterations,
        r.stop_reason,
        r.cost
    );
    println!("result: {} nodes", g.node_count());
    passes::manager::verify(&g, "lower-integer").context("verifying the lowered graph")?;
    if r.stop_reason != "saturated" {
        bail!("e-graph did not saturate: {}", r.stop_reason);
    }
    Ok(())
}
