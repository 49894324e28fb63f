//! The pass manager: runs named passes in order, enforces monotonic phases, verifies.
//!
//! Invariants it enforces:
//! - a pass runs only on a graph in its `phase_in` (a later phase is a [`PassError::WrongPhase`]);
//! - phases only move forward; a pass that would move the graph back is an error;
//! - the verifier runs after every pass when [`PassCtx::verify_each`] is set (tests, debug
//!   builds, `--verify-each`) and always when the phase changes.

use crate::{PassCtx, PassError, PassInfo, PassStats, find_pass};
use ir::Graph;

/// What the manager reports to an observer (for `--print-before/after` and statistics).
#[derive(Debug)]
pub enum PipelineEvent<'a> {
    /// About to run `pass` on the graph.
    Before {
        /// The pass.
        pass: &'static str,
        /// The graph before the pass.
        graph: &'a Graph,
    },
    /// `pass` finished.
    After {
        /// The pass.
        pass: &'static str,
        /// The graph after the pass.
        graph: &'a Graph,
        /// What it did.
        stats: PassStats,
    },
}

/// A callback for [`PipelineEvent`]s.
type Observer<'o> = Box<dyn FnMut(PipelineEvent<'_>) + 'o>;

/// Runs a list of passes with the checks above.
pub struct PassManager<'o> {
    passes: Vec<&'static PassInfo>,
    ctx: PassCtx,
    observer: Option<Observer<'o>>,
}

impl<'o> PassManager<'o> {
    /// A manager for the named passes; fails on an unknown name.
    pub fn new(names: &[&str], ctx: PassCtx) -> Result<PassManager<'o>, PassError> {
        let passes = names
            .iter()
            .map(|n| find_pass(n))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PassManager {
            passes,
            ctx,
            observer: None,
        })
    }

    /// Calls `f` before and after each pass.
    pub fn observe(mut self, f: impl FnMut(PipelineEvent<'_>) + 'o) -> PassManager<'o> {
        self.observer = Some(Box::new(f));
        self
    }

    /// Runs every pass in order.
    pub fn run(&mut self, g: &mut Graph) -> Result<Vec<(&'static str, PassStats)>, PassError> {
        let mut out = Vec::with_capacity(self.passes.len());
        for p in self.passes.clone() {
            out.push((p.name, self.run_one(p, g)?));
        }
        Ok(out)
    }

    fn run_one(&mut self, p: &'static PassInfo, g: &mut Graph) -> Result<PassStats, PassError> {
        if g.phase != p.phase_in {
            return Err(PassError::WrongPhase {
                pass: p.name,
                needs: p.phase_in,
                found: g.phase,
            });
        }
        if p.phase_out < p.phase_in {
            return Err(PassError::BackwardPhase {
                pass: p.name,
                from: p.phase_in,
                to: p.phase_out,
            });
        }
        if let Some(obs) = self.observer.as_mut() {
            obs(PipelineEvent::Before {
                pass: p.name,
                graph: g,
            });
        }
        let before = g.phase;
        let stats = (p.run)(g, &self.ctx)?;
        if g.phase < before {
            return Err(PassError::BackwardPhase {
                pass: p.name,
                from: before,
                to: g.phase,
            });
        }
        if self.ctx.verify_each || g.phase != before || cfg!(debug_assertions) {
            verify(g, p.name)?;
        }
        if let Some(obs) = self.observer.as_mut() {
            obs(PipelineEvent::After {
                pass: p.name,
                graph: g,
                stats,
            });
        }
        Ok(stats)
    }
}

/// Verifies `g`, turning errors into a [`PassError::Verify`] naming `after`.
pub fn verify(g: &Graph, after: &str) -> Result<(), PassError> {
    ir::verifier::verify(g).map_err(|e| PassError::Verify {
        pass: after.to_string(),
        report: e.render_annotated(g),
    })
}
