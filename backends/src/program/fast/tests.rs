//! Which kernels the fast path chooses (the bit-exactness of the chosen kernels is tested by
//! `testsuite/tests/backends.rs`, which runs every emitter against the interpreter).

use crate::program::{Kernel, build, build_fast};
use ir::arith::{QuantizedMultiplier, RoundingMode};
use ir::{
    AddIntAttrs, ConvAttrs, ConvIntAttrs, DType, Graph, Op, Phase, QuantGranularity, QuantParams,
    RequantAttrs, Tensor, TensorData, TensorType,
};

fn qt(dtype: DType, shape: &[usize], zp: i32) -> TensorType {
    TensorType {
        dtype,
        shape: shape.to_vec().into(),
        quant: Some(QuantParams::per_tensor(dtype, 0.05, zp)),
    }
}

fn per_axis(dtype: DType, shape: &[usize]) -> TensorType {
    let n = shape[0];
    TensorType {
        dtype,
        shape: shape.to_vec().into(),
        quant: Some(QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis: 0,
                scales: vec![0.01; n],
                zero_points: vec![0; n],
            },
            ..QuantParams::per_tensor(dtype, 1.0, 0)
        }),
    }
}

fn konst(g: &mut Graph, ty: TensorType, data: TensorData) -> ir::ValueId {
    let value = Tensor {
        dtype: ty.dtype,
        shape: ty.shape.clone(),
        data,
    };
    g.add_simple(Op::Const(ir::ConstAttrs { value }), vec![], ty, "k")
}

/// x -> quantize(act) -> conv_int 3x3 pad 1 (w of `wdt`) -> requant -> dequantize.
fn conv_net(act: DType, wdt: DType) -> Graph {
    let mut g = Graph::new("c");
    let x = g.add_input("x", TensorType::f32(vec![1, 3, 6, 6]));
    let zp = if act == DType::U8 { 7 } else { -3 };
    let q = g.add_simple(Op::Quantize, vec![x], qt(act, &[1, 3, 6, 6], zp), "q");
    let wv: Vec<i32> = (0..4 * 27).map(|i| i % 15 - 7).collect();
    let data = match wdt {
        DType::I16 => TensorData::I16(wv.iter().map(|&v| v as i16).collect()),
        _ => TensorData::I8(wv.iter().map(|&v| v as i8).collect()),
    };
    let w = konst(&mut g, per_axis(wdt, &[4, 3, 3, 3]), data);
    let b = konst(
        &mut g,
        per_axis(DType::I32, &[4]),
        TensorData::I32(vec![5, -9, 100, 0]),
    );
    let conv = Op::ConvInt(ConvIntAttrs {
        conv: ConvAttrs {
            strides: vec![1, 1],
            pads: vec![1; 4],
            dilations: vec![1, 1],
            group: 1,
        },
    });
    let acc = g.add_simple(
        conv,
        vec![q, w, b],
        TensorType::new(DType::I32, vec![1, 4, 6, 6]),
        "conv",
    );
    let (lo, hi) = act.int_range().map(|(l, h)| (l as i32, h as i32)).unwrap();
    let rq = Op::Requant(RequantAttrs {
        multipliers: vec![
            QuantizedMultiplier {
                m0: 1 << 30,
                shift: 6
            };
            4
        ],
        axis: 1,
        rounding: RoundingMode::HalfUp,
        lo,
        hi,
    });
    let y = g.add_simple(rq, vec![acc], qt(act, &[1, 4, 6, 6], zp), "rq");
    let o = g.add_simple(
        Op::Dequantize,
        vec![y],
        TensorType::f32(vec![1, 4, 6, 6]),
        "y",
    );
    g.outputs.push(o);
    g.phase = Phase::Integer;
    g
}

fn kernels(p: &crate::program::Program) -> Vec<Kernel> {
    p.calls.iter().map(|c| c.kernel).collect()
}

#[test]
fn u8_by_i8_conv_takes_the_fast_kernel_with_the_requantize_fused() {
    let g = conv_net(DType::U8, DType::I8);
    let p = build_fast(&g).unwrap();
    assert_eq!(kernels(&p), [Kernel::ConvU8S8]);
    let c = &p.calls[0];
    // ZPX, FLIP, REQ; KT = 9 taps x 1 step of 4 channels, CP = 4, MB = 1 block.
    assert_eq!((c.params[19], c.params[20], c.params[21]), (7, 0, 1));
    assert_eq!((c.params[18], c.params[28], c.params[29]), (9, 4, 1));
    // The fused plan has no accumulator; the scratch follows it.
    let plan = passes::plan_memory::plan(&g, passes::plan_memory::ARENA_ALIGN);
    assert!(plan.fused.iter().any(|&f| f));
    assert!(p.arena_bytes > plan.arena_bytes, "scratch after the arena");
    // The generic program keeps the generic kernels.
    assert_eq!(
        kernels(&build(&g).unwrap()),
        [Kernel::Conv, Kernel::Requant]
    );
}

#[test]
fn i8_activations_are_flipped_to_u8() {
    let p = build_fast(&conv_net(DType::I8, DType::I8)).unwrap();
    assert_eq!(kernels(&p), [Kernel::ConvU8S8]);
    assert_eq!((p.calls[0].params[19], p.calls[0].params[20]), (125, 128));
}

#[test]
fn other_types_keep_the_generic_kernels_with_the_requantize_fused() {
    for (act, w) in [(DType::I16, DType::I8), (DType::U8, DType::I16)] {
        let g = conv_net(act, w);
        let p = build_fast(&g).unwrap();
        assert_eq!(kernels(&p), [Kernel::Conv], "{act:?} x {w:?}");
        let c = &p.calls[0];
        // REQ, RQC (per channel), ZPOUT, MODE; the result in the requant's type.
        assert_eq!(
            (c.params[20], c.params[21], c.params[22]),
            (1, 1, g_zp(act))
        );
        assert_eq!(c.params[25], 0);
        assert_eq!(c.out.dtype, act);
        assert_eq!(c.ins.len(), 6);
        assert_eq!(p.rounding_modes(), [RoundingMode::HalfUp]);
        // The 576-byte accumulator is gone: the unfused program needs more arena.
        let unfused = build(&g).unwrap();
        assert_eq!(kernels(&unfused), [Kernel::Conv, Kernel::Requant]);
        assert_eq!(unfused.calls[0].params[20], 0);
        assert!(
            p.arena_bytes < unfused.arena_bytes,
            "{} vs {}",
            p.arena_bytes,
            unfused.arena_bytes
        );
    }
}

/// The activation zero point of [`conv_net`].
fn g_zp(act: DType) -> i32 {
    if act == DType::U8 { 7 } else { -3 }
}

/// Two quantized inputs of shapes `a` and `b` added into `y`.
fn add_net(a: &[usize], b: &[usize], y: &[usize]) -> Graph {
    let mut g = Graph::new("a");
    let xa = g.add_input("a", TensorType::f32(a.to_vec()));
    let xb = g.add_input("b", TensorType::f32(b.to_vec()));
    let qa = g.add_simple(Op::Quantize, vec![xa], qt(DType::U8, a, 3), "qa");
    let qb = g.add_simple(Op::Quantize, vec![xb], qt(DType::U8, b, 9), "qb");
    let m = QuantizedMultiplier {
        m0: 1 << 30,
        shift: 1,
    };
    let add = Op::AddInt(AddIntAttrs {
        shift: 20,
        ma: m,
        mb: m,
        mo: QuantizedMultiplier {
            m0: 1 << 30,
            shift: 18,
        },
        rounding: RoundingMode::HalfAwayFromZero,
        lo: 0,
        hi: 255,
    });
    let s = g.add_simple(add, vec![qa, qb], qt(DType::U8, y, 1), "add");
    let o = g.add_simple(Op::Dequantize, vec![s], TensorType::f32(y.to_vec()), "y");
    g.outputs.push(o);
    g.phase = Phase::Integer;
    g
}

#[test]
fn same_shape_8_bit_add_takes_the_fast_kernel() {
    let p = build_fast(&add_net(&[1, 2, 3], &[1, 2, 3], &[1, 2, 3])).unwrap();
    assert_eq!(kernels(&p), [Kernel::AddU8]);
    assert_eq!(p.rounding_modes(), [RoundingMode::HalfAwayFromZero]);
    let p = build_fast(&add_net(&[1, 2, 3], &[1, 1, 3], &[1, 2, 3])).unwrap();
    assert_eq!(kernels(&p), [Kernel::Add], "broadcasting stays generic");
}

#[test]
fn weight_rows_reorder_the_packed_blocks_tap_major() {
    let p = build_fast(&conv_net(DType::U8, DType::I8)).unwrap();
    let c = &p.calls[0];
    let crate::program::Loc::Const(i) = c.ins[1].loc else {
        panic!("weights are a constant");
    };
    // 4 channels in one block of 16: [1][9][16][4].
    assert_eq!(p.consts[i].values.len(), 9 * 16 * 4);
    let rows = crate::program::fast::weight_rows(&p.consts[i].values, &c.params);
    assert_eq!(rows.len(), 4 * 9 * 4);
    for oc in 0..4 {
        for ci in 0..4 {
            for tap in 0..9 {
                let want = if ci < 3 {
                    ((oc * 3 + ci) * 9 + tap) as i32 % 15 - 7
                } else {
                    0
                };
                assert_eq!(
                    rows[oc * 36 + tap * 4 + ci],
                    want,
                    "oc {oc} c {ci} tap {tap}"
                );
            }
        }
    }
}

/// Edge and pseudo-random i32 values for the requantize lane tests.
fn edge_i32() -> Vec<i32> {
    let mut v = vec![
        i32::MIN,
        i32::MIN + 1,
        i32::MAX,
        i32::MAX - 1,
        0,
        1,
        -1,
        2,
        -2,
        3,
        -3,
    ];
    for k in [7, 15, 16, 29, 30] {
        let p = 1i32 << k;
        v.extend([p, p - 1, p + 1, -p, -p - 1, -p + 1]);
    }
    let mut s = 0x2545_f491_u32;
    for _ in 0..16 {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        v.push(s as i32 >> (s % 24));
    }
    v
}

/// Builds and runs a C harness of the prelude's `fast` section that prints, for every
/// (acc, m0, shift) case, mode and (zp, lo, hi) triple, the portable `qcc_rq` and (when the
/// compiler targets AVX-512 VNNI) the 16-lane `qcc_rq16`/`qcc_out16`/`qcc_adds16` results;
/// returns the printed lines, or None when no C compiler runs here.
fn run_lane_harness(
    cases: &[(i32, i32, i32)],
    outs: &[(i32, i32, i32)],
    native: bool,
) -> Option<(bool, Vec<i64>)> {
    use std::fmt::Write as _;
    let mut src = String::from("#include <stdint.h>\n#include <stdio.h>\n");
    for (name, body) in crate::kernel_sections(crate::c::PRELUDE) {
        if name == "base" || name == "arith" || name == "fast" {
            src.push_str(body);
        }
    }
    let n = cases.len().div_ceil(16) * 16;
    let col = |f: &dyn Fn(&(i32, i32, i32)) -> i32| {
        let mut s = String::new();
        for i in 0..n {
            let _ = write!(s, "{},", f(&cases[i.min(cases.len() - 1)]) as i64);
        }
        s
    };
    let _ = writeln!(src, "static const int64_t A[{n}] = {{{}}};", col(&|c| c.0));
    let _ = writeln!(src, "static const int64_t M[{n}] = {{{}}};", col(&|c| c.1));
    let _ = writeln!(src, "static const int64_t S[{n}] = {{{}}};", col(&|c| c.2));
    let trip: String = outs
        .iter()
        .map(|o| format!("{},{},{},", o.0, o.1, o.2))
        .collect();
    let _ = writeln!(
        src,
        "static const int32_t O[] = {{{trip}}};\n#define NO {}",
        outs.len()
    );
    src.push_str(&format!(
        r#"
int main(void)
{{
    int32_t i, l, mode, o;
    int32_t a[16], m[16], s[16];
#ifdef QCC_AVX512
    printf("1\n");
#else
    printf("0\n");
#endif
    for (mode = 0; mode < 2; mode++) {{
        for (i = 0; i < {n}; i += 16) {{
            for (l = 0; l < 16; l++) {{
                a[l] = (int32_t)A[i + l];
                m[l] = (int32_t)M[i + l];
                s[l] = (int32_t)S[i + l];
                printf("%lld\n", (long long)qcc_rq(a[l], qcc_mult_of(m[l], s[l]), mode));
            }}
#ifdef QCC_AVX512
            {{
                const __m512i v = _mm512_loadu_si512((const void *)a);
                const qcc_mult16 q = qcc_mult16_of(_mm512_loadu_si512((const void *)m), _mm512_loadu_si512((const void *)s));
                const __m512i r = qcc_rq16(v, q, mode);
                int32_t out[16];
                unsigned char b[16];
                _mm512_storeu_si512((void *)out, r);
                for (l = 0; l < 16; l++) {{
                    printf("%d\n", out[l]);
                }}
                for (o = 0; o < NO; o++) {{
                    const int32_t zp = O[3 * o], lo = O[3 * o + 1], hi = O[3 * o + 2];
                    _mm_storeu_si128((__m128i *)(void *)b, qcc_out16(r, _mm512_set1_epi32(lo - zp), _mm512_set1_epi32(hi - zp), _mm512_set1_epi32(zp)));
                    for (l = 0; l < 16; l++) {{
                        printf("%d\n", b[l]);
                    }}
                }}
                _mm512_storeu_si512((void *)out, qcc_adds16(v, _mm512_loadu_si512((const void *)m)));
                for (l = 0; l < 16; l++) {{
                    printf("%d\n", out[l]);
                }}
            }}
#endif
        }}
    }}
    return 0;
}}
"#
    ));
    let dir = std::env::temp_dir().join(format!("qcc-lanes-{}-{native}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let c = dir.join("h.c");
    let exe = dir.join("h");
    std::fs::write(&c, src).ok()?;
    let mut cmd = std::process::Command::new("gcc");
    cmd.args(["-std=c99", "-O2"]);
    if native {
        cmd.arg("-march=native");
    }
    let st = cmd.arg(&c).arg("-o").arg(&exe).status().ok()?;
    assert!(st.success(), "the lane harness does not compile");
    let out = std::process::Command::new(&exe).output().ok()?;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    let mut lines = text.lines().map(|l| l.parse::<i64>().unwrap());
    let avx = lines.next()? == 1;
    Some((avx, lines.collect()))
}

#[test]
fn requantize_lanes_equal_ir_requantize_on_edge_values() {
    use ir::arith::requantize;
    let accs = edge_i32();
    let mut m0s = vec![
        0,
        1,
        1 << 30,
        (1 << 30) + 1,
        i32::MAX,
        i32::MAX - 1,
        0x5a82_7999,
        -1,
        i32::MIN,
    ];
    m0s.extend(edge_i32().into_iter().skip(40).take(4));
    let mut cases = Vec::new();
    for &m0 in &m0s {
        for shift in -34..=40 {
            for &a in &accs {
                cases.push((a, m0, shift));
            }
        }
    }
    let outs = [
        (0, 0, 255),
        (-128, -128, 127),
        (3, 10, 200),
        (7, 200, 100),
        (-5, 0, 6),
    ];
    let modes = [RoundingMode::HalfUp, RoundingMode::HalfAwayFromZero];
    let n = cases.len().div_ceil(16) * 16;
    let case = |i: usize| cases[i.min(cases.len() - 1)];
    let mut checked_avx = false;
    for native in [false, true] {
        let Some((avx, vals)) = run_lane_harness(&cases, &outs, native) else {
            return;
        };
        let mut it = vals.into_iter();
        for mode in modes {
            for i in (0..n).step_by(16) {
                let want = |l: usize, zp: i32, lo: i32, hi: i32| {
                    let (a, m0, shift) = case(i + l);
                    requantize(a, QuantizedMultiplier { m0, shift }, zp, lo, hi, mode)
                };
                for l in 0..16 {
                    let got = it.next().unwrap();
                    assert_eq!(
                        got,
                        i64::from(want(l, 0, i32::MIN, i32::MAX)),
                        "qcc_rq {:?} {mode:?}",
                        case(i + l)
                    );
                }
                if !avx {
                    continue;
                }
                for l in 0..16 {
                    let got = it.next().unwrap();
                    assert_eq!(
                        got,
                        i64::from(want(l, 0, i32::MIN, i32::MAX)),
                        "qcc_rq16 {:?} {mode:?}",
                        case(i + l)
                    );
                }
                for &(zp, lo, hi) in &outs {
                    for l in 0..16 {
                        let got = it.next().unwrap();
                        let w = i64::from(want(l, zp, lo, hi) as u8);
                        assert_eq!(
                            got,
                            w,
                            "qcc_out16 {:?} {:?} {mode:?}",
                            case(i + l),
                            (zp, lo, hi)
                        );
                    }
                }
                for l in 0..16 {
                    let (a, b, _) = case(i + l);
                    let s = (i64::from(a) + i64::from(b))
                        .clamp(i64::from(i32::MIN), i64::from(i32::MAX));
                    assert_eq!(it.next().unwrap(), s, "qcc_adds16 {a} {b}");
                }
            }
        }
        assert!(it.next().is_none());
        checked_avx |= avx;
    }
    // On this project's machines (AVX-512 VNNI) the lane forms must have been checked.
    let vnni = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.contains("avx512_vnni"));
    assert_eq!(checked_avx, vnni);
}
