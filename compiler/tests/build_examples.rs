//! The build-system examples: examples/cmake (`qcc_add_model` in cmake/qcc.cmake) and
//! examples/make (a Makefile using `--depfile`) configure, build and run for both C targets;
//! the program's outputs on the first sample of lenet_digits equal `qcc --run` bit for bit;
//! an up-to-date build does not rerun qcc and touching the calibration data does (depfile).
//! (examples/buildrs, the build.rs use of the library API, is a workspace member with its
//! own test.) The cmake test prints a SKIPPED line when cmake is missing (CI installs it with
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

/// A temporary directory with a copy of lenet_digits' model and calibration data (so
/// touching them is local to the test), its first sample as raw f32 (`sample.f32`), and the
/// expected program output: `qcc --run` on that sample, one `0 <index> <f32 bits>` line per
/// value.
struct Fixture {
    dir: tempfile::TempDir,
    want: String,
}

impl Fixture {
    fn new() -> Fixture {
        let qcc = env!("CARGO_BIN_EXE_qcc");
        let models = root().join("testsuite/models/lenet_digits");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::copy(models.join("model.onnx"), d.join("model.onnx")).unwrap();
        std::fs::copy(models.join("calib.npy"), d.join("calib.npy")).unwrap();
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
        Fixture { dir, want }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sets the calibration file's modification time to `ago` before now.
    fn touch_calib(&self, ago: std::time::Duration) {
        let f = std::fs::File::options()
            .write(true)
            .open(self.path("calib.npy"))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() - ago).unwrap();
    }

    /// Runs the built program on the sample and compares with `qcc --run`.
    fn check_program(&self, program: &Path, what: &str) {
        let got = run(Command::new(program).arg(self.path("sample.f32")));
        let got: String = got
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string() + "\n")
            .collect();
        assert_eq!(got, self.want, "{what}: run_model vs qcc --run");
    }

    /// `build()` three times: the first runs qcc; the second (nothing changed) must not; the
    /// third, after the calibration data became newer, must.
    fn check_rebuilds(&self, what: &str, build: impl Fn() -> String) {
        let log = build();
        assert!(
            !log.contains("qcc:"),
            "{what}: rebuilt without a change:\n{log}"
        );
        self.touch_calib(std::time::Duration::ZERO);
        let log = build();
        assert!(
            log.contains("qcc:"),
            "{what}: calib change did not rerun qcc:\n{log}"
        );
    }
}

const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

#[test]
fn cmake_example_builds_runs_and_matches_qcc_run() {
    if Command::new("cmake").arg("--version").output().is_err() {
        eprintln!("SKIPPED: cmake not found (run tools/hexagon/setup.sh)");
        return;
    }
    let qcc = env!("CARGO_BIN_EXE_qcc");
    let f = Fixture::new();
    for arch in ["hvx-like", "generic-c"] {
        f.touch_calib(HOUR);
        let b = f.path(&format!("build-{arch}"));
        run(Command::new("cmake")
            .arg("-S")
            .arg(root().join("examples/cmake"))
            .arg("-B")
            .arg(&b)
            .arg(format!("-DQCC_EXECUTABLE={qcc}"))
            .arg(format!("-DQCC_MODEL={}", f.path("model.onnx").display()))
            .arg(format!("-DQCC_CALIB={}", f.path("calib.npy").display()))
            .arg(format!("-DQCC_TARGET_ARCH={arch}")));
        let build = || run(Command::new("cmake").arg("--build").arg(&b));
        let log = build();
        assert!(log.contains("qcc:"), "{arch}: qcc did not run:\n{log}");
        f.check_program(&b.join("run_model"), &format!("cmake {arch}"));
        f.check_rebuilds(&format!("cmake {arch}"), build);
    }
}

#[test]
fn make_example_builds_runs_and_matches_qcc_run() {
    let qcc = env!("CARGO_BIN_EXE_qcc");
    let f = Fixture::new();
    for arch in ["hvx-like", "generic-c"] {
        f.touch_calib(HOUR);
        let b = f.path(&format!("make-{arch}"));
        let build = || {
            run(Command::new("make")
                .arg("-C")
                .arg(root().join("examples/make"))
                .arg(format!("QCC={qcc}"))
                .arg(format!("MODEL={}", f.path("model.onnx").display()))
                .arg(format!("CALIB={}", f.path("calib.npy").display()))
                .arg(format!("TARGET_ARCH={arch}"))
                .arg(format!("BUILD={}", b.display()))
                .arg("CFLAGS=-std=c99 -O2 -Wall -Wextra -Werror -pedantic"))
        };
        let log = build();
        assert!(log.contains("qcc:"), "{arch}: qcc did not run:\n{log}");
        f.check_program(&b.join("run_model"), &format!("make {arch}"));
        let dep = std::fs::read_to_string(b.join("net.d")).unwrap();
        assert!(dep.contains("calib.npy"), "{dep}");
        f.check_rebuilds(&format!("make {arch}"), build);
    }
}
