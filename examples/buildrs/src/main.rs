//! Example: a model compiled by qcc from `build.rs` (see there) and embedded as a Rust
//! module. `cargo run -p qcc-example-buildrs -- SAMPLE.f32` classifies one digit given as
//! 16x16 raw little-endian f32 values in 0..1 (the layout of testsuite/models/lenet_digits).

// Defines `mod lenet` (see `compiler::build::Model::emit_rust`).
include!(concat!(env!("OUT_DIR"), "/lenet.rs"));

/// Pixels of one input (1x1x16x16).
const PIXELS: usize = 256;

/// The index of the largest logit.
fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: qcc-example-buildrs SAMPLE.f32 (256 little-endian f32 values)");
        std::process::exit(2);
    };
    let sample: Vec<f32> = match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == PIXELS * 4 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Ok(bytes) => {
            eprintln!(
                "{path}: expected {} bytes ({PIXELS} f32), found {}",
                PIXELS * 4,
                bytes.len()
            );
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let logits = lenet::run_f32(&[&sample]);
    println!("class {} (logits {:?})", argmax(&logits[0]), logits[0]);
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The embedded module equals the integer interpreter on the bundled test inputs.
    #[test]
    fn embedded_module_matches_the_integer_interpreter() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testsuite/models/lenet_digits");
        let cli = <compiler::driver::Cli as clap::Parser>::try_parse_from([
            "qcc".as_ref(),
            dir.join("model.onnx").as_os_str(),
            "--calib".as_ref(),
            dir.join("calib.npy").as_os_str(),
        ])
        .expect("valid options");
        let c = compiler::driver::compile(&cli).expect("compiles");
        let input = compiler::npy::read_npy_file(&dir.join("input.npy")).expect("input.npy");
        let x = input.as_f32().expect("f32 input");
        for sample in x.chunks_exact(super::PIXELS) {
            let t = ir::Tensor::from_f32(vec![1, 1, 16, 16], sample.to_vec());
            let want = ir::interp::int::run_int(&c.program, &[t]).expect("runs");
            let got = super::lenet::run_f32(&[sample]);
            assert_eq!(got[0], want[0].as_f32().expect("f32 output").to_vec());
        }
    }
}
