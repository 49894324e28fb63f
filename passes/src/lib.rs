//! Passes.

pub mod calibrate;
