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
//!
//! Other per-case directives:
//!
//! - `// calib: <sample>` (one line per sample): the calibration batch `calibrate` gets in
//!   `PassCtx::calib`. A sample lists the flat, row-major f32 values of every graph input,
//!   inputs separated by `|`; `v*n` repeats `v` n times (`0.5*60, 10.0`);
//! - `// calib-file: <file.npy>`: samples from a `.npy` beside the `.qir` file (single-input
//!   graphs; first axis = samples, as `qcc --calib`), after any `// calib:` samples;
//! - `// calibration: <method>`: `PassCtx::calibration` (`minmax`, `percentile=P`, `entropy`,
//!   `mse`; default `minmax`);
//! - `// FIRES: <rule>` (lower-integer): the named e-graph rule changed the e-graph while
//!   lowering this case. For lower-integer cases the snapshot also lists every rule that
//!   applied, and [`every_lowering_rule_has_a_filetest`] checks that each rule of
//!   `passes::egraph::rules` is the subject of a `FIRES` line of some case.
//!
//! [`every_pass_has_filetests`] checks that every registered pass has a directory here.

use passes::{PassCtx, PassManager};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Case {
    /// The directory of the `.qir` file (`calib-file` paths are relative to it).
    dir: PathBuf,
    file: String,
    first_line: usize,
    text: String,
}

fn cases_of(path: &Path) -> (String, Vec<Case>) {
    let text = std::fs::read_to_string(path).expect("readable filetest");
    let file = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
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
    for (i, line) in text
        .lines()
        .skip(1)
        .chain(std::iter::once("// -----"))
        .enumerate()
    {
        if line.trim() == "// -----" {
            if case
                .lines()
                .any(|l| !l.trim().is_empty() && !l.trim().starts_with("//"))
            {
                cases.push(Case {
                    dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
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

/// Parses one `// calib:` sample for `g`: inputs separated by `|`, values by `,`, `v*n`
/// repeats.
fn parse_sample(g: &ir::Graph, line: &str) -> Result<Vec<ir::Tensor>, String> {
    let parts: Vec<&str> = line.split('|').collect();
    if parts.len() != g.inputs.len() {
        return Err(format!(
            "calib sample has {} inputs, the graph {}",
            parts.len(),
            g.inputs.len()
        ));
    }
    let mut sample = Vec::new();
    for (part, &v) in parts.iter().zip(&g.inputs) {
        let mut data = Vec::new();
        for item in part.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (val, n) = match item.split_once('*') {
                Some((v, n)) => (v, n.trim().parse::<usize>().map_err(|e| e.to_string())?),
                None => (item, 1),
            };
            let val: f32 = val.trim().parse().map_err(|e| format!("{val}: {e}"))?;
            data.extend(std::iter::repeat_n(val, n));
        }
        let shape = g.ty(v).shape.clone();
        if data.len() != shape.numel() {
            return Err(format!(
                "calib sample has {} values for an input of {} elements",
                data.len(),
                shape.numel()
            ));
        }
        sample.push(ir::Tensor::from_f32(shape, data));
    }
    Ok(sample)
}

/// The pass context for one case (its `calib` and `calibration` directives).
fn ctx_of(case: &Case, g: &ir::Graph) -> Result<PassCtx, String> {
    let mut ctx = PassCtx {
        verify_each: true,
        ..Default::default()
    };
    let mut samples = directives(&case.text, "// calib:")
        .into_iter()
        .map(|l| parse_sample(g, l))
        .collect::<Result<Vec<_>, _>>()?;
    for file in directives(&case.text, "// calib-file:") {
        let t = compiler::npy::read_npy_file(&case.dir.join(file)).map_err(|e| e.to_string())?;
        samples.extend(compiler::samples::split_samples(g, &[t]).map_err(|e| e.to_string())?);
    }
    if !samples.is_empty() {
        ctx.calib = Some(Arc::new(samples));
    }
    if let Some(m) = directives(&case.text, "// calibration:").first() {
        let m: passes::calibrate::Method = m.parse().map_err(|e| format!("{e}"))?;
        ctx.calibration = passes::CalibrationMethod(m);
    }
    Ok(ctx)
}

/// The rules that changed the e-graph while lowering `g` (`None` if lowering fails).
fn rules_applied(g: &ir::Graph, ctx: &PassCtx) -> Option<BTreeSet<String>> {
    let mut g = g.clone();
    passes::lower_integer::lower(&mut g, ctx, &passes::egraph::Limits::default())
        .ok()
        .map(|r| r.rules_applied.into_keys().collect())
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
    let ctx = match ctx_of(case, &g) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = writeln!(report, "{loc}: {e}");
            return String::new();
        }
    };
    let fired = if pass == "lower-integer" {
        rules_applied(&g, &ctx)
    } else {
        None
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
    let mut snap = format!("// pass: {pass}\n// before\n{before}\n// after\n{after}");
    if let Some(fired) = fired {
        for rule in directives(&case.text, "// FIRES:") {
            if !fired.contains(rule) {
                let _ = writeln!(
                    report,
                    "{loc}: FIRES {rule}: the rule did not apply (applied: {fired:?})"
                );
            }
        }
        let list: Vec<&str> = fired.iter().map(String::as_str).collect();
        let _ = writeln!(snap, "// rules applied: {}", list.join(", "));
    } else if let Some(rule) = directives(&case.text, "// FIRES:").first() {
        let _ = writeln!(report, "{loc}: FIRES {rule}: the lowering failed");
    }
    snap
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

/// The `.qir` files of one filetest directory, sorted.
fn qir_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable filetest dir")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "qir"))
        .collect();
    files.sort();
    files
}

#[test]
fn pass_filetests() {
    let mut report = String::new();
    let mut snapshots = Vec::new();
    let mut total = 0;
    for dir in pass_dirs() {
        let dname = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for path in qir_files(&dir) {
            let (pass, cases) = cases_of(&path);
            let stem = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
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

/// Every registered pass has a filetest directory with at least one case.
#[test]
fn every_pass_has_filetests() {
    let dirs: BTreeMap<String, PathBuf> = pass_dirs()
        .into_iter()
        .map(|d| {
            (
                d.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string(),
                d,
            )
        })
        .collect();
    let mut missing = Vec::new();
    for p in passes::PASSES {
        let has_case = dirs.get(p.name).is_some_and(|d| {
            qir_files(d).iter().any(|f| {
                let (pass, cases) = cases_of(f);
                pass == p.name && !cases.is_empty()
            })
        });
        if !has_case {
            missing.push(p.name);
        }
    }
    assert!(
        missing.is_empty(),
        "passes without a filetest in testsuite/filetests/<pass>/: {missing:?}"
    );
}

/// Every lowering rule is the subject (`// FIRES:`) of a lower-integer case, and applies
/// there. Prints the rule -> cases table on failure.
#[test]
fn every_lowering_rule_has_a_filetest() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("filetests/lower-integer");
    let mut cases_of_rule: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut applied_anywhere = BTreeSet::new();
    for path in qir_files(&root) {
        let (pass, cases) = cases_of(&path);
        if pass != "lower-integer" {
            continue;
        }
        for case in &cases {
            let g = ir::text::parse(&case.text).expect("filetest parses");
            let ctx = ctx_of(case, &g).expect("filetest directives are valid");
            let fired = rules_applied(&g, &ctx).unwrap_or_default();
            let name = case
                .text
                .lines()
                .find_map(|l| l.trim().strip_prefix("graph \""))
                .and_then(|l| l.split('"').next())
                .unwrap_or("?");
            for rule in directives(&case.text, "// FIRES:") {
                if fired.contains(rule) {
                    cases_of_rule
                        .entry(rule.to_string())
                        .or_default()
                        .push(format!("{}:{name}", case.file));
                }
            }
            applied_anywhere.extend(fired);
        }
    }
    let names = passes::egraph::rules::rule_names();
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !cases_of_rule.contains_key(*n))
        .collect();
    let unknown: Vec<&String> = cases_of_rule
        .keys()
        .chain(&applied_anywhere)
        .filter(|n| !names.contains(n))
        .collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "rules without a lower-integer filetest whose `// FIRES:` names them and where they \
         apply: {missing:?}; unknown rule names: {unknown:?}\ncovered: {cases_of_rule:#?}"
    );
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
    assert_eq!(
        directives("// CHECK: x\n  // CHECK: y z\n", "// CHECK:"),
        vec!["x", "y z"]
    );
}
