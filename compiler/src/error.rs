//! Errors of the compiler driver, rendered with codespan-reporting at the CLI.

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use std::path::Path;

/// Everything that can stop a `qcc` run.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// Bad command-line usage.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("cannot access `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The ONNX model could not be imported.
    #[error("{0}")]
    Import(crate::import::onnx::ImportError),
    /// A `.qir` file does not parse.
    #[error("{file}: {error}")]
    Parse {
        /// The file name.
        file: String,
        /// Its text.
        text: String,
        /// The parse error.
        error: ir::text::ParseError,
    },
    /// A loaded graph fails verification.
    #[error("{file}: the graph is invalid:\n{report}")]
    Verify {
        /// The file name.
        file: String,
        /// The annotated listing.
        report: String,
    },
    /// A `.npy`/`.npz` file is malformed or unsupported.
    #[error("{0}")]
    Npy(crate::npy::NpyError),
    /// Input arrays do not fit the model.
    #[error("{0}")]
    Samples(crate::samples::SampleError),
    /// A pass failed.
    #[error("{0}")]
    Pass(passes::PassError),
    /// The interpreter failed.
    #[error("{0}")]
    Interp(ir::interp::InterpError),
}

impl CompileError {
    /// Wraps an I/O error with its path.
    pub fn io(path: &Path, source: std::io::Error) -> CompileError {
        CompileError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Whether this is qcc's fault rather than the user's (exit code 2).
    pub fn is_internal(&self) -> bool {
        match self {
            CompileError::Usage(_)
            | CompileError::Io { .. }
            | CompileError::Parse { .. }
            | CompileError::Verify { .. }
            | CompileError::Npy(_)
            | CompileError::Samples(_)
            | CompileError::Interp(_) => false,
            CompileError::Import(e) => !e.is_user_error(),
            // A pass failing on a graph that verified is a compiler bug, except where a pass
            // names a node it cannot handle (a limitation the user can work around).
            CompileError::Pass(e) => matches!(e, passes::PassError::Verify { .. }),
        }
    }

    /// Renders the error as plain text (what tests compare).
    pub fn render_plain(&self) -> String {
        match self {
            CompileError::Import(e) => e.render_plain(),
            CompileError::Parse { file, text, error } => {
                let files = SimpleFile::new(file.as_str(), text.as_str());
                term::emit_into_string(&term::Config::default(), &files, &parse_diagnostic(error))
                    .unwrap_or_else(|_| format!("error: {self}\n"))
            }
            _ => format!("error: {self}\n"),
        }
    }

    /// Renders the error to stderr, in colour on a terminal.
    pub fn render_to_stderr(&self) {
        if let CompileError::Import(e) = self {
            e.render_to_stderr();
            return;
        }
        if let CompileError::Parse { file, text, error } = self {
            let files = SimpleFile::new(file.as_str(), text.as_str());
            let d = parse_diagnostic(error);
            let stream = termcolor::StandardStream::stderr(termcolor::ColorChoice::Auto);
            let mut lock = stream.lock();
            if term::emit_to_write_style(&mut lock, &term::Config::default(), &files, &d).is_ok() {
                return;
            }
        }
        eprint!("{}", self.render_plain());
    }
}

/// The diagnostic of a `.qir` parse error: a primary label at its span.
fn parse_diagnostic(error: &ir::text::ParseError) -> Diagnostic<()> {
    Diagnostic::error()
        .with_message("cannot parse the IR text")
        .with_labels(vec![
            Label::primary((), error.span.clone()).with_message(error.message.clone()),
        ])
}
