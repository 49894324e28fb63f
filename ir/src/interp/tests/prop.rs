//! Property tests: the fast convolution kernels against naive direct loops.

use super::*;
use proptest::prelude::*;

/// Geometry drawn by the strategies below (2-d; `h == 1, kh == 1` exercises the 1-d path
/// shape-wise).
#[derive(Clone, Debug)]
struct G {
    n: usize,
    group: usize,
    cg: usize,
    mg: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    s: (usize, usize),
    d: (usize, usize),
    pads: [usize; 4],
}

fn geom() -> impl Strategy<Value = G> {
    (
        (1usize..3, 1usize..4, 1usize..4, 1usize..4),
        (1usize..9, 1usize..9, 1usize..4, 1usize..4),
        (1usize..4, 1usize..4, 1usize..3, 1usize..3),
        [0usize..3, 0usize..3, 0usize..3, 0usize..3],
    )
        .prop_map(
            |((n, group, cg, mg), (h, w, kh, kw), (sh, sw, dh, dw), pads)| G {
                n,
                group,
                cg,
                mg,
                h,
                w,
                kh,
                kw,
                s: (sh, sw),
                d: (dh, dw),
                pads,
            },
        )
}

/// Direct convolution by definition.
fn naive_conv(g: &G, x: &[f32], w: &[f32], b: &[f32], oh: usize, ow: usize) -> Vec<f32> {
    let (c, m) = (g.cg * g.group, g.mg * g.group);
    let mut y = vec![0.0f32; g.n * m * oh * ow];
    for n in 0..g.n {
        for mo in 0..m {
            let gi = mo / g.mg;
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b[mo];
                    for ci in 0..g.cg {
                        let cin = gi * g.cg + ci;
                        for ki in 0..g.kh {
                            for kj in 0..g.kw {
                                let ih = (i * g.s.0 + ki * g.d.0) as isize - g.pads[0] as isize;
                                let iw = (j * g.s.1 + kj * g.d.1) as isize - g.pads[1] as isize;
                                if ih < 0 || iw < 0 || ih >= g.h as isize || iw >= g.w as isize {
                                    continue;
                                }
                                let xv = x[((n * c + cin) * g.h + ih as usize) * g.w + iw as usize];
                                let wv = w[((mo * g.cg + ci) * g.kh + ki) * g.kw + kj];
                                acc += xv * wv;
                            }
                        }
                    }
                    y[((n * m + mo) * oh + i) * ow + j] = acc;
                }
            }
        }
    }
    y
}

/// Direct transposed convolution by definition (scatter, then crop).
fn naive_conv_transpose(g: &G, x: &[f32], w: &[f32], oh: usize, ow: usize) -> Vec<f32> {
    let (c, m) = (g.cg * g.group, g.mg * g.group);
    let mut y = vec![0.0f32; g.n * m * oh * ow];
    for n in 0..g.n {
        for ci in 0..c {
            let gi = ci / g.cg;
            for mi in 0..g.mg {
                let mo = gi * g.mg + mi;
                for i in 0..g.h {
                    for j in 0..g.w {
                        for ki in 0..g.kh {
                            for kj in 0..g.kw {
                                let o = (i * g.s.0 + ki * g.d.0) as isize - g.pads[0] as isize;
                                let p = (j * g.s.1 + kj * g.d.1) as isize - g.pads[1] as isize;
                                if o < 0 || p < 0 || o >= oh as isize || p >= ow as isize {
                                    continue;
                                }
                                let xv = x[((n * c + ci) * g.h + i) * g.w + j];
                                let wv = w[((ci * g.mg + mi) * g.kh + ki) * g.kw + kj];
                                y[((n * m + mo) * oh + o as usize) * ow + p as usize] += xv * wv;
                            }
                        }
                    }
                }
            }
        }
    }
    y
}

/// Runs the interpreter's convolution on geometry `g` (when the window fits) and compares
/// with [`naive_conv`].
fn check_conv(g: &G) {
    let eh = (g.kh - 1) * g.d.0 + 1;
    let ew = (g.kw - 1) * g.d.1 + 1;
    if g.h + g.pads[0] + g.pads[2] < eh || g.w + g.pads[1] + g.pads[3] < ew {
        return;
    }
    let oh = (g.h + g.pads[0] + g.pads[2] - eh) / g.s.0 + 1;
    let ow = (g.w + g.pads[1] + g.pads[3] - ew) / g.s.1 + 1;
    let (c, m) = (g.cg * g.group, g.mg * g.group);
    let x = seq(&[g.n, c, g.h, g.w], 0);
    let w = seq(&[m, g.cg, g.kh, g.kw], 1);
    let b = seq(&[m], 2);
    let op = Op::Conv(ConvAttrs {
        strides: vec![g.s.0, g.s.1],
        pads: g.pads.to_vec(),
        dilations: vec![g.d.0, g.d.1],
        group: g.group,
    });
    let ty = TensorType::f32(vec![g.n, m, oh, ow]);
    let got = eval_node_float(&op, &[&x, &w, &b], std::slice::from_ref(&ty)).unwrap();
    let want = naive_conv(
        g,
        x.as_f32().unwrap(),
        w.as_f32().unwrap(),
        b.as_f32().unwrap(),
        oh,
        ow,
    );
    assert_close(got[0].as_f32().unwrap(), &want);
}

/// A convolution big enough for every blocking path of `convgemm.rs`: more than one depth
/// block (K = 29 * 9 > 256), more than one column block (N = 21 * 20 > 384), full and
/// partial register tiles in both directions (M = 2 * 13, N % 16 != 0), two groups.
#[test]
fn conv_blocked_matches_naive() {
    let g = G {
        n: 1,
        group: 2,
        cg: 29,
        mg: 13,
        h: 21,
        w: 20,
        kh: 3,
        kw: 3,
        s: (1, 1),
        d: (1, 1),
        pads: [1, 1, 1, 1],
    };
    // 1x1 (the dense path) with the same sizes, and strided with padding.
    let g1 = G {
        kh: 1,
        kw: 1,
        pads: [0; 4],
        cg: 300,
        group: 1,
        ..g.clone()
    };
    let g2 = G {
        s: (2, 2),
        d: (1, 2),
        pads: [2, 0, 1, 3],
        ..g.clone()
    };
    for g in [g, g1, g2] {
        check_conv(&g);
        crate::interp::simd::with_avx2(|| check_conv(&g));
        crate::interp::simd::with_portable(|| check_conv(&g));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn conv_many_channels_matches_naive(g in geom(), mg in 4usize..20, cg in 1usize..9) {
        // Several register tiles in the channel direction, including partial ones.
        let g = G { mg, cg, group: 1.max(g.group % 2), ..g };
        check_conv(&g);
        crate::interp::simd::with_avx2(|| check_conv(&g));
        crate::interp::simd::with_portable(|| check_conv(&g));
    }

    #[test]
    fn conv_matches_naive(g in geom()) {
        check_conv(&g);
        crate::interp::simd::with_portable(|| check_conv(&g));
    }

    #[test]
    fn depthwise_conv_matches_naive(g in geom(), kw3 in proptest::bool::ANY, wide in 0usize..44) {
        // One input channel per group, often a 3-wide filter, rows narrower and wider than
        // a vector (the flattened and the per-row depthwise paths).
        let mut g = g;
        g.cg = 1;
        g.w += wide;
        if kw3 {
            g.kw = 3;
        }
        check_conv(&g);
        // The AVX2 and portable kernel instances too (the dispatcher picks AVX-512 when it
        // can).
        crate::interp::simd::with_avx2(|| check_conv(&g));
        crate::interp::simd::with_portable(|| check_conv(&g));
    }

    #[test]
    fn conv_transpose_matches_naive(g in geom(), op_h in 0usize..2, op_w in 0usize..2) {
        let full_h = (g.h - 1) * g.s.0 + (g.kh - 1) * g.d.0 + 1 + op_h;
        let full_w = (g.w - 1) * g.s.1 + (g.kw - 1) * g.d.1 + 1 + op_w;
        prop_assume!(full_h > g.pads[0] + g.pads[2] && full_w > g.pads[1] + g.pads[3]);
        let oh = full_h - g.pads[0] - g.pads[2];
        let ow = full_w - g.pads[1] - g.pads[3];
        let (c, m) = (g.cg * g.group, g.mg * g.group);
        let x = seq(&[g.n, c, g.h, g.w], 0);
        let w = seq(&[c, g.mg, g.kh, g.kw], 1);
        let op = Op::ConvTranspose(ConvTransposeAttrs {
            strides: vec![g.s.0, g.s.1],
            pads: g.pads.to_vec(),
            dilations: vec![g.d.0, g.d.1],
            group: g.group,
            output_padding: vec![op_h, op_w],
        });
        let ty = TensorType::f32(vec![g.n, m, oh, ow]);
        let got = eval_node_float(&op, &[&x, &w], std::slice::from_ref(&ty)).unwrap();
        let want = naive_conv_transpose(&g, x.as_f32().unwrap(), w.as_f32().unwrap(), oh, ow);
        assert_close(got[0].as_f32().unwrap(), &want);
    }
}
