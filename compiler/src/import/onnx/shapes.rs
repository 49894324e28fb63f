//! ONNX shape arithmetic shared by the constant evaluator and the IR converters: axis
//! normalization, Reshape/Flatten/Squeeze/Unsqueeze target shapes, Slice clamping, and
//! broadcast index maps. Errors are lowercase messages; callers attach the node.

/// `axis` in `[-rank, rank)` to `[0, rank)`.
pub(crate) fn norm_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    if axis < -r || axis >= r {
        return Err(format!("axis {axis} is out of range for rank {rank}"));
    }
    Ok(if axis < 0 { axis + r } else { axis } as usize)
}

/// Sorted, deduplicated-checked axes.
pub(crate) fn norm_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>, String> {
    let mut out = axes
        .iter()
        .map(|&a| norm_axis(a, rank))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    if out.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!("axes {axes:?} repeat an axis"));
    }
    Ok(out)
}

/// ONNX Reshape: `0` copies the input dim (unless `allowzero`), one `-1` is inferred.
pub(crate) fn reshape_dims(
    input: &[usize],
    target: &[i64],
    allowzero: bool,
) -> Result<Vec<usize>, String> {
    let numel: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 => {
                if infer_at.replace(i).is_some() {
                    return Err("shape has more than one -1".into());
                }
                out.push(1);
            }
            0 if !allowzero => out.push(*input.get(i).ok_or_else(|| {
                format!(
                    "shape entry {i} is 0 but the input has rank {}",
                    input.len()
                )
            })?),
            t if t >= 0 => out.push(t as usize),
            t => return Err(format!("shape entry {t} is negative")),
        }
    }
    let known = out
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape overflows")?;
    if let Some(i) = infer_at {
        if known == 0 || !numel.is_multiple_of(known) {
            return Err(format!(
                "cannot infer -1: {numel} elements do not divide into {known}"
            ));
        }
        out[i] = numel / known;
    } else if known != numel {
        return Err(format!(
            "cannot reshape {input:?} ({numel} elements) to {out:?} ({known} elements)"
        ));
    }
    Ok(out)
}

/// ONNX Flatten to 2-d at `axis`.
pub(crate) fn flatten_dims(input: &[usize], axis: i64) -> Result<Vec<usize>, String> {
    let r = input.len() as i64;
    if axis < -r || axis > r {
        return Err(format!("axis {axis} is out of range for rank {r}"));
    }
    let a = if axis < 0 { axis + r } else { axis } as usize;
    Ok(vec![
        input[..a].iter().product(),
        input[a..].iter().product(),
    ])
}

/// ONNX Squeeze: the listed axes (which must be 1), or every 1 when `axes` is `None`.
pub(crate) fn squeeze_dims(input: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>, String> {
    match axes {
        None => Ok(input.iter().copied().filter(|&d| d != 1).collect()),
        Some(axes) => {
            let axes = norm_axes(axes, input.len())?;
            if let Some(&a) = axes.iter().find(|&&a| input[a] != 1) {
                return Err(format!("cannot squeeze axis {a} of size {}", input[a]));
            }
            Ok(input
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &d)| d)
                .collect())
        }
    }
}

/// ONNX Unsqueeze: axes index the output.
pub(crate) fn unsqueeze_dims(input: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
    let r = input.len() + axes.len();
    let axes = norm_axes(axes, r)?;
    let mut src = input.iter();
    Ok((0..r)
        .map(|i| {
            if axes.contains(&i) {
                1
            } else {
                *src.next().unwrap_or(&1)
            }
        })
        .collect())
}

/// A normalized slice: per dim first index, step and output size.
#[derive(Clone, PartialEq, Debug)]
pub(crate) struct SlicePlan {
    pub starts: Vec<usize>,
    pub steps: Vec<i64>,
    pub sizes: Vec<usize>,
}

/// ONNX Slice clamping rules for `starts/ends/axes/steps` on `input`.
pub(crate) fn slice_plan(
    input: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<SlicePlan, String> {
    let r = input.len();
    let mut plan = SlicePlan {
        starts: vec![0; r],
        steps: vec![1; r],
        sizes: input.to_vec(),
    };
    if starts.len() != ends.len() {
        return Err(format!(
            "starts has {} entries but ends has {}",
            starts.len(),
            ends.len()
        ));
    }
    let default_axes: Vec<i64> = (0..starts.len() as i64).collect();
    let axes = axes.unwrap_or(&default_axes);
    if axes.len() != starts.len() {
        return Err(format!(
            "axes has {} entries, starts {}",
            axes.len(),
            starts.len()
        ));
    }
    if let Some(s) = steps
        && s.len() != starts.len()
    {
        return Err(format!(
            "steps has {} entries, starts {}",
            s.len(),
            starts.len()
        ));
    }
    norm_axes(axes, r)?;
    for (k, &a) in axes.iter().enumerate() {
        let a = norm_axis(a, r)?;
        let d = input[a] as i64;
        let step = steps.map_or(1, |s| s[k]);
        if step == 0 {
            return Err("slice step is 0".into());
        }
        let mut s = starts[k];
        let mut e = ends[k];
        if s < 0 {
            s = s.saturating_add(d);
        }
        if e < 0 {
            e = e.saturating_add(d);
        }
        // i128 so that extreme steps (i64::MIN, i64::MAX) cannot overflow.
        let (s, n) = if step > 0 {
            let s = s.clamp(0, d);
            let e = e.clamp(0, d);
            let n = (e as i128 - s as i128).max(0) as u128;
            (s, n.div_ceil(step as u128) as i64)
        } else {
            let s = s.clamp(0, (d - 1).max(0));
            let e = e.clamp(-1, d - 1);
            let n = (s as i128 - e as i128).max(0) as u128;
            (s, n.div_ceil(step.unsigned_abs() as u128) as i64)
        };
        plan.starts[a] = if n == 0 || d == 0 { 0 } else { s as usize };
        plan.steps[a] = step;
        plan.sizes[a] = n as usize;
    }
    Ok(plan)
}

/// For each element of `out` (row-major), the index of the element of a tensor of shape
/// `inp` that broadcasts to it.
pub(crate) fn bcast_index(inp: &[usize], out: &[usize]) -> Vec<usize> {
    let r = out.len();
    let off = r - inp.len();
    let mut strides = vec![0usize; r];
    let mut acc = 1;
    for i in (0..inp.len()).rev() {
        strides[off + i] = if inp[i] == 1 { 0 } else { acc };
        acc *= inp[i];
    }
    let n: usize = out.iter().product();
    let mut idx = vec![0usize; r];
    let mut res = Vec::with_capacity(n);
    for _ in 0..n {
        res.push(idx.iter().zip(&strides).map(|(i, s)| i * s).sum());
        for d in (0..r).rev() {
            idx[d] += 1;
            if idx[d] < out[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_rules() {
        assert_eq!(reshape_dims(&[2, 3, 4], &[0, -1], false).unwrap(), [2, 12]);
        assert_eq!(
            reshape_dims(&[2, 3, 4], &[4, 0, 2], false).unwrap(),
            [4, 3, 2]
        );
        assert_eq!(reshape_dims(&[0, 3], &[0, 3], true).unwrap(), [0, 3]);
        assert!(reshape_dims(&[2, 3], &[-1, -1], false).is_err());
        assert!(reshape_dims(&[2, 3], &[4, -1], false).is_err());
        assert!(reshape_dims(&[2, 3], &[7], false).is_err());
    }

    #[test]
    fn squeeze_unsqueeze_flatten() {
        assert_eq!(squeeze_dims(&[1, 3, 1], None).unwrap(), [3]);
        assert_eq!(squeeze_dims(&[1, 3, 1], Some(&[-1])).unwrap(), [1, 3]);
        assert!(squeeze_dims(&[1, 3, 1], Some(&[1])).is_err());
        assert_eq!(unsqueeze_dims(&[3, 4], &[0, -1]).unwrap(), [1, 3, 4, 1]);
        assert_eq!(flatten_dims(&[2, 3, 4], 1).unwrap(), [2, 12]);
        assert_eq!(flatten_dims(&[2, 3, 4], 0).unwrap(), [1, 24]);
    }

    #[test]
    fn slice_clamping() {
        let p = slice_plan(&[10], &[-3], &[i64::MAX], None, None).unwrap();
        assert_eq!((p.starts[0], p.sizes[0]), (7, 3));
        let p = slice_plan(&[10], &[i64::MAX], &[i64::MIN], None, Some(&[-2])).unwrap();
        assert_eq!((p.starts[0], p.steps[0], p.sizes[0]), (9, -2, 5));
        let p = slice_plan(&[4, 6], &[1], &[5], Some(&[-1]), Some(&[2])).unwrap();
        assert_eq!(p.sizes, [4, 2]);
        assert_eq!(p.starts, [0, 1]);
        let p = slice_plan(&[4], &[3], &[1], None, None).unwrap();
        assert_eq!(p.sizes, [0]);
        let p = slice_plan(&[5], &[0], &[5], None, Some(&[i64::MAX])).unwrap();
        assert_eq!(p.sizes, [1]);
        let p = slice_plan(&[5], &[-1], &[i64::MIN], None, Some(&[i64::MIN])).unwrap();
        assert_eq!((p.starts[0], p.sizes[0]), (4, 1));
    }

    #[test]
    fn broadcast_index_map() {
        assert_eq!(bcast_index(&[3], &[2, 3]), [0, 1, 2, 0, 1, 2]);
        assert_eq!(bcast_index(&[2, 1], &[2, 3]), [0, 0, 0, 1, 1, 1]);
    }
}
