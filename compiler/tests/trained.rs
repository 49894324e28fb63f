//! `--calibration trained` end to end: the learned thresholds beat minmax on the
//! calibration batch of the depthwise (MobileNet-style) test model, through the integer
//! program. The batch is cut to 16 samples to keep the search fast in debug builds.

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

/// Runs qcc with `extra` on `input` and returns the flattened first output.
fn run(m: &Path, input: &Path, out: &Path, extra: &[&str]) -> Vec<f32> {
    let mut args = vec![
        m.to_str().unwrap(),
        "--run",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = qcc(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let arrays = compiler::npz::read_npz_file(out).unwrap();
    arrays[0].1.as_f32().unwrap().to_vec()
}

#[test]
fn trained_thresholds_beat_minmax_on_the_calibration_batch() {
    let dir = model("fashion_mobilenet");
    let tmp = tempfile::tempdir().unwrap();
    let m = dir.join("model.onnx");
    let full = compiler::npy::read_npy_file(&dir.join("calib.npy")).unwrap();
    let mut dims = full.shape.dims().to_vec();
    let per = dims[1..].iter().product::<usize>();
    dims[0] = 16;
    let cut = ir::Tensor::from_f32(dims, full.as_f32().unwrap()[..16 * per].to_vec());
    let c = tmp.path().join("calib16.npy");
    compiler::npy::write_npy_file(&c, &cut).unwrap();
    let out = tmp.path().join("o.npz");
    let calib = c.to_str().unwrap();
    let float = run(&m, &c, &out, &["--float"]);
    let minmax = run(&m, &c, &out, &["--calib", calib, "--calibration", "minmax"]);
    let trained = run(
        &m,
        &c,
        &out,
        &["--calib", calib, "--calibration", "trained"],
    );
    let sqnr = |q: &[f32]| compiler::report::sqnr_db(&float, q);
    let (s_mm, s_tr) = (sqnr(&minmax), sqnr(&trained));
    assert_ne!(minmax, trained, "training changed nothing");
    // On these 16 samples the fake-quantized error the search minimizes drops by about 2 dB;
    // the integer program gains about 0.6 dB (it rounds differently in places).
    assert!(
        s_tr > s_mm + 0.3,
        "trained logit SQNR {s_tr:.2} dB vs minmax {s_mm:.2} dB"
    );

    // An unknown method lists `trained`.
    let o = qcc(&[
        m.to_str().unwrap(),
        "--calib",
        calib,
        "--calibration",
        "bogus",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("mse or trained"));
}
