//! The model file: a fixed header, then a little-endian payload of sections.
//!
//! ```text
//! magic "SONGRECM" | format version u32 | reserved u32 | payload length u64 | SHA-256(payload)
//! payload: info JSON | songs | neighbours (index u32, score u16, reason u8) | explanations
//! ```
//!
//! Loading streams the payload once, hashing it while decoding straight into the final arrays,
//! so a file is checked and loaded in one read without a second copy in memory. When the caller
//! knows the SHA-256 the whole file must have (a registry's record), a second thread hashes the
//! same reads, so that check needs no second pass over the file either.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc;

use sha2::{Digest, Sha256};

use crate::{Explanations, Model, ModelError, ModelInfo, SongInfo};

const MAGIC: &[u8; 8] = b"SONGRECM";
/// Bumped whenever the payload layout changes; older files are refused, not misread.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: u64 = 8 + 4 + 4 + 8 + 32;
const NO_PAGEVIEWS: u64 = u64::MAX;
const CHUNK: usize = 1 << 20;

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.display().to_string(),
        source,
    }
}

struct PayloadWriter<W: Write> {
    out: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> PayloadWriter<W> {
    fn bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    fn u64(&mut self, v: u64) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    fn text(&mut self, s: &str) -> std::io::Result<()> {
        self.u64(s.len() as u64)?;
        self.bytes(s.as_bytes())
    }

    fn array<T: Copy, const N: usize>(
        &mut self,
        values: &[T],
        encode: impl Fn(T) -> [u8; N],
    ) -> std::io::Result<()> {
        self.u64(values.len() as u64)?;
        let mut buffer = Vec::with_capacity(CHUNK);
        for chunk in values.chunks(CHUNK / N) {
            buffer.clear();
            for v in chunk {
                buffer.extend_from_slice(&encode(*v));
            }
            self.bytes(&buffer)?;
        }
        Ok(())
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
    let result = write_file(model, &temp).and_then(|()| {
        let checksum = file_sha256(&temp).map_err(&err)?;
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

fn write_file(model: &Model, temp: &Path) -> Result<(), ModelError> {
    let err = io_error(temp);
    let mut file = File::create(temp).map_err(&err)?;
    file.write_all(&[0u8; HEADER_LEN as usize]).map_err(&err)?;
    let mut w = PayloadWriter {
        out: BufWriter::with_capacity(CHUNK, file),
        hasher: Sha256::new(),
        written: 0,
    };
    write_payload(model, &mut w).map_err(&err)?;
    let PayloadWriter {
        out,
        hasher,
        written,
    } = w;
    let mut file = out.into_inner().map_err(|e| err(e.into_error()))?;
    let mut header = Vec::with_capacity(HEADER_LEN as usize);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&written.to_le_bytes());
    header.extend_from_slice(&hasher.finalize());
    file.seek(SeekFrom::Start(0)).map_err(&err)?;
    file.write_all(&header).map_err(&err)?;
    file.sync_all().map_err(&err)
}

fn write_payload<W: Write>(model: &Model, w: &mut PayloadWriter<W>) -> std::io::Result<()> {
    let info = serde_json::to_vec(&model.info).map_err(std::io::Error::other)?;
    w.u64(info.len() as u64)?;
    w.bytes(&info)?;
    w.u64(model.k as u64)?;
    let ids: Vec<u64> = model.songs.iter().map(|s| s.id).collect();
    w.array(&ids, u64::to_le_bytes)?;
    let views: Vec<u64> = model
        .songs
        .iter()
        .map(|s| s.pageviews.unwrap_or(NO_PAGEVIEWS))
        .collect();
    w.array(&views, u64::to_le_bytes)?;
    for song in &model.songs {
        w.text(&song.title)?;
        w.text(&song.artist)?;
    }
    w.array(&model.neighbours, u32::to_le_bytes)?;
    w.array(&model.scores, u16::to_le_bytes)?;
    w.array(&model.reasons, u8::to_le_bytes)?;
    let e = &model.explanations;
    w.u64(e.names.len() as u64)?;
    for name in &e.names {
        w.text(name)?;
    }
    w.array(&e.credit_offsets, u32::to_le_bytes)?;
    w.array(&e.credit_names, u32::to_le_bytes)?;
    w.array(&e.credit_roles, u8::to_le_bytes)?;
    w.u64(e.relation_kinds.len() as u64)?;
    for kind in &e.relation_kinds {
        w.text(kind)?;
    }
    w.array(&e.relation_offsets, u32::to_le_bytes)?;
    w.array(&e.relation_targets, u32::to_le_bytes)?;
    w.array(&e.relation_kind, u8::to_le_bytes)?;
    Ok(())
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Reads the payload, hashing everything it consumes and refusing to read past its end.
struct PayloadReader<R: Read> {
    input: R,
    hasher: Sha256,
    remaining: u64,
}

/// Why a payload could not be decoded; becomes [`ModelError::Corrupt`].
struct Bad(String);

impl From<std::io::Error> for Bad {
    fn from(e: std::io::Error) -> Self {
        Bad(format!("read failed: {e}"))
    }
}

impl<R: Read> PayloadReader<R> {
    fn bytes(&mut self, buffer: &mut [u8]) -> Result<(), Bad> {
        if buffer.len() as u64 > self.remaining {
            return Err(Bad("a section runs past the end of the payload".into()));
        }
        self.input.read_exact(buffer).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Bad("the file is truncated".into())
            } else {
                Bad(format!("read failed: {e}"))
            }
        })?;
        self.remaining -= buffer.len() as u64;
        self.hasher.update(&*buffer);
        Ok(())
    }

    fn u64(&mut self) -> Result<u64, Bad> {
        let mut b = [0u8; 8];
        self.bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// A length that must fit in what is left, given each item takes at least `item` bytes.
    fn count(&mut self, item: u64) -> Result<usize, Bad> {
        let n = self.u64()?;
        if n.saturating_mul(item.max(1)) > self.remaining {
            return Err(Bad(format!(
                "a section claims {n} items, more than the file holds"
            )));
        }
        usize::try_from(n).map_err(|_| Bad("a section is too large for this machine".into()))
    }

    fn text(&mut self) -> Result<String, Bad> {
        let len = self.count(1)?;
        let mut b = vec![0u8; len];
        self.bytes(&mut b)?;
        String::from_utf8(b).map_err(|_| Bad("a text field is not UTF-8".into()))
    }

    fn array<T, const N: usize>(&mut self, decode: impl Fn([u8; N]) -> T) -> Result<Vec<T>, Bad> {
        let n = self.count(N as u64)?;
        let mut out = Vec::with_capacity(n);
        let mut buffer = vec![0u8; CHUNK - CHUNK % N];
        let mut left = n * N;
        while left > 0 {
            let take = left.min(buffer.len());
            self.bytes(&mut buffer[..take])?;
            out.extend(buffer[..take].chunks_exact(N).map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                decode(a)
            }));
            left -= take;
        }
        Ok(out)
    }
}

/// Reads and checks a model file; with `expected_file_sha256`, also refuses a file whose
/// whole-content SHA-256 differs from it (a registry's record), hashed during the same read.
pub(crate) fn load(path: &Path, expected_file_sha256: Option<&str>) -> Result<Model, ModelError> {
    let file = File::open(path).map_err(io_error(path))?;
    let file_len = file.metadata().map_err(io_error(path))?.len();
    let Some(expected) = expected_file_sha256 else {
        return decode(path, &mut BufReader::with_capacity(CHUNK, file), file_len);
    };
    let expected = expected.to_ascii_lowercase();
    // The whole-file hash runs on a second thread fed from the reads decoding already does, so
    // checking it costs a copy of each chunk rather than a second pass over the file.
    std::thread::scope(|scope| {
        let (full, chunks) = mpsc::sync_channel::<Vec<u8>>(HASH_QUEUE);
        let (recycle, spare) = mpsc::channel::<Vec<u8>>();
        let hashing = scope.spawn(move || {
            let mut hasher = Sha256::new();
            for chunk in chunks {
                hasher.update(&chunk);
                // The reader may be gone already; the buffer is then simply dropped.
                let _ = recycle.send(chunk);
            }
            hex::encode(hasher.finalize())
        });
        let mut input = BufReader::with_capacity(CHUNK, HashFeed { file, full, spare });
        let model = decode(path, &mut input, file_len);
        // A file refused early is still hashed to the end, so that a file which is not the
        // registered one is reported as such, whatever else is wrong with it.
        let drained = std::io::copy(&mut input, &mut std::io::sink());
        drop(input);
        let found = hashing.join().map_err(|_| ModelError::Corrupt {
            path: path.display().to_string(),
            reason: "hashing the file failed".into(),
        })?;
        drained.map_err(io_error(path))?;
        if found != expected {
            return Err(ModelError::ChecksumMismatch {
                path: path.display().to_string(),
                expected,
                found,
            });
        }
        model
    })
}

/// Chunks queued for the whole-file hash; bounds the memory a slow hasher can hold up.
const HASH_QUEUE: usize = 4;

/// The file as decoding reads it, passing a copy of every byte read to the hashing thread.
struct HashFeed {
    file: File,
    full: mpsc::SyncSender<Vec<u8>>,
    /// Buffers the hashing thread is done with, reused to avoid fresh allocations per chunk.
    spare: mpsc::Receiver<Vec<u8>>,
}

impl Read for HashFeed {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.file.read(buffer)?;
        if read > 0 {
            let mut chunk = self
                .spare
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
            chunk.clear();
            chunk.extend_from_slice(&buffer[..read]);
            self.full
                .send(chunk)
                .map_err(|_| std::io::Error::other("the hashing thread stopped"))?;
        }
        Ok(read)
    }
}

fn decode<R: Read>(path: &Path, input: &mut R, file_len: u64) -> Result<Model, ModelError> {
    let shown = path.display().to_string();
    let corrupt = |reason: String| ModelError::Corrupt {
        path: shown.clone(),
        reason,
    };
    let mut header = [0u8; HEADER_LEN as usize];
    if file_len < HEADER_LEN {
        return Err(corrupt(format!(
            "only {file_len} bytes, shorter than the header"
        )));
    }
    input.read_exact(&mut header).map_err(io_error(path))?;
    if &header[..8] != MAGIC {
        return Err(corrupt(
            "it does not start with the songrec model magic".into(),
        ));
    }
    let word = |range: std::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b[..range.len()].copy_from_slice(&header[range]);
        u64::from_le_bytes(b)
    };
    let version = word(8..12) as u32;
    if version != FORMAT_VERSION {
        return Err(ModelError::UnsupportedVersion {
            path: shown,
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let payload_len = word(16..24);
    let expected_len = HEADER_LEN.saturating_add(payload_len);
    if file_len != expected_len {
        return Err(corrupt(format!(
            "it is {file_len} bytes but its header says {expected_len} (truncated or appended to)"
        )));
    }
    let mut reader = PayloadReader {
        input,
        hasher: Sha256::new(),
        remaining: payload_len,
    };
    let model = read_payload(&mut reader).map_err(|Bad(reason)| corrupt(reason));
    // The checksum decides first: a damaged file is reported as such, whatever it decoded to.
    let digest = reader.hasher.finalize();
    if reader.remaining != 0 || digest.as_slice() != &header[24..56] {
        return Err(corrupt("its checksum does not match its content".into()));
    }
    let model = model?;
    model.validate().map_err(corrupt)?;
    Ok(model)
}

fn read_payload<R: Read>(r: &mut PayloadReader<R>) -> Result<Model, Bad> {
    let info_len = r.count(1)?;
    let mut info = vec![0u8; info_len];
    r.bytes(&mut info)?;
    let info: ModelInfo =
        serde_json::from_slice(&info).map_err(|e| Bad(format!("model info is unreadable: {e}")))?;
    let k = usize::try_from(r.u64()?).map_err(|_| Bad("k is too large".into()))?;
    let ids = r.array(u64::from_le_bytes)?;
    let views = r.array(u64::from_le_bytes)?;
    if views.len() != ids.len() {
        return Err(Bad("song sections disagree in length".into()));
    }
    let mut songs = Vec::with_capacity(ids.len());
    for (id, views) in ids.into_iter().zip(views) {
        songs.push(SongInfo {
            id,
            title: r.text()?,
            artist: r.text()?,
            pageviews: (views != NO_PAGEVIEWS).then_some(views),
        });
    }
    let neighbours = r.array(u32::from_le_bytes)?;
    let scores = r.array(u16::from_le_bytes)?;
    let reasons = r.array(u8::from_le_bytes)?;
    let name_count = r.count(8)?;
    let mut names = Vec::with_capacity(name_count);
    for _ in 0..name_count {
        names.push(r.text()?);
    }
    let credit_offsets = r.array(u32::from_le_bytes)?;
    let credit_names = r.array(u32::from_le_bytes)?;
    let credit_roles = r.array(u8::from_le_bytes)?;
    let kind_count = r.count(8)?;
    let mut relation_kinds = Vec::with_capacity(kind_count);
    for _ in 0..kind_count {
        relation_kinds.push(r.text()?);
    }
    let relation_offsets = r.array(u32::from_le_bytes)?;
    let relation_targets = r.array(u32::from_le_bytes)?;
    let relation_kind = r.array(u8::from_le_bytes)?;
    Ok(Model::from_parts(
        info,
        songs,
        k,
        neighbours,
        scores,
        reasons,
        Explanations {
            names,
            credit_offsets,
            credit_names,
            credit_roles,
            relation_kinds,
            relation_offsets,
            relation_targets,
            relation_kind,
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A valid model whose file spans many read chunks: every song's one neighbour is the next.
    fn large_model(n: usize) -> Model {
        let songs = (0..n)
            .map(|i| SongInfo {
                id: i as u64 * 7,
                title: format!("title {i}"),
                artist: format!("artist {}", i % 1000),
                pageviews: Some(i as u64),
            })
            .collect();
        let info = ModelInfo {
            trained_at: "2026-01-01T00:00:00Z".into(),
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            songs: n,
        };
        Model::from_parts(
            info,
            songs,
            1,
            (0..n).map(|i| ((i + 1) % n) as u32).collect(),
            vec![0; n],
            vec![0; n],
            Explanations {
                credit_offsets: vec![0; n + 1],
                relation_offsets: vec![0; n + 1],
                ..Explanations::default()
            },
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
        assert_eq!(checksum, file_sha256(&path).unwrap());

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
