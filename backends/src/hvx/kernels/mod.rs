//! Per-op C emission for the hvx-like backend: vector conv/gemm paths and scalar loops.
//!
//! Buffers are referenced through markers (`@V<n>@` for values, `@S<n>@` for scratch) that
//! [`Emitter::finish`] replaces with arena offsets once every lifetime is known.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use ir::arith::RoundingMode;
use ir::{Graph, NodeId, Op, TensorData, ValueId};

use super::plan::{self, Request};
use super::{Boundary, EmitError, bytes_of, cfloat, ctype};
use crate::c::code;
use crate::program::{Call, Kernel, Loc, Operand, Program};

mod conv;
mod scalar;
mod vector;

/// The marker of a value's arena offset.
pub(crate) fn off_marker(v: ValueId) -> String {
    format!("@V{}@", v.index())
}

pub(crate) struct Emitter<'g> {
    g: &'g Graph,
    body: String,
    consts: String,
    nconst: usize,
    step: usize,
    /// value index -> (first, last) step that references it
    touch: HashMap<usize, (usize, usize)>,
    scratch: Vec<Request>,
    skip: HashSet<NodeId>,
    outputs: Vec<ValueId>,
    inputs: Vec<ValueId>,
    /// The portable kernel program (built on first use) for nodes without a native kernel.
    portable: Option<Result<Portable, String>>,
    /// Portable constants already printed (`qcc_c<i>`).
    portable_consts: HashSet<usize>,
    /// Portable kernels called (for pasting their library sections).
    portable_kernels: Vec<Kernel>,
}

/// The generic-C kernel program and the memory plan its arena offsets come from.
struct Portable {
    program: Program,
    plan: passes::plan_memory::MemoryPlan,
}

fn unsupported(g: &Graph, n: NodeId, why: impl Into<String>) -> EmitError {
    EmitError::Unsupported {
        node: n,
        op: g.node(n).op.mnemonic(),
        why: why.into(),
    }
}

fn mode(r: RoundingMode) -> &'static str {
    match r {
        RoundingMode::HalfUp => "QCC_HALF_UP",
        RoundingMode::HalfAwayFromZero => "QCC_HALF_AWAY",
    }
}

fn ints(t: &TensorData) -> Vec<i64> {
    (0..t.len()).map(|i| t.get_i64(i)).collect()
}

fn zp_of(g: &Graph, v: ValueId, c: usize) -> i32 {
    g.ty(v).quant.as_ref().map_or(0, |q| q.zero_point(c))
}

impl<'g> Emitter<'g> {
    pub(crate) fn new(g: &'g Graph, b: &Boundary) -> Emitter<'g> {
        let mut e = Emitter {
            g,
            body: String::new(),
            consts: String::new(),
            nconst: 0,
            step: 1,
            touch: HashMap::new(),
            scratch: Vec::new(),
            skip: b.skip.iter().copied().collect(),
            outputs: b.outputs.clone(),
            inputs: b.inputs.clone(),
            portable: None,
            portable_consts: HashSet::new(),
            portable_kernels: Vec::new(),
        };
        for &v in &b.inputs {
            e.touch.insert(v.index(), (0, 0));
        }
        e
    }

    /// A pointer expression of type `T *` to value `v`'s buffer.
    fn buf(&mut self, v: ValueId) -> String {
        let s = self.step;
        let e = self.touch.entry(v.index()).or_insert((s, s));
        e.0 = e.0.min(s);
        e.1 = e.1.max(s);
        format!("(({} *)(A + {}))", ctype(self.g.ty(v).dtype), off_marker(v))
    }

    /// A scratch buffer of `bytes` live during the current node.
    fn scratch(&mut self, bytes: usize) -> String {
        self.scratch.push(Request {
            bytes,
            first: self.step,
            last: self.step,
        });
        format!("(A + @S{}@)", self.scratch.len() - 1)
    }

    /// A const array; returns its name.
    fn konst(&mut self, ct: &str, vals: &[i64]) -> String {
        self.konst_in(ct, "", vals)
    }

    /// A const array 128-byte aligned under `__HVX__` (for aligned vector loads).
    fn konst_aligned(&mut self, ct: &str, vals: &[i64]) -> String {
        self.konst_in(ct, "QCC_ALIGN128 ", vals)
    }

    fn konst_in(&mut self, ct: &str, attr: &str, vals: &[i64]) -> String {
        let name = format!("qcc_k{}", self.nconst);
        self.nconst += 1;
        let _ = write!(
            self.consts,
            "static const {ct} {attr}{name}[{}] = {{",
            vals.len().max(1)
        );
        for (i, v) in vals.iter().enumerate() {
            if i % 24 == 0 {
                self.consts.push_str("\n ");
            }
            if ct == "int32_t" && *v == i64::from(i32::MIN) {
                self.consts.push_str(" INT32_MIN,");
            } else {
                let _ = write!(self.consts, " {v},");
            }
        }
        if vals.is_empty() {
            self.consts.push_str(" 0");
        }
        self.consts.push_str("\n};\n");
        name
    }

    pub(crate) fn node(&mut self, n: NodeId) -> Result<(), EmitError> {
        self.step += 1;
        if self.skip.contains(&n) {
            return Ok(());
        }
        let g = self.g;
        let node = g.node(n);
        let _ = writeln!(
            self.body,
            "  /* {} {} */",
            node.op.mnemonic(),
            node.name.escape_default()
        );
        let snap = (
            self.body.len(),
            self.consts.len(),
            self.nconst,
            self.scratch.len(),
            self.skip.clone(),
            self.touch.clone(),
        );
        match self.native(n) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.body.truncate(snap.0);
                self.consts.truncate(snap.1);
                self.nconst = snap.2;
                self.scratch.truncate(snap.3);
                self.skip = snap.4;
                self.touch = snap.5;
                self.portable_node(n).map_err(|why| match e {
                    EmitError::Unsupported { node, op, why: w } => EmitError::Unsupported {
                        node,
                        op,
                        why: format!("{w}; portable fallback: {why}"),
                    },
                    other => other,
                })
            }
        }
    }

    /// The native (vector or scalar) kernel of `n`.
    fn native(&mut self, n: NodeId) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        match &node.op {
            Op::Input | Op::Const(_) => Ok(()),
            Op::ConvInt(a) => self.conv(n, &a.conv),
            Op::GemmInt(a) => self.gemm(n, a.trans_b),
            Op::Requant(a) => self.requant(n, a),
            Op::AddInt(a) if self.add_vec(n, a)? => Ok(()),
            Op::AddInt(a) => {
                let (ma, mb, mo) = (a.ma, a.mb, a.mo);
                let (za, zb) = (zp_of(g, node.inputs[0], 0), zp_of(g, node.inputs[1], 0));
                let zy = zp_of(g, node.outputs[0], 0);
                let expr = format!(
                    "qs_requant(qs_wrap_add(qs_mulshift((int32_t)((uint32_t)((int32_t)A0 - {za}) << {s}), {}, {}, {m}), qs_mulshift((int32_t)((uint32_t)((int32_t)B0 - {zb}) << {s}), {}, {}, {m})), {}, {}, {zy}, {}, {}, {m})",
                    ma.m0,
                    ma.shift,
                    mb.m0,
                    mb.shift,
                    mo.m0,
                    mo.shift,
                    a.lo,
                    a.hi,
                    s = a.shift,
                    m = mode(a.rounding)
                );
                self.binary(n, &expr)
            }
            Op::MulInt(a) => {
                let (za, zb) = (zp_of(g, node.inputs[0], 0), zp_of(g, node.inputs[1], 0));
                let zy = zp_of(g, node.outputs[0], 0);
                let expr = format!(
                    "qs_requant(qs_wrap_mul((int32_t)A0 - {za}, (int32_t)B0 - {zb}), {}, {}, {zy}, {}, {}, {})",
                    a.m.m0,
                    a.m.shift,
                    a.lo,
                    a.hi,
                    mode(a.rounding)
                );
                self.binary(n, &expr)
            }
            Op::MaxPool(p)
                if self.maxpool_vec(n, &p.kernel, &p.strides, &p.pads, &p.dilations)? =>
            {
                Ok(())
            }
            Op::MaxPool(p) => self.pool(n, &p.kernel, &p.strides, &p.pads, &p.dilations, None),
            Op::AvgPoolInt(a) => {
                let p = &a.pool.pool;
                self.pool(
                    n,
                    &p.kernel,
                    &p.strides,
                    &p.pads,
                    &p.dilations,
                    Some((a.pool.count_include_pad, a.rounding)),
                )
            }
            Op::Lut(a) => self.lut(n, &a.table, a.axis),
            Op::Reshape => {
                let (x, y) = (self.buf(node.inputs[0]), self.buf(node.outputs[0]));
                let _ = writeln!(
                    self.body,
                    "  qs_copy({y}, {x}, {});",
                    bytes_of(g.ty(node.outputs[0]))
                );
                Ok(())
            }
            Op::Transpose(t) => self.transpose(n, &t.perm),
            Op::Concat(c) => self.concat(n, c.axis),
            Op::Quantize => {
                let (x, y) = (node.inputs[0], node.outputs[0]);
                let t = g.ty(y);
                let q = t
                    .quant
                    .as_ref()
                    .ok_or_else(|| unsupported(g, n, "unquantized output"))?;
                let (lo, hi) = t.dtype.int_range().unwrap_or((0, 0));
                let (xs, ys) = (self.buf(x), self.buf(y));
                let _ = writeln!(
                    self.body,
                    "  {{ size_t j; for (j = 0; j < {}; j++) {ys}[j] = ({})qs_quantize({xs}[j], {}, {}, {lo}, {hi}); }}",
                    t.shape.numel(),
                    ctype(t.dtype),
                    cfloat(ir::arith::reciprocal(q.scale(0))),
                    q.zero_point(0)
                );
                Ok(())
            }
            Op::Dequantize => {
                let (x, y) = (node.inputs[0], node.outputs[0]);
                let t = g.ty(x);
                let (s, zp) = t
                    .quant
                    .as_ref()
                    .map_or((1.0, 0), |q| (q.scale(0), q.zero_point(0)));
                let (xs, ys) = (self.buf(x), self.buf(y));
                let _ = writeln!(
                    self.body,
                    "  {{ size_t j; for (j = 0; j < {}; j++) {ys}[j] = qs_dequantize({xs}[j], {}, {zp}); }}",
                    t.shape.numel(),
                    cfloat(s)
                );
                Ok(())
            }
            Op::Conv(_)
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
            | Op::ReduceMean(_) => Err(unsupported(g, n, "float op in an integer graph")),
            Op::Split(_)
            | Op::Slice(_)
            | Op::Pad(_)
            | Op::Resize(_)
            | Op::ConvTransposeInt(_)
            | Op::MatMulInt
            | Op::SoftmaxInt(_)
            | Op::ResizeInt(_) => Err(unsupported(g, n, "no native kernel")),
        }
    }

    /// Emits `n` as the generic-C kernel calls of [`crate::program`], with their arena
    /// offsets mapped onto this backend's buffers.
    fn portable_node(&mut self, n: NodeId) -> Result<(), String> {
        let g = self.g;
        if self.portable.is_none() {
            let plan = passes::plan_memory::plan_unfused(g, passes::plan_memory::ARENA_ALIGN);
            self.portable = Some(
                crate::program::build(g)
                    .map(|program| Portable { program, plan })
                    .map_err(|e| e.to_string()),
            );
        }
        let calls: Vec<Call> = match self.portable.as_ref().expect("built") {
            Ok(p) => p
                .program
                .calls
                .iter()
                .filter(|c| c.node == n)
                .cloned()
                .collect(),
            Err(e) => return Err(e.clone()),
        };
        if calls.is_empty() {
            return Err("no portable kernel call".into());
        }
        let node = g.node(n);
        let vals: Vec<ValueId> = node.inputs.iter().chain(&node.outputs).copied().collect();
        for c in &calls {
            let ins = c
                .ins
                .iter()
                .map(|o| {
                    self.portable_ptr(o, &vals).map(|p| {
                        format!("{{{p}, {}}}", code(o.dtype, matches!(o.loc, Loc::Arena(_))))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self.portable_ptr(&c.out, &vals)?;
            if !self.portable_kernels.contains(&c.kernel) {
                self.portable_kernels.push(c.kernel);
            }
            let params: Vec<String> = c.params.iter().map(|x| x.to_string()).collect();
            let _ = writeln!(
                self.body,
                "  {{ static const int32_t p[{}] = {{{}}};\n    const qcc_in in[{}] = {{{}}};\n    k_{}(in, {out}, {}, p); }}",
                params.len().max(1),
                if params.is_empty() {
                    "0".into()
                } else {
                    params.join(", ")
                },
                ins.len().max(1),
                if ins.is_empty() {
                    "{0, 0}".into()
                } else {
                    ins.join(", ")
                },
                c.kernel.name(),
                code(c.out.dtype, true),
            );
        }
        Ok(())
    }

    /// The C pointer of a portable operand: a constant (printed on first use) or the
    /// buffer of the value among `vals` whose portable arena range holds it.
    fn portable_ptr(&mut self, o: &Operand, vals: &[ValueId]) -> Result<String, String> {
        let g = self.g;
        let p = match self.portable.as_ref() {
            Some(Ok(p)) => p,
            _ => return Err("no portable program".into()),
        };
        match o.loc {
            Loc::Const(i) => {
                if self.portable_consts.insert(i) {
                    let c = &p.program.consts[i];
                    let vals: Vec<String> = c
                        .values
                        .iter()
                        .map(|v| {
                            if *v == i32::MIN {
                                "INT32_MIN".to_string()
                            } else {
                                v.to_string()
                            }
                        })
                        .collect();
                    let _ = writeln!(
                        self.consts,
                        "static const {} qcc_c{i}[{}] = {{{}}};",
                        crate::c::ctype(c.dtype),
                        vals.len().max(1),
                        if vals.is_empty() {
                            "0".to_string()
                        } else {
                            vals.join(", ")
                        }
                    );
                }
                Ok(format!("qcc_c{i}"))
            }
            Loc::Arena(off) => {
                let hit = vals.iter().copied().find_map(|v| {
                    let base = p.plan.offset(v)?;
                    let len = bytes_of(g.ty(v)).max(1);
                    (off >= base && off < base + len).then(|| (v, off - base))
                });
                let (v, delta) =
                    hit.ok_or_else(|| format!("arena offset {off} is not an operand of the node"))?;
                let b = self.buf(v);
                let _ = b;
                Ok(if delta == 0 {
                    format!("(A + {})", off_marker(v))
                } else {
                    format!("(A + {} + {delta})", off_marker(v))
                })
            }
        }
    }

    /// The generic-C library sections the portable calls need.
    pub(crate) fn portable_library(&self) -> String {
        if self.portable_kernels.is_empty() {
            return String::new();
        }
        let names: Vec<&str> = self.portable_kernels.iter().map(|k| k.name()).collect();
        let arith = names.iter().any(|k| crate::c::needs_arith(k));
        let mut s = String::from("\n/* ---- portable kernels (generic-C library) ---- */\n");
        for (kname, body) in crate::kernel_sections(crate::c::PRELUDE) {
            if kname == "base" {
                // The boundary helpers (quantize/move) are this backend's own.
                let cut = body.find(crate::c::BOUNDARY_MARK).unwrap_or(body.len());
                s.push_str(&body[..cut]);
            } else if (kname == "arith" && arith) || names.contains(&kname) {
                s.push_str(body);
            }
        }
        s
    }

    /// Replaces markers with offsets; returns (body, consts, arena bytes).
    pub(crate) fn finish(mut self) -> (String, String, usize, Vec<(String, String)>) {
        let end = self.step + 1;
        for &v in &self.outputs {
            let e = self.touch.entry(v.index()).or_insert((end, end));
            e.1 = end;
        }
        for &v in &self.inputs {
            self.touch.entry(v.index()).or_insert((0, 0)).0 = 0;
        }
        let mut keys: Vec<usize> = self.touch.keys().copied().collect();
        keys.sort();
        let mut reqs: Vec<Request> = keys
            .iter()
            .map(|&k| {
                let (first, last) = self.touch[&k];
                let v = self.g.value_ids().find(|v| v.index() == k).expect("value");
                Request {
                    bytes: bytes_of(self.g.ty(v)),
                    first,
                    last,
                }
            })
            .collect();
        let nv = reqs.len();
        reqs.extend(self.scratch.iter().cloned());
        let (offs, total) = plan::place(&reqs);
        let mut map: Vec<(String, String)> = keys
            .iter()
            .enumerate()
            .map(|(i, &k)| (format!("@V{k}@"), offs[i].to_string()))
            .collect();
        for i in 0..self.scratch.len() {
            map.push((format!("@S{i}@"), offs[nv + i].to_string()));
        }
        let body = subst(&self.body, &map);
        (body, self.consts, total, map)
    }
}

/// Replaces `@V<n>@` / `@S<n>@` markers by their offsets.
pub(crate) fn subst(s: &str, map: &[(String, String)]) -> String {
    let lookup: HashMap<&str, &str> = map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('@') {
        out.push_str(&rest[..p]);
        let tail = &rest[p + 1..];
        match tail
            .find('@')
            .and_then(|q| lookup.get(&rest[p..p + q + 2]).map(|o| (q, o)))
        {
            Some((q, o)) => {
                out.push_str(o);
                rest = &rest[p + q + 2..];
            }
            None => {
                out.push('@');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}
