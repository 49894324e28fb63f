//! Tests of the memory planner on hand-made graphs and random DAGs.

use super::*;
use ir::{ConcatAttrs, LutAttrs, TensorType};
use proptest::prelude::*;

fn lut() -> Op {
    Op::Lut(LutAttrs {
        table: vec![0; 256],
        axis: None,
    })
}

fn concat() -> Op {
    Op::Concat(ConcatAttrs { axis: 0 })
}

fn t(dtype: DType, n: usize) -> TensorType {
    TensorType::new(dtype, vec![n])
}

/// Checks the plan's invariants: aligned offsets, no overlap of buffers live together,
/// every arena value placed, arena at least the lower bound.
fn check_plan(g: &Graph, p: &MemoryPlan) {
    for v in g.value_ids() {
        assert_eq!(
            p.offset(v).is_some(),
            in_arena(g, v) && !p.is_fused(v),
            "{v}"
        );
        assert_eq!(
            p.is_fused(v),
            p.buffer_of[v.index()].is_none() && in_arena(g, v)
        );
        if let Some(o) = p.offset(v) {
            assert_eq!(o % p.align, 0);
            let bytes = storage_bytes(g.ty(v).dtype, g.ty(v).shape.numel());
            assert!(o + bytes <= p.arena_bytes);
        }
    }
    for a in 0..p.buffers.len() {
        for b in a + 1..p.buffers.len() {
            if p.live_together(a, b) {
                let (x, y) = (&p.buffers[a], &p.buffers[b]);
                assert!(
                    x.offset + x.size <= y.offset || y.offset + y.size <= x.offset,
                    "buffers {a} and {b} overlap: {x:?} {y:?}"
                );
            }
        }
    }
    assert!(p.arena_bytes >= p.lower_bound);
}

#[test]
fn chain_ping_pongs_between_two_slots() {
    let mut g = Graph::new("chain");
    let x = g.add_input("x", TensorType::f32(vec![1000]));
    let q = g.add_simple(Op::Quantize, vec![x], t(DType::U8, 1000), "q");
    let a = g.add_simple(concat(), vec![q], t(DType::I32, 1000), "a");
    let b = g.add_simple(concat(), vec![a], t(DType::U8, 1000), "b");
    let c = g.add_simple(concat(), vec![b], t(DType::I32, 1000), "c");
    let d = g.add_simple(concat(), vec![c], t(DType::U8, 1000), "d");
    let y = g.add_simple(Op::Dequantize, vec![d], TensorType::f32(vec![1000]), "y");
    g.outputs.push(y);
    let p = plan(&g, 128);
    check_plan(&g, &p);
    // Two 4000-byte accumulators never live together; the largest pair is 4096 + 1024.
    assert_eq!(p.lower_bound, 4096 + 1024);
    assert_eq!(p.arena_bytes, p.lower_bound);
    assert_eq!(p.offset(x), None);
    assert_eq!(p.offset(y), None);
}

#[test]
fn reshape_is_a_view_and_lut_works_in_place() {
    let mut g = Graph::new("view");
    let x = g.add_input("x", TensorType::f32(vec![64]));
    let q = g.add_simple(Op::Quantize, vec![x], t(DType::U8, 64), "q");
    let r = g.add_simple(
        Op::Reshape,
        vec![q],
        TensorType::new(DType::U8, vec![8, 8]),
        "r",
    );
    let l = g.add_simple(lut(), vec![r], TensorType::new(DType::U8, vec![8, 8]), "l");
    let y = g.add_simple(Op::Dequantize, vec![l], TensorType::f32(vec![8, 8]), "y");
    g.outputs.push(y);
    let p = plan(&g, 128);
    check_plan(&g, &p);
    assert_eq!(p.offset(q), p.offset(r));
    assert_eq!(p.offset(r), p.offset(l));
    assert_eq!(p.buffers.len(), 1);
    assert_eq!(p.arena_bytes, 128);
}

#[test]
fn in_place_needs_a_dying_input() {
    let mut g = Graph::new("fork");
    let x = g.add_input("x", TensorType::f32(vec![64]));
    let q = g.add_simple(Op::Quantize, vec![x], t(DType::U8, 64), "q");
    let l = g.add_simple(lut(), vec![q], t(DType::U8, 64), "l");
    // q is used again after the lut: the lut must not overwrite it.
    let c = g.add_simple(concat(), vec![q, l], t(DType::U8, 128), "c");
    let y = g.add_simple(Op::Dequantize, vec![c], TensorType::f32(vec![128]), "y");
    g.outputs.push(y);
    let p = plan(&g, 128);
    check_plan(&g, &p);
    assert_ne!(p.offset(q), p.offset(l));
    assert_eq!(p.arena_bytes, 128 * 3);
    // An integer graph output is never overwritten in place.
    let mut g = Graph::new("out");
    let x = g.add_input("x", TensorType::f32(vec![64]));
    let q = g.add_simple(Op::Quantize, vec![x], t(DType::U8, 64), "q");
    let l = g.add_simple(lut(), vec![q], t(DType::U8, 64), "l");
    g.outputs.extend([q, l]);
    let p = plan(&g, 128);
    check_plan(&g, &p);
    assert_ne!(p.offset(q), p.offset(l));
}

#[test]
fn the_pass_moves_to_scheduled() {
    let mut g = Graph::new("p");
    g.phase = Phase::Integer;
    run(&mut g, &PassCtx::default()).unwrap();
    assert_eq!(g.phase, Phase::Scheduled);
    assert_eq!(plan(&g, 128).arena_bytes, 0);
}

/// A random DAG: each node takes one or two earlier values; kinds 0 = fresh result,
/// 1 = same-size elementwise (in place candidate), 2 = reshape (view).
fn random_graph(spec: &[(u8, usize, usize, usize)]) -> Graph {
    let mut g = Graph::new("random");
    let x = g.add_input("x", TensorType::f32(vec![37]));
    let mut vals = vec![g.add_simple(Op::Quantize, vec![x], t(DType::U8, 37), "q")];
    for (i, &(kind, a, b, size)) in spec.iter().enumerate() {
        let a = vals[a % vals.len()];
        let b = vals[b % vals.len()];
        let v = match kind % 3 {
            0 => {
                let dt = if size % 2 == 0 { DType::I32 } else { DType::U8 };
                g.add_simple(concat(), vec![a, b], t(dt, size), format!("n{i}"))
            }
            1 => {
                let ty = g.ty(a).clone();
                g.add_simple(lut(), vec![a], ty, format!("n{i}"))
            }
            _ => {
                let ty = g.ty(a).clone();
                let ty = TensorType::new(ty.dtype, vec![1, ty.shape.numel()]);
                g.add_simple(Op::Reshape, vec![a], ty, format!("n{i}"))
            }
        };
        vals.push(v);
    }
    let last = *vals.last().unwrap();
    let n = g.ty(last).shape.numel();
    let y = g.add_simple(Op::Dequantize, vec![last], TensorType::f32(vec![n]), "y");
    g.outputs.push(y);
    g
}

proptest! {
    #[test]
    fn no_two_live_tensors_overlap(
        spec in proptest::collection::vec((0u8..3, 0usize..50, 0usize..50, 1usize..3000), 1..40),
        align in prop_oneof![Just(1usize), Just(16), Just(128)],
    ) {
        let g = random_graph(&spec);
        let p = plan(&g, align);
        check_plan(&g, &p);
        // Deterministic.
        prop_assert_eq!(plan(&g, align), p);
    }
}

#[test]
fn boundary_tensors_live_across_the_whole_program() {
    // The dequantized output `a` is read after the program, so `b`'s and `c`'s results must
    // not reuse it even though its dequantize comes early in the order.
    let mut g = Graph::new("boundary");
    let x = g.add_input("x", TensorType::f32(vec![256]));
    let q = g.add_simple(Op::Quantize, vec![x], t(DType::U8, 256), "q");
    let a = g.add_simple(concat(), vec![q], t(DType::U8, 256), "a");
    let ya = g.add_simple(Op::Dequantize, vec![a], TensorType::f32(vec![256]), "ya");
    let b = g.add_simple(concat(), vec![a], t(DType::U8, 256), "b");
    let c = g.add_simple(concat(), vec![b], t(DType::U8, 256), "c");
    let yc = g.add_simple(Op::Dequantize, vec![c], TensorType::f32(vec![256]), "yc");
    g.outputs.extend([ya, yc]);
    let p = plan(&g, 128);
    check_plan(&g, &p);
    for v in [q, b, c] {
        assert_ne!(p.offset(v), p.offset(a), "{v}");
    }
    let ba = p.buffer_of[a.index()].unwrap();
    assert_eq!(p.buffers[ba].end, p.order.len() - 1);
    let bq = p.buffer_of[q.index()].unwrap();
    assert_eq!(p.buffers[bq].start, 0);
}

#[test]
fn four_bit_buffers_are_packed_two_per_byte() {
    assert_eq!(storage_bytes(DType::U4, 7), 4);
    assert_eq!(storage_bytes(DType::I4, 8), 4);
    assert_eq!(storage_bytes(DType::I16, 3), 6);
    // 300 u4 elements take 150 bytes (one 256-byte buffer at 128 alignment), where u8 would
    // take 384.
    let mut g = Graph::new("u4");
    let x = g.add_input("x", TensorType::f32(vec![300]));
    let q = g.add_simple(Op::Quantize, vec![x], t(DType::U4, 300), "q");
    let y = g.add_simple(Op::Dequantize, vec![q], TensorType::f32(vec![300]), "y");
    g.outputs.push(y);
    let p = plan(&g, 128);
    check_plan(&g, &p);
    assert_eq!(p.arena_bytes, 256);
}

/// `x -> quantize -> conv_int 3x3 (2 channels) -> requant -> dequantize`; with `tap` the
/// accumulator also feeds a second requant (so it cannot be fused).
fn conv_requant(tap: bool) -> Graph {
    let extra = if tap {
        "%r2 = requant(%a) {multipliers=[[1073741824,5]], axis=0, rounding=half-up, lo=0, hi=255} : u8[1,2,8,8]<0.4:0>\n\
         %y2 \"y2\" = dequantize(%r2) : f32[1,2,8,8]\n"
    } else {
        ""
    };
    let outs = if tap {
        "outputs(%y, %y2)"
    } else {
        "outputs(%y)"
    };
    let text = format!(
        "graph \"fuse\" phase=integer\n\
         inputs(%x)\n\
         %x \"x\" = input : f32[1,1,8,8]\n\
         %w = const dense<[1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -3, -4, -5, -6, -7, -8, -9]> : i8[2,1,3,3]<axis=0, {{0.01:0, 0.02:0}}>\n\
         %q = quantize(%x) : u8[1,1,8,8]<0.1:7>\n\
         %a = conv_int(%q, %w) {{strides=[1,1], pads=[1,1,1,1], dilations=[1,1], group=1}} : i32[1,2,8,8]<axis=1, {{0.001:0, 0.002:0}}>\n\
         %r = requant(%a) {{multipliers=[[1073741824,3],[1073741824,4]], axis=1, rounding=half-up, lo=0, hi=255}} : u8[1,2,8,8]<0.2:3>\n\
         %y \"y\" = dequantize(%r) : f32[1,2,8,8]\n\
         {extra}{outs}\n"
    );
    ir::text::parse(&text).expect("the conv model parses")
}

fn value_of(g: &Graph, pred: impl Fn(&Op) -> bool) -> ValueId {
    g.value_ids()
        .find(|&v| pred(&g.producer(v).op))
        .expect("the value exists")
}

#[test]
fn conv_accumulator_fused_into_its_requant_has_no_slot() {
    let g = conv_requant(false);
    let acc = value_of(&g, |op| matches!(op, Op::ConvInt(_)));
    let q = value_of(&g, |op| matches!(op, Op::Quantize));
    let r = value_of(&g, |op| matches!(op, Op::Requant(_)));
    assert!(fused_accumulators(&g)[acc.index()]);
    assert_eq!(fused_accumulators(&g).iter().filter(|&&f| f).count(), 1);
    let fused = plan(&g, 128);
    check_plan(&g, &fused);
    assert!(fused.is_fused(acc));
    assert_eq!(fused.offset(acc), None);
    // The requant's result is written while the conv reads q: it never shares q's bytes.
    assert_ne!(fused.offset(q), fused.offset(r));
    let br = fused.buffer_of[r.index()].unwrap();
    let bq = fused.buffer_of[q.index()].unwrap();
    assert!(fused.live_together(br, bq));
    // q (64 bytes) and r (128 bytes), one 128-byte slot each.
    assert_eq!(fused.arena_bytes, 256);
    assert_eq!(fused.lower_bound, 256);
    let unfused = plan_unfused(&g, 128);
    check_unfused(&g, &unfused);
    // The 512-byte accumulator lives with q, then with r.
    assert!(unfused.offset(acc).is_some());
    assert_eq!(unfused.lower_bound, 512 + 128);
    assert!(unfused.arena_bytes >= 640);
    assert!(unfused.fused.iter().all(|&f| !f));
}

#[test]
fn accumulators_with_other_uses_stay_materialized() {
    let g = conv_requant(true);
    let acc = value_of(&g, |op| matches!(op, Op::ConvInt(_)));
    assert!(!fused_accumulators(&g)[acc.index()]);
    let p = plan(&g, 128);
    check_plan(&g, &p);
    assert!(p.offset(acc).is_some());
    assert_eq!(p, plan_unfused(&g, 128));
    // A graph output is never fused either.
    let mut g = conv_requant(false);
    let acc = value_of(&g, |op| matches!(op, Op::ConvInt(_)));
    g.outputs.push(acc);
    assert!(!fused_accumulators(&g)[acc.index()]);
}

/// [`check_plan`] for a plan that materializes every value.
fn check_unfused(g: &Graph, p: &MemoryPlan) {
    for v in g.value_ids() {
        assert_eq!(p.offset(v).is_some(), in_arena(g, v), "{v}");
    }
    check_plan(g, p);
}
