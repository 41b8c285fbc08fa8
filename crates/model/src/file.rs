//! The model file: a fixed header, then a payload of aligned sections that loading maps
//! rather than copies.
//!
//! ```text
//! header:  magic "SONGRECM" | format version u32 | reserved u32 | payload length u64
//!          | SHA-256(payload)
//! payload: k u64 | info length u64 | section count u64
//!          | count x (tag [u8; 8], file offset u64, byte length u64)
//!          | info JSON | sections, each at a file offset that is a multiple of 8
//! ```
//!
//! Every section is one column of `table::Tables`, little-endian. Loading maps the file,
//! checks one SHA-256 (the whole file's against a registry's record when the caller has one,
//! else the payload's against the header), then validates every cross-reference and checks the
//! string pool's UTF-8 once, so that serving reads strings without checking each. The pages it
//! reads to do so are dropped from the process again as it goes, so loading a model next to
//! the one being served does not hold two models in memory; serving then maps in only the
//! pages requests touch.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;
use sha2::{Digest, Sha256};

use crate::column::Column;
use crate::table::{self, SectionSource, Tables, Tag};
use crate::{Model, ModelError, ModelInfo};

#[cfg(target_endian = "big")]
compile_error!("the model file is little-endian and mapped as is");

const MAGIC: &[u8; 8] = b"SONGRECM";
/// Bumped whenever the payload layout changes; older files are refused, not misread.
/// 2: mapped sections with every per-song detail the API shows.
pub const FORMAT_VERSION: u32 = 2;
const HEADER_LEN: u64 = 8 + 4 + 4 + 8 + 32;
/// k, info length, section count.
const PREAMBLE_LEN: u64 = 24;
/// Tag, offset, length.
const ENTRY_LEN: u64 = 24;
const CHUNK: usize = 1 << 20;
/// Bytes hashed between two releases of the pages read.
const HASH_WINDOW: usize = 16 << 20;

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.display().to_string(),
        source,
    }
}

pub(crate) fn save(model: &Model, path: &Path) -> Result<String, ModelError> {
    let err = io_error(path);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let temp = match dir {
        Some(d) => d.join(format!(".{file_name}.{}.tmp", std::process::id())),
        None => format!(".{file_name}.{}.tmp", std::process::id()).into(),
    };
    let result = write_file(model, &temp).and_then(|checksum| {
        std::fs::rename(&temp, path).map_err(&err)?;
        if let Some(d) = dir {
            // Make the rename itself durable; not every platform can open a directory.
            if let Ok(d) = File::open(d) {
                let _ = d.sync_all();
            }
        }
        Ok(checksum)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Writes the model file and returns the SHA-256 (hex) of its whole content.
///
/// Nothing is read back: the payload's hash (which the header carries) is computed beside the
/// payload's write, and the whole file's beside the flush to disk, from the tables in memory.
/// Song records the tables do not hold (a trained model's) are written out once, on every
/// core, and held while the file is written.
fn write_file(model: &Model, temp: &Path) -> Result<String, ModelError> {
    let err = io_error(temp);
    let info = serde_json::to_vec(&model.info).map_err(|e| err(std::io::Error::other(e)))?;
    let pending = model.tables.pending_records();
    let sections: Vec<(Tag, Section<'_>)> = model
        .tables
        .sections()
        .into_iter()
        .map(|(tag, bytes)| {
            let section = match (&pending, tag) {
                (Some((offsets, _)), table::RECORD_OFFSETS) => {
                    Section::Bytes(bytemuck::cast_slice(offsets))
                }
                (Some((offsets, blocks)), table::RECORDS) => {
                    Section::Blocks(blocks, offsets.last().copied().unwrap_or(0))
                }
                _ => Section::Bytes(bytes),
            };
            (tag, section)
        })
        .collect();
    let preamble = preamble(model.k, &info, &sections);
    let pieces = payload_pieces(&preamble, &sections);
    let written: u64 = pieces.iter().map(Section::len).sum();

    let mut file = File::create(temp).map_err(&err)?;
    let payload_hash = std::thread::scope(|scope| {
        let hashing = scope.spawn(|| {
            let mut hasher = Sha256::new();
            for piece in &pieces {
                piece.each_chunk(&mut |chunk| {
                    hasher.update(chunk);
                    Ok(())
                })?;
            }
            Ok::<_, std::io::Error>(hasher.finalize())
        });
        let wrote = (|| {
            file.seek(SeekFrom::Start(HEADER_LEN))?;
            let mut out = BufWriter::with_capacity(CHUNK, &file);
            for piece in &pieces {
                piece.each_chunk(&mut |chunk| out.write_all(chunk))?;
            }
            out.flush()
        })();
        let hash = hashing
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        wrote.and(hash)
    })
    .map_err(&err)?;

    let mut header = Vec::with_capacity(HEADER_LEN as usize);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&written.to_le_bytes());
    header.extend_from_slice(&payload_hash);
    file.seek(SeekFrom::Start(0)).map_err(&err)?;
    file.write_all(&header).map_err(&err)?;

    std::thread::scope(|scope| {
        let syncing = scope.spawn(|| file.sync_all());
        let mut hasher = Sha256::new();
        hasher.update(&header);
        let hashed = pieces.iter().try_for_each(|piece| {
            piece.each_chunk(&mut |chunk| {
                hasher.update(chunk);
                Ok(())
            })
        });
        let checksum = hex::encode(hasher.finalize());
        syncing
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
            .and(hashed)
            .map(|()| checksum)
    })
    .map_err(&err)
}

/// A stretch of the payload: bytes, or blocks of bytes (of this total length).
#[derive(Clone, Copy)]
enum Section<'a> {
    Bytes(&'a [u8]),
    Blocks(&'a [Vec<u8>], u64),
}

impl Section<'_> {
    fn len(&self) -> u64 {
        match self {
            Section::Bytes(bytes) => bytes.len() as u64,
            Section::Blocks(_, len) => *len,
        }
    }

    /// Hands the stretch to `each` in order, a piece at a time.
    fn each_chunk(
        &self,
        each: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match self {
            Section::Bytes(bytes) => bytes.chunks(CHUNK).try_for_each(each),
            Section::Blocks(blocks, _) => blocks
                .iter()
                .try_for_each(|block| block.chunks(CHUNK).try_for_each(&mut *each)),
        }
    }
}

fn align8(offset: u64) -> u64 {
    offset.div_ceil(8) * 8
}

/// The payload's start: k, the info's length, the section table and the info JSON.
fn preamble(k: usize, info: &[u8], sections: &[(Tag, Section<'_>)]) -> Vec<u8> {
    let mut at = HEADER_LEN + PREAMBLE_LEN + ENTRY_LEN * sections.len() as u64 + info.len() as u64;
    let mut out = Vec::with_capacity((at - HEADER_LEN) as usize);
    out.extend_from_slice(&(k as u64).to_le_bytes());
    out.extend_from_slice(&(info.len() as u64).to_le_bytes());
    out.extend_from_slice(&(sections.len() as u64).to_le_bytes());
    for (tag, section) in sections {
        at = align8(at);
        out.extend_from_slice(tag);
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&section.len().to_le_bytes());
        at += section.len();
    }
    out.extend_from_slice(info);
    out
}

/// The payload in order: the preamble, then each section after the zeros that align it to 8
/// bytes in the file.
fn payload_pieces<'a>(preamble: &'a [u8], sections: &[(Tag, Section<'a>)]) -> Vec<Section<'a>> {
    const ZEROS: [u8; 8] = [0; 8];
    let mut pieces = vec![Section::Bytes(preamble)];
    let mut at = HEADER_LEN + preamble.len() as u64;
    for (_, section) in sections {
        let pad = (align8(at) - at) as usize;
        pieces.push(Section::Bytes(&ZEROS[..pad]));
        pieces.push(*section);
        at = align8(at) + section.len();
    }
    pieces
}

/// The mapped file; its pages can be dropped from the process once read.
#[derive(Clone)]
pub(crate) struct Mapped {
    map: Arc<Mmap>,
}

impl Mapped {
    /// Drops the pages of `bytes` (a part of the map) from this process; reading them again
    /// faults them back in from the file (or the page cache).
    fn release(&self, bytes: &[u8]) {
        let base = self.map.as_ptr() as usize;
        let start = bytes.as_ptr() as usize;
        if bytes.is_empty() || start < base || start + bytes.len() > base + self.map.len() {
            return;
        }
        #[cfg(unix)]
        // SAFETY: the map is read-only and backed by a file that is never written in place
        // (model files are written to a temporary file and renamed), so dropping its pages
        // changes no value anyone can read: they are read back from the file as they were.
        unsafe {
            let _ = self.map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                start - base,
                bytes.len(),
            );
        }
    }

    /// Drops every page of the file this process holds.
    pub(crate) fn release_all(&self) {
        self.release(&self.map);
    }

    /// SHA-256 of `range` of the file, releasing the pages as it goes.
    fn sha256(&self, range: std::ops::Range<usize>) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for window in self.map[range].chunks(HASH_WINDOW) {
            hasher.update(window);
            self.release(window);
        }
        hasher.finalize().into()
    }
}

/// The section directory of a mapped file.
struct Directory<'a> {
    mapped: &'a Mapped,
    entries: Vec<(Tag, u64, u64)>,
}

impl SectionSource for Directory<'_> {
    fn column<T: bytemuck::Pod>(&self, tag: Tag) -> Result<Column<T>, String> {
        let Some(&(_, offset, len)) = self.entries.iter().find(|e| e.0 == tag) else {
            return Ok(Column::default());
        };
        let name = String::from_utf8_lossy(&tag)
            .trim_end_matches('\0')
            .to_owned();
        let range = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(offset.saturating_add(len)).ok())
            .map(|(start, end)| start..end)
            .ok_or_else(|| format!("section {name} is out of range"))?;
        Column::mapped(&self.mapped.map, range)
            .ok_or_else(|| format!("section {name} is not a whole number of aligned values"))
    }
}

/// Maps and checks a model file; with `expected_file_sha256`, also refuses a file whose
/// whole-content SHA-256 differs from it (a registry's record).
pub(crate) fn load(path: &Path, expected_file_sha256: Option<&str>) -> Result<Model, ModelError> {
    let shown = path.display().to_string();
    let corrupt = |reason: String| ModelError::Corrupt {
        path: shown.clone(),
        reason,
    };
    let file = File::open(path).map_err(io_error(path))?;
    let file_len = file.metadata().map_err(io_error(path))?.len();
    if file_len < HEADER_LEN {
        let mut bytes = Vec::new();
        (&file)
            .take(HEADER_LEN)
            .read_to_end(&mut bytes)
            .map_err(io_error(path))?;
        if let Some(expected) = expected_file_sha256 {
            check_file_sha256(path, expected, Sha256::digest(&bytes).into())?;
        }
        return Err(corrupt(format!(
            "only {file_len} bytes, shorter than the header"
        )));
    }
    // SAFETY: model files are never modified in place once written (they are written to a
    // temporary file and renamed, in the registry and its caches alike), so the mapped bytes
    // cannot change under the reader.
    let map = unsafe { Mmap::map(&file) }.map_err(io_error(path))?;
    let mapped = Mapped { map: Arc::new(map) };
    let bytes: &[u8] = &mapped.map;
    let file_len = bytes.len() as u64;
    if let Some(expected) = expected_file_sha256 {
        check_file_sha256(path, expected, mapped.sha256(0..bytes.len()))?;
    }

    let header = &bytes[..HEADER_LEN as usize];
    if &header[..8] != MAGIC {
        return Err(corrupt(
            "it does not start with the songrec model magic".into(),
        ));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().unwrap_or_default());
    if version != FORMAT_VERSION {
        return Err(ModelError::UnsupportedVersion {
            path: shown,
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let payload_len = u64_at(bytes, 16).unwrap_or(u64::MAX);
    let expected_len = HEADER_LEN.saturating_add(payload_len);
    if file_len != expected_len {
        return Err(corrupt(format!(
            "it is {file_len} bytes but its header says {expected_len} (truncated or appended to)"
        )));
    }
    // The whole-file hash above already pins down every byte; otherwise the payload's own.
    if expected_file_sha256.is_none()
        && mapped.sha256(HEADER_LEN as usize..bytes.len())[..] != header[24..56]
    {
        return Err(corrupt("its checksum does not match its content".into()));
    }
    let (k, info, directory) = read_directory(&mapped).map_err(&corrupt)?;
    let mut tables = Tables::read(&directory).map_err(&corrupt)?;
    tables
        .validate(k, &mut |stretch| mapped.release(stretch))
        .map_err(&corrupt)?;
    tables
        .strings
        .check_utf8(&mut |stretch| mapped.release(stretch));
    if info.songs != tables.ids.len() {
        return Err(corrupt(format!(
            "info says {} songs, file holds {}",
            info.songs,
            tables.ids.len()
        )));
    }
    tables.hot_into_huge_pages();
    mapped.release(bytes);
    #[cfg(unix)]
    let _ = mapped.map.advise(memmap2::Advice::Random);
    Ok(Model::from_tables(info, k, tables).with_file(mapped))
}

fn check_file_sha256(path: &Path, expected: &str, found: [u8; 32]) -> Result<(), ModelError> {
    let expected = expected.to_ascii_lowercase();
    let found = hex::encode(found);
    if found == expected {
        Ok(())
    } else {
        Err(ModelError::ChecksumMismatch {
            path: path.display().to_string(),
            expected,
            found,
        })
    }
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn read_directory(mapped: &Mapped) -> Result<(usize, ModelInfo, Directory<'_>), String> {
    let bytes: &[u8] = &mapped.map;
    let len = bytes.len() as u64;
    let at = HEADER_LEN as usize;
    let truncated = || "the section directory runs past the end of the file".to_string();
    let k = u64_at(bytes, at).ok_or_else(truncated)?;
    let k = usize::try_from(k).map_err(|_| "k is too large".to_string())?;
    let info_len = u64_at(bytes, at + 8).ok_or_else(truncated)?;
    let count = u64_at(bytes, at + 16).ok_or_else(truncated)?;
    let entries_end = count
        .checked_mul(ENTRY_LEN)
        .and_then(|e| e.checked_add(HEADER_LEN + PREAMBLE_LEN))
        .filter(|&end| end <= len)
        .ok_or_else(truncated)?;
    let mut entries = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let e = at + PREAMBLE_LEN as usize + i * ENTRY_LEN as usize;
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&bytes[e..e + 8]);
        let offset = u64_at(bytes, e + 8).ok_or_else(truncated)?;
        let length = u64_at(bytes, e + 16).ok_or_else(truncated)?;
        if offset < entries_end || offset.checked_add(length).is_none_or(|end| end > len) {
            return Err("a section lies outside the file".into());
        }
        entries.push((tag, offset, length));
    }
    let info_end = entries_end
        .checked_add(info_len)
        .filter(|&end| end <= len)
        .ok_or("the model info runs past the end of the file")?;
    let info: ModelInfo = serde_json::from_slice(&bytes[entries_end as usize..info_end as usize])
        .map_err(|e| format!("model info is unreadable: {e}"))?;
    Ok((k, info, Directory { mapped, entries }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SongInfo;

    /// A valid model whose file spans many read chunks: every song's one neighbour is the next.
    fn large_model(n: usize) -> Model {
        let songs = (0..n)
            .map(|i| SongInfo {
                id: i as u64 * 7,
                title: format!("title {i}"),
                artist: format!("artist {}", i % 1000),
                artist_id: (i % 1000) as u64,
                pageviews: Some(i as u64),
                ..SongInfo::default()
            })
            .collect();
        crate::test_model(
            songs,
            1,
            (0..n).map(|i| ((i + 1) % n) as u32).collect(),
            vec![0; n],
            vec![0; n],
        )
    }

    #[test]
    fn the_whole_file_hash_covers_every_chunk_of_a_large_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        let model = large_model(400_000);
        let checksum = model.save(&path).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len > 8 * CHUNK as u64, "only {len} bytes");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(checksum, hex::encode(Sha256::digest(&bytes)));
        // The header's payload hash, which loading without a recorded checksum checks.
        assert_eq!(load(&path, None).unwrap().len(), model.len());

        let loaded = load(&path, Some(&checksum)).unwrap();
        assert_eq!(loaded.len(), model.len());
        assert_eq!(loaded.song(399_999), model.song(399_999));

        // A change in the last chunk, past what any early chunk could tell.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            load(&path, Some(&checksum)),
            Err(ModelError::ChecksumMismatch { .. })
        ));
    }
}
