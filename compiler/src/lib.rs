//! The qcc compiler library: ONNX import, `.npy`/`.npz` data, the pipeline and the CLI
//! driver. The `qcc` binary is a thin wrapper over [`driver::main_with_args`].

pub mod build;
pub mod driver;
pub mod error;
pub mod export;
pub mod import;
pub mod npy;
pub mod npz;
pub mod precision;
pub mod report;
pub mod report_html;
pub mod samples;

pub use error::CompileError;
