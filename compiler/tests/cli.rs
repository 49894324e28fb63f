//! The `qcc` binary end to end: outputs, exit codes and diagnostics.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn qcc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qcc"))
        .args(args)
        .output()
        .expect("run qcc")
}

fn model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testsuite/models")
        .join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A user error: exit 1, a diagnostic that fits one screen, never a panic message.
fn assert_user_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr:\n{err}");
    assert!(err.contains(needle), "stderr lacks `{needle}`:\n{err}");
    assert!(!err.contains("panicked"), "panic message:\n{err}");
    assert!(
        err.lines().count() <= 40,
        "diagnostic longer than a screen:\n{err}"
    );
}

#[test]
fn emit_ir_to_stdout_and_file() {
    let m = model("lenet_digits").join("model.onnx");
    let o = qcc(&[m.to_str().unwrap(), "--emit", "ir"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("graph "), "{text}");
    assert!(!text.contains("batch_norm"), "fold-batch-norm ran: {text}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.qir");
    let o = qcc(&[m.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written, text);

    // The .qir output is a valid qcc input and prints back identically.
    let o = qcc(&[out.to_str().unwrap(), "--emit", "ir"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), text);
}

#[test]
fn float_run_matches_onnxruntime() {
    let dir = model("lenet_digits");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.npz");
    let o = qcc(&[
        dir.join("model.onnx").to_str().unwrap(),
        "--float",
        "--run",
        dir.join("input.npy").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = compiler::npz::read_npz_file(&out).unwrap();
    let want = compiler::npz::read_npz_file(&dir.join("expected.npz")).unwrap();
    assert_eq!(got[0].0, "logits");
    assert_eq!(got[0].1.shape, want[0].1.shape);
    let (a, b) = (got[0].1.as_f32().unwrap(), want[0].1.as_f32().unwrap());
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-3, "max|diff| {worst}");
}

#[test]
fn npz_input_keyed_by_name() {
    let dir = model("lenet_digits");
    let tmp = tempfile::tempdir().unwrap();
    let x = compiler::npy::read_npy_file(&dir.join("input.npy")).unwrap();
    let inp = tmp.path().join("in.npz");
    compiler::npz::write_npz_file(&inp, &[("input".to_string(), x)]).unwrap();
    let out = tmp.path().join("out.npz");
    let m = dir.join("model.onnx");
    let o = qcc(&[
        m.to_str().unwrap(),
        "--float",
        "--run",
        inp.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let bad = tmp.path().join("bad.npz");
    let x = compiler::npy::read_npy_file(&dir.join("input.npy")).unwrap();
    compiler::npz::write_npz_file(&bad, &[("image".to_string(), x)]).unwrap();
    let o = qcc(&[
        m.to_str().unwrap(),
        "--float",
        "--run",
        bad.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_user_error(&o, "no array named `input`");
}

#[test]
fn wrong_input_shape_is_a_user_error() {
    let tmp = tempfile::tempdir().unwrap();
    let x = tmp.path().join("x.npy");
    std::fs::write(
        &x,
        compiler::npy::write_npy(&ir::Tensor::from_f32(vec![2, 3], vec![0.0; 6])),
    )
    .unwrap();
    let m = model("lenet_digits").join("model.onnx");
    let out = tmp.path().join("o.npz");
    let o = qcc(&[
        m.to_str().unwrap(),
        "--float",
        "--run",
        x.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_user_error(&o, "expected (S, 1, 16, 16)");
}

#[test]
fn usage_errors() {
    let m = model("lenet_digits").join("model.onnx");
    let m = m.to_str().unwrap();
    assert_user_error(
        &qcc(&["/nonexistent/model.onnx"]),
        "/nonexistent/model.onnx",
    );
    assert_user_error(
        &qcc(&[m, "--input-shape", "input=1,x"]),
        "bad --input-shape",
    );
    assert_user_error(&qcc(&[m, "--run", "x.npy", "-o", "y.npz"]), "needs --calib");
    assert_user_error(&qcc(&[m, "--float", "--run", "x.npy"]), "needs -o");
    let o = qcc(&[m, "--print-after", "fold-bn"]);
    assert_user_error(&o, "unknown pass `fold-bn`");
    assert!(
        stderr(&o).contains("fold-batch-norm"),
        "lists the valid passes"
    );
    assert_user_error(&qcc(&[m, "--no-such-flag"]), "--no-such-flag");
}

#[test]
fn print_after_dumps_the_pass_output() {
    let m = model("lenet_digits").join("model.onnx");
    let o = qcc(&[
        m.to_str().unwrap(),
        "--print-before",
        "fold-batch-norm",
        "--print-after",
        "fold-batch-norm",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    let before = err.find("IR before fold-batch-norm").expect("before dump");
    let after = err.find("IR after fold-batch-norm").expect("after dump");
    assert!(err[before..after].contains("batch_norm("));
    assert!(!err[after..].contains("batch_norm("));
}

#[test]
fn qir_parse_error_points_at_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.qir");
    std::fs::write(&p, "graph \"g\" phase=float\ninputs(%0)\n%0 \"x\" = input : f32[1,2]\n%1 = frobnicate(%0) : f32[1,2]\noutputs(%1)\n").unwrap();
    let o = qcc(&[p.to_str().unwrap()]);
    assert_user_error(&o, "frobnicate");
    assert!(stderr(&o).contains("bad.qir:4:"), "{}", stderr(&o));
}

#[test]
fn depfile_lists_model_external_data_and_calibration() {
    let dir = model("fashion_cnn_extdata");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m.qir");
    let dep = tmp.path().join("m.d");
    let m = dir.join("model.onnx");
    let o = qcc(&[
        m.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--depfile",
        dep.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&dep).unwrap();
    assert!(text.starts_with(&format!("{}:", out.display())), "{text}");
    assert!(text.contains("model.onnx"), "{text}");
    assert!(text.contains("weights.bin"), "{text}");
}

#[test]
fn report_lists_layers_and_totals() {
    let dir = model("lenet_digits");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    let (m, c) = (dir.join("model.onnx"), dir.join("calib.npy"));
    let o = qcc(&[
        m.to_str().unwrap(),
        "--calib",
        c.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let layers = r["layers"].as_array().expect("layers");
    let conv = layers
        .iter()
        .find(|l| l["op"] == "conv")
        .expect("a conv layer");
    assert_eq!(conv["weight_bits"], 8);
    assert_eq!(conv["activation_bits"], 8);
    let sqnr = conv["sqnr_db"].as_f64().expect("sqnr");
    assert!(sqnr > 20.0, "conv SQNR {sqnr} dB");
    // LeNet: conv 8x1x5x5 on 16x16 (pad 2) and 16x8x5x5 on 8x8 -> 4x4, fc 64x48, fc 48x10.
    let macs = 8 * 25 * 256 + 16 * 200 * 16 + 64 * 48 + 48 * 10;
    assert_eq!(r["totals"]["macs"], macs);
    let wbytes = r["totals"]["weight_bytes"].as_u64().unwrap();
    // i8 weights plus i32 biases.
    assert_eq!(wbytes, (200 + 3200 + 3072 + 480) + 4 * (8 + 16 + 48 + 10));
    assert!(r["totals"]["activation_bytes"].as_u64().unwrap() > 0);
    let arena = r["totals"]["arena_bytes"].as_u64().unwrap() as f64;
    let bound = r["totals"]["arena_lower_bound"].as_u64().unwrap() as f64;
    assert!(
        bound > 0.0 && arena <= 1.05 * bound,
        "arena {arena} vs live-set bound {bound}"
    );

    assert_user_error(
        &qcc(&[m.to_str().unwrap(), "--emit", "report"]),
        "needs --calib",
    );
}

/// `--weight-bits`, `--activation-bits`, `--scales` and `--precision`: the report counts
/// packed weight bits and activation container bytes; bad values and names are user errors.
#[test]
fn precision_options_shape_the_program_and_its_report() {
    let dir = model("lenet_digits");
    let tmp = tempfile::tempdir().unwrap();
    let (m, c) = (dir.join("model.onnx"), dir.join("calib.npy"));
    let (m, c) = (m.to_str().unwrap(), c.to_str().unwrap());
    let report = |extra: &[&str]| -> serde_json::Value {
        let out = tmp.path().join("r.json");
        let mut args = vec![m, "--calib", c, "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = qcc(&args);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", stderr(&o));
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
    };
    let base = report(&[]);
    // 3-bit weights really take 3 bits each (the i32 biases stay).
    let w3 = report(&["--weight-bits", "3"]);
    let bias = 4 * (8 + 16 + 48 + 10);
    let w = 200 + 3200 + 3072 + 480;
    assert_eq!(base["totals"]["weight_bytes"], w + bias);
    assert_eq!(
        w3["totals"]["weight_bytes"],
        [200, 3200, 3072, 480]
            .iter()
            .map(|n| (n * 3usize).div_ceil(8))
            .sum::<usize>()
            + bias
    );
    // 4-bit activations: half the bytes (and a smaller arena); 16-bit: twice.
    let act = |r: &serde_json::Value| r["totals"]["activation_bytes"].as_u64().unwrap();
    let arena = |r: &serde_json::Value| r["totals"]["arena_bytes"].as_u64().unwrap();
    let a4 = report(&["--activation-bits", "4"]);
    let a16 = report(&["--activation-bits", "16"]);
    assert_eq!(act(&a4) * 2, act(&base));
    assert_eq!(act(&a16), 2 * act(&base));
    assert!(arena(&a4) < arena(&base) && arena(&base) < arena(&a16));
    // Per-layer overrides by node name.
    let first_conv = base["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["op"] == "conv")
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let prec = tmp.path().join("p.json");
    std::fs::write(&prec, format!("{{{first_conv:?}: {{\"weight_bits\": 2}}}}")).unwrap();
    let mixed = report(&["--precision", prec.to_str().unwrap(), "--scales", "pow2"]);
    let layer = mixed["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == first_conv.as_str())
        .unwrap()
        .clone();
    assert_eq!(layer["weight_bits"], 2);
    assert_eq!(layer["weight_bytes"], 200 * 2 / 8);
    let s = layer["output_scale"].as_f64().unwrap();
    assert_eq!(s, 2f64.powi(s.log2().round() as i32), "pow2 scale {s}");

    assert_user_error(&qcc(&[m, "--weight-bits", "9"]), "--weight-bits");
    assert_user_error(&qcc(&[m, "--activation-bits", "12"]), "expected 4, 8 or 16");
    assert_user_error(&qcc(&[m, "--scales", "log"]), "--scales");
    for (text, needle) in [
        ("{\"nope\": {\"weight_bits\": 4}}", "`nope`"),
        (
            "{\"x\": {\"weight_bits\": 1}}",
            "weight_bits must be an integer in 2..=8",
        ),
        (
            "{\"x\": {\"activation_bits\": 12}}",
            "activation_bits must be 4, 8 or 16",
        ),
        ("{\"x\": {\"bits\": 4}}", "unknown key `bits`"),
        ("[1, 2]", "expected a JSON object"),
        ("{", "not valid JSON"),
    ] {
        std::fs::write(&prec, text).unwrap();
        assert_user_error(
            &qcc(&[
                m,
                "--calib",
                c,
                "--precision",
                prec.to_str().unwrap(),
                "--emit",
                "ir",
            ]),
            needle,
        );
    }
}
