//! The accumulator overflow proof of `lower-integer` (read-only analysis).
//!
//! **What.** For every `conv_int`, `conv_transpose_int` and `gemm_int` with constant weights
//! (and `matmul_int`), checks that `|x - zp_x|max * sum|w| + |bias| <= 2^31 - 1` per output
//! channel ([`ir::arith::accumulator_bound`]), where `|x - zp_x|max` comes from the input's
//! quantized range (its `bits`, not the container's) and `sum|w|` sums the channel's weights
//! exactly (`matmul_int`, whose operands are both activations, uses `K * |b|max`).
//!
//! **Why.** Accumulators are i32 in every executor (DESIGN.md "Arithmetic"). Eight-bit layers
//! never come close; 16-bit activations times 8-bit weights can for long reductions (the
//! coarse bound `32767 * 127 * K` overflows from `K = 517`), so such a layer is refused with
//! a diagnostic naming it (choose fewer activation bits for its input or fewer weight bits)
//! rather than computed with a wider accumulator.

use crate::PassError;
use ir::arith::{accumulator_bound, centered_absmax, fits_i32};
use ir::{DType, Graph, NodeId, Op, TensorType};

/// The proven bound of one layer: the worst channel's `|acc|` bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerBound {
    /// The node.
    pub node: NodeId,
    /// Largest `|x - zp|`.
    pub x_absmax: i64,
    /// The worst channel's bound on `|acc|`.
    pub bound: i64,
}

fn quant_range(t: &TensorType) -> Option<(i64, i64, i64)> {
    let q = t.quant.as_ref();
    let bits = q.map_or(t.dtype.bits(), |q| q.bits);
    let (lo, hi) = t.dtype.quant_range(bits)?;
    Some((lo, hi, i64::from(q.map_or(0, |q| q.zero_point(0)))))
}

fn values_i64(g: &Graph, v: ir::ValueId) -> Option<Vec<i64>> {
    let t = g.const_value(v)?;
    Some((0..t.numel()).map(|i| t.data.get_i64(i)).collect())
}

/// The bound of every integer reduction of `g`, in node order.
pub fn bounds(g: &Graph) -> Vec<LayerBound> {
    let mut out = Vec::new();
    for n in g.node_ids() {
        let node = g.node(n);
        let (x, w) = match (&node.op, node.inputs.as_slice()) {
            (
                Op::ConvInt(_) | Op::ConvTransposeInt(_) | Op::GemmInt(_) | Op::MatMulInt,
                [x, w, ..],
            ) => (*x, *w),
            _ => continue,
        };
        let Some((lo, hi, zp)) = quant_range(g.ty(x)) else {
            continue;
        };
        let x_absmax = centered_absmax(lo, hi, zp);
        let wt = g.ty(w);
        let dims = wt.shape.dims().to_vec();
        let bias = node.inputs.get(2).and_then(|&b| values_i64(g, b));
        // Per output channel: (its sum of |w|, its bias).
        let sums: Vec<i64> = match (&node.op, values_i64(g, w)) {
            (Op::ConvInt(_), Some(wv)) => {
                let per = dims[1..].iter().product::<usize>().max(1);
                wv.chunks(per)
                    .map(|c| c.iter().map(|v| v.abs()).sum())
                    .collect()
            }
            (Op::ConvTransposeInt(_), Some(wv)) => {
                // w [C, M/G, k..]: output channel j of a group sums over C and the taps.
                let (c, mg) = (dims[0], dims.get(1).copied().unwrap_or(1));
                let k = dims[2..].iter().product::<usize>().max(1);
                (0..mg)
                    .map(|j| {
                        (0..c)
                            .map(|ci| {
                                wv[(ci * mg + j) * k..][..k]
                                    .iter()
                                    .map(|v| v.abs())
                                    .sum::<i64>()
                            })
                            .sum()
                    })
                    .collect()
            }
            (Op::GemmInt(a), Some(wv)) if dims.len() == 2 => {
                let (rows, cols) = (dims[0], dims[1]);
                if a.trans_b {
                    wv.chunks(cols.max(1))
                        .map(|c| c.iter().map(|v| v.abs()).sum())
                        .collect()
                } else {
                    (0..cols)
                        .map(|j| (0..rows).map(|r| wv[r * cols + j].abs()).sum())
                        .collect()
                }
            }
            _ => {
                // Both operands are activations (matmul_int): K * |b|max.
                let Some((bl, bh, bz)) = quant_range(wt) else {
                    continue;
                };
                let kdim = g.ty(x).shape.dims().last().copied().unwrap_or(1) as i64;
                vec![centered_absmax(bl, bh, bz).saturating_mul(kdim)]
            }
        };
        let bound = sums
            .iter()
            .enumerate()
            .map(|(c, &s)| {
                let b = bias
                    .as_ref()
                    .and_then(|b| b.get(c % b.len().max(1)).copied());
                accumulator_bound(x_absmax, s, b.unwrap_or(0))
            })
            .max()
            .unwrap_or(0);
        out.push(LayerBound {
            node: n,
            x_absmax,
            bound,
        });
    }
    out
}

/// Fails on the first layer whose accumulator could overflow i32.
pub fn check(g: &Graph) -> Result<(), PassError> {
    for b in bounds(g) {
        if !fits_i32(b.bound) {
            let node = g.node(b.node);
            let xt = g.ty(node.inputs[0]);
            let bits = xt.quant.as_ref().map_or(xt.dtype.bits(), |q| q.bits);
            let wide = if xt.dtype == DType::I16 {
                "; quantize its input with fewer bits (--precision) or its weights with fewer"
            } else {
                ""
            };
            return Err(PassError::Failed {
                node: Some(b.node),
                message: format!(
                    "the i32 accumulator of `{}` could overflow: |x - zp| <= {} ({bits}-bit input) times the weights gives |acc| <= {} > 2^31 - 1{wide}",
                    node.name, b.x_absmax, b.bound
                ),
            });
        }
    }
    Ok(())
}
