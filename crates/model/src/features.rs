//! Song vectors: sparse, IDF-weighted, L2-normalised bags of credits, album, relationships,
//! description terms and the artist's circle, plus three context slots (language, era,
//! popularity) that are scored but never used to find candidates.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;
use songrec_catalog::{CreditRole, Song};

use crate::circles::CircleIndex;
use crate::params::TrainParams;

/// What a token stands for; decides its weight, whether it finds candidates and the reason shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Kind {
    Artist = 0,
    Album = 1,
    /// A song taking part in a relationship (the song itself and the songs it links to).
    Song = 2,
    Term = 3,
    /// An entry of the primary artist's profile (see `profile` and [`profile_key`]).
    Circle = 4,
    /// A `custom_performances` label, imprint or publisher.
    Label = 5,
    /// A `custom_performances` person or studio: engineers, session musicians, vocalists, ...
    Crew = 6,
    /// A genre tag, by lower-cased name.
    Tag = 7,
    /// Only in artist profiles: a `custom_performances` role the artist's songs credit
    /// (guitar, mixing engineer, ...), by lower-cased name.
    Role = 8,
    /// Only in artist profiles: a half-decade the artist's songs came out in.
    Era = 9,
}

impl Kind {
    /// Every kind, in order.
    pub const ALL: [Kind; KINDS] = [
        Kind::Artist,
        Kind::Album,
        Kind::Song,
        Kind::Term,
        Kind::Circle,
        Kind::Label,
        Kind::Crew,
        Kind::Tag,
        Kind::Role,
        Kind::Era,
    ];
}

/// Number of [`Kind`]s.
pub(crate) const KINDS: usize = 10;

/// Profile entries of other kinds than collaborators are keyed apart from artist ids (which
/// Genius keeps far below 2^48).
pub(crate) fn profile_key(kind: Kind, value: u64) -> u64 {
    match kind {
        Kind::Artist => value,
        other => ((other as u64) << 56) | (value & ((1 << 56) - 1)),
    }
}

/// Roles an artist token plays on one song (bits), used for reasons.
pub(crate) mod role {
    pub const PRIMARY: u8 = 1;
    pub const FEATURED: u8 = 2;
    pub const PRODUCER: u8 = 4;
    pub const WRITER: u8 = 8;
    /// In the model file's credits only: a `custom_performances` label or publisher.
    pub const LABEL: u8 = 32;
    /// In the model file's credits only: a `custom_performances` engineer, musician, vocalist
    /// or producer (crew).
    pub const CREW: u8 = 64;
}

/// Why a neighbour was chosen (bits of the stored reason code).
pub mod reason {
    pub const SAME_ARTIST: u8 = 1;
    pub const FEATURED: u8 = 2;
    pub const PRODUCER: u8 = 4;
    pub const WRITER: u8 = 8;
    pub const ALBUM: u8 = 16;
    pub const RELATED: u8 = 32;
    /// Shared circle of collaborators or description terms: the same scene.
    pub const SCENE: u8 = 64;
    /// Cold start: nothing specific shared, chosen by language, era and popularity.
    pub const FALLBACK: u8 = 128;
}

/// Relationship kinds that make the two songs versions of one song (a live recording, a remix,
/// a translation, an edit): such songs are never recommended for each other and carry no
/// relationship token.
pub fn is_version_relationship(kind: &str) -> bool {
    matches!(
        kind,
        "performed_live_as"
            | "live_version_of"
            | "remixed_by"
            | "remix_of"
            | "translation_of"
            | "translations"
            | "edit_of"
            | "edited_as"
            | "edits"
    )
}

/// The weight of a relationship token of `kind`, `None` for versions.
fn relationship_weight(params: &TrainParams, kind: &str) -> Option<f32> {
    let w = &params.weights;
    if is_version_relationship(kind) {
        return None;
    }
    Some(match kind {
        "samples" | "sampled_in" => w.rel_sample,
        "interpolates" | "interpolated_by" => w.rel_interpolation,
        "cover_of" | "covered_by" => w.rel_cover,
        _ => w.relationship,
    })
}

/// The token value of a genre tag: its lower-cased name, hashed.
pub(crate) fn tag_value(name: &str) -> u64 {
    fnv1a(name.trim().to_lowercase().as_bytes())
}

/// The distinct `custom_performances` roles of a song, as token values (lower-cased names).
pub(crate) fn performance_roles(song: &Song) -> Vec<u64> {
    let mut roles: Vec<u64> = song
        .performances
        .iter()
        .map(|p| fnv1a(p.role.trim().to_lowercase().as_bytes()))
        .collect();
    roles.sort_unstable();
    roles.dedup();
    roles
}

/// Kind and weight of a `custom_performances` credit in `role`.
pub(crate) fn performance_kind(params: &TrainParams, role: &str) -> (Kind, f32) {
    use songrec_catalog::RoleFamily;
    let family = RoleFamily::of(role);
    let kind = match family {
        RoleFamily::Label | RoleFamily::Publisher => Kind::Label,
        _ => Kind::Crew,
    };
    (kind, params.weights.family(family))
}

/// The reason bit for a shared token, given its kind and the roles on both songs.
pub(crate) fn reason_bit(kind: Kind, a: u8, b: u8) -> u8 {
    match kind {
        Kind::Album => reason::ALBUM,
        Kind::Song => reason::RELATED,
        Kind::Term
        | Kind::Circle
        | Kind::Label
        | Kind::Crew
        | Kind::Tag
        | Kind::Role
        | Kind::Era => reason::SCENE,
        Kind::Artist => {
            let direct = role::PRIMARY | role::FEATURED | role::PRODUCER | role::WRITER;
            if a & direct == 0 || b & direct == 0 {
                reason::SCENE
            } else if a & b & role::PRIMARY != 0 {
                reason::SAME_ARTIST
            } else if (a | b) & role::FEATURED != 0 {
                reason::FEATURED
            } else if (a | b) & role::PRODUCER != 0 {
                reason::PRODUCER
            } else {
                reason::WRITER
            }
        }
    }
}

/// A language, era or popularity bucket; `NONE` when unknown.
pub(crate) const NONE: u32 = u32::MAX;
pub(crate) const CONTEXT_SLOTS: usize = 3;

/// A song's language, era and popularity bucket ids (`NONE` when unknown) and their
/// normalised weights, side by side so one cache line holds both.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    pub ids: [u32; CONTEXT_SLOTS],
    pub weights: [f32; CONTEXT_SLOTS],
}

impl Context {
    /// The context part of the cosine between two songs.
    #[inline]
    pub fn dot(&self, other: &Context) -> f32 {
        let mut sum = 0.0;
        for s in 0..CONTEXT_SLOTS {
            if self.ids[s] == other.ids[s] && self.ids[s] != NONE {
                sum += self.weights[s] * other.weights[s];
            }
        }
        sum
    }
}

/// Every song's vector in CSR form (tokens sorted), with the inverted index over them.
pub(crate) struct Vectors {
    pub n: usize,
    pub offsets: Vec<usize>,
    pub tokens: Vec<u32>,
    pub weights: Vec<f32>,
    pub roles: Vec<u8>,
    pub kinds: Vec<Kind>,
    /// Per song: language, era and popularity bucket ids, and their normalised weights.
    pub context: Vec<Context>,
    pub postings: Postings,
    /// Token id of each hideable fact, for the held-out evaluation.
    pub vocabulary: Vocabulary,
    /// Per song its artist's circle (`NONE` without one). Circles are stored once per artist,
    /// unit vectors scaled by `artist_similarity`; a song's circle weights are these times its `inv_norm`
    pub circle_of: Vec<u32>,
    pub circle_offsets: Vec<usize>,
    pub circle_tokens: Vec<u32>,
    pub circle_weights: Vec<f32>,
    pub inv_norm: Vec<f32>,
    /// The circles indexed by token (circle tokens are not in `postings`).
    pub circles: CircleIndex,
}

/// Token ids by kind and value.
pub(crate) type Vocabulary = HashMap<(Kind, u64), u32, BuildHasherDefault<TokenHasher>>;

/// The vocabulary's hash: multiply and rotate (as rustc's Fx hash), far cheaper than SipHash
/// for the millions of lookups that number the tokens one after the other. Token numbers
/// follow first appearance, not the map; its keys come from the catalogue being trained on.
#[derive(Default, Clone, Copy)]
pub(crate) struct TokenHasher(u64);

impl TokenHasher {
    #[inline]
    fn add(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for TokenHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // The product's best bits are its high ones; the table indexes by the low ones.
        self.0.rotate_left(26)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn write_isize(&mut self, n: isize) {
        self.add(n as u64);
    }
}

/// The inverted index: for each direct token, the songs that carry it.
pub(crate) struct Postings {
    pub offsets: Vec<usize>,
    pub songs: Vec<u32>,
    pub weights: Vec<f32>,
    pub roles: Vec<u8>,
}

impl Vectors {
    pub fn song(&self, i: usize) -> (&[u32], &[f32], &[u8]) {
        let r = self.offsets[i]..self.offsets[i + 1];
        (
            &self.tokens[r.clone()],
            &self.weights[r.clone()],
            &self.roles[r],
        )
    }

    /// The song's circle tokens and unnormalised weights (empty without a circle).
    pub fn circle(&self, i: usize) -> (&[u32], &[f32]) {
        let c = self.circle_of[i];
        if c == NONE {
            return (&[], &[]);
        }
        let r = self.circle_offsets[c as usize]..self.circle_offsets[c as usize + 1];
        (&self.circle_tokens[r.clone()], &self.circle_weights[r])
    }

    /// Songs carrying `token`, directly or through their circle.
    pub fn document_frequency(&self, token: u32) -> usize {
        let t = token as usize;
        self.postings.offsets[t + 1] - self.postings.offsets[t] + self.circles.song_df[t] as usize
    }
}

/// A stable 64-bit hash (FNV-1a), so tokens do not depend on the process.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// [`fnv1a`] of the lower-cased word, without building it when the word is ASCII.
fn lowercase_fnv1a(word: &str) -> u64 {
    if !word.is_ascii() {
        return fnv1a(word.to_lowercase().as_bytes());
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in word.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The words of a song's description that say something beyond the song's other fields:
/// [`description_terms`] without the words of its title, album and primary artist's name.
/// Every description repeats those, tokens of their own already carry them, and their words
/// would link songs by name alone (titles share everyday words; stage names share "Lil",
/// "Big", "King").
pub(crate) fn song_description_terms(song: &Song) -> Vec<u64> {
    let Some(text) = &song.description else {
        return Vec::new();
    };
    let mut terms = description_terms(text);
    let mut own = description_terms(&song.title);
    own.extend(description_terms(&song.primary_artist.name));
    if let Some(album) = &song.album {
        own.extend(description_terms(&album.name));
    }
    terms.retain(|t| !own.contains(t));
    terms
}

/// Lower-cased words of at least three characters, not all digits, each once.
pub(crate) fn description_terms(text: &str) -> Vec<u64> {
    let mut terms: Vec<u64> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(lowercase_fnv1a)
        .collect();
    terms.sort_unstable();
    terms.dedup();
    terms
}

pub(crate) fn era_bucket(song: &Song) -> Option<i32> {
    song.release_year.map(|y| y.div_euclid(5))
}

pub(crate) fn popularity_bucket(song: &Song) -> Option<i32> {
    // Half-decades of pageviews: 1-3, 3-10, 10-31, ...
    song.pageviews
        .map(|p| ((p as f64 + 1.0).log10() * 2.0).floor() as i32)
}

/// One song's normalised tokens, weights and roles, and its context weights.
type SongVector = (Vec<u32>, Vec<f32>, Vec<u8>, [f32; CONTEXT_SLOTS], f32);

/// A raw feature before interning: kind, value, role bits, weight before IDF.
type Raw = (Kind, u64, u8, f32);

fn role_weight(params: &TrainParams, role: CreditRole) -> (u8, f32) {
    let w = &params.weights;
    match role {
        CreditRole::Primary => (role::PRIMARY, w.primary_artist),
        CreditRole::Featured => (role::FEATURED, w.featured_artist),
        CreditRole::Producer => (role::PRODUCER, w.producer),
        CreditRole::Writer => (role::WRITER, w.writer),
    }
}

/// `terms` are the song's [`song_description_terms`].
fn raw_features(song: &Song, terms: &[u64], params: &TrainParams) -> Vec<Raw> {
    let w = &params.weights;
    let mut raw: Vec<Raw> = Vec::with_capacity(16 + song.credits.len());
    let (bit, weight) = role_weight(params, CreditRole::Primary);
    raw.push((Kind::Artist, song.primary_artist.id, bit, weight));
    for credit in &song.credits {
        let (bit, weight) = role_weight(params, credit.role);
        raw.push((Kind::Artist, credit.artist.id, bit, weight));
    }
    if let Some(album) = &song.album {
        raw.push((Kind::Album, album.id, 0, w.album));
    }
    // The song itself takes part in its links with the weight of the strongest one.
    let mut own: f32 = 0.0;
    for rel in &song.relationships {
        if let Some(weight) = relationship_weight(params, &rel.kind) {
            raw.push((Kind::Song, rel.song_id, 0, weight));
            own = own.max(weight);
        }
    }
    if own > 0.0 {
        raw.push((Kind::Song, song.id, 0, own));
    }
    for p in &song.performances {
        let (kind, weight) = performance_kind(params, &p.role);
        if p.artist.id != song.primary_artist.id {
            raw.push((kind, p.artist.id, 0, weight));
        }
    }
    for (i, tag) in song.tags.iter().enumerate() {
        let primary = i == 0 && song.primary_tag.as_deref() == Some(tag.as_str());
        let weight = if primary { w.primary_tag } else { w.tag };
        raw.push((Kind::Tag, tag_value(tag), 0, weight));
    }
    for &term in terms {
        raw.push((Kind::Term, term, 0, w.description));
    }
    raw.retain(|r| r.3 > 0.0);
    // One entry per token: the strongest role's weight, all role bits.
    raw.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(b.3.total_cmp(&a.3)));
    let mut merged: Vec<Raw> = Vec::with_capacity(raw.len());
    for r in raw {
        match merged.last_mut() {
            Some(last) if last.0 == r.0 && last.1 == r.1 => last.2 |= r.2,
            _ => merged.push(r),
        }
    }
    merged
}

/// Builds every song's vector; `songs` are in browse order (their position is their index).
pub(crate) fn build(songs: &[&Song], params: &TrainParams) -> Vectors {
    let n = songs.len();
    // Each song's description words, read once for its own features and its artist's profile.
    let terms: Vec<Vec<u64>> = songs
        .par_iter()
        .map(|s| song_description_terms(s))
        .collect();
    let raws: Vec<Vec<Raw>> = songs
        .par_iter()
        .zip(&terms)
        .map(|(s, terms)| raw_features(s, terms, params))
        .collect();

    // Circles belong to artists: numbered by first appearance, shared by the artist's songs.
    let mut circle_by_artist: HashMap<u64, Vec<(u64, f32)>> = if params.artist_similarity > 0.0 {
        crate::profile::artist_profiles(songs, &terms, params)
    } else {
        HashMap::new()
    };
    drop(terms);
    let mut circle_ids: HashMap<u64, u32> = HashMap::new();
    let mut circle_raw: Vec<Vec<(u64, f32)>> = Vec::new();
    let mut circle_songs: Vec<u32> = Vec::new();
    let circle_of: Vec<u32> = songs
        .iter()
        .map(|s| {
            let artist = s.primary_artist.id;
            if let Some(&id) = circle_ids.get(&artist) {
                circle_songs[id as usize] += 1;
                return id;
            }
            match circle_by_artist.remove(&artist) {
                Some(circle) if !circle.is_empty() => {
                    let id = circle_raw.len() as u32;
                    circle_ids.insert(artist, id);
                    circle_raw.push(circle);
                    circle_songs.push(1);
                    id
                }
                _ => NONE,
            }
        })
        .collect();
    drop(circle_by_artist);

    let mut vocabulary = Vocabulary::default();
    let mut kinds: Vec<Kind> = Vec::new();
    let mut df: Vec<u32> = Vec::new();
    let mut intern = |kind: Kind, value: u64, count: u32| {
        let next = kinds.len() as u32;
        let id = *vocabulary.entry((kind, value)).or_insert(next);
        if id == next {
            kinds.push(kind);
            df.push(0);
        }
        df[id as usize] += count;
        id
    };
    let ids: Vec<Vec<u32>> = raws
        .iter()
        .map(|raw| raw.iter().map(|r| intern(r.0, r.1, 1)).collect())
        .collect();
    let circle_token_ids: Vec<Vec<u32>> = circle_raw
        .iter()
        .zip(&circle_songs)
        .map(|(circle, &songs)| {
            circle
                .iter()
                .map(|(key, _)| intern(Kind::Circle, *key, songs))
                .collect()
        })
        .collect();

    let max_term_df = ((params.description_max_df * n as f64).floor() as u32).max(2);
    // Smoothed IDF: a credit shared by two songs weighs far more than one on every record.
    let idf: Vec<f32> = df
        .iter()
        .zip(&kinds)
        .map(|(&d, &kind)| {
            let useful = d >= 2 && (kind != Kind::Term || d <= max_term_df);
            if useful {
                ((1.0 + n as f64) / (1.0 + d as f64)).ln() as f32 + 1.0
            } else {
                0.0
            }
        })
        .collect();

    let mut circle_offsets = vec![0usize];
    let mut circle_tokens = Vec::new();
    let mut circle_weights = Vec::new();
    let mut circle_norm2 = Vec::with_capacity(circle_raw.len());
    for (circle, token_ids) in circle_raw.iter().zip(&circle_token_ids) {
        let mut entries: Vec<(u32, f32)> = circle
            .iter()
            .zip(token_ids)
            .filter(|(_, t)| idf[**t as usize] > 0.0)
            .map(|((_, weight), t)| (*t, *weight))
            .collect();
        entries.sort_unstable_by_key(|e| e.0);
        // Profiles are unit vectors scaled to the blend's share: two songs' profile part is
        // `artist_similarity` times the cosine of their artists' profiles.
        let norm = entries.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
        let scale = if norm > 0.0 {
            (params.artist_similarity as f32).sqrt() / norm
        } else {
            0.0
        };
        for e in &mut entries {
            e.1 *= scale;
        }
        circle_norm2.push(if norm > 0.0 { 1.0 } else { 0.0 });
        circle_tokens.extend(entries.iter().map(|e| e.0));
        circle_weights.extend(entries.iter().map(|e| e.1));
        circle_offsets.push(circle_tokens.len());
    }

    let context_tokens: Vec<[(u32, f32); CONTEXT_SLOTS]> =
        songs.par_iter().map(|s| context_of(s, params)).collect();

    let per_song: Vec<SongVector> = raws
        .into_par_iter()
        .zip(ids)
        .zip(context_tokens.par_iter())
        .zip(circle_of.par_iter())
        .map(|(((raw, ids), ctx), &circle)| {
            let mut entries: Vec<(u32, f32, u8)> = raw
                .iter()
                .zip(&ids)
                .filter(|(_, id)| idf[**id as usize] > 0.0)
                .map(|(r, id)| (*id, r.3 * idf[*id as usize], r.2))
                .collect();
            entries.sort_unstable_by_key(|e| e.0);
            // The song's own part (tokens and context) takes the rest of the unit norm; a song
            // without a profile, or a profile without anything of its own, takes all of it.
            let has_profile = circle_norm2.get(circle as usize).copied().unwrap_or(0.0) > 0.0;
            let own = (entries.iter().map(|e| e.1 * e.1).sum::<f32>()
                + ctx.iter().map(|c| c.1 * c.1).sum::<f32>())
            .sqrt();
            let blend = params.artist_similarity.clamp(0.0, 1.0) as f32;
            let (scale, circle_scale) = match (own > 0.0, has_profile) {
                (true, true) => ((1.0 - blend).sqrt() / own, 1.0),
                (true, false) => (1.0 / own, 0.0),
                (false, true) => (0.0, 1.0 / blend.sqrt()),
                (false, false) => (0.0, 0.0),
            };
            (
                entries.iter().map(|e| e.0).collect(),
                entries.iter().map(|e| e.1 * scale).collect(),
                entries.iter().map(|e| e.2).collect(),
                ctx.map(|c| c.1 * scale),
                circle_scale,
            )
        })
        .collect();

    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0usize);
    let total: usize = per_song.iter().map(|p| p.0.len()).sum();
    let mut tokens = Vec::with_capacity(total);
    let mut weights = Vec::with_capacity(total);
    let mut roles = Vec::with_capacity(total);
    let mut context = Vec::with_capacity(n);
    let mut inv_norm = Vec::with_capacity(n);
    for (t, w, r, cw, scale) in per_song {
        tokens.extend_from_slice(&t);
        weights.extend_from_slice(&w);
        roles.extend_from_slice(&r);
        offsets.push(tokens.len());
        context.push(Context {
            ids: [0; CONTEXT_SLOTS],
            weights: cw,
        });
        inv_norm.push(scale);
    }
    for (slot, tokens) in context.iter_mut().zip(&context_tokens) {
        slot.ids = tokens.map(|x| x.0);
    }
    let mut vectors = Vectors {
        n,
        offsets,
        tokens,
        weights,
        roles,
        kinds,
        context,
        postings: Postings {
            offsets: Vec::new(),
            songs: Vec::new(),
            weights: Vec::new(),
            roles: Vec::new(),
        },
        vocabulary,
        circle_of,
        circle_offsets,
        circle_tokens,
        circle_weights,
        inv_norm,
        circles: CircleIndex::default(),
    };
    vectors.postings = invert(&vectors);
    vectors.circles = CircleIndex::build(
        vectors.kinds.len(),
        &vectors.circle_of,
        &vectors.circle_offsets,
        &vectors.circle_tokens,
        &vectors.circle_weights,
        &vectors.inv_norm,
        &vectors.context,
    );
    vectors
}

/// Language, era and popularity bucket ids with their raw weights. The three use disjoint
/// id ranges only within their own slot, since slots are compared position by position.
fn context_of(song: &Song, params: &TrainParams) -> [(u32, f32); CONTEXT_SLOTS] {
    let w = &params.weights;
    let language = song
        .language
        .as_deref()
        .map(|l| (fnv1a(l.as_bytes()) as u32 & 0x7fff_ffff, w.language));
    let era = era_bucket(song).map(|e| (e as u32 & 0x7fff_ffff, w.era));
    let popularity = popularity_bucket(song).map(|p| (p as u32, w.popularity));
    [language, era, popularity].map(|slot| match slot {
        Some((id, weight)) if weight > 0.0 => (id, weight),
        _ => (NONE, 0.0),
    })
}

fn invert(v: &Vectors) -> Postings {
    let mut counts = vec![0usize; v.kinds.len() + 1];
    for &t in &v.tokens {
        counts[t as usize + 1] += 1;
    }
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
    let total = counts[v.kinds.len()];
    let offsets = counts.clone();
    let mut next = counts;
    let mut songs = vec![0u32; total];
    let mut weights = vec![0f32; total];
    let mut roles = vec![0u8; total];
    // Songs are visited in index order, so every posting list comes out sorted by song.
    for song in 0..v.n {
        let (song_tokens, song_weights, song_roles) = v.song(song);
        for ((&t, &w), &r) in song_tokens.iter().zip(song_weights).zip(song_roles) {
            let slot = next[t as usize];
            next[t as usize] += 1;
            songs[slot] = song as u32;
            weights[slot] = w;
            roles[slot] = r;
        }
    }
    Postings {
        offsets,
        songs,
        weights,
        roles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_hash_as_their_lower_case_whatever_the_script() {
        for word in [
            "MiXeD123",
            "abc",
            "",
            "Ärger",
            "İstanbul",
            "ΣΊΣΥΦΟΣ",
            "straße",
            "ǅemal",
        ] {
            assert_eq!(
                lowercase_fnv1a(word),
                fnv1a(word.to_lowercase().as_bytes()),
                "{word}"
            );
        }
        assert_ne!(lowercase_fnv1a("Abc"), fnv1a(b"Abc"));
    }
}
