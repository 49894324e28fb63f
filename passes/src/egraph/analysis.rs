//! The e-class analysis: every value e-class carries its result type (dtype, shape and
//! quantization, as an index into the interned type table), and `merge` asserts that two
//! merged e-classes have the same type. A rule that equates values of different types (an
//! unsound rewrite) therefore fails loudly in tests instead of miscompiling.
//!
//! The analysis also owns the side tables the leaves index ([`Tables`]), so that rule
//! appliers can add new types and attributes, the target's [`RoundingMode`], name hints for
//! the nodes rules create, and notes on why a rule declined to lower a node.

use super::lang::{QLang, Tables};
use egg::{Analysis, DidMerge, EGraph, Id};
use ir::arith::RoundingMode;
use ir::{Op, Tensor, TensorType};
use std::collections::HashMap;

/// The e-graph type used by the lowering.
pub type EG = EGraph<QLang, QAnalysis>;

/// What the analysis knows about an e-class.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Data {
    /// An attribute, `none`, index or root leaf: not a tensor.
    Leaf,
    /// A type leaf (index into [`Tables::types`]).
    Ty(u32),
    /// A tensor value of the given type (index into [`Tables::types`]).
    Value(u32),
}

/// The analysis state (see the module doc).
#[derive(Debug)]
pub struct QAnalysis {
    /// Types and attributes indexed by the leaves.
    pub tables: Tables,
    /// Rounding of every right shift the rules emit.
    pub rounding: RoundingMode,
    /// Name hints: node names for e-classes (the original node's name, or the name of the
    /// e-class a rule matched when it created the class).
    pub names: HashMap<Id, String>,
    /// Why a rule declined to lower the e-class (for diagnostics), in order of discovery.
    pub notes: Vec<(Id, String)>,
    /// The name given to nodes created while a rule applies.
    pub current_name: Option<String>,
}

impl QAnalysis {
    /// An analysis over `tables` for a target rounding right shifts with `rounding`.
    pub fn new(tables: Tables, rounding: RoundingMode) -> QAnalysis {
        QAnalysis {
            tables,
            rounding,
            names: HashMap::new(),
            notes: Vec::new(),
            current_name: None,
        }
    }
}

impl Analysis<QLang> for QAnalysis {
    type Data = Data;

    fn make(egraph: &mut EG, enode: &QLang, _id: Id) -> Data {
        match enode {
            QLang::Ty(t) => Data::Ty(t.0),
            QLang::NoneArg | QLang::Num(_) | QLang::Attr(_) | QLang::Outputs(_) => Data::Leaf,
            _ => match enode.parts() {
                Some((t, _, _)) => match egraph[t].data {
                    Data::Ty(i) => Data::Value(i),
                    Data::Leaf | Data::Value(_) => {
                        panic!("malformed e-node {enode}: child 0 is not a type leaf")
                    }
                },
                None => Data::Leaf,
            },
        }
    }

    fn merge(&mut self, a: &mut Data, b: Data) -> DidMerge {
        assert_eq!(
            *a, b,
            "unsound rewrite: merged e-classes of different types ({a:?} vs {b:?})"
        );
        DidMerge(false, false)
    }
}

/// The type of the value e-class `id`, if it is one.
pub fn value_ty(eg: &EG, id: Id) -> Option<&TensorType> {
    match eg[id].data {
        Data::Value(i) => Some(&eg.analysis.tables.types[i as usize]),
        Data::Leaf | Data::Ty(_) => None,
    }
}

/// The type a type-leaf e-class names.
pub fn leaf_ty(eg: &EG, id: Id) -> Option<&TensorType> {
    match eg[id].data {
        Data::Ty(i) => Some(&eg.analysis.tables.types[i as usize]),
        Data::Leaf | Data::Value(_) => None,
    }
}

/// The attributes (the whole op) an attribute-leaf e-class names.
pub fn attr(eg: &EG, id: Id) -> Option<&Op> {
    eg[id].nodes.iter().find_map(|n| match n {
        QLang::Attr(a) => Some(&eg.analysis.tables.attrs[a.0 as usize]),
        _ => None,
    })
}

/// The constant tensor of e-class `id`, if it holds a `const` node.
pub fn const_tensor(eg: &EG, id: Id) -> Option<&Tensor> {
    eg[id].nodes.iter().find_map(|n| match n {
        QLang::Const([_, a]) => match attr(eg, *a) {
            Some(Op::Const(c)) => Some(&c.value),
            _ => None,
        },
        _ => None,
    })
}

/// Whether e-class `id` holds a graph `input` node.
pub fn is_input(eg: &EG, id: Id) -> bool {
    eg[id].nodes.iter().any(|n| matches!(n, QLang::Input(_)))
}

/// Whether e-class `id` is the `none` leaf.
pub fn is_none(eg: &EG, id: Id) -> bool {
    eg[id].nodes.iter().any(|n| matches!(n, QLang::NoneArg))
}

/// The operand of the first `dequantize` node of e-class `id`.
pub fn dequantized(eg: &EG, id: Id) -> Option<Id> {
    eg[id].nodes.iter().find_map(|n| match n {
        QLang::Dequantize([_, _, x]) => Some(*x),
        _ => None,
    })
}

/// Adds the node `op` of result type `ty` over `operands` (with `none` leaves for absent
/// optional operands): the typed builder every rule uses. Interns the type and attributes,
/// and records the current name hint for the new e-class.
pub fn add_op(eg: &mut EG, op: &Op, ty: &TensorType, operands: &[Id]) -> Id {
    let t = eg.analysis.tables.ty(ty);
    let a = eg.analysis.tables.attr_shared(op);
    let t = eg.add(QLang::Ty(t));
    let a = eg.add(QLang::Attr(a));
    let node = super::lang::op_node(op, t, a, operands)
        .unwrap_or_else(|e| panic!("rule built a malformed node: {e}"));
    let id = eg.add(node);
    if let Some(name) = eg.analysis.current_name.clone() {
        eg.analysis.names.entry(id).or_insert(name);
    }
    id
}

/// The `none` leaf.
pub fn none(eg: &mut EG) -> Id {
    eg.add(QLang::NoneArg)
}

/// The name hint of e-class `id` (looked up through unions).
pub fn name_of(eg: &EG, id: Id) -> Option<String> {
    let id = eg.find(id);
    if let Some(n) = eg.analysis.names.get(&id) {
        return Some(n.clone());
    }
    let mut best: Option<(Id, &String)> = None;
    for (k, v) in &eg.analysis.names {
        if eg.find(*k) == id && best.is_none_or(|(b, _)| *k < b) {
            best = Some((*k, v));
        }
    }
    best.map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{DType, QuantParams};

    fn eg() -> EG {
        EG::new(QAnalysis::new(Tables::default(), RoundingMode::HalfUp))
    }

    #[test]
    fn merge_accepts_equal_types() {
        let mut eg = eg();
        let ty = TensorType::new(DType::U8, vec![2]);
        let a = add_op(&mut eg, &Op::Input, &ty, &[]);
        let b = add_op(&mut eg, &Op::Input, &ty, &[]);
        assert_ne!(eg.find(a), eg.find(b));
        eg.union(a, b);
        eg.rebuild();
        assert_eq!(eg.find(a), eg.find(b));
        assert_eq!(value_ty(&eg, a), Some(&ty));
    }

    #[test]
    fn merge_rejects_different_quantization() {
        let mut eg = eg();
        let mut t1 = TensorType::new(DType::U8, vec![2]);
        t1.quant = Some(QuantParams::per_tensor(DType::U8, 0.5, 3));
        let mut t2 = t1.clone();
        t2.quant = Some(QuantParams::per_tensor(DType::U8, 0.5, 4));
        let a = add_op(&mut eg, &Op::Input, &t1, &[]);
        let b = add_op(&mut eg, &Op::Input, &t2, &[]);
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            eg.union(a, b);
            eg.rebuild();
        }));
        let msg = res.expect_err("merging different types must panic");
        let text = msg.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("unsound rewrite"), "{text}");
    }

    #[test]
    fn types_and_attributes_are_interned() {
        let mut t = Tables::default();
        let ty = TensorType::f32(vec![1, 2]);
        assert_eq!(t.ty(&ty), t.ty(&ty.clone()));
        assert_eq!(t.attr(&Op::Relu), t.attr(&Op::Relu));
        assert_ne!(t.attr(&Op::Input), t.attr(&Op::Input));
    }
}
