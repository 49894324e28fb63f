//! Every test model through the quantizing pipeline (`compiler::driver::compile` with its
//! calib.npy): the integer program holds no float op and no float tensor between input
//! quantization and output dequantization, and it agrees with the fake-quantized (Qdq)
//! program run in float on the model's 8 samples, as docs/quantization.md documents:
//! each output element within `MAX_LSB` output steps, and at least `MIN_EXACT` of them equal.
//!
//! The agreement check runs on the trained models. On the untrained deep nets (random
//! weights and batch-norm statistics, 16 calibration samples) one-step rounding differences
//! compound through 20-50 layers of high gain into tens of output steps, so for them only the
//! no-float walk is checked; per-op agreement within 1 LSB is tested on small graphs in
//! passes/tests/lower_integer.rs.

use clap::Parser;
use ir::{DType, Op};
use std::path::Path;

/// Documented agreement between the Qdq float program and the integer program (see
/// docs/quantization.md, "Integer vs fake-quantized"): rounding differences of the merged
/// requantizations and table lookups grow through deep nets by a few output steps at most.
const MAX_LSB: f32 = 2.0;
const MIN_EXACT: f64 = 0.5;

fn check(name: &str, compare: bool) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name);
    let m = dir.join("model.onnx");
    let calib = dir.join("calib.npy");
    let args = [
        "qcc",
        m.to_str().unwrap(),
        "--calib",
        calib.to_str().unwrap(),
    ];
    let cli = compiler::driver::Cli::try_parse_from(args).expect("cli");
    let c =
        compiler::driver::compile(&cli).unwrap_or_else(|e| panic!("{name}: {}", e.render_plain()));
    let (qdq, int) = (c.qdq.expect("quantized"), c.program);
    assert_eq!(int.phase, ir::Phase::Integer, "{name}");

    // No float between the boundary conversions.
    for n in int.node_ids() {
        let node = int.node(n);
        for &v in &node.outputs {
            let f32_ok = matches!(node.op, Op::Input | Op::Dequantize);
            assert!(
                int.ty(v).dtype != DType::F32 || f32_ok,
                "{name}: `{}` ({}) yields a float tensor in the integer program",
                node.name,
                node.op.mnemonic()
            );
        }
        let float_compute = matches!(
            node.op,
            Op::Conv(_)
                | Op::ConvTranspose(_)
                | Op::Gemm(_)
                | Op::MatMul
                | Op::BatchNorm(_)
                | Op::Relu
                | Op::PRelu
                | Op::LeakyRelu(_)
                | Op::Clip(_)
                | Op::Sigmoid
                | Op::HardSigmoid(_)
                | Op::HardSwish
                | Op::Tanh
                | Op::Softmax(_)
                | Op::Add
                | Op::Sub
                | Op::Mul
                | Op::Div
                | Op::AveragePool(_)
                | Op::GlobalAveragePool
                | Op::ReduceMean(_)
        );
        assert!(
            !float_compute,
            "{name}: float op `{}` left in the integer program",
            node.name
        );
    }
    for &v in &int.inputs {
        for (u, _) in int.users(v) {
            assert!(
                matches!(int.node(u).op, Op::Quantize),
                "{name}: input read by a non-quantize"
            );
        }
    }

    if !compare {
        return;
    }
    // Integer vs fake-quantized float.
    let x = compiler::npy::read_npy_file(&dir.join("input.npy")).expect("input.npy");
    let samples = compiler::samples::split_samples(&int, &[x]).expect("samples");
    let a = ir::interp::run_float_batch(&qdq, &samples).expect("qdq run");
    let b = ir::interp::int::run_int_batch(&int, &samples).expect("int run");
    let (mut total, mut exact, mut worst) = (0usize, 0usize, 0f32);
    for (ra, rb) in a.iter().zip(&b) {
        for (k, (ta, tb)) in ra.iter().zip(rb).enumerate() {
            let out = int.outputs[k];
            let q = int.producer(out).inputs[0];
            let scale = int.ty(q).quant.as_ref().expect("quantized output").scale(0);
            for (x, y) in ta.as_f32().unwrap().iter().zip(tb.as_f32().unwrap()) {
                let lsb = (x - y).abs() / scale;
                worst = worst.max(lsb);
                exact += usize::from(lsb < 0.5);
                total += 1;
            }
        }
    }
    let frac = exact as f64 / total as f64;
    eprintln!(
        "{name}: {:.1}% of outputs equal, worst {worst:.1} LSB",
        100.0 * frac
    );
    assert!(
        worst <= MAX_LSB + 0.01,
        "{name}: an output differs by {worst} LSB"
    );
    assert!(
        frac >= MIN_EXACT,
        "{name}: only {:.1}% of outputs equal",
        100.0 * frac
    );
}

macro_rules! programs {
    ($($name:ident: $compare:expr),* $(,)?) => {
        $(#[test] fn $name() { check(stringify!($name), $compare); })*
    };
}

programs!(
    digits_speech_dw: true,
    fashion_cnn: true,
    fashion_mobilenet: true,
    fashion_resnet: true,
    fashion_se_hswish: true,
    keras_digits_tf2onnx: true,
    lenet_digits: true,
    paddle_digits: true,
    mobilenet_v1: false,
    mobilenet_v2: false,
    mobilenet_v3_small: false,
    mobilenet_v3_large: false,
    resnet18: false,
);
