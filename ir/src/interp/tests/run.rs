//! Whole-graph runs: input checking, observation, batches, liveness and in-place reuse.

use super::*;
use crate::ValueId;

/// x -> conv(1x1) -> relu -> add(x) : a residual block; outputs [add, relu].
fn residual() -> (Graph, ValueId, ValueId) {
    let mut g = Graph::new("res");
    let x = g.add_input("x", TensorType::f32(vec![1, 2, 2, 2]));
    let w = g.add_simple(
        Op::Const(ConstAttrs {
            value: Tensor::from_f32(vec![2, 2, 1, 1], vec![1.0, 0.0, 0.0, -1.0]),
        }),
        vec![],
        TensorType::f32(vec![2, 2, 1, 1]),
        "w",
    );
    let c = g.add_simple(
        Op::Conv(ConvAttrs {
            strides: vec![1, 1],
            pads: vec![0, 0, 0, 0],
            dilations: vec![1, 1],
            group: 1,
        }),
        vec![x, w],
        TensorType::f32(vec![1, 2, 2, 2]),
        "conv",
    );
    let r = g.add_simple(Op::Relu, vec![c], TensorType::f32(vec![1, 2, 2, 2]), "relu");
    let a = g.add_simple(
        Op::Add,
        vec![r, x],
        TensorType::f32(vec![1, 2, 2, 2]),
        "add",
    );
    // A dead branch: never computed.
    let _dead = g.add_simple(Op::Tanh, vec![x], TensorType::f32(vec![1, 2, 2, 2]), "dead");
    g.outputs = vec![a, r];
    (g, a, r)
}

fn x_in() -> Tensor {
    Tensor::from_f32(
        vec![1, 2, 2, 2],
        vec![1.0, -2.0, 3.0, -4.0, 5.0, -6.0, 7.0, -8.0],
    )
}

#[test]
fn residual_block_values() {
    let (g, _, _) = residual();
    let out = run_float(&g, &[x_in()]).unwrap();
    // conv: channel 0 = x0, channel 1 = -x1; relu; add x.
    let relu = [1.0, 0.0, 3.0, 0.0, 0.0, 6.0, 0.0, 8.0];
    let add = [2.0, -2.0, 6.0, -4.0, 5.0, 0.0, 7.0, 0.0];
    assert_close(out[0].as_f32().unwrap(), &add);
    assert_close(out[1].as_f32().unwrap(), &relu);
}

#[test]
fn observed_sees_every_live_value_once() {
    let (g, a, r) = residual();
    let mut seen = Vec::new();
    run_float_observed(&g, &[x_in()], &mut |v, t| seen.push((v, t.shape.clone()))).unwrap();
    let ids: Vec<ValueId> = seen.iter().map(|s| s.0).collect();
    // x, w, conv, relu, add (not the dead tanh).
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert!(ids.contains(&a) && ids.contains(&r));
    assert!(
        seen.iter()
            .all(|s| s.1 == Shape(vec![1, 2, 2, 2]) || s.1 == Shape(vec![2, 2, 1, 1]))
    );
}

#[test]
fn batch_matches_single_runs() {
    let (g, _, _) = residual();
    let samples: Vec<Vec<Tensor>> = (0..5).map(|s| vec![seq(&[1, 2, 2, 2], s)]).collect();
    let batch = run_float_batch(&g, &samples).unwrap();
    for (s, b) in samples.iter().zip(&batch) {
        assert_eq!(&run_float(&g, s).unwrap(), b);
    }
}

#[test]
fn same_value_twice_as_operand_and_output() {
    // y = x * x, and x itself is an output: neither may be consumed in place.
    let mut g = Graph::new("sq");
    let x = g.add_input("x", TensorType::f32(vec![3]));
    let y = g.add_simple(Op::Mul, vec![x, x], TensorType::f32(vec![3]), "sq");
    let z = g.add_simple(Op::Relu, vec![y], TensorType::f32(vec![3]), "relu");
    g.outputs = vec![z, x, y];
    let xin = Tensor::from_f32(vec![3], vec![1.0, -2.0, 3.0]);
    let out = run_float(&g, std::slice::from_ref(&xin)).unwrap();
    assert_eq!(out[0].as_f32().unwrap(), &[1.0, 4.0, 9.0]);
    assert_eq!(out[1], xin);
    assert_eq!(out[2].as_f32().unwrap(), &[1.0, 4.0, 9.0]);
}

#[test]
fn error_input_count() {
    let (g, _, _) = residual();
    let e = run_float(&g, &[]).unwrap_err();
    assert_eq!(e.to_string(), "graph has 1 inputs but 0 were supplied");
}

#[test]
fn error_input_shape_names_the_input() {
    let (g, _, _) = residual();
    let e = run_float(&g, &[seq(&[1, 2, 2, 3], 0)]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "input 'x' has shape [1,2,2,3], expected [1,2,2,2]"
    );
}

#[test]
fn error_input_dtype_names_the_input() {
    let (g, _, _) = residual();
    let e = run_float(&g, &[Tensor::zeros(crate::DType::U8, vec![1, 2, 2, 2])]).unwrap_err();
    assert_eq!(e.to_string(), "input 'x' has element type u8, expected f32");
}

#[test]
fn error_malformed_input_storage() {
    let (g, _, _) = residual();
    let bad = Tensor {
        dtype: crate::DType::F32,
        shape: Shape(vec![1, 2, 2, 2]),
        data: crate::TensorData::F32(vec![0.0; 3]),
    };
    let e = run_float(&g, &[bad]).unwrap_err();
    assert!(matches!(e, InterpError::MalformedInput { .. }), "{e}");
}

#[test]
fn error_in_node_names_the_node() {
    let mut g = Graph::new("bad");
    let x = g.add_input("x", TensorType::f32(vec![2, 3]));
    let y = g.add_simple(Op::Relu, vec![x], TensorType::f32(vec![3, 2]), "act");
    g.outputs = vec![y];
    let e = run_float(&g, &[seq(&[2, 3], 0)]).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("(relu 'act'): relu: operand shape [2,3] differs"),
        "{msg}"
    );
}

#[test]
fn error_integer_const_in_float_graph() {
    let mut g = Graph::new("int");
    let c = g.add_simple(
        Op::Const(ConstAttrs {
            value: Tensor::zeros(crate::DType::I8, vec![2]),
        }),
        vec![],
        TensorType::new(crate::DType::I8, vec![2]),
        "q",
    );
    // Integer constants exist in Qdq graphs (weights feeding `dequantize`) and pass through.
    g.outputs = vec![c];
    assert_eq!(
        run_float(&g, &[]).unwrap(),
        vec![Tensor::zeros(crate::DType::I8, vec![2])]
    );
    // A float op does not take them.
    let r = g.add_simple(Op::Relu, vec![c], TensorType::f32(vec![2]), "r");
    g.outputs = vec![r];
    let e = run_float(&g, &[]).unwrap_err();
    assert!(
        e.to_string().contains("element type i8 is not supported"),
        "{e}"
    );
}

/// x -> conv 3x3 (16 channels) -> {relu, clip, clip + graph output, relu + second user}.
fn conv_activations() -> Graph {
    let mut g = Graph::new("acts");
    let x = g.add_input("x", TensorType::f32(vec![1, 3, 9, 11]));
    let w = g.add_simple(
        Op::Const(ConstAttrs {
            value: seq(&[16, 3, 3, 3], 1),
        }),
        vec![],
        TensorType::f32(vec![16, 3, 3, 3]),
        "w",
    );
    let b = g.add_simple(
        Op::Const(ConstAttrs {
            value: seq(&[16], 2),
        }),
        vec![],
        TensorType::f32(vec![16]),
        "b",
    );
    let ty = TensorType::f32(vec![1, 16, 9, 11]);
    let conv = |g: &mut Graph| {
        g.add_simple(
            Op::Conv(ConvAttrs {
                strides: vec![1, 1],
                pads: vec![1, 1, 1, 1],
                dilations: vec![1, 1],
                group: 1,
            }),
            vec![x, w, b],
            ty.clone(),
            "conv",
        )
    };
    let clip = Op::Clip(ClipAttrs {
        min: -0.5,
        max: 1.5,
    });
    let c1 = conv(&mut g);
    let relu = g.add_simple(Op::Relu, vec![c1], ty.clone(), "relu");
    let c2 = conv(&mut g);
    let clipped = g.add_simple(clip.clone(), vec![c2], ty.clone(), "clip");
    // Also a graph output: the pre-activation value must exist, so no fusion.
    let c3 = conv(&mut g);
    let clipped3 = g.add_simple(clip, vec![c3], ty.clone(), "clip3");
    // Two users: no fusion.
    let c4 = conv(&mut g);
    let relu4 = g.add_simple(Op::Relu, vec![c4], ty.clone(), "relu4");
    let tanh4 = g.add_simple(Op::Tanh, vec![c4], ty.clone(), "tanh4");
    g.outputs = vec![relu, clipped, clipped3, c3, relu4, tanh4];
    g
}

#[test]
fn conv_activation_fusion_matches_separate_ops() {
    let g = conv_activations();
    let x = seq(&[1, 3, 9, 11], 0);
    let fused = run_float(&g, std::slice::from_ref(&x)).unwrap();
    // An observed run computes every value, so nothing is fused.
    let plain = run_float_observed(&g, std::slice::from_ref(&x), &mut |_, _| {}).unwrap();
    assert_eq!(fused.len(), plain.len());
    for (f, p) in fused.iter().zip(&plain) {
        assert_eq!(f.shape, p.shape);
        assert_close(f.as_f32().unwrap(), p.as_f32().unwrap());
    }
    let relu = fused[0].as_f32().unwrap();
    assert!(relu.iter().all(|&v| v >= 0.0) && relu.iter().any(|&v| v > 0.0));
    let clip = fused[1].as_f32().unwrap();
    assert!(clip.iter().all(|&v| (-0.5..=1.5).contains(&v)));
    assert!(clip.contains(&-0.5) && clip.contains(&1.5));
    // The unfused conv output kept its negative values.
    assert!(fused[3].as_f32().unwrap().iter().any(|&v| v < -0.5));
}
