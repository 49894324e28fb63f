//! `-o report.html` opened in headless Chromium (Debian's `chromium`): the rendered DOM
//! holds one SQNR bar per layer and a histogram with two threshold lines per quantized
//! activation, and a screenshot is not blank and shows the bar colour.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn qcc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qcc"))
        .args(args)
        .output()
        .expect("run qcc")
}

fn lenet() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testsuite/models/lenet_digits")
}

/// Runs chromium headless on `page` with `extra` arguments and a private profile directory.
fn chromium(page: &Path, profile: &Path, extra: &[&str]) -> Output {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output();
    match out {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run chromium ({e}): the HTML report test needs Debian's chromium; \
             run tools/hexagon/setup.sh to install it"
        ),
    }
}

/// Decodes a PNG into RGB triples.
fn rgb_pixels(path: &Path) -> Vec<[u8; 3]> {
    let decoder = png::Decoder::new(std::fs::File::open(path).expect("open screenshot"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "8-bit screenshot");
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    buf[..info.buffer_size()]
        .chunks_exact(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect()
}

#[test]
fn html_report_renders_its_plots_in_headless_chromium() {
    let dir = lenet();
    let tmp = tempfile::tempdir().unwrap();
    let (m, c) = (dir.join("model.onnx"), dir.join("calib.npy"));
    let (json, html) = (tmp.path().join("r.json"), tmp.path().join("r.html"));
    for out in [&json, &html] {
        let o = qcc(&[
            m.to_str().unwrap(),
            "--calib",
            c.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let layers = r["layers"].as_array().unwrap().len();
    let acts = r["activations"].as_array().unwrap().len();
    assert!(
        layers >= 4 && acts >= 4,
        "{layers} layers, {acts} activations"
    );
    assert!(r["totals"]["mult_cost"].as_u64().unwrap() > 0);
    assert_eq!(
        r["totals"]["baseline_8bit"]["mult_cost"],
        r["totals"]["macs"].as_u64().unwrap() * 64
    );

    // The DOM as Chromium parsed and rendered it.
    let profile = tmp.path().join("profile");
    let o = chromium(&html, &profile, &["--dump-dom"]);
    assert!(
        o.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dom = String::from_utf8_lossy(&o.stdout);
    let n = |s: &str| dom.matches(s).count();
    assert_eq!(n("class=\"sqnr-bar\""), layers, "one SQNR bar per layer");
    assert!(n("class=\"bits-bar ") >= layers, "bit-width bars");
    assert_eq!(n("class=\"hist\""), acts, "one histogram per activation");
    assert_eq!(n("class=\"threshold\""), 2 * acts, "two thresholds each");
    assert!(n("class=\"hist-bin\"") >= acts, "histogram bins");
    assert!(dom.contains("Weight bytes"), "totals panel");

    // A screenshot: not blank, and the SQNR bars' colour is on it.
    let shot = tmp.path().join("shot.png");
    let o = chromium(
        &html,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,2000",
        ],
    );
    assert!(
        o.status.success() && shot.exists(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let px = rgb_pixels(&shot);
    assert!(px.len() >= 1000 * 1000, "screenshot of {} pixels", px.len());
    let non_white = px.iter().filter(|p| p.iter().any(|&c| c < 240)).count();
    let share = non_white as f64 / px.len() as f64;
    assert!(share > 0.02, "only {:.2}% non-white pixels", 100.0 * share);
    // compiler::report_html::SQNR_COLOUR, #1f77b4.
    let bar = [0x1f, 0x77, 0xb4];
    let near = |p: &[u8; 3]| p.iter().zip(bar).all(|(&a, b)| a.abs_diff(b) <= 6);
    let bar_px = px.iter().filter(|p| near(p)).count();
    assert!(bar_px > 2000, "{bar_px} pixels of the SQNR bar colour");
    assert_eq!(compiler::report_html::SQNR_COLOUR, "#1f77b4");
}
