//! A small builder of Qdq-phase graphs (the form of `docs/quantization.md`) for tests and
//! the `bench-lower` benchmark: random symmetric per-channel i8 weights, i32 biases in the
//! accumulator scale, u8 activations with `quantize -> dequantize` after every op.
#![allow(dead_code)]

use ir::*;
use std::collections::HashMap;

/// The builder; every method returns the dequantized f32 value of its result.
pub struct Qdq {
    /// The graph being built.
    pub g: Graph,
    rng: u64,
    n: usize,
    params: HashMap<ValueId, (f32, i32)>,
}

fn u8t(shape: &[usize], s: f32, zp: i32) -> TensorType {
    TensorType {
        dtype: DType::U8,
        shape: Shape(shape.to_vec()),
        quant: Some(QuantParams::per_tensor(DType::U8, s, zp)),
    }
}

fn per_axis(dtype: DType, shape: &[usize], axis: usize, scales: Vec<f32>) -> TensorType {
    let n = scales.len();
    TensorType {
        dtype,
        shape: Shape(shape.to_vec()),
        quant: Some(QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis,
                scales,
                zero_points: vec![0; n],
            },
            bits: dtype.bits(),
            pow2: false,
        }),
    }
}

impl Qdq {
    /// An empty Qdq graph; `seed` drives the random weights.
    pub fn new(seed: u64) -> Qdq {
        let mut g = Graph::new("qdq");
        g.phase = Phase::Qdq;
        Qdq {
            g,
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            n: 0,
            params: HashMap::new(),
        }
    }

    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn name(&mut self, op: &str) -> String {
        self.n += 1;
        format!("{op}{}", self.n)
    }

    fn shape(&self, v: ValueId) -> Vec<usize> {
        self.g.ty(v).shape.dims().to_vec()
    }

    /// The `(scale, zero point)` of a dequantized value.
    pub fn params(&self, v: ValueId) -> (f32, i32) {
        self.params[&v]
    }

    /// `quantize -> dequantize` of `v` with u8 parameters.
    pub fn qdq(&mut self, v: ValueId, s: f32, zp: i32) -> ValueId {
        let shape = self.shape(v);
        let n = self.name("q");
        let q = self
            .g
            .add_simple(Op::Quantize, vec![v], u8t(&shape, s, zp), n);
        let n = self.name("dq");
        let d = self
            .g
            .add_simple(Op::Dequantize, vec![q], TensorType::f32(shape), n);
        self.params.insert(d, (s, zp));
        d
    }

    /// A graph input, quantized and dequantized.
    pub fn input(&mut self, name: &str, shape: &[usize], s: f32, zp: i32) -> ValueId {
        let x = self.g.add_input(name, TensorType::f32(shape.to_vec()));
        self.qdq(x, s, zp)
    }

    fn weight(&mut self, shape: &[usize], axis: usize) -> (ValueId, Vec<f32>) {
        let n: usize = shape.iter().product();
        let data: Vec<i8> = (0..n)
            .map(|_| (self.next() % 255) as i8)
            .map(|v| v.max(-127))
            .collect();
        let scales: Vec<f32> = (0..shape[axis])
            .map(|c| 0.002 + 0.0001 * c as f32)
            .collect();
        let ty = per_axis(DType::I8, shape, axis, scales.clone());
        let value = Tensor {
            dtype: DType::I8,
            shape: ty.shape.clone(),
            data: TensorData::I8(data),
        };
        let name = self.name("w");
        let w = self
            .g
            .add_simple(Op::Const(ConstAttrs { value }), vec![], ty, name);
        let name = self.name("dqw");
        let d = self.g.add_simple(
            Op::Dequantize,
            vec![w],
            TensorType::f32(shape.to_vec()),
            name,
        );
        (d, scales)
    }

    fn bias(&mut self, s_x: f32, s_w: &[f32], m: usize) -> ValueId {
        let scales: Vec<f32> = (0..m).map(|c| s_x * s_w[c.min(s_w.len() - 1)]).collect();
        let data: Vec<i32> = (0..m).map(|_| (self.next() % 2001) as i32 - 1000).collect();
        let ty = per_axis(DType::I32, &[m], 0, scales);
        let value = Tensor {
            dtype: DType::I32,
            shape: ty.shape.clone(),
            data: TensorData::I32(data),
        };
        let name = self.name("b");
        let b = self
            .g
            .add_simple(Op::Const(ConstAttrs { value }), vec![], ty, name);
        let name = self.name("dqb");
        self.g
            .add_simple(Op::Dequantize, vec![b], TensorType::f32(vec![m]), name)
    }

    fn relu_then_qdq(&mut self, v: ValueId, relu: bool, s: f32, zp: i32) -> ValueId {
        let v = if relu {
            let shape = self.shape(v);
            let n = self.name("relu");
            self.g
                .add_simple(Op::Relu, vec![v], TensorType::f32(shape), n)
        } else {
            v
        };
        self.qdq(v, s, zp)
    }

    /// A square conv with bias, optional fused ReLU, output quantized with `(s, zp)`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        x: ValueId,
        cout: usize,
        k: usize,
        stride: usize,
        pad: usize,
        relu: bool,
        s: f32,
        zp: i32,
    ) -> ValueId {
        let xs = self.shape(x);
        let (w, sw) = self.weight(&[cout, xs[1], k, k], 0);
        let b = self.bias(self.params(x).0, &sw, cout);
        let o = |d: usize| (d + 2 * pad - k) / stride + 1;
        let out = vec![xs[0], cout, o(xs[2]), o(xs[3])];
        let attrs = ConvAttrs {
            strides: vec![stride; 2],
            pads: vec![pad; 4],
            dilations: vec![1; 2],
            group: 1,
        };
        let n = self.name("conv");
        let c = self
            .g
            .add_simple(Op::Conv(attrs), vec![x, w, b], TensorType::f32(out), n);
        self.relu_then_qdq(c, relu, s, zp)
    }

    /// `a + b`, optional fused ReLU.
    pub fn add(&mut self, a: ValueId, b: ValueId, relu: bool, s: f32, zp: i32) -> ValueId {
        let shape = self.shape(a);
        let n = self.name("add");
        let v = self
            .g
            .add_simple(Op::Add, vec![a, b], TensorType::f32(shape), n);
        self.relu_then_qdq(v, relu, s, zp)
    }

    /// `a / b` (no integer form).
    pub fn div(&mut self, a: ValueId, b: ValueId, s: f32, zp: i32) -> ValueId {
        let shape = self.shape(a);
        self.n = 0;
        let n = self.name("div");
        let v = self
            .g
            .add_simple(Op::Div, vec![a, b], TensorType::f32(shape), n);
        self.qdq(v, s, zp)
    }

    /// Max pool `k x k`, stride `k`; output parameters equal the input's.
    pub fn max_pool(&mut self, x: ValueId, k: usize) -> ValueId {
        self.pool(x, k, k, 0, true)
    }

    /// Max (or average) pool with explicit stride and padding.
    pub fn pool(&mut self, x: ValueId, k: usize, stride: usize, pad: usize, max: bool) -> ValueId {
        let xs = self.shape(x);
        let o = |d: usize| (d + 2 * pad - k) / stride + 1;
        let out = vec![xs[0], xs[1], o(xs[2]), o(xs[3])];
        let p = PoolAttrs {
            kernel: vec![k; 2],
            strides: vec![stride; 2],
            pads: vec![pad; 4],
            dilations: vec![1; 2],
            ceil_mode: false,
        };
        let op = if max {
            Op::MaxPool(p)
        } else {
            Op::AveragePool(AvgPoolAttrs {
                pool: p,
                count_include_pad: false,
            })
        };
        let n = self.name(op.mnemonic());
        let v = self.g.add_simple(op, vec![x], TensorType::f32(out), n);
        let (s, zp) = self.params(x);
        self.qdq(v, s, zp)
    }

    /// Global average pool; output parameters equal the input's.
    pub fn global_avg_pool(&mut self, x: ValueId) -> ValueId {
        let xs = self.shape(x);
        let n = self.name("gap");
        let v = self.g.add_simple(
            Op::GlobalAveragePool,
            vec![x],
            TensorType::f32(vec![xs[0], xs[1], 1, 1]),
            n,
        );
        let (s, zp) = self.params(x);
        self.qdq(v, s, zp)
    }

    /// Reshape; output parameters equal the input's.
    pub fn reshape(&mut self, x: ValueId, shape: &[usize]) -> ValueId {
        let n = self.name("reshape");
        let v = self
            .g
            .add_simple(Op::Reshape, vec![x], TensorType::f32(shape.to_vec()), n);
        let (s, zp) = self.params(x);
        self.qdq(v, s, zp)
    }

    /// A single-input elementwise op (sigmoid, tanh, ...) quantized with `(s, zp)`.
    pub fn unary(&mut self, op: Op, x: ValueId, s: f32, zp: i32) -> ValueId {
        let shape = self.shape(x);
        let n = self.name(op.mnemonic());
        let v = self.g.add_simple(op, vec![x], TensorType::f32(shape), n);
        self.qdq(v, s, zp)
    }

    /// Gemm `x [M,K] @ w[N,K]^T + b`.
    pub fn gemm(&mut self, x: ValueId, n: usize, s: f32, zp: i32) -> ValueId {
        self.gemm_impl(x, n, (1.0, 1.0), true, s, zp)
    }

    /// Gemm without bias with the given alpha.
    pub fn gemm_alpha(&mut self, x: ValueId, n: usize, alpha: f32, s: f32, zp: i32) -> ValueId {
        self.gemm_impl(x, n, (alpha, alpha), false, s, zp)
    }

    /// Gemm with bias and the given alpha and beta.
    pub fn gemm_alpha_beta(
        &mut self,
        x: ValueId,
        n: usize,
        alpha: f32,
        beta: f32,
        s: f32,
        zp: i32,
    ) -> ValueId {
        self.gemm_impl(x, n, (alpha, beta), true, s, zp)
    }

    fn gemm_impl(
        &mut self,
        x: ValueId,
        n: usize,
        (alpha, beta): (f32, f32),
        bias: bool,
        s: f32,
        zp: i32,
    ) -> ValueId {
        let xs = self.shape(x);
        let (w, sw) = self.weight(&[n, xs[1]], 0);
        let mut ins = vec![x, w];
        if bias {
            ins.push(self.bias(self.params(x).0, &sw, n));
        }
        let attrs = GemmAttrs {
            alpha,
            beta,
            trans_a: false,
            trans_b: true,
        };
        let name = self.name("gemm");
        let v = self
            .g
            .add_simple(Op::Gemm(attrs), ins, TensorType::f32(vec![xs[0], n]), name);
        self.qdq(v, s, zp)
    }

    /// Finishes the graph with these outputs (named `y`, `y1`, ...).
    pub fn finish(mut self, outputs: &[ValueId]) -> Graph {
        for (i, &v) in outputs.iter().enumerate() {
            self.g.value_mut(v).name = Some(if i == 0 { "y".into() } else { format!("y{i}") });
            self.g.outputs.push(v);
        }
        self.g
    }
}
