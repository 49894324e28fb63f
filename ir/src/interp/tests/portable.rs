//! The portable instances of the SIMD-dispatched kernels agree with the dispatched ones
//! (which are the AVX2+FMA instances on a CPU that has them). Depthwise convolution is
//! covered by `prop.rs`.

use super::*;
use crate::interp::simd::with_portable;

#[test]
fn unary_ops_portable_match_dispatched() {
    let x = seq(&[3, 5, 7], 4);
    let ops = [
        Op::Relu,
        Op::LeakyRelu(LeakyReluAttrs { alpha: 0.1 }),
        Op::Clip(ClipAttrs {
            min: -0.5,
            max: 0.75,
        }),
        Op::Sigmoid,
        Op::HardSigmoid(HardSigmoidAttrs {
            alpha: 0.2,
            beta: 0.5,
        }),
        Op::HardSwish,
        Op::Tanh,
    ];
    let ty = [TensorType::f32(vec![3, 5, 7])];
    for op in ops {
        let fast = eval_node_float(&op, &[&x], &ty).unwrap();
        let slow = with_portable(|| eval_node_float(&op, &[&x], &ty)).unwrap();
        assert_close(slow[0].as_f32().unwrap(), fast[0].as_f32().unwrap());
    }
}
