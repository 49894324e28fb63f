//! The qcc compiler library.

pub mod import;
