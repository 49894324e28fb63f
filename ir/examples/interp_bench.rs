//! Times the float interpreter on ResNet-18- and MobileNetV2-shaped graphs (random weights,
//! batch norm folded into conv biases, 1x3x224x224 input), single-threaded.
//!
//! `cargo run -p ir --release --example interp_bench [iterations]`; `MODEL=resnet18` or
//! `MODEL=mobilenet_v2` runs one model, `PROFILE=1` adds a per-op-kind time table (one cold
//! run, so allocation costs included).

use ir::interp::run_float;
use ir::{
    ClipAttrs, ConstAttrs, ConvAttrs, GemmAttrs, Graph, Op, PoolAttrs, Tensor, TensorType, ValueId,
};
use std::time::Instant;

/// Deterministic pseudo-random weights scaled for a fan-in of `fan_in`.
fn weights(shape: Vec<usize>, fan_in: usize, seed: &mut u64) -> Tensor {
    let n: usize = shape.iter().product();
    let s = (2.0 / fan_in as f32).sqrt();
    let v = (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((*seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5) * 2.0 * s
        })
        .collect();
    Tensor::from_f32(shape, v)
}

struct B {
    g: Graph,
    seed: u64,
}

impl B {
    fn shape(&self, v: ValueId) -> Vec<usize> {
        self.g.ty(v).shape.dims().to_vec()
    }

    fn konst(&mut self, t: Tensor) -> ValueId {
        let ty = TensorType::f32(t.shape.clone());
        self.g
            .add_simple(Op::Const(ConstAttrs { value: t }), vec![], ty, "")
    }

    /// Conv with bias; `act`: 0 none, 1 relu, 2 relu6.
    fn conv(&mut self, x: ValueId, m: usize, k: usize, s: usize, group: usize, act: u8) -> ValueId {
        let d = self.shape(x);
        let (c, h, w) = (d[1], d[2], d[3]);
        let p = k / 2;
        let wt = weights(vec![m, c / group, k, k], c / group * k * k, &mut self.seed);
        let bt = weights(vec![m], 1, &mut self.seed);
        let (wv, bv) = (self.konst(wt), self.konst(bt));
        let oh = (h + 2 * p - k) / s + 1;
        let ow = (w + 2 * p - k) / s + 1;
        let y = self.g.add_simple(
            Op::Conv(ConvAttrs {
                strides: vec![s, s],
                pads: vec![p, p, p, p],
                dilations: vec![1, 1],
                group,
            }),
            vec![x, wv, bv],
            TensorType::f32(vec![1, m, oh, ow]),
            "conv",
        );
        let ty = TensorType::f32(vec![1, m, oh, ow]);
        match act {
            1 => self.g.add_simple(Op::Relu, vec![y], ty, "relu"),
            2 => self.g.add_simple(
                Op::Clip(ClipAttrs { min: 0.0, max: 6.0 }),
                vec![y],
                ty,
                "relu6",
            ),
            _ => y,
        }
    }

    fn add(&mut self, a: ValueId, b: ValueId, relu: bool) -> ValueId {
        let ty = self.g.ty(a).clone();
        let y = self.g.add_simple(Op::Add, vec![a, b], ty.clone(), "add");
        if relu {
            self.g.add_simple(Op::Relu, vec![y], ty, "relu")
        } else {
            y
        }
    }

    fn head(&mut self, x: ValueId) -> ValueId {
        let c = self.shape(x)[1];
        let p = self.g.add_simple(
            Op::GlobalAveragePool,
            vec![x],
            TensorType::f32(vec![1, c, 1, 1]),
            "gap",
        );
        let f = self
            .g
            .add_simple(Op::Reshape, vec![p], TensorType::f32(vec![1, c]), "flatten");
        let wt = weights(vec![1000, c], c, &mut self.seed);
        let bt = weights(vec![1000], 1, &mut self.seed);
        let (wv, bv) = (self.konst(wt), self.konst(bt));
        self.g.add_simple(
            Op::Gemm(GemmAttrs {
                alpha: 1.0,
                beta: 1.0,
                trans_a: false,
                trans_b: true,
            }),
            vec![f, wv, bv],
            TensorType::f32(vec![1, 1000]),
            "fc",
        )
    }
}

fn resnet18() -> Graph {
    let mut b = B {
        g: Graph::new("resnet18"),
        seed: 1,
    };
    let x = b.g.add_input("x", TensorType::f32(vec![1, 3, 224, 224]));
    let mut y = b.conv(x, 64, 7, 2, 1, 1);
    y = b.g.add_simple(
        Op::MaxPool(PoolAttrs {
            kernel: vec![3, 3],
            strides: vec![2, 2],
            pads: vec![1, 1, 1, 1],
            dilations: vec![1, 1],
            ceil_mode: false,
        }),
        vec![y],
        TensorType::f32(vec![1, 64, 56, 56]),
        "maxpool",
    );
    for (stage, &c) in [64usize, 128, 256, 512].iter().enumerate() {
        for blk in 0..2 {
            let s = if stage > 0 && blk == 0 { 2 } else { 1 };
            let a = b.conv(y, c, 3, s, 1, 1);
            let a = b.conv(a, c, 3, 1, 1, 0);
            let sc = if s == 2 { b.conv(y, c, 1, 2, 1, 0) } else { y };
            y = b.add(a, sc, true);
        }
    }
    let out = b.head(y);
    b.g.outputs = vec![out];
    b.g
}

fn mobilenet_v2() -> Graph {
    let mut b = B {
        g: Graph::new("mobilenet_v2"),
        seed: 2,
    };
    let x = b.g.add_input("x", TensorType::f32(vec![1, 3, 224, 224]));
    let mut y = b.conv(x, 32, 3, 2, 1, 2);
    let mut c = 32;
    // (expansion, channels, repeats, stride)
    for &(t, oc, n, s) in &[
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ] {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let hidden = c * t;
            let mut h = y;
            if t != 1 {
                h = b.conv(h, hidden, 1, 1, 1, 2);
            }
            h = b.conv(h, hidden, 3, stride, hidden, 2);
            h = b.conv(h, oc, 1, 1, 1, 0);
            y = if stride == 1 && c == oc {
                b.add(h, y, false)
            } else {
                h
            };
            c = oc;
        }
    }
    y = b.conv(y, 1280, 1, 1, 1, 2);
    let out = b.head(y);
    b.g.outputs = vec![out];
    b.g
}

/// Time per op kind (conv split into depthwise / pointwise / general): the minimum over
/// five runs of each node's time.
fn profile(g: &Graph, input: &Tensor) {
    use std::collections::BTreeMap;
    let mut best: BTreeMap<ir::NodeId, (String, f64)> = BTreeMap::new();
    for _ in 0..5 {
        for (n, (k, t)) in profile_once(g, input) {
            let e = best.entry(n).or_insert((k, t));
            e.1 = e.1.min(t);
        }
    }
    let mut acc: BTreeMap<String, f64> = BTreeMap::new();
    for (k, t) in best.into_values() {
        *acc.entry(k).or_default() += t;
    }
    for (k, v) in acc {
        println!("  {k:>16}: {v:8.2} ms");
    }
}

/// One run: every node with its kind and time in ms.
fn profile_once(g: &Graph, input: &Tensor) -> Vec<(ir::NodeId, (String, f64))> {
    let mut vals: Vec<Option<Tensor>> = vec![None; g.value_bound()];
    let mut times = Vec::new();
    for n in g.topo_order() {
        let node = g.node(n);
        let ins: Vec<&Tensor> = node
            .inputs
            .iter()
            .map(|v| vals[v.index()].as_ref().unwrap())
            .collect();
        let tys: Vec<TensorType> = node.outputs.iter().map(|&v| g.ty(v).clone()).collect();
        let t = Instant::now();
        let outs = match &node.op {
            Op::Input => vec![input.clone()],
            op => ir::interp::eval_node_float(op, &ins, &tys).expect("eval"),
        };
        let dt = t.elapsed().as_secs_f64() * 1e3;
        let key = match &node.op {
            Op::Conv(a) => {
                let w = g.ty(node.inputs[1]).shape.dims().to_vec();
                if w[1] == 1 {
                    "conv depthwise".into()
                } else if w[2] == 1 && a.strides == [1, 1] {
                    "conv 1x1".into()
                } else {
                    format!("conv {}x{}", w[2], w[3])
                }
            }
            op => op.mnemonic().to_string(),
        };
        times.push((n, (key, dt)));
        for (&v, o) in node.outputs.iter().zip(outs) {
            vals[v.index()] = Some(o);
        }
    }
    times
}

fn main() {
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let input = weights(vec![1, 3, 224, 224], 2, &mut 7);
    let only = std::env::var("MODEL").ok();
    for g in [resnet18(), mobilenet_v2()] {
        if only.as_ref().is_some_and(|m| *m != g.name) {
            continue;
        }
        let out = run_float(&g, std::slice::from_ref(&input)).expect("run");
        let mut times = Vec::new();
        for _ in 0..iters {
            let t = Instant::now();
            let _ = run_float(&g, std::slice::from_ref(&input)).expect("run");
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        if std::env::var_os("PROFILE").is_some() {
            profile(&g, &input);
        }
        let sum: f32 = out[0].as_f32().unwrap().iter().sum();
        println!(
            "{}: median {:.2} ms, min {:.2} ms over {} runs (checksum {sum:.4})",
            g.name,
            times[times.len() / 2],
            times[0],
            iters
        );
    }
}
