//! ONNX backend node tests (written out of the `onnx` wheel by tools/onnx-node-tests/gen.py).
//!
//! `testsuite/onnx-node/allowlist.txt` names every case of a supported op: `pass` cases must
//! import, verify, run on the float interpreter and match the expected outputs within
//! `1e-4 * max|expected| + 1e-5`; `exclude` cases say why not. Inputs marked `const` or
//! `param` in a case's `inputs.txt` are bound as import-time constants (the IR has static
//! shapes and constant weights); `data` inputs are runtime inputs.

use compiler::import::onnx::{ImportOptions, import_model_bytes, proto, tensor_from_proto};
use prost::Message;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("onnx-node")
}

fn read_pb(path: &Path) -> proto::TensorProto {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    proto::TensorProto::decode(bytes.as_slice())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs one case; `Err` says what went wrong.
fn run_case(dir: &Path) -> Result<(), String> {
    let model = std::fs::read(dir.join("model.onnx")).map_err(|e| e.to_string())?;
    let roles = std::fs::read_to_string(dir.join("inputs.txt")).map_err(|e| e.to_string())?;
    for set in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let set = set.map_err(|e| e.to_string())?.path();
        if !set.is_dir() {
            continue;
        }
        let mut opts = ImportOptions {
            input_shapes: BTreeMap::new(),
            base_dir: Some(dir.to_path_buf()),
            constant_inputs: BTreeMap::new(),
        };
        let mut runtime = Vec::new();
        for line in roles.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [idx, name, role] = f[..] else {
                return Err(format!("bad inputs.txt line `{line}`"));
            };
            let pb = read_pb(&set.join(format!("input_{idx}.pb")));
            if role == "data" {
                runtime.push(tensor_from_proto(&pb, None).map_err(|e| e.render_plain())?);
            } else {
                opts.constant_inputs.insert(name.to_string(), pb);
            }
        }
        let g = import_model_bytes(&model, &opts).map_err(|e| e.render_plain())?;
        ir::verifier::verify(&g).map_err(|e| e.render_annotated(&g))?;
        let outs = ir::interp::run_float(&g, &runtime).map_err(|e| e.to_string())?;
        for (k, got) in outs.iter().enumerate() {
            let want = tensor_from_proto(&read_pb(&set.join(format!("output_{k}.pb"))), None)
                .map_err(|e| e.render_plain())?;
            if got.shape != want.shape {
                return Err(format!(
                    "output {k}: shape {} != expected {}",
                    got.shape, want.shape
                ));
            }
            let (g, w) = (got.as_f32().unwrap_or(&[]), want.as_f32().unwrap_or(&[]));
            let max_ref = w.iter().fold(0f32, |m, x| m.max(x.abs()));
            let tol = 1e-4 * max_ref + 1e-5;
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                let bad = if b.is_nan() {
                    !a.is_nan()
                } else {
                    (a - b).abs() > tol
                };
                if bad {
                    return Err(format!(
                        "output {k}[{i}]: got {a}, expected {b} (tol {tol})"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn onnx_node_tests() {
    let list = std::fs::read_to_string(root().join("allowlist.txt")).expect("allowlist.txt");
    let mut failures = Vec::new();
    let (mut passed, mut excluded) = (0, 0);
    let mut listed = std::collections::BTreeSet::new();
    for line in list.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (tag, case) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        listed.insert(case.to_string());
        match tag {
            "pass" => match run_case(&root().join(case)) {
                Ok(()) => passed += 1,
                Err(e) => failures.push(format!("{case}: {e}")),
            },
            "exclude" => {
                assert!(line.contains('#'), "exclude without a reason: {line}");
                excluded += 1;
            }
            _ => panic!("bad allowlist line: {line}"),
        }
    }
    // Every case folder is listed, so a new case cannot be silently skipped.
    for e in std::fs::read_dir(root()).expect("onnx-node dir") {
        let e = e.expect("dir entry");
        if e.path().is_dir() {
            let name = e.file_name().to_string_lossy().to_string();
            assert!(
                listed.contains(&name),
                "case {name} has files but no allowlist line"
            );
        }
    }
    eprintln!(
        "onnx node tests: {passed} passed, {excluded} excluded, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(passed >= 200, "only {passed} cases ran");
}
