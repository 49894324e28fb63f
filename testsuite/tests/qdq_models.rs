//! Already-quantized ONNX models (testsuite/models/*_ort, made by
//! tools/models/make_qdq_models.py with onnxruntime's quantizer, and qat_digits, a PyTorch
//! quantization-aware-training export made by tools/models/make_qat.py) through qcc's QDQ
//! import and ONNX export.
//!
//! For every model: import into the Qdq phase, verify, check the `.qir` round-trip law,
//! snapshot the imported IR (constants elided), run
//! the float interpreter (which executes Quantize/Dequantize exactly) on the bundled samples
//! and compare with onnxruntime's outputs of the same quantized model (`expected.npz`).
//!
//! Tolerance: onnxruntime runs QuantizeLinear as `x / s` and qcc as `x * (1/s)` (the
//! definition in ir::arith), and float convolutions sum in a different order, so an
//! intermediate value that lands within an ulp of a rounding tie may quantize one step
//! apart; the step can propagate. Outputs that are dequantized from a per-tensor scale `s`
//! must agree within [`MAX_STEPS`] steps (`MAX_STEPS * s`), and at least [`MIN_EXACT`] of all
//! elements must agree to within a hundredth of a step. Other outputs (the ConvInteger model
//! ends in a float Mul) must agree within `1e-5 * max|reference|`.
//!
//! Export: each imported graph is exported with `export_qdq_onnx`, re-imported, and must be
//! structurally equal (names included) and compute the same outputs; the exported file is
//! also written to `$CARGO_TARGET_TMPDIR/qdq_export/<model>.onnx` for
//! tools/models/check_export_ort.py --dir.

use ir::{Graph, Op, Phase, QuantGranularity};
use std::path::{Path, PathBuf};

/// Largest difference, in output quantization steps, between qcc and onnxruntime.
const MAX_STEPS: f32 = 2.0;
/// Least fraction of output elements that must agree exactly (to 1% of a step).
const MIN_EXACT: f64 = 0.9;

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// The per-tensor scale an output was dequantized with, if it comes from a Dequantize.
fn output_step(g: &Graph, name: &str) -> Option<f32> {
    let v = *g
        .outputs
        .iter()
        .find(|&&v| g.value(v).name.as_deref() == Some(name))?;
    let node = g.producer(v);
    if !matches!(node.op, Op::Dequantize) {
        return None;
    }
    match &g.ty(node.inputs[0]).quant.as_ref()?.granularity {
        QuantGranularity::PerTensor { scale, .. } => Some(*scale),
        QuantGranularity::PerAxis { .. } => None,
    }
}

fn run(g: &Graph, dir: &Path) -> Vec<(String, ir::Tensor)> {
    let input = compiler::npy::read_npy_file(&dir.join("input.npy")).expect("input.npy");
    let samples = compiler::samples::split_samples(g, &[input]).expect("samples");
    let results = ir::interp::run_float_batch(g, &samples).expect("float run");
    compiler::samples::stack_samples(g, &results)
}

fn compare(name: &str, g: &Graph, got: &[(String, ir::Tensor)], dir: &Path) {
    let want = compiler::npz::read_npz_file(&dir.join("expected.npz")).expect("expected.npz");
    assert_eq!(got.len(), want.len(), "{name}: output count");
    for (k, w) in &want {
        let (_, t) = got
            .iter()
            .find(|(n, _)| n == k)
            .unwrap_or_else(|| panic!("{name}: no output named {k}"));
        assert_eq!(t.shape, w.shape, "{name}: output {k} shape");
        let (a, b) = (t.as_f32().expect("f32"), w.as_f32().expect("f32"));
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        match output_step(g, k) {
            Some(step) => {
                let exact = a
                    .iter()
                    .zip(b)
                    .filter(|(x, y)| (*x - *y).abs() <= 0.01 * step)
                    .count() as f64
                    / a.len() as f64;
                assert!(
                    worst <= MAX_STEPS * step * 1.001,
                    "{name}: output {k}: max|diff| {worst} = {} steps of {step}",
                    worst / step
                );
                assert!(
                    exact >= MIN_EXACT,
                    "{name}: output {k}: only {exact:.3} of the elements agree exactly"
                );
            }
            None => {
                let max_ref = b.iter().fold(0f32, |m, x| m.max(x.abs()));
                let tol = 1e-5 * max_ref + 1e-6;
                assert!(
                    worst <= tol,
                    "{name}: output {k}: max|diff| {worst} > {tol}"
                );
            }
        }
    }
}

fn check_model(name: &str) {
    let dir = models_dir().join(name);
    let g = compiler::driver::load_model(&dir.join("model.onnx"), Default::default())
        .unwrap_or_else(|e| panic!("{name}: import failed:\n{e}"));
    assert_eq!(g.phase, Phase::Qdq, "{name}: phase");
    let back = ir::text::parse(&ir::text::print(&g)).expect("reparse");
    assert!(back == g, "{name}: parse(print(g)) != g");
    let elided = ir::text::print_with(
        &g,
        &ir::text::PrintOptions {
            elide_constants_above: Some(16),
        },
    )
    .text;
    insta::assert_snapshot!(format!("import_{name}"), elided);
    let got = run(&g, &dir);
    compare(name, &g, &got, &dir);

    // Export, re-import: the same graph and the same outputs.
    match compiler::export::export_qdq_onnx(&g) {
        Ok(bytes) => {
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("qdq_export");
            std::fs::create_dir_all(&out).expect("tmp dir");
            std::fs::write(out.join(format!("{name}.onnx")), &bytes).expect("write export");
            let re = compiler::import::onnx::import_model_bytes(&bytes, &Default::default())
                .unwrap_or_else(|e| panic!("{name}: re-import:\n{}", e.render_plain()));
            ir::verifier::verify(&re).unwrap_or_else(|e| panic!("{}", e.render_annotated(&re)));
            assert!(
                re == g,
                "{name}: export -> import differs:\n{}\n---\n{}",
                ir::text::print(&g),
                ir::text::print(&re)
            );
            assert_eq!(run(&re, &dir), got, "{name}: re-imported outputs");
        }
        Err(e) => {
            // Only the ConvInteger model's i32 accumulators are outside opset 17's QDQ.
            assert_eq!(name, "tiny_integer_ort", "{name}: export failed: {e}");
            assert!(e.to_string().contains("to i32"), "{e}");
        }
    }
}

#[test]
fn lenet_digits_qdq_ort() {
    check_model("lenet_digits_qdq_ort");
}

#[test]
fn fashion_cnn_qdq_ort() {
    check_model("fashion_cnn_qdq_ort");
}

#[test]
fn fashion_mobilenet_qdq_ort() {
    check_model("fashion_mobilenet_qdq_ort");
}

#[test]
fn fashion_cnn_qop_ort() {
    check_model("fashion_cnn_qop_ort");
}

#[test]
fn tiny_integer_ort() {
    check_model("tiny_integer_ort");
}

/// The file's own quantization, lowered to the integer program (`qcc MODEL --run X`, no
/// `--calib`): the same top-1 as onnxruntime running the file, on the 8 samples of
/// `expected.npz` (every one) and on the labelled test set (accuracy within 0.3 pt of
/// `float_test_accuracy_ort` in meta.json, which reference.py measured with onnxruntime).
fn integer_top1_matches_onnxruntime(name: &str) {
    use clap::Parser;
    let dir = models_dir().join(name);
    let m = dir.join("model.onnx");
    let cli = compiler::driver::Cli::try_parse_from(["qcc", m.to_str().expect("utf-8 path")])
        .expect("cli");
    let c =
        compiler::driver::compile(&cli).unwrap_or_else(|e| panic!("{name}: {}", e.render_plain()));
    let int = c.program;
    assert_eq!(int.phase, Phase::Integer, "{name}: lowered");
    let argmax = |t: &[f32]| {
        (0..t.len())
            .max_by(|&a, &b| t[a].total_cmp(&t[b]).then(b.cmp(&a)))
            .unwrap_or(0)
    };
    let classes = |x: ir::Tensor| -> Vec<usize> {
        let samples = compiler::samples::split_samples(&int, &[x]).expect("samples");
        ir::interp::int::run_int_batch(&int, &samples)
            .expect("integer run")
            .iter()
            .map(|r| argmax(r[0].as_f32().expect("f32 output")))
            .collect()
    };
    let want = compiler::npz::read_npz_file(&dir.join("expected.npz")).expect("expected.npz");
    let (_, logits) = &want[0];
    let k = *logits.shape.dims().last().expect("class axis");
    let ort: Vec<usize> = logits
        .as_f32()
        .expect("f32")
        .chunks(k)
        .map(argmax)
        .collect();
    let x = compiler::npy::read_npy_file(&dir.join("input.npy")).expect("input.npy");
    assert_eq!(classes(x), ort, "{name}: top-1 on input.npy");

    let x = compiler::npy::read_npy_file(&dir.join("test_x.npy")).expect("test_x.npy");
    let y = compiler::npy::read_npy_file(&dir.join("test_y.npy")).expect("test_y.npy");
    let labels: Vec<usize> = match &y.data {
        ir::TensorData::I32(v) => v.iter().map(|&l| l as usize).collect(),
        other => panic!("{name}: test_y.npy holds {other:?}"),
    };
    let got = classes(x);
    let acc = got.iter().zip(&labels).filter(|(a, b)| a == b).count() as f64 / labels.len() as f64;
    let meta = std::fs::read_to_string(dir.join("meta.json")).expect("meta.json");
    let ort_acc: f64 = meta
        .split("\"float_test_accuracy_ort\":")
        .nth(1)
        .and_then(|r| r.split([',', '\n']).next())
        .and_then(|v| v.trim().parse().ok())
        .expect("float_test_accuracy_ort in meta.json");
    eprintln!("{name}: qcc integer top-1 {acc:.4}, onnxruntime {ort_acc:.4}");
    assert!(
        (acc - ort_acc).abs() <= 0.003 + 1e-9,
        "{name}: integer top-1 {acc} vs onnxruntime {ort_acc}"
    );
}

/// A PyTorch QAT export (FakeQuantize as QuantizeLinear/DequantizeLinear on float weights
/// and activations, 1-element scale tensors, zero points shared through Identity nodes).
#[test]
fn qat_digits() {
    check_model("qat_digits");
    integer_top1_matches_onnxruntime("qat_digits");
}

/// A float model exports as plain float ONNX and re-imports to the same graph.
#[test]
fn float_model_export_round_trip() {
    let dir = models_dir().join("fashion_cnn");
    let g =
        compiler::driver::load_model(&dir.join("model.onnx"), Default::default()).expect("import");
    assert_eq!(g.phase, Phase::Float);
    let bytes = compiler::export::export_qdq_onnx(&g).expect("export");
    let re =
        compiler::import::onnx::import_model_bytes(&bytes, &Default::default()).expect("re-import");
    assert!(re == g, "float export -> import differs");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("qdq_export");
    std::fs::create_dir_all(&out).expect("tmp dir");
    std::fs::write(out.join("fashion_cnn.onnx"), &bytes).expect("write export");
    assert_eq!(run(&re, &dir), run(&g, &dir));
}
