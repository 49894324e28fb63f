//! `dead-code`: removes nodes whose results nobody uses.
//!
//! Phase: any (registered for Float). Graph inputs and outputs always stay.
//! Establishes: every non-input node has a result that is used or is a graph output.

use crate::{PassCtx, PassError, PassStats};
use ir::Graph;

/// Runs the pass.
pub fn run(g: &mut Graph, _ctx: &PassCtx) -> Result<PassStats, PassError> {
    Ok(PassStats {
        rewrites: g.remove_dead_nodes(),
    })
}
