//! Unit tests of the emitters' text: names, float literals, library sections, freestanding
//! C (no division, no libc), determinism and errors.

use super::*;
use ir::arith::{QuantizedMultiplier, RoundingMode};
use ir::{DType, Op, QuantParams, RequantAttrs, TensorType};

fn qt(dtype: DType, shape: &[usize], scale: f32, zp: i32) -> TensorType {
    TensorType {
        dtype,
        shape: shape.to_vec().into(),
        quant: Some(QuantParams::per_tensor(dtype, scale, zp)),
    }
}

/// x -> quantize -> requant (x0.5, given rounding) -> dequantize.
fn tiny(mode: RoundingMode) -> Graph {
    let mut g = Graph::new("tiny");
    let x = g.add_input("x", TensorType::f32(vec![1, 4]));
    let q = g.add_simple(Op::Quantize, vec![x], qt(DType::U8, &[1, 4], 0.1, 3), "q");
    let r = Op::Requant(RequantAttrs {
        multipliers: vec![QuantizedMultiplier {
            m0: 1 << 30,
            shift: 0,
        }],
        axis: 1,
        rounding: mode,
        lo: 0,
        hi: 255,
    });
    let y = g.add_simple(r, vec![q], qt(DType::U8, &[1, 4], 0.2, 3), "rq");
    let o = g.add_simple(Op::Dequantize, vec![y], TensorType::f32(vec![1, 4]), "y");
    g.outputs.push(o);
    g.phase = Phase::Integer;
    g
}

#[test]
fn names_are_sanitized() {
    assert_eq!(sanitize_name("LeNet-5.v2"), "lenet_5_v2");
    assert_eq!(sanitize_name(""), "net");
    assert_eq!(sanitize_name("--"), "net");
    assert_eq!(sanitize_name("3x"), "3x");
}

#[test]
fn c_float_literals_are_exact() {
    assert_eq!(c::c_float(1.0), "0x1.000000p+0f");
    assert_eq!(c::c_float(-0.75), "-0x1.800000p-1f");
    assert_eq!(c::c_float(0.0), "0.0f");
    assert_eq!(c::c_float(-0.0), "-0.0f");
    assert_eq!(c::c_float(0.1), "0x1.99999ap-4f");
    assert_eq!(c::c_float(f32::from_bits(1)), "0x0.000002p-126f");
    assert_eq!(c::c_float(f32::MAX), "0x1.fffffep+127f");
}

#[test]
fn library_sections_split_on_markers() {
    let s = kernel_sections("junk\n//@ base\nA\n//@ conv\nB\nC\n");
    assert_eq!(s, vec![("base", "A\n"), ("conv", "B\nC\n")]);
}

/// Drops `/* */` and `//` comments and string literals.
fn code_only(c: &str) -> String {
    let mut out = String::new();
    let mut rest = c;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |e| &r[e + 2..]);
        } else if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |e| &r[e..]);
        } else if let Some(r) = rest.strip_prefix('"') {
            rest = r.find('"').map_or("", |e| &r[e + 1..]);
        } else {
            let ch = rest.chars().next().unwrap_or(' ');
            out.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    out
}

#[test]
fn emitted_c_never_divides_and_calls_no_library() {
    let g = tiny(RoundingMode::HalfUp);
    let (c, h) = emit_c(&g, "tiny", &Target::generic_c(RoundingMode::HalfUp)).unwrap();
    // The whole kernel library too, not only what this program uses.
    let lib = include_str!("c/prelude.c");
    for text in [c.as_str(), h.as_str(), lib] {
        let code = code_only(text);
        assert!(!code.contains('/'), "a division in:\n{code}");
        assert!(!code.contains('%'), "a modulo in:\n{code}");
        for call in [
            "malloc", "free", "memcpy", "memset", "printf", "abort", "math.h", "stdlib",
        ] {
            assert!(!code.contains(call), "{call}");
        }
        let includes: Vec<&str> = code.lines().filter(|l| l.starts_with("#include")).collect();
        // <immintrin.h>: the compiler's intrinsics, only under `__AVX512VNNI__` (fast conv).
        assert!(
            includes
                .iter()
                .all(|l| *l == "#include <stdint.h>" || *l == "#include <immintrin.h>"),
            "{includes:?}"
        );
    }
    assert!(h.contains("#define QCC_TINY_ARENA_BYTES 128"));
    assert!(h.contains("#define QCC_TINY_INPUT0_SHAPE {1, 4}"));
    assert!(h.contains("#define QCC_TINY_INPUT0_TYPE uint8_t"));
    assert!(h.contains("#define QCC_TINY_OUTPUT0_ZERO_POINT 3"));
    assert!(h.contains(
        "int qcc_tiny_run_f32(const float *const inputs[], float *const outputs[], void *arena);"
    ));
}

#[test]
fn emission_is_deterministic() {
    let g = tiny(RoundingMode::HalfUp);
    let t = Target::generic_c(RoundingMode::HalfUp);
    assert_eq!(
        emit_c(&g, "n", &t).unwrap(),
        emit_c(&g.clone(), "n", &t).unwrap()
    );
    assert_eq!(
        emit_rust(&g, "n").unwrap(),
        emit_rust(&g.clone(), "n").unwrap()
    );
}

#[test]
fn errors_are_typed() {
    let mut g = tiny(RoundingMode::HalfAwayFromZero);
    assert!(matches!(
        emit_c(&g, "n", &Target::hvx_like()),
        Err(EmitError::Target { .. })
    ));
    assert!(emit_c(&g, "n", &Target::generic_c(RoundingMode::HalfAwayFromZero)).is_ok());
    g.phase = Phase::Qdq;
    assert_eq!(emit_rust(&g, "n"), Err(EmitError::Phase(Phase::Qdq)));
    // A float op in an integer program.
    let mut g = Graph::new("f");
    let x = g.add_input("x", TensorType::f32(vec![4]));
    let r = g.add_simple(Op::Relu, vec![x], TensorType::f32(vec![4]), "relu");
    g.outputs.push(r);
    g.phase = Phase::Integer;
    let e = emit_rust(&g, "n").unwrap_err();
    assert!(matches!(e, EmitError::Unsupported { .. }), "{e}");
}

#[test]
fn prelude_base_section_marks_where_the_boundary_helpers_start() {
    // The hvx-like emitter keeps the base section above this mark (its own boundary helpers
    // replace the rest); without the mark it would paste unused static functions and the
    // -Werror build of its C would fail.
    let sections = crate::kernel_sections(crate::c::PRELUDE);
    let (_, base) = sections
        .iter()
        .find(|(k, _)| *k == "base")
        .expect("base section");
    let cut = base.find(crate::c::BOUNDARY_MARK).expect("boundary mark");
    assert!(base[cut..].contains("qcc_quantize_in"));
    assert!(!base[..cut].contains("qcc_quantize"));
}
