//! The qcc compiler library.
