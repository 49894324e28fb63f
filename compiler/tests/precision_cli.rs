//! `qcc --precision auto --max-accuracy-drop P`: the search through the command line and
//! its part of `--emit report`.

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

fn assert_user_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr:\n{err}");
    assert!(err.contains(needle), "stderr lacks `{needle}`:\n{err}");
    assert!(!err.contains("panicked"), "panic message:\n{err}");
}

// The lowering takes any weight width; 8-bit activations keep this test independent of the
// 4/16-bit activation lowering.
#[test]
fn auto_precision_report_lists_the_chosen_bits_per_layer() {
    let dir = model("lenet_digits");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.json");
    let (m, c) = (dir.join("model.onnx"), dir.join("calib.npy"));
    let o = qcc(&[
        m.to_str().unwrap(),
        "--calib",
        c.to_str().unwrap(),
        "--precision",
        "auto",
        "--max-accuracy-drop",
        "1",
        "--max-search-evals",
        "12",
        "--search-activation-bits",
        "8",
        "--emit",
        "report",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("precision search"), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let p = &r["precision"];
    assert_eq!(p["satisfied"], true, "{p}");
    assert!(p["evaluations"].as_u64().unwrap() <= 12, "{p}");
    assert!(p["agreement_percent"].as_f64().unwrap() >= 99.0, "{p}");
    let (chosen, all8) = (
        p["totals"]["memory_bytes"].as_u64().unwrap(),
        p["all_8bit_totals"]["memory_bytes"].as_u64().unwrap(),
    );
    assert!(chosen < all8, "{p}");
    // The per-layer entries of the report carry the chosen weight bits.
    let chosen_bits: Vec<(String, u64)> = p["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| Some((l["name"].as_str()?.to_string(), l["weight_bits"].as_u64()?)))
        .collect();
    assert_eq!(chosen_bits.len(), 4, "{p}");
    assert!(chosen_bits.iter().any(|(_, b)| *b < 8), "{p}");
    for (name, bits) in &chosen_bits {
        let layer = r["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no layer {name}"));
        assert_eq!(layer["weight_bits"].as_u64(), Some(*bits), "{layer}");
    }
    // The report's own totals agree with the search's cost model.
    assert_eq!(
        r["totals"]["weight_bytes"], p["totals"]["weight_bytes"],
        "{r}"
    );
    assert_eq!(
        r["totals"]["activation_bytes"], p["totals"]["activation_bytes"],
        "{r}"
    );
    // The search's memory is weights plus the arena the emitted program plans.
    assert_eq!(
        r["totals"]["arena_bytes"], p["totals"]["arena_bytes"],
        "{r}"
    );
    assert_eq!(
        p["totals"]["memory_bytes"].as_u64(),
        Some(
            p["totals"]["weight_bytes"].as_u64().unwrap()
                + p["totals"]["arena_bytes"].as_u64().unwrap()
        ),
        "{p}"
    );
    // The default logit SQNR floor: 15 dB at a 1-point drop, at most all-8-bit's SQNR.
    let floor = p["min_logit_sqnr_db"].as_f64().expect("a default floor");
    assert!(floor <= 15.0, "{p}");
    if let Some(s) = p["logit_sqnr_db"].as_f64() {
        assert!(s >= floor, "{p}");
    }
}

#[test]
fn auto_precision_option_errors() {
    let dir = model("lenet_digits");
    let (m, c) = (dir.join("model.onnx"), dir.join("calib.npy"));
    let (m, c) = (m.to_str().unwrap(), c.to_str().unwrap());
    assert_user_error(
        &qcc(&[m, "--precision", "auto", "--emit", "ir"]),
        "--precision auto needs",
    );
    assert_user_error(
        &qcc(&[
            m,
            "--calib",
            c,
            "--precision",
            "auto",
            "--max-accuracy-drop",
            "120",
        ]),
        "--max-accuracy-drop",
    );
    assert_user_error(
        &qcc(&[
            m,
            "--calib",
            c,
            "--precision",
            "auto",
            "--search-weight-bits",
            "1,8",
        ]),
        "--search-weight-bits",
    );
    assert_user_error(
        &qcc(&[
            m,
            "--calib",
            c,
            "--precision",
            "auto",
            "--search-activation-bits",
            "6",
        ]),
        "--search-activation-bits",
    );
}
