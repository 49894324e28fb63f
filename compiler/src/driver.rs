//! The `qcc` command line: argument parsing, the pipeline, and exit codes.
//!
//! Exit codes: 0 on success, 1 for a problem with the user's input or options (with a
//! diagnostic on stderr), 2 for an internal error. A panic is caught and reported as an
//! internal error, never as a raw panic message.

use crate::error::CompileError;
use crate::import::onnx::ImportOptions;
use crate::{npy, samples};
use clap::{Parser, ValueEnum};
use ir::Graph;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The IR as `.qir` text.
    Ir,
}

/// qcc: a quantizing compiler for convolutional networks.
#[derive(Parser, Debug)]
#[command(name = "qcc", version, about, long_about = None)]
pub struct Cli {
    /// The model: an ONNX file (.onnx) or qcc IR text (.qir).
    pub model: PathBuf,
    /// What to write; defaults from the -o extension (.qir -> ir), else ir.
    #[arg(long, value_enum)]
    pub emit: Option<Emit>,
    /// Output file; stdout when absent (for text outputs).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Run the float program on the samples in this .npy/.npz file (needs --float) and write
    /// the outputs as .npz to -o.
    #[arg(long, value_name = "INPUT")]
    pub run: Option<PathBuf>,
    /// Use the float reference program (no quantization).
    #[arg(long)]
    pub float: bool,
    /// Pin an input's dims: NAME=D0,D1,... (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=D0,D1,...")]
    pub input_shape: Vec<String>,
    /// Print the IR to stderr before this pass runs (repeatable).
    #[arg(long = "print-before", value_name = "PASS")]
    pub print_before: Vec<String>,
    /// Print the IR to stderr after this pass runs (repeatable).
    #[arg(long = "print-after", value_name = "PASS")]
    pub print_after: Vec<String>,
    /// Run the verifier after every pass.
    #[arg(long)]
    pub verify_each: bool,
}

/// Parses `NAME=D0,D1,...` pins.
pub fn parse_input_shapes(specs: &[String]) -> Result<BTreeMap<String, Vec<usize>>, CompileError> {
    let mut out = BTreeMap::new();
    for s in specs {
        let bad = || {
            CompileError::Usage(format!(
                "bad --input-shape `{s}`: expected NAME=D0,D1,... with positive integer dims, e.g. input=1,3,224,224"
            ))
        };
        let (name, dims) = s.rsplit_once('=').ok_or_else(bad)?;
        let dims = dims
            .split(',')
            .map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        if name.is_empty() || dims.is_empty() {
            return Err(bad());
        }
        out.insert(name.to_string(), dims);
    }
    Ok(out)
}

/// Loads a model (ONNX or `.qir`) into a verified float graph.
pub fn load_model(
    path: &Path,
    input_shapes: BTreeMap<String, Vec<usize>>,
) -> Result<Graph, CompileError> {
    let is_qir = path.extension().is_some_and(|e| e == "qir");
    let g = if is_qir {
        let text = std::fs::read_to_string(path).map_err(|e| CompileError::io(path, e))?;
        ir::text::parse(&text).map_err(|e| CompileError::Parse {
            file: path.display().to_string(),
            text,
            error: e,
        })?
    } else {
        let opts = ImportOptions {
            input_shapes,
            base_dir: None,
            constant_inputs: BTreeMap::new(),
        };
        crate::import::onnx::import_model_file(path, &opts).map_err(CompileError::Import)?
    };
    ir::verifier::verify(&g).map_err(|e| CompileError::Verify {
        file: path.display().to_string(),
        report: e.render_annotated(&g),
    })?;
    Ok(g)
}

/// Runs the float clean-up pipeline with the `--print-before/after` hooks of `cli`.
pub fn float_pipeline(g: &mut Graph, cli: &Cli) -> Result<(), CompileError> {
    for p in cli.print_before.iter().chain(&cli.print_after) {
        passes::find_pass(p).map_err(|e| CompileError::Usage(e.to_string()))?;
    }
    let ctx = passes::PassCtx {
        verify_each: cli.verify_each,
        ..Default::default()
    };
    let (before, after) = (&cli.print_before, &cli.print_after);
    let mut pm = passes::PassManager::new(passes::pipelines::FLOAT_CLEANUP, ctx)
        .map_err(CompileError::Pass)?
        .observe(|ev| {
            let (which, pass, g) = match ev {
                passes::PipelineEvent::Before { pass, graph } => ("before", pass, graph),
                passes::PipelineEvent::After { pass, graph, .. } => ("after", pass, graph),
            };
            let wanted = if which == "before" { before } else { after };
            if wanted.iter().any(|p| p == pass) {
                eprintln!("// ----- IR {which} {pass} -----\n{}", ir::text::print(g));
            }
        });
    pm.run(g).map_err(CompileError::Pass)?;
    Ok(())
}

fn read_inputs(g: &Graph, path: &Path) -> Result<Vec<ir::Tensor>, CompileError> {
    let is_npz = path.extension().is_some_and(|e| e == "npz");
    if is_npz {
        let arrays = npy::read_npz_file(path).map_err(CompileError::Npy)?;
        g.inputs
            .iter()
            .map(|&v| {
                let name = g.value(v).name.clone().unwrap_or_default();
                arrays
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, t)| t.clone())
                    .ok_or_else(|| {
                        CompileError::Samples(samples::SampleError::Missing {
                            input: name,
                            have: arrays
                                .iter()
                                .map(|(k, _)| k.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                        })
                    })
            })
            .collect()
    } else {
        if g.inputs.len() != 1 {
            return Err(CompileError::Samples(samples::SampleError::NeedNpz(
                g.inputs.len(),
            )));
        }
        Ok(vec![npy::read_npy_file(path).map_err(CompileError::Npy)?])
    }
}

fn write_text(out: Option<&Path>, text: &str) -> Result<(), CompileError> {
    match out {
        Some(p) => std::fs::write(p, text).map_err(|e| CompileError::io(p, e)),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| CompileError::io(Path::new("<stdout>"), e)),
    }
}

/// Runs the command line `cli`.
pub fn run(cli: &Cli) -> Result<(), CompileError> {
    let shapes = parse_input_shapes(&cli.input_shape)?;
    if cli.run.is_some() && !cli.float {
        return Err(CompileError::Usage(
            "--run needs --float: the float reference program is the only executable program so far".into(),
        ));
    }
    let mut g = load_model(&cli.model, shapes)?;
    float_pipeline(&mut g, cli)?;
    if let Some(input) = &cli.run {
        let out = cli.output.as_deref().ok_or_else(|| {
            CompileError::Usage("--run needs -o OUT.npz to write the outputs to".into())
        })?;
        let arrays = read_inputs(&g, input)?;
        let samples = samples::split_samples(&g, &arrays).map_err(CompileError::Samples)?;
        let results = ir::interp::run_float_batch(&g, &samples).map_err(CompileError::Interp)?;
        let stacked = samples::stack_samples(&g, &results);
        npy::write_npz_file(out, &stacked).map_err(CompileError::Npy)?;
        return Ok(());
    }
    let emit = cli.emit.unwrap_or(Emit::Ir);
    match emit {
        Emit::Ir => write_text(cli.output.as_deref(), &ir::text::print(&g)),
    }
}

/// Entry point used by `main`: parses `args`, runs, renders errors, returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let result = std::panic::catch_unwind(|| run(&cli));
    match result {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            e.render_to_stderr();
            if e.is_internal() { 2 } else { 1 }
        }
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .map(|s| s.as_str())
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            eprintln!(
                "error: internal compiler error: {msg}\nnote: this is a bug in qcc; please report it with the model that triggers it"
            );
            2
        }
    }
}
