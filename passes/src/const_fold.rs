//! `const-fold`: evaluates float nodes whose inputs are all constants.
//!
//! Phase: Float. Each such node is evaluated with the float reference interpreter
//! ([`ir::interp::eval_node_float`], the one definition of every op) and its results are
//! replaced by `Const` nodes carrying the same types. Nodes left without users are removed.
//! Establishes: no non-`Const` node has only `Const` operands (graph outputs included).

use crate::{PassCtx, PassError, PassStats};
use ir::{ConstAttrs, Graph, Op, Tensor};

/// Runs the pass.
pub fn run(g: &mut Graph, _ctx: &PassCtx) -> Result<PassStats, PassError> {
    let mut rewrites = 0;
    for n in g.topo_order() {
        let node = g.node(n);
        let foldable = !matches!(node.op, Op::Input | Op::Const(_))
            && !node.inputs.is_empty()
            && node.inputs.iter().all(|&v| g.const_value(v).is_some());
        if !foldable {
            continue;
        }
        let inputs: Vec<&Tensor> = node
            .inputs
            .iter()
            .map(|&v| g.const_value(v).expect("checked above"))
            .collect();
        let types: Vec<_> = node.outputs.iter().map(|&v| g.ty(v).clone()).collect();
        let results = ir::interp::eval_node_float(&node.op, &inputs, &types).map_err(|e| {
            PassError::Failed {
                node: Some(n),
                message: format!(
                    "cannot fold `{}` node `{}`: {e}",
                    node.op.mnemonic(),
                    node.name
                ),
            }
        })?;
        let name = node.name.clone();
        let outputs = node.outputs.clone();
        for ((old, value), ty) in outputs.into_iter().zip(results).zip(types) {
            let new = g.add_simple(Op::Const(ConstAttrs { value }), vec![], ty, name.clone());
            let old_name = g.value(old).name.clone();
            g.value_mut(new).name = old_name;
            g.replace_all_uses(old, new);
        }
        g.remove_node(n);
        rewrites += 1;
    }
    Ok(PassStats { rewrites })
}
