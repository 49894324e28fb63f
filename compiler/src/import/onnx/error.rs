//! Import errors and their codespan-reporting diagnostics.
//!
//! A binary model has no text to point into, so on error the importer renders the model as a
//! listing (see [`super::listing`]) and the diagnostic's primary label points at the offending
//! node's (or input's, initializer's, output's) line. Every message names the node by name, op
//! type and opset, and a `help:` note says how to fix the problem.

use super::listing::Listing;
use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Config};
use ir::infer::InferError;
use std::path::PathBuf;
use thiserror::Error;

/// The first and last default-domain opsets the importer supports.
pub const OPSET_RANGE: (i64, i64) = (7, 21);

/// What went wrong. Node indices are positions in the ONNX graph's node list.
#[derive(Clone, PartialEq, Debug, Error)]
pub enum ErrorKind {
    /// The model file cannot be read.
    #[error("cannot read `{path}`: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
    /// The bytes are not an ONNX protobuf.
    #[error("`{file}` is not a valid onnx model: {message}")]
    Decode {
        /// The file name.
        file: String,
        /// The protobuf decoder's complaint.
        message: String,
    },
    /// The model has no graph.
    #[error("the model has no graph")]
    NoGraph,
    /// The model imports no opset of the default domain.
    #[error("the model declares no opset for the default onnx domain")]
    NoOpset,
    /// The default-domain opset is outside the supported range.
    #[error(
        "opset {version} of the default onnx domain is not supported (qcc supports opsets {} to {})",
        OPSET_RANGE.0,
        OPSET_RANGE.1
    )]
    Opset {
        /// The model's opset version.
        version: i64,
    },
    /// An operator qcc does not know (or a non-default domain).
    #[error("unknown operator `{op_type}`{}", if domain.is_empty() { String::new() } else { format!(" of domain `{domain}`") })]
    UnknownOp {
        /// The node.
        node: usize,
        /// Its op type.
        op_type: String,
        /// Its domain.
        domain: String,
    },
    /// A known operator used in a way qcc does not support.
    #[error("{message}")]
    Unsupported {
        /// The node.
        node: usize,
        /// What is unsupported.
        message: String,
    },
    /// An attribute is missing, has the wrong type or a bad value.
    #[error("attribute `{attr}`: {message}")]
    Attribute {
        /// The node.
        node: usize,
        /// The attribute's name.
        attr: String,
        /// What is wrong.
        message: String,
    },
    /// A node is malformed (input count, non-constant operand where one is required, ...).
    #[error("{message}")]
    InvalidNode {
        /// The node.
        node: usize,
        /// What is wrong.
        message: String,
    },
    /// A node reads a value that nothing produces.
    #[error("input `{name}` is not produced by any node, initializer or graph input")]
    MissingInput {
        /// The node.
        node: usize,
        /// The missing value's name.
        name: String,
    },
    /// A graph output that nothing produces.
    #[error("graph output `{name}` is not produced by any node, initializer or graph input")]
    DanglingOutput {
        /// The output's name.
        name: String,
    },
    /// The node graph has a cycle.
    #[error("the graph has a cycle through this node")]
    Cycle {
        /// One node on the cycle.
        node: usize,
    },
    /// Shape inference rejected the node.
    #[error("shape error: {source}")]
    Shape {
        /// The node.
        node: usize,
        /// The inference error.
        source: InferError,
        /// The operand types of the IR node being created, e.g. `f32[1,3,8,8], f32[4,2,3,3]`.
        operands: String,
    },
    /// A tensor (initializer, Constant value, attribute tensor) is malformed.
    #[error("tensor `{name}`: {message}")]
    Tensor {
        /// The node holding it, for Constant nodes and attribute tensors.
        node: Option<usize>,
        /// The tensor's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A graph input has a dynamic dim that no `--input-shape` pins.
    #[error("input `{input}` has a dynamic dim {dim} (`{param}`) that is not pinned")]
    DynamicDim {
        /// The graph input.
        input: String,
        /// Which dim.
        dim: usize,
        /// Its symbolic name (or `?`).
        param: String,
        /// A suggested `--input-shape` argument.
        suggestion: String,
    },
    /// A graph input's type or an `--input-shape` pin is unusable.
    #[error("input `{input}`: {message}")]
    InputShape {
        /// The graph input.
        input: String,
        /// What is wrong.
        message: String,
    },
    /// A bug in qcc.
    #[error("internal error: {message}")]
    Internal {
        /// What happened.
        message: String,
    },
}

impl ErrorKind {
    /// The ONNX node the error is about, if any.
    pub fn node(&self) -> Option<usize> {
        match self {
            ErrorKind::UnknownOp { node, .. }
            | ErrorKind::Unsupported { node, .. }
            | ErrorKind::Attribute { node, .. }
            | ErrorKind::InvalidNode { node, .. }
            | ErrorKind::MissingInput { node, .. }
            | ErrorKind::Cycle { node }
            | ErrorKind::Shape { node, .. } => Some(*node),
            ErrorKind::Tensor { node, .. } => *node,
            ErrorKind::Io { .. }
            | ErrorKind::Decode { .. }
            | ErrorKind::NoGraph
            | ErrorKind::NoOpset
            | ErrorKind::Opset { .. }
            | ErrorKind::DanglingOutput { .. }
            | ErrorKind::DynamicDim { .. }
            | ErrorKind::InputShape { .. }
            | ErrorKind::Internal { .. } => None,
        }
    }

    /// How to fix it.
    pub fn help(&self) -> String {
        match self {
            ErrorKind::Io { .. } => "check the path and the file's permissions".into(),
            ErrorKind::Decode { .. } | ErrorKind::NoGraph => {
                "pass an .onnx model file (an onnx ModelProto), e.g. one saved with `onnx.save`"
                    .into()
            }
            ErrorKind::NoOpset | ErrorKind::Opset { .. } => format!(
                "convert the model with `onnx.version_converter.convert_version(model, {})`",
                OPSET_RANGE.1
            ),
            ErrorKind::UnknownOp { .. } => {
                "qcc imports the standard onnx operators used by CNNs; rewrite or export the model without this operator".into()
            }
            ErrorKind::Unsupported { .. } => {
                "re-export the model without this feature or replace the node".into()
            }
            ErrorKind::Attribute { .. } => {
                "fix the attribute (see the operator's definition in the onnx spec)".into()
            }
            ErrorKind::InvalidNode { .. } => {
                "check the node against the operator's definition; `onnx.checker.check_model` may say more".into()
            }
            ErrorKind::MissingInput { .. } | ErrorKind::DanglingOutput { .. } => {
                "the graph is malformed; run `onnx.checker.check_model(model, full_check=True)`"
                    .into()
            }
            ErrorKind::Cycle { .. } => "onnx graphs must be acyclic; the model is corrupt".into(),
            ErrorKind::Shape { .. } => {
                "the operand shapes don't fit this operator; check the model's weights and any --input-shape".into()
            }
            ErrorKind::Tensor { .. } => {
                "the tensor data is corrupt or uses an unsupported element type".into()
            }
            ErrorKind::DynamicDim { suggestion, .. } => {
                format!("pin the dims with `--input-shape {suggestion}`")
            }
            ErrorKind::InputShape { input, .. } => format!(
                "pass `--input-shape {input}=D0,D1,..` with one static size per dim of the model's input"
            ),
            ErrorKind::Internal { .. } => "this is a bug in qcc; please report it".into(),
        }
    }
}

/// An import failure: what went wrong plus, when the model decoded, its listing so the
/// diagnostic can point at the offending line.
#[derive(Debug, Error)]
#[error("{kind}")]
pub struct ImportError {
    kind: ErrorKind,
    listing: Option<Box<Listing>>,
}

impl ImportError {
    /// An error without a model listing.
    pub fn new(kind: ErrorKind) -> ImportError {
        ImportError {
            kind,
            listing: None,
        }
    }

    pub(crate) fn with_listing(kind: ErrorKind, listing: Listing) -> ImportError {
        ImportError {
            kind,
            listing: Some(Box::new(listing)),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// True when the model or the options are at fault (exit code 1), false for qcc bugs.
    pub fn is_user_error(&self) -> bool {
        !matches!(self.kind, ErrorKind::Internal { .. })
    }

    /// The diagnostic as plain text (no colors).
    pub fn render_plain(&self) -> String {
        let (files, diag) = self.diagnostic();
        term::emit_into_string(&Config::default(), &files, &diag)
            .unwrap_or_else(|_| format!("error: {}\n", self.headline()))
    }

    /// Writes the diagnostic to stderr, colored when stderr is a terminal.
    pub fn render_to_stderr(&self) {
        use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
        let (files, diag) = self.diagnostic();
        let stream = StandardStream::stderr(ColorChoice::Auto);
        let mut lock = stream.lock();
        if term::emit_to_write_style(&mut lock, &Config::default(), &files, &diag).is_err() {
            eprintln!("error: {}", self.headline());
        }
    }

    /// The one-line message: the node context (when known) and the error.
    pub fn headline(&self) -> String {
        match (self.kind.node(), &self.listing) {
            (Some(n), Some(l)) => match l.nodes.get(n) {
                Some(info) => format!(
                    "{} node `{}` (opset {}): {}",
                    info.op_type, info.name, l.opset, self.kind
                ),
                None => self.kind.to_string(),
            },
            _ => self.kind.to_string(),
        }
    }

    fn diagnostic(&self) -> (SimpleFile<String, &str>, Diagnostic<()>) {
        let (name, text) = match &self.listing {
            Some(l) => (l.file_name.clone(), l.text.as_str()),
            None => ("model".to_string(), ""),
        };
        let files = SimpleFile::new(name, text);
        let mut notes = Vec::new();
        if let ErrorKind::Shape { operands, .. } = &self.kind {
            notes.push(format!("operand types: {operands}"));
        }
        notes.push(format!("help: {}", self.kind.help()));
        let mut diag = Diagnostic::error()
            .with_message(self.headline())
            .with_notes(notes);
        if let Some(l) = &self.listing
            && let Some(span) = l.span_for(&self.kind)
        {
            let msg = match &self.kind {
                ErrorKind::Shape { source, .. } => source.to_string(),
                other => label_text(other),
            };
            diag = diag.with_labels(vec![Label::primary((), span).with_message(msg)]);
        }
        (files, diag)
    }
}

fn label_text(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::MissingInput { name, .. } => format!("`{name}` is undefined"),
        ErrorKind::DanglingOutput { .. } => "nothing produces this output".into(),
        ErrorKind::Cycle { .. } => "this node depends on itself".into(),
        ErrorKind::UnknownOp { .. } => "unknown operator".into(),
        ErrorKind::DynamicDim { dim, .. } => format!("dim {dim} is dynamic"),
        _ => "here".into(),
    }
}

impl From<ErrorKind> for ImportError {
    fn from(kind: ErrorKind) -> ImportError {
        ImportError::new(kind)
    }
}
