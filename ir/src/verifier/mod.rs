//! Verifier (in progress).
