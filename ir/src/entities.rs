//! Entity references: newtypes over petgraph indices and value-table slots.
//!
//! Raw `NodeIndex` never leaves this crate. `Display` matches the `.qir` syntax.

use petgraph::stable_graph::NodeIndex;
use std::fmt;

/// A node (one operation) of a [`crate::Graph`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NodeId(pub(crate) NodeIndex<u32>);

impl NodeId {
    /// The dense index of this node (stable while the node lives).
    pub fn index(self) -> usize {
        self.0.index()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node{}", self.0.index())
    }
}

/// A value (one tensor produced by one node output) of a [`crate::Graph`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ValueId(pub(crate) u32);

impl ValueId {
    /// The dense index of this value in the graph's value table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}
