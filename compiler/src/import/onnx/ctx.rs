//! The importer's state and the per-node view the op converters work through.
//!
//! Every ONNX value name maps to a [`Val`]: an IR value, an import-time constant (folded
//! shape arithmetic, initializers, Constant nodes) or an output that exists in ONNX but not
//! in inference (BatchNormalization's running stats, Dropout's mask). Constants become IR
//! `Const` nodes only when an IR node consumes them, once per name.

use super::error::ErrorKind;
use super::proto::{AttributeProto, NodeProto, TensorProto, attribute_proto::AttributeType};
use super::tensor::{CVal, to_ir_tensor};
use ir::infer::{check_given_output_types, infer_output_types};
use ir::{Graph, Op, TensorType, ValueId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

/// What an ONNX value name stands for during import.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Ir(ValueId),
    Const(Rc<CVal>),
    /// Exists in the ONNX graph but has no inference meaning; the string says why.
    Absent(String),
}

/// Import state shared by all nodes.
pub(crate) struct Importer {
    pub g: Graph,
    pub env: HashMap<String, Val>,
    pub materialized: HashMap<String, ValueId>,
    pub base_dir: Option<PathBuf>,
}

impl Importer {
    /// A `Const` node for `c`, cached under `key`; `node` is blamed for conversion errors.
    pub fn materialize(&mut self, key: &str, c: &CVal, node: usize) -> R<ValueId> {
        if let Some(&v) = self.materialized.get(key) {
            return Ok(v);
        }
        let t = to_ir_tensor(c).map_err(|message| ErrorKind::Tensor {
            node: Some(node),
            name: key.to_string(),
            message,
        })?;
        let ty = TensorType::new(t.dtype, t.shape.clone());
        let v = self.g.add_simple(
            Op::Const(ir::ConstAttrs { value: t }),
            vec![],
            ty,
            key.to_string(),
        );
        self.materialized.insert(key.to_string(), v);
        Ok(v)
    }
}

/// One ONNX node being converted.
pub(crate) struct Cx<'a> {
    pub imp: &'a mut Importer,
    pub idx: usize,
    pub node: &'a NodeProto,
    pub name: String,
    pub opset: i64,
}

pub(crate) type R<T> = Result<T, ErrorKind>;

impl Cx<'_> {
    // ---- errors -------------------------------------------------------------------------

    pub fn invalid(&self, message: impl Into<String>) -> ErrorKind {
        ErrorKind::InvalidNode {
            node: self.idx,
            message: message.into(),
        }
    }

    pub fn unsupported(&self, message: impl Into<String>) -> ErrorKind {
        ErrorKind::Unsupported {
            node: self.idx,
            message: message.into(),
        }
    }

    pub fn attr_err(&self, attr: &str, message: impl Into<String>) -> ErrorKind {
        ErrorKind::Attribute {
            node: self.idx,
            attr: attr.to_string(),
            message: message.into(),
        }
    }

    pub fn op_type(&self) -> &str {
        &self.node.op_type
    }

    // ---- inputs -------------------------------------------------------------------------

    /// Whether optional input `i` is given.
    pub fn has_input(&self, i: usize) -> bool {
        self.node.input.get(i).is_some_and(|s| !s.is_empty())
    }

    /// Number of inputs up to the last given one.
    pub fn num_inputs(&self) -> usize {
        (0..self.node.input.len())
            .rev()
            .find(|&i| self.has_input(i))
            .map_or(0, |i| i + 1)
    }

    /// Requires between `min` and `max` inputs.
    pub fn expect_inputs(&self, min: usize, max: usize) -> R<()> {
        let n = self.num_inputs();
        if n < min || n > max || (0..min).any(|i| !self.has_input(i)) {
            let range = if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            };
            return Err(self.invalid(format!(
                "{} takes {range} inputs, got {n}",
                self.node.op_type
            )));
        }
        Ok(())
    }

    pub fn val(&self, i: usize) -> R<Val> {
        let name = self
            .node
            .input
            .get(i)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.invalid(format!("input {i} is required")))?;
        match self.imp.env.get(name) {
            Some(Val::Absent(why)) => Err(self.unsupported(format!(
                "input `{name}` is {why}, which qcc does not compute"
            ))),
            Some(v) => Ok(v.clone()),
            None => Err(ErrorKind::MissingInput {
                node: self.idx,
                name: name.clone(),
            }),
        }
    }

    /// Input `i` as an IR value (materializing a constant as a `Const` node).
    pub fn ir(&mut self, i: usize) -> R<ValueId> {
        match self.val(i)? {
            Val::Ir(v) => Ok(v),
            Val::Const(c) => {
                let key = self.node.input[i].clone();
                self.materialize(&key, &c)
            }
            Val::Absent(_) => Err(self.invalid("absent input")),
        }
    }

    /// A `Const` node for `c`, cached under `key`.
    pub fn materialize(&mut self, key: &str, c: &CVal) -> R<ValueId> {
        self.imp.materialize(key, c, self.idx)
    }

    /// Input `i`, which must be an import-time constant.
    pub fn konst(&self, i: usize, what: &str) -> R<Rc<CVal>> {
        match self.val(i)? {
            Val::Const(c) => Ok(c),
            _ => Err(self.unsupported(format!(
                "input {i} ({what}) must be a constant known at import, but it is computed at run time"
            ))),
        }
    }

    pub fn opt_konst(&self, i: usize, what: &str) -> R<Option<Rc<CVal>>> {
        if self.has_input(i) {
            self.konst(i, what).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Whether every given input is an import-time constant.
    pub fn all_const(&self) -> bool {
        (0..self.node.input.len())
            .filter(|&i| self.has_input(i))
            .all(|i| matches!(self.imp.env.get(&self.node.input[i]), Some(Val::Const(_))))
    }

    /// Dims of input `i`, IR or constant.
    pub fn dims(&self, i: usize) -> R<Vec<usize>> {
        Ok(match self.val(i)? {
            Val::Ir(v) => self.imp.g.ty(v).shape.0.clone(),
            Val::Const(c) => c.shape.clone(),
            Val::Absent(_) => return Err(self.invalid("absent input")),
        })
    }

    // ---- node creation ------------------------------------------------------------------

    /// Adds an IR node typed by shape inference.
    pub fn add(&mut self, op: Op, inputs: Vec<ValueId>) -> R<Vec<ValueId>> {
        let types: Vec<TensorType> = inputs.iter().map(|&v| self.imp.g.ty(v).clone()).collect();
        let refs: Vec<&TensorType> = types.iter().collect();
        let out = infer_output_types(&op, &refs)
            .map_err(|source| ErrorKind::Shape {
                node: self.idx,
                source,
                operands: operand_list(&types),
            })?
            .ok_or_else(|| ErrorKind::Internal {
                message: format!("{} has no inferred output type", op.mnemonic()),
            })?;
        self.check_size(&out)?;
        Ok(self.imp.g.add_node(op, inputs, out, self.name.clone()).1)
    }

    pub fn add1(&mut self, op: Op, inputs: Vec<ValueId>) -> R<Val> {
        Ok(Val::Ir(self.add(op, inputs)?[0]))
    }

    /// Adds a node whose output type is stated (Reshape, Resize, Slice), after checking it.
    pub fn add_stated(&mut self, op: Op, inputs: Vec<ValueId>, ty: TensorType) -> R<Val> {
        let types: Vec<TensorType> = inputs.iter().map(|&v| self.imp.g.ty(v).clone()).collect();
        let refs: Vec<&TensorType> = types.iter().collect();
        check_given_output_types(&op, &refs, &[&ty]).map_err(|source| ErrorKind::Shape {
            node: self.idx,
            source,
            operands: operand_list(&types),
        })?;
        self.check_size(std::slice::from_ref(&ty))?;
        Ok(Val::Ir(self.imp.g.add_simple(
            op,
            inputs,
            ty,
            self.name.clone(),
        )))
    }

    /// Rejects result types with more than [`super::tensor::MAX_ELEMENTS`] elements.
    fn check_size(&self, types: &[TensorType]) -> R<()> {
        for t in types {
            if t.shape
                .checked_numel()
                .is_none_or(|n| n > super::tensor::MAX_ELEMENTS)
            {
                return Err(self.invalid(format!(
                    "the result shape {} has more than {} elements",
                    t.shape,
                    super::tensor::MAX_ELEMENTS
                )));
            }
        }
        Ok(())
    }

    /// A reshape of `v` to `dims` (no node when the shape is unchanged).
    pub fn reshape(&mut self, v: ValueId, dims: Vec<usize>) -> R<ValueId> {
        let t = self.imp.g.ty(v).clone();
        if t.shape.0 == dims {
            return Ok(v);
        }
        let ty = TensorType {
            shape: ir::Shape(dims),
            ..t
        };
        match self.add_stated(Op::Reshape, vec![v], ty)? {
            Val::Ir(v) => Ok(v),
            _ => Err(self.invalid("reshape")),
        }
    }

    // ---- attributes ---------------------------------------------------------------------

    pub fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    fn typed(&self, name: &str, want: AttributeType) -> R<Option<&AttributeProto>> {
        let Some(a) = self.attr(name) else {
            return Ok(None);
        };
        if !a.ref_attr_name.is_empty() {
            return Err(self.attr_err(
                name,
                "refers to a function attribute, which qcc does not support",
            ));
        }
        let got = AttributeType::try_from(a.r#type).unwrap_or(AttributeType::Undefined);
        // Very old exporters leave the type unset; accept the field that is filled in.
        let untyped_ok = got == AttributeType::Undefined
            && match want {
                AttributeType::Ints => !a.ints.is_empty(),
                AttributeType::Floats => !a.floats.is_empty(),
                AttributeType::Tensor => a.t.is_some(),
                AttributeType::String => !a.s.is_empty(),
                _ => true,
            };
        if got != want && !untyped_ok {
            return Err(self.attr_err(
                name,
                format!(
                    "has type {}, expected {}",
                    got.as_str_name(),
                    want.as_str_name()
                ),
            ));
        }
        Ok(Some(a))
    }

    pub fn int(&self, name: &str) -> R<Option<i64>> {
        Ok(self.typed(name, AttributeType::Int)?.map(|a| a.i))
    }

    pub fn int_or(&self, name: &str, default: i64) -> R<i64> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    pub fn ints(&self, name: &str) -> R<Option<Vec<i64>>> {
        Ok(self
            .typed(name, AttributeType::Ints)?
            .map(|a| a.ints.clone()))
    }

    pub fn float_or(&self, name: &str, default: f32) -> R<f32> {
        Ok(self
            .typed(name, AttributeType::Float)?
            .map_or(default, |a| a.f))
    }

    pub fn floats(&self, name: &str) -> R<Option<Vec<f32>>> {
        Ok(self
            .typed(name, AttributeType::Floats)?
            .map(|a| a.floats.clone()))
    }

    pub fn string_or(&self, name: &str, default: &str) -> R<String> {
        Ok(self.typed(name, AttributeType::String)?.map_or_else(
            || default.to_string(),
            |a| String::from_utf8_lossy(&a.s).into_owned(),
        ))
    }

    pub fn tensor(&self, name: &str) -> R<Option<&TensorProto>> {
        Ok(self
            .typed(name, AttributeType::Tensor)?
            .and_then(|a| a.t.as_ref()))
    }

    /// A non-negative size list attribute, `default` when absent.
    pub fn sizes(&self, name: &str, default: Vec<usize>) -> R<Vec<usize>> {
        match self.ints(name)? {
            None => Ok(default),
            Some(v) => v
                .iter()
                .map(|&x| {
                    usize::try_from(x)
                        .map_err(|_| self.attr_err(name, format!("has negative entry {x}")))
                })
                .collect(),
        }
    }

    /// Normalizes a possibly negative axis.
    pub fn axis(&self, attr: &str, axis: i64, rank: usize) -> R<usize> {
        super::shapes::norm_axis(axis, rank).map_err(|m| self.attr_err(attr, m))
    }
}

fn operand_list(types: &[TensorType]) -> String {
    let parts: Vec<String> = types
        .iter()
        .map(|t| format!("{}{}", t.dtype, t.shape))
        .collect();
    parts.join(", ")
}
