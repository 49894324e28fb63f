//! Unit tests of the `.npy` reader and writer: round trips, every error, and malformed
//! bytes (property tests) that must give errors and never panic.

use super::*;
use proptest::prelude::*;

/// A `.npy` file with a hand-written header (version 1.0, padded like numpy's).
fn npy_with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_header(&mut out, header);
    out.extend_from_slice(data);
    out
}

fn tensor(dtype: DType, shape: &[usize], data: TensorData) -> Tensor {
    Tensor {
        dtype,
        shape: Shape(shape.to_vec()),
        data,
    }
}

fn kind(bytes: &[u8]) -> NpyErrorKind {
    read_npy(bytes).unwrap_err().kind
}

#[test]
fn round_trip_every_storage_type() {
    let cases = [
        tensor(
            DType::F32,
            &[2, 3],
            TensorData::F32(vec![0.0, -0.0, 1.5, f32::MAX, f32::MIN_POSITIVE, -7.25]),
        ),
        tensor(
            DType::I32,
            &[3],
            TensorData::I32(vec![i32::MIN, 0, i32::MAX]),
        ),
        tensor(
            DType::I16,
            &[1, 3],
            TensorData::I16(vec![i16::MIN, -1, i16::MAX]),
        ),
        tensor(DType::I8, &[2, 2], TensorData::I8(vec![-128, -1, 0, 127])),
        tensor(DType::U8, &[4], TensorData::U8(vec![0, 1, 128, 255])),
        tensor(DType::F32, &[], TensorData::F32(vec![3.0])),
        tensor(DType::F32, &[0, 3], TensorData::F32(vec![])),
        tensor(DType::I8, &[1, 1, 1, 1, 2], TensorData::I8(vec![5, -5])),
    ];
    for t in cases {
        let bytes = write_npy(&t);
        assert_eq!(
            read_npy(&bytes).unwrap(),
            t,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn nan_payload_round_trips_bitwise() {
    let t = Tensor::from_f32(vec![2], vec![f32::from_bits(0x7fc0_1234), f32::INFINITY]);
    assert_eq!(read_npy(&write_npy(&t)).unwrap(), t);
}

#[test]
fn packed_types_are_written_unpacked() {
    let t = tensor(DType::I4, &[3], TensorData::I8(vec![-8, 0, 7]));
    let back = read_npy(&write_npy(&t)).unwrap();
    assert_eq!(
        back,
        tensor(DType::I8, &[3], TensorData::I8(vec![-8, 0, 7]))
    );
    let t = tensor(DType::U4, &[2], TensorData::U8(vec![0, 15]));
    let back = read_npy(&write_npy(&t)).unwrap();
    assert_eq!(back, tensor(DType::U8, &[2], TensorData::U8(vec![0, 15])));
}

#[test]
fn header_is_numpy_style_and_padded_to_64() {
    let t = Tensor::from_f32(vec![2, 3], vec![0.0; 6]);
    let bytes = write_npy(&t);
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + len) % 64, 0);
    assert_eq!(bytes.len(), 10 + len + 24);
    let text = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
    assert!(text.ends_with(" \n"));
    for (shape, want) in [
        (&[][..], "()"),
        (&[5][..], "(5,)"),
        (&[1, 2, 3][..], "(1, 2, 3)"),
    ] {
        assert!(header_text("<f4", shape).contains(&format!("'shape': {want}")));
    }
}

#[test]
fn f8_is_rounded_to_f32() {
    let data: Vec<u8> = [0.1f64, -2.5, 1e300]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let bytes = npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
        &data,
    );
    let t = read_npy(&bytes).unwrap();
    assert_eq!(t.dtype, DType::F32);
    assert_eq!(t.as_f32().unwrap(), &[0.1f32, -2.5, f32::INFINITY]);
}

#[test]
fn i8_narrows_to_i32_when_it_fits() {
    let data: Vec<u8> = [i32::MIN as i64, -1, i32::MAX as i64]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let bytes = npy_with_header(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
        &data,
    );
    assert_eq!(
        read_npy(&bytes).unwrap(),
        tensor(
            DType::I32,
            &[3],
            TensorData::I32(vec![i32::MIN, -1, i32::MAX])
        )
    );
}

#[test]
fn i8_out_of_range_is_an_error() {
    let data: Vec<u8> = [0i64, 1 << 31]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let bytes = npy_with_header(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
        &data,
    );
    let e = read_npy(&bytes).unwrap_err();
    assert_eq!(
        e.to_string(),
        "<bytes>: int64 element 1 = 2147483648 does not fit in i32"
    );
}

#[test]
fn bools_become_u8_zero_or_one() {
    let bytes = npy_with_header(
        "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
        &[0, 1, 2],
    );
    assert_eq!(
        read_npy(&bytes).unwrap(),
        tensor(DType::U8, &[3], TensorData::U8(vec![0, 1, 1]))
    );
}

#[test]
fn other_small_types_read() {
    let h = |d: &str| format!("{{'descr': '{d}', 'fortran_order': False, 'shape': (2,), }}");
    let t = read_npy(&npy_with_header(&h("|i1"), &[0xff, 0x01])).unwrap();
    assert_eq!(t, tensor(DType::I8, &[2], TensorData::I8(vec![-1, 1])));
    let t = read_npy(&npy_with_header(&h("<i2"), &[0xff, 0xff, 0x00, 0x01])).unwrap();
    assert_eq!(t, tensor(DType::I16, &[2], TensorData::I16(vec![-1, 256])));
    let t = read_npy(&npy_with_header(&h("|u1"), &[200, 3])).unwrap();
    assert_eq!(t, tensor(DType::U8, &[2], TensorData::U8(vec![200, 3])));
}

#[test]
fn header_variants_numpy_may_write() {
    // Keys in another order, double quotes, Python 2 longs, no trailing comma.
    let bytes = npy_with_header(
        "{\"shape\": (1L, 2L), \"fortran_order\": False, \"descr\": \"<f4\"}",
        &[0; 8],
    );
    let t = read_npy(&bytes).unwrap();
    assert_eq!(t.shape, Shape(vec![1, 2]));
}

#[test]
fn version_2_and_3_headers_read() {
    let good = write_npy(&Tensor::from_f32(vec![1], vec![2.0]));
    let len = u16::from_le_bytes([good[8], good[9]]) as u32;
    for major in [2u8, 3] {
        let mut b = b"\x93NUMPY".to_vec();
        b.extend_from_slice(&[major, 0]);
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&good[10..]);
        let t = read_npy(&b).unwrap();
        assert_eq!(t.as_f32().unwrap(), &[2.0]);
    }
}

#[test]
fn fortran_order_is_a_clear_error() {
    let bytes = npy_with_header(
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
        &[0; 16],
    );
    let e = read_npy(&bytes).unwrap_err();
    assert!(matches!(e.kind, NpyErrorKind::FortranOrder));
    assert!(
        e.to_string()
            .contains("fortran_order arrays are not supported"),
        "{e}"
    );
}

#[test]
fn unsupported_dtypes_name_the_dtype() {
    for descr in ["'>f4'", "'<f2'", "'<u4'", "'<c8'", "'|O'", "[('a', '<f4')]"] {
        let h = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (1,), }}");
        let e = read_npy(&npy_with_header(&h, &[0; 8])).unwrap_err();
        assert!(
            matches!(e.kind, NpyErrorKind::UnsupportedDtype(_)),
            "{descr}: {e}"
        );
        let shown = descr.trim_matches('\'');
        assert!(e.to_string().contains(shown), "{descr}: {e}");
    }
}

#[test]
fn bad_magic_and_version() {
    assert!(matches!(
        kind(b"PK\x03\x04 not npy"),
        NpyErrorKind::BadMagic
    ));
    assert!(matches!(kind(b""), NpyErrorKind::Truncated { .. }));
    assert!(matches!(kind(b"\x93NUM"), NpyErrorKind::Truncated { .. }));
    let mut b = write_npy(&Tensor::from_f32(vec![1], vec![0.0]));
    b[6] = 4;
    assert!(matches!(
        kind(&b),
        NpyErrorKind::UnsupportedVersion { major: 4, minor: 0 }
    ));
}

#[test]
fn header_too_long() {
    let mut b = b"\x93NUMPY\x02\x00".to_vec();
    b.extend_from_slice(&(1u32 << 30).to_le_bytes());
    let e = read_npy(&b).unwrap_err();
    assert_eq!(
        e.to_string(),
        "<bytes>: header too long (1073741824 bytes, at most 10000)"
    );
}

#[test]
fn truncated_and_oversized_data() {
    let full = write_npy(&Tensor::from_f32(vec![2, 2], vec![1.0; 4]));
    let e = read_npy(&full[..full.len() - 1]).unwrap_err();
    assert!(
        matches!(e.kind, NpyErrorKind::Truncated { expected, found } if expected == full.len() && found == full.len() - 1),
        "{e}"
    );
    let mut longer = full.clone();
    longer.push(0);
    let e = read_npy(&longer).unwrap_err();
    assert_eq!(
        e.to_string(),
        "<bytes>: shape [2, 2] needs 16 data bytes, found 17"
    );
}

#[test]
fn element_count_overflow_is_checked_before_allocating() {
    let big = usize::MAX / 2 + 1;
    let h = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({big}, 4), }}");
    assert!(matches!(
        kind(&npy_with_header(&h, &[])),
        NpyErrorKind::Overflow(_)
    ));
    // Fits in usize but not in bytes (times the item size).
    let h = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({big},), }}");
    assert!(matches!(
        kind(&npy_with_header(&h, &[])),
        NpyErrorKind::Overflow(_)
    ));
    // Huge but representable: truncation, with no allocation of the declared size.
    let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000), }";
    assert!(matches!(
        kind(&npy_with_header(h, &[])),
        NpyErrorKind::Truncated { .. }
    ));
    let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }";
    assert!(matches!(
        kind(&npy_with_header(h, &[])),
        NpyErrorKind::BadHeader(_)
    ));
}

#[test]
fn malformed_headers_are_errors() {
    let cases = [
        "",
        "{",
        "[]",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'shape': (1,)}",
        "{'fortran_order': False, 'shape': (1,)}",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': ('a',)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '<f4', 'fortran_order': Nope, 'shape': (1,)}",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing",
        "{'descr': 'a\\'b', 'fortran_order': False, 'shape': (1,)}",
        &format!(
            "{{'descr': {}'<f4'{}, 'fortran_order': False, 'shape': (1,)}}",
            "[".repeat(40),
            "]".repeat(40)
        ),
    ];
    for h in cases {
        let e = read_npy(&npy_with_header(h, &[0; 4])).unwrap_err();
        assert!(
            matches!(
                e.kind,
                NpyErrorKind::BadHeader(_) | NpyErrorKind::UnsupportedDtype(_)
            ),
            "{h}: {e}"
        );
    }
    let mut b = npy_with_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
        &[0; 4],
    );
    b[20] = 0xff;
    assert!(matches!(kind(&b), NpyErrorKind::BadHeader(_)));
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calib.npy");
    std::fs::write(&path, b"garbage!").unwrap();
    let e = read_npy_file(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: not a .npy file (bad magic bytes)", path.display())
    );
    let missing = dir.path().join("missing.npy");
    let e = read_npy_file(&missing).unwrap_err();
    assert!(matches!(e.kind, NpyErrorKind::Io(_)));
    assert!(e.to_string().starts_with(&missing.display().to_string()));
}

#[test]
fn file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    let t = tensor(DType::I16, &[2], TensorData::I16(vec![-3, 4]));
    write_npy_file(&path, &t).unwrap();
    assert_eq!(read_npy_file(&path).unwrap(), t);
}

#[test]
fn stream_reader_matches_whole_file_reader() {
    let t = Tensor::from_f32(vec![3, 1], vec![1.0, 2.0, 3.0]);
    let bytes = write_npy(&t);
    assert_eq!(read_npy_stream(&mut &bytes[..]).unwrap(), t);
    for cut in 0..bytes.len() {
        let e = read_npy_stream(&mut &bytes[..cut]).unwrap_err();
        assert!(
            matches!(e, NpyErrorKind::Truncated { .. }),
            "cut {cut}: {e}"
        );
    }
}

fn arb_tensor() -> impl Strategy<Value = Tensor> {
    let shape = prop::collection::vec(0usize..4, 0..4);
    (shape, 0u8..5, any::<u64>()).prop_map(|(shape, kind, seed)| {
        let n: usize = shape.iter().product();
        let mut x = seed;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 32) as u32
        };
        let (dtype, data) = match kind {
            0 => (
                DType::F32,
                TensorData::F32((0..n).map(|_| f32::from_bits(next())).collect()),
            ),
            1 => (
                DType::I32,
                TensorData::I32((0..n).map(|_| next() as i32).collect()),
            ),
            2 => (
                DType::I16,
                TensorData::I16((0..n).map(|_| next() as i16).collect()),
            ),
            3 => (
                DType::I8,
                TensorData::I8((0..n).map(|_| next() as i8).collect()),
            ),
            _ => (
                DType::U8,
                TensorData::U8((0..n).map(|_| next() as u8).collect()),
            ),
        };
        tensor(dtype, &shape, data)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn write_then_read_is_identity(t in arb_tensor()) {
        prop_assert_eq!(read_npy(&write_npy(&t)).unwrap(), t);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = read_npy(&bytes);
        let _ = read_npy_stream(&mut &bytes[..]);
    }

    #[test]
    fn random_bytes_after_magic_never_panic(
        version in 0u8..4,
        rest in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = b"\x93NUMPY".to_vec();
        bytes.push(version);
        bytes.push(0);
        bytes.extend_from_slice(&rest);
        let _ = read_npy(&bytes);
    }

    #[test]
    fn truncated_files_are_errors(t in arb_tensor(), cut in any::<prop::sample::Index>()) {
        let bytes = write_npy(&t);
        let cut = cut.index(bytes.len());
        let e = read_npy(&bytes[..cut]).unwrap_err();
        let is_truncated = matches!(e.kind, NpyErrorKind::Truncated { .. });
        prop_assert!(is_truncated, "{}", e);
    }

    #[test]
    fn mutated_files_never_panic(
        t in arb_tensor(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = write_npy(&t);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let _ = read_npy(&bytes);
        let _ = read_npy_stream(&mut &bytes[..]);
    }
}
