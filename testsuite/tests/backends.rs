//! Differential tests of the portable backends: the emitted Rust (compiled with `rustc -O`)
//! and the emitted `generic-c` (gcc and clang at -O2, and an ASan/UBSan build) must agree
//! bit for bit with each other and with the reference on hand-made Integer graphs, through
//! both entry points (`run` on quantized tensors and `run_f32`).
//!
//! Each program is compiled once per test into a temp dir; the harness feeds every sample
//! through one process and compares the printed outputs as text.

use backends::{Target, emit_c, emit_rust};
use ir::arith::{QuantizedMultiplier, RoundingMode, quantize_multiplier};
use ir::{
    AddIntAttrs, AvgPoolAttrs, AvgPoolIntAttrs, ConcatAttrs, ConvAttrs, ConvIntAttrs, DType,
    GemmIntAttrs, Graph, LutAttrs, MulIntAttrs, Op, PadAttrs, PadMode, Phase, PoolAttrs,
    QuantGranularity, QuantParams, RequantAttrs, SliceAttrs, Tensor, TensorData, TensorType,
    TransposeAttrs, ValueId,
};
use ir::{CoordMode, NearestMode, ResizeAttrs, ResizeIntAttrs, ResizeMode, SoftmaxIntAttrs};
use std::path::Path;
use std::process::Command;

mod common;

fn qt(dtype: DType, shape: &[usize], scale: f32, zp: i32) -> TensorType {
    TensorType {
        dtype,
        shape: shape.to_vec().into(),
        quant: Some(QuantParams::per_tensor(dtype, scale, zp)),
    }
}

fn per_axis(dtype: DType, shape: &[usize], axis: usize, scales: Vec<f32>) -> TensorType {
    let n = scales.len();
    TensorType {
        dtype,
        shape: shape.to_vec().into(),
        quant: Some(QuantParams {
            granularity: QuantGranularity::PerAxis {
                axis,
                scales,
                zero_points: vec![0; n],
            },
            bits: dtype.bits(),
            pow2: false,
        }),
    }
}

fn qm(x: f64) -> QuantizedMultiplier {
    quantize_multiplier(x).unwrap()
}

/// A deterministic pseudo-random stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn int(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % (hi - lo + 1) as u64) as i32
    }
    fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (self.next() % 10_000) as f32 / 10_000.0 * (hi - lo)
    }
}

fn const_i8(g: &mut Graph, ty: TensorType, rng: &mut Rng) -> ValueId {
    let n = ty.shape.numel();
    let v: Vec<i8> = (0..n).map(|_| rng.int(-127, 127) as i8).collect();
    let t = Tensor {
        dtype: DType::I8,
        shape: ty.shape.clone(),
        data: TensorData::I8(v),
    };
    g.add_simple(Op::Const(ir::ConstAttrs { value: t }), vec![], ty, "w")
}

fn const_i32(g: &mut Graph, ty: TensorType, rng: &mut Rng, lo: i32, hi: i32) -> ValueId {
    let n = ty.shape.numel();
    let t = Tensor {
        dtype: DType::I32,
        shape: ty.shape.clone(),
        data: TensorData::I32((0..n).map(|_| rng.int(lo, hi)).collect()),
    };
    g.add_simple(Op::Const(ir::ConstAttrs { value: t }), vec![], ty, "b")
}

fn requant(mults: Vec<QuantizedMultiplier>, mode: RoundingMode, lo: i32, hi: i32) -> Op {
    Op::Requant(RequantAttrs {
        multipliers: mults,
        axis: 1,
        rounding: mode,
        lo,
        hi,
    })
}

fn conv2d(pads: usize, stride: usize, group: usize) -> Op {
    Op::ConvInt(ConvIntAttrs {
        conv: ConvAttrs {
            strides: vec![stride, stride],
            pads: vec![pads; 4],
            dilations: vec![1, 1],
            group,
        },
    })
}

/// A CNN touching most integer kernels: conv (grouped and plain, padded, strided), per-channel
/// requant with a fused ReLU, max pool, average pool, add with broadcasting, mul, lut,
/// concat, transpose, pad, slice, reshape, gemm; two outputs.
fn cnn(mode: RoundingMode, act: DType) -> Graph {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (amin, amax) = if act == DType::U8 {
        (0, 255)
    } else {
        (-128, 127)
    };
    let zp = if act == DType::U8 { 100 } else { -20 };
    let s_x = 0.05f32;
    let mut g = Graph::new("cnn");
    let x = g.add_input("x", TensorType::f32(vec![1, 2, 8, 8]));
    let q = g.add_simple(Op::Quantize, vec![x], qt(act, &[1, 2, 8, 8], s_x, zp), "q");
    // conv 2 -> 4, 3x3, pad 1.
    let s_w: Vec<f32> = (0..4).map(|i| 0.01 + 0.002 * i as f32).collect();
    let w = const_i8(
        &mut g,
        per_axis(DType::I8, &[4, 2, 3, 3], 0, s_w.clone()),
        &mut rng,
    );
    let b = const_i32(
        &mut g,
        per_axis(DType::I32, &[4], 0, s_w.iter().map(|s| s * s_x).collect()),
        &mut rng,
        -3000,
        3000,
    );
    let acc_ty = per_axis(
        DType::I32,
        &[1, 4, 8, 8],
        1,
        s_w.iter().map(|s| s * s_x).collect(),
    );
    let acc = g.add_simple(conv2d(1, 1, 1), vec![q, w, b], acc_ty, "conv1");
    let s_y = 0.08f32;
    let mults = s_w.iter().map(|s| qm(f64::from(s * s_x / s_y))).collect();
    let y1 = g.add_simple(
        requant(mults, mode, zp.max(amin), amax),
        vec![acc],
        qt(act, &[1, 4, 8, 8], s_y, zp),
        "rq1",
    );
    // depthwise-ish grouped conv 4 -> 4 (group 2), stride 2, no bias.
    let w2 = const_i8(
        &mut g,
        per_axis(DType::I8, &[4, 2, 3, 3], 0, vec![0.02; 4]),
        &mut rng,
    );
    let acc2 = g.add_simple(
        conv2d(1, 2, 2),
        vec![y1, w2],
        per_axis(DType::I32, &[1, 4, 4, 4], 1, vec![0.02 * s_y; 4]),
        "conv2",
    );
    let y2 = g.add_simple(
        requant(vec![qm(0.02 * 0.08 / 0.1)], mode, amin, amax),
        vec![acc2],
        qt(act, &[1, 4, 4, 4], 0.1, zp),
        "rq2",
    );
    // max pool 2x2 of y1 -> [1,4,4,4]; add to y2.
    let mp = Op::MaxPool(PoolAttrs {
        kernel: vec![2, 2],
        strides: vec![2, 2],
        pads: vec![0; 4],
        dilations: vec![1, 1],
        ceil_mode: false,
    });
    let p1 = g.add_simple(mp, vec![y1], qt(act, &[1, 4, 4, 4], s_y, zp), "pool");
    let add = Op::AddInt(AddIntAttrs {
        shift: 20,
        ma: qm(0.08 / (2.0 * 0.1)),
        mb: qm(0.1 / (2.0 * 0.1)),
        mo: qm(2.0 * 0.1 / (f64::from(1u32 << 20) * 0.15)),
        rounding: mode,
        lo: amin,
        hi: amax,
    });
    let sum = g.add_simple(add, vec![p1, y2], qt(act, &[1, 4, 4, 4], 0.15, zp), "add");
    // broadcasting mul with a per-channel constant [1,4,1,1].
    let cst = Tensor {
        dtype: act,
        shape: vec![1, 4, 1, 1].into(),
        data: if act == DType::U8 {
            TensorData::U8(vec![90, 120, 200, 30])
        } else {
            TensorData::I8(vec![-90, 20, 100, -3])
        },
    };
    let c = g.add_simple(
        Op::Const(ir::ConstAttrs { value: cst }),
        vec![],
        qt(act, &[1, 4, 1, 1], 0.02, zp),
        "c",
    );
    let mul = Op::MulInt(MulIntAttrs {
        m: qm(0.15 * 0.02 / 0.05),
        rounding: mode,
        lo: amin,
        hi: amax,
    });
    let prod = g.add_simple(mul, vec![sum, c], qt(act, &[1, 4, 4, 4], 0.05, zp), "mul");
    // lut (a made-up monotone table), in place.
    let table: Vec<i32> = (0..256).map(|i| (amin + (i * i) / 256).min(amax)).collect();
    let l = g.add_simple(
        Op::Lut(LutAttrs { table, axis: None }),
        vec![prod],
        qt(act, &[1, 4, 4, 4], 0.05, zp),
        "lut",
    );
    // average pool 3x3 stride 1 pad 1 (count_include_pad false) -> [1,4,4,4].
    let ap = Op::AvgPoolInt(AvgPoolIntAttrs {
        pool: AvgPoolAttrs {
            pool: PoolAttrs {
                kernel: vec![3, 3],
                strides: vec![1, 1],
                pads: vec![1; 4],
                dilations: vec![1, 1],
                ceil_mode: false,
            },
            count_include_pad: false,
        },
        rounding: mode,
    });
    let avg = g.add_simple(ap, vec![l], qt(act, &[1, 4, 4, 4], 0.05, zp), "avg");
    // concat with a transpose of itself along channels -> [1,8,4,4].
    let tr = g.add_simple(
        Op::Transpose(TransposeAttrs {
            perm: vec![0, 1, 3, 2],
        }),
        vec![avg],
        qt(act, &[1, 4, 4, 4], 0.05, zp),
        "tr",
    );
    let cat = g.add_simple(
        Op::Concat(ConcatAttrs { axis: 1 }),
        vec![avg, tr],
        qt(act, &[1, 8, 4, 4], 0.05, zp),
        "cat",
    );
    // pad (edge) then slice with a step back to 4x4... and a reversed slice.
    let pad = Op::Pad(PadAttrs {
        pads: vec![0, 0, 1, 2, 0, 0, 2, 1],
        mode: PadMode::Edge,
        value: 0.0,
    });
    let pd = g.add_simple(pad, vec![cat], qt(act, &[1, 8, 7, 7], 0.05, zp), "pad");
    let sl = Op::Slice(SliceAttrs {
        starts: vec![0, 7, 0, 6],
        steps: vec![1, -1, 2, -2],
    });
    let s = g.add_simple(sl, vec![pd], qt(act, &[1, 8, 4, 4], 0.05, zp), "slice");
    // flatten, gemm 128 -> 10, requant: output 1.
    let flat = g.add_simple(Op::Reshape, vec![s], qt(act, &[1, 128], 0.05, zp), "flat");
    let s_g: Vec<f32> = (0..10).map(|i| 0.005 + 0.0003 * i as f32).collect();
    let wg = const_i8(
        &mut g,
        per_axis(DType::I8, &[10, 128], 0, s_g.clone()),
        &mut rng,
    );
    let bg = const_i32(
        &mut g,
        per_axis(DType::I32, &[10], 0, s_g.iter().map(|s| s * 0.05).collect()),
        &mut rng,
        -5000,
        5000,
    );
    let gacc = g.add_simple(
        Op::GemmInt(GemmIntAttrs { trans_b: true }),
        vec![flat, wg, bg],
        per_axis(
            DType::I32,
            &[1, 10],
            1,
            s_g.iter().map(|s| s * 0.05).collect(),
        ),
        "fc",
    );
    let gm = s_g.iter().map(|s| qm(f64::from(s * 0.05 / 0.2))).collect();
    let out1 = g.add_simple(
        requant(gm, mode, amin, amax),
        vec![gacc],
        qt(act, &[1, 10], 0.2, zp),
        "rq_fc",
    );
    let y_a = g.add_simple(
        Op::Dequantize,
        vec![out1],
        TensorType::f32(vec![1, 10]),
        "y",
    );
    g.value_mut(y_a).name = Some("logits".into());
    // output 2: the max-pooled features.
    let y_b = g.add_simple(
        Op::Dequantize,
        vec![p1],
        TensorType::f32(vec![1, 4, 4, 4]),
        "y2",
    );
    g.outputs.extend([y_a, y_b]);
    g.phase = Phase::Integer;
    g
}

/// Sample inputs: a few random tensors plus edge values (ties, out of range, -0.0).
fn samples(g: &Graph, count: usize) -> Vec<Vec<Vec<f32>>> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    (0..count)
        .map(|k| {
            g.inputs
                .iter()
                .map(|&v| {
                    let n = g.ty(v).shape.numel();
                    (0..n)
                        .map(|i| match (k, i % 7) {
                            (0, 0) => -0.0,
                            (0, 1) => 0.025,
                            (0, 2) => 1e9,
                            (0, 3) => -1e9,
                            (0, 4) => 0.075,
                            _ => rng.f32(-6.0, 8.0),
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// Writes the sample file: per sample, per input, f32 values then their quantized codes
/// (i32), little endian.
fn write_samples(path: &Path, g: &Graph, samples: &[Vec<Vec<f32>>]) {
    let mut bytes = Vec::new();
    for s in samples {
        for (x, &v) in s.iter().zip(&g.inputs) {
            for f in x {
                bytes.extend_from_slice(&f.to_le_bytes());
            }
            for q in quantize_input(g, v, x) {
                bytes.extend_from_slice(&q.to_le_bytes());
            }
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// The quantized codes of a graph input (per-tensor parameters of its quantize).
fn quantize_input(g: &Graph, v: ValueId, x: &[f32]) -> Vec<i32> {
    let (q, _) = g.users(v)[0];
    let ty = g.ty(g.node(q).outputs[0]);
    let qp = ty.quant.as_ref().unwrap();
    let (lo, hi) = ty.dtype.int_range().unwrap();
    x.iter()
        .map(|&f| {
            ir::arith::quantize(
                f,
                ir::arith::reciprocal(qp.scale(0)),
                qp.zero_point(0),
                lo as i32,
                hi as i32,
            )
        })
        .collect()
}

fn rust_main(g: &Graph, nsamples: usize) -> String {
    let sizes: Vec<usize> = g.inputs.iter().map(|&v| g.ty(v).shape.numel()).collect();
    format!(
        r#"mod net;
use std::io::Write;
fn main() {{
    let path = std::env::args().nth(1).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let mut at = 0usize;
    let mut word = || {{ let w = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]; at += 4; w }};
    let sizes: [usize; {ni}] = {sizes:?};
    let mut out = String::new();
    for _ in 0..{nsamples} {{
        let mut fs: Vec<Vec<f32>> = Vec::new();
        let mut qs: Vec<Vec<i32>> = Vec::new();
        for &n in &sizes {{
            fs.push((0..n).map(|_| f32::from_le_bytes(word())).collect());
            qs.push((0..n).map(|_| i32::from_le_bytes(word())).collect());
        }}
        let fr: Vec<&[f32]> = fs.iter().map(|v| v.as_slice()).collect();
        let qr: Vec<&[i32]> = qs.iter().map(|v| v.as_slice()).collect();
        for o in net::run_f32(&fr) {{
            for x in o {{ out.push_str(&format!("{{:08x}} ", x.to_bits())); }}
            out.push('\n');
        }}
        for o in net::run(&qr) {{
            for x in o {{ out.push_str(&format!("{{}} ", x)); }}
            out.push('\n');
        }}
    }}
    std::io::stdout().write_all(out.as_bytes()).unwrap();
}}
"#,
        ni = sizes.len()
    )
}

fn c_main(g: &Graph, name: &str, nsamples: usize) -> String {
    let up = name.to_ascii_uppercase();
    let ni = g.inputs.len();
    let no = g.outputs.len();
    let mut decl = String::new();
    let mut setup = String::new();
    for i in 0..ni {
        decl.push_str(&format!(
            "static float fin{i}[QCC_{up}_INPUT{i}_NUMEL]; static QCC_{up}_INPUT{i}_TYPE qin{i}[QCC_{up}_INPUT{i}_NUMEL];\n"
        ));
        setup.push_str(&format!(
            "for (k = 0; k < QCC_{up}_INPUT{i}_NUMEL; k++) fin{i}[k] = rf(f);\n\
             for (k = 0; k < QCC_{up}_INPUT{i}_NUMEL; k++) qin{i}[k] = (QCC_{up}_INPUT{i}_TYPE)ri(f);\n\
             fi[{i}] = fin{i}; qi[{i}] = qin{i};\n"
        ));
    }
    let mut print = String::new();
    for i in 0..no {
        decl.push_str(&format!(
            "static float fout{i}[QCC_{up}_OUTPUT{i}_NUMEL]; static QCC_{up}_OUTPUT{i}_TYPE qout{i}[QCC_{up}_OUTPUT{i}_NUMEL];\n"
        ));
        setup.push_str(&format!("fo[{i}] = fout{i}; qo[{i}] = qout{i};\n"));
        print.push_str(&format!(
            "for (k = 0; k < QCC_{up}_OUTPUT{i}_NUMEL; k++) {{ uint32_t u; memcpy(&u, &fout{i}[k], 4); printf(\"%08x \", (unsigned)u); }} printf(\"\\n\");\n"
        ));
    }
    let mut printq = String::new();
    for i in 0..no {
        printq.push_str(&format!(
            "for (k = 0; k < QCC_{up}_OUTPUT{i}_NUMEL; k++) printf(\"%d \", (int)qout{i}[k]); printf(\"\\n\");\n"
        ));
    }
    format!(
        r#"#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include "net.h"
static unsigned char arena[QCC_{up}_ARENA_BYTES] __attribute__((aligned(128)));
{decl}
static float rf(FILE *f) {{ float x; if (fread(&x, 4, 1, f) != 1) return 0; return x; }}
static int32_t ri(FILE *f) {{ int32_t x; if (fread(&x, 4, 1, f) != 1) return 0; return x; }}
int main(int argc, char **argv) {{
    FILE *f = fopen(argv[1], "rb");
    const float *fi[{ni}]; float *fo[{no}]; const void *qi[{ni}]; void *qo[{no}];
    int s, k;
    (void)argc;
    if (qcc_{name}_run(NULL, NULL, arena) != -1) return 3;
    if (qcc_{name}_run(qi, qo, arena + 1) != -2) return 4;
    for (s = 0; s < {nsamples}; s++) {{
        {setup}
        if (qcc_{name}_run_f32(fi, fo, arena) != 0) return 1;
        {print}
        if (qcc_{name}_run(qi, qo, arena) != 0) return 2;
        {printq}
    }}
    fclose(f);
    return 0;
}}
"#
    )
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn clang() -> Option<&'static str> {
    ["clang-19", "clang"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
}

/// Emits, compiles and runs `g` through every executor; returns the agreed output text.
fn differential(g: &Graph, target: &Target) -> String {
    differential_on(g, target, &samples(g, 4), false)
}

/// [`differential`] on given samples (per sample, per graph input, the f32 values); with
/// `native` also gcc at `-O3 -march=native` (auto-vectorized fast kernels).
fn differential_on(g: &Graph, target: &Target, smp: &[Vec<Vec<f32>>], native: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = smp.len();
    write_samples(&d.join("in.bin"), g, smp);
    let input = d.join("in.bin");

    let rs = emit_rust(g, "net").unwrap();
    assert_eq!(rs, emit_rust(g, "net").unwrap(), "deterministic");
    std::fs::write(d.join("net.rs"), &rs).unwrap();
    std::fs::write(d.join("main.rs"), rust_main(g, n)).unwrap();
    run(Command::new("rustc")
        .args(["-O", "--edition", "2021", "-o"])
        .arg(d.join("rs"))
        .arg(d.join("main.rs")));
    let want = run(Command::new(d.join("rs")).arg(&input));
    // The reference: the integer interpreter's dequantized outputs equal `run_f32`'s.
    let lines: Vec<&str> = want.lines().collect();
    let no = g.outputs.len();
    for (k, sample) in smp.iter().enumerate() {
        let inputs: Vec<Tensor> = sample
            .iter()
            .zip(&g.inputs)
            .map(|(x, &v)| Tensor::from_f32(g.ty(v).shape.clone(), x.clone()))
            .collect();
        let outs = ir::interp::int::run_int(g, &inputs).unwrap();
        for (o, t) in outs.iter().enumerate() {
            let text: String = t
                .as_f32()
                .unwrap()
                .iter()
                .map(|x| format!("{:08x} ", x.to_bits()))
                .collect();
            assert_eq!(
                lines[k * 2 * no + o],
                text,
                "sample {k} output {o}: emitted Rust vs run_int"
            );
        }
    }

    let (c, h) = emit_c(g, "net", target).unwrap();
    std::fs::write(d.join("net.c"), &c).unwrap();
    std::fs::write(d.join("net.h"), &h).unwrap();
    std::fs::write(d.join("main.c"), c_main(g, "net", n)).unwrap();
    let strict = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"];
    let mut compilers = vec![
        ("gcc", vec!["-O2"]),
        (
            "gcc",
            vec![
                "-O1",
                "-g",
                "-fsanitize=address,undefined",
                "-fno-sanitize-recover=all",
            ],
        ),
    ];
    if let Some(cl) = clang() {
        compilers.push((cl, vec!["-O2"]));
    }
    if native {
        compilers.push(("gcc", vec!["-O3", "-march=native"]));
        if let Some(cl) = clang() {
            compilers.push((cl, vec!["-O3", "-march=native"]));
        }
    }
    for (i, (cc, flags)) in compilers.iter().enumerate() {
        let exe = d.join(format!("c{i}"));
        // The library under the strict flags, the harness (which uses stdio) separately.
        run(Command::new(cc)
            .args(strict)
            .args(flags)
            .arg("-c")
            .arg(d.join("net.c"))
            .arg("-o")
            .arg(d.join(format!("net{i}.o"))));
        run(Command::new(cc)
            .args(flags)
            .arg(d.join("main.c"))
            .arg(d.join(format!("net{i}.o")))
            .arg("-o")
            .arg(&exe));
        let got = run(Command::new(&exe).arg(&input));
        assert_eq!(
            got, want,
            "{cc} {flags:?} disagrees with the Rust simulation"
        );
    }
    want
}

#[test]
fn cnn_u8_half_up_agrees_across_executors() {
    let g = cnn(RoundingMode::HalfUp, DType::U8);
    differential(&g, &Target::generic_c(RoundingMode::HalfUp));
}

#[test]
fn cnn_i8_half_away_agrees_across_executors() {
    let g = cnn(RoundingMode::HalfAwayFromZero, DType::I8);
    differential(&g, &Target::generic_c(RoundingMode::HalfAwayFromZero));
}

/// Linear resizes (half-pixel 2x up, align-corners 8x8 -> 5x7) and integer softmax along the
/// channel axis (strided slices) and along the last axis; three outputs.
fn softmax_resize(mode: RoundingMode, act: DType) -> Graph {
    let zp = if act == DType::U8 { 128 } else { 0 };
    let s_x = 0.07f32;
    let mut g = Graph::new("softmax_resize");
    let x = g.add_input("x", TensorType::f32(vec![1, 3, 4, 4]));
    let q = g.add_simple(Op::Quantize, vec![x], qt(act, &[1, 3, 4, 4], s_x, zp), "q");
    let linear = |coord, scales: Vec<f32>| ResizeAttrs {
        mode: ResizeMode::Linear,
        coord,
        nearest: NearestMode::Floor,
        scales,
    };
    let r1 = Op::ResizeInt(ResizeIntAttrs {
        resize: linear(CoordMode::HalfPixel, vec![1.0, 1.0, 2.0, 2.0]),
        frac_bits: 10,
        rounding: mode,
    });
    let up = g.add_simple(r1, vec![q], qt(act, &[1, 3, 8, 8], s_x, zp), "up");
    let r2 = Op::ResizeInt(ResizeIntAttrs {
        resize: linear(
            CoordMode::AlignCorners,
            vec![1.0, 1.0, 5.0 / 8.0, 7.0 / 8.0],
        ),
        frac_bits: 10,
        rounding: mode,
    });
    let down = g.add_simple(r2, vec![up], qt(act, &[1, 3, 5, 7], s_x, zp), "down");
    let exp_bits = 20;
    let exp_table: Vec<i32> = (0..256)
        .map(|d| ((-f64::from(s_x) * f64::from(d)).exp() * f64::from(1 << exp_bits)).round() as i32)
        .collect();
    let s_zp = if act == DType::U8 { 0 } else { -128 };
    let sm = |axis| {
        Op::SoftmaxInt(SoftmaxIntAttrs {
            axis,
            exp_table: exp_table.clone(),
            exp_bits,
            rounding: mode,
        })
    };
    let p1 = g.add_simple(
        sm(1),
        vec![up],
        qt(act, &[1, 3, 8, 8], 1.0 / 256.0, s_zp),
        "sm_c",
    );
    let flat = g.add_simple(Op::Reshape, vec![down], qt(act, &[15, 7], s_x, zp), "flat");
    let p2 = g.add_simple(
        sm(1),
        vec![flat],
        qt(act, &[15, 7], 1.0 / 256.0, s_zp),
        "sm_last",
    );
    let mut outs = Vec::new();
    for (v, shape, name) in [
        (p1, vec![1, 3, 8, 8], "probs_c"),
        (p2, vec![15, 7], "probs"),
        (down, vec![1, 3, 5, 7], "down_f"),
    ] {
        let y = g.add_simple(Op::Dequantize, vec![v], TensorType::f32(shape), name);
        outs.push(y);
    }
    g.outputs.extend(outs);
    g.phase = Phase::Integer;
    g
}

#[test]
fn softmax_and_linear_resize_agree_across_executors() {
    let g = softmax_resize(RoundingMode::HalfUp, DType::U8);
    ir::verifier::verify(&g).unwrap();
    differential(&g, &Target::generic_c(RoundingMode::HalfUp));
    let g = softmax_resize(RoundingMode::HalfAwayFromZero, DType::I8);
    differential(&g, &Target::generic_c(RoundingMode::HalfAwayFromZero));
}

/// A float softmax classifier (`Gemm` with alpha 0.5 and beta 2, then `Softmax`) through
/// `pipelines::QUANTIZE` and lower-integer, then every executor.
#[test]
fn softmax_classifier_compiles_and_agrees_across_executors() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut g = Graph::new("classifier");
    let x = g.add_input("x", TensorType::f32(vec![2, 16]));
    let w = Tensor::from_f32(vec![10, 16], (0..160).map(|_| rng.f32(-0.5, 0.5)).collect());
    let b = Tensor::from_f32(vec![10], (0..10).map(|_| rng.f32(-0.3, 0.3)).collect());
    let konst = |g: &mut Graph, t: Tensor, name: &str| {
        let ty = TensorType::f32(t.shape.dims().to_vec());
        g.add_simple(Op::Const(ir::ConstAttrs { value: t }), vec![], ty, name)
    };
    let (w, b) = (konst(&mut g, w, "w"), konst(&mut g, b, "b"));
    let gemm = Op::Gemm(ir::GemmAttrs {
        alpha: 0.5,
        beta: 2.0,
        trans_a: false,
        trans_b: true,
    });
    let logits = g.add_simple(gemm, vec![x, w, b], TensorType::f32(vec![2, 10]), "fc");
    let sm = Op::Softmax(ir::SoftmaxAttrs { axis: 1 });
    let p = g.add_simple(sm, vec![logits], TensorType::f32(vec![2, 10]), "probs");
    g.outputs.push(p);
    let calib: Vec<Vec<Tensor>> = (0..8)
        .map(|_| {
            let v = (0..32).map(|_| rng.f32(-2.0, 2.0)).collect();
            vec![Tensor::from_f32(vec![2, 16], v)]
        })
        .collect();
    let ctx = passes::PassCtx {
        calib: Some(std::sync::Arc::new(calib)),
        ..passes::PassCtx::default()
    };
    let pipeline: Vec<&str> = passes::pipelines::QUANTIZE
        .iter()
        .copied()
        .chain(["lower-integer"])
        .collect();
    passes::PassManager::new(&pipeline, ctx)
        .unwrap()
        .run(&mut g)
        .unwrap();
    let ops: Vec<_> = g.node_ids().map(|n| g.node(n).op.mnemonic()).collect();
    assert!(
        ops.contains(&"softmax_int") && ops.contains(&"gemm_int"),
        "{ops:?}"
    );
    differential(&g, &Target::generic_c(RoundingMode::HalfUp));
}

/// One model directory of `testsuite/models`: import, float clean-up, calibrate on
/// `calib.npy`, insert-qdq, lower-integer (`compiler::driver::compile`), then the executors
/// on 8 samples of `input.npy`. Skipped (`Ok(false)`) when its program text is in `seen`.
fn model_agrees(dir: &Path, seen: &mut std::collections::HashSet<String>) -> Result<bool, String> {
    model_agrees_on(dir, &[], seen, &Target::hvx_like(), false)
}

/// [`model_agrees`] with extra command-line options.
fn model_agrees_with(
    dir: &Path,
    extra: &[&str],
    seen: &mut std::collections::HashSet<String>,
) -> Result<bool, String> {
    model_agrees_on(dir, extra, seen, &Target::hvx_like(), false)
}

/// [`model_agrees_with`] with the C emitted for `target`; `native` as in [`differential_on`].
fn model_agrees_on(
    dir: &Path,
    extra: &[&str],
    seen: &mut std::collections::HashSet<String>,
    target: &Target,
    native: bool,
) -> Result<bool, String> {
    use clap::Parser;
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let mut args: Vec<std::path::PathBuf> = vec![
        "qcc".into(),
        dir.join("model.onnx"),
        "--calib".into(),
        dir.join("calib.npy"),
    ];
    args.extend(extra.iter().map(|s| s.into()));
    let cli = compiler::driver::Cli::try_parse_from(args).unwrap();
    let c = compiler::driver::compile(&cli).map_err(|e| format!("{name}: compile: {e}"))?;
    let g = c.program;
    let input = compiler::npy::read_npy_file(&dir.join("input.npy")).unwrap();
    let smp = compiler::samples::split_samples(&g, &[input]).unwrap();
    let smp: Vec<Vec<Vec<f32>>> = smp
        .iter()
        .take(8)
        .map(|s| s.iter().map(|t| t.as_f32().unwrap().to_vec()).collect())
        .collect();
    let plan = passes::plan_memory::plan(&g, 128);
    assert!(
        plan.arena_bytes as f64 <= 1.05 * plan.lower_bound as f64,
        "{name}: arena {} vs lower bound {}",
        plan.arena_bytes,
        plan.lower_bound
    );
    let text = emit_rust(&g, "net").map_err(|e| format!("{name}: emit: {e}"))?;
    // Opset and packaging variants of one net lower to the same program: run it once.
    if !seen.insert(text) {
        return Ok(false);
    }
    differential_on(&g, target, &smp, native);
    eprintln!(
        "{name}: ok (arena {} bytes, lower bound {})",
        plan.arena_bytes, plan.lower_bound
    );
    Ok(true)
}

/// The model directories with a calibration set, sorted.
fn model_dirs() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("model.onnx").exists() && p.join("calib.npy").exists())
        .collect();
    dirs.sort();
    dirs
}

/// tiny_detector on its own (Resize linear and nearest, ConvTranspose, Split, Sigmoid), so a
/// failure names it; `every_test_model_agrees_across_executors` skips it.
#[test]
fn tiny_detector_agrees_across_executors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tiny_detector");
    let mut seen = std::collections::HashSet::new();
    assert_eq!(model_agrees(&dir, &mut seen), Ok(true));
}

/// fashion_resnet (residual adds: `k_add_u8` in place over a fused requantize's output) as
/// `generic-c`, whose fast kernels gcc auto-vectorizes at `-O3 -march=native`; gcc 12 once
/// miscompiled their i64 clamp to a byte there.
#[test]
fn fashion_resnet_generic_c_agrees_at_o3_native() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/fashion_resnet");
    let mut seen = std::collections::HashSet::new();
    let target = Target::generic_c(RoundingMode::HalfUp);
    assert_eq!(
        model_agrees_on(&dir, &[], &mut seen, &target, true),
        Ok(true)
    );
}

/// Every other model of `testsuite/models` through [`model_agrees`].
#[test]
fn every_test_model_agrees_across_executors() {
    let mut failures = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for dir in model_dirs() {
        if dir.ends_with("tiny_detector") {
            continue;
        }
        if let Err(e) = model_agrees(&dir, &mut seen) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Mixed precision (per layer 2..8-bit packed weights, 4-bit packed, 8-bit and 16-bit
/// activations from a `--precision` file) and power-of-two scales on two test models: the
/// emitted Rust, host C (gcc, ASan/UBSan, clang) and the interpreter agree bit for bit.
#[test]
fn mixed_precision_and_pow2_programs_agree_across_executors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let tmp = tempfile::tempdir().unwrap();
    for model in ["fashion_cnn", "lenet_digits"] {
        let dir = root.join(model);
        let prec = tmp.path().join(format!("{model}.json"));
        std::fs::write(&prec, common::mixed_precision_json(&dir)).unwrap();
        let prec = prec.to_string_lossy().to_string();
        let configs: [&[&str]; 2] = [
            &["--precision", &prec],
            &["--scales", "pow2", "--weight-bits", "4"],
        ];
        for extra in configs {
            let mut seen = std::collections::HashSet::new();
            assert_eq!(
                model_agrees_with(&dir, extra, &mut seen),
                Ok(true),
                "{model} {extra:?}"
            );
        }
    }
}

/// A conv chain for the fast u8 x s8 kernel on odd shapes: 5 input channels (not a multiple
/// of 4), 37 and 70 output channels (blocks of 16 and groups of 4 blocks with tails), 7x9
/// pixels (tiles of 6 with a tail), 3x3 pad 1, stride 2, a 1x1 conv without bias, a grouped
/// conv without padding, a non-zero input zero point, clamps narrower than the type and an
/// accumulator with two requantizing users (not fused: the kernel stores i32); an 8-bit
/// add of one shape (`k_add_u8`) and a 3x3 stride-2 padded max pool.
fn fast_conv_chain(mode: RoundingMode, act: DType) -> Graph {
    let mut rng = Rng(0x517C_C1B7_2722_0A95);
    let (amin, amax) = if act == DType::U8 {
        (0, 255)
    } else {
        (-128, 127)
    };
    let zp = if act == DType::U8 { 37 } else { -11 };
    let mut g = Graph::new("fast_conv_chain");
    let x = g.add_input("x", TensorType::f32(vec![1, 5, 7, 9]));
    let mut cur = g.add_simple(Op::Quantize, vec![x], qt(act, &[1, 5, 7, 9], 0.05, zp), "q");
    let mut s_cur = 0.05f32;
    // (out channels, kernel, pads, stride, group, bias, out h, out w, lo, hi)
    let layers = [
        (37, 3, 1, 1, 1, true, 7, 9, zp, amax),
        (70, 3, 1, 2, 1, true, 4, 5, amin, amax),
        (20, 1, 0, 1, 1, false, 4, 5, zp + 3, amax - 20),
        (6, 3, 0, 1, 2, true, 2, 3, amin, amax),
    ];
    let mut cin = 5;
    let mut outs = Vec::new();
    for (i, &(m, k, pads, stride, group, bias, oh, ow, lo, hi)) in layers.iter().enumerate() {
        let s_w: Vec<f32> = (0..m).map(|j| 0.01 + 0.0005 * j as f32).collect();
        let w = const_i8(
            &mut g,
            per_axis(DType::I8, &[m, cin / group, k, k], 0, s_w.clone()),
            &mut rng,
        );
        let s_acc: Vec<f32> = s_w.iter().map(|s| s * s_cur).collect();
        let mut ins = vec![cur, w];
        if bias {
            ins.push(const_i32(
                &mut g,
                per_axis(DType::I32, &[m], 0, s_acc.clone()),
                &mut rng,
                -4000,
                4000,
            ));
        }
        let acc = g.add_simple(
            conv2d(pads, stride, group),
            ins,
            per_axis(DType::I32, &[1, m, oh, ow], 1, s_acc.clone()),
            format!("conv{i}"),
        );
        let s_y = 0.1f32;
        let mults = s_acc.iter().map(|s| qm(f64::from(s / s_y))).collect();
        let y = g.add_simple(
            requant(mults, mode, lo, hi),
            vec![acc],
            qt(act, &[1, m, oh, ow], s_y, zp),
            format!("rq{i}"),
        );
        if i == 0 {
            // A residual-style add of 2331 bytes (vector loop and scalar tail of k_add_u8).
            let add = Op::AddInt(AddIntAttrs {
                shift: 20,
                ma: qm(0.1 / (2.0 * 0.1)),
                mb: qm(0.1 / (2.0 * 0.1)),
                mo: qm(2.0 * 0.1 / (f64::from(1u32 << 20) * 0.13)),
                rounding: mode,
                lo: amin,
                hi: amax,
            });
            let sum = g.add_simple(add, vec![y, y], qt(act, &[1, m, oh, ow], 0.13, zp), "add");
            outs.push(sum);
            // ResNet's stem pool: 3x3, stride 2, pad 1 (3-wide windows and clipped borders).
            let mp = Op::MaxPool(PoolAttrs {
                kernel: vec![3, 3],
                strides: vec![2, 2],
                pads: vec![1; 4],
                dilations: vec![1, 1],
                ceil_mode: false,
            });
            let pooled = g.add_simple(mp, vec![y], qt(act, &[1, m, 4, 5], 0.1, zp), "pool");
            outs.push(pooled);
        }
        if i == layers.len() - 1 {
            // A second user of the accumulator keeps the requantize unfused.
            let mults2 = s_acc.iter().map(|s| qm(f64::from(s / 0.3))).collect();
            let y2 = g.add_simple(
                requant(mults2, mode, amin, amax),
                vec![acc],
                qt(act, &[1, m, oh, ow], 0.3, zp),
                "rq_b",
            );
            outs.push(y2);
        }
        outs.push(y);
        cur = y;
        s_cur = s_y;
        cin = m;
    }
    for (i, v) in outs.into_iter().enumerate() {
        let shape = g.ty(v).shape.dims().to_vec();
        let o = g.add_simple(
            Op::Dequantize,
            vec![v],
            TensorType::f32(shape),
            format!("y{i}"),
        );
        g.outputs.push(o);
    }
    g.phase = Phase::Integer;
    g
}

/// [`fast_conv_chain`] through every executor, with gcc and clang at `-O3 -march=native` (on
/// an AVX-512 VNNI host: the intrinsics tile and requantize of `k_conv_u8s8`) and without
/// (the portable tile), for u8 and i8 activations.
#[test]
fn fast_conv_odd_shapes_agree_across_executors_and_isas() {
    let cases = [
        (RoundingMode::HalfUp, DType::U8),
        (RoundingMode::HalfAwayFromZero, DType::I8),
    ];
    for (mode, act) in cases {
        let g = fast_conv_chain(mode, act);
        let p = backends::program::build_fast(&g).unwrap();
        let fast = p
            .calls
            .iter()
            .filter(|c| c.kernel == backends::program::Kernel::ConvU8S8)
            .count();
        assert_eq!(fast, 4, "every conv takes the fast kernel");
        differential_on(&g, &Target::generic_c(mode), &samples(&g, 3), true);
    }
}

/// Batched `matmul_int`s whose accumulators are fused into their requants (per column into
/// i16, per tensor into u4): the generic matmul's requantize epilogue against the reference.
fn fused_matmuls() -> Graph {
    let mut rng = Rng(0x51_7cc1_b727_220a);
    let mut g = Graph::new("mm");
    let x = g.add_input("x", TensorType::f32(vec![2, 3, 5]));
    let q = g.add_simple(
        Op::Quantize,
        vec![x],
        qt(DType::U8, &[2, 3, 5], 0.05, 90),
        "q",
    );
    // [2,3,5] x [5,4] -> [2,3,4], requantized per column (axis 2) to i16.
    let w1 = const_i8(&mut g, qt(DType::I8, &[5, 4], 0.01, 0), &mut rng);
    let a1 = g.add_simple(
        Op::MatMulInt,
        vec![q, w1],
        qt(DType::I32, &[2, 3, 4], 0.0005, 0),
        "mm1",
    );
    let m1 = (0..4)
        .map(|i| qm(0.0005 / (0.0002 + 0.0001 * f64::from(i))))
        .collect();
    let r1 = g.add_simple(
        Op::Requant(RequantAttrs {
            multipliers: m1,
            axis: 2,
            rounding: RoundingMode::HalfUp,
            lo: -32768,
            hi: 32767,
        }),
        vec![a1],
        qt(DType::I16, &[2, 3, 4], 0.0002, -7),
        "rq1",
    );
    // [2,3,5] x [2,5,3] -> [2,3,3], requantized per tensor to u4.
    let w2 = const_i8(&mut g, qt(DType::I8, &[2, 5, 3], 0.01, 0), &mut rng);
    let a2 = g.add_simple(
        Op::MatMulInt,
        vec![q, w2],
        qt(DType::I32, &[2, 3, 3], 0.0005, 0),
        "mm2",
    );
    let r2 = g.add_simple(
        requant(vec![qm(0.0005 / 0.3)], RoundingMode::HalfUp, 0, 15),
        vec![a2],
        qt(DType::U4, &[2, 3, 3], 0.3, 3),
        "rq2",
    );
    for (v, shape, name) in [(r1, vec![2, 3, 4], "y1"), (r2, vec![2, 3, 3], "y2")] {
        let y = g.add_simple(Op::Dequantize, vec![v], TensorType::f32(shape), name);
        g.outputs.push(y);
    }
    g.phase = Phase::Integer;
    g
}

#[test]
fn fused_matmul_requants_agree_across_executors() {
    let g = fused_matmuls();
    let fused = passes::plan_memory::fused_accumulators(&g);
    assert_eq!(fused.iter().filter(|&&f| f).count(), 2);
    let p = backends::program::build_fast(&g).unwrap();
    let kinds: Vec<_> = p.calls.iter().map(|c| c.kernel).collect();
    assert_eq!(
        kinds,
        [
            backends::program::Kernel::MatMul,
            backends::program::Kernel::MatMul
        ]
    );
    assert!(p.calls.iter().all(|c| c.params[8] == 1));
    differential(&g, &Target::generic_c(RoundingMode::HalfUp));
}
