//! Compilation phases. Phases only move forward; the pass manager rejects a backward step.

use std::fmt;

/// Where a graph is in the pipeline.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Phase {
    /// Imported float program.
    Float,
    /// Float program with calibration statistics attached.
    Calibrated,
    /// Float program with quantize/dequantize nodes (fake quantization).
    Qdq,
    /// Integer-only program between input quantization and output dequantization.
    Integer,
    /// Integer program with a memory plan.
    Scheduled,
}

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; 5] = [
        Phase::Float,
        Phase::Calibrated,
        Phase::Qdq,
        Phase::Integer,
        Phase::Scheduled,
    ];

    /// The `.qir` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Float => "float",
            Phase::Calibrated => "calibrated",
            Phase::Qdq => "qdq",
            Phase::Integer => "integer",
            Phase::Scheduled => "scheduled",
        }
    }

    /// Parses the `.qir` spelling.
    pub fn from_name(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == s)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
