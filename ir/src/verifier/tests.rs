//! Verifier tests that need graphs the text form cannot express (dead operands, corrupted
//! value tables) and the annotated rendering. The per-invariant negative tests are `.qir`
//! filetests in `testsuite/filetests/verifier/`.

use super::*;
use crate::ops::*;
use crate::text::parse;
use crate::text::tests::{all_ops_graph, int_ops_graph};
use crate::types::TensorType;

fn messages(g: &Graph) -> Vec<String> {
    match verify(g) {
        Ok(()) => vec![],
        Err(e) => e.0.into_iter().map(|e| e.message).collect(),
    }
}

#[test]
fn the_all_ops_graph_verifies() {
    assert_eq!(messages(&all_ops_graph()), Vec::<String>::new());
}

#[test]
fn the_int_ops_graph_verifies() {
    assert_eq!(messages(&int_ops_graph()), Vec::<String>::new());
}

#[test]
fn dead_operand_is_fatal_and_stops_later_stages() {
    let mut g = Graph::new("dead");
    let x = g.add_input("x", TensorType::f32(vec![2]));
    let r = g.add_simple(Op::Relu, vec![x], TensorType::f32(vec![2]), "r");
    let s = g.add_simple(
        Op::Softmax(SoftmaxAttrs { axis: 7 }),
        vec![r],
        TensorType::f32(vec![2]),
        "s",
    );
    g.outputs.push(s);
    let rn = g.value(r).producer;
    g.remove_node(rn);
    let errs = verify(&g).unwrap_err();
    assert!(errs.has_fatal());
    let msgs: Vec<&str> = errs.0.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs, vec!["operand 0 is not a live value"]);
    let e = &errs.0[0];
    assert_eq!(e.node, Some(g.value(s).producer));
    assert!(
        e.context.starts_with("%1 = softmax(%dead1)"),
        "{}",
        e.context
    );
}

#[test]
fn removed_graph_output_is_reported_on_the_outputs_line() {
    let mut g = Graph::new("out");
    let x = g.add_input("x", TensorType::f32(vec![2]));
    let r = g.add_simple(Op::Relu, vec![x], TensorType::f32(vec![2]), "r");
    g.outputs.push(r);
    let rn = g.value(r).producer;
    g.remove_node(rn);
    let errs = verify(&g).unwrap_err();
    assert_eq!(errs.0.len(), 1);
    assert_eq!(errs.0[0].node, None);
    assert_eq!(errs.0[0].context, "outputs(%dead1)");
    assert_eq!(errs.0[0].message, "graph output 0 is not a live value");
}

#[test]
fn corrupted_producer_links_are_fatal() {
    let mut g = Graph::new("corrupt");
    let x = g.add_input("x", TensorType::f32(vec![2]));
    let r = g.add_simple(Op::Relu, vec![x], TensorType::f32(vec![2]), "r");
    g.outputs.push(r);
    g.value_mut(r).output_index = 3;
    let msgs = messages(&g);
    assert!(
        msgs.contains(&"result 0 has output_index 3".to_string()),
        "{msgs:?}"
    );
    let xn = g.value(x).producer;
    g.value_mut(r).output_index = 0;
    g.value_mut(r).producer = xn;
    let msgs = messages(&g);
    assert!(
        msgs.contains(&"result 0 names another node as its producer".to_string()),
        "{msgs:?}"
    );
}

#[test]
fn nonfatal_errors_accumulate() {
    let g = parse(
        r#"graph "acc" phase=float
        inputs(%0)
        %0 = input : f32[1,4]
        %1 = softmax(%0) {axis=5} : f32[1,4]
        %2 = transpose(%1) {perm=[0,0]} : f32[4,1]
        %3 = clip(%2) {min=1.0, max=0.0} : f32[4,1]
        outputs(%3)
        "#,
    )
    .unwrap();
    let errs = verify(&g).unwrap_err();
    assert!(!errs.has_fatal());
    let msgs: Vec<&str> = errs.0.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        vec![
            "axis 5 is out of range for rank 2",
            "perm [0, 0] is not a permutation of 0..2",
            "clip min 1.0 exceeds max 0.0",
        ]
    );
}

#[test]
fn snapshot_render_annotated() {
    let g = parse(
        r#"graph "annotated" phase=integer
        inputs(%0, %0)
        %0 "x" = input : u8[1,2,2,2]<0.1:300>
        %1 = const dense<[1, 2]> : i8[2]<axis=0, {0.5:0, 0.3:0, 1.0:0}>
        %2 = relu(%0, %1) : u8[1,2,2,2]
        %3 = relu(%2) : f32[1,2,2,2]
        %4 = relu(%3) : i8[1,2,2,2]
        outputs(%4)
        "#,
    )
    .unwrap();
    let errs = verify(&g).unwrap_err();
    insta::assert_snapshot!("render_annotated", errs.render_annotated(&g));
    insta::assert_snapshot!("display", errs.to_string());
}
