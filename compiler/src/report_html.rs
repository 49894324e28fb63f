//! `-o report.html`: the JSON report of [`crate::report`] rendered as one self-contained
//! HTML page (inline CSS and inline SVG, no scripts, no external resources).
//!
//! The page has a totals panel (weight, activation and arena bytes, MACs and multiplication
//! cost, each against all-8-bit with a percentage; the `precision` section's all-8-bit
//! totals when `--precision auto` ran, else the report's own `baseline_8bit`), per-layer
//! SQNR bars, per-layer weight and activation bit-width bars, and a histogram of each
//! quantized activation's float values on the calibration batch with its clipping
//! thresholds drawn as vertical lines. SVG elements carry stable class names
//! (`sqnr-bar`, `bits-bar`, `total-bar`, `hist`, `hist-bin`, `threshold`) for tests.
//! Every name from the model is HTML-escaped.

use serde_json::Value as Json;
use std::fmt::Write;

/// Fill of the SQNR bars (tests look for it in screenshots).
pub const SQNR_COLOUR: &str = "#1f77b4";
/// Fill of the weight bit-width bars.
const WEIGHT_COLOUR: &str = "#ff7f0e";
/// Fill of the activation bit-width bars.
const ACT_COLOUR: &str = "#2ca02c";
/// Fill of the histogram bins.
const HIST_COLOUR: &str = "#7f7f9f";
/// Stroke of the threshold lines.
const THRESHOLD_COLOUR: &str = "#d62728";

/// Escapes `s` for HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fff}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}\
table{border-collapse:collapse}td,th{padding:4px 10px;text-align:right}\
th:first-child,td:first-child{text-align:left}tr:nth-child(even){background:#f4f6f8}\
.better{color:#1a7f37}.worse{color:#b42318}.note{color:#666;font-size:13px}\
svg text{font-size:12px;fill:#222}.hists{display:flex;flex-wrap:wrap;gap:12px}\
.hists figure{margin:0}.hists figcaption{font-size:12px;max-width:300px;overflow-wrap:anywhere}";

fn num(v: &Json) -> Option<f64> {
    v.as_f64()
}

fn count(v: &Json) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// Renders the report `r` (the JSON of [`crate::report::build`], optionally with a
/// `precision` section) as an HTML page.
pub fn render(r: &Json) -> String {
    let model = escape(r["model"].as_str().unwrap_or("model"));
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>qcc report: {model}</title><style>{CSS}</style></head><body>\n\
         <h1>qcc quantization report: {model}</h1>\n<p class=\"note\">{} calibration samples.</p>\n",
        count(&r["calibration_samples"])
    );
    totals(&mut h, r);
    precision(&mut h, &r["precision"]);
    let empty = Vec::new();
    let layers = r["layers"].as_array().unwrap_or(&empty);
    sqnr_bars(&mut h, layers);
    bits_bars(&mut h, layers);
    histograms(&mut h, r["activations"].as_array().unwrap_or(&empty));
    h.push_str("</body></html>\n");
    h
}

/// The totals panel: a table and paired bars (this program vs all-8-bit).
fn totals(h: &mut String, r: &Json) {
    let t = &r["totals"];
    let p = &r["precision"]["all_8bit_totals"];
    let b = if p.is_object() {
        p
    } else {
        &t["baseline_8bit"]
    };
    let (act, base_act) = (count(&t["activation_bytes"]), count(&b["activation_bytes"]));
    // The arena of an all-8-bit program is not planned here: estimate it by scaling this
    // program's arena by the activation bytes.
    let arena = count(&t["arena_bytes"]);
    let base_arena = if act > 0 {
        (arena as f64 * base_act as f64 / act as f64).round() as u64
    } else {
        arena
    };
    let macs = count(&t["macs"]);
    let rows: [(&str, u64, u64, &str); 5] = [
        (
            "Weight bytes",
            count(&t["weight_bytes"]),
            count(&b["weight_bytes"]),
            "",
        ),
        ("Activation bytes", act, base_act, ""),
        ("Arena bytes", arena, base_arena, " (estimated)"),
        ("MACs", macs, macs, ""),
        (
            "Mult cost (MACs x bits x bits)",
            count(&t["mult_cost"]),
            count(&b["mult_cost"]),
            "",
        ),
    ];
    h.push_str(
        "<h2>Totals</h2>\n<table class=\"totals\"><tr><th></th><th>this program</th>\
         <th>all 8-bit</th><th>vs all 8-bit</th></tr>\n",
    );
    for (label, v, base, note) in rows {
        let (pct, class) = if base == 0 {
            ("n/a".to_string(), "")
        } else {
            let p = 100.0 * v as f64 / base as f64;
            let class = match v.cmp(&base) {
                std::cmp::Ordering::Less => "better",
                std::cmp::Ordering::Equal => "",
                std::cmp::Ordering::Greater => "worse",
            };
            (format!("{p:.1}%"), class)
        };
        let _ = writeln!(
            h,
            "<tr><td>{label}</td><td>{}</td><td>{}{note}</td><td class=\"{class}\">{pct}</td></tr>",
            thousands(v),
            thousands(base)
        );
    }
    h.push_str("</table>\n");
    // Paired bars, each row scaled to the larger of the two.
    let (label_w, bar_w, row_h) = (230.0, 500.0, 34.0);
    let height = row_h * rows.len() as f64 + 10.0;
    let _ = writeln!(
        h,
        "<svg class=\"totals-chart\" width=\"{}\" height=\"{height}\" role=\"img\">",
        label_w + bar_w + 120.0
    );
    for (i, (label, v, base, _)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 5.0;
        let m = (*v).max(*base).max(1) as f64;
        let _ = writeln!(
            h,
            "<text x=\"0\" y=\"{}\">{label}</text>\
             <rect class=\"total-bar\" x=\"{label_w}\" y=\"{y}\" width=\"{:.1}\" height=\"12\" fill=\"{SQNR_COLOUR}\"/>\
             <rect class=\"total-bar baseline\" x=\"{label_w}\" y=\"{}\" width=\"{:.1}\" height=\"12\" fill=\"#c7c7c7\"/>",
            y + 16.0,
            bar_w * *v as f64 / m,
            y + 14.0,
            bar_w * *base as f64 / m,
        );
    }
    h.push_str("</svg>\n<p class=\"note\">Blue: this program. Grey: all 8-bit.</p>\n");
}

/// The `--precision auto` summary, when present.
fn precision(h: &mut String, p: &Json) {
    if !p.is_object() {
        return;
    }
    let f = |k: &str| num(&p[k]).map_or("n/a".into(), |x| format!("{x:.1}"));
    let _ = writeln!(
        h,
        "<h2>Precision search</h2>\n<p>Top-1 agreement with float on the calibration batch: \
         {}% (all 8-bit {}%), logit SQNR {} dB (all 8-bit {} dB); memory saved {}%, \
         multiplication cost saved {}%; {} evaluations; constraint {}.</p>",
        f("agreement_percent"),
        f("all_8bit_agreement_percent"),
        f("logit_sqnr_db"),
        f("all_8bit_logit_sqnr_db"),
        f("memory_saving_percent"),
        f("mult_cost_saving_percent"),
        count(&p["evaluations"]),
        if p["satisfied"].as_bool() == Some(true) {
            "met"
        } else {
            "not met"
        },
    );
}

/// A layer's label: `name (op)`, escaped.
fn layer_label(l: &Json) -> String {
    escape(&format!(
        "{} ({})",
        l["name"].as_str().unwrap_or("?"),
        l["op"].as_str().unwrap_or("?")
    ))
}

/// One horizontal SQNR bar per layer, scaled to the largest finite SQNR.
fn sqnr_bars(h: &mut String, layers: &[Json]) {
    let vals: Vec<Option<f64>> = layers
        .iter()
        .map(|l| match &l["sqnr_db"] {
            Json::String(s) if s == "inf" => Some(f64::INFINITY),
            v => num(v),
        })
        .collect();
    let max = vals
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max);
    let (label_w, bar_w, row_h) = (260.0, 520.0, 20.0);
    h.push_str("<h2>SQNR against float per layer (dB)</h2>\n");
    let _ = writeln!(
        h,
        "<svg class=\"sqnr-chart\" width=\"{}\" height=\"{}\" role=\"img\">",
        label_w + bar_w + 80.0,
        row_h * layers.len() as f64 + 4.0
    );
    for (i, (l, v)) in layers.iter().zip(&vals).enumerate() {
        let y = i as f64 * row_h + 2.0;
        let (w, text) = match v {
            Some(v) if v.is_finite() => (bar_w * v.max(0.0) / max, format!("{v:.1}")),
            Some(_) => (bar_w, "inf".to_string()),
            None => (0.0, "n/a".to_string()),
        };
        let _ = writeln!(
            h,
            "<text x=\"0\" y=\"{}\">{}</text><rect class=\"sqnr-bar\" x=\"{label_w}\" y=\"{y}\" \
             width=\"{w:.1}\" height=\"{}\" fill=\"{SQNR_COLOUR}\"><title>{text} dB</title></rect>\
             <text x=\"{:.1}\" y=\"{}\">{text}</text>",
            y + 13.0,
            layer_label(l),
            row_h - 4.0,
            label_w + w + 4.0,
            y + 13.0,
        );
    }
    h.push_str("</svg>\n");
}

/// Weight and activation bit widths per layer (one bar for each width the layer has).
fn bits_bars(h: &mut String, layers: &[Json]) {
    let (label_w, bar_w, row_h, max_bits) = (260.0, 320.0, 26.0, 16.0);
    h.push_str("<h2>Bit widths per layer</h2>\n");
    let _ = writeln!(
        h,
        "<svg class=\"bits-chart\" width=\"{}\" height=\"{}\" role=\"img\">",
        label_w + bar_w + 60.0,
        row_h * layers.len() as f64 + 4.0
    );
    for (i, l) in layers.iter().enumerate() {
        let y = i as f64 * row_h + 2.0;
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{}\">{}</text>",
            y + 15.0,
            layer_label(l)
        );
        let bars = [
            ("weight", &l["weight_bits"], WEIGHT_COLOUR, 0.0),
            ("activation", &l["activation_bits"], ACT_COLOUR, 11.0),
        ];
        for (kind, bits, colour, dy) in bars {
            let Some(b) = num(bits) else { continue };
            let w = bar_w * b.min(max_bits) / max_bits;
            let _ = write!(
                h,
                "<rect class=\"bits-bar {kind}\" x=\"{label_w}\" y=\"{}\" width=\"{w:.1}\" height=\"10\" \
                 fill=\"{colour}\"><title>{kind} {b} bits</title></rect>\
                 <text x=\"{:.1}\" y=\"{}\" style=\"font-size:10px\">{b}</text>",
                y + dy,
                label_w + w + 4.0,
                y + dy + 9.0,
            );
        }
        h.push('\n');
    }
    h.push_str(
        "</svg>\n<p class=\"note\">Orange: weight bits. Green: activation bits. Scale: 16 bits.</p>\n",
    );
}

/// One histogram per quantized activation, with its clipping thresholds as vertical lines.
/// Bin heights are square roots of the counts so the tails stay visible.
fn histograms(h: &mut String, acts: &[Json]) {
    h.push_str(
        "<h2>Activation histograms and clipping thresholds</h2>\n<p class=\"note\">Float \
         values on the calibration batch (bar height: square root of the count); red lines: \
         the quantized range.</p>\n<div class=\"hists\">\n",
    );
    let (w, ht, pad) = (300.0, 120.0, 4.0);
    for a in acts {
        let hist = &a["histogram"];
        let (lo, hi) = (
            num(&hist["min"]).unwrap_or(0.0),
            num(&hist["max"]).unwrap_or(0.0),
        );
        let (tlo, thi) = (
            num(&a["threshold_min"]).unwrap_or(lo),
            num(&a["threshold_max"]).unwrap_or(hi),
        );
        let empty = Vec::new();
        let counts: Vec<f64> = hist["counts"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(|c| c.as_f64().unwrap_or(0.0).sqrt())
            .collect();
        // The x axis covers both the data and the thresholds.
        let (x0, mut x1) = (lo.min(tlo), hi.max(thi));
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let x = |v: f64| pad + (w - 2.0 * pad) * (v - x0) / (x1 - x0);
        let top = counts.iter().copied().fold(1.0f64, f64::max);
        let _ = write!(
            h,
            "<figure><svg class=\"hist\" width=\"{w}\" height=\"{}\" role=\"img\">\
             <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{ht}\" fill=\"#fafafa\" stroke=\"#ddd\"/>",
            ht + 16.0
        );
        let n = counts.len().max(1) as f64;
        let bw = (hi - lo) / n;
        for (k, c) in counts.iter().enumerate() {
            let (a0, a1) = (lo + bw * k as f64, lo + bw * (k + 1) as f64);
            let bh = (ht - 2.0 * pad) * c / top;
            let _ = write!(
                h,
                "<rect class=\"hist-bin\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{bh:.2}\" fill=\"{HIST_COLOUR}\"/>",
                x(a0),
                ht - pad - bh,
                (x(a1) - x(a0)).max(1.0),
            );
        }
        for t in [tlo, thi] {
            let _ = write!(
                h,
                "<line class=\"threshold\" x1=\"{0:.2}\" x2=\"{0:.2}\" y1=\"0\" y2=\"{ht}\" \
                 stroke=\"{THRESHOLD_COLOUR}\" stroke-width=\"2\"><title>{t:.4}</title></line>",
                x(t)
            );
        }
        let _ = writeln!(
            h,
            "<text x=\"{pad}\" y=\"{}\">{tlo:.3}</text><text x=\"{}\" y=\"{}\" \
             text-anchor=\"end\">{thi:.3}</text></svg><figcaption>{} ({} bits)</figcaption></figure>",
            ht + 13.0,
            w - pad,
            ht + 13.0,
            escape(a["name"].as_str().unwrap_or("?")),
            count(&a["bits"]),
        );
    }
    h.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Json {
        json!({
            "model": "tiny<net>",
            "calibration_samples": 4,
            "layers": [
                {"name": "conv<1>", "op": "conv", "weight_bits": 4, "activation_bits": 8,
                 "sqnr_db": 30.5, "weight_bytes": 10, "macs": 100},
                {"name": "relu", "op": "relu", "weight_bits": null, "activation_bits": 8,
                 "sqnr_db": "inf", "weight_bytes": 0, "macs": 0},
                {"name": "fc", "op": "gemm", "weight_bits": 8, "activation_bits": 16,
                 "sqnr_db": null, "weight_bytes": 20, "macs": 50},
            ],
            "totals": {"weight_bytes": 30, "activation_bytes": 40, "macs": 150,
                       "arena_bytes": 32, "arena_lower_bound": 32, "mult_cost": 9000,
                       "baseline_8bit": {"weight_bytes": 40, "activation_bytes": 30,
                                         "mult_cost": 9600}},
            "activations": [
                {"name": "x&y", "bits": 8, "threshold_min": -1.0, "threshold_max": 2.0,
                 "histogram": {"min": -0.5, "max": 3.0, "counts": [1, 5, 0, 2]}},
                {"name": "z", "bits": 16, "threshold_min": 0.0, "threshold_max": 0.0,
                 "histogram": {"min": 0.0, "max": 0.0, "counts": [7, 0]}},
            ],
        })
    }

    fn occurrences(h: &str, s: &str) -> usize {
        h.matches(s).count()
    }

    #[test]
    fn draws_one_bar_per_layer_and_one_histogram_per_activation() {
        let h = render(&sample());
        assert_eq!(occurrences(&h, "class=\"sqnr-bar\""), 3);
        // Weight bits for conv and fc, activation bits for all three.
        assert_eq!(occurrences(&h, "class=\"bits-bar weight\""), 2);
        assert_eq!(occurrences(&h, "class=\"bits-bar activation\""), 3);
        assert_eq!(occurrences(&h, "class=\"hist\""), 2);
        assert_eq!(occurrences(&h, "class=\"threshold\""), 4);
        assert_eq!(occurrences(&h, "class=\"hist-bin\""), 6);
        assert_eq!(occurrences(&h, "class=\"total-bar\""), 5);
        // Totals against all 8-bit.
        assert!(
            h.contains(
                "<td>Weight bytes</td><td>30</td><td>40</td><td class=\"better\">75.0%</td>"
            ),
            "{h}"
        );
        assert!(h.contains("<td class=\"worse\">133.3%</td>"), "{h}");
        // Self-contained: no scripts, no external resources.
        assert!(!h.contains("<script") && !h.contains("http://") && !h.contains("src="));
    }

    #[test]
    fn escapes_names() {
        let h = render(&sample());
        assert!(h.contains("conv&lt;1&gt; (conv)"), "{h}");
        assert!(h.contains("tiny&lt;net&gt;"));
        assert!(h.contains("x&amp;y (8 bits)"));
        assert!(!h.contains("conv<1>") && !h.contains("tiny<net>"));
        assert_eq!(escape("a\"b'c"), "a&quot;b&#39;c");
    }

    #[test]
    fn uses_the_precision_sections_baseline_when_present() {
        let mut r = sample();
        r["precision"] = json!({
            "agreement_percent": 99.0, "all_8bit_agreement_percent": 100.0,
            "satisfied": true, "evaluations": 12,
            "all_8bit_totals": {"weight_bytes": 60, "activation_bytes": 40, "mult_cost": 9600},
        });
        let h = render(&r);
        assert!(
            h.contains(
                "<td>Weight bytes</td><td>30</td><td>60</td><td class=\"better\">50.0%</td>"
            ),
            "{h}"
        );
        assert!(h.contains("Precision search") && h.contains("12 evaluations"));
    }

    #[test]
    fn tolerates_an_empty_report() {
        let h = render(&json!({}));
        assert!(h.starts_with("<!DOCTYPE html>") && h.ends_with("</html>\n"));
    }
}
