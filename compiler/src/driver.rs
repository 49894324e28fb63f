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
    /// The IR as `.qir` text (the integer program when quantizing).
    Ir,
    /// The quantized model as a QDQ ONNX file (the float model with --float).
    Onnx,
    /// Per-layer quantization report: JSON, or an HTML page with `-o FILE.html`.
    Report,
    /// The integer program as a self-contained Rust module (host simulation).
    Rust,
    /// The integer program as C99 (`-o net.c` also writes `net.h`).
    C,
}

impl Emit {
    /// The default for an output file name.
    pub fn from_path(p: &Path) -> Option<Emit> {
        match p.extension()?.to_str()? {
            "qir" => Some(Emit::Ir),
            "onnx" => Some(Emit::Onnx),
            "json" | "html" | "htm" => Some(Emit::Report),
            "rs" => Some(Emit::Rust),
            "c" | "h" => Some(Emit::C),
            _ => None,
        }
    }
}

/// The code-generation target: fixes the integer arithmetic (rounding) after quantization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetName {
    /// DSP-style fixed-point SIMD modelled on Qualcomm HVX: half-up rounding shifts.
    HvxLike,
    /// Portable scalar C99 with selectable rounding.
    GenericC,
}

/// Activation element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ActType {
    /// Asymmetric unsigned 8-bit (hvx-like's MACs multiply unsigned by signed bytes).
    U8,
    /// Asymmetric signed 8-bit.
    I8,
}

/// How scales are chosen (`--scales`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScalesArg {
    /// Any positive f32 scale.
    Float,
    /// Every scale a power of two `2^-f`: requantization is a rounding shift.
    Pow2,
}

/// How conv/gemm weights become integers (`--weight-rounding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WeightRoundingArg {
    /// Each weight to its nearest integer step.
    Nearest,
    /// Chosen on the calibration batch by the `optimize-weights` pass (error feedback and
    /// least-squares compensation of the quantized inputs).
    Optimized,
}

/// qcc: a quantizing compiler for convolutional networks.
#[derive(Parser, Debug)]
#[command(name = "qcc", version, about, long_about = None)]
pub struct Cli {
    /// The model: an ONNX file (.onnx) or qcc IR text (.qir).
    pub model: PathBuf,
    /// What to write; defaults from the -o extension (.qir -> ir, .onnx -> onnx, .json ->
    /// report), else ir.
    #[arg(long, value_enum)]
    pub emit: Option<Emit>,
    /// Calibration batch (.npy for single-input models, .npz keyed by input name; first axis
    /// = samples, float32, preprocessed as the model expects). Quantizes the model.
    #[arg(long, value_name = "CALIB")]
    pub calib: Option<PathBuf>,
    /// How clipping ranges are chosen from the calibration statistics: minmax,
    /// percentile[=P] (default 99.99), entropy (KL divergence), mse, or trained (starts from
    /// minmax and learns one scale factor per threshold that minimizes the output error of
    /// the quantized program on the calibration batch).
    #[arg(long, value_name = "METHOD", default_value = "minmax")]
    pub calibration: String,
    /// Target: fixes the integer arithmetic of everything after quantization.
    #[arg(long, value_enum, default_value = "hvx-like")]
    pub target: TargetName,
    /// Rounding of right shifts for generic-c (hvx-like always rounds half up).
    #[arg(long, value_name = "MODE")]
    pub rounding: Option<String>,
    /// Activation type.
    #[arg(long = "activation-type", value_enum, default_value = "u8")]
    pub activation_type: ActType,
    /// Quantize weights per tensor instead of per output channel.
    #[arg(long)]
    pub per_tensor_weights: bool,
    /// Activation bit width: 4 (packed u4/i4), 8 (the --activation-type) or 16 (i16,
    /// symmetric).
    #[arg(long = "activation-bits", value_name = "BITS", default_value_t = 8,
          value_parser = parse_activation_bits)]
    pub activation_bits: u32,
    /// Weight bit width (2..8; symmetric, stored bit-packed in the emitted code).
    #[arg(long = "weight-bits", value_name = "BITS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(2..=8))]
    pub weight_bits: u32,
    /// Scales: free f32 scales, or powers of two (requantization is a rounding shift).
    #[arg(long, value_enum, default_value = "float")]
    pub scales: ScalesArg,
    /// How conv/gemm weights are rounded. Default: `optimized` when some weight or
    /// activation is narrower than 8 bits (--weight-bits, --activation-bits, --precision),
    /// else `nearest`.
    #[arg(long = "weight-rounding", value_enum)]
    pub weight_rounding: Option<WeightRoundingArg>,
    /// Output file; stdout when absent (for text outputs).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Run the program on the samples in this .npy/.npz file and write the outputs as .npz
    /// to -o: the integer program (outputs dequantized) with --calib or for a QDQ model, the
    /// float reference program with --float.
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
    /// Also write a make-syntax dependency file: the output depends on the model, its
    /// external data files and the calibration data (for build systems).
    #[arg(long, value_name = "FILE")]
    pub depfile: Option<PathBuf>,
    /// Name of the emitted program (`qcc_NAME_run`); default: the sanitized -o file stem.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Per-layer precision: `auto` searches weight bits (2..8) and activation bits (4, 8,
    /// 16) per layer within --max-accuracy-drop; a path reads a JSON object {"node name":
    /// {"weight_bits": 4, "activation_bits": 16}, ...} (either key may be left out).
    /// Default: --weight-bits/--activation-bits everywhere.
    #[arg(long, value_name = "auto|FILE.json")]
    pub precision: Option<String>,
    /// With --precision auto: the allowed loss of top-1 agreement with the float model on
    /// the calibration batch, in percentage points.
    #[arg(long, value_name = "P", default_value_t = 1.0)]
    pub max_accuracy_drop: f64,
    /// With --precision auto: the cap on whole-model evaluations of the search.
    #[arg(long, value_name = "N", default_value_t = 80)]
    pub max_search_evals: usize,
    /// With --precision auto: also keep the logit SQNR against float on the calibration
    /// batch at least this many dB (a calibration batch drawn from training data is more
    /// confident than new data, so agreement alone can be optimistic). Default:
    /// 15 - 20*log10(P) dB for --max-accuracy-drop P, capped at all-8-bit's SQNR; `off`:
    /// agreement only.
    #[arg(long, value_name = "DB|off", value_parser = crate::precision::parse_sqnr_floor)]
    pub min_logit_sqnr: Option<f64>,
    /// With --precision auto: the weight bit widths to choose from.
    #[arg(
        long,
        value_name = "B,B,...",
        value_delimiter = ',',
        default_value = "2,3,4,5,6,7,8"
    )]
    pub search_weight_bits: Vec<u32>,
    /// With --precision auto: the activation bit widths to choose from (4, 8, 16).
    #[arg(
        long,
        value_name = "B,B,...",
        value_delimiter = ',',
        default_value = "4,8,16"
    )]
    pub search_activation_bits: Vec<u32>,
}

/// `--activation-bits`: 4, 8 or 16.
fn parse_activation_bits(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(b @ (4 | 8 | 16)) => Ok(b),
        _ => Err(format!("expected 4, 8 or 16, got `{s}`")),
    }
}

/// Escapes a path for a make rule.
fn make_escape(p: &Path) -> String {
    p.display()
        .to_string()
        .replace('$', "$$")
        .replace(' ', "\\ ")
        .replace('#', "\\#")
}

/// The inputs a compilation read: the model, external data files beside it, calibration data.
pub fn dependencies(cli: &Cli) -> Vec<PathBuf> {
    let mut deps = vec![cli.model.clone()];
    if let Some(dir) = cli.model.parent()
        && let Ok(bytes) = std::fs::read(&cli.model)
    {
        deps.extend(
            crate::import::onnx::external_data_files(&bytes)
                .into_iter()
                .map(|f| dir.join(f)),
        );
    }
    deps.extend(cli.calib.iter().cloned());
    deps.extend(cli.run.iter().cloned());
    deps
}

/// Writes `--depfile` for the outputs `outs`.
fn write_depfile(cli: &Cli, outs: &[PathBuf]) -> Result<(), CompileError> {
    let Some(path) = &cli.depfile else {
        return Ok(());
    };
    let targets: Vec<String> = outs.iter().map(|p| make_escape(p)).collect();
    let deps: Vec<String> = dependencies(cli).iter().map(|p| make_escape(p)).collect();
    let text = format!("{}: {}\n", targets.join(" "), deps.join(" \\\n  "));
    std::fs::write(path, text).map_err(|e| CompileError::io(path, e))
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

/// Pass context for the options of `cli`.
pub fn pass_ctx(cli: &Cli) -> Result<passes::PassCtx, CompileError> {
    let method = cli
        .calibration
        .parse::<passes::calibrate::Method>()
        .map_err(|e| CompileError::Usage(e.to_string()))?;
    let rounding = match (cli.target, &cli.rounding) {
        (TargetName::HvxLike, Some(r)) if r != "half-up" => {
            return Err(CompileError::Usage(format!(
                "--rounding {r}: hvx-like rounds half up (its `:rnd` shifts); use --target generic-c to choose"
            )));
        }
        (_, Some(r)) => r.parse::<ir::arith::RoundingMode>().map_err(|_| {
            CompileError::Usage(format!(
                "unknown --rounding `{r}`; expected half-up or half-away-from-zero"
            ))
        })?,
        (_, None) => ir::arith::RoundingMode::HalfUp,
    };
    let (layers, auto) = match cli
        .precision
        .as_deref()
        .map(crate::precision::PrecisionArg::parse)
    {
        Some(crate::precision::PrecisionArg::File(p)) => (read_precision(&p)?, false),
        Some(crate::precision::PrecisionArg::Auto) => (BTreeMap::new(), true),
        None => (BTreeMap::new(), false),
    };
    Ok(passes::PassCtx {
        verify_each: cli.verify_each,
        calibration: passes::CalibrationMethod(method),
        quant: passes::QuantConfig {
            activation: match cli.activation_type {
                ActType::U8 => ir::DType::U8,
                ActType::I8 => ir::DType::I8,
            },
            per_channel: !cli.per_tensor_weights,
            activation_bits: cli.activation_bits,
            weight_bits: cli.weight_bits,
            scales: match cli.scales {
                ScalesArg::Float => passes::ScaleMode::Float,
                ScalesArg::Pow2 => passes::ScaleMode::Pow2,
            },
            layers: layers.clone(),
            weight_rounding: match cli.weight_rounding {
                Some(WeightRoundingArg::Nearest) => passes::WeightRounding::Nearest,
                Some(WeightRoundingArg::Optimized) => passes::WeightRounding::Optimized,
                None => {
                    let narrow = |b: Option<u32>| b.is_some_and(|b| b < 8);
                    let below_8 = auto
                        || cli.weight_bits < 8
                        || cli.activation_bits < 8
                        || layers
                            .values()
                            .any(|l| narrow(l.weight_bits) || narrow(l.activation_bits));
                    if below_8 {
                        passes::WeightRounding::Optimized
                    } else {
                        passes::WeightRounding::Nearest
                    }
                }
            },
        },
        rounding,
        ..Default::default()
    })
}

/// Reads a `--precision` file: a JSON object mapping node names to
/// `{"weight_bits": 2..=8, "activation_bits": 4|8|16}` (both keys optional).
pub fn read_precision(
    path: &Path,
) -> Result<BTreeMap<String, passes::LayerPrecision>, CompileError> {
    let text = std::fs::read_to_string(path).map_err(|e| CompileError::io(path, e))?;
    parse_precision(&text).map_err(|e| CompileError::Usage(format!("{}: {e}", path.display())))
}

/// Parses the text of a `--precision` file (see [`read_precision`]).
pub fn parse_precision(text: &str) -> Result<BTreeMap<String, passes::LayerPrecision>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or("expected a JSON object {\"node name\": {\"weight_bits\": 4, \"activation_bits\": 16}, ...}")?;
    let mut out = BTreeMap::new();
    for (name, entry) in obj {
        let fields = entry.as_object().ok_or_else(|| {
            format!("`{name}`: expected an object with weight_bits and/or activation_bits")
        })?;
        let mut layer = passes::LayerPrecision::default();
        for (key, val) in fields {
            let bits = val.as_u64().and_then(|b| u32::try_from(b).ok());
            match key.as_str() {
                "weight_bits" => match bits {
                    Some(b @ 2..=8) => layer.weight_bits = Some(b),
                    _ => {
                        return Err(format!(
                            "`{name}`: weight_bits must be an integer in 2..=8, got {val}"
                        ));
                    }
                },
                "activation_bits" => match bits {
                    Some(b @ (4 | 8 | 16)) => layer.activation_bits = Some(b),
                    _ => {
                        return Err(format!(
                            "`{name}`: activation_bits must be 4, 8 or 16, got {val}"
                        ));
                    }
                },
                other => {
                    return Err(format!(
                        "`{name}`: unknown key `{other}` (expected weight_bits or activation_bits)"
                    ));
                }
            }
        }
        out.insert(name.clone(), layer);
    }
    Ok(out)
}

/// Runs the named passes with the `--print-before/after` hooks of `cli`.
pub fn run_passes(
    g: &mut Graph,
    names: &[&str],
    cli: &Cli,
    ctx: passes::PassCtx,
) -> Result<(), CompileError> {
    let (before, after) = (&cli.print_before, &cli.print_after);
    let mut pm = passes::PassManager::new(names, ctx)
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

/// Runs the float clean-up pipeline (float graphs only).
pub fn float_pipeline(g: &mut Graph, cli: &Cli) -> Result<(), CompileError> {
    for p in cli.print_before.iter().chain(&cli.print_after) {
        passes::find_pass(p).map_err(|e| CompileError::Usage(e.to_string()))?;
    }
    if g.phase != ir::Phase::Float {
        return Ok(());
    }
    run_passes(g, passes::pipelines::FLOAT_CLEANUP, cli, pass_ctx(cli)?)
}

/// A progress bar on a terminal, nothing otherwise.
fn progress() -> Option<passes::Progress> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    Some(passes::Progress(std::sync::Arc::new(
        move |what: &str, done, total| {
            bar.set_message(what.to_string());
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            if done == total {
                bar.finish_and_clear();
            }
        },
    )))
}

/// The stages of one compilation, kept for the emitters.
pub struct Compiled {
    /// The float program after clean-up.
    pub float: Graph,
    /// The fake-quantized program (quantized runs only).
    pub qdq: Option<Graph>,
    /// The final program: integer when quantized, else float.
    pub program: Graph,
    /// The calibration samples, when given.
    pub calib: Option<Vec<Vec<ir::Tensor>>>,
    /// What `--precision auto` chose.
    pub precision: Option<passes::precision::SearchResult>,
}

/// Loads, cleans up and (unless `--float`) quantizes and lowers the model of `cli`.
pub fn compile(cli: &Cli) -> Result<Compiled, CompileError> {
    let shapes = parse_input_shapes(&cli.input_shape)?;
    let mut g = load_model(&cli.model, shapes)?;
    float_pipeline(&mut g, cli)?;
    let calib = match &cli.calib {
        Some(p) => {
            let arrays = read_inputs(&g, p)?;
            Some(samples::split_samples(&g, &arrays).map_err(CompileError::Samples)?)
        }
        None => None,
    };
    let quantize = !cli.float && (calib.is_some() || g.phase == ir::Phase::Qdq);
    let search = crate::precision::search_options(cli)?;
    if search.is_some() && (!quantize || g.phase != ir::Phase::Float) {
        return Err(CompileError::Usage(
            "--precision auto needs a float model and --calib CALIB.npy to search on".into(),
        ));
    }
    if !quantize {
        return Ok(Compiled {
            float: g.clone(),
            qdq: None,
            program: g,
            calib,
            precision: None,
        });
    }
    let float = g.clone();
    let mut ctx = pass_ctx(cli)?;
    let mut precision = None;
    if g.phase == ir::Phase::Float {
        ctx.calib = calib.clone().map(std::sync::Arc::new);
        ctx.progress = progress();
        let calibrate: &[&str] = if ctx.calibration.0 == passes::calibrate::Method::Trained {
            &["calibrate", "train-thresholds"]
        } else {
            &["calibrate"]
        };
        run_passes(&mut g, calibrate, cli, ctx.clone())?;
        if let Some(opts) = &search {
            let sctx = passes::PassCtx {
                progress: progress(),
                ..ctx.clone()
            };
            let r = passes::precision::search(&g, &sctx, opts).map_err(CompileError::Pass)?;
            eprintln!("{}", crate::precision::summary(&r));
            ctx.quant.layers = r.layers.clone();
            r.apply_ranges(&mut g);
            precision = Some(r);
        }
        // insert-qdq, fuse-activations, optimize-weights: the rest of
        // `passes::pipelines::QUANTIZE`.
        run_passes(&mut g, &passes::pipelines::QUANTIZE[1..], cli, ctx.clone())?;
    }
    let qdq = g.clone();
    run_passes(&mut g, &["lower-integer"], cli, ctx)?;
    Ok(Compiled {
        float,
        qdq: Some(qdq),
        program: g,
        calib,
        precision,
    })
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
    if cli.run.is_some() && cli.output.is_none() {
        return Err(CompileError::Usage(
            "--run needs -o OUT.npz to write the outputs to".into(),
        ));
    }
    let c = compile(cli)?;
    if let Some(input) = &cli.run {
        let out = cli.output.as_deref().unwrap_or(Path::new("out.npz"));
        let g = &c.program;
        if g.phase == ir::Phase::Float && !cli.float {
            return Err(CompileError::Usage(
                "--run needs --calib CALIB.npy to quantize the model (or --float to run the float reference program)".into(),
            ));
        }
        let arrays = read_inputs(g, input)?;
        let samples = samples::split_samples(g, &arrays).map_err(CompileError::Samples)?;
        let results = if g.phase == ir::Phase::Float {
            ir::interp::run_float_batch(g, &samples)
        } else {
            ir::interp::int::run_int_batch(g, &samples)
        }
        .map_err(CompileError::Interp)?;
        let stacked = samples::stack_samples(g, &results);
        npy::write_npz_file(out, &stacked).map_err(CompileError::Npy)?;
        return write_depfile(cli, &[out.to_path_buf()]);
    }
    let emit = cli
        .emit
        .or_else(|| cli.output.as_deref().and_then(Emit::from_path))
        .unwrap_or(Emit::Ir);
    if let Some(out) = &cli.output {
        write_depfile(cli, std::slice::from_ref(out))?;
    }
    match emit {
        Emit::Ir => write_text(cli.output.as_deref(), &ir::text::print(&c.program)),
        Emit::Onnx => {
            let out = cli
                .output
                .as_deref()
                .ok_or_else(|| CompileError::Usage("--emit onnx needs -o FILE.onnx".into()))?;
            let g = c.qdq.as_ref().unwrap_or(&c.float);
            let bytes = crate::export::onnx::export_qdq_onnx(g)
                .map_err(|e| CompileError::Usage(e.to_string()))?;
            std::fs::write(out, bytes).map_err(|e| CompileError::io(out, e))
        }
        Emit::Report => {
            let (Some(qdq), Some(calib)) = (&c.qdq, &c.calib) else {
                return Err(CompileError::Usage(
                    "--emit report needs --calib CALIB.npy: it compares the quantized layers with float on that batch".into(),
                ));
            };
            let mut report = crate::report::build(&c.float, qdq, &c.program, calib)
                .map_err(CompileError::Interp)?;
            if let (Some(r), Some(obj)) = (&c.precision, report.as_object_mut()) {
                let opts = crate::precision::search_options(cli)?.unwrap_or_default();
                let section = crate::precision::report_json(r, &opts);
                obj.insert("precision".into(), section);
            }
            let html = cli
                .output
                .as_deref()
                .and_then(|p| p.extension())
                .is_some_and(|e| e == "html" || e == "htm");
            let text = if html {
                crate::report_html::render(&report)
            } else {
                serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
            };
            write_text(cli.output.as_deref(), &text)
        }
        Emit::Rust | Emit::C => write_backend(cli, &c.program, emit),
    }
}

/// `--emit rust|c`: the integer program through the portable emitters (`-o` required; C
/// writes the header next to the source with the extension `.h`).
fn write_backend(cli: &Cli, g: &Graph, emit: Emit) -> Result<(), CompileError> {
    let out = cli
        .output
        .as_deref()
        .ok_or_else(|| CompileError::Usage("--emit rust|c needs -o FILE".into()))?;
    if g.phase < ir::Phase::Integer {
        return Err(CompileError::Usage(
            "--emit rust|c needs --calib CALIB.npy (or a QDQ model) to produce an integer program"
                .into(),
        ));
    }
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("net");
    let name = backends::sanitize_name(cli.name.as_deref().unwrap_or(stem));
    let usage = |e: backends::EmitError| CompileError::Usage(e.to_string());
    if emit == Emit::Rust {
        let text = backends::emit_rust(g, &name).map_err(usage)?;
        return std::fs::write(out, text).map_err(|e| CompileError::io(out, e));
    }
    let (c_text, h_text) = match cli.target {
        TargetName::HvxLike => {
            backends::hvx::emit_hvx_c(g, &name).map_err(|e| CompileError::Usage(e.to_string()))?
        }
        TargetName::GenericC => {
            let target = backends::Target::generic_c(ir::arith::RoundingMode::HalfUp);
            backends::emit_c(g, &name, &target).map_err(usage)?
        }
    };
    let (c_path, h_path) = (out.with_extension("c"), out.with_extension("h"));
    std::fs::write(&c_path, c_text).map_err(|e| CompileError::io(&c_path, e))?;
    std::fs::write(&h_path, h_text).map_err(|e| CompileError::io(&h_path, e))
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
