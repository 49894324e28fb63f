//! The `.qir` text form: a deterministic printer and a parser that round-trip exactly.
//!
//! The law is `parse(&print(g)) == g` (structural equality, see `graph_eq.rs`) for every
//! graph whose operands are live values, and `print(&parse(t)) == t` for every printed `t`.
//! The syntax is documented in `docs/qir.md`; in short:
//!
//! ```text
//! graph "tiny" phase=float
//! inputs(%0)
//! %0 "x" = input : f32[1,3,8,8]
//! %1 = const dense<[0.5, -1.0]> : f32[2]
//! %2 = conv(%0, %1) {strides=[1,1], pads=[0,0,0,0], dilations=[1,1], group=1} : f32[1,8,6,6] @"Conv_0"
//! outputs(%2)
//! ```
//!
//! The parser builds [`crate::Graph`]s without verifying them (so verifier tests can be written as
//! text). It rejects only what a graph cannot represent: unknown mnemonics, undefined or
//! doubly defined values, malformed types and attributes. Operands may refer to values defined
//! on later lines, so cyclic graphs are expressible too.

mod lexer;
mod names;
mod parse;
pub(crate) mod print;

pub use parse::{Parsed, parse, parse_with_spans};
pub use print::{PrintOptions, Printed, print, print_with};

#[cfg(test)]
pub(crate) mod tests;

use std::ops::Range;

/// A syntax error with the byte range it points at.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// Byte range in the parsed text.
    pub span: Range<usize>,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
}
