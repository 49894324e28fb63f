//! The hvx-like C backend on every test model: for each model of `testsuite/models` that
//! lowers, the emitted C built for the host (gcc, strict C99) and for Hexagon HVX (clang-19,
//! freestanding, no compiler runtime) run on qemu-hexagon must both equal
//! `ir::interp::int::run_int` bit for bit on the first 8 samples of `input.npy`, through
//! `qcc_<name>_run_f32`. The Hexagon half prints a SKIPPED line when clang-19 or
//! qemu-hexagon is missing (CI installs them with tools/hexagon/setup.sh).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use backends::hvx::emit_hvx_c;

/// Models whose integer program has an op no C backend implements yet (none since the
/// portable kernels gained bilinear resize and softmax).
const KNOWN_UNSUPPORTED: [&str; 0] = [];

fn hexdir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/hexagon")
}

fn le_f32(ts: &[ir::Tensor]) -> Vec<u8> {
    ts.iter()
        .flat_map(|t| t.as_f32().unwrap().iter().flat_map(|x| x.to_le_bytes()))
        .collect()
}

/// Builds `d/net.c` with the driver for the host and (when `hexagon`) for Hexagon; returns
/// the executables.
fn build(d: &Path, hexagon: bool) -> (PathBuf, Option<PathBuf>) {
    let hx = hexdir();
    let defs = [
        "-DQ_NAME=net".to_string(),
        "-DQ_UNAME=NET".to_string(),
        "-DQ_HEADER=\"net.h\"".to_string(),
        format!("-I{}", d.display()),
        format!("-I{}", hx.display()),
    ];
    common::check(
        Command::new("gcc")
            .args([
                "-O2",
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-c",
                "-o",
            ])
            .arg(d.join("net.o"))
            .arg(d.join("net.c")),
    );
    let host = d.join("host");
    common::check(
        Command::new("gcc")
            .args(["-O2", "-D_POSIX_C_SOURCE=200809L"])
            .args(&defs)
            .arg("-o")
            .arg(&host)
            .arg(hx.join("driver.c"))
            .arg(d.join("net.o")),
    );
    let hex = hexagon.then(|| {
        let elf = d.join("net_hvx.elf");
        common::check(
            Command::new("clang-19")
                .args([
                    "--target=hexagon-unknown-linux-musl",
                    "-mv67",
                    "-mhvx=v66",
                    "-mhvx-length=128b",
                    "-O2",
                    "-nostdlib",
                    "-ffreestanding",
                    "-static",
                    "-fno-builtin",
                ])
                .args(&defs)
                .arg("-o")
                .arg(&elf)
                .arg(hx.join("driver.c"))
                .arg(d.join("net.c")),
        );
        elf
    });
    (host, hex)
}

#[test]
fn every_test_model_hvx_c_matches_run_int_on_host_and_hexagon() {
    let hexagon = common::have("clang-19") && common::have("qemu-hexagon");
    if !hexagon {
        eprintln!(
            "SKIPPED: Hexagon half (clang-19 or qemu-hexagon missing; run tools/hexagon/setup.sh); host half runs"
        );
    }
    let mut failures = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut checked = 0;
    for dir in common::model_dirs() {
        let name = common::name_of(&dir);
        let g = match common::compile_model(&dir, &["--target", "hvx-like"]) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("{name}: does not lower ({e}); not tested");
                continue;
            }
        };
        let (c, h) = match emit_hvx_c(&g, "net") {
            Ok(t) => t,
            Err(e) if KNOWN_UNSUPPORTED.contains(&name.as_str()) => {
                eprintln!("{name}: known unsupported: {e}");
                continue;
            }
            Err(e) => {
                failures.push(format!("{name}: emit: {e}"));
                continue;
            }
        };
        if KNOWN_UNSUPPORTED.contains(&name.as_str()) {
            failures.push(format!("{name}: emits now; drop it from KNOWN_UNSUPPORTED"));
        }
        // Opset and packaging variants lower to the same program: build it once.
        if !seen.insert(c.clone()) {
            continue;
        }
        let smp = common::samples(&g, &dir, 8);
        let mut input = Vec::new();
        let mut want = Vec::new();
        for s in &smp {
            input.extend(le_f32(s));
            want.extend(le_f32(&ir::interp::int::run_int(&g, s).unwrap()));
        }
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("net.c"), &c).unwrap();
        std::fs::write(d.join("net.h"), &h).unwrap();
        let (host, hex) = build(d, hexagon);
        let n = smp.len().to_string();
        let got = common::run_with_input(Command::new(&host).args(["f", &n]), &input);
        if got != want {
            failures.push(format!("{name}: host build differs from run_int"));
        }
        if let Some(elf) = hex {
            let got = common::run_with_input(
                Command::new("qemu-hexagon").arg(&elf).args(["f", &n]),
                &input,
            );
            if got != want {
                failures.push(format!("{name}: Hexagon build differs from run_int"));
            }
        }
        checked += 1;
        eprintln!("{name}: ok ({} samples)", smp.len());
    }
    assert!(checked > 0, "no model was checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Mixed precision (a `--precision` file: 2..8-bit weights, 4/8/16-bit activations, see
/// `common::mixed_precision_json`) and `--scales pow2` programs on two test models: the
/// hvx-like C (whose native kernels take 8-bit operands and hand the other formats to the
/// portable fallback) on the host and on qemu-hexagon equals `run_int`.
#[test]
fn mixed_precision_and_pow2_hvx_c_match_run_int_on_host_and_hexagon() {
    let hexagon = common::have("clang-19") && common::have("qemu-hexagon");
    if !hexagon {
        eprintln!("SKIPPED: Hexagon half (clang-19 or qemu-hexagon missing); host half runs");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for model in ["fashion_cnn", "lenet_digits"] {
        let dir = root.join(model);
        let prec = tmp.path().join(format!("{model}.json"));
        std::fs::write(&prec, common::mixed_precision_json(&dir)).unwrap();
        let prec = prec.to_string_lossy().to_string();
        let configs: [&[&str]; 2] = [
            &["--target", "hvx-like", "--precision", &prec],
            &[
                "--target",
                "hvx-like",
                "--scales",
                "pow2",
                "--weight-bits",
                "4",
            ],
        ];
        for extra in configs {
            let what = format!("{model} {extra:?}");
            let g = common::compile_model(&dir, extra).unwrap_or_else(|e| panic!("{what}: {e}"));
            let (c, h) = emit_hvx_c(&g, "net").unwrap_or_else(|e| panic!("{what}: emit: {e}"));
            let smp = common::samples(&g, &dir, 4);
            let mut input = Vec::new();
            let mut want = Vec::new();
            for s in &smp {
                input.extend(le_f32(s));
                want.extend(le_f32(&ir::interp::int::run_int(&g, s).unwrap()));
            }
            let sub = tempfile::tempdir().unwrap();
            let d = sub.path();
            std::fs::write(d.join("net.c"), &c).unwrap();
            std::fs::write(d.join("net.h"), &h).unwrap();
            let (host, hex) = build(d, hexagon);
            let n = smp.len().to_string();
            let got = common::run_with_input(Command::new(&host).args(["f", &n]), &input);
            if got != want {
                failures.push(format!("{what}: host build differs from run_int"));
            }
            if let Some(elf) = hex {
                let got = common::run_with_input(
                    Command::new("qemu-hexagon").arg(&elf).args(["f", &n]),
                    &input,
                );
                if got != want {
                    failures.push(format!("{what}: Hexagon build differs from run_int"));
                }
            }
            eprintln!("{what}: checked");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
