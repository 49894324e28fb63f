//! Reading and writing NumPy `.npz` archives: a zip of `.npy` members named `<key>.npy`.
//!
//! `np.savez` stores members, `np.savez_compressed` deflates them; both read back here, in
//! archive order, keyed by the member name without its `.npy` extension. The writer stores
//! members (no compression) with fixed timestamps and permissions, so the same arrays always
//! give the same bytes.
//!
//! Every member is read through [`crate::npy`]'s stream reader, which reads exactly the bytes
//! the member's header declares: a member whose deflated stream expands beyond its header's
//! size is an error, not an allocation.

use std::io::{Cursor, Read, Seek, Write};
use std::path::Path;

use ir::Tensor;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::npy::{NpyError, NpyErrorKind, read_npy_stream, write_npy};

/// Reads every array of an `.npz` file, in archive order.
pub fn read_npz_file(path: &Path) -> Result<Vec<(String, Tensor)>, NpyError> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| NpyError::new(&origin, e.into()))?;
    read_npz_from(std::io::BufReader::new(file), &origin)
}

/// Reads every array of an `.npz` archive held in memory, in archive order.
pub fn read_npz(bytes: &[u8]) -> Result<Vec<(String, Tensor)>, NpyError> {
    read_npz_from(Cursor::new(bytes), "<bytes>")
}

/// Writes arrays to an `.npz` file (see [`write_npz`]).
pub fn write_npz_file(path: &Path, arrays: &[(String, Tensor)]) -> Result<(), NpyError> {
    let origin = path.display().to_string();
    let bytes = write_npz(arrays).map_err(|e| NpyError::new(&origin, e.kind))?;
    std::fs::write(path, bytes).map_err(|e| NpyError::new(origin, e.into()))
}

/// Serializes arrays as an `.npz` archive: one stored `<name>.npy` member per array, in the
/// given order, with a fixed timestamp (1980-01-01) and permissions, so equal inputs give
/// equal bytes.
pub fn write_npz(arrays: &[(String, Tensor)]) -> Result<Vec<u8>, NpyError> {
    let origin = "<bytes>";
    for (i, (name, _)) in arrays.iter().enumerate() {
        if arrays[..i].iter().any(|(other, _)| other == name) {
            return Err(NpyError::new(
                origin,
                NpyErrorKind::DuplicateName(name.clone()),
            ));
        }
    }
    write_members(Cursor::new(Vec::new()), arrays)
        .map(Cursor::into_inner)
        .map_err(|kind| NpyError::new(origin, kind))
}

fn write_members<W: Write + Seek>(out: W, arrays: &[(String, Tensor)]) -> Result<W, NpyErrorKind> {
    let mut zip = ZipWriter::new(out);
    for (name, tensor) in arrays {
        let bytes = write_npy(tensor);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644)
            .large_file(bytes.len() as u64 >= u32::MAX as u64);
        zip.start_file(format!("{name}.npy"), options)
            .map_err(zip_error)?;
        zip.write_all(&bytes)?;
    }
    zip.finish().map_err(zip_error)
}

fn read_npz_from<R: Read + Seek>(
    reader: R,
    origin: &str,
) -> Result<Vec<(String, Tensor)>, NpyError> {
    let err = |kind| NpyError::new(origin, kind);
    let mut archive = ZipArchive::new(reader).map_err(|e| err(zip_error(e)))?;
    let mut out: Vec<(String, Tensor)> = Vec::with_capacity(archive.len().min(1024));
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).map_err(|e| err(zip_error(e)))?;
        let member_name = member.name().to_string();
        let Some(key) = member_name.strip_suffix(".npy") else {
            return Err(err(NpyErrorKind::NotNpyMember(member_name)));
        };
        if out.iter().any(|(k, _)| k == key) {
            return Err(err(NpyErrorKind::DuplicateName(key.to_string())));
        }
        let tensor = read_npy_stream(&mut member)
            .map_err(|kind| NpyError::new(format!("{origin}: member {member_name}"), kind))?;
        out.push((key.to_string(), tensor));
    }
    Ok(out)
}

/// A zip error as a kind (I/O errors stay I/O errors).
fn zip_error(e: zip::result::ZipError) -> NpyErrorKind {
    match e {
        zip::result::ZipError::Io(io) => NpyErrorKind::Io(io),
        other => NpyErrorKind::Zip(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{DType, Shape, TensorData};

    fn f32_tensor(shape: &[usize]) -> Tensor {
        let n = shape.iter().product::<usize>();
        Tensor::from_f32(
            shape.to_vec(),
            (0..n).map(|i| i as f32 * 0.5 - 1.0).collect(),
        )
    }

    fn arrays() -> Vec<(String, Tensor)> {
        vec![
            ("input".to_string(), f32_tensor(&[2, 3])),
            (
                "mask".to_string(),
                Tensor {
                    dtype: DType::U8,
                    shape: Shape(vec![4]),
                    data: TensorData::U8(vec![0, 1, 255, 7]),
                },
            ),
            ("scalar".to_string(), f32_tensor(&[])),
        ]
    }

    #[test]
    fn round_trip_keeps_order_and_values() {
        let bytes = write_npz(&arrays()).unwrap();
        assert_eq!(read_npz(&bytes).unwrap(), arrays());
    }

    #[test]
    fn bytes_are_deterministic() {
        assert_eq!(write_npz(&arrays()).unwrap(), write_npz(&arrays()).unwrap());
    }

    #[test]
    fn file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.npz");
        write_npz_file(&path, &arrays()).unwrap();
        assert_eq!(read_npz_file(&path).unwrap(), arrays());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes, write_npz(&arrays()).unwrap());
    }

    #[test]
    fn empty_archive_reads_as_no_arrays() {
        let bytes = write_npz(&[]).unwrap();
        assert!(read_npz(&bytes).unwrap().is_empty());
    }

    #[test]
    fn duplicate_names_are_rejected_on_write() {
        let a = vec![
            ("x".to_string(), f32_tensor(&[1])),
            ("x".to_string(), f32_tensor(&[2])),
        ];
        let e = write_npz(&a).unwrap_err();
        assert!(
            matches!(e.kind, NpyErrorKind::DuplicateName(ref n) if n == "x"),
            "{e}"
        );
    }

    #[test]
    fn member_without_npy_extension_is_an_error() {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("readme.txt", SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"hello").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let e = read_npz(&bytes).unwrap_err();
        assert_eq!(
            e.to_string(),
            "<bytes>: archive member \"readme.txt\" is not a .npy file"
        );
    }

    #[test]
    fn bad_member_error_names_the_member() {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("x.npy", SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"not npy at all").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let e = read_npz(&bytes).unwrap_err();
        assert_eq!(
            e.to_string(),
            "<bytes>: member x.npy: not a .npy file (bad magic bytes)"
        );
    }

    #[test]
    fn member_longer_than_its_header_is_an_error() {
        let mut npy = write_npy(&f32_tensor(&[2]));
        npy.extend_from_slice(&[0; 5]);
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(
            "x.npy",
            SimpleFileOptions::default().compression_method(CompressionMethod::Deflated),
        )
        .unwrap();
        zip.write_all(&npy).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let e = read_npz(&bytes).unwrap_err();
        assert!(
            matches!(
                e.kind,
                NpyErrorKind::SizeMismatch {
                    expected: 8,
                    found: 13,
                    ..
                }
            ),
            "{e}"
        );
    }

    fn deflated(arrays: &[(String, Tensor)]) -> Vec<u8> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, t) in arrays {
            let options =
                SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
            zip.start_file(format!("{name}.npy"), options).unwrap();
            zip.write_all(&write_npy(t)).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn deflated_members_read() {
        assert_eq!(read_npz(&deflated(&arrays())).unwrap(), arrays());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = read_npz(&bytes);
        }

        #[test]
        fn truncated_archives_are_errors(cut in proptest::prelude::any::<proptest::sample::Index>(), compress in proptest::prelude::any::<bool>()) {
            let bytes = if compress { deflated(&arrays()) } else { write_npz(&arrays()).unwrap() };
            let cut = cut.index(bytes.len());
            proptest::prop_assert!(read_npz(&bytes[..cut]).is_err());
        }

        #[test]
        fn mutated_archives_never_panic(
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 1..8),
            compress in proptest::prelude::any::<bool>(),
        ) {
            let mut bytes = if compress { deflated(&arrays()) } else { write_npz(&arrays()).unwrap() };
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            let _ = read_npz(&bytes);
        }
    }

    #[test]
    fn not_a_zip_is_an_error() {
        let e = read_npz(b"definitely not a zip archive").unwrap_err();
        assert!(matches!(e.kind, NpyErrorKind::Zip(_)), "{e}");
    }
}
