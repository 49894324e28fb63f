//! Model importers. ONNX is the only format.

pub mod onnx;
