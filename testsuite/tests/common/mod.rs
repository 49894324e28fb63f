//! Helpers shared by the whole-model backend tests: the test models, their compilation
//! through `compiler::driver::compile` and their bundled samples.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Parser;
use ir::Graph;

/// The model directories of `testsuite/models` with a model and a calibration batch, sorted.
pub fn model_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("model.onnx").exists() && p.join("calib.npy").exists())
        .collect();
    dirs.sort();
    dirs
}

/// The directory's name.
pub fn name_of(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().to_string()
}

/// `qcc MODEL --calib calib.npy [extra]`: the integer program.
pub fn compile_model(dir: &Path, extra: &[&str]) -> Result<Graph, String> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "qcc".into(),
        dir.join("model.onnx").into(),
        "--calib".into(),
        dir.join("calib.npy").into(),
    ];
    args.extend(extra.iter().map(|s| s.into()));
    let cli = compiler::driver::Cli::try_parse_from(args).map_err(|e| e.to_string())?;
    compiler::driver::compile(&cli)
        .map(|c| c.program)
        .map_err(|e| e.to_string())
}

/// The first `n` samples of the directory's `input.npy`, split per graph input.
pub fn samples(g: &Graph, dir: &Path, n: usize) -> Vec<Vec<ir::Tensor>> {
    let input = compiler::npy::read_npy_file(&dir.join("input.npy")).unwrap();
    let smp = compiler::samples::split_samples(g, &[input]).unwrap();
    smp.into_iter().take(n).collect()
}

/// Whether `tool --version` runs.
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd` with `input` on stdin; panics with its output when it fails.
pub fn run_with_input(cmd: &mut Command, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `cmd`; panics with its output when it fails.
pub fn check(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `--precision` JSON for the model of `dir` that mixes formats: the `i`-th conv/gemm (in
/// topological order) gets weight bits `[4, 3, 6, 8][i % 4]` and its result (and that of a
/// ReLU/Clip fused into it) activation bits `[16, 4, 8, 16][i % 4]`.
pub fn mixed_precision_json(dir: &Path) -> String {
    let model = dir.join("model.onnx");
    let cli = compiler::driver::Cli::try_parse_from([
        std::ffi::OsString::from("qcc"),
        model.clone().into(),
    ])
    .unwrap();
    let mut g = compiler::driver::load_model(&model, Default::default()).unwrap();
    compiler::driver::float_pipeline(&mut g, &cli).unwrap();
    let mut entries = Vec::new();
    let mut i = 0;
    for n in g.topo_order() {
        let node = g.node(n);
        if !matches!(node.op, ir::Op::Conv(_) | ir::Op::Gemm(_)) {
            continue;
        }
        let (wb, ab) = ([4, 3, 6, 8][i % 4], [16, 4, 8, 16][i % 4]);
        i += 1;
        entries.push(format!(
            "{:?}: {{\"weight_bits\": {wb}, \"activation_bits\": {ab}}}",
            node.name
        ));
        let users = g.users(node.outputs[0]);
        if let [(u, _)] = users.as_slice() {
            let un = g.node(*u);
            if matches!(un.op, ir::Op::Relu | ir::Op::Clip(_)) {
                entries.push(format!("{:?}: {{\"activation_bits\": {ab}}}", un.name));
            }
        }
    }
    format!("{{{}}}", entries.join(", "))
}
