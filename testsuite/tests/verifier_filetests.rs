//! Verifier filetests: every `testsuite/filetests/verifier/*.qir` file holds cases separated
//! by `// -----` lines. Each case is parsed, verified, and the errors are compared with the
//! `// error: <message substring>` annotations:
//!
//! - a trailing `// error: ...` on a line expects an error on that line;
//! - a line holding only `// error: ...` expects an error on the closest code line above it
//!   (the layout `VerifierErrors::render_annotated` prints);
//! - node errors are located at their node's statement; graph-level errors at the `graph`,
//!   `inputs(..)` or `outputs(..)` statement their context names.
//!
//! Every expected error must be reported on its line with a message containing the
//! substring, and every reported error must be expected. A case without annotations must
//! verify cleanly. Each case must also survive the text round trip.

use ir::text::{Parsed, parse, parse_with_spans, print};
use ir::verifier::verify;
use std::fmt::Write;
use std::path::Path;

/// One expected error: 0-based line within the case, message substring.
#[derive(Debug)]
struct Expected {
    line: usize,
    substring: String,
}

fn code_part(line: &str) -> &str {
    // Strings in test cases never contain `//`, so the first `//` starts the comment.
    line.split("//").next().unwrap_or("").trim()
}

fn expectations(case: &str) -> Vec<Expected> {
    let mut out = Vec::new();
    let mut last_code = 0;
    for (i, line) in case.lines().enumerate() {
        let is_code = !code_part(line).is_empty();
        if is_code {
            last_code = i;
        }
        for msg in line.split("// error:").skip(1) {
            out.push(Expected {
                line: if is_code { i } else { last_code },
                substring: msg.trim().to_string(),
            });
        }
    }
    out
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count()
}

/// The line an actual error points at.
fn error_line(case: &str, parsed: &Parsed, e: &ir::verifier::VerifierError) -> usize {
    let span = match e.node {
        Some(n) => parsed
            .node_spans
            .iter()
            .find(|(m, _)| *m == n)
            .map(|(_, s)| s.clone()),
        None if e.context.starts_with("inputs(") => parsed.inputs_span.clone(),
        None if e.context.starts_with("outputs(") => parsed.outputs_span.clone(),
        None => None,
    };
    line_of(case, span.unwrap_or(parsed.header_span.clone()).start)
}

fn run_case(file: &str, first_line: usize, case: &str, report: &mut String) {
    let loc = |line: usize| format!("{file}:{}", first_line + line + 1);
    let parsed = match parse_with_spans(case) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(
                report,
                "{}: parse error: {}",
                loc(line_of(case, e.span.start)),
                e.message
            );
            return;
        }
    };
    let g = &parsed.graph;
    match parse(&print(g)) {
        Ok(back) if back == *g => {}
        _ => {
            let _ = writeln!(report, "{}: case does not round-trip", loc(0));
        }
    }
    let mut expected = expectations(case);
    let actual = match verify(g) {
        Ok(()) => vec![],
        Err(errs) => errs.0,
    };
    for e in &actual {
        let line = error_line(case, &parsed, e);
        match expected
            .iter()
            .position(|x| x.line == line && e.message.contains(&x.substring))
        {
            Some(i) => {
                expected.remove(i);
            }
            None => {
                let _ = writeln!(report, "{}: unexpected error: {}", loc(line), e.message);
            }
        }
    }
    for x in expected {
        let _ = writeln!(
            report,
            "{}: expected error not reported: {}",
            loc(x.line),
            x.substring
        );
    }
}

#[test]
fn verifier_filetests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("filetests/verifier");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("filetests/verifier exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "qir"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .qir files in {}", dir.display());
    let mut report = String::new();
    let mut cases = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable filetest");
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let mut case = String::new();
        let mut first_line = 0;
        for (i, line) in text.lines().chain(std::iter::once("// -----")).enumerate() {
            if line.trim() == "// -----" {
                if case.lines().any(|l| !code_part(l).is_empty()) {
                    run_case(&name, first_line, &case, &mut report);
                    cases += 1;
                }
                case.clear();
                first_line = i + 1;
            } else {
                case.push_str(line);
                case.push('\n');
            }
        }
    }
    assert!(report.is_empty(), "verifier filetest failures:\n{report}");
    assert!(cases >= 10, "only {cases} cases found");
}

#[test]
fn expectations_attach_to_the_right_lines() {
    let case = "a\nb // error: x\n// error: y\n\n// error: z // error: w\nc\n";
    let got: Vec<(usize, String)> = expectations(case)
        .into_iter()
        .map(|e| (e.line, e.substring))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "x".to_string()),
            (1, "y".to_string()),
            (1, "z".to_string()),
            (1, "w".to_string())
        ]
    );
}
