//! Vector paths for elementwise and pooling ops on u8/i8 NCHW tensors: max pooling
//! (strides 1 or 2, no dilation) and same-shape AddInt. Each returns `Ok(false)` when the
//! node does not fit, and the caller emits the scalar loop instead.

use std::fmt::Write;

use ir::{AddIntAttrs, DType, NodeId, QuantGranularity, ValueId};

use super::{Emitter, mode, zp_of};
use crate::hvx::EmitError;

fn byte_type(d: DType) -> bool {
    matches!(d, DType::U8 | DType::I8)
}

impl Emitter<'_> {
    fn per_tensor(&self, v: ValueId) -> bool {
        !matches!(
            self.g.ty(v).quant.as_ref().map(|q| &q.granularity),
            Some(QuantGranularity::PerAxis { .. })
        )
    }

    /// Max pooling with `qk_maxpool_b`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn maxpool_vec(
        &mut self,
        n: NodeId,
        kernel: &[usize],
        strides: &[usize],
        pads: &[usize],
        dil: &[usize],
    ) -> Result<bool, EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let xt = g.ty(x);
        let xd = xt.shape.dims().to_vec();
        let yd = g.ty(y).shape.dims().to_vec();
        if xd.len() != 4
            || kernel.len() != 2
            || !byte_type(xt.dtype)
            || g.ty(y).dtype != xt.dtype
            || dil.iter().any(|&d| d != 1)
            || strides[0] != strides[1]
            || !(1..=2).contains(&strides[0])
            || kernel[1] > 64
        {
            return Ok(false);
        }
        let (nc, h, w, ho, wo) = (xd[0] * xd[1], xd[2], xd[3], yd[2], yd[3]);
        let flip: i32 = if xt.dtype == DType::I8 {
            i32::from_le_bytes([0x80; 4])
        } else {
            0
        };
        let (xs, ys) = (self.buf(x), self.buf(y));
        let rb = self.scratch(128 + 2 * w.div_ceil(128) * 128 + 512);
        let _ = writeln!(
            self.body,
            "  {{ static const qk_maxpool_t k = {{{nc}, {h}, {w}, {ho}, {wo}, {}, {}, {}, {}, {}, {}, {}, {flip}}};\n    qk_maxpool_b(&k, (const uint8_t *){xs}, (uint8_t *){ys}, {rb}); }}",
            kernel[0], kernel[1], strides[0], strides[1], pads[0], pads[1], pads[3]
        );
        Ok(true)
    }

    /// Same-shape AddInt with `qk_add_b`.
    pub(super) fn add_vec(&mut self, n: NodeId, a: &AddIntAttrs) -> Result<bool, EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (xa, xb, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let (ta, tb, ty) = (g.ty(xa), g.ty(xb), g.ty(y));
        if !byte_type(ta.dtype)
            || !byte_type(tb.dtype)
            || !byte_type(ty.dtype)
            || ta.shape != ty.shape
            || tb.shape != ty.shape
            || g.const_value(xa).is_some()
            || g.const_value(xb).is_some()
            || !self.per_tensor(xa)
            || !self.per_tensor(xb)
            || !self.per_tensor(y)
            || !(0..=24).contains(&a.shift)
        {
            return Ok(false);
        }
        let (za, zb, zy) = (zp_of(g, xa, 0), zp_of(g, xb, 0), zp_of(g, y, 0));
        let (sa, sb, sy) = (
            i32::from(ta.dtype == DType::I8),
            i32::from(tb.dtype == DType::I8),
            i32::from(ty.dtype == DType::I8),
        );
        let (pa, pb, py) = (self.buf(xa), self.buf(xb), self.buf(y));
        let lo = if a.lo == i32::MIN {
            "INT32_MIN".to_string()
        } else {
            a.lo.to_string()
        };
        let _ = writeln!(
            self.body,
            "  {{ static const qk_add_t k = {{{}, {za}, {zb}, {}, {}, {}, {}, {}, {sa}, {sb}, {sy}, {{{lo}, {}, {zy}, {}}}, {}, {}}};\n    qk_add_b(&k, (const uint8_t *){pa}, (const uint8_t *){pb}, (uint8_t *){py}); }}",
            ty.shape.numel(),
            a.shift,
            a.ma.m0,
            a.ma.shift,
            a.mb.m0,
            a.mb.shift,
            a.hi,
            mode(a.rounding),
            a.mo.m0,
            a.mo.shift,
        );
        Ok(true)
    }
}
