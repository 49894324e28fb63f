//! The e-graph language: one variant per [`ir::Op`], plus four kinds of leaves.
//!
//! Every op variant has the same child layout: child 0 is a type leaf (`t3`: index into the
//! type table of [`Tables`]), child 1 an attribute leaf (`a5`: index into the attribute
//! table, which holds the whole [`Op`] with its typed attributes), then the operands in the
//! op's order. Optional operands (a conv without bias) are the `none` leaf. Putting the
//! result type into the node is what lets the analysis know every e-class's dtype, shape and
//! quantization without re-running type inference, and what keeps floats (scales,
//! attributes, tensors) out of the e-nodes (`Language` needs `Ord + Hash`).
//!
//! Signatures (`x`, `w`, `b`, ... are operand e-classes):
//!
//! ```text
//! (input t a)                  (const t a)
//! (conv t a x w b|none)        (conv_transpose t a x w b|none)
//! (gemm t a x w c|none)        (matmul t a x y)            (batch_norm t a x s b m v)
//! (relu t a x) (prelu t a x slope) (leaky_relu t a x) (clip t a x) (sigmoid t a x)
//! (hard_sigmoid t a x) (hard_swish t a x) (tanh t a x) (softmax t a x)
//! (add t a x y) (sub t a x y) (mul t a x y) (div t a x y)
//! (max_pool t a x) (average_pool t a x) (global_average_pool t a x) (reduce_mean t a x)
//! (concat t a x...)            (split t a k x)   ; result k of the split, k a Num leaf
//! (slice t a x) (reshape t a x) (transpose t a x) (pad t a x) (resize t a x)
//! (quantize t a x) (dequantize t a x)
//! (conv_int t a x w b|none)    (conv_transpose_int t a x w b|none)
//! (gemm_int t a x w b|none)    (matmul_int t a x y)        (requant t a x)
//! (add_int t a x y) (mul_int t a x y) (avg_pool_int t a x) (lut t a x)
//! (softmax_int t a x) (resize_int t a x)
//! (outputs x...)               ; the root: the graph outputs in order
//! ```

use egg::{Id, define_language};
use ir::{Op, TensorType};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// A type leaf: index into [`Tables::types`]. Written `t<index>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TyRef(pub u32);

/// An attribute leaf: index into [`Tables::attrs`]. Written `a<index>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct AttrRef(pub u32);

fn parse_prefixed(s: &str, prefix: char) -> Result<u32, String> {
    s.strip_prefix(prefix)
        .and_then(|d| d.parse::<u32>().ok())
        .ok_or_else(|| format!("expected {prefix}<index>, found `{s}`"))
}

impl FromStr for TyRef {
    type Err = String;
    fn from_str(s: &str) -> Result<TyRef, String> {
        parse_prefixed(s, 't').map(TyRef)
    }
}

impl fmt::Display for TyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

impl FromStr for AttrRef {
    type Err = String;
    fn from_str(s: &str) -> Result<AttrRef, String> {
        parse_prefixed(s, 'a').map(AttrRef)
    }
}

impl fmt::Display for AttrRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a{}", self.0)
    }
}

define_language! {
    /// qcc's e-graph language (see the module doc for every signature; each variant is
    /// the op of the same mnemonic in `ir::Op`).
    #[allow(missing_docs)]
    pub enum QLang {
        "input" = Input([Id; 2]),
        "const" = Const([Id; 2]),
        "conv" = Conv([Id; 5]),
        "conv_transpose" = ConvTranspose([Id; 5]),
        "gemm" = Gemm([Id; 5]),
        "matmul" = MatMul([Id; 4]),
        "batch_norm" = BatchNorm([Id; 7]),
        "relu" = Relu([Id; 3]),
        "prelu" = PRelu([Id; 4]),
        "leaky_relu" = LeakyRelu([Id; 3]),
        "clip" = Clip([Id; 3]),
        "sigmoid" = Sigmoid([Id; 3]),
        "hard_sigmoid" = HardSigmoid([Id; 3]),
        "hard_swish" = HardSwish([Id; 3]),
        "tanh" = Tanh([Id; 3]),
        "softmax" = Softmax([Id; 3]),
        "add" = Add([Id; 4]),
        "sub" = Sub([Id; 4]),
        "mul" = Mul([Id; 4]),
        "div" = Div([Id; 4]),
        "max_pool" = MaxPool([Id; 3]),
        "average_pool" = AveragePool([Id; 3]),
        "global_average_pool" = GlobalAveragePool([Id; 3]),
        "reduce_mean" = ReduceMean([Id; 3]),
        "concat" = Concat(Box<[Id]>),
        "split" = Split([Id; 4]),
        "slice" = Slice([Id; 3]),
        "reshape" = Reshape([Id; 3]),
        "transpose" = Transpose([Id; 3]),
        "pad" = Pad([Id; 3]),
        "resize" = Resize([Id; 3]),
        "quantize" = Quantize([Id; 3]),
        "dequantize" = Dequantize([Id; 3]),
        "conv_int" = ConvInt([Id; 5]),
        "conv_transpose_int" = ConvTransposeInt([Id; 5]),
        "gemm_int" = GemmInt([Id; 5]),
        "matmul_int" = MatMulInt([Id; 4]),
        "requant" = Requant([Id; 3]),
        "add_int" = AddInt([Id; 4]),
        "mul_int" = MulInt([Id; 4]),
        "avg_pool_int" = AvgPoolInt([Id; 3]),
        "lut" = Lut([Id; 3]),
        "softmax_int" = SoftmaxInt([Id; 3]),
        "resize_int" = ResizeInt([Id; 3]),
        "outputs" = Outputs(Box<[Id]>),
        "none" = NoneArg,
        Num(i64),
        Ty(TyRef),
        Attr(AttrRef),
    }
}

/// Why an [`Op`] could not be turned into an e-node.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("op {op} with {operands} operands has no e-node form")]
pub struct ArityError {
    /// The op's mnemonic.
    pub op: &'static str,
    /// How many operands were given.
    pub operands: usize,
}

/// Builds the e-node for `op` from its type leaf `t`, attribute leaf `a` and `operands`
/// (`none` leaves included for absent optional operands). For [`Op::Split`] the first
/// operand is the `Num` leaf of the result index.
pub fn op_node(op: &Op, t: Id, a: Id, operands: &[Id]) -> Result<QLang, ArityError> {
    let err = || ArityError {
        op: op.mnemonic(),
        operands: operands.len(),
    };
    let mut all = vec![t, a];
    all.extend_from_slice(operands);
    macro_rules! fixed {
        ($v:ident) => {
            QLang::$v(all.as_slice().try_into().map_err(|_| err())?)
        };
    }
    Ok(match op {
        Op::Input => fixed!(Input),
        Op::Const(_) => fixed!(Const),
        Op::Conv(_) => fixed!(Conv),
        Op::ConvTranspose(_) => fixed!(ConvTranspose),
        Op::Gemm(_) => fixed!(Gemm),
        Op::MatMul => fixed!(MatMul),
        Op::BatchNorm(_) => fixed!(BatchNorm),
        Op::Relu => fixed!(Relu),
        Op::PRelu => fixed!(PRelu),
        Op::LeakyRelu(_) => fixed!(LeakyRelu),
        Op::Clip(_) => fixed!(Clip),
        Op::Sigmoid => fixed!(Sigmoid),
        Op::HardSigmoid(_) => fixed!(HardSigmoid),
        Op::HardSwish => fixed!(HardSwish),
        Op::Tanh => fixed!(Tanh),
        Op::Softmax(_) => fixed!(Softmax),
        Op::Add => fixed!(Add),
        Op::Sub => fixed!(Sub),
        Op::Mul => fixed!(Mul),
        Op::Div => fixed!(Div),
        Op::MaxPool(_) => fixed!(MaxPool),
        Op::AveragePool(_) => fixed!(AveragePool),
        Op::GlobalAveragePool => fixed!(GlobalAveragePool),
        Op::ReduceMean(_) => fixed!(ReduceMean),
        Op::Concat(_) => QLang::Concat(all.into_boxed_slice()),
        Op::Split(_) => fixed!(Split),
        Op::Slice(_) => fixed!(Slice),
        Op::Reshape => fixed!(Reshape),
        Op::Transpose(_) => fixed!(Transpose),
        Op::Pad(_) => fixed!(Pad),
        Op::Resize(_) => fixed!(Resize),
        Op::Quantize => fixed!(Quantize),
        Op::Dequantize => fixed!(Dequantize),
        Op::ConvInt(_) => fixed!(ConvInt),
        Op::ConvTransposeInt(_) => fixed!(ConvTransposeInt),
        Op::GemmInt(_) => fixed!(GemmInt),
        Op::MatMulInt => fixed!(MatMulInt),
        Op::Requant(_) => fixed!(Requant),
        Op::AddInt(_) => fixed!(AddInt),
        Op::MulInt(_) => fixed!(MulInt),
        Op::AvgPoolInt(_) => fixed!(AvgPoolInt),
        Op::Lut(_) => fixed!(Lut),
        Op::SoftmaxInt(_) => fixed!(SoftmaxInt),
        Op::ResizeInt(_) => fixed!(ResizeInt),
    })
}

impl QLang {
    /// For an op node: its type leaf, attribute leaf and operands (`none` leaves and the
    /// split index included). `None` for leaves and the `outputs` root.
    pub fn parts(&self) -> Option<(Id, Id, &[Id])> {
        match self {
            QLang::Outputs(_) | QLang::NoneArg | QLang::Num(_) | QLang::Ty(_) | QLang::Attr(_) => {
                None
            }
            _ => {
                let c = egg::Language::children(self);
                Some((c[0], c[1], &c[2..]))
            }
        }
    }
}

/// The side tables the leaves index: interned types and attributes.
///
/// Types and non-constant attributes are interned (equal values share an index), so that
/// equal e-nodes hash-cons; inputs and constants get a fresh attribute entry each.
#[derive(Clone, Debug, Default)]
pub struct Tables {
    /// Every type, by [`TyRef`] index.
    pub types: Vec<TensorType>,
    /// Every attribute set (the whole op), by [`AttrRef`] index.
    pub attrs: Vec<Op>,
    /// For attribute entries of graph inputs and constants: the original value.
    pub origin: HashMap<u32, ir::ValueId>,
    type_index: HashMap<String, u32>,
    attr_index: HashMap<String, u32>,
}

impl Tables {
    /// Interns `ty`.
    pub fn ty(&mut self, ty: &TensorType) -> TyRef {
        let key = format!("{ty:?}");
        if let Some(&i) = self.type_index.get(&key) {
            return TyRef(i);
        }
        let i = self.types.len() as u32;
        self.types.push(ty.clone());
        self.type_index.insert(key, i);
        TyRef(i)
    }

    /// Interns `op` (inputs and constants are never shared: each gets its own entry).
    pub fn attr(&mut self, op: &Op) -> AttrRef {
        if matches!(op, Op::Input | Op::Const(_)) {
            let i = self.attrs.len() as u32;
            self.attrs.push(op.clone());
            return AttrRef(i);
        }
        self.attr_shared(op)
    }

    /// Interns `op`, constants included (for the small constants rules create, so that a
    /// rule applied twice builds the same node), inputs excepted.
    pub fn attr_shared(&mut self, op: &Op) -> AttrRef {
        if matches!(op, Op::Input) {
            let i = self.attrs.len() as u32;
            self.attrs.push(op.clone());
            return AttrRef(i);
        }
        let key = format!("{op:?}");
        if let Some(&i) = self.attr_index.get(&key) {
            return AttrRef(i);
        }
        let i = self.attrs.len() as u32;
        self.attrs.push(op.clone());
        self.attr_index.insert(key, i);
        AttrRef(i)
    }
}
