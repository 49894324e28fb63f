//! Compiles the bundled LeNet (testsuite/models/lenet_digits) with its calibration batch into
//! `$OUT_DIR/lenet.rs`, the Rust host simulation of the integer program, through the qcc
//! library API (`compiler::build`). Cargo reruns this when the model or the batch change.

use std::path::{Path, PathBuf};

fn main() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testsuite/models");
    let model = models.join("lenet_digits");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("lenet.rs");
    let deps = compiler::build::Model::new(model.join("model.onnx"))
        .calib(model.join("calib.npy"))
        .emit_rust(&out)
        .unwrap_or_else(|e| panic!("qcc failed:\n{}", e.render_plain()));
    compiler::build::rerun_if_changed(&deps);
}
