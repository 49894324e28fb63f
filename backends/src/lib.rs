//! qcc's backends: target descriptions, the static-arena kernel program shared by the
//! portable emitters, the Rust host-simulation emitter and the `generic-c` C emitter.
//!
//! Every emitter agrees bit for bit with the integer reference interpreter
//! (`ir::interp::int`), because every arithmetic step is a transliteration of `ir::arith`.
//! The `hvx-like` C emitter lives in `hvx/` (written separately).
#![warn(missing_docs)]

pub mod c;
pub mod hvx;
pub mod program;
pub mod rust;
pub mod target;

pub use c::emit_c;
pub use rust::emit_rust;
pub use target::Target;

use ir::{Graph, Phase};

/// Why a graph cannot be emitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmitError {
    /// The graph is not an integer program.
    #[error("emission needs an integer graph (phase integer or scheduled), but it is in phase {0}")]
    Phase(Phase),
    /// A node the backend cannot implement.
    #[error("{node}: `{op}` cannot be emitted: {why}")]
    Unsupported {
        /// The node's name (or id).
        node: String,
        /// Its mnemonic.
        op: &'static str,
        /// Why.
        why: String,
    },
    /// The target cannot run this program (for example a rounding mode it lacks).
    #[error("target `{target}`: {why}")]
    Target {
        /// The target's name.
        target: &'static str,
        /// Why.
        why: String,
    },
}

pub(crate) fn check_phase(g: &Graph) -> Result<(), EmitError> {
    match g.phase {
        Phase::Integer | Phase::Scheduled => Ok(()),
        Phase::Float | Phase::Calibrated | Phase::Qdq => Err(EmitError::Phase(g.phase)),
    }
}

/// The C/Rust identifier form of a model or file name: lowercase ASCII letters, digits and
/// `_` (every other character becomes `_`), `net` when nothing is left.
pub fn sanitize_name(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.chars().all(|c| c == '_') {
        "net".to_string()
    } else {
        out
    }
}

/// Splits a kernel library into `//@ name` sections (the text before the first marker is
/// dropped).
pub(crate) fn kernel_sections(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("//@ ") {
        let after = &rest[at + 4..];
        let name_end = after.find('\n').unwrap_or(after.len());
        let name = after[..name_end].trim();
        let body_start = (name_end + 1).min(after.len());
        let body = &after[body_start..];
        let end = body.find("//@ ").unwrap_or(body.len());
        out.push((name, &body[..end]));
        rest = &body[end..];
    }
    out
}

#[cfg(test)]
mod tests;
