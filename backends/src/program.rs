//! The kernel program: an Integer-phase graph lowered to a flat list of kernel calls.
//!
//! Both portable emitters (Rust host simulation and `generic-c`) print the same
//! [`Program`]: every decision about what a node computes (geometry, zero points,
//! multipliers, pooling windows, gather tables) is made here once, in Rust, and the
//! emitters only print calls to a fixed kernel library with these parameters. The kernel
//! libraries (`rust/prelude.rs`, `c/prelude.c`) implement each [`Kernel`] with the parameter
//! layout documented on its variant, transliterating `ir::arith` for the arithmetic.
//!
//! Storage: every integer activation lives in the arena at the offset of
//! [`passes::plan_memory::plan`] ([`build_fast`]; [`build`] uses
//! [`passes::plan_memory::plan_unfused`]); constants (weights, biases, tables) are [`ConstData`];
//! f32 values exist only at the boundary ([`Boundary`]): graph inputs must be quantized by
//! one `Quantize` each and graph outputs must come from `Dequantize`.
//!
//! Fused accumulators: [`build_fast`] computes every pair of
//! [`passes::plan_memory::fused_accumulators`] (a `conv_int`/`gemm_int`/`matmul_int` and the
//! `requant` that is the only use of its i32 result) as one call whose requantize epilogue
//! (`REQ = 1`) stores each output in the requant result's element type; the requant emits
//! nothing and the accumulator, which has no arena slot, is never an operand.

use crate::EmitError;
use ir::arith::{RoundingMode, fixed_reciprocal, quantize_multiplier};
use ir::{
    DType, Graph, Node, NodeId, Op, PadAttrs, PadMode, QuantGranularity, ResizeAttrs, ResizeMode,
    Tensor, TensorData, TensorType, ValueId,
};
use passes::plan_memory::{self, ARENA_ALIGN, MemoryPlan};

pub mod fast;

/// Where an operand lives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Loc {
    /// Byte offset in the arena.
    Arena(usize),
    /// Index into [`Program::consts`].
    Const(usize),
}

/// A kernel operand: location, element type and element count.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Operand {
    /// Where it lives.
    pub loc: Loc,
    /// Its element type (i32 for tables).
    pub dtype: DType,
    /// Number of elements.
    pub numel: usize,
}

/// A constant array (weights, biases, tables), values widened to i32.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConstData {
    /// Element type of the storage.
    pub dtype: DType,
    /// The values.
    pub values: Vec<i32>,
    /// Bits per stored element. Below 8 (signed weights of 2..7 bits, [`const_bits`]) the
    /// emitters store the values bit-packed ([`pack_bits`]) and unpack them when loaded;
    /// otherwise `dtype.bits()`.
    pub bits: u32,
}

/// Storage bits of a constant of type `ty`: signed integer constants whose quantized width
/// (`QuantParams::bits`, else the element type's) is 2..=7 bits are bit-packed at that width;
/// everything else keeps its element type.
pub fn const_bits(ty: &TensorType) -> u32 {
    let bits = ty.quant.as_ref().map_or(ty.dtype.bits(), |q| q.bits);
    match ty.dtype {
        DType::I8 | DType::I4 if (2..8).contains(&bits) => bits,
        _ => ty.dtype.bits(),
    }
}

/// Packs `bits`-wide two's-complement values into a little-endian bit stream: element `i`
/// occupies bits `[i*bits, (i+1)*bits)`, counted from bit 0 of byte 0 (for 4 bits: element
/// `i` in byte `i / 2`, low nibble first). One zero byte is appended so that a reader may
/// always load two bytes. Values are truncated to `bits`.
pub fn pack_bits(values: &[i32], bits: u32) -> Vec<u8> {
    let total = (values.len() * bits as usize).div_ceil(8) + 1;
    let mut out = vec![0u8; total];
    let mask = (1u32 << bits) - 1;
    for (i, &v) in values.iter().enumerate() {
        let bit = i * bits as usize;
        let u = ((v as u32) & mask) << (bit % 8);
        out[bit / 8] |= (u & 0xff) as u8;
        out[bit / 8 + 1] |= (u >> 8) as u8;
    }
    out
}

/// Element `i` of a [`pack_bits`] stream, sign-extended (the loaders of both libraries).
pub fn unpack_bit(packed: &[u8], bits: u32, i: usize) -> i32 {
    let bit = i * bits as usize;
    let u = (u32::from(packed[bit / 8]) | (u32::from(packed[bit / 8 + 1]) << 8)) >> (bit % 8);
    let u = u & ((1u32 << bits) - 1);
    if u >= 1 << (bits - 1) {
        u as i32 - (1i32 << bits)
    } else {
        u as i32
    }
}

/// Bytes a constant takes in the emitted code ([`ConstData::bits`]).
pub fn const_storage_bytes(c: &ConstData) -> usize {
    if c.bits < 8 {
        (c.values.len() * c.bits as usize).div_ceil(8)
    } else {
        c.values.len() * (c.dtype.bits() as usize / 8).max(1)
    }
}

/// One graph input or output at the float boundary.
#[derive(Clone, PartialEq, Debug)]
pub struct Boundary {
    /// The external name.
    pub name: String,
    /// Shape (NCHW, as in the model).
    pub shape: Vec<usize>,
    /// The quantized tensor in the arena.
    pub q: Operand,
    /// Elements before the quantized axis (all elements per-tensor: `outer = 1`).
    pub outer: usize,
    /// Size of the quantized axis (1 per-tensor).
    pub ch: usize,
    /// Elements after the quantized axis.
    pub inner: usize,
    /// Scale per channel.
    pub scales: Vec<f32>,
    /// Compile-time reciprocal `1/scale` per channel (`ir::arith::reciprocal`).
    pub inv_scales: Vec<f32>,
    /// Zero point per channel.
    pub zero_points: Vec<i32>,
    /// Quantized range.
    pub qmin: i32,
    /// Quantized range.
    pub qmax: i32,
}

/// The kernels of the portable libraries. Parameters are `i32`s in the order given.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kernel {
    /// ins `[x, w, bias?]`, with `REQ` `[x, w, bias, m0, shift, zp_in]` (`bias` a dummy
    /// table when `HAS_BIAS = 0`); params `[N, C, H, W, M, KH, KW, OH, OW, SH, SW, DH, DW,
    /// PT, PL, G, ZPX, HAS_BIAS, CG, MG, REQ, RQC, ZPOUT, LO, HI, MODE]` (`CG = C/G`,
    /// `MG = M/G`, so kernels never divide). `acc[n,m,oh,ow] = bias[m] + sum (x - ZPX) * w`
    /// over the group's channels and taps with `ih = oh*SH - PT + kh*DH` inside `[0, H)`.
    /// `REQ = 0`: `y = acc` (i32). `REQ = 1` (the fused requantize epilogue): `y =
    /// ir::arith::requantize(acc - zp_in[c], (m0[c], shift[c]), ZPOUT, LO, HI)` in `y`'s
    /// element type, with `c = m` when `RQC = 1` (per channel) and `c = 0` otherwise; the
    /// tables and `MODE` as [`Kernel::Requant`]'s.
    Conv,
    /// ins `[x, w, bias?]`; params as [`Kernel::Conv`] with `REQ = 0` always (the kernel
    /// scatters into its whole accumulator, so it is never fused; `w` is `[C, M/G, KH,
    /// KW]`): every `(x - ZPX) * w` is added at `oh = ih*SH - PT + kh*DH` when inside
    /// `[0, OH)`.
    ConvTranspose,
    /// ins `[a, b, bias, batches]`, with `REQ` also `[.., m0, shift, zp_in]`; params `[M, K,
    /// N, TRANS_B, ZPA, ZPB, HAS_BIAS, NB, REQ, RQC, ZPOUT, LO, HI, MODE]`; `batches` holds
    /// `NB` pairs of element offsets `(a, b)`; batch `i` writes `y[i*M*N..]`. The epilogue
    /// is [`Kernel::Conv`]'s with the channel `c = j` (the column) when `RQC = 1`.
    MatMul,
    /// ins `[x, m0, shift, zp_in]` (tables of `CH`); params `[OUTER, CH, INNER, ZPOUT, LO,
    /// HI, MODE]`: `ir::arith::requantize(x - zp_in[c], (m0[c], shift[c]), ZPOUT, LO, HI)`.
    Requant,
    /// ins `[a, b, dims, sa, sb]` (tables of `RANK`); params `[RANK, NUMEL, ZPA, ZPB, ZPY,
    /// SHIFT, MA0, MAS, MB0, MBS, MO0, MOS, MODE, LO, HI]` (`ir::ops::AddIntAttrs`).
    Add,
    /// ins `[a, b, dims, sa, sb]`; params `[RANK, NUMEL, ZPA, ZPB, ZPY, M0, MS, MODE, LO, HI]`.
    Mul,
    /// ins `[x, hs, hn, ws, wn]` (first valid row/column and number of valid taps per output
    /// row/column); params `[PLANES, H, W, OH, OW, DH, DW, EMPTY]`.
    MaxPool,
    /// ins `[x, hs, hn, hp, ws, wn, wp, rm0, rsh]` (`hp`/`wp`: taps inside the padded extent;
    /// `rm0`/`rsh`: `fixed_reciprocal(count)` indexed by count); params `[PLANES, H, W, OH,
    /// OW, DH, DW, ZP, INCLUDE_PAD, MODE]`.
    AvgPool,
    /// ins `[x, table]`; params `[OUTER, CH, INNER, XMIN]`: `y = table[c*256 + x - XMIN]`.
    Lut,
    /// ins `[x, dims, tabs]`; params `[RANK, NUMEL, FILL]`: output element at index
    /// `(i_0..)` is `x[sum tab_d[i_d]]`, or `FILL` when any `tab_d[i_d] < 0` (`tabs` is the
    /// concatenation of the per-dim tables).
    Gather,
    /// ins `[x]`; params `[OUTER, LEN, SRC_STRIDE, SRC_OFF, DST_STRIDE, DST_OFF]`:
    /// `y[o*DST_STRIDE + DST_OFF + j] = x[o*SRC_STRIDE + SRC_OFF + j]`.
    Copy,
    /// ins `[x, exp_table]` (256 entries); params `[OUTER, LEN, INNER, EXP_BITS, M0, MSHIFT,
    /// ZPY, LO, HI, MODE]`: `ir::ops::SoftmaxIntAttrs` per slice along the middle axis with
    /// `m_y = (M0, MSHIFT)`; the builder checks that `LEN * max(exp_table)` fits i32 and that
    /// the entries are non-negative with `exp_table[0] > 0`, so the sum is plain i32.
    Softmax,
    /// ins `[x, dims, idims, i0, i1, w0, w1]`: `dims` the output dims (`RANK`), `idims` the
    /// `NI` interpolated dims (at least one entry), and per-dim tables concatenated like
    /// [`Kernel::Gather`]'s: input element offsets `i0`/`i1` (index times stride) and weights
    /// `w0`/`w1` from `ir::interp::int::resize_int_taps`; params `[RANK, NUMEL, NI, SHIFT,
    /// ZP, LO, HI, MODE]`: `y = ZP + round_shift(sum over the 2^NI corners (x - ZP) * prod w,
    /// SHIFT)` in i64, clamped (`ir::ops::ResizeIntAttrs`; copied dims use `i0`).
    Resize,
    /// The fast path for 8-bit activations and i8 weights ([`fast`]): ins `[x, w, bias, m0,
    /// shift, scratch]` with `w` packed `[G][MB][KT][16][4]` (per group, blocks of 16 output
    /// channels; per k4 step `(ky * KW + kx) * CP / 4 + c / 4`, 16 channels x 4 input
    /// channels; zeros past `MG` and `CG`), `bias` the folded i32 bias (zero-point and
    /// requant-input terms included), `m0`/`shift` the requant multipliers per output channel
    /// (unused without `REQ`) and `scratch` the arena's scratch region; params `[N, C, H, W, M,
    /// KH, KW, OH, OW, SH, SW, DH, DW, PT, PL, G, CG, MG, KT, ZPX, FLIP, REQ, ZPY, LO, HI, MODE,
    /// HP, WP, CP, MB, PS]`: `ZPX` the input zero point after `x ^ FLIP` (128 for i8 inputs),
    /// `REQ` 1 when the following requantize is fused (8-bit output) and 0 for the i32
    /// accumulator, `HP x WP x PS` the padded NHWC image the kernel copies into the scratch,
    /// `KW x CP` the taps of a kernel row and the bytes per tap: `CP = PS` = `CG` rounded up
    /// to 4, or dense rows (`KW` = 1, `PS = CG`, `CP` = the kernel row's `KW * CG` bytes
    /// rounded up to 4). The Rust emitter prints `w` as rows `[M][KT * 4]`
    /// ([`fast::weight_rows`]).
    ConvU8S8,
    /// The fast [`Kernel::Add`] for 8-bit operands of one shape ([`fast`]): ins `[a, b]`;
    /// params `[NUMEL, ZPA, ZPB, ZPY, SHIFT, MA0, MAS, MB0, MBS, MO0, MOS, MODE, LO, HI, FA,
    /// FB]`, operand bytes read as `byte ^ FA` (128 for i8 operands, whose zero points are
    /// moved by the same 128), the result stored as its low byte.
    AddU8,
}

impl Kernel {
    /// Every kernel, in a fixed order.
    pub const ALL: [Kernel; 15] = [
        Kernel::Conv,
        Kernel::ConvTranspose,
        Kernel::MatMul,
        Kernel::Requant,
        Kernel::Add,
        Kernel::Mul,
        Kernel::MaxPool,
        Kernel::AvgPool,
        Kernel::Lut,
        Kernel::Gather,
        Kernel::Copy,
        Kernel::Softmax,
        Kernel::Resize,
        Kernel::ConvU8S8,
        Kernel::AddU8,
    ];

    /// Whether the kernel is one of [`fast`]'s (their libraries share the `fast` section).
    pub fn is_fast(self) -> bool {
        matches!(self, Kernel::ConvU8S8 | Kernel::AddU8)
    }

    /// The kernel's function name in both libraries (`k_<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Conv => "conv",
            Kernel::ConvTranspose => "conv_transpose",
            Kernel::MatMul => "matmul",
            Kernel::Requant => "requant",
            Kernel::Add => "add",
            Kernel::Mul => "mul",
            Kernel::MaxPool => "max_pool",
            Kernel::AvgPool => "avg_pool",
            Kernel::Lut => "lut",
            Kernel::Gather => "gather",
            Kernel::Copy => "copy",
            Kernel::Softmax => "softmax",
            Kernel::Resize => "resize",
            Kernel::ConvU8S8 => "conv_u8s8",
            Kernel::AddU8 => "add_u8",
        }
    }
}

/// One kernel call.
#[derive(Clone, PartialEq, Debug)]
pub struct Call {
    /// The kernel.
    pub kernel: Kernel,
    /// The node it implements (`name (mnemonic)`), for a comment.
    pub what: String,
    /// The node it implements.
    pub node: NodeId,
    /// Input operands.
    pub ins: Vec<Operand>,
    /// The output operand (in the arena).
    pub out: Operand,
    /// Integer parameters.
    pub params: Vec<i32>,
}

/// A whole program.
#[derive(Clone, PartialEq, Debug)]
pub struct Program {
    /// Arena size in bytes (a multiple of 128).
    pub arena_bytes: usize,
    /// Graph inputs, in order.
    pub inputs: Vec<Boundary>,
    /// Graph outputs, in order.
    pub outputs: Vec<Boundary>,
    /// Constants, referenced by [`Loc::Const`].
    pub consts: Vec<ConstData>,
    /// The calls, in execution order.
    pub calls: Vec<Call>,
}

impl Program {
    /// The kernels the program calls, in [`Kernel::ALL`] order.
    pub fn kernels_used(&self) -> Vec<Kernel> {
        Kernel::ALL
            .into_iter()
            .filter(|k| self.calls.iter().any(|c| c.kernel == *k))
            .collect()
    }

    /// The rounding modes the program uses (`MODE` parameters), in a fixed order.
    pub fn rounding_modes(&self) -> Vec<RoundingMode> {
        let mut used = Vec::new();
        for c in &self.calls {
            let mode = match c.kernel {
                Kernel::Requant => Some(c.params[6]),
                Kernel::Add => Some(c.params[12]),
                Kernel::Mul => Some(c.params[7]),
                Kernel::AvgPool => Some(c.params[9]),
                Kernel::Softmax => Some(c.params[9]),
                Kernel::Resize => Some(c.params[7]),
                Kernel::ConvU8S8 => (c.params[21] != 0).then_some(c.params[25]),
                Kernel::AddU8 => Some(c.params[11]),
                Kernel::Conv => (c.params[20] != 0).then_some(c.params[25]),
                Kernel::MatMul => (c.params[8] != 0).then_some(c.params[13]),
                Kernel::ConvTranspose
                | Kernel::MaxPool
                | Kernel::Lut
                | Kernel::Gather
                | Kernel::Copy => None,
            };
            if let Some(m) = mode {
                used.push(mode_from_code(m));
            }
        }
        RoundingMode::ALL
            .into_iter()
            .filter(|m| used.contains(m))
            .collect()
    }
}

/// The `MODE` parameter of a rounding mode: 0 half-up, 1 half-away-from-zero.
pub fn mode_code(m: RoundingMode) -> i32 {
    match m {
        RoundingMode::HalfUp => 0,
        RoundingMode::HalfAwayFromZero => 1,
    }
}

fn mode_from_code(c: i32) -> RoundingMode {
    if c == 0 {
        RoundingMode::HalfUp
    } else {
        RoundingMode::HalfAwayFromZero
    }
}

/// The quantized range of `bits`-wide values stored in `dtype` (signed like it).
pub fn quant_range(dtype: DType, bits: u32) -> Option<(i32, i32)> {
    let (lo, hi) = dtype.int_range()?;
    if bits == 0 || bits >= dtype.bits() {
        return Some((lo as i32, hi as i32));
    }
    Some(if dtype.is_signed() {
        (-(1i32 << (bits - 1)), (1i32 << (bits - 1)) - 1)
    } else {
        (0, (1i32 << bits) - 1)
    })
}

/// Lowers an Integer- or Scheduled-phase graph to a kernel program with the generic
/// kernels only and every accumulator materialized, on
/// [`passes::plan_memory::plan_unfused`] (what the `hvx-like` emitter falls back to).
pub fn build(g: &Graph) -> Result<Program, EmitError> {
    build_with(g, false)
}

/// Lowers like [`build`], choosing the fast kernels of [`fast`] where the types allow it
/// (what the `generic-c` and Rust emitters print), on [`passes::plan_memory::plan`]: every
/// fused accumulator's producer and requant become one call (the fast conv's `REQ` or the
/// generic kernels' requantize epilogue). The arena grows by the fast kernels' scratch.
pub fn build_fast(g: &Graph) -> Result<Program, EmitError> {
    build_with(g, true)
}

fn build_with(g: &Graph, fast: bool) -> Result<Program, EmitError> {
    let plan = if fast {
        plan_memory::plan(g, ARENA_ALIGN)
    } else {
        plan_memory::plan_unfused(g, ARENA_ALIGN)
    };
    let mut b = Builder {
        g,
        plan: &plan,
        consts: Vec::new(),
        const_of: vec![None; g.value_bound()],
        calls: Vec::new(),
        fast,
        fused: vec![false; g.node_bound()],
        scratch: 0,
    };
    let inputs = g
        .inputs
        .iter()
        .map(|&v| b.input_boundary(v))
        .collect::<Result<Vec<_>, _>>()?;
    let outputs = g
        .outputs
        .iter()
        .map(|&v| b.output_boundary(v))
        .collect::<Result<Vec<_>, _>>()?;
    for &n in &plan.order {
        b.node(n)?;
    }
    // Every fused accumulator's requant was computed by its producer's call.
    for v in g.value_ids() {
        if let Some(r) = plan
            .is_fused(v)
            .then(|| plan_memory::fused_requant(g, v))
            .flatten()
            && !b.fused[r.index()]
        {
            return Err(unsupported(
                g,
                r,
                "internal: a fused requant was not emitted",
            ));
        }
    }
    Ok(Program {
        arena_bytes: fast::arena_with_scratch(plan.arena_bytes, b.scratch),
        inputs,
        outputs,
        consts: b.consts,
        calls: b.calls,
    })
}

struct Builder<'g> {
    g: &'g Graph,
    plan: &'g MemoryPlan,
    consts: Vec<ConstData>,
    const_of: Vec<Option<usize>>,
    calls: Vec<Call>,
    /// Whether to choose the fast kernels.
    fast: bool,
    /// Requant nodes already computed by a fused call (per node index).
    fused: Vec<bool>,
    /// Bytes of scratch the fast calls need (after the planned arena).
    scratch: usize,
}

/// A requant's layout and per-channel tables ([`Kernel::Requant`]'s ins and params).
struct RqTables {
    outer: usize,
    ch: usize,
    inner: usize,
    m0: Vec<i32>,
    shift: Vec<i32>,
    zp_in: Vec<i32>,
}

/// The requantize fused into a generic conv/matmul call (the requant `node` with result
/// `out_v`; tables indexed by the producer's channel when `per_channel`).
struct Epilogue {
    node: NodeId,
    out_v: ValueId,
    per_channel: bool,
    m0: Vec<i32>,
    shift: Vec<i32>,
    zp_in: Vec<i32>,
    zp_out: i32,
    lo: i32,
    hi: i32,
    mode: i32,
}

fn unsupported(g: &Graph, n: NodeId, why: impl Into<String>) -> EmitError {
    let node = g.node(n);
    EmitError::Unsupported {
        node: if node.name.is_empty() {
            n.to_string()
        } else {
            node.name.clone()
        },
        op: node.op.mnemonic(),
        why: why.into(),
    }
}

fn to_i32(x: usize) -> i32 {
    i32::try_from(x).unwrap_or(i32::MAX)
}

/// `(outer, len, inner)` around `axis` of `dims`.
fn split_at_axis(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = dims[..axis].iter().product();
    let inner = dims[axis + 1..].iter().product();
    (outer, dims[axis], inner)
}

/// Values of an integer tensor widened to i32.
fn tensor_i32(t: &Tensor) -> Option<Vec<i32>> {
    Some(match &t.data {
        TensorData::F32(_) => return None,
        TensorData::I32(v) => v.clone(),
        TensorData::I16(v) => v.iter().map(|&x| i32::from(x)).collect(),
        TensorData::I8(v) => v.iter().map(|&x| i32::from(x)).collect(),
        TensorData::U8(v) => v.iter().map(|&x| i32::from(x)).collect(),
    })
}

impl Builder<'_> {
    fn table(&mut self, values: Vec<i32>) -> Operand {
        let numel = values.len();
        self.consts.push(ConstData {
            dtype: DType::I32,
            values,
            bits: 32,
        });
        Operand {
            loc: Loc::Const(self.consts.len() - 1),
            dtype: DType::I32,
            numel,
        }
    }

    /// The operand of value `v` for node `n`.
    fn operand(&mut self, n: NodeId, v: ValueId) -> Result<Operand, EmitError> {
        self.not_fused(n, v)?;
        let ty = self.g.ty(v);
        let numel = ty.shape.numel();
        if let Some(off) = self.plan.offset(v) {
            return Ok(Operand {
                loc: Loc::Arena(off),
                dtype: ty.dtype,
                numel,
            });
        }
        if let Some(i) = self.const_of[v.index()] {
            return Ok(Operand {
                loc: Loc::Const(i),
                dtype: ty.dtype,
                numel,
            });
        }
        let values = self
            .g
            .const_value(v)
            .and_then(tensor_i32)
            .ok_or_else(|| unsupported(self.g, n, format!("operand {v} is not an integer")))?;
        self.consts.push(ConstData {
            dtype: ty.dtype,
            values,
            bits: const_bits(ty),
        });
        self.const_of[v.index()] = Some(self.consts.len() - 1);
        Ok(Operand {
            loc: Loc::Const(self.consts.len() - 1),
            dtype: ty.dtype,
            numel,
        })
    }

    fn out_operand(&self, n: NodeId, v: ValueId) -> Result<Operand, EmitError> {
        self.not_fused(n, v)?;
        let off = self
            .plan
            .offset(v)
            .ok_or_else(|| unsupported(self.g, n, format!("result {v} is not an integer")))?;
        Ok(Operand {
            loc: Loc::Arena(off),
            dtype: self.g.ty(v).dtype,
            numel: self.g.ty(v).shape.numel(),
        })
    }

    /// Fails if `v` is a fused accumulator: it has no storage, so no call may name it.
    fn not_fused(&self, n: NodeId, v: ValueId) -> Result<(), EmitError> {
        if self.plan.is_fused(v) {
            return Err(unsupported(
                self.g,
                n,
                format!("internal: fused accumulator {v} used as an operand"),
            ));
        }
        Ok(())
    }

    fn call(
        &mut self,
        n: NodeId,
        kernel: Kernel,
        ins: Vec<Operand>,
        out: Operand,
        params: Vec<i32>,
    ) {
        let node = self.g.node(n);
        self.calls.push(Call {
            kernel,
            what: format!("{} ({})", node.name, node.op.mnemonic()),
            node: n,
            ins,
            out,
            params,
        });
    }

    /// The per-tensor zero point of `v` (a per-axis type must have one zero point).
    fn zp(&self, n: NodeId, v: ValueId) -> Result<i32, EmitError> {
        match self.g.ty(v).quant.as_ref().map(|q| &q.granularity) {
            None => Ok(0),
            Some(QuantGranularity::PerTensor { zero_point, .. }) => Ok(*zero_point),
            Some(QuantGranularity::PerAxis { zero_points, .. }) => {
                let z = zero_points.first().copied().unwrap_or(0);
                if zero_points.iter().all(|&x| x == z) {
                    Ok(z)
                } else {
                    Err(unsupported(
                        self.g,
                        n,
                        format!("operand {v} has per-axis zero points"),
                    ))
                }
            }
        }
    }

    fn boundary(&self, v: ValueId, q: ValueId, name: String) -> Result<Boundary, EmitError> {
        let ty = self.g.ty(q);
        let n = self.g.value(q).producer;
        let qp = ty
            .quant
            .as_ref()
            .ok_or_else(|| unsupported(self.g, n, "the quantized value has no parameters"))?;
        let (qmin, qmax) = quant_range(ty.dtype, qp.bits)
            .filter(|_| ty.dtype.bits() <= 16)
            .ok_or_else(|| unsupported(self.g, n, "only 4-, 8- and 16-bit boundary types"))?;
        let dims = ty.shape.dims();
        let (outer, ch, inner, scales, zero_points) = match &qp.granularity {
            QuantGranularity::PerTensor { scale, zero_point } => {
                (1, 1, ty.shape.numel(), vec![*scale], vec![*zero_point])
            }
            QuantGranularity::PerAxis {
                axis,
                scales,
                zero_points,
            } => {
                let (o, c, i) = split_at_axis(dims, *axis);
                (o, c, i, scales.clone(), zero_points.clone())
            }
        };
        Ok(Boundary {
            name,
            shape: self.g.ty(v).shape.dims().to_vec(),
            q: self.out_operand(n, q)?,
            outer,
            ch,
            inner,
            inv_scales: scales.iter().map(|&s| ir::arith::reciprocal(s)).collect(),
            scales,
            zero_points,
            qmin,
            qmax,
        })
    }

    fn input_boundary(&self, v: ValueId) -> Result<Boundary, EmitError> {
        let n = self.g.value(v).producer;
        let users = self.g.users(v);
        let name = self
            .g
            .value(v)
            .name
            .clone()
            .unwrap_or_else(|| v.to_string());
        match users.as_slice() {
            [(q, _)] if matches!(self.g.node(*q).op, Op::Quantize) => {
                self.boundary(v, self.g.node(*q).outputs[0], name)
            }
            _ => Err(unsupported(
                self.g,
                n,
                "every graph input must feed exactly one quantize",
            )),
        }
    }

    fn output_boundary(&self, v: ValueId) -> Result<Boundary, EmitError> {
        let n = self.g.value(v).producer;
        let node = self.g.node(n);
        let name = self
            .g
            .value(v)
            .name
            .clone()
            .unwrap_or_else(|| v.to_string());
        if !matches!(node.op, Op::Dequantize) || self.plan.offset(node.inputs[0]).is_none() {
            return Err(unsupported(
                self.g,
                n,
                "every graph output must be the dequantization of a computed integer tensor",
            ));
        }
        self.boundary(v, node.inputs[0], name)
    }

    fn node(&mut self, n: NodeId) -> Result<(), EmitError> {
        let g = self.g;
        let node: &Node = g.node(n);
        match &node.op {
            Op::Input | Op::Const(_) => Ok(()),
            Op::Quantize => {
                // Handled at the boundary; an inner quantize would need f32 storage.
                let src = g.producer(node.inputs[0]);
                if matches!(src.op, Op::Input) {
                    Ok(())
                } else {
                    Err(unsupported(g, n, "quantize of a computed f32 value"))
                }
            }
            Op::Dequantize => {
                if g.outputs.contains(&node.outputs[0]) {
                    Ok(())
                } else {
                    Err(unsupported(g, n, "dequantize that is not a graph output"))
                }
            }
            Op::ConvInt(a) if self.fast && self.conv_fast(n, &a.conv)? => Ok(()),
            Op::Requant(_) if self.fused[n.index()] => Ok(()),
            Op::AddInt(a) if self.fast && self.add_fast(n, a)? => Ok(()),
            Op::ConvInt(a) => self.conv(
                n,
                Kernel::Conv,
                &a.conv.strides,
                &a.conv.pads,
                &a.conv.dilations,
                a.conv.group,
            ),
            Op::ConvTransposeInt(a) => self.conv(
                n,
                Kernel::ConvTranspose,
                &a.conv.strides,
                &a.conv.pads,
                &a.conv.dilations,
                a.conv.group,
            ),
            Op::GemmInt(a) => self.gemm(n, a.trans_b),
            Op::MatMulInt => self.matmul(n),
            Op::Requant(a) => self.requant(n, a),
            Op::AddInt(a) => {
                let p = [
                    a.shift as i32,
                    a.ma.m0,
                    a.ma.shift,
                    a.mb.m0,
                    a.mb.shift,
                    a.mo.m0,
                    a.mo.shift,
                    mode_code(a.rounding),
                    a.lo,
                    a.hi,
                ];
                self.binary(n, Kernel::Add, &p)
            }
            Op::MulInt(a) => {
                let p = [a.m.m0, a.m.shift, mode_code(a.rounding), a.lo, a.hi];
                self.binary(n, Kernel::Mul, &p)
            }
            Op::MaxPool(a) => self.pool(n, a, None),
            Op::AvgPoolInt(a) => self.pool(
                n,
                &a.pool.pool,
                Some((a.pool.count_include_pad, a.rounding)),
            ),
            Op::Lut(a) => self.lut(n, a),
            Op::Reshape => {
                let (x, y) = (node.inputs[0], node.outputs[0]);
                if self.plan.offset(x).is_some() && self.plan.offset(x) == self.plan.offset(y) {
                    return Ok(());
                }
                let numel = g.ty(y).shape.numel();
                let xo = self.operand(n, x)?;
                let yo = self.out_operand(n, y)?;
                self.call(
                    n,
                    Kernel::Copy,
                    vec![xo],
                    yo,
                    vec![1, to_i32(numel), 0, 0, 0, 0],
                );
                Ok(())
            }
            Op::Concat(a) => {
                let y = node.outputs[0];
                let yd = g.ty(y).shape.dims().to_vec();
                let (outer, total, inner) = split_at_axis(&yd, a.axis);
                let yo = self.out_operand(n, y)?;
                let mut off = 0;
                for &x in &node.inputs {
                    let len = g.ty(x).shape.dims()[a.axis] * inner;
                    let xo = self.operand(n, x)?;
                    let p = vec![outer, len, len, 0, total * inner, off]
                        .into_iter()
                        .map(to_i32)
                        .collect();
                    self.call(n, Kernel::Copy, vec![xo], yo, p);
                    off += len;
                }
                Ok(())
            }
            Op::Split(a) => {
                let x = node.inputs[0];
                let xd = g.ty(x).shape.dims().to_vec();
                let (outer, total, inner) = split_at_axis(&xd, a.axis);
                let xo = self.operand(n, x)?;
                let mut off = 0;
                for (&y, &size) in node.outputs.iter().zip(&a.sizes) {
                    let len = size * inner;
                    let yo = self.out_operand(n, y)?;
                    let p = vec![outer, len, total * inner, off, len, 0]
                        .into_iter()
                        .map(to_i32)
                        .collect();
                    self.call(n, Kernel::Copy, vec![xo], yo, p);
                    off += len;
                }
                Ok(())
            }
            Op::Slice(a) => {
                let (x, y) = (node.inputs[0], node.outputs[0]);
                let strides = g.ty(x).shape.strides();
                let yd = g.ty(y).shape.dims().to_vec();
                let tabs = (0..yd.len())
                    .map(|d| {
                        (0..yd[d])
                            .map(|i| {
                                let idx = a.starts[d] as i64 + i as i64 * a.steps[d];
                                (idx * strides[d] as i64) as i32
                            })
                            .collect()
                    })
                    .collect();
                self.gather(n, tabs, 0)
            }
            Op::Transpose(a) => {
                let (x, y) = (node.inputs[0], node.outputs[0]);
                let strides = g.ty(x).shape.strides();
                let yd = g.ty(y).shape.dims().to_vec();
                let tabs = (0..yd.len())
                    .map(|d| (0..yd[d]).map(|i| to_i32(i * strides[a.perm[d]])).collect())
                    .collect();
                self.gather(n, tabs, 0)
            }
            Op::Pad(a) => self.pad(n, a),
            Op::Resize(a) => self.resize_nearest(n, a),
            Op::SoftmaxInt(a) => self.softmax(n, a),
            Op::ResizeInt(a) => self.resize_linear(n, a),
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
            | Op::ReduceMean(_) => Err(unsupported(g, n, "a float op in an integer program")),
        }
    }

    fn conv(
        &mut self,
        n: NodeId,
        kernel: Kernel,
        strides: &[usize],
        pads: &[usize],
        dilations: &[usize],
        group: usize,
    ) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, w, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let (xd, wd, yd) = (
            g.ty(x).shape.dims(),
            g.ty(w).shape.dims(),
            g.ty(y).shape.dims(),
        );
        let spatial = xd.len().saturating_sub(2);
        if !(1..=2).contains(&spatial) || wd.len() != xd.len() || yd.len() != xd.len() {
            return Err(unsupported(g, n, "only 1 or 2 spatial dims"));
        }
        // 1-d is 2-d with a height of 1.
        let two = |v: &[usize], i: usize, one: usize| {
            if spatial == 1 {
                if i == 0 { one } else { v[0] }
            } else {
                v[i]
            }
        };
        let (h, wdt) = (two(&xd[2..], 0, 1), two(&xd[2..], 1, 1));
        let (kh, kw) = (two(&wd[2..], 0, 1), two(&wd[2..], 1, 1));
        let (oh, ow) = (two(&yd[2..], 0, 1), two(&yd[2..], 1, 1));
        let (sh, sw) = (two(strides, 0, 1), two(strides, 1, 1));
        let (dh, dw) = (two(dilations, 0, 1), two(dilations, 1, 1));
        let (pt, pl) = (two(pads, 0, 0), two(pads, 1, 0));
        let m = yd[1];
        let zpx = self.zp(n, x)?;
        let mut ins = vec![self.operand(n, x)?, self.operand(n, w)?];
        let has_bias = node.inputs.len() > 2;
        let epi = self.epilogue(n, y)?;
        if has_bias {
            ins.push(self.operand(n, node.inputs[2])?);
        } else if epi.is_some() {
            ins.push(self.table(vec![0]));
        }
        let (out, req) = self.finish_epilogue(n, y, epi, &mut ins)?;
        let p = [
            xd[0], xd[1], h, wdt, m, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl, group,
        ]
        .into_iter()
        .map(to_i32)
        .chain([
            zpx,
            i32::from(has_bias),
            to_i32(xd[1] / group.max(1)),
            to_i32(m / group.max(1)),
        ])
        .chain(req)
        .collect();
        self.call(n, kernel, ins, out, p);
        Ok(())
    }

    /// The requantize epilogue of producer `n` when its result `y` is a fused accumulator.
    fn epilogue(&self, n: NodeId, y: ValueId) -> Result<Option<Epilogue>, EmitError> {
        if !self.plan.is_fused(y) {
            return Ok(None);
        }
        let g = self.g;
        let r = plan_memory::fused_requant(g, y)
            .ok_or_else(|| unsupported(g, n, "internal: fused value without a requant"))?;
        let Op::Requant(a) = &g.node(r).op else {
            return Err(unsupported(g, n, "internal: fused value without a requant"));
        };
        let t = self.requant_tables(r, a)?;
        Ok(Some(Epilogue {
            node: r,
            out_v: g.node(r).outputs[0],
            per_channel: t.ch > 1 || a.multipliers.len() > 1,
            m0: t.m0,
            shift: t.shift,
            zp_in: t.zp_in,
            zp_out: self.zp(r, g.node(r).outputs[0])?,
            lo: a.lo,
            hi: a.hi,
            mode: mode_code(a.rounding),
        }))
    }

    /// The output operand and the `[REQ, RQC, ZPOUT, LO, HI, MODE]` params of a producer
    /// with result `y`; with an epilogue, appends its tables to `ins` and marks its requant
    /// as computed.
    fn finish_epilogue(
        &mut self,
        n: NodeId,
        y: ValueId,
        epi: Option<Epilogue>,
        ins: &mut Vec<Operand>,
    ) -> Result<(Operand, [i32; 6]), EmitError> {
        let Some(e) = epi else {
            return Ok((self.out_operand(n, y)?, [0; 6]));
        };
        let out = self.out_operand(e.node, e.out_v)?;
        ins.push(self.table(e.m0));
        ins.push(self.table(e.shift));
        ins.push(self.table(e.zp_in));
        self.fused[e.node.index()] = true;
        Ok((
            out,
            [1, i32::from(e.per_channel), e.zp_out, e.lo, e.hi, e.mode],
        ))
    }

    fn gemm(&mut self, n: NodeId, trans_b: bool) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (a, b, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let ad = g.ty(a).shape.dims();
        let yd = g.ty(y).shape.dims();
        if ad.len() != 2 || yd.len() != 2 {
            return Err(unsupported(g, n, "gemm operands must be 2-d"));
        }
        let (m, k, nn) = (ad[0], ad[1], yd[1]);
        let zpa = self.zp(n, a)?;
        let zpb = self.zp(n, b)?;
        let mut ins = vec![self.operand(n, a)?, self.operand(n, b)?];
        let has_bias = node.inputs.len() > 2;
        if has_bias {
            ins.push(self.operand(n, node.inputs[2])?);
        } else {
            ins.push(self.table(vec![0]));
        }
        ins.push(self.table(vec![0, 0]));
        let epi = self.epilogue(n, y)?;
        let (out, req) = self.finish_epilogue(n, y, epi, &mut ins)?;
        let mut p = vec![
            to_i32(m),
            to_i32(k),
            to_i32(nn),
            i32::from(trans_b),
            zpa,
            zpb,
            i32::from(has_bias),
            1,
        ];
        p.extend(req);
        self.call(n, Kernel::MatMul, ins, out, p);
        Ok(())
    }

    fn matmul(&mut self, n: NodeId) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (a, b, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let (ad, bd, yd) = (
            g.ty(a).shape.dims(),
            g.ty(b).shape.dims(),
            g.ty(y).shape.dims(),
        );
        if ad.len() < 2 || bd.len() < 2 || yd.len() < 2 {
            return Err(unsupported(g, n, "matmul operands must be at least 2-d"));
        }
        let (m, k, nn) = (ad[ad.len() - 2], ad[ad.len() - 1], bd[bd.len() - 1]);
        // Batch offsets by broadcasting the leading dims.
        let batch = &yd[..yd.len() - 2];
        let offsets = |dims: &[usize], mat: usize| -> Vec<usize> {
            let lead = &dims[..dims.len() - 2];
            let pad = batch.len() - lead.len();
            let mut strides = vec![0usize; batch.len()];
            let mut s = mat;
            for d in (0..lead.len()).rev() {
                strides[pad + d] = if lead[d] == 1 { 0 } else { s };
                s *= lead[d];
            }
            let mut out = Vec::new();
            let total: usize = batch.iter().product();
            let mut idx = vec![0usize; batch.len()];
            for _ in 0..total {
                out.push(idx.iter().zip(&strides).map(|(i, s)| i * s).sum());
                for d in (0..batch.len()).rev() {
                    idx[d] += 1;
                    if idx[d] < batch[d] {
                        break;
                    }
                    idx[d] = 0;
                }
            }
            out
        };
        let oa = offsets(ad, m * k);
        let ob = offsets(bd, k * nn);
        let pairs: Vec<i32> = oa
            .iter()
            .zip(&ob)
            .flat_map(|(&x, &y)| [to_i32(x), to_i32(y)])
            .collect();
        let nb = oa.len();
        let zpa = self.zp(n, a)?;
        let zpb = self.zp(n, b)?;
        let mut ins = vec![
            self.operand(n, a)?,
            self.operand(n, b)?,
            self.table(vec![0]),
            self.table(pairs),
        ];
        let epi = self.epilogue(n, y)?;
        let (out, req) = self.finish_epilogue(n, y, epi, &mut ins)?;
        let mut p = vec![to_i32(m), to_i32(k), to_i32(nn), 0, zpa, zpb, 0, to_i32(nb)];
        p.extend(req);
        self.call(n, Kernel::MatMul, ins, out, p);
        Ok(())
    }

    /// The layout and per-channel tables of requant `n` (as [`Kernel::Requant`] takes them).
    fn requant_tables(&self, n: NodeId, a: &ir::RequantAttrs) -> Result<RqTables, EmitError> {
        let g = self.g;
        let x = g.node(n).inputs[0];
        let dims = g.ty(x).shape.dims().to_vec();
        let (outer, ch, inner) = if a.multipliers.len() == 1 {
            (1, 1, dims.iter().product())
        } else if a.axis < dims.len() && dims[a.axis] == a.multipliers.len() {
            split_at_axis(&dims, a.axis)
        } else {
            return Err(unsupported(g, n, "multipliers do not fit the channel axis"));
        };
        let zp_in: Vec<i32> = match g.ty(x).quant.as_ref().map(|q| &q.granularity) {
            None => vec![0; ch],
            Some(QuantGranularity::PerTensor { zero_point, .. }) => vec![*zero_point; ch],
            Some(QuantGranularity::PerAxis {
                axis, zero_points, ..
            }) => {
                if zero_points.iter().all(|&z| z == 0) {
                    vec![0; ch]
                } else if *axis == a.axis && zero_points.len() == ch {
                    zero_points.clone()
                } else {
                    return Err(unsupported(
                        g,
                        n,
                        "per-axis input zero points off the requant axis",
                    ));
                }
            }
        };
        Ok(RqTables {
            outer,
            ch,
            inner,
            m0: a.multipliers.iter().map(|m| m.m0).collect(),
            shift: a.multipliers.iter().map(|m| m.shift).collect(),
            zp_in,
        })
    }

    fn requant(&mut self, n: NodeId, a: &ir::RequantAttrs) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let t = self.requant_tables(n, a)?;
        let zp_out = self.zp(n, y)?;
        let ins = vec![
            self.operand(n, x)?,
            self.table(t.m0),
            self.table(t.shift),
            self.table(t.zp_in),
        ];
        let out = self.out_operand(n, y)?;
        let p = vec![
            to_i32(t.outer),
            to_i32(t.ch),
            to_i32(t.inner),
            zp_out,
            a.lo,
            a.hi,
            mode_code(a.rounding),
        ];
        self.call(n, Kernel::Requant, ins, out, p);
        Ok(())
    }

    fn binary(&mut self, n: NodeId, kernel: Kernel, extra: &[i32]) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (a, b, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let yd = g.ty(y).shape.dims().to_vec();
        let bstrides = |v: ValueId| -> Vec<i32> {
            let d = g.ty(v).shape.dims();
            let pad = yd.len() - d.len().min(yd.len());
            let st = g.ty(v).shape.strides();
            (0..yd.len())
                .map(|i| {
                    if i < pad || d[i - pad] == 1 {
                        0
                    } else {
                        to_i32(st[i - pad])
                    }
                })
                .collect()
        };
        let (sa, sb) = (bstrides(a), bstrides(b));
        let (zpa, zpb, zpy) = (self.zp(n, a)?, self.zp(n, b)?, self.zp(n, y)?);
        let ins = vec![
            self.operand(n, a)?,
            self.operand(n, b)?,
            self.table(yd.iter().map(|&d| to_i32(d)).collect()),
            self.table(sa),
            self.table(sb),
        ];
        let out = self.out_operand(n, y)?;
        let mut p = vec![to_i32(yd.len()), to_i32(yd.iter().product()), zpa, zpb, zpy];
        p.extend_from_slice(extra);
        self.call(n, kernel, ins, out, p);
        Ok(())
    }

    fn pool(
        &mut self,
        n: NodeId,
        a: &ir::PoolAttrs,
        avg: Option<(bool, RoundingMode)>,
    ) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let (xd, yd) = (g.ty(x).shape.dims(), g.ty(y).shape.dims());
        let spatial = xd.len().saturating_sub(2);
        if !(1..=2).contains(&spatial) || yd.len() != xd.len() {
            return Err(unsupported(g, n, "only 1 or 2 spatial dims"));
        }
        let two = |v: &[usize], i: usize, one: usize| {
            if spatial == 1 {
                if i == 0 { one } else { v[0] }
            } else {
                v[i]
            }
        };
        let (h, w) = (two(&xd[2..], 0, 1), two(&xd[2..], 1, 1));
        let (oh, ow) = (two(&yd[2..], 0, 1), two(&yd[2..], 1, 1));
        let (kh, kw) = (two(&a.kernel, 0, 1), two(&a.kernel, 1, 1));
        let (sh, sw) = (two(&a.strides, 0, 1), two(&a.strides, 1, 1));
        let (dh, dw) = (two(&a.dilations, 0, 1), two(&a.dilations, 1, 1));
        let pads_h = if spatial == 1 {
            (0, 0)
        } else {
            (a.pads[0], a.pads[2])
        };
        let pads_w = if spatial == 1 {
            (a.pads[0], a.pads[1])
        } else {
            (a.pads[1], a.pads[3])
        };
        let wh = windows(oh, h, kh, sh, dh, pads_h);
        let ww = windows(ow, w, kw, sw, dw, pads_w);
        let planes = xd[0] * xd[1];
        let xo = self.operand(n, x)?;
        let out = self.out_operand(n, y)?;
        let col = |ws: &[Win], f: fn(&Win) -> i32| ws.iter().map(f).collect::<Vec<i32>>();
        let geom = [planes, h, w, oh, ow, dh, dw].into_iter().map(to_i32);
        match avg {
            None => {
                let empty = g.ty(y).dtype.int_range().map_or(0, |r| r.0 as i32);
                let ins = vec![
                    xo,
                    self.table(col(&wh, |w| w.first)),
                    self.table(col(&wh, |w| w.taps)),
                    self.table(col(&ww, |w| w.first)),
                    self.table(col(&ww, |w| w.taps)),
                ];
                self.call(n, Kernel::MaxPool, ins, out, geom.chain([empty]).collect());
            }
            Some((include_pad, mode)) => {
                let zp = self.zp(n, x)?;
                let max_count = kh * kw;
                let mut rm0 = vec![0];
                let mut rsh = vec![0];
                for c in 1..=max_count {
                    let r = fixed_reciprocal(u32::try_from(c).unwrap_or(u32::MAX))
                        .map_err(|e| unsupported(g, n, e.to_string()))?;
                    rm0.push(r.m0);
                    rsh.push(r.shift);
                }
                let ins = vec![
                    xo,
                    self.table(col(&wh, |w| w.first)),
                    self.table(col(&wh, |w| w.taps)),
                    self.table(col(&wh, |w| w.padded)),
                    self.table(col(&ww, |w| w.first)),
                    self.table(col(&ww, |w| w.taps)),
                    self.table(col(&ww, |w| w.padded)),
                    self.table(rm0),
                    self.table(rsh),
                ];
                let p = geom
                    .chain([zp, i32::from(include_pad), mode_code(mode)])
                    .collect();
                self.call(n, Kernel::AvgPool, ins, out, p);
            }
        }
        Ok(())
    }

    fn lut(&mut self, n: NodeId, a: &ir::LutAttrs) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let xt = g.ty(x);
        if xt.dtype.bits() != 8 {
            return Err(unsupported(g, n, "table lookups need 8-bit inputs"));
        }
        let dims = xt.shape.dims().to_vec();
        let (outer, ch, inner) = match a.axis {
            Some(axis) if axis < dims.len() => split_at_axis(&dims, axis),
            Some(_) => return Err(unsupported(g, n, "table axis out of range")),
            None => (1, 1, dims.iter().product()),
        };
        if a.table.len() < 256 * if a.axis.is_some() { ch } else { 1 } {
            return Err(unsupported(g, n, "table too short"));
        }
        let xmin = xt.dtype.int_range().map_or(0, |r| r.0 as i32);
        let ins = vec![self.operand(n, x)?, self.table(a.table.clone())];
        let out = self.out_operand(n, y)?;
        let ch_param = if a.axis.is_some() { ch } else { 1 };
        let (outer, inner) = if a.axis.is_some() {
            (outer, inner)
        } else {
            (1, outer * ch * inner)
        };
        self.call(
            n,
            Kernel::Lut,
            ins,
            out,
            vec![to_i32(outer), to_i32(ch_param), to_i32(inner), xmin],
        );
        Ok(())
    }

    fn gather(&mut self, n: NodeId, tabs: Vec<Vec<i32>>, fill: i32) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let yd = g.ty(y).shape.dims().to_vec();
        let ins = vec![
            self.operand(n, x)?,
            self.table(yd.iter().map(|&d| to_i32(d)).collect()),
            self.table(tabs.concat()),
        ];
        let out = self.out_operand(n, y)?;
        self.call(
            n,
            Kernel::Gather,
            ins,
            out,
            vec![to_i32(yd.len()), to_i32(yd.iter().product()), fill],
        );
        Ok(())
    }

    /// Pad: per-dim source maps traced through the float interpreter on a 1-d index vector,
    /// so every mode (and negative pads) follows the reference exactly.
    fn pad(&mut self, n: NodeId, a: &PadAttrs) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let (xd, yd) = (g.ty(x).shape.dims().to_vec(), g.ty(y).shape.dims().to_vec());
        let r = xd.len();
        if a.pads.len() != 2 * r || !(a.value.is_finite() && a.value == a.value.trunc()) {
            return Err(unsupported(g, n, "pads or fill value do not fit"));
        }
        let strides = g.ty(x).shape.strides();
        let mut tabs = Vec::new();
        for d in 0..r {
            let op = Op::Pad(PadAttrs {
                pads: vec![a.pads[d], a.pads[r + d]],
                mode: a.mode,
                value: -1.0,
            });
            let map = trace_1d(&op, xd[d], yd[d]).map_err(|e| unsupported(g, n, e))?;
            tabs.push(
                map.into_iter()
                    .map(|i| if i < 0 { -1 } else { i * to_i32(strides[d]) })
                    .collect(),
            );
        }
        let fill = match a.mode {
            PadMode::Constant => a.value as i32,
            PadMode::Reflect | PadMode::Edge => 0,
        };
        self.gather(n, tabs, fill)
    }

    /// Nearest resize: per-dim source maps traced through the float interpreter.
    fn resize_nearest(&mut self, n: NodeId, a: &ResizeAttrs) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        if a.mode != ResizeMode::Nearest {
            return Err(unsupported(
                g,
                n,
                "linear resize of integers must be resize_int",
            ));
        }
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let (xd, yd) = (g.ty(x).shape.dims().to_vec(), g.ty(y).shape.dims().to_vec());
        if a.scales.len() != xd.len() || yd.len() != xd.len() {
            return Err(unsupported(g, n, "scales do not fit the rank"));
        }
        let strides = g.ty(x).shape.strides();
        let mut tabs = Vec::new();
        for d in 0..xd.len() {
            let op = Op::Resize(ResizeAttrs {
                scales: vec![a.scales[d]],
                ..a.clone()
            });
            let map = trace_1d(&op, xd[d], yd[d]).map_err(|e| unsupported(g, n, e))?;
            tabs.push(map.into_iter().map(|i| i * to_i32(strides[d])).collect());
        }
        self.gather(n, tabs, 0)
    }
}

impl Builder<'_> {
    /// `(qmin, qmax)` of the quantized result `y`.
    fn result_range(&self, n: NodeId, y: ValueId) -> Result<(i32, i32), EmitError> {
        let t = self.g.ty(y);
        let bits = t.quant.as_ref().map_or(t.dtype.bits(), |q| q.bits);
        quant_range(t.dtype, bits)
            .ok_or_else(|| unsupported(self.g, n, "the result is not an integer"))
    }

    fn softmax(&mut self, n: NodeId, a: &ir::SoftmaxIntAttrs) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let xt = g.ty(x);
        if !matches!(xt.dtype, DType::U8 | DType::I8) {
            return Err(unsupported(g, n, "softmax_int needs an 8-bit input"));
        }
        let dims = xt.shape.dims().to_vec();
        if a.axis >= dims.len() || a.exp_table.len() != 256 || !(1..=30).contains(&a.exp_bits) {
            return Err(unsupported(
                g,
                n,
                "axis, exp_table or exp_bits out of range",
            ));
        }
        let (outer, len, inner) = split_at_axis(&dims, a.axis);
        let max = a.exp_table.iter().copied().max().unwrap_or(0);
        let fits = (len as i64) * i64::from(max) <= i64::from(i32::MAX);
        if !fits || a.exp_table.iter().any(|&e| e < 0) || a.exp_table[0] <= 0 {
            return Err(unsupported(
                g,
                n,
                "the exp sum may overflow i32 or not be positive",
            ));
        }
        let scale = match g.ty(y).quant.as_ref().map(|q| &q.granularity) {
            Some(QuantGranularity::PerTensor { scale, .. }) => *scale,
            _ => return Err(unsupported(g, n, "the result must be quantized per tensor")),
        };
        let m_y = quantize_multiplier(1.0 / f64::from(scale))
            .map_err(|e| unsupported(g, n, e.to_string()))?;
        let (lo, hi) = self.result_range(n, y)?;
        let zp = self.zp(n, y)?;
        let ins = vec![self.operand(n, x)?, self.table(a.exp_table.clone())];
        let out = self.out_operand(n, y)?;
        let p = vec![
            to_i32(outer),
            to_i32(len),
            to_i32(inner),
            a.exp_bits as i32,
            m_y.m0,
            m_y.shift,
            zp,
            lo,
            hi,
            mode_code(a.rounding),
        ];
        self.call(n, Kernel::Softmax, ins, out, p);
        Ok(())
    }

    fn resize_linear(&mut self, n: NodeId, a: &ir::ResizeIntAttrs) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let (xd, yd) = (g.ty(x).shape.dims().to_vec(), g.ty(y).shape.dims().to_vec());
        let r = xd.len();
        if a.resize.mode != ResizeMode::Linear
            || !(1..=15).contains(&a.frac_bits)
            || yd.len() != r
            || a.resize.scales.len() != r
            || r > 8
            || (0..r).any(|d| xd[d] == 0)
        {
            return Err(unsupported(
                g,
                n,
                "linear resize attributes or rank (at most 8) do not fit",
            ));
        }
        let zp = self.zp(n, x)?;
        if self.zp(n, y)? != zp {
            return Err(unsupported(g, n, "operand and result zero points differ"));
        }
        let strides = g.ty(x).shape.strides();
        let taps: Vec<_> = (0..r)
            .map(|d| ir::interp::int::resize_int_taps(a, d, xd[d], yd[d]))
            .collect();
        let idims: Vec<i32> = (0..r)
            .filter(|&d| taps[d].iter().any(|t| t.w1 != 0))
            .map(to_i32)
            .collect();
        let shift = a.frac_bits as usize * idims.len();
        if shift > 46 {
            return Err(unsupported(g, n, "too many interpolated dims"));
        }
        let col = |f: &dyn Fn(usize, &ir::interp::int::ResizeTap) -> i32| -> Vec<i32> {
            (0..r)
                .flat_map(|d| taps[d].iter().map(move |t| f(d, t)))
                .collect()
        };
        let i0 = col(&|d, t| to_i32(t.i0 * strides[d]));
        let i1 = col(&|d, t| to_i32(t.i1 * strides[d]));
        let w0 = col(&|_, t| t.w0);
        let w1 = col(&|_, t| t.w1);
        let (lo, hi) = self.result_range(n, y)?;
        let ni = idims.len();
        let ins = vec![
            self.operand(n, x)?,
            self.table(yd.iter().map(|&d| to_i32(d)).collect()),
            self.table(if idims.is_empty() { vec![0] } else { idims }),
            self.table(i0),
            self.table(i1),
            self.table(w0),
            self.table(w1),
        ];
        let out = self.out_operand(n, y)?;
        let p = vec![
            to_i32(r),
            to_i32(yd.iter().product()),
            to_i32(ni),
            to_i32(shift),
            zp,
            lo,
            hi,
            mode_code(a.rounding),
        ];
        self.call(n, Kernel::Resize, ins, out, p);
        Ok(())
    }
}

/// Runs a 1-d data-movement op on the index vector `0..len_in` with the float interpreter
/// and returns the source index of every output (negative: the fill value).
fn trace_1d(op: &Op, len_in: usize, len_out: usize) -> Result<Vec<i32>, String> {
    let idx = Tensor::from_f32(vec![len_in], (0..len_in).map(|i| i as f32).collect());
    let out = ir::interp::eval_node_float(op, &[&idx], &[TensorType::f32(vec![len_out])])
        .map_err(|e| e.to_string())?;
    let v = out
        .first()
        .and_then(|t| t.as_f32())
        .ok_or_else(|| "tracing gave no result".to_string())?;
    Ok(v.iter().map(|&f| f as i32).collect())
}

/// One output position's pooling window along one axis.
struct Win {
    /// First real input position.
    first: i32,
    /// Number of taps on real elements (consecutive, stepping by the dilation).
    taps: i32,
    /// Taps inside the padded extent (the divisor with `count_include_pad`).
    padded: i32,
}

/// The windows along one axis, as the reference interpreter computes them (onnxruntime's
/// rules: padding never wins a max; ceil mode may create taps past the end padding, which do
/// not count).
fn windows(
    out: usize,
    len: usize,
    k: usize,
    s: usize,
    d: usize,
    (pb, pe): (usize, usize),
) -> Vec<Win> {
    (0..out)
        .map(|o| {
            let start = (o * s) as i64 - pb as i64;
            let ok = |j: usize| {
                let p = start + (j * d) as i64;
                p >= 0 && (p as usize) < len
            };
            let lo = (0..k).find(|&j| ok(j)).unwrap_or(k);
            let hi = (lo..k).take_while(|&j| ok(j)).last().map_or(lo, |j| j + 1);
            let padded = (0..k)
                .filter(|&j| start + ((j * d) as i64) < (len + pe) as i64)
                .count();
            Win {
                first: (start + (lo * d) as i64) as i32,
                taps: (hi - lo) as i32,
                padded: padded as i32,
            }
        })
        .collect()
}

#[cfg(test)]
mod pack_tests {
    use super::*;

    #[test]
    fn packed_constants_round_trip_at_every_width() {
        for bits in 2..8u32 {
            let q = (1i32 << (bits - 1)) - 1;
            let values: Vec<i32> = (0..37).map(|i| (i * 7) % (2 * q + 1) - q).collect();
            let packed = pack_bits(&values, bits);
            assert_eq!(packed.len(), (37 * bits as usize).div_ceil(8) + 1);
            let back: Vec<i32> = (0..37).map(|i| unpack_bit(&packed, bits, i)).collect();
            assert_eq!(back, values, "{bits} bits");
        }
        // 4 bits: element i in byte i / 2, low nibble first.
        assert_eq!(pack_bits(&[1, -2, 7], 4), vec![0xe1, 0x07, 0x00]);
        let c = ConstData {
            dtype: DType::I8,
            values: vec![0; 10],
            bits: 3,
        };
        assert_eq!(const_storage_bytes(&c), 4);
    }
}
