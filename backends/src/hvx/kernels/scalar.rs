//! Scalar kernels: broadcasting binaries, pooling, table lookup, transpose, concat. Loops
//! are nested with compile-time bounds and strides so no index needs a division.

use std::fmt::Write;

use ir::arith::{RoundingMode, fixed_reciprocal};
use ir::{DType, NodeId};

use super::{Emitter, mode, unsupported, zp_of};
use crate::hvx::{EmitError, ctype};

/// Nested loops over `dims` with one flat index per stride set: returns (open, close) text;
/// index `k` is available as `ix{k}` inside.
fn nest(dims: &[usize], strides: &[Vec<usize>]) -> (String, String) {
    let mut open = String::from("  {\n");
    let r = dims.len();
    for d in 0..r {
        let _ = writeln!(open, "    size_t d{d};");
    }
    for (k, _) in strides.iter().enumerate() {
        let _ = writeln!(open, "    size_t ix{k};");
    }
    for (d, &n) in dims.iter().enumerate() {
        let _ = writeln!(open, "    for (d{d} = 0; d{d} < {n}; d{d}++)");
    }
    open.push_str("    {\n");
    for (k, s) in strides.iter().enumerate() {
        let terms: Vec<String> = (0..r).map(|d| format!("d{d} * {}", s[d])).collect();
        let e = if terms.is_empty() {
            "0".to_string()
        } else {
            terms.join(" + ")
        };
        let _ = writeln!(open, "      ix{k} = {e};");
    }
    (open, "    }\n  }\n".to_string())
}

fn row_strides(dims: &[usize]) -> Vec<usize> {
    ir::Shape(dims.to_vec()).strides()
}

/// Broadcast strides of `dims` against output rank `r` (right-aligned, 0 on size-1 dims).
fn bcast(dims: &[usize], out: &[usize]) -> Vec<usize> {
    let s = row_strides(dims);
    let off = out.len() - dims.len();
    (0..out.len())
        .map(|d| {
            if d < off || dims[d - off] == 1 {
                0
            } else {
                s[d - off]
            }
        })
        .collect()
}

impl Emitter<'_> {
    /// `y = expr(A0, B0)` elementwise with numpy broadcasting.
    pub(super) fn binary(&mut self, n: NodeId, expr: &str) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (a, b, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let od = g.ty(y).shape.dims().to_vec();
        if g.ty(a).shape.rank() > od.len() || g.ty(b).shape.rank() > od.len() {
            return Err(unsupported(g, n, "broadcast rank"));
        }
        let sa = bcast(g.ty(a).shape.dims(), &od);
        let sb = bcast(g.ty(b).shape.dims(), &od);
        let (open, close) = nest(&od, &[row_strides(&od), sa, sb]);
        let (xa, xb, ys) = (self.operand(a), self.operand(b), self.buf(y));
        let ct = ctype(g.ty(y).dtype);
        let e = expr
            .replace("A0", &format!("{xa}[ix1]"))
            .replace("B0", &format!("{xb}[ix2]"));
        let _ = write!(self.body, "{open}      {ys}[ix0] = ({ct}){e};\n{close}");
        Ok(())
    }

    /// A value that may be a constant (emitted as a const array) or an arena buffer.
    pub(super) fn operand(&mut self, v: ir::ValueId) -> String {
        match self.g.const_value(v) {
            Some(t) => {
                let vals = super::ints(&t.data);
                self.konst(ctype(t.dtype), &vals)
            }
            None => self.buf(v),
        }
    }

    /// Max pooling (`avg == None`) or integer average pooling over 1-d/2-d windows.
    pub(super) fn pool(
        &mut self,
        n: NodeId,
        kernel: &[usize],
        strides: &[usize],
        pads: &[usize],
        dil: &[usize],
        avg: Option<(bool, RoundingMode)>,
    ) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let xd = g.ty(x).shape.dims().to_vec();
        let yd = g.ty(y).shape.dims().to_vec();
        let (nc, h, w, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr) =
            match (xd.len(), kernel.len()) {
                (4, 2) => (
                    xd[0] * xd[1],
                    xd[2],
                    xd[3],
                    yd[2],
                    yd[3],
                    kernel[0],
                    kernel[1],
                    strides[0],
                    strides[1],
                    dil[0],
                    dil[1],
                    pads[0],
                    pads[1],
                    pads[2],
                    pads[3],
                ),
                (3, 1) => (
                    xd[0] * xd[1],
                    1,
                    xd[2],
                    1,
                    yd[2],
                    1,
                    kernel[0],
                    1,
                    strides[0],
                    1,
                    dil[0],
                    0,
                    pads[0],
                    0,
                    pads[1],
                ),
                _ => return Err(unsupported(g, n, "only 1-d and 2-d pooling")),
            };
        let ct = ctype(g.ty(y).dtype);
        let (xs, ys) = (self.buf(x), self.buf(y));
        let (init, acc, fin) = match avg {
            None => {
                let (lo, _) = g.ty(x).dtype.int_range().unwrap_or((0, 0));
                (
                    format!("int32_t s = {lo};"),
                    "if (v > s) s = v;".to_string(),
                    "s".to_string(),
                )
            }
            Some((include_pad, rm)) => {
                if g.ty(x).dtype == DType::I32 {
                    return Err(unsupported(g, n, "average of i32"));
                }
                let cmax = kh * kw;
                let mut m0 = Vec::new();
                let mut sh_ = Vec::new();
                for cnt in 0..=cmax {
                    let r = fixed_reciprocal(cnt.max(1) as u32)
                        .map_err(|e| unsupported(g, n, e.to_string()))?;
                    m0.push(i64::from(r.m0));
                    sh_.push(i64::from(r.shift));
                }
                let km = self.konst("int32_t", &m0);
                let ks = self.konst("int32_t", &sh_);
                let zp = zp_of(g, x, 0);
                let _ = include_pad;
                (
                    "int32_t s = 0; int cnt = 0;".to_string(),
                    format!("s += v - {zp};"),
                    format!("{zp} + qs_average(s, {km}[cnt], {ks}[cnt], {})", mode(rm)),
                )
            }
        };
        // count_include_pad counts window elements inside the padded extent.
        let (cnt_pad, cnt_in) = match avg {
            Some((true, _)) => ("cnt++;", ""),
            Some((false, _)) => ("", "cnt++;"),
            None => ("", ""),
        };
        let _ = writeln!(
            self.body,
            "  {{ size_t p; int oh, ow, i, j;
    for (p = 0; p < {nc}; p++) for (oh = 0; oh < {ho}; oh++) for (ow = 0; ow < {wo}; ow++) {{
      {init}
      for (i = 0; i < {kh}; i++) {{
        int ih = oh * {sh} - {pt} + i * {dh};
        if (ih >= {h} + {pb}) continue;
        for (j = 0; j < {kw}; j++) {{
          int iw = ow * {sw} - {pl} + j * {dw};
          int32_t v;
          if (iw >= {w} + {pr}) continue;
          {cnt_pad}
          if (ih < 0 || ih >= {h} || iw < 0 || iw >= {w}) continue;
          {cnt_in}
          v = (int32_t){xs}[(p * {h} + (size_t)ih) * {w} + (size_t)iw];
          {acc}
        }}
      }}
      {ys}[(p * {ho} + (size_t)oh) * {wo} + (size_t)ow] = ({ct})({fin});
    }}
  }}"
        );
        Ok(())
    }

    pub(super) fn lut(
        &mut self,
        n: NodeId,
        table: &[i32],
        axis: Option<usize>,
    ) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let xt = g.ty(x);
        let xmin = match xt.dtype {
            DType::U8 => 0,
            DType::I8 => -128,
            _ => return Err(unsupported(g, n, "lut needs an 8-bit input")),
        };
        let dims = xt.shape.dims();
        let (outer, ch, inner) = match axis {
            Some(ax) if ax < dims.len() && table.len() == 256 * dims[ax] => (
                dims[..ax].iter().product::<usize>(),
                dims[ax],
                dims[ax + 1..].iter().product::<usize>(),
            ),
            _ => (xt.shape.numel(), 1, 1),
        };
        let kt = self.konst(
            "int32_t",
            &table.iter().map(|&v| i64::from(v)).collect::<Vec<_>>(),
        );
        let ct = ctype(g.ty(y).dtype);
        let (xs, ys) = (self.buf(x), self.buf(y));
        let _ = writeln!(
            self.body,
            "  {{ size_t o, c_, i, p = 0;
    for (o = 0; o < {outer}; o++) for (c_ = 0; c_ < {ch}; c_++) for (i = 0; i < {inner}; i++, p++)
      {ys}[p] = ({ct}){kt}[c_ * 256 + (size_t)((int32_t){xs}[p] - ({xmin}))];
  }}"
        );
        Ok(())
    }

    pub(super) fn transpose(&mut self, n: NodeId, perm: &[usize]) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let od = g.ty(y).shape.dims().to_vec();
        let xs_ = row_strides(g.ty(x).shape.dims());
        let src: Vec<usize> = perm.iter().map(|&p| xs_[p]).collect();
        let (open, close) = nest(&od, &[row_strides(&od), src]);
        let (xs, ys) = (self.buf(x), self.buf(y));
        let _ = write!(self.body, "{open}      {ys}[ix0] = {xs}[ix1];\n{close}");
        Ok(())
    }

    pub(super) fn concat(&mut self, n: NodeId, axis: usize) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let y = node.outputs[0];
        let od = g.ty(y).shape.dims().to_vec();
        let os = row_strides(&od);
        let ys = self.buf(y);
        let mut at = 0;
        for &x in &node.inputs {
            let xd = g.ty(x).shape.dims().to_vec();
            let mut dst = os.clone();
            dst.push(at * os[axis]);
            let (open, close) = nest(&xd, &[row_strides(&xd), os.clone()]);
            let xs = self.operand(x);
            let _ = write!(
                self.body,
                "{open}      {ys}[ix1 + {}] = {xs}[ix0];\n{close}",
                at * os[axis]
            );
            at += xd[axis];
        }
        Ok(())
    }
}
