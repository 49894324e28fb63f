//! The library API for build systems: compile a model from a Cargo build script (`build.rs`)
//! or any other Rust build tool, the way `qcc_add_model` does for CMake.
//!
//! ```no_run
//! // build.rs of a crate that embeds a model as a Rust module:
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("lenet.rs");
//! let deps = compiler::build::Model::new("model.onnx")
//!     .calib("calib.npy")
//!     .emit_rust(&out)
//!     .unwrap_or_else(|e| panic!("qcc: {}", e.render_plain()));
//! compiler::build::rerun_if_changed(&deps);
//! // src/main.rs: include!(concat!(env!("OUT_DIR"), "/lenet.rs")); // defines `mod lenet`
//! ```
//!
//! Every method is a thin layer over the command line ([`crate::driver::Cli`]), so a build
//! script gets exactly what `qcc` gives: the same options, the same diagnostics (as
//! [`CompileError`]) and byte-identical outputs for the same inputs.

use crate::CompileError;
use crate::driver::{self, Cli};
use clap::Parser;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A model to compile, with the options of the command line.
#[derive(Clone, Debug)]
pub struct Model {
    model: PathBuf,
    args: Vec<OsString>,
}

impl Model {
    /// The ONNX (or `.qir`) model at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Model {
        Model {
            model: path.into(),
            args: Vec::new(),
        }
    }

    /// The calibration batch (`--calib`).
    pub fn calib(self, path: impl AsRef<Path>) -> Model {
        self.arg("--calib").arg(path.as_ref())
    }

    /// The target (`--target hvx-like | generic-c`).
    pub fn target(self, target: &str) -> Model {
        self.arg("--target").arg(target)
    }

    /// The program name (`--name`; the emitted C API is `qcc_<name>_run`).
    pub fn name(self, name: &str) -> Model {
        self.arg("--name").arg(name)
    }

    /// Any other command-line argument, e.g. `.arg("--calibration").arg("entropy")`.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Model {
        self.args.push(arg.into());
        self
    }

    fn cli(&self, emit: &str, out: &Path) -> Result<Cli, CompileError> {
        let mut argv: Vec<OsString> = vec!["qcc".into(), self.model.clone().into_os_string()];
        argv.extend(self.args.iter().cloned());
        argv.extend(["--emit".into(), emit.into(), "-o".into(), out.into()]);
        Cli::try_parse_from(argv).map_err(|e| CompileError::Usage(e.to_string()))
    }

    fn emit(&self, emit: &str, out: &Path) -> Result<Vec<PathBuf>, CompileError> {
        let cli = self.cli(emit, out)?;
        driver::run(&cli)?;
        Ok(driver::dependencies(&cli))
    }

    /// Writes the Rust host simulation to `out` as one item `pub mod <name> { ... }` (name:
    /// [`Model::name`], else the file stem), ready for `include!` from a crate that embeds
    /// it (a file included with `include!` may not start with inner attributes, which the
    /// standalone module of `qcc --emit rust` has). Returns the files it read (model, external
    /// data, calibration batch) for [`rerun_if_changed`].
    pub fn emit_rust(&self, out: &Path) -> Result<Vec<PathBuf>, CompileError> {
        let deps = self.emit("rust", out)?;
        let module = std::fs::read_to_string(out).map_err(|e| CompileError::io(out, e))?;
        let cli = self.cli("rust", out)?;
        let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("net");
        let name = backends::sanitize_name(cli.name.as_deref().unwrap_or(stem));
        let wrapped = format!("/// The model compiled by qcc.\npub mod {name} {{\n{module}}}\n");
        std::fs::write(out, wrapped).map_err(|e| CompileError::io(out, e))?;
        Ok(deps)
    }

    /// Writes `out` with extension `.c` and its header `.h`; returns the files it read.
    pub fn emit_c(&self, out: &Path) -> Result<Vec<PathBuf>, CompileError> {
        self.emit("c", out)
    }
}

/// The `cargo:rerun-if-changed` lines for `deps` (what a build script prints).
pub fn rerun_if_changed_lines(deps: &[PathBuf]) -> String {
    deps.iter()
        .map(|p| format!("cargo:rerun-if-changed={}\n", p.display()))
        .collect()
}

/// Prints [`rerun_if_changed_lines`] to stdout, so Cargo reruns the build script when the
/// model or the calibration data change.
pub fn rerun_if_changed(deps: &[PathBuf]) {
    print!("{}", rerun_if_changed_lines(deps));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testsuite/models")
    }

    #[test]
    fn emit_rust_writes_the_module_and_returns_the_inputs_read() {
        let m = models().join("lenet_digits");
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("lenet.rs");
        let deps = Model::new(m.join("model.onnx"))
            .calib(m.join("calib.npy"))
            .emit_rust(&out)
            .unwrap();
        assert_eq!(deps, vec![m.join("model.onnx"), m.join("calib.npy")]);
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("pub fn run_f32("), "{}", &text[..200]);
        assert!(text.starts_with("/// The model compiled by qcc.\npub mod lenet {\n"));
        let lines = rerun_if_changed_lines(&deps);
        assert_eq!(lines.lines().count(), 2);
        assert!(lines.starts_with("cargo:rerun-if-changed="));
    }

    #[test]
    fn emit_c_writes_source_and_header_with_the_name() {
        let m = models().join("lenet_digits");
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("net.c");
        Model::new(m.join("model.onnx"))
            .calib(m.join("calib.npy"))
            .target("generic-c")
            .name("digits")
            .emit_c(&out)
            .unwrap();
        let h = std::fs::read_to_string(tmp.path().join("net.h")).unwrap();
        assert!(h.contains("qcc_digits_run"), "{h}");
    }

    #[test]
    fn bad_options_and_missing_files_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("x.rs");
        let e = Model::new("nonexistent.onnx")
            .calib("c.npy")
            .emit_rust(&out)
            .unwrap_err();
        assert!(e.render_plain().contains("nonexistent.onnx"), "{e}");
        let e = Model::new(models().join("lenet_digits/model.onnx"))
            .target("tpu")
            .emit_rust(&out)
            .unwrap_err();
        assert!(e.to_string().contains("tpu"), "{e}");
    }
}
