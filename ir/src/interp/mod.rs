//! The float reference interpreter: runs a [`Graph`] of f32 tensors with ONNX semantics.
//!
//! It is the specification the float pipeline is checked against (onnxruntime agreement
//! within `1e-4 * max|ref| + 1e-5`), the engine of calibration ([`run_float_observed`]) and
//! of constant folding ([`eval_node_float`]).
//!
//! Execution walks the nodes in topological order, skipping nodes no graph output depends
//! on. Every intermediate tensor is freed after its last use (use counts), and a tensor whose
//! last use is an elementwise op is updated in place instead of copied. The buffers of
//! freed tensors go to a per-thread free list (`buffers.rs`) from which the convolutions
//! take their results, which saves the zeroing and page faults of fresh allocations. A single inference is
//! single-threaded; [`run_float_batch`] runs samples in parallel.
//!
//! Kernels live in one file per op family; the only `unsafe` code is the GEMM call in
//! `sgemm.rs`, the micro-kernels of `convgemm.rs` and the AVX-512 / AVX2+FMA dispatch of
//! the hot loops in `simd.rs`. Quantize and
//! Dequantize (`qdq.rs`) and data movement on integer tensors (`movement.rs`) run here too,
//! so Qdq-phase graphs execute; the integer compute ops need the integer interpreter
//! ([`int::run_int`]), which shares this execution engine.

mod buffers;
mod conv;
mod convgemm;
mod depthwise;
mod elementwise;
mod gemm;
pub mod int;
mod movement;
mod pool;
mod qdq;
mod resize;
mod sgemm;
mod shape;
mod simd;
#[cfg(test)]
mod tests;

use crate::entities::{NodeId, ValueId};
use crate::graph::Graph;
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::types::{DType, Shape, TensorType};
use rayon::prelude::*;
use std::borrow::Cow;

/// Why the float interpreter could not run a graph or an op.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InterpError {
    /// The number of supplied inputs differs from the graph's.
    #[error("graph has {expected} inputs but {got} were supplied")]
    InputCount {
        /// Graph inputs.
        expected: usize,
        /// Supplied tensors.
        got: usize,
    },
    /// A supplied input has the wrong element type.
    #[error("input '{name}' has element type {got}, expected {expected}")]
    InputDType {
        /// The input's name.
        name: String,
        /// The graph's element type.
        expected: DType,
        /// The supplied element type.
        got: DType,
    },
    /// A supplied input has the wrong shape.
    #[error("input '{name}' has shape {got}, expected {expected}")]
    InputShape {
        /// The input's name.
        name: String,
        /// The graph's shape.
        expected: Shape,
        /// The supplied shape.
        got: Shape,
    },
    /// A supplied tensor's storage does not hold `shape.numel()` elements of its dtype.
    #[error("input '{name}' is malformed: {message}")]
    MalformedInput {
        /// The input's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The float interpreter only computes on f32 tensors.
    #[error("{op}: element type {dtype} is not supported by the float interpreter")]
    UnsupportedDType {
        /// The op's mnemonic.
        op: &'static str,
        /// The offending element type.
        dtype: DType,
    },
    /// An op received the wrong number of operands or result types.
    #[error("{op}: expected {expected}, got {got}")]
    Arity {
        /// The op's mnemonic.
        op: &'static str,
        /// What was expected, in words.
        expected: String,
        /// What was supplied.
        got: usize,
    },
    /// An op's operands, attributes and result types do not fit together.
    #[error("{op}: {message}")]
    Invalid {
        /// The op's mnemonic.
        op: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An integer compute op reached the float interpreter.
    #[error("integer op `{op}` needs the integer interpreter")]
    NeedsIntegerInterpreter {
        /// The op's mnemonic.
        op: &'static str,
    },
    /// A float compute op reached the integer interpreter.
    #[error("float op `{op}` cannot run in the integer interpreter")]
    FloatOpInIntegerInterpreter {
        /// The op's mnemonic.
        op: &'static str,
    },
    /// [`Op::Input`] has no value outside of a graph run.
    #[error("input: a graph input cannot be evaluated on its own")]
    EvalInput,
    /// The graph has a cycle through this node.
    #[error("graph has a cycle through {0}")]
    Cycle(NodeId),
    /// An error inside one node of a graph run.
    #[error("{node} ({op} '{name}'): {source}")]
    Node {
        /// The failing node.
        node: NodeId,
        /// Its mnemonic.
        op: &'static str,
        /// Its name.
        name: String,
        /// The underlying error.
        #[source]
        source: Box<InterpError>,
    },
}

/// Which interpreter executes the integer compute ops and rejects the other kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// The float interpreter (integer compute ops are errors).
    Float,
    /// The integer interpreter (float compute ops are errors).
    Int,
}

/// The callback of [`run_float_observed`].
type Observer<'a> = &'a mut dyn FnMut(ValueId, &Tensor);

/// Result alias of the interpreter.
pub type InterpResult<T> = Result<T, InterpError>;

pub use int::{run_int, run_int_batch, run_int_observed};
pub use sgemm::{DMat, dgemm, gram_f64};

/// Runs `g` on `inputs` (in `g.inputs` order); returns the values of `g.outputs` in order.
pub fn run_float(g: &Graph, inputs: &[Tensor]) -> InterpResult<Vec<Tensor>> {
    run_impl(g, inputs, None, Mode::Float)
}

/// Like [`run_float`], and calls `observe` on every computed value (graph inputs and
/// constants included) as soon as it exists. Values nothing downstream of the graph
/// outputs needs are not computed.
pub fn run_float_observed(
    g: &Graph,
    inputs: &[Tensor],
    observe: &mut dyn FnMut(ValueId, &Tensor),
) -> InterpResult<Vec<Tensor>> {
    run_impl(g, inputs, Some(observe), Mode::Float)
}

/// Runs every sample (one input list each) through `g`, samples in parallel.
pub fn run_float_batch(g: &Graph, samples: &[Vec<Tensor>]) -> InterpResult<Vec<Vec<Tensor>>> {
    samples.par_iter().map(|s| run_float(g, s)).collect()
}

/// Evaluates one op on f32 operands; `output_types` are its result types (their shapes are
/// the results' shapes).
///
/// The operands' types are taken from the tensors, without quantization parameters, so a
/// [`Op::Dequantize`] needs [`eval_node_typed`].
pub fn eval_node_float(
    op: &Op,
    inputs: &[&Tensor],
    output_types: &[TensorType],
) -> InterpResult<Vec<Tensor>> {
    let types: Vec<TensorType> = inputs
        .iter()
        .map(|t| TensorType::new(t.dtype, t.shape.clone()))
        .collect();
    let refs: Vec<&TensorType> = types.iter().collect();
    eval_node_typed(op, inputs, &refs, output_types)
}

/// Like [`eval_node_float`] with the operands' types (their quantization parameters are
/// what [`Op::Dequantize`] reads).
pub fn eval_node_typed(
    op: &Op,
    inputs: &[&Tensor],
    input_types: &[&TensorType],
    output_types: &[TensorType],
) -> InterpResult<Vec<Tensor>> {
    let args: Vec<Cow<'_, Tensor>> = inputs.iter().map(|t| Cow::Borrowed(*t)).collect();
    eval(op, args, input_types, output_types, Mode::Float)
}

/// Checks the supplied inputs against the graph's input types.
fn check_inputs(g: &Graph, inputs: &[Tensor]) -> InterpResult<()> {
    if inputs.len() != g.inputs.len() {
        return Err(InterpError::InputCount {
            expected: g.inputs.len(),
            got: inputs.len(),
        });
    }
    for (&v, t) in g.inputs.iter().zip(inputs) {
        let val = g.value(v);
        let name = val.name.clone().unwrap_or_else(|| v.to_string());
        if t.dtype != val.ty.dtype {
            return Err(InterpError::InputDType {
                name,
                expected: val.ty.dtype,
                got: t.dtype,
            });
        }
        if t.shape != val.ty.shape {
            return Err(InterpError::InputShape {
                name,
                expected: val.ty.shape.clone(),
                got: t.shape.clone(),
            });
        }
        if !t.data.fits(t.dtype) || t.shape.checked_numel() != Some(t.data.len()) {
            return Err(InterpError::MalformedInput {
                name,
                message: format!(
                    "storage holds {} elements for shape {} of type {}",
                    t.data.len(),
                    t.shape,
                    t.dtype
                ),
            });
        }
    }
    Ok(())
}

fn run_impl(
    g: &Graph,
    inputs: &[Tensor],
    mut observe: Option<Observer<'_>>,
    mode: Mode,
) -> InterpResult<Vec<Tensor>> {
    check_inputs(g, inputs)?;
    let order = g.try_topo_order().map_err(InterpError::Cycle)?;

    // Liveness: a node runs when one of its results is needed.
    let mut needed_value = vec![false; g.value_bound()];
    for &o in &g.outputs {
        needed_value[o.index()] = true;
    }
    let mut needed_node = vec![false; g.node_bound()];
    for &n in order.iter().rev() {
        let node = g.node(n);
        if node.outputs.iter().any(|v| needed_value[v.index()]) {
            needed_node[n.index()] = true;
            for v in &node.inputs {
                needed_value[v.index()] = true;
            }
        }
    }

    // Remaining uses of every value; graph outputs hold one use each until the end.
    let mut uses = vec![0usize; g.value_bound()];
    for &n in &order {
        if needed_node[n.index()] {
            for v in &g.node(n).inputs {
                uses[v.index()] += 1;
            }
        }
    }
    for &o in &g.outputs {
        uses[o.index()] += 1;
    }
    let mut input_slot = vec![usize::MAX; g.value_bound()];
    for (i, v) in g.inputs.iter().enumerate() {
        input_slot[v.index()] = i;
    }

    // Conv -> Relu / Clip pairs whose activation runs in the convolution's epilogue.
    let fused = if mode == Mode::Float && observe.is_none() {
        fused_activations(g, &order, &needed_node)
    } else {
        Vec::new()
    };
    let mut skip = vec![false; g.node_bound()];
    let mut fusion_of = vec![None; g.node_bound()];
    for &(conv, act, clamp) in &fused {
        skip[act.index()] = true;
        fusion_of[conv.index()] = Some((act, clamp));
    }

    // Constants stay borrowed from the graph; computed values are owned.
    let mut env: Vec<Option<Cow<'_, Tensor>>> = vec![None; g.value_bound()];
    for &n in &order {
        if !needed_node[n.index()] || skip[n.index()] {
            continue;
        }
        let fusion = fusion_of[n.index()];
        let node = g.node(n);
        // A fused conv produces its activation's result.
        let outputs = fusion.map_or(&node.outputs, |(act, _)| &g.node(act).outputs);
        let wrap = |e: InterpError| InterpError::Node {
            node: n,
            op: node.op.mnemonic(),
            name: node.name.clone(),
            source: Box::new(e),
        };
        let results: Vec<Cow<'_, Tensor>> = match &node.op {
            Op::Input => {
                let v = node.outputs.first().copied();
                match v.map(|v| input_slot[v.index()]) {
                    Some(i) if i < inputs.len() => vec![Cow::Borrowed(&inputs[i])],
                    _ => {
                        return Err(wrap(InterpError::Invalid {
                            op: "input",
                            message: "input node is not listed in the graph inputs".into(),
                        }));
                    }
                }
            }
            Op::Const(c) => {
                // Checked like every operand (consistent storage) by `eval`'s rules.
                check_storage("const", &c.value).map_err(wrap)?;
                vec![Cow::Borrowed(&c.value)]
            }
            op => {
                // Operands used for the last time here (and only once by this node) are
                // moved in, so elementwise ops can reuse their buffers.
                let mut taken: Vec<Option<Cow<'_, Tensor>>> = Vec::with_capacity(node.inputs.len());
                for v in &node.inputs {
                    let once = node.inputs.iter().filter(|w| *w == v).count() == 1;
                    taken.push(if once && uses[v.index()] == 1 {
                        env[v.index()].take()
                    } else {
                        None
                    });
                }
                let mut args: Vec<Cow<'_, Tensor>> = Vec::with_capacity(node.inputs.len());
                for (v, t) in node.inputs.iter().zip(taken) {
                    let arg = match (t, &env[v.index()]) {
                        (Some(t), _) => t,
                        (None, Some(Cow::Borrowed(r))) => Cow::Borrowed(*r),
                        (None, Some(Cow::Owned(t))) => Cow::Borrowed(t),
                        (None, None) => {
                            return Err(wrap(InterpError::Invalid {
                                op: node.op.mnemonic(),
                                message: format!("operand {v} has no value"),
                            }));
                        }
                    };
                    args.push(arg);
                }
                let types: Vec<TensorType> = outputs.iter().map(|&v| g.ty(v).clone()).collect();
                let in_types: Vec<&TensorType> = node.inputs.iter().map(|&v| g.ty(v)).collect();
                let res = match (op, fusion) {
                    (Op::Conv(a), Some((_, clamp))) => conv_fused(a, args, &types, clamp),
                    _ => eval(op, args, &in_types, &types, mode),
                }
                .map_err(wrap)?;
                for v in &node.inputs {
                    let u = &mut uses[v.index()];
                    *u -= 1;
                    if *u == 0 {
                        recycle(env[v.index()].take());
                    }
                }
                res.into_iter().map(Cow::Owned).collect()
            }
        };
        if results.len() != outputs.len() {
            return Err(wrap(InterpError::Arity {
                op: node.op.mnemonic(),
                expected: format!("{} results", outputs.len()),
                got: results.len(),
            }));
        }
        for (&v, t) in outputs.iter().zip(results) {
            if let Some(obs) = observe.as_mut() {
                obs(v, &t);
            }
            if uses[v.index()] > 0 {
                env[v.index()] = Some(t);
            }
        }
    }
    g.outputs
        .iter()
        .map(|o| {
            env[o.index()]
                .as_ref()
                .map(|t| t.clone().into_owned())
                .ok_or_else(|| InterpError::Invalid {
                    op: "output",
                    message: format!("graph output {o} was not computed"),
                })
        })
        .collect()
}

/// Hands the buffer of a freed computed f32 value (an owned operand after its last use) to
/// [`buffers::give`].
fn recycle(t: Option<Cow<'_, Tensor>>) {
    if let Some(Cow::Owned(Tensor {
        data: crate::tensor::TensorData::F32(v),
        ..
    })) = t
    {
        buffers::give(v);
    }
}

/// The `(conv, activation, clamp)` triples of the needed nodes where a float Conv's only
/// result feeds exactly one Relu or Clip and nothing else (not even a graph output), so the
/// activation can run in the convolution's epilogue and the pre-activation tensor never
/// exists.
fn fused_activations(
    g: &Graph,
    order: &[NodeId],
    needed: &[bool],
) -> Vec<(NodeId, NodeId, conv::Clamp)> {
    let mut out = Vec::new();
    for &n in order {
        let node = g.node(n);
        if !needed[n.index()] || !matches!(node.op, Op::Conv(_)) {
            continue;
        }
        let [v] = node.outputs[..] else { continue };
        if g.outputs.contains(&v) || g.ty(v).dtype != DType::F32 {
            continue;
        }
        let [(act, 0)] = g.users(v)[..] else { continue };
        let an = g.node(act);
        if !needed[act.index()] || an.inputs.len() != 1 || an.outputs.len() != 1 {
            continue;
        }
        if g.ty(an.outputs[0]) != g.ty(v) {
            continue;
        }
        let clamp = match &an.op {
            Op::Relu => conv::Clamp::RELU,
            Op::Clip(c) => conv::Clamp {
                lo: c.min,
                hi: c.max,
            },
            _ => continue,
        };
        out.push((n, act, clamp));
    }
    out
}

/// A Conv with a fused clamp, checked like [`eval`] checks it.
fn conv_fused(
    a: &crate::ops::ConvAttrs,
    args: Vec<Cow<'_, Tensor>>,
    out: &[TensorType],
    clamp: conv::Clamp,
) -> InterpResult<Vec<Tensor>> {
    let name = "conv";
    for a in &args {
        check_storage(name, a)?;
    }
    float_only(name, &args, out, Mode::Float)?;
    let t = one(name, out)?;
    if t.shape.checked_numel().is_none() {
        return Err(invalid(name, format!("result shape {} overflows", t.shape)));
    }
    let r = conv::conv(a, &args, t, Some(clamp))?;
    args.into_iter().for_each(|a| recycle(Some(a)));
    ensure(
        r.shape == t.shape && r.numel() == t.shape.numel(),
        name,
        || format!("produced {} for result type {}", r.shape, t.shape),
    )?;
    Ok(vec![r])
}

/// Evaluates one op. Operands may be owned (last use) so that kernels can work in place.
/// `ins` are the operands' types (quantization parameters included).
fn eval(
    op: &Op,
    args: Vec<Cow<'_, Tensor>>,
    ins: &[&TensorType],
    out: &[TensorType],
    mode: Mode,
) -> InterpResult<Vec<Tensor>> {
    let name = op.mnemonic();
    for a in &args {
        check_storage(name, a)?;
    }
    for t in out {
        if t.shape.checked_numel().is_none() {
            return Err(invalid(name, format!("result shape {} overflows", t.shape)));
        }
    }
    let results = match op {
        Op::Input => return Err(InterpError::EvalInput),
        Op::Const(c) => {
            arity(name, &args, 0, 0)?;
            check_storage(name, &c.value)?;
            vec![c.value.clone()]
        }
        Op::Conv(a) => {
            float_only(name, &args, out, mode)?;
            let r = conv::conv(a, &args, one(name, out)?, None)?;
            args.into_iter().for_each(|a| recycle(Some(a)));
            vec![r]
        }
        Op::ConvTranspose(a) => {
            float_only(name, &args, out, mode)?;
            vec![conv::conv_transpose(a, &args, one(name, out)?)?]
        }
        Op::Gemm(a) => {
            float_only(name, &args, out, mode)?;
            vec![gemm::gemm(a, &args, one(name, out)?)?]
        }
        Op::MatMul => {
            float_only(name, &args, out, mode)?;
            vec![gemm::matmul(&args, one(name, out)?)?]
        }
        Op::BatchNorm(a) => {
            float_only(name, &args, out, mode)?;
            vec![elementwise::batch_norm(a, args, one(name, out)?)?]
        }
        Op::Relu
        | Op::LeakyRelu(_)
        | Op::Clip(_)
        | Op::Sigmoid
        | Op::HardSigmoid(_)
        | Op::HardSwish
        | Op::Tanh => {
            float_only(name, &args, out, mode)?;
            vec![elementwise::unary(op, args, one(name, out)?)?]
        }
        Op::PRelu | Op::Add | Op::Sub | Op::Mul | Op::Div => {
            float_only(name, &args, out, mode)?;
            vec![elementwise::binary(op, args, one(name, out)?)?]
        }
        Op::Softmax(a) => {
            float_only(name, &args, out, mode)?;
            vec![elementwise::softmax(a, args, one(name, out)?)?]
        }
        Op::AveragePool(a) => {
            float_only(name, &args, out, mode)?;
            vec![pool::average_pool(a, &args, one(name, out)?)?]
        }
        Op::GlobalAveragePool => {
            float_only(name, &args, out, mode)?;
            vec![pool::global_average_pool(&args, one(name, out)?)?]
        }
        Op::ReduceMean(a) => {
            float_only(name, &args, out, mode)?;
            vec![pool::reduce_mean(a, &args, one(name, out)?)?]
        }
        Op::MaxPool(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Slice(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Pad(_)
        | Op::Resize(_) => {
            if args.first().is_some_and(|a| a.dtype.is_int()) {
                movement::run_int(op, &args, out, |op, args, out| {
                    let ins: Vec<TensorType> = args
                        .iter()
                        .map(|t| TensorType::f32(t.shape.clone()))
                        .collect();
                    let refs: Vec<&TensorType> = ins.iter().collect();
                    eval(op, args, &refs, out, Mode::Float)
                })?
            } else {
                // Data movement on f32 is a float op (the integer interpreter moves only
                // integers).
                float_only(name, &args, out, mode)?;
                movement_f32(op, args, out)?
            }
        }
        Op::Quantize => {
            arity(name, &args, 1, 1)?;
            vec![qdq::quantize(&args[0], one(name, out)?)?]
        }
        Op::Dequantize => {
            arity(name, &args, 1, 1)?;
            let ty = ins
                .first()
                .ok_or_else(|| invalid(name, "missing the operand type"))?;
            vec![qdq::dequantize(&args[0], ty, one(name, out)?)?]
        }
        Op::ConvInt(_)
        | Op::ConvTransposeInt(_)
        | Op::GemmInt(_)
        | Op::MatMulInt
        | Op::Requant(_)
        | Op::AddInt(_)
        | Op::MulInt(_)
        | Op::AvgPoolInt(_)
        | Op::Lut(_)
        | Op::SoftmaxInt(_)
        | Op::ResizeInt(_) => match mode {
            Mode::Float => return Err(InterpError::NeedsIntegerInterpreter { op: name }),
            Mode::Int => int::eval(op, &args, ins, out)?,
        },
    };
    // Kernels build results from the result types; this guards their element counts.
    ensure(results.len() == out.len(), name, || {
        format!("produced {} results for {} types", results.len(), out.len())
    })?;
    for (r, t) in results.iter().zip(out) {
        ensure(
            r.shape == t.shape && r.numel() == t.shape.numel() && r.dtype == t.dtype,
            name,
            || {
                format!(
                    "produced {}{} for result type {}{}",
                    r.dtype, r.shape, t.dtype, t.shape
                )
            },
        )?;
    }
    Ok(results)
}

/// The f32 kernels of the data-movement ops.
fn movement_f32(
    op: &Op,
    args: Vec<Cow<'_, Tensor>>,
    out: &[TensorType],
) -> InterpResult<Vec<Tensor>> {
    let name = op.mnemonic();
    Ok(match op {
        Op::MaxPool(a) => vec![pool::max_pool(a, &args, one(name, out)?)?],
        Op::Concat(a) => vec![shape::concat(a, &args, one(name, out)?)?],
        Op::Split(a) => shape::split(a, &args, out)?,
        Op::Slice(a) => vec![shape::slice(a, &args, one(name, out)?)?],
        Op::Reshape => vec![shape::reshape(args, one(name, out)?)?],
        Op::Transpose(a) => vec![shape::transpose(a, &args, one(name, out)?)?],
        Op::Pad(a) => vec![shape::pad(a, &args, one(name, out)?)?],
        Op::Resize(a) => vec![resize::resize(a, &args, one(name, out)?)?],
        Op::Input
        | Op::Const(_)
        | Op::Conv(_)
        | Op::ConvTranspose(_)
        | Op::Gemm(_)
        | Op::MatMul
        | Op::BatchNorm(_)
        | Op::Relu
        | Op::PRelu
        | Op::LeakyRelu(_)
        | Op::Clip(_)
        | Op::Sigmoid
        | Op::HardSigmoid(_)
        | Op::HardSwish
        | Op::Tanh
        | Op::Softmax(_)
        | Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::ReduceMean(_)
        | Op::Quantize
        | Op::Dequantize
        | Op::ConvInt(_)
        | Op::ConvTransposeInt(_)
        | Op::GemmInt(_)
        | Op::MatMulInt
        | Op::Requant(_)
        | Op::AddInt(_)
        | Op::MulInt(_)
        | Op::AvgPoolInt(_)
        | Op::Lut(_)
        | Op::SoftmaxInt(_)
        | Op::ResizeInt(_) => return Err(invalid(name, "not a data-movement op")),
    })
}

/// Checks that a float op runs in the float interpreter on f32 operands and f32 result
/// types.
fn float_only(
    name: &'static str,
    args: &[Cow<'_, Tensor>],
    out: &[TensorType],
    mode: Mode,
) -> InterpResult<()> {
    if mode == Mode::Int {
        return Err(InterpError::FloatOpInIntegerInterpreter { op: name });
    }
    for a in args {
        check_f32(name, a)?;
    }
    for t in out {
        if t.dtype != DType::F32 {
            return Err(InterpError::UnsupportedDType {
                op: name,
                dtype: t.dtype,
            });
        }
    }
    Ok(())
}

/// Checks that `t`'s storage holds its element type and `shape.numel()` elements.
fn check_storage(op: &'static str, t: &Tensor) -> InterpResult<()> {
    if !t.data.fits(t.dtype) {
        return Err(invalid(
            op,
            format!("operand storage cannot hold {} elements", t.dtype),
        ));
    }
    if t.shape.checked_numel() != Some(t.numel()) {
        return Err(invalid(
            op,
            format!("operand of shape {} holds {} elements", t.shape, t.numel()),
        ));
    }
    Ok(())
}

/// Checks that `t` is an f32 tensor whose storage matches its shape.
fn check_f32(op: &'static str, t: &Tensor) -> InterpResult<()> {
    if t.dtype != DType::F32 || t.as_f32().is_none() {
        return Err(InterpError::UnsupportedDType { op, dtype: t.dtype });
    }
    if t.shape.checked_numel() != Some(t.numel()) {
        return Err(invalid(
            op,
            format!("operand of shape {} holds {} elements", t.shape, t.numel()),
        ));
    }
    Ok(())
}

/// The single result type of a one-result op.
fn one<'t>(op: &'static str, out: &'t [TensorType]) -> InterpResult<&'t TensorType> {
    match out {
        [t] => Ok(t),
        _ => Err(InterpError::Arity {
            op,
            expected: "1 result type".into(),
            got: out.len(),
        }),
    }
}

/// Checks that the op got between `min` and `max` operands.
fn arity<T>(op: &'static str, args: &[T], min: usize, max: usize) -> InterpResult<()> {
    if args.len() < min || args.len() > max {
        let expected = if min == max {
            format!("{min} operands")
        } else {
            format!("{min} to {max} operands")
        };
        return Err(InterpError::Arity {
            op,
            expected,
            got: args.len(),
        });
    }
    Ok(())
}

/// An [`InterpError::Invalid`].
fn invalid(op: &'static str, message: impl Into<String>) -> InterpError {
    InterpError::Invalid {
        op,
        message: message.into(),
    }
}

/// Fails with `message` unless `cond`.
fn ensure(cond: bool, op: &'static str, message: impl FnOnce() -> String) -> InterpResult<()> {
    if cond {
        Ok(())
    } else {
        Err(invalid(op, message()))
    }
}

/// The f32 elements of an operand already checked to be f32 by [`eval`].
fn f32s(t: &Tensor) -> &[f32] {
    t.as_f32().unwrap_or(&[])
}

/// Takes the f32 buffer of an owned operand, or copies a borrowed one.
fn into_f32_vec(t: Cow<'_, Tensor>) -> Vec<f32> {
    match t {
        Cow::Owned(Tensor {
            data: crate::tensor::TensorData::F32(v),
            ..
        }) => v,
        other => f32s(&other).to_vec(),
    }
}

/// A float tensor of the given type's shape.
fn tensor(ty: &TensorType, data: Vec<f32>) -> Tensor {
    Tensor {
        dtype: DType::F32,
        shape: ty.shape.clone(),
        data: crate::tensor::TensorData::F32(data),
    }
}
