//! Unit tests of shape inference, one group per op family.
#![allow(clippy::cloned_ref_to_slice_refs)]

use super::*;
use crate::ops::*;
use crate::types::DType;

fn f(d: &[usize]) -> TensorType {
    TensorType::f32(d.to_vec())
}

fn infer(op: Op, inputs: &[TensorType]) -> Result<Option<Vec<TensorType>>, InferError> {
    let refs: Vec<&TensorType> = inputs.iter().collect();
    infer_output_types(&op, &refs)
}

fn shape1(op: Op, inputs: &[TensorType]) -> Vec<usize> {
    let out = infer(op, inputs).expect("infers").expect("derived");
    assert_eq!(out.len(), 1);
    out[0].shape.0.clone()
}

fn conv(strides: &[usize], pads: &[usize], dil: &[usize], group: usize) -> Op {
    Op::Conv(ConvAttrs {
        strides: strides.to_vec(),
        pads: pads.to_vec(),
        dilations: dil.to_vec(),
        group,
    })
}

fn pool(kernel: &[usize], strides: &[usize], pads: &[usize], ceil: bool) -> PoolAttrs {
    PoolAttrs {
        kernel: kernel.to_vec(),
        strides: strides.to_vec(),
        pads: pads.to_vec(),
        dilations: vec![1; kernel.len()],
        ceil_mode: ceil,
    }
}

#[test]
fn broadcasting() {
    let s = |d: &[usize]| Shape(d.to_vec());
    assert_eq!(
        broadcast_shapes(&s(&[2, 3, 4]), &s(&[4])).unwrap(),
        s(&[2, 3, 4])
    );
    assert_eq!(
        broadcast_shapes(&s(&[1, 3, 1]), &s(&[5, 1, 4])).unwrap(),
        s(&[5, 3, 4])
    );
    assert_eq!(broadcast_shapes(&s(&[]), &s(&[2])).unwrap(), s(&[2]));
    let e = broadcast_shapes(&s(&[2, 3]), &s(&[4])).unwrap_err();
    assert_eq!(e.to_string(), "shapes [2,3] and [4] do not broadcast");
    assert!(unidirectional(&[3, 1], &[2, 3, 4]).is_ok());
    assert!(unidirectional(&[2, 3, 4], &[3, 4]).is_err());
    assert!(unidirectional(&[3, 2], &[3, 4]).is_err());
}

#[test]
fn elementwise() {
    assert_eq!(
        shape1(Op::Add, &[f(&[1, 8, 4, 4]), f(&[8, 1, 1])]),
        [1, 8, 4, 4]
    );
    assert_eq!(shape1(Op::Relu, &[f(&[2, 3])]), [2, 3]);
    assert_eq!(
        shape1(Op::PRelu, &[f(&[1, 8, 4, 4]), f(&[8, 1, 1])]),
        [1, 8, 4, 4]
    );
    assert!(infer(Op::Mul, &[f(&[2, 3]), f(&[3, 2])]).is_err());
    let e = infer(Op::Add, &[f(&[2]), TensorType::new(DType::I32, vec![2])]).unwrap_err();
    assert!(matches!(e, InferError::DType { index: 1, .. }), "{e}");
    assert!(infer(Op::Relu, &[f(&[2]), f(&[2])]).is_err());
    let clip = Op::Clip(ClipAttrs { min: 1.0, max: 0.0 });
    assert!(matches!(
        infer(clip, &[f(&[2])]),
        Err(InferError::Attr { .. })
    ));
    let sm = Op::Softmax(SoftmaxAttrs { axis: 2 });
    assert!(infer(sm, &[f(&[2, 3])]).is_err());
}

#[test]
fn conv_shapes() {
    // 3x3, pad 1, stride 2 on 7x7 -> 4x4.
    let x = f(&[1, 4, 7, 7]);
    let w = f(&[8, 4, 3, 3]);
    let b = f(&[8]);
    let op = conv(&[2, 2], &[1, 1, 1, 1], &[1, 1], 1);
    assert_eq!(shape1(op.clone(), &[x.clone(), w.clone(), b]), [1, 8, 4, 4]);
    // Depthwise with dilation 2: extent 5 on 7 -> 3.
    let dw = conv(&[1, 1], &[0, 0, 0, 0], &[2, 2], 4);
    assert_eq!(shape1(dw, &[x.clone(), f(&[4, 1, 3, 3])]), [1, 4, 3, 3]);
    // 1-d.
    let c1 = conv(&[1], &[1, 1], &[1], 1);
    assert_eq!(shape1(c1, &[f(&[1, 2, 10]), f(&[3, 2, 3])]), [1, 3, 10]);
    // Channel mismatch, bias mismatch, wrong rank.
    let e = infer(op.clone(), &[x.clone(), f(&[8, 3, 3, 3])]).unwrap_err();
    assert!(e.to_string().contains("input has 4 channels"), "{e}");
    let e = infer(op.clone(), &[x.clone(), w.clone(), f(&[7])]).unwrap_err();
    assert!(e.to_string().contains("bias"), "{e}");
    let e = infer(op.clone(), &[x.clone(), f(&[8, 4, 3])]).unwrap_err();
    assert!(matches!(e, InferError::Rank { index: 1, .. }), "{e}");
    let bad = conv(&[2], &[1, 1, 1, 1], &[1, 1], 1);
    assert!(matches!(
        infer(bad, &[x, w]),
        Err(InferError::Attr {
            attr: "strides",
            ..
        })
    ));
}

#[test]
fn conv_transpose_shapes() {
    let op = Op::ConvTranspose(ConvTransposeAttrs {
        strides: vec![2, 2],
        pads: vec![1, 1, 1, 1],
        dilations: vec![1, 1],
        group: 1,
        output_padding: vec![1, 1],
    });
    // 2*(4-1) + 1 + 3 - 2 = 8.
    assert_eq!(
        shape1(op, &[f(&[1, 4, 4, 4]), f(&[4, 6, 3, 3])]),
        [1, 6, 8, 8]
    );
}

#[test]
fn gemm_and_matmul() {
    let g = |ta, tb| {
        Op::Gemm(GemmAttrs {
            alpha: 1.0,
            beta: 1.0,
            trans_a: ta,
            trans_b: tb,
        })
    };
    assert_eq!(
        shape1(g(false, true), &[f(&[2, 5]), f(&[3, 5]), f(&[3])]),
        [2, 3]
    );
    assert_eq!(shape1(g(true, false), &[f(&[5, 2]), f(&[5, 3])]), [2, 3]);
    assert!(infer(g(false, false), &[f(&[2, 5]), f(&[3, 5])]).is_err());
    assert!(infer(g(false, true), &[f(&[2, 5]), f(&[3, 5]), f(&[2])]).is_err());
    assert_eq!(
        shape1(Op::MatMul, &[f(&[2, 1, 3, 4]), f(&[5, 4, 6])]),
        [2, 5, 3, 6]
    );
    assert_eq!(shape1(Op::MatMul, &[f(&[4]), f(&[4, 6])]), [6]);
    assert_eq!(shape1(Op::MatMul, &[f(&[3, 4]), f(&[4])]), [3]);
    assert!(infer(Op::MatMul, &[f(&[3, 4]), f(&[5, 6])]).is_err());
}

#[test]
fn batch_norm() {
    let op = Op::BatchNorm(BatchNormAttrs { epsilon: 1e-5 });
    let p = f(&[3]);
    let x = f(&[1, 3, 2, 2]);
    let ins = [x.clone(), p.clone(), p.clone(), p.clone(), p.clone()];
    assert_eq!(shape1(op.clone(), &ins), [1, 3, 2, 2]);
    let bad = [x, p.clone(), p.clone(), f(&[4]), p];
    assert!(
        infer(op, &bad)
            .unwrap_err()
            .to_string()
            .contains("3 channels")
    );
}

#[test]
fn pools() {
    let x = f(&[1, 2, 5, 5]);
    let mp = Op::MaxPool(pool(&[2, 2], &[2, 2], &[0, 0, 0, 0], false));
    assert_eq!(shape1(mp, &[x.clone()]), [1, 2, 2, 2]);
    let mp = Op::MaxPool(pool(&[2, 2], &[2, 2], &[0, 0, 0, 0], true));
    assert_eq!(shape1(mp, &[x.clone()]), [1, 2, 3, 3]);
    // ceil_mode must not start a window in the end padding: 3 on 4 with stride 2, pad 1.
    assert_eq!(window_output_size(4, 1, 1, 3, 2, true), Some(3));
    assert_eq!(window_output_size(5, 0, 1, 2, 2, true), Some(3));
    assert_eq!(window_output_size(6, 0, 0, 3, 3, true), Some(2));
    let ap = Op::AveragePool(AvgPoolAttrs {
        pool: pool(&[3, 3], &[1, 1], &[1, 1, 1, 1], false),
        count_include_pad: true,
    });
    assert_eq!(shape1(ap, &[x.clone()]), [1, 2, 5, 5]);
    assert_eq!(shape1(Op::GlobalAveragePool, &[x.clone()]), [1, 2, 1, 1]);
    let big = Op::MaxPool(pool(&[7, 7], &[1, 1], &[0, 0, 0, 0], false));
    assert!(infer(big, &[x]).is_err());
}

#[test]
fn reduce_concat_split() {
    let x = f(&[2, 3, 4]);
    let rm = |axes: &[usize], keepdims| {
        Op::ReduceMean(ReduceAttrs {
            axes: axes.to_vec(),
            keepdims,
        })
    };
    assert_eq!(shape1(rm(&[1, 2], true), &[x.clone()]), [2, 1, 1]);
    assert_eq!(shape1(rm(&[1], false), &[x.clone()]), [2, 4]);
    assert!(infer(rm(&[2, 1], true), &[x.clone()]).is_err());
    assert!(infer(rm(&[3], true), &[x.clone()]).is_err());
    let cc = Op::Concat(ConcatAttrs { axis: 1 });
    assert_eq!(shape1(cc.clone(), &[x.clone(), f(&[2, 5, 4])]), [2, 8, 4]);
    assert!(infer(cc, &[x.clone(), f(&[2, 5, 3])]).is_err());
    let sp = Op::Split(SplitAttrs {
        axis: 2,
        sizes: vec![1, 3],
    });
    let outs = infer(sp, &[x.clone()]).unwrap().unwrap();
    assert_eq!(outs[0].shape.0, [2, 3, 1]);
    assert_eq!(outs[1].shape.0, [2, 3, 3]);
    let sp = Op::Split(SplitAttrs {
        axis: 2,
        sizes: vec![1, 2],
    });
    assert!(
        infer(sp, &[x])
            .unwrap_err()
            .to_string()
            .contains("do not sum")
    );
}

#[test]
fn movement() {
    let x = f(&[2, 3, 4]);
    let t = Op::Transpose(TransposeAttrs {
        perm: vec![2, 0, 1],
    });
    assert_eq!(shape1(t, &[x.clone()]), [4, 2, 3]);
    let t = Op::Transpose(TransposeAttrs {
        perm: vec![0, 0, 1],
    });
    assert!(infer(t, &[x.clone()]).is_err());
    let pad = |pads: Vec<i64>, mode| {
        Op::Pad(PadAttrs {
            pads,
            mode,
            value: 0.0,
        })
    };
    assert_eq!(
        shape1(
            pad(vec![0, 1, 2, 0, 1, -1], PadMode::Constant),
            &[x.clone()]
        ),
        [2, 5, 5]
    );
    assert!(infer(pad(vec![0, 3, 0, 0, 0, 0], PadMode::Reflect), &[x.clone()]).is_err());
    assert!(
        infer(
            pad(vec![0, 0, -9, 0, 0, 0], PadMode::Constant),
            &[x.clone()]
        )
        .is_err()
    );
    assert!(infer(pad(vec![0, 0], PadMode::Edge), &[x.clone()]).is_err());
}

#[test]
fn stated_shapes() {
    let x = f(&[2, 3, 4]);
    assert_eq!(infer(Op::Reshape, &[x.clone()]).unwrap(), None);
    let xr = [&x];
    assert!(check_given_output_types(&Op::Reshape, &xr, &[&f(&[6, 4])]).is_ok());
    assert!(check_given_output_types(&Op::Reshape, &xr, &[&f(&[5, 4])]).is_err());
    let sl = Op::Slice(SliceAttrs {
        starts: vec![0, 2, 3],
        steps: vec![1, -1, -2],
    });
    assert_eq!(infer(sl.clone(), &[x.clone()]).unwrap(), None);
    assert!(check_given_output_types(&sl, &xr, &[&f(&[2, 3, 2])]).is_ok());
    assert!(check_given_output_types(&sl, &xr, &[&f(&[2, 3, 3])]).is_err());
    let rs = Op::Resize(ResizeAttrs {
        mode: ResizeMode::Nearest,
        coord: CoordMode::Asymmetric,
        nearest: NearestMode::Floor,
        scales: vec![1.0, 2.0],
    });
    assert!(infer(rs, &[x.clone()]).is_err());
    assert!(check_given_output_types(&Op::Relu, &xr, &[&f(&[2, 3, 4])]).is_ok());
    assert!(check_given_output_types(&Op::Relu, &xr, &[&f(&[2, 3, 5])]).is_err());
}
