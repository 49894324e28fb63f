//! End-to-end float tests on the model zoo in testsuite/models (made by tools/models).
//!
//! For every model: import, verify, check the `.qir` round-trip law on the imported and the
//! cleaned-up graph, snapshot the imported IR (constants elided), run the float clean-up
//! pipeline with the verifier after every pass, and compare the float interpreter's outputs
//! on the bundled samples with onnxruntime's (`expected.npz`) within
//! `1e-4 * max|reference| + 1e-5`.

use std::path::{Path, PathBuf};

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn check_model(name: &str) {
    let dir = models_dir().join(name);
    let mut g = compiler::driver::load_model(&dir.join("model.onnx"), Default::default())
        .unwrap_or_else(|e| panic!("{name}: import failed:\n{}", e.render_plain()));

    let text = ir::text::print(&g);
    let back = ir::text::parse(&text).unwrap_or_else(|e| panic!("{name}: reparse: {e}"));
    assert!(
        back == g,
        "{name}: parse(print(g)) != g for the imported graph"
    );
    let elided = ir::text::print_with(
        &g,
        &ir::text::PrintOptions {
            elide_constants_above: Some(16),
        },
    )
    .text;
    insta::assert_snapshot!(format!("import_{name}"), elided);

    let ctx = passes::PassCtx {
        verify_each: true,
        ..Default::default()
    };
    passes::PassManager::new(passes::pipelines::FLOAT_CLEANUP, ctx)
        .expect("pipeline")
        .run(&mut g)
        .unwrap_or_else(|e| panic!("{name}: float pipeline: {e}"));
    let back = ir::text::parse(&ir::text::print(&g)).expect("reparse cleaned graph");
    assert!(back == g, "{name}: parse(print(g)) != g after clean-up");

    let input = compiler::npy::read_npy_file(&dir.join("input.npy")).expect("input.npy");
    let samples = compiler::samples::split_samples(&g, &[input]).expect("samples");
    let results = ir::interp::run_float_batch(&g, &samples).expect("float run");
    let got = compiler::samples::stack_samples(&g, &results);
    let want = compiler::npz::read_npz_file(&dir.join("expected.npz")).expect("expected.npz");
    assert_eq!(got.len(), want.len(), "{name}: output count");
    for (k, w) in &want {
        let (_, t) = got
            .iter()
            .find(|(n, _)| n == k)
            .unwrap_or_else(|| panic!("{name}: no output named {k}"));
        assert_eq!(t.shape, w.shape, "{name}: output {k} shape");
        let (a, b) = (t.as_f32().expect("f32"), w.as_f32().expect("f32"));
        let max_ref = b.iter().fold(0f32, |m, x| m.max(x.abs()));
        let tol = 1e-4 * max_ref + 1e-5;
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            worst <= tol,
            "{name}: output {k}: max|diff| {worst} > tol {tol}"
        );
    }
}

macro_rules! model_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { check_model(stringify!($name)); })*

        /// Every model folder has a test above.
        #[test]
        fn every_model_is_tested() {
            let listed = [$(stringify!($name)),*];
            for e in std::fs::read_dir(models_dir()).expect("models dir") {
                let p = e.expect("entry").path();
                // Already-quantized models (`*_qdq*`) have their own tests.
                let qdq = p.to_string_lossy().contains("_qdq");
                if p.join("model.onnx").exists() && !qdq {
                    let n = p.file_name().expect("name").to_string_lossy().to_string();
                    if n.ends_with("_ort") || n.starts_with("qat_") {
                        continue; // already-quantized models: tests/qdq_models.rs
                    }
                    assert!(listed.contains(&n.as_str()), "model {n} has no test in models.rs");
                }
            }
        }
    };
}

model_tests!(
    digits_speech_dw,
    fashion_cnn,
    fashion_cnn_extdata,
    fashion_cnn_op11,
    fashion_cnn_op17,
    fashion_cnn_op21,
    fashion_cnn_op7,
    fashion_cnn_op9,
    fashion_mobilenet,
    fashion_resnet,
    fashion_se_hswish,
    fashion_se_hswish_op13,
    keras_digits_tf2onnx,
    keras_digits_tflite,
    lenet_digits,
    lenet_digits_dynbatch,
    lenet_digits_op9,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3_large,
    mobilenet_v3_small,
    paddle_digits,
    resnet18,
    tiny_detector,
    tiny_detector_op11,
);
