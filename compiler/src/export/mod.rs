//! Exporters: qcc graphs back out to interchange formats.
//!
//! [`onnx`] writes Float- and Qdq-phase graphs as ONNX models (QDQ form for quantized
//! graphs), which onnxruntime runs and Netron displays.

pub mod onnx;

#[cfg(test)]
mod tests;

pub use onnx::{EXPORT_IR_VERSION, EXPORT_OPSET, ExportError, export_model, export_qdq_onnx};
