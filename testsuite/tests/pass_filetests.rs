//! Pass filetests: every directory `testsuite/filetests/<pass>/` except `verifier/` holds
//! `.qir` files whose first line is `// pass: <name>`, with cases separated by `// -----`.
//!
//! Each case is parsed, the named pass runs on it through the pass manager (verifying after
//! the pass), and the before/after text is snapshotted with insta (one file snapshot per
//! case, `pass_filetests__<dir>__<file>__<n>.snap`). A failing pass snapshots its error
//! message instead of the after text. Optional lines pin the property a case is about, so
//! unrelated printer changes don't hide regressions:
//!
//! - `// CHECK: <text>`: the after text (or error message) contains `<text>`;
//! - `// CHECK-NOT: <text>`: it does not.

use passes::{PassCtx, PassManager};
use std::fmt::Write;
use std::path::{Path, PathBuf};

struct Case {
    file: String,
    first_line: usize,
    text: String,
}

fn cases_of(path: &Path) -> (String, Vec<Case>) {
    let text = std::fs::read_to_string(path).expect("readable filetest");
    let file = path.file_name().unwrap_or_default().to_string_lossy().to_string();
    let pass = text
        .lines()
        .next()
        .and_then(|l| l.trim().strip_prefix("// pass:"))
        .unwrap_or_else(|| panic!("{file}: first line must be `// pass: <name>`"))
        .trim()
        .to_string();
    let mut cases = Vec::new();
    let mut case = String::new();
    let mut first_line = 2;
    for (i, line) in text.lines().skip(1).chain(std::iter::once("// -----")).enumerate() {
        if line.trim() == "// -----" {
            if case.lines().any(|l| !l.trim().is_empty() && !l.trim().starts_with("//")) {
                cases.push(Case {
                    file: file.clone(),
                    first_line,
                    text: std::mem::take(&mut case),
                });
            }
            case.clear();
            first_line = i + 3;
        } else {
            case.push_str(line);
            case.push('\n');
        }
    }
    (pass, cases)
}

fn directives<'a>(case: &'a str, key: &str) -> Vec<&'a str> {
    case.lines()
        .filter_map(|l| l.trim().strip_prefix(key).map(str::trim))
        .collect()
}

/// Runs one case; returns the snapshot text and appends CHECK failures to `report`.
fn run_case(pass: &str, case: &Case, report: &mut String) -> String {
    let loc = format!("{}:{}", case.file, case.first_line);
    let mut g = match ir::text::parse(&case.text) {
        Ok(g) => g,
        Err(e) => {
            let _ = writeln!(report, "{loc}: parse error: {}", e.message);
            return String::new();
        }
    };
    let before = ir::text::print(&g);
    let ctx = PassCtx {
        verify_each: true,
        ..Default::default()
    };
    let after = match PassManager::new(&[pass], ctx).and_then(|mut pm| pm.run(&mut g)) {
        Ok(_) => ir::text::print(&g),
        Err(e) => format!("error: {e}\n"),
    };
    for want in directives(&case.text, "// CHECK:") {
        if !after.contains(want) {
            let _ = writeln!(report, "{loc}: CHECK not found: {want}\n{after}");
        }
    }
    for not in directives(&case.text, "// CHECK-NOT:") {
        if after.contains(not) {
            let _ = writeln!(report, "{loc}: CHECK-NOT found: {not}\n{after}");
        }
    }
    format!("// pass: {pass}\n// before\n{before}\n// after\n{after}")
}

fn pass_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("filetests");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("filetests/ exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "verifier"))
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn pass_filetests() {
    let mut report = String::new();
    let mut snapshots = Vec::new();
    let mut total = 0;
    for dir in pass_dirs() {
        let dname = dir.file_name().unwrap_or_default().to_string_lossy().to_string();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("readable filetest dir")
            .map(|e| e.expect("readable dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "qir"))
            .collect();
        files.sort();
        for path in files {
            let (pass, cases) = cases_of(&path);
            let stem = path.file_stem().unwrap_or_default().to_string_lossy().to_string();
            for (i, case) in cases.iter().enumerate() {
                let snap = run_case(&pass, case, &mut report);
                snapshots.push((format!("{dname}__{stem}__{i}"), snap));
                total += 1;
            }
        }
    }
    assert!(report.is_empty(), "pass filetest failures:\n{report}");
    assert!(total > 0, "no pass filetests found");
    for (name, snap) in snapshots {
        insta::assert_snapshot!(name, snap);
    }
}

#[test]
fn cases_split_on_separators_and_read_the_header() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join("t.qir");
    std::fs::write(&p, "// pass: dead-code\n// a comment\ngraph \"a\"\n// -----\n// only comments\n// -----\ngraph \"b\"\n").unwrap();
    let (pass, cases) = cases_of(&p);
    assert_eq!(pass, "dead-code");
    assert_eq!(cases.len(), 2);
    assert_eq!((cases[0].first_line, cases[1].first_line), (2, 7));
    assert_eq!(directives("// CHECK: x\n  // CHECK: y z\n", "// CHECK:"), vec!["x", "y z"]);
}
