//! Reading `.npy`/`.npz` files written by numpy itself, and writing the same bytes numpy
//! writes.
//!
//! The fixtures under `tests/fixtures/npy/` were made with numpy 2.4.6 by
//! `python3 compiler/tests/fixtures/gen_npy_fixtures.py` (run from the repository root);
//! they are committed, so these tests need no Python.

use std::path::PathBuf;

use compiler::npy::{NpyErrorKind, read_npy_file, write_npy};
use compiler::npz::{read_npz_file, write_npz};
use ir::{DType, Shape, Tensor, TensorData};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npy")
        .join(name)
}

fn tensor(dtype: DType, shape: &[usize], data: TensorData) -> Tensor {
    Tensor {
        dtype,
        shape: Shape(shape.to_vec()),
        data,
    }
}

fn f4_2x3() -> Tensor {
    Tensor::from_f32(vec![2, 3], vec![-1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
}

fn npz_input() -> Tensor {
    Tensor::from_f32(vec![2, 3, 2, 2], (0..24).map(|i| i as f32 / 8.0).collect())
}

fn npz_mask() -> Tensor {
    tensor(DType::U8, &[2, 2], TensorData::U8(vec![1, 0, 0, 1]))
}

/// Each supported numpy dtype, and what it reads as.
fn readable() -> Vec<(&'static str, Tensor)> {
    vec![
        ("f4_2x3.npy", f4_2x3()),
        (
            "f8_3.npy",
            Tensor::from_f32(vec![3], vec![0.1f64 as f32, -2.5, 1e10f64 as f32]),
        ),
        (
            "u1_4.npy",
            tensor(DType::U8, &[4], TensorData::U8(vec![0, 1, 128, 255])),
        ),
        (
            "i1_4.npy",
            tensor(DType::I8, &[4], TensorData::I8(vec![-128, -1, 0, 127])),
        ),
        (
            "i2_2x2.npy",
            tensor(
                DType::I16,
                &[2, 2],
                TensorData::I16(vec![-32768, -1, 256, 32767]),
            ),
        ),
        (
            "i4_3.npy",
            tensor(
                DType::I32,
                &[3],
                TensorData::I32(vec![i32::MIN, 0, i32::MAX]),
            ),
        ),
        (
            "i8_fits_3.npy",
            tensor(
                DType::I32,
                &[3],
                TensorData::I32(vec![i32::MIN, 7, i32::MAX]),
            ),
        ),
        (
            "b1_3.npy",
            tensor(DType::U8, &[3], TensorData::U8(vec![1, 0, 1])),
        ),
        (
            "f4_scalar.npy",
            Tensor::from_f32(Vec::<usize>::new(), vec![3.5]),
        ),
        ("f4_empty_0x3.npy", Tensor::from_f32(vec![0, 3], vec![])),
        (
            "f4_1x2x1x2.npy",
            Tensor::from_f32(vec![1, 2, 1, 2], vec![1.0, 2.0, 3.0, 4.0]),
        ),
    ]
}

#[test]
fn reads_every_supported_numpy_dtype() {
    for (name, want) in readable() {
        assert_eq!(read_npy_file(&fixture(name)).unwrap(), want, "{name}");
    }
}

#[test]
fn writes_the_bytes_numpy_writes() {
    // Types whose read-back tensor is written with the same descr numpy used.
    for name in [
        "f4_2x3.npy",
        "u1_4.npy",
        "i1_4.npy",
        "i2_2x2.npy",
        "i4_3.npy",
        "f4_scalar.npy",
        "f4_empty_0x3.npy",
        "f4_1x2x1x2.npy",
    ] {
        let path = fixture(name);
        let numpy_bytes = std::fs::read(&path).unwrap();
        let ours = write_npy(&read_npy_file(&path).unwrap());
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&numpy_bytes),
            "{name}"
        );
        assert_eq!(ours, numpy_bytes, "{name}");
    }
}

#[test]
fn unsupported_numpy_files_give_clear_errors() {
    let e = read_npy_file(&fixture("f4_fortran_2x3.npy")).unwrap_err();
    assert!(matches!(e.kind, NpyErrorKind::FortranOrder), "{e}");
    assert!(
        e.to_string().contains("f4_fortran_2x3.npy: fortran_order"),
        "{e}"
    );

    let e = read_npy_file(&fixture("f4_big_endian_2.npy")).unwrap_err();
    assert!(e.to_string().contains("unsupported dtype >f4"), "{e}");

    let e = read_npy_file(&fixture("f2_2.npy")).unwrap_err();
    assert!(e.to_string().contains("unsupported dtype <f2"), "{e}");

    let e = read_npy_file(&fixture("i8_too_big_2.npy")).unwrap_err();
    assert!(
        matches!(e.kind, NpyErrorKind::IntOutOfRange { index: 1, value } if value == 1 << 40),
        "{e}"
    );
}

#[test]
fn reads_savez_and_savez_compressed() {
    let want = vec![
        ("input".to_string(), npz_input()),
        ("mask".to_string(), npz_mask()),
    ];
    assert_eq!(read_npz_file(&fixture("savez.npz")).unwrap(), want);
    assert_eq!(
        read_npz_file(&fixture("savez_compressed.npz")).unwrap(),
        want
    );
}

#[test]
fn reads_positional_savez_keys_in_order() {
    let got = read_npz_file(&fixture("savez_positional.npz")).unwrap();
    let want = vec![
        ("arr_0".to_string(), npz_input()),
        ("arr_1".to_string(), f4_2x3()),
    ];
    assert_eq!(got, want);
}

#[test]
fn our_npz_reads_back_like_numpys() {
    let numpy = read_npz_file(&fixture("savez.npz")).unwrap();
    let ours = write_npz(&numpy).unwrap();
    assert_eq!(compiler::npz::read_npz(&ours).unwrap(), numpy);
}

#[test]
fn npz_errors_name_the_file() {
    let e = read_npz_file(&fixture("f4_2x3.npy")).unwrap_err();
    assert!(matches!(e.kind, NpyErrorKind::Zip(_)), "{e}");
    assert!(
        e.to_string().contains("f4_2x3.npy: bad .npz archive"),
        "{e}"
    );
}
