//! The tables of a model, one column per field, each one section of the model file.
//!
//! Adding data to the model file is one line in [`tables!`] below (a field, its value type and
//! its section tag), the code that fills it in [`Tables::assemble`], and its checks in
//! [`Tables::validate`]. A section missing from a file reads as empty, so validation decides
//! whether a file without it can be served; bump `file::FORMAT_VERSION` when it cannot.

use std::collections::HashMap;
use std::ops::Range;

use rayon::prelude::*;

use crate::column::{Column, NO_STRING, StrRef, Strings, StringsBuilder};
use crate::features::role;
use crate::{Explanations, SongInfo, SongView, record};
use songrec_catalog::Song;

/// What the tables keep of a song, borrowed from wherever it is held: a catalogue song while a
/// model is trained (nothing copied), or [`SongInfo`].
pub(crate) struct Details<'a> {
    pub view: SongView<'a>,
    pub tags: &'a [String],
}

/// A song the tables can be assembled from.
pub(crate) trait HasDetails {
    fn details(&self) -> Details<'_>;
}

impl HasDetails for SongInfo {
    fn details(&self) -> Details<'_> {
        Details {
            view: SongView {
                id: self.id,
                title: &self.title,
                artist: &self.artist,
                artist_id: self.artist_id,
                album: self.album.as_deref(),
                release_date: self.release_date.as_deref(),
                release_year: self.release_year,
                language: self.language.as_deref(),
                pageviews: self.pageviews,
                url: self.url.as_deref(),
                art_url: self.art_url.as_deref(),
            },
            tags: &self.tags,
        }
    }
}

impl HasDetails for Song {
    fn details(&self) -> Details<'_> {
        Details {
            view: SongView {
                id: self.id,
                title: &self.title,
                artist: &self.primary_artist.name,
                artist_id: self.primary_artist.id,
                album: self.album.as_ref().map(|a| a.name.as_str()),
                release_date: self.release_date.as_deref(),
                release_year: self.release_year,
                language: self.language.as_deref(),
                pageviews: self.pageviews,
                url: self.url.as_deref(),
                art_url: self.song_art_image_url.as_deref(),
            },
            tags: &self.tags,
        }
    }
}

impl<T: HasDetails> HasDetails for &T {
    fn details(&self) -> Details<'_> {
        (**self).details()
    }
}

/// Stored for a song without pageviews.
pub(crate) const NO_PAGEVIEWS: u64 = u64::MAX;
/// Stored for a song without a release year.
pub(crate) const NO_YEAR: i32 = i32::MIN;

/// A section tag: up to 8 ASCII bytes, zero-padded.
pub(crate) type Tag = [u8; 8];

/// The sections of the song records, written from the other tables as the file is written.
pub(crate) const RECORD_OFFSETS: Tag = tag("rec.offs");
pub(crate) const RECORDS: Tag = tag("rec.json");

pub(crate) const fn tag(name: &str) -> Tag {
    let bytes = name.as_bytes();
    let mut out = [0u8; 8];
    let mut i = 0;
    while i < bytes.len() && i < 8 {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Where the tables are read from: the sections of a mapped file.
pub(crate) trait SectionSource {
    /// The section `tag` as a column; empty when the file has no such section; an error
    /// when its bytes are not a whole, aligned number of values.
    fn column<T: bytemuck::Pod>(&self, tag: Tag) -> Result<Column<T>, String>;
}

macro_rules! tables {
    ($($(#[$doc:meta])* $field:ident: $ty:ty = $tag:literal,)*) => {
        /// Every table of a model. Song columns are indexed by browse order.
        #[derive(Debug, Default)]
        pub(crate) struct Tables {
            /// Every text of the model; the `StrRef` columns point into it.
            pub strings: Strings,
            $($(#[$doc])* pub $field: Column<$ty>,)*
        }

        impl Tables {
            /// Every section with its tag, in file order.
            pub fn sections(&self) -> Vec<(Tag, &[u8])> {
                let mut out = vec![
                    (tag("str.offs"), self.strings.offsets.as_bytes()),
                    (tag("str.byte"), self.strings.bytes.as_bytes()),
                ];
                $(out.push((tag($tag), self.$field.as_bytes()));)*
                out
            }

            pub fn read(source: &impl SectionSource) -> Result<Tables, String> {
                Ok(Tables {
                    strings: Strings::new(
                        source.column(tag("str.offs"))?,
                        source.column(tag("str.byte"))?,
                    ),
                    $($field: source.column(tag($tag))?,)*
                })
            }
        }
    };
}

tables! {
    /// Genius song ids.
    ids: u64 = "song.id",
    /// [`NO_PAGEVIEWS`] when unknown.
    pageviews: u64 = "song.pv",
    /// [`NO_YEAR`] when unknown.
    years: i32 = "song.yr",
    /// The primary artist, a position in the artist columns.
    song_artist: u32 = "song.art",
    titles: StrRef = "song.ttl",
    albums: StrRef = "song.alb",
    dates: StrRef = "song.dat",
    languages: StrRef = "song.lng",
    urls: StrRef = "song.url",
    art_urls: StrRef = "song.img",
    /// Per song (n + 1 offsets) its tags.
    tag_offsets: u32 = "tag.offs",
    tags: StrRef = "tag.str",
    /// Song ids sorted, and the index of each.
    by_id_keys: u64 = "byid.key",
    by_id_index: u32 = "byid.idx",
    /// Row i * k .. (i + 1) * k: song i's neighbours, best first.
    neighbours: u32 = "nb.index",
    scores: u16 = "nb.score",
    reasons: u8 = "nb.why",
    /// Row i * h .. (i + 1) * h: the first h (at most [`HEAD_K`]) of song i's neighbours again,
    /// so that a short list reads a table a tenth the size of the whole one (and a server
    /// keeps only that much of it in memory). Older files have none.
    head_neighbours: u32 = "nbh.idx",
    head_scores: u16 = "nbh.scr",
    head_reasons: u8 = "nbh.why",
    /// Every credited artist: Genius id and name.
    artist_ids: u64 = "art.id",
    artist_names: StrRef = "art.name",
    /// Artist ids sorted, and the position of each.
    artist_by_id_keys: u64 = "art.key",
    artist_by_id_pos: u32 = "art.pos",
    /// Per artist (a + 1 offsets) the songs they are the primary artist of, in browse order.
    artist_song_offsets: u32 = "art.offs",
    artist_songs: u32 = "art.song",
    /// Per song (n + 1 offsets) its credits, sorted by artist position, with role bits.
    credit_offsets: u32 = "crd.offs",
    credit_artists: u32 = "crd.art",
    credit_roles: u8 = "crd.role",
    /// Relationship kinds as Genius spells them (`samples`, `cover_of`, ...).
    relation_kinds: StrRef = "rel.kind",
    /// Per song (n + 1 offsets) the songs it links to, by index, with the kind.
    relation_offsets: u32 = "rel.offs",
    relation_targets: u32 = "rel.to",
    relation_kind: u8 = "rel.type",
    /// Per song (n + 1 offsets) its record as answers carry it (`record::write_song`), so
    /// that a server copies one stretch per song instead of reading a dozen columns. Older
    /// files have none; tables assembled by training have none in memory either (they are
    /// written straight to the file).
    record_offsets: u64 = "rec.offs",
    records: u8 = "rec.json",
}

/// Checks that every row of a table `k` cells wide names songs of the catalogue other than
/// its own, in stretches, so that a large table is never resident all at once; `release` is
/// handed each stretch once it is checked.
fn check_neighbours(
    cells: &[u32],
    n: usize,
    k: usize,
    release: &mut dyn FnMut(&[u8]),
) -> Result<(), String> {
    let rows_per_stretch = (4 << 20) / k.max(1);
    for first in (0..n).step_by(rows_per_stretch.max(1)) {
        let rows = first..(first + rows_per_stretch).min(n);
        let stretch = &cells[rows.start * k..rows.end * k];
        for (row, chunk) in rows.zip(stretch.chunks(k.max(1))) {
            if chunk.iter().any(|&c| c as usize >= n || c as usize == row) {
                return Err(format!("song {row} has a neighbour outside the catalogue"));
            }
        }
        release(bytemuck::cast_slice(stretch));
    }
    Ok(())
}

/// How many of each song's first neighbours the head table holds again: enough that a list
/// of up to 10 on the original route (which skips the songs without pageviews) almost never
/// reads past it. A read of the whole table maps more of it than the one row (the kernel maps
/// the pages around a fault), so rare reads there would make it resident little by little.
pub(crate) const HEAD_K: usize = 16;

/// The first `min(HEAD_K, k)` cells of every row of a table `k` cells wide.
fn head<T: Copy>(cells: &[T], k: usize) -> Vec<T> {
    let h = HEAD_K.min(k);
    cells
        .chunks(k.max(1))
        .flat_map(|row| &row[..h.min(row.len())])
        .copied()
        .collect()
}

/// Entry `i`'s range in a table of offsets, if the offsets hold it.
pub(crate) fn range(offsets: &[u32], i: usize) -> Option<Range<usize>> {
    let start = *offsets.get(i)? as usize;
    let end = *offsets.get(i + 1)? as usize;
    (start <= end).then_some(start..end)
}

const ROLE_NAMES: [(u8, &str); 6] = [
    (role::PRIMARY, "primary"),
    (role::FEATURED, "featured"),
    (role::PRODUCER, "producer"),
    (role::WRITER, "writer"),
    (role::LABEL, "label"),
    (role::CREW, "crew"),
];

pub(crate) fn role_names(bits: u8) -> Vec<&'static str> {
    ROLE_NAMES
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| *name)
        .collect()
}

pub(crate) fn role_rank(name: &str) -> usize {
    ROLE_NAMES
        .iter()
        .position(|(_, n)| *n == name)
        .unwrap_or(ROLE_NAMES.len())
}

impl Tables {
    /// How many neighbours per song the head table holds (0 when the file has none).
    pub fn head_width(&self) -> usize {
        self.head_neighbours
            .len()
            .checked_div(self.ids.len())
            .unwrap_or(0)
    }

    /// Columns from what training produced. The songs are taken one at a time and dropped
    /// once their columns are written, so their owned texts are never all in memory beside the
    /// columns (at 1,000,000 songs they would be about 500 MiB more at training's peak).
    pub fn assemble(
        songs: impl ExactSizeIterator<Item = impl HasDetails>,
        k: usize,
        neighbours: Vec<u32>,
        scores: Vec<u16>,
        reasons: Vec<u8>,
        e: Explanations,
    ) -> Tables {
        let n = songs.len();
        let mut strings = StringsBuilder::new();
        let mut artist_ids = e.artist_ids;
        let mut artist_names: Vec<StrRef> = e.names.iter().map(|s| strings.shared(s)).collect();
        // Older explanation data may name artists without ids; give them none.
        artist_ids.resize(artist_names.len(), 0);
        let mut artist_pos: HashMap<u64, u32> = artist_ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();

        let mut t = Tables::default();
        let mut cols = SongColumns::with_capacity(n);
        for song in songs {
            let song = song.details();
            let s = &song.view;
            let artist = *artist_pos.entry(s.artist_id).or_insert_with(|| {
                artist_ids.push(s.artist_id);
                artist_names.push(strings.shared(s.artist));
                (artist_ids.len() - 1) as u32
            });
            cols.push(&song, artist, &mut strings);
        }

        let mut by_id: Vec<(u64, u32)> = cols
            .ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        by_id.sort_unstable();
        by_id.dedup_by_key(|e| e.0);
        let mut artist_by_id: Vec<(u64, u32)> = artist_ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        artist_by_id.sort_unstable();
        artist_by_id.dedup_by_key(|e| e.0);
        let mut per_artist: Vec<Vec<u32>> = vec![Vec::new(); artist_ids.len()];
        for (i, &a) in cols.song_artist.iter().enumerate() {
            per_artist[a as usize].push(i as u32);
        }
        let (artist_song_offsets, artist_songs) = flatten(per_artist);

        let empty_offsets = |offsets: Vec<u32>| {
            if offsets.len() == n + 1 {
                offsets
            } else {
                vec![0; n + 1]
            }
        };
        t.relation_kinds = e
            .relation_kinds
            .iter()
            .map(|k| strings.shared(k))
            .collect::<Vec<_>>()
            .into();
        t.ids = cols.ids.into();
        t.pageviews = cols.pageviews.into();
        t.years = cols.years.into();
        t.song_artist = cols.song_artist.into();
        t.titles = cols.titles.into();
        t.albums = cols.albums.into();
        t.dates = cols.dates.into();
        t.languages = cols.languages.into();
        t.urls = cols.urls.into();
        t.art_urls = cols.art_urls.into();
        t.tag_offsets = cols.tag_offsets.into();
        t.tags = cols.tags.into();
        t.by_id_keys = by_id.iter().map(|e| e.0).collect::<Vec<_>>().into();
        t.by_id_index = by_id.iter().map(|e| e.1).collect::<Vec<_>>().into();
        t.head_neighbours = head(&neighbours, k).into();
        t.head_scores = head(&scores, k).into();
        t.head_reasons = head(&reasons, k).into();
        t.neighbours = neighbours.into();
        t.scores = scores.into();
        t.reasons = reasons.into();
        t.artist_ids = artist_ids.into();
        t.artist_names = artist_names.into();
        t.artist_by_id_keys = artist_by_id.iter().map(|e| e.0).collect::<Vec<_>>().into();
        t.artist_by_id_pos = artist_by_id.iter().map(|e| e.1).collect::<Vec<_>>().into();
        t.artist_song_offsets = artist_song_offsets.into();
        t.artist_songs = artist_songs.into();
        t.credit_offsets = empty_offsets(e.credit_offsets).into();
        t.credit_artists = e.credit_names.into();
        t.credit_roles = e.credit_roles.into();
        t.relation_offsets = empty_offsets(e.relation_offsets).into();
        t.relation_targets = e.relation_targets.into();
        t.relation_kind = e.relation_kind.into();
        t.strings = strings.finish();
        t
    }

    /// The song at `index`, read from the columns.
    pub fn song(&self, index: usize) -> Option<SongView<'_>> {
        let s = &self.strings;
        let artist = *self.song_artist.get(index)? as usize;
        let year = self.years[index];
        let views = self.pageviews[index];
        Some(SongView {
            id: self.ids[index],
            title: s.text(self.titles[index]),
            artist: s.text(self.artist_names.get(artist).copied().unwrap_or(NO_STRING)),
            artist_id: self.artist_ids.get(artist).copied().unwrap_or(0),
            album: s.get(self.albums[index]),
            release_date: s.get(self.dates[index]),
            release_year: (year != NO_YEAR).then_some(year),
            language: s.get(self.languages[index]),
            pageviews: (views != NO_PAGEVIEWS).then_some(views),
            url: s.get(self.urls[index]),
            art_url: s.get(self.art_urls[index]),
        })
    }

    /// The records to write for tables that hold none in memory (tables assembled by
    /// training), written out on every core in blocks of songs: their offsets, and the blocks
    /// in order. `None` when the tables hold their records already.
    pub fn pending_records(&self) -> Option<(Vec<u64>, Vec<Vec<u8>>)> {
        /// Songs per block: enough to keep a core busy, few enough to share out evenly.
        const BLOCK: usize = 16_384;
        if !self.record_offsets.is_empty() {
            return None;
        }
        let n = self.ids.len();
        let blocks: Vec<(Vec<u64>, Vec<u8>)> = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map(|block| {
                let songs = block * BLOCK..n.min((block + 1) * BLOCK);
                let mut ends = Vec::with_capacity(songs.len());
                let mut bytes = Vec::new();
                for index in songs {
                    self.write_record(&mut bytes, index);
                    ends.push(bytes.len() as u64);
                }
                (ends, bytes)
            })
            .collect();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u64);
        let mut records = Vec::with_capacity(blocks.len());
        for (ends, bytes) in blocks {
            let base = offsets.last().copied().unwrap_or(0);
            offsets.extend(ends.into_iter().map(|end| base + end));
            records.push(bytes);
        }
        Some((offsets, records))
    }

    fn write_record(&self, out: &mut Vec<u8>, index: usize) {
        if let Some(song) = self.song(index) {
            record::write_song(out, index, &song);
        }
    }

    /// Song `index`'s record, when the file has records.
    pub fn record(&self, index: usize) -> Option<&[u8]> {
        let start = usize::try_from(*self.record_offsets.get(index)?).ok()?;
        let end = usize::try_from(*self.record_offsets.get(index + 1)?).ok()?;
        self.records.get(start..end)
    }

    /// Moves the columns every answer reads at random, a few values each (see `Model::touch`),
    /// into huge pages ([`Column::into_huge_pages`]): the songs' own cells, the credits, the
    /// tags and the string offsets (72 MB at 1,000,000 songs). The records and the texts, read
    /// in longer stretches, and the neighbour tables (one row an answer) stay where they are:
    /// unlike the mapped file's pages, a copy cannot be given back while a new model loads.
    pub fn hot_into_huge_pages(&mut self) {
        fn moved<T: bytemuck::Pod>(column: &mut Column<T>) {
            *column = std::mem::take(column).into_huge_pages();
        }
        moved(&mut self.ids);
        moved(&mut self.song_artist);
        moved(&mut self.record_offsets);
        moved(&mut self.tag_offsets);
        moved(&mut self.tags);
        moved(&mut self.credit_offsets);
        moved(&mut self.credit_artists);
        moved(&mut self.credit_roles);
        moved(&mut self.artist_names);
        moved(&mut self.strings.offsets);
    }

    /// Checks every length and cross-reference, so that a decoded file can never make serving
    /// panic. `release` is handed each stretch of the neighbour table once it is checked (the
    /// file uses it to drop those pages from memory again).
    pub fn validate(&self, k: usize, release: &mut dyn FnMut(&[u8])) -> Result<(), String> {
        let n = self.ids.len();
        let per_song: [(&str, usize); 9] = [
            ("pageviews", self.pageviews.len()),
            ("years", self.years.len()),
            ("artists", self.song_artist.len()),
            ("titles", self.titles.len()),
            ("albums", self.albums.len()),
            ("dates", self.dates.len()),
            ("languages", self.languages.len()),
            ("urls", self.urls.len()),
            ("art urls", self.art_urls.len()),
        ];
        if let Some((what, len)) = per_song.iter().find(|(_, len)| *len != n) {
            return Err(format!("{len} song {what} for {n} songs"));
        }
        let cells = n.checked_mul(k).ok_or("k is too large")?;
        if self.neighbours.len() != cells
            || self.scores.len() != cells
            || self.reasons.len() != cells
        {
            return Err(format!("neighbour table is not {n} songs x {k} neighbours"));
        }
        if k > 0 && k >= n {
            return Err(format!("{k} neighbours per song but only {n} songs"));
        }
        check_neighbours(&self.neighbours, n, k, release)?;
        let h = self.head_width();
        let head_cells = n.checked_mul(h).ok_or("the head table is too large")?;
        if h > k
            || self.head_neighbours.len() != head_cells
            || self.head_scores.len() != head_cells
            || self.head_reasons.len() != head_cells
        {
            return Err(format!(
                "the head table is not {n} songs x at most {k} neighbours"
            ));
        }
        check_neighbours(&self.head_neighbours, n, h, release)?;

        let a = self.artist_ids.len();
        if self.artist_names.len() != a
            || self.artist_by_id_keys.len() != self.artist_by_id_pos.len()
            || self.song_artist.iter().any(|&x| x as usize >= a)
            || self.artist_by_id_pos.iter().any(|&x| x as usize >= a)
            || !self.artist_by_id_keys.windows(2).all(|w| w[0] < w[1])
        {
            return Err("the artist table is inconsistent".into());
        }
        if self.by_id_keys.len() != n
            || self.by_id_index.len() != n
            || !self.by_id_keys.windows(2).all(|w| w[0] < w[1])
            || self
                .by_id_keys
                .iter()
                .zip(self.by_id_index.iter())
                .any(|(&id, &i)| self.ids.get(i as usize) != Some(&id))
        {
            return Err("the song id index is inconsistent".into());
        }
        check_offsets(&self.tag_offsets, n, self.tags.len(), "tag")?;
        check_offsets(&self.credit_offsets, n, self.credit_artists.len(), "credit")?;
        if self.credit_roles.len() != self.credit_artists.len()
            || self.credit_artists.iter().any(|&x| x as usize >= a)
        {
            return Err("credits refer to unknown artists".into());
        }
        check_offsets(
            &self.relation_offsets,
            n,
            self.relation_targets.len(),
            "relationship",
        )?;
        if self.relation_kind.len() != self.relation_targets.len()
            || self.relation_targets.iter().any(|&t| t as usize >= n)
            || self
                .relation_kind
                .iter()
                .any(|&x| x as usize >= self.relation_kinds.len())
        {
            return Err("relationships refer to unknown songs or kinds".into());
        }
        check_offsets(
            &self.artist_song_offsets,
            a,
            self.artist_songs.len(),
            "artist song",
        )?;
        if self.artist_songs.iter().any(|&s| s as usize >= n) {
            return Err("an artist lists a song outside the catalogue".into());
        }
        if !self.record_offsets.is_empty() {
            let offsets = &self.record_offsets;
            let ok = offsets.len() == n + 1
                && offsets.first() == Some(&0)
                && offsets.last().copied() == u64::try_from(self.records.len()).ok()
                && offsets.windows(2).all(|w| w[0] <= w[1]);
            if !ok {
                return Err("song record offsets are inconsistent".into());
            }
            release(bytemuck::cast_slice(offsets));
        }
        if self.strings.offsets.first().is_some_and(|&o| o != 0) {
            return Err("string offsets are inconsistent".into());
        }
        Ok(())
    }
}

/// The per-song columns while they are being filled.
#[derive(Default)]
struct SongColumns {
    ids: Vec<u64>,
    pageviews: Vec<u64>,
    years: Vec<i32>,
    song_artist: Vec<u32>,
    titles: Vec<StrRef>,
    albums: Vec<StrRef>,
    dates: Vec<StrRef>,
    languages: Vec<StrRef>,
    urls: Vec<StrRef>,
    art_urls: Vec<StrRef>,
    tag_offsets: Vec<u32>,
    tags: Vec<StrRef>,
}

impl SongColumns {
    fn with_capacity(n: usize) -> SongColumns {
        SongColumns {
            ids: Vec::with_capacity(n),
            pageviews: Vec::with_capacity(n),
            years: Vec::with_capacity(n),
            song_artist: Vec::with_capacity(n),
            titles: Vec::with_capacity(n),
            albums: Vec::with_capacity(n),
            dates: Vec::with_capacity(n),
            languages: Vec::with_capacity(n),
            urls: Vec::with_capacity(n),
            art_urls: Vec::with_capacity(n),
            tag_offsets: vec![0],
            tags: Vec::new(),
        }
    }

    fn push(&mut self, song: &Details<'_>, artist: u32, strings: &mut StringsBuilder) {
        let s = &song.view;
        self.ids.push(s.id);
        self.pageviews.push(s.pageviews.unwrap_or(NO_PAGEVIEWS));
        self.years.push(s.release_year.unwrap_or(NO_YEAR));
        self.song_artist.push(artist);
        self.titles.push(strings.add(s.title));
        self.albums.push(strings.optional(s.album, true));
        self.dates.push(strings.optional(s.release_date, true));
        self.languages.push(strings.optional(s.language, true));
        self.urls.push(strings.optional(s.url, false));
        self.art_urls.push(strings.optional(s.art_url, false));
        self.tags
            .extend(song.tags.iter().map(|tag| strings.shared(tag)));
        self.tag_offsets.push(self.tags.len() as u32);
    }
}

/// Lists as (offsets, values).
fn flatten(lists: Vec<Vec<u32>>) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = Vec::with_capacity(lists.len() + 1);
    offsets.push(0);
    let mut values = Vec::new();
    for list in lists {
        values.extend(list);
        offsets.push(values.len() as u32);
    }
    (offsets, values)
}

fn check_offsets(offsets: &[u32], n: usize, len: usize, what: &str) -> Result<(), String> {
    let ok = offsets.len() == n + 1
        && offsets.first() == Some(&0)
        && offsets.last().map(|&l| l as usize) == Some(len)
        && offsets.windows(2).all(|w| w[0] <= w[1]);
    if ok {
        Ok(())
    } else {
        Err(format!("{what} offsets are inconsistent"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_padded_names() {
        assert_eq!(&tag("nb.why"), b"nb.why\0\0");
        assert_eq!(&tag("12345678910"), b"12345678");
    }

    #[test]
    fn roles_are_named_in_a_fixed_order() {
        assert_eq!(
            role_names(role::WRITER | role::PRIMARY),
            vec!["primary", "writer"]
        );
        assert!(role_rank("primary") < role_rank("writer"));
    }
}
