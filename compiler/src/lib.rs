//! The qcc compiler library.

pub mod npy;
pub mod npz;
