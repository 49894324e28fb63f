//! Backends.
pub mod hvx;
