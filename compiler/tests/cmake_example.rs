//! examples/cmake: `qcc_add_model` (cmake/qcc.cmake) configures, builds and runs with cmake
//! for both C targets; the program's outputs on the first sample of lenet_digits equal
//! `qcc --run` bit for bit, and touching the calibration data reruns qcc through the
//! depfile. Prints a SKIPPED line when cmake is missing (CI installs it with
//! tools/hexagon/setup.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn cmake_example_builds_runs_and_matches_qcc_run() {
    if Command::new("cmake").arg("--version").output().is_err() {
        eprintln!("SKIPPED: cmake not found (run tools/hexagon/setup.sh)");
        return;
    }
    let qcc = env!("CARGO_BIN_EXE_qcc");
    let models = root().join("testsuite/models/lenet_digits");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The model and calibration data copied, so touching them is local to the test.
    std::fs::copy(models.join("model.onnx"), d.join("model.onnx")).unwrap();
    std::fs::copy(models.join("calib.npy"), d.join("calib.npy")).unwrap();
    // The first sample: raw f32 for the program, a one-sample .npy for `qcc --run`.
    let input = compiler::npy::read_npy_file(&models.join("input.npy")).unwrap();
    let mut dims = input.shape.dims().to_vec();
    let per = dims[1..].iter().product::<usize>();
    let first = input.as_f32().unwrap()[..per].to_vec();
    dims[0] = 1;
    let raw: Vec<u8> = first.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(d.join("sample.f32"), raw).unwrap();
    let one = ir::Tensor::from_f32(dims, first);
    compiler::npy::write_npy_file(&d.join("sample.npy"), &one).unwrap();
    run(Command::new(qcc)
        .arg(d.join("model.onnx"))
        .arg("--calib")
        .arg(d.join("calib.npy"))
        .arg("--run")
        .arg(d.join("sample.npy"))
        .arg("-o")
        .arg(d.join("want.npz")));
    let want = compiler::npz::read_npz_file(&d.join("want.npz")).unwrap();
    let want: String = want[0]
        .1
        .as_f32()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(k, x)| format!("0 {k} {:08x}\n", x.to_bits()))
        .collect();

    let set_mtime = |t: std::time::SystemTime| {
        let f = std::fs::File::options()
            .write(true)
            .open(d.join("calib.npy"))
            .unwrap();
        f.set_modified(t).unwrap();
    };
    for arch in ["hvx-like", "generic-c"] {
        set_mtime(std::time::SystemTime::now() - std::time::Duration::from_secs(3600));
        let b = d.join(format!("build-{arch}"));
        run(Command::new("cmake")
            .arg("-S")
            .arg(root().join("examples/cmake"))
            .arg("-B")
            .arg(&b)
            .arg(format!("-DQCC_EXECUTABLE={qcc}"))
            .arg(format!("-DQCC_MODEL={}", d.join("model.onnx").display()))
            .arg(format!("-DQCC_CALIB={}", d.join("calib.npy").display()))
            .arg(format!("-DQCC_TARGET_ARCH={arch}")));
        let log = run(Command::new("cmake").arg("--build").arg(&b));
        assert!(log.contains("qcc:"), "{arch}: qcc did not run:\n{log}");
        let got = run(Command::new(b.join("run_model")).arg(d.join("sample.f32")));
        let got: String = got
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string() + "\n")
            .collect();
        assert_eq!(got, want, "{arch}: run_model vs qcc --run");
        // Up to date: no rerun; newer calibration data: qcc reruns (depfile / DEPENDS).
        let log = run(Command::new("cmake").arg("--build").arg(&b));
        assert!(
            !log.contains("qcc:"),
            "{arch}: rebuilt without a change:\n{log}"
        );
        set_mtime(std::time::SystemTime::now());
        let log = run(Command::new("cmake").arg("--build").arg(&b));
        assert!(
            log.contains("qcc:"),
            "{arch}: calib change did not rerun qcc:\n{log}"
        );
    }
}
