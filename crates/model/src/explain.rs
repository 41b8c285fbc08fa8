//! Why a song is a neighbour of another: short human reasons ("shared producer X", "same
//! album", "samples"), built from the reason bits stored with each neighbour and the two songs'
//! credits, tags and relationships.
//!
//! Reasons are handed out as [`Reason`] parts rather than `String`s, so that a caller writing
//! them somewhere (an HTTP answer) does so without an allocation per reason.

use std::fmt;

use crate::column::{NO_STRING, prefetch};
use crate::features::{reason, role};
use crate::{Model, table};

/// A fixed text of the program's own that JSON writes as it is (no byte of it is escaped):
/// built in constants, so a text that breaks the rule fails to compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(&'static str);

impl Label {
    /// `text` as a label; panics (at compile time, in a constant) when JSON would escape a
    /// byte of it: a control character, `"` or `\`.
    pub const fn new(text: &'static str) -> Label {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(
                b >= 0x20 && b != b'"' && b != b'\\',
                "a label must need no JSON escaping"
            );
            i += 1;
        }
        Label(text)
    }

    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

/// One reason, as text in up to two parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason<'a> {
    /// A text from data, as it is.
    Text(&'a str),
    /// A fixed text.
    Fixed(Label),
    /// A fixed label followed by a name from data: `"shared producer "` + `"Ryan Tedder"`.
    Named(Label, &'a str),
    /// A relationship kind as Genius spells it, underscores read as spaces (`cover_of`:
    /// "cover of").
    Spaced(&'a str),
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::Text(text) => f.write_str(text),
            Reason::Fixed(label) => f.write_str(label.as_str()),
            Reason::Named(label, name) => {
                f.write_str(label.as_str())?;
                f.write_str(name)
            }
            Reason::Spaced(kind) => {
                for (i, part) in kind.split('_').enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    f.write_str(part)?;
                }
                Ok(())
            }
        }
    }
}

/// Per role a reason names, the first artist (a position in the model's artist table)
/// credited in it on both songs of a pair.
#[derive(Debug, Default)]
struct SharedCredits {
    /// On both, featured on at least one and primary on neither.
    featured: Option<u32>,
    producer: Option<u32>,
    writer: Option<u32>,
    label: Option<u32>,
    crew: Option<u32>,
}

impl Model {
    /// Short human explanations of why song `c` is a neighbour of song `q`, from the stored
    /// reason bits of that pair.
    pub fn reasons(&self, q: usize, c: usize, bits: u8) -> Vec<String> {
        let mut out = Vec::new();
        self.each_reason(q, c, bits, &mut |r| out.push(r.to_string()));
        out
    }

    /// The same reasons as [`Model::reasons`], in the same order, handed to `each` one at a
    /// time.
    pub fn each_reason(&self, q: usize, c: usize, bits: u8, each: &mut dyn FnMut(Reason<'_>)) {
        if bits & reason::SAME_ARTIST != 0 {
            each(Reason::Fixed(const { Label::new("same artist") }));
        }
        let shared =
            if bits & (reason::FEATURED | reason::PRODUCER | reason::WRITER | reason::SCENE) != 0 {
                self.shared_credits(q, c)
            } else {
                SharedCredits::default()
            };
        let mut credited = |name: Option<&str>, label: Label, bare: Label| {
            each(match name {
                Some(name) => Reason::Named(label, name),
                None => Reason::Fixed(bare),
            })
        };
        if bits & reason::FEATURED != 0 {
            credited(
                self.artist_name(shared.featured),
                const { Label::new("featured together: ") },
                const { Label::new("featured together:") },
            );
        }
        if bits & reason::PRODUCER != 0 {
            credited(
                self.artist_name(shared.producer),
                const { Label::new("shared producer ") },
                const { Label::new("shared producer") },
            );
        }
        if bits & reason::WRITER != 0 {
            credited(
                self.artist_name(shared.writer),
                const { Label::new("shared writer ") },
                const { Label::new("shared writer") },
            );
        }
        if bits & reason::ALBUM != 0 {
            each(Reason::Fixed(const { Label::new("same album") }));
        }
        if bits & reason::RELATED != 0 {
            each(match self.relation_kind(q, c) {
                Some(kind) => Reason::Spaced(kind),
                None => Reason::Fixed(const { Label::new("related songs") }),
            });
        }
        if bits & reason::SCENE != 0 {
            self.scene_reasons(q, c, &shared, each);
        }
        if bits & reason::FALLBACK != 0 {
            each(Reason::Fixed(if self.original_features {
                const { Label::new("similar popularity") }
            } else {
                const { Label::new("few shared credits: same language and era, similar popularity") }
            }));
        }
    }

    /// Asks the processor for the names the reasons of `pairs` (neighbour, reason bits) of
    /// song `q` will read: the artists each pair shares, found from their credits (which
    /// [`Model::touch`] fetched), then their name slots, then the names' bytes, one level at a
    /// time for all pairs. Written one after another, each name is three reads the answer
    /// would otherwise wait on in turn.
    pub fn touch_reasons(&self, q: usize, pairs: &[(usize, u8)]) {
        const CREDITED: u8 = reason::FEATURED | reason::PRODUCER | reason::WRITER | reason::SCENE;
        let t = &self.tables;
        let mut artists = [0u32; 64];
        let mut found = 0;
        for &(c, bits) in pairs {
            if bits & CREDITED == 0 {
                continue;
            }
            let shared = self.shared_credits(q, c);
            let scene = bits & reason::SCENE != 0;
            for (artist, named) in [
                (shared.featured, bits & reason::FEATURED != 0),
                (shared.producer, bits & reason::PRODUCER != 0),
                (shared.writer, bits & reason::WRITER != 0),
                (shared.label, scene),
                (shared.crew, scene),
            ] {
                if let (Some(a), true, Some(slot)) = (artist, named, artists.get_mut(found)) {
                    *slot = a;
                    found += 1;
                    prefetch(&t.artist_names, a as usize);
                }
            }
        }
        let artists = &artists[..found];
        let name = |a: u32| t.artist_names.get(a as usize).copied();
        for text in artists.iter().filter_map(|&a| name(a)) {
            prefetch(&t.strings.offsets, text as usize);
        }
        for text in artists.iter().filter_map(|&a| name(a)) {
            if let Some(&start) = t.strings.offsets.get(text as usize) {
                prefetch(
                    &t.strings.bytes,
                    usize::try_from(start).unwrap_or(usize::MAX),
                );
            }
        }
    }

    /// What two songs of one scene share: a label, a crew member, a genre tag, and whose
    /// artist the other is when the artists differ.
    fn scene_reasons(
        &self,
        q: usize,
        c: usize,
        shared: &SharedCredits,
        each: &mut dyn FnMut(Reason<'_>),
    ) {
        let mut any = false;
        if let Some(name) = self.artist_name(shared.label) {
            each(Reason::Named(const { Label::new("same label: ") }, name));
            any = true;
        }
        if let Some(name) = self.artist_name(shared.crew) {
            each(Reason::Named(const { Label::new("same crew: ") }, name));
            any = true;
        }
        // Compared lower-cased; without allocating when both are ASCII (most tags).
        let same = |a: &str, b: &str| {
            if a.is_ascii() && b.is_ascii() {
                a.eq_ignore_ascii_case(b)
            } else {
                a.to_lowercase() == b.to_lowercase()
            }
        };
        if let Some(tag) = self
            .tags(q)
            .find(|t| self.tags(c).any(|theirs| same(t, theirs)))
        {
            each(Reason::Named(const { Label::new("tagged ") }, tag));
            any = true;
        }
        match (self.primary_artist(q), self.primary_artist(c)) {
            (Some((a, _)), Some((b, b_name))) if a != b => {
                each(Reason::Named(
                    const { Label::new("similar artist: ") },
                    b_name,
                ));
            }
            _ if !any => each(Reason::Fixed(
                const { Label::new("same circle of collaborators") },
            )),
            _ => {}
        }
    }

    /// (artist position, role bits) of the song's credits, sorted by artist position.
    pub(crate) fn credit_pairs(&self, song: usize) -> impl Iterator<Item = (u32, u8)> + '_ {
        let t = &self.tables;
        let range = table::range(&t.credit_offsets, song).unwrap_or(0..0);
        t.credit_artists[range.clone()]
            .iter()
            .copied()
            .zip(t.credit_roles[range].iter().copied())
    }

    /// The first artist (in artist order) credited on both songs in each role a reason
    /// names: one walk along the two songs' credits, both sorted by artist.
    fn shared_credits(&self, a: usize, b: usize) -> SharedCredits {
        let t = &self.tables;
        let credits = |song| {
            let range = table::range(&t.credit_offsets, song).unwrap_or(0..0);
            let (artists, roles) = (&t.credit_artists[range.clone()], &t.credit_roles[range]);
            let n = artists.len().min(roles.len());
            (&artists[..n], &roles[..n])
        };
        let ((artists_a, roles_a), (artists_b, roles_b)) = (credits(a), credits(b));
        let mut shared = SharedCredits::default();
        let (mut i, mut j) = (0, 0);
        while i < artists_a.len() && j < artists_b.len() {
            let artist = artists_a[i];
            match artist.cmp(&artists_b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    let (x, y) = (roles_a[i], roles_b[j]);
                    let first = |slot: &mut Option<u32>, holds: bool| {
                        if holds && slot.is_none() {
                            *slot = Some(artist);
                        }
                    };
                    first(
                        &mut shared.featured,
                        (x | y) & role::FEATURED != 0 && x & y & role::PRIMARY == 0,
                    );
                    first(&mut shared.producer, x & y & role::PRODUCER != 0);
                    first(&mut shared.writer, x & y & role::WRITER != 0);
                    first(&mut shared.label, x & y & role::LABEL != 0);
                    first(&mut shared.crew, x & y & role::CREW != 0);
                    i += 1;
                    j += 1;
                }
            }
        }
        shared
    }

    /// An artist's name, by position in the model's artist table.
    fn artist_name(&self, artist: Option<u32>) -> Option<&str> {
        let t = &self.tables;
        Some(t.strings.text(*t.artist_names.get(artist? as usize)?))
    }

    /// The Genius id and name of the song's primary artist, as [`Model::song`] gives them.
    pub(crate) fn primary_artist(&self, index: usize) -> Option<(u64, &str)> {
        let t = &self.tables;
        let artist = *t.song_artist.get(index)? as usize;
        Some((
            t.artist_ids.get(artist).copied().unwrap_or(0),
            t.strings
                .text(t.artist_names.get(artist).copied().unwrap_or(NO_STRING)),
        ))
    }

    fn relation_kind(&self, from: usize, to: usize) -> Option<&str> {
        let t = &self.tables;
        table::range(&t.relation_offsets, from)?
            .find(|&i| t.relation_targets[i] as usize == to)
            .and_then(|i| t.strings.get(t.relation_kinds[t.relation_kind[i] as usize]))
    }
}

#[cfg(test)]
mod tests {
    use songrec_catalog::{Artist, Credit, CreditRole, Performance, Song};

    use super::*;

    /// Forty songs whose credits, drawn from twelve artists in every role, overlap in every
    /// way, trained into a model.
    fn tangled_credits() -> Model {
        let artist = |id: u64| Artist {
            id,
            name: format!("Artist {id}"),
        };
        let mut state = 7u64;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % n
        };
        let songs: Vec<Song> = (1..=40)
            .map(|id| {
                let mut song = Song {
                    pageviews: Some(100 + id),
                    ..Song::new(id, format!("Song {id}"), artist(next(12)))
                };
                for _ in 0..next(7) {
                    let role = CreditRole::ALL[next(4) as usize];
                    song.credits.push(Credit {
                        role,
                        artist: artist(next(12)),
                    });
                }
                for _ in 0..next(4) {
                    let role = ["Label", "Mixing Engineer", "Guitar"][next(3) as usize];
                    song.performances.push(Performance {
                        role: role.into(),
                        artist: artist(next(12)),
                    });
                }
                song
            })
            .collect();
        let params = crate::TrainParams {
            k: 5,
            eval_sample: 10,
            ..crate::TrainParams::default()
        };
        crate::train(&songs, &params).unwrap().model
    }

    /// The first artist of `a`'s credits, in order, credited on `b` too with roles that
    /// satisfy `wanted`, found by searching `b`'s credits for each.
    fn first_shared(model: &Model, a: usize, b: usize, wanted: fn(u8, u8) -> bool) -> Option<u32> {
        let theirs: Vec<(u32, u8)> = model.credit_pairs(b).collect();
        model.credit_pairs(a).find_map(|(artist, role_a)| {
            let pos = theirs.binary_search_by_key(&artist, |&(x, _)| x).ok()?;
            wanted(role_a, theirs[pos].1).then_some(artist)
        })
    }

    #[test]
    fn one_walk_finds_the_first_shared_artist_in_every_role() {
        let model = tangled_credits();
        let mut found = 0;
        for a in 0..model.len() {
            for b in 0..model.len() {
                let shared = model.shared_credits(a, b);
                let want = [
                    first_shared(&model, a, b, |x, y| {
                        (x | y) & role::FEATURED != 0 && x & y & role::PRIMARY == 0
                    }),
                    first_shared(&model, a, b, |x, y| x & y & role::PRODUCER != 0),
                    first_shared(&model, a, b, |x, y| x & y & role::WRITER != 0),
                    first_shared(&model, a, b, |x, y| x & y & role::LABEL != 0),
                    first_shared(&model, a, b, |x, y| x & y & role::CREW != 0),
                ];
                let got = [
                    shared.featured,
                    shared.producer,
                    shared.writer,
                    shared.label,
                    shared.crew,
                ];
                assert_eq!(got, want, "songs {a} and {b}");
                found += got.iter().flatten().count();
            }
        }
        assert!(found > 200, "the catalogue shares too few credits: {found}");
    }

    #[test]
    #[should_panic(expected = "a label must need no JSON escaping")]
    fn a_label_json_would_escape_is_refused() {
        let text = String::from("say \"hi\"").leak();
        Label::new(text);
    }

    #[test]
    fn reasons_read_as_their_parts_joined() {
        assert_eq!(Reason::Text("same album").to_string(), "same album");
        assert_eq!(
            Reason::Fixed(Label::new("same album")).to_string(),
            "same album"
        );
        assert_eq!(
            Reason::Named(Label::new("shared producer "), "Ryan Tedder").to_string(),
            "shared producer Ryan Tedder"
        );
        assert_eq!(Reason::Spaced("cover_of").to_string(), "cover of");
        assert_eq!(Reason::Spaced("_a__b_").to_string(), " a  b ");
        assert_eq!(Reason::Spaced("samples").to_string(), "samples");
    }

    #[test]
    fn asking_ahead_for_reasons_reads_only_what_exists() {
        let model = tangled_credits();
        // Every pair with every bit (more shared artists than the hint keeps), and indices
        // past the catalogue: a hint never reads out of bounds, and changes no answer.
        let before: Vec<Vec<String>> = (0..40).map(|c| model.reasons(0, c, u8::MAX)).collect();
        for q in [0, 7, 39, 40, usize::MAX] {
            let pairs: Vec<(usize, u8)> =
                (0..45).chain([usize::MAX]).map(|c| (c, u8::MAX)).collect();
            model.touch_reasons(q, &pairs);
            model.touch_reasons(q, &[]);
        }
        let after: Vec<Vec<String>> = (0..40).map(|c| model.reasons(0, c, u8::MAX)).collect();
        assert_eq!(before, after);
    }
}
