//! qcc's intermediate representation.
//!
//! A [`Graph`] is a typed dataflow graph of [`Op`]s over tensor [`Value`]s. Types carry the
//! quantization parameters ([`TensorType`]); graphs carry their pipeline [`Phase`].
#![warn(missing_docs)]

pub mod arith;
pub mod entities;
pub mod graph;
mod graph_eq;
pub mod infer;
pub mod interp;
pub mod ops;
pub mod phase;
pub mod tensor;
pub mod text;
pub mod types;
pub mod verifier;

pub use entities::{NodeId, ValueId};
pub use graph::{Graph, Node, Value, ValueRange};
pub use ops::*;
pub use phase::Phase;
pub use tensor::{Tensor, TensorData};
pub use types::{DType, QuantGranularity, QuantParams, Shape, TensorType};
