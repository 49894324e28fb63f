//! Sample batches: how `.npy`/`.npz` files map onto a model's inputs and outputs.
//!
//! The first axis of every array counts samples and takes the place of the model's batch
//! axis, which is 1: an `(S, C, H, W)` file is `S` runs of a `(1, C, H, W)` input. A model
//! input without a leading batch axis of 1 takes `(S, ..dims)` files. Outputs stack the `S`
//! results the same way.

use ir::{Graph, Shape, Tensor, TensorData};

/// A problem matching user arrays to the model.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// An array does not fit the model input's shape.
    #[error(
        "input `{input}` has shape {model} in the model, but the array has shape {array}; expected (S, {rest}) with S samples"
    )]
    Shape {
        /// The input's name.
        input: String,
        /// The model's shape.
        model: Shape,
        /// The array's shape.
        array: Shape,
        /// The expected shape after the sample axis.
        rest: String,
    },
    /// Arrays disagree on the number of samples.
    #[error("input `{input}` has {got} samples but `{first}` has {want}")]
    Count {
        /// The input with the odd count.
        input: String,
        /// Its count.
        got: usize,
        /// The first input's name.
        first: String,
        /// The first input's count.
        want: usize,
    },
    /// The element type is not the model's.
    #[error("input `{input}` must be float32, but the array holds {dtype}")]
    DType {
        /// The input's name.
        input: String,
        /// The array's element type.
        dtype: ir::DType,
    },
    /// An input is missing from the `.npz` file.
    #[error("no array named `{input}` in the file; it holds: {have}")]
    Missing {
        /// The missing input.
        input: String,
        /// The names present.
        have: String,
    },
    /// A `.npy` file was given for a model with several inputs.
    #[error("the model has {0} inputs; pass an .npz file keyed by input name")]
    NeedNpz(usize),
    /// The file holds no samples.
    #[error("the input file holds zero samples")]
    Empty,
}

/// The dims of one sample of a model value: its dims without a leading batch 1.
fn per_sample_dims(model: &Shape) -> &[usize] {
    match model.dims().first() {
        Some(1) => &model.dims()[1..],
        _ => model.dims(),
    }
}

/// Splits user arrays (one per model input, in `g.inputs` order) into per-sample inputs.
pub fn split_samples(g: &Graph, arrays: &[Tensor]) -> Result<Vec<Vec<Tensor>>, SampleError> {
    let mut count: Option<(usize, String)> = None;
    let mut per_input = Vec::new();
    for (&v, a) in g.inputs.iter().zip(arrays) {
        let name = g.value(v).name.clone().unwrap_or_default();
        let model = &g.ty(v).shape;
        let rest = per_sample_dims(model);
        let ad = a.shape.dims();
        let ok = !ad.is_empty() && &ad[1..] == rest;
        if !ok {
            return Err(SampleError::Shape {
                input: name,
                model: model.clone(),
                array: a.shape.clone(),
                rest: rest
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let TensorData::F32(data) = &a.data else {
            return Err(SampleError::DType {
                input: name,
                dtype: a.dtype,
            });
        };
        let s = ad[0];
        match &count {
            Some((want, first)) if *want != s => {
                return Err(SampleError::Count {
                    input: name,
                    got: s,
                    first: first.clone(),
                    want: *want,
                });
            }
            Some(_) => {}
            None => count = Some((s, name)),
        }
        let n = model.numel();
        per_input.push(
            data.chunks(n.max(1))
                .take(s)
                .map(|c| Tensor::from_f32(model.clone(), c.to_vec()))
                .collect::<Vec<_>>(),
        );
    }
    let s = count.map(|c| c.0).unwrap_or(0);
    if s == 0 {
        return Err(SampleError::Empty);
    }
    Ok((0..s)
        .map(|i| per_input.iter().map(|v| v[i].clone()).collect())
        .collect())
}

/// Stacks per-sample outputs (each in `g.outputs` order) into one array per output.
pub fn stack_samples(g: &Graph, results: &[Vec<Tensor>]) -> Vec<(String, Tensor)> {
    g.outputs
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let name = g
                .value(v)
                .name
                .clone()
                .unwrap_or_else(|| format!("output_{k}"));
            let mut dims = vec![results.len()];
            dims.extend_from_slice(per_sample_dims(&g.ty(v).shape));
            let mut data = Vec::new();
            for r in results {
                data.extend_from_slice(r[k].as_f32().unwrap_or(&[]));
            }
            (name, Tensor::from_f32(dims, data))
        })
        .collect()
}
