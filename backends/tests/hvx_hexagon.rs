//! hvx-like C on a hand-made Integer graph (conv+requant twice, one strided with 16 output
//! channels on a small plane so it takes the 16-channel blocks, max pool,
//! gemm+requant; and a chain of channels-in-lanes convs): the portable C compiled on the host and the HVX build run on qemu-hexagon
//! must both equal a direct evaluation with `ir::arith` bit for bit on 8 inputs. The
//! Hexagon half is skipped (with a message) only when clang-19 or qemu-hexagon is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use backends::hvx::emit_hvx_c;
use ir::arith::{QuantizedMultiplier, RoundingMode, quantize_multiplier, requantize};
use ir::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as u32
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n)
            .map(|_| (self.next() % 255) as i8)
            .map(|v| v.max(-127))
            .collect()
    }
}

fn q(dt: DType, shape: &[usize], s: f32, zp: i32) -> TensorType {
    TensorType {
        dtype: dt,
        shape: Shape(shape.to_vec()),
        quant: Some(QuantParams::per_tensor(dt, s, zp)),
    }
}
fn konst(g: &mut Graph, dt: DType, shape: &[usize], data: TensorData) -> ValueId {
    let t = Tensor {
        dtype: dt,
        shape: Shape(shape.to_vec()),
        data,
    };
    g.add_node(
        Op::Const(ConstAttrs { value: t }),
        vec![],
        vec![TensorType::new(dt, shape.to_vec())],
        "k",
    )
    .1[0]
}

struct ConvP {
    cin: usize,
    m: usize,
    k: usize,
    s: usize,
    p: usize,
    w: Vec<i8>,
    b: Vec<i32>,
    mult: Vec<QuantizedMultiplier>,
}

fn conv_node(
    g: &mut Graph,
    x: ValueId,
    cp: &ConvP,
    hw: usize,
    zp_out: i32,
    lo: i32,
) -> (ValueId, usize) {
    let ho = (hw + 2 * cp.p - cp.k) / cp.s + 1;
    let w = konst(
        g,
        DType::I8,
        &[cp.m, cp.cin, cp.k, cp.k],
        TensorData::I8(cp.w.clone()),
    );
    let b = konst(g, DType::I32, &[cp.m], TensorData::I32(cp.b.clone()));
    let attrs = ConvIntAttrs {
        conv: ConvAttrs {
            strides: vec![cp.s; 2],
            pads: vec![cp.p; 4],
            dilations: vec![1, 1],
            group: 1,
        },
    };
    let acc = g
        .add_node(
            Op::ConvInt(attrs),
            vec![x, w, b],
            vec![TensorType::new(DType::I32, vec![1, cp.m, ho, ho])],
            "conv",
        )
        .1[0];
    let rq = RequantAttrs {
        multipliers: cp.mult.clone(),
        axis: 1,
        rounding: RoundingMode::HalfUp,
        lo,
        hi: 255,
    };
    let y = g
        .add_node(
            Op::Requant(rq),
            vec![acc],
            vec![q(DType::U8, &[1, cp.m, ho, ho], 0.05, zp_out)],
            "rq",
        )
        .1[0];
    (y, ho)
}

fn ref_conv(x: &[i32], zpx: i32, hw: usize, cp: &ConvP, zp_out: i32, lo: i32) -> Vec<i32> {
    let ho = (hw + 2 * cp.p - cp.k) / cp.s + 1;
    let mut y = Vec::new();
    for m in 0..cp.m {
        for oh in 0..ho {
            for ow in 0..ho {
                let mut acc = cp.b[m];
                for c in 0..cp.cin {
                    for i in 0..cp.k {
                        for j in 0..cp.k {
                            let ih = (oh * cp.s + i) as isize - cp.p as isize;
                            let iw = (ow * cp.s + j) as isize - cp.p as isize;
                            if ih < 0 || iw < 0 || ih >= hw as isize || iw >= hw as isize {
                                continue;
                            }
                            let xv = x[(c * hw + ih as usize) * hw + iw as usize] - zpx;
                            acc = acc.wrapping_add(
                                xv * i32::from(cp.w[((m * cp.cin + c) * cp.k + i) * cp.k + j]),
                            );
                        }
                    }
                }
                y.push(requantize(
                    acc,
                    cp.mult[m],
                    zp_out,
                    lo,
                    255,
                    RoundingMode::HalfUp,
                ));
            }
        }
    }
    y
}

/// Output channels of the strided conv.
const M2: usize = 16;

fn model(r: &mut Rng) -> (Graph, impl Fn(&[u8]) -> Vec<u8> + use<>) {
    let mut g = Graph::new("t");
    let x = g.add_input("x", TensorType::f32(vec![1, 3, 13, 13]));
    let xq = g
        .add_node(
            Op::Quantize,
            vec![x],
            vec![q(DType::U8, &[1, 3, 13, 13], 0.02, 7)],
            "q",
        )
        .1[0];
    let mk = |r: &mut Rng, cin, m, k, s, p| ConvP {
        cin,
        m,
        k,
        s,
        p,
        w: r.i8s(m * cin * k * k),
        b: (0..m).map(|_| (r.next() % 4000) as i32 - 2000).collect(),
        mult: (0..m)
            .map(|_| quantize_multiplier(0.0005 + f64::from(r.next() % 1000) * 3e-6).unwrap())
            .collect(),
    };
    let c1 = mk(r, 3, 6, 3, 1, 1);
    // 16 output channels on a 7x7 plane: the 16-channel x 32-position conv blocks
    let c2 = mk(r, 6, M2, 3, 2, 1);
    let (y1, h1) = conv_node(&mut g, xq, &c1, 13, 3, 3);
    let (y2, h2) = conv_node(&mut g, y1, &c2, h1, 120, 0);
    // max pool 2x2 stride 1
    let hp = h2 - 1;
    let pool = PoolAttrs {
        kernel: vec![2, 2],
        strides: vec![1, 1],
        pads: vec![0; 4],
        dilations: vec![1, 1],
        ceil_mode: false,
    };
    let y3 = g
        .add_node(
            Op::MaxPool(pool),
            vec![y2],
            vec![q(DType::U8, &[1, M2, hp, hp], 0.05, 120)],
            "pool",
        )
        .1[0];
    let kk = M2 * hp * hp;
    let y4 = g
        .add_node(
            Op::Reshape,
            vec![y3],
            vec![q(DType::U8, &[1, kk], 0.05, 120)],
            "flat",
        )
        .1[0];
    let nn = 37;
    let wg = r.i8s(nn * kk);
    let bg: Vec<i32> = (0..nn).map(|_| (r.next() % 2000) as i32 - 1000).collect();
    let wv = konst(&mut g, DType::I8, &[nn, kk], TensorData::I8(wg.clone()));
    let bv = konst(&mut g, DType::I32, &[nn], TensorData::I32(bg.clone()));
    let acc = g
        .add_node(
            Op::GemmInt(GemmIntAttrs { trans_b: true }),
            vec![y4, wv, bv],
            vec![TensorType::new(DType::I32, vec![1, nn])],
            "fc",
        )
        .1[0];
    let mg = quantize_multiplier(0.0007).unwrap();
    let rq = RequantAttrs {
        multipliers: vec![mg],
        axis: 1,
        rounding: RoundingMode::HalfUp,
        lo: -128,
        hi: 127,
    };
    let y5 = g
        .add_node(
            Op::Requant(rq),
            vec![acc],
            vec![q(DType::I8, &[1, nn], 0.1, -5)],
            "rq",
        )
        .1[0];
    let out = g
        .add_node(
            Op::Dequantize,
            vec![y5],
            vec![TensorType::f32(vec![1, nn])],
            "dq",
        )
        .1[0];
    g.outputs = vec![out];
    g.phase = Phase::Integer;
    let reference = move |xin: &[u8]| {
        let x0: Vec<i32> = xin.iter().map(|&b| i32::from(b)).collect();
        let a1 = ref_conv(&x0, 7, 13, &c1, 3, 3);
        let a2 = ref_conv(&a1, 3, h1, &c2, 120, 0);
        let mut a3 = Vec::new();
        for c in 0..M2 {
            for i in 0..hp {
                for j in 0..hp {
                    let at = |di: usize, dj: usize| a2[(c * h2 + i + di) * h2 + j + dj];
                    a3.push(at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1)));
                }
            }
        }
        (0..nn)
            .map(|n| {
                let mut acc = bg[n];
                for (k, &v) in a3.iter().enumerate() {
                    acc = acc.wrapping_add((v - 120) * i32::from(wg[n * kk + k]));
                }
                requantize(acc, mg, -5, -128, 127, RoundingMode::HalfUp) as i8 as u8
            })
            .collect()
    };
    (g, reference)
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn hexdir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/hexagon")
}

fn check(cmd: &mut Command) {
    let out = cmd.output().expect("spawn compiler");
    assert!(
        out.status.success(),
        "{cmd:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hand_made_graph_matches_reference_on_host_and_hexagon() {
    let mut r = Rng(0x1234_5678_9abc_def1);
    let (g, reference) = model(&mut r);
    let samples = 8;
    let mut input = Vec::new();
    let mut want = Vec::new();
    for _ in 0..samples {
        let x: Vec<u8> = (0..3 * 13 * 13).map(|_| r.next() as u8).collect();
        want.extend(reference(&x));
        input.extend(x);
    }
    host_and_hexagon(&g, "tnet", samples, &input, &want, 3 * 13 * 13);
}

/// The channels-in-lanes conv kernels (`qk_conv_cl2`: 33..=96 output channels, here 40 and 70
/// so the last 64-channel block is partial; `qk_conv_cl1`: 32 channels; `qk_conv_cl4`: 100
/// channels, stride 2) on odd input channel counts, padding, stride 2, a 1x1 conv, and a
/// plane of 169 pixels (two transpose tiles, a partial pixel block).
#[test]
fn channels_in_lanes_convs_match_reference_on_host_and_hexagon() {
    let mut r = Rng(0x0fed_cba9_8765_4321);
    let mut g = Graph::new("t");
    let x = g.add_input("x", TensorType::f32(vec![1, 5, 13, 13]));
    let xq = g
        .add_node(
            Op::Quantize,
            vec![x],
            vec![q(DType::U8, &[1, 5, 13, 13], 0.02, 9)],
            "q",
        )
        .1[0];
    let mk = |r: &mut Rng, cin, m, k, s, p| ConvP {
        cin,
        m,
        k,
        s,
        p,
        w: r.i8s(m * cin * k * k),
        b: (0..m).map(|_| (r.next() % 4000) as i32 - 2000).collect(),
        mult: (0..m)
            .map(|_| quantize_multiplier(0.0002 + f64::from(r.next() % 1000) * 2e-6).unwrap())
            .collect(),
    };
    let c1 = mk(&mut r, 5, 40, 3, 1, 1);
    let c2 = mk(&mut r, 40, 32, 3, 2, 1);
    let c3 = mk(&mut r, 32, 70, 1, 1, 0);
    let c4 = mk(&mut r, 70, 100, 3, 2, 1);
    let (y1, h1) = conv_node(&mut g, xq, &c1, 13, 4, 0);
    let (y2, h2) = conv_node(&mut g, y1, &c2, h1, 100, 2);
    let (y3, h3) = conv_node(&mut g, y2, &c3, h2, 17, 0);
    let (y4, h4) = conv_node(&mut g, y3, &c4, h3, 60, 0);
    let out = g
        .add_node(
            Op::Dequantize,
            vec![y4],
            vec![TensorType::f32(vec![1, 100, h4, h4])],
            "dq",
        )
        .1[0];
    g.outputs = vec![out];
    g.phase = Phase::Integer;
    let samples = 3;
    let mut input = Vec::new();
    let mut want = Vec::new();
    for _ in 0..samples {
        let xin: Vec<u8> = (0..5 * 13 * 13).map(|_| r.next() as u8).collect();
        let x0: Vec<i32> = xin.iter().map(|&b| i32::from(b)).collect();
        let a1 = ref_conv(&x0, 9, 13, &c1, 4, 0);
        let a2 = ref_conv(&a1, 4, h1, &c2, 100, 2);
        let a3 = ref_conv(&a2, 100, h2, &c3, 17, 0);
        let a4 = ref_conv(&a3, 17, h3, &c4, 60, 0);
        want.extend(a4.iter().map(|&v| v as u8));
        input.extend(xin);
    }
    let (c, _) = emit_hvx_c(&g, "lnet").unwrap();
    assert_eq!(c.matches("qk_conv_cl2(&k").count(), 2, "two convs on cl2");
    assert_eq!(c.matches("qk_conv_cl1(&k").count(), 1, "one conv on cl1");
    assert_eq!(c.matches("qk_conv_cl4(&k").count(), 1, "one conv on cl4");
    host_and_hexagon(&g, "lnet", samples, &input, &want, 5 * 13 * 13);
}

/// Emits `g` as `name`, runs `samples` inputs through the portable C on the host and the HVX
/// build on qemu-hexagon, and compares both with `want`.
fn host_and_hexagon(g: &Graph, name: &str, samples: usize, input: &[u8], want: &[u8], in0: usize) {
    let (c, h) = emit_hvx_c(g, name).unwrap();
    let dir = std::env::temp_dir().join(format!("qcc-hvx-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.c")), &c).unwrap();
    std::fs::write(dir.join(format!("{name}.h")), &h).unwrap();
    let hd = hexdir();
    let defs = [
        format!("-DQ_NAME={name}"),
        format!("-DQ_UNAME={}", name.to_ascii_uppercase()),
        format!("-DQ_HEADER=\"{name}.h\""),
    ];
    let n = samples.to_string();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    check(
        Command::new(&cc)
            .args([
                "-O2",
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-c",
                "-o",
            ])
            .arg(dir.join(format!("{name}.o")))
            .arg(dir.join(format!("{name}.c"))),
    );
    check(
        Command::new(&cc)
            .args(["-O2", "-D_POSIX_C_SOURCE=200809L"])
            .args(&defs)
            .arg("-I")
            .arg(&dir)
            .arg("-I")
            .arg(&hd)
            .arg("-o")
            .arg(dir.join("host"))
            .arg(hd.join("driver.c"))
            .arg(dir.join(format!("{name}.o"))),
    );
    let host = run(Command::new(dir.join("host")).args(["q", &n]), input);
    assert_eq!(host, want, "host portable C vs reference");
    if !(have("clang-19") && have("qemu-hexagon")) {
        println!(
            "SKIPPED the Hexagon half: clang-19 or qemu-hexagon missing (run tools/hexagon/setup.sh)"
        );
        return;
    }
    check(
        Command::new("clang-19")
            .args([
                "--target=hexagon-unknown-linux-musl",
                "-mv67",
                "-mhvx=v66",
                "-mhvx-length=128b",
                "-O2",
                "-nostdlib",
                "-ffreestanding",
                "-static",
                "-fno-builtin",
            ])
            .args(&defs)
            .arg("-I")
            .arg(&dir)
            .arg("-I")
            .arg(&hd)
            .arg("-o")
            .arg(dir.join("hvx.elf"))
            .arg(hd.join("driver.c"))
            .arg(dir.join(format!("{name}.c"))),
    );
    let hvx = run(
        Command::new("qemu-hexagon")
            .arg(dir.join("hvx.elf"))
            .args(["q", &n]),
        input,
    );
    assert_eq!(hvx, want, "HVX on qemu-hexagon vs reference");
    // QCC_HVX_KEEP=1 keeps the emitted files (e.g. for tools/hexagon/hexrun.sh).
    if std::env::var_os("QCC_HVX_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        std::fs::write(dir.join("input.bin"), &input[..in0]).unwrap();
        println!("kept {}", dir.display());
    }
}
