//! The `generic-c` emitter: one freestanding C99 translation unit and its header.
//!
//! API (DESIGN.md "Emitted C API"), for `NAME = net`:
//!
//! ```c
//! #define QCC_NET_ARENA_BYTES ...      // one buffer, 128-byte aligned (QCC_NET_ARENA_ALIGN)
//! #define QCC_NET_NUM_INPUTS ...       // and QCC_NET_INPUT<i>_{NAME,RANK,SHAPE,NUMEL,TYPE,
//! #define QCC_NET_NUM_OUTPUTS ...      //   SCALE,ZERO_POINT} (per-axis: _AXIS_SIZE, _SCALES,
//!                                      //   _ZERO_POINTS), same for OUTPUT<i>
//! int qcc_net_run(const void *const inputs[], void *const outputs[], void *arena);
//! int qcc_net_run_f32(const float *const inputs[], float *const outputs[], void *arena);
//! ```
//!
//! `qcc_net_run` takes and returns quantized tensors (`uint8_t`/`int8_t`/`int16_t` arrays in
//! the model's NCHW layout); `_run_f32` quantizes and dequantizes at the boundary with
//! `ir::arith::quantize`/`dequantize` (reciprocal multiply, round half to even without libm).
//! Both return 0, -1 for a null pointer and -2 for an arena not aligned to 128 bytes.
//!
//! The code is C99 and freestanding: it includes only `<stdint.h>` (and, when the compiler
//! targets AVX-512 VNNI, the compiler's own `<immintrin.h>` for the fast conv), calls no library
//! function, allocates nothing, never divides (the `no_division` test checks the emitted
//! text), and keeps all state in the caller's arena, laid out by the static memory plan.
//! Kernels are `prelude.c` (only those the program uses are included); weights and tables
//! are `static const` arrays. Output is deterministic.

use crate::program::{Boundary, ConstData, Loc, Operand, Program};
use crate::{EmitError, Target, kernel_sections};
use ir::{DType, Graph};
use std::fmt::Write;

pub(crate) const PRELUDE: &str = include_str!("prelude.c");

/// The line in the prelude's `base` section where its boundary helpers (float quantize,
/// dequantize, move) start; the hvx-like emitter, which has its own, keeps only what is above.
pub(crate) const BOUNDARY_MARK: &str = "/* ---- boundary helpers (";

/// Whether the library section of kernel `name` uses the shared `arith` section
/// (fixed-point multiply, rounding shifts, reciprocals).
pub(crate) fn needs_arith(name: &str) -> bool {
    [
        "conv", "matmul", "requant", "add", "mul", "avg_pool", "softmax", "resize",
    ]
    .contains(&name)
}

/// Emits `(source, header)` for `g` (Integer or Scheduled phase) as `qcc_<name>_*` for a
/// portable C target (`generic-c`). Fails if an op's rounding is one `target` lacks.
pub fn emit_c(g: &Graph, name: &str, target: &Target) -> Result<(String, String), EmitError> {
    crate::check_phase(g)?;
    let p = crate::program::build_fast(g)?;
    for m in p.rounding_modes() {
        if !target.supports_rounding(m) {
            return Err(EmitError::Target {
                target: target.name,
                why: format!("the program rounds {m}, which the target cannot"),
            });
        }
    }
    let name = crate::sanitize_name(name);
    Ok((source(&p, &name, target), header(&p, &name)))
}

pub(crate) fn ctype(d: DType) -> &'static str {
    match d {
        DType::I32 | DType::F32 => "int32_t",
        DType::I16 => "int16_t",
        DType::I8 | DType::I4 => "int8_t",
        DType::U8 | DType::U4 => "uint8_t",
    }
}

/// The element code of an operand with every 4-bit type held one element per byte (the
/// hvx-like emitter's arena layout).
pub(crate) fn code(d: DType, arena: bool) -> &'static str {
    match (d, arena) {
        (DType::I32 | DType::F32, false) => "QCC_I32",
        (DType::I16, false) => "QCC_I16",
        (DType::I8 | DType::I4, false) => "QCC_I8",
        (DType::U8 | DType::U4, false) => "QCC_U8",
        (DType::I32 | DType::F32, true) => "QCC_A_I32",
        (DType::I16, true) => "QCC_A_I16",
        (DType::I8 | DType::I4, true) => "QCC_A_I8",
        (DType::U8 | DType::U4, true) => "QCC_A_U8",
    }
}

/// The element code of an arena operand in the generic-C layout: 4-bit types packed two per
/// byte (element `i` in byte `i / 2`, low nibble first, as `plan_memory::storage_bytes`).
fn arena_code(d: DType) -> &'static str {
    match d {
        DType::I4 => "QCC_A_I4",
        DType::U4 => "QCC_A_U4",
        DType::F32 | DType::I32 | DType::I16 | DType::I8 | DType::U8 => code(d, true),
    }
}

/// The element code of a kernel operand: packed codes for 4-bit arena values and bit-packed
/// constants (`QCC_P0 + bits`, [`crate::program::pack_bits`]).
fn operand_code(o: &Operand, consts: &[ConstData]) -> String {
    match o.loc {
        Loc::Arena(_) => arena_code(o.dtype).to_string(),
        Loc::Const(i) if consts[i].bits < 8 => format!("QCC_P0 + {}", consts[i].bits),
        Loc::Const(_) => code(o.dtype, false).to_string(),
    }
}

fn ptr(o: &Operand) -> String {
    match o.loc {
        Loc::Arena(off) => format!("A + {off}"),
        Loc::Const(i) => format!("qcc_c{i}"),
    }
}

fn in_operand(o: &Operand, consts: &[ConstData]) -> String {
    format!("{{{}, {}}}", ptr(o), operand_code(o, consts))
}

/// An exact C99 hexadecimal float literal for a finite `x`.
pub fn c_float(x: f32) -> String {
    let bits = x.to_bits();
    let sign = if bits >> 31 == 1 { "-" } else { "" };
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 0 && man == 0 {
        return format!("{sign}0.0f");
    }
    if exp == 0xff {
        // Not reachable for valid scales; keep the text compilable and loud.
        return format!("{sign}0x1.fffffep127f /* non-finite */");
    }
    let (lead, e) = if exp == 0 { (0, -126) } else { (1, exp - 127) };
    format!("{sign}0x{lead}.{:06x}p{e:+}f", man << 1)
}

fn list<T>(xs: &[T], f: impl Fn(&T) -> String) -> String {
    xs.iter().map(f).collect::<Vec<_>>().join(", ")
}

fn source(p: &Program, name: &str, target: &Target) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "/* Generated by qcc for target {}: model `{name}`. Do not edit.",
        target.name
    );
    let _ = writeln!(
        s,
        " * C99, freestanding: no libc calls, no allocation, no division. */"
    );
    let _ = writeln!(s, "#include <stdint.h>\n");
    let used: Vec<&str> = p.kernels_used().iter().map(|k| k.name()).collect();
    let arith = used.iter().any(|k| needs_arith(k));
    let fast = p.kernels_used().iter().any(|k| k.is_fast());
    for (kname, body) in kernel_sections(PRELUDE) {
        if kname == "base"
            || (kname == "arith" && arith)
            || (kname == "fast" && fast)
            || used.contains(&kname)
        {
            s.push_str(body);
        }
    }
    s.push_str("\n/* ---- constants ---- */\n");
    for (i, c) in p.consts.iter().enumerate() {
        if c.bits < 8 {
            let bytes = crate::program::pack_bits(&c.values, c.bits);
            let _ = writeln!(
                s,
                "/* {} values of {} bits, bit-packed */\nstatic const uint8_t qcc_c{i}[{}] = {{\n    {}\n}};",
                c.values.len(),
                c.bits,
                bytes.len(),
                crate::rust::wrap(&bytes.iter().map(|&b| i32::from(b)).collect::<Vec<_>>())
            );
            continue;
        }
        let values = if c.values.is_empty() {
            vec![0]
        } else {
            c.values.clone()
        };
        let _ = writeln!(
            s,
            "static const {} qcc_c{i}[{}] = {{\n    {}\n}};",
            ctype(c.dtype),
            values.len(),
            crate::rust::wrap(&values)
        );
    }
    for (i, b) in p.inputs.iter().enumerate() {
        let _ = writeln!(
            s,
            "static const float qcc_in{i}_inv[{}] = {{{}}};",
            b.ch,
            list(&b.inv_scales, |x| c_float(*x))
        );
        let _ = writeln!(
            s,
            "static const int32_t qcc_in{i}_zp[{}] = {{{}}};",
            b.ch,
            list(&b.zero_points, |x| x.to_string())
        );
    }
    for (i, b) in p.outputs.iter().enumerate() {
        let _ = writeln!(
            s,
            "static const float qcc_out{i}_scale[{}] = {{{}}};",
            b.ch,
            list(&b.scales, |x| c_float(*x))
        );
        let _ = writeln!(
            s,
            "static const int32_t qcc_out{i}_zp[{}] = {{{}}};",
            b.ch,
            list(&b.zero_points, |x| x.to_string())
        );
    }

    s.push_str("\n/* ---- program ---- */\nstatic void qcc_body(unsigned char *A)\n{\n");
    for c in &p.calls {
        let _ = writeln!(s, "    {{ /* {} */", c.what.replace("*/", "* /"));
        let _ = writeln!(
            s,
            "        static const int32_t p[{}] = {{{}}};",
            c.params.len(),
            list(&c.params, |x| x.to_string())
        );
        let _ = writeln!(
            s,
            "        const qcc_in in[{}] = {{{}}};",
            c.ins.len(),
            list(&c.ins, |o| in_operand(o, &p.consts))
        );
        let _ = writeln!(
            s,
            "        k_{}(in, {}, {}, p);",
            c.kernel.name(),
            ptr(&c.out),
            arena_code(c.out.dtype)
        );
        s.push_str("    }\n");
    }
    s.push_str("}\n");

    let checks = |s: &mut String, n_in: usize, n_out: usize| {
        s.push_str("    if (!inputs || !outputs || !arena) {\n        return -1;\n    }\n");
        s.push_str(
            "    if (((uintptr_t)arena & (uintptr_t)127) != 0) {\n        return -2;\n    }\n",
        );
        for i in 0..n_in {
            let _ = writeln!(s, "    if (!inputs[{i}]) {{\n        return -1;\n    }}");
        }
        for i in 0..n_out {
            let _ = writeln!(s, "    if (!outputs[{i}]) {{\n        return -1;\n    }}");
        }
        s.push_str("    A = (unsigned char *)arena;\n");
    };
    let (ni, no) = (p.inputs.len(), p.outputs.len());
    let _ = writeln!(
        s,
        "\nint qcc_{name}_run(const void *const inputs[], void *const outputs[], void *arena)\n{{"
    );
    s.push_str("    unsigned char *A;\n");
    checks(&mut s, ni, no);
    for (i, b) in p.inputs.iter().enumerate() {
        let _ = writeln!(
            s,
            "    qcc_move({}, {}, inputs[{i}], {}, {});",
            ptr(&b.q),
            arena_code(b.q.dtype),
            code(b.q.dtype, false),
            b.q.numel
        );
    }
    s.push_str("    qcc_body(A);\n");
    for (i, b) in p.outputs.iter().enumerate() {
        let _ = writeln!(
            s,
            "    qcc_move(outputs[{i}], {}, {}, {}, {});",
            code(b.q.dtype, false),
            ptr(&b.q),
            arena_code(b.q.dtype),
            b.q.numel
        );
    }
    s.push_str("    return 0;\n}\n");

    let _ = writeln!(
        s,
        "\nint qcc_{name}_run_f32(const float *const inputs[], float *const outputs[], void *arena)\n{{"
    );
    s.push_str("    unsigned char *A;\n");
    checks(&mut s, ni, no);
    for (i, b) in p.inputs.iter().enumerate() {
        let _ = writeln!(
            s,
            "    qcc_quantize_in({}, {}, inputs[{i}], {}, {}, {}, qcc_in{i}_inv, qcc_in{i}_zp, {}, {});",
            ptr(&b.q),
            arena_code(b.q.dtype),
            b.outer,
            b.ch,
            b.inner,
            b.qmin,
            b.qmax
        );
    }
    s.push_str("    qcc_body(A);\n");
    for (i, b) in p.outputs.iter().enumerate() {
        let _ = writeln!(
            s,
            "    qcc_dequantize_out(outputs[{i}], {}, {}, {}, {}, {}, qcc_out{i}_scale, qcc_out{i}_zp);",
            ptr(&b.q),
            arena_code(b.q.dtype),
            b.outer,
            b.ch,
            b.inner
        );
    }
    s.push_str("    return 0;\n}\n");
    s
}

fn header(p: &Program, name: &str) -> String {
    let up = name.to_ascii_uppercase();
    let mut s = String::new();
    let _ = writeln!(s, "/* Generated by qcc: model `{name}`. Do not edit. */");
    let _ = writeln!(
        s,
        "#ifndef QCC_{up}_H\n#define QCC_{up}_H\n\n#include <stdint.h>\n"
    );
    let _ = writeln!(s, "#ifdef __cplusplus\nextern \"C\" {{\n#endif\n");
    let _ = writeln!(
        s,
        "/* One buffer of this many bytes, aligned to QCC_{up}_ARENA_ALIGN. */"
    );
    let _ = writeln!(s, "#define QCC_{up}_ARENA_BYTES {}", p.arena_bytes.max(128));
    let _ = writeln!(s, "#define QCC_{up}_ARENA_ALIGN 128");
    let _ = writeln!(s, "#define QCC_{up}_NUM_INPUTS {}", p.inputs.len());
    let _ = writeln!(s, "#define QCC_{up}_NUM_OUTPUTS {}", p.outputs.len());
    for (kind, bs) in [("INPUT", &p.inputs), ("OUTPUT", &p.outputs)] {
        for (i, b) in bs.iter().enumerate() {
            boundary_macros(&mut s, &format!("QCC_{up}_{kind}{i}"), b);
        }
    }
    let _ = writeln!(
        s,
        "\n/* Quantized tensors in and out (types above); 0, or -1 for a null pointer, -2 for a"
    );
    let _ = writeln!(s, " * misaligned arena. */");
    let _ = writeln!(
        s,
        "int qcc_{name}_run(const void *const inputs[], void *const outputs[], void *arena);"
    );
    let _ = writeln!(
        s,
        "/* Float tensors in and out: quantize, run, dequantize (equal to `qcc --run`). */"
    );
    let _ = writeln!(
        s,
        "int qcc_{name}_run_f32(const float *const inputs[], float *const outputs[], void *arena);"
    );
    let _ = writeln!(s, "\n#ifdef __cplusplus\n}}\n#endif\n\n#endif");
    s
}

fn boundary_macros(s: &mut String, m: &str, b: &Boundary) {
    let _ = writeln!(s, "\n/* {} */", b.name.replace("*/", "* /"));
    let _ = writeln!(s, "#define {m}_NAME \"{}\"", b.name.escape_default());
    let _ = writeln!(s, "#define {m}_RANK {}", b.shape.len());
    let _ = writeln!(
        s,
        "#define {m}_SHAPE {{{}}}",
        list(&b.shape, |d| d.to_string())
    );
    let _ = writeln!(s, "#define {m}_NUMEL {}", b.q.numel);
    let _ = writeln!(s, "#define {m}_TYPE {}", ctype(b.q.dtype));
    let _ = writeln!(
        s,
        "#define {m}_QMIN {}\n#define {m}_QMAX {}",
        b.qmin, b.qmax
    );
    if b.ch == 1 {
        let _ = writeln!(
            s,
            "#define {m}_SCALE {} /* {:e} */",
            c_float(b.scales[0]),
            b.scales[0]
        );
        let _ = writeln!(s, "#define {m}_ZERO_POINT {}", b.zero_points[0]);
    } else {
        let _ = writeln!(s, "#define {m}_AXIS_SIZE {}", b.ch);
        let _ = writeln!(
            s,
            "#define {m}_SCALES {{{}}}",
            list(&b.scales, |x| c_float(*x))
        );
        let _ = writeln!(
            s,
            "#define {m}_ZERO_POINTS {{{}}}",
            list(&b.zero_points, |x| x.to_string())
        );
    }
}
