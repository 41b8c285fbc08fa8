//! Artist profiles: what an artist's songs share (collaborators, labels, crew, roles, tags,
//! eras, description words), as a TF-IDF document over artists. Songs are compared through
//! their artists' profiles as well as their own tokens (`artist_similarity`), so songs of
//! similar artists are found even when the two songs share no credit.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rayon::prelude::*;
use songrec_catalog::Song;

use crate::features::{
    Kind, TokenHasher, era_bucket, performance_kind, performance_roles, profile_key, tag_value,
};
use crate::params::TrainParams;

/// The parts of an artist profile. Each part is scaled to unit length, then weighed (see
/// [`Part::weight`]), so that what a part says does not depend on how many entries the source
/// data happens to give it (many crew credits, long descriptions, or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    /// Artists credited on the songs (featured, producers, writers).
    Collaborators,
    /// `custom_performances` labels, imprints and distributors.
    Labels,
    /// `custom_performances` publishers, rights societies and licensing.
    Publishers,
    /// `custom_performances` people and studios (engineers, musicians, ...).
    Crew,
    /// `custom_performances` role names.
    Roles,
    Tags,
    /// Half-decades of release.
    Era,
    /// Description words.
    Terms,
}

const PARTS: usize = 8;

impl Part {
    fn weight(self, params: &TrainParams) -> f32 {
        let w = &params.weights;
        match self {
            Part::Collaborators => w.artist_circle,
            Part::Labels => w.artist_labels,
            Part::Publishers => w.artist_publishers,
            Part::Crew => w.artist_crew,
            Part::Roles => w.artist_roles,
            Part::Tags => w.artist_tags,
            Part::Era => w.artist_era,
            Part::Terms => w.artist_terms,
        }
    }

    /// How many entries the part keeps (its most weighty).
    fn size(self, params: &TrainParams) -> usize {
        match self {
            Part::Collaborators => params.circle_size,
            Part::Terms => params.profile_terms,
            _ => params.profile_size,
        }
    }
}

/// The profile entries one song gives its primary artist: (key, part, weight within the part).
/// Keys are [`profile_key`]s; an entry appears once, with the strongest weight it has on the
/// song.
/// `terms` are the song's [`crate::features::song_description_terms`].
fn profile_entries(song: &Song, terms: &[u64], params: &TrainParams) -> Vec<(u64, Part, f32)> {
    let w = &params.weights;
    let primary = song.primary_artist.id;
    let mut entries: Vec<(u64, Part, f32)> = Vec::new();
    for credit in &song.credits {
        if credit.artist.id != primary {
            entries.push((credit.artist.id, Part::Collaborators, 1.0));
        }
    }
    for p in &song.performances {
        use songrec_catalog::RoleFamily;
        let family = RoleFamily::of(&p.role);
        let (kind, weight) = performance_kind(params, &p.role);
        if p.artist.id != primary {
            let part = match family {
                RoleFamily::Label => Part::Labels,
                RoleFamily::Publisher => Part::Publishers,
                _ => Part::Crew,
            };
            // Within a part, only the crew's families weigh differently.
            let weight = if part == Part::Crew { weight } else { 1.0 };
            entries.push((profile_key(kind, p.artist.id), part, weight));
        }
    }
    for role in performance_roles(song) {
        entries.push((profile_key(Kind::Role, role), Part::Roles, 1.0));
    }
    for (i, tag) in song.tags.iter().enumerate() {
        let primary_tag = i == 0 && song.primary_tag.as_deref() == Some(tag.as_str());
        let weight = if primary_tag { w.primary_tag } else { w.tag };
        entries.push((profile_key(Kind::Tag, tag_value(tag)), Part::Tags, weight));
    }
    if let Some(era) = era_bucket(song) {
        entries.push((profile_key(Kind::Era, era as u64), Part::Era, 1.0));
    }
    for &term in terms {
        entries.push((profile_key(Kind::Term, term), Part::Terms, 1.0));
    }
    entries.retain(|e| e.2 > 0.0 && e.1.weight(params) > 0.0 && e.1.size(params) > 0);
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.2.total_cmp(&a.2)));
    entries.dedup_by_key(|e| e.0);
    entries
}

/// Each primary artist's profile: a TF-IDF document over artists, in parts ([`Part`]). An
/// entry (a collaborator, a label or crew member, a `custom_performances` role, a genre tag, a
/// half-decade, a description word) weighs the share of the artist's songs carrying it (times
/// its role family's weight) times how rare it is among artists,
/// `ln((1 + artists) / (1 + artists carrying it))`: a mastering engineer or publisher on half
/// the artists' records says little about any of them. Entries of one artist alone link it to
/// nobody and are dropped, as are words on a single song of the artist. Each part keeps its
/// weightiest entries, is scaled to unit length and weighed. Keys are [`profile_key`]s.
pub(crate) fn artist_profiles(
    songs: &[&Song],
    terms: &[Vec<u64>],
    params: &TrainParams,
) -> HashMap<u64, Vec<(u64, f32)>> {
    let per_song: Vec<Vec<(u64, Part, f32)>> = songs
        .par_iter()
        .zip(terms)
        .map(|(s, terms)| profile_entries(s, terms, params))
        .collect();
    // Each artist's songs, in catalogue order, tallied apart from the others'.
    let mut by_artist: Vec<(u64, u32)> = songs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.primary_artist.id, i as u32))
        .collect();
    by_artist.par_sort_unstable();
    let runs: Vec<&[(u64, u32)]> = by_artist.chunk_by(|a, b| a.0 == b.0).collect();
    let tallies: Vec<Tally> = runs
        .par_iter()
        .map(|run| Tally::of(run, &per_song))
        .collect();
    drop(per_song);
    let mut keys: Vec<u64> = tallies
        .par_iter()
        .flat_map_iter(|t| t.entries.iter().map(|e| e.key))
        .collect();
    keys.par_sort_unstable();
    let mut artists_carrying: HashMap<u64, u32, BuildHasherDefault<TokenHasher>> =
        HashMap::default();
    for run in keys.chunk_by(|a, b| a == b) {
        artists_carrying.insert(run[0], run.len() as u32);
    }
    drop(keys);
    let artists = tallies.len() as f32;
    // Smoothed so that an entry of every artist of a two-artist catalogue still counts a little.
    let rarity = |carriers: u32| ((2.0 + artists) / (1.0 + carriers as f32)).ln();
    let rarest = rarity(2);
    tallies
        .into_par_iter()
        .map(|tally| {
            // Per part: (key, share of the artist's songs, weight).
            let mut parts: [Vec<(u64, f32)>; PARTS] = Default::default();
            // Per part, the squared length of the artist's shares over all its entries, those
            // of its own too: a collaborator on one song in ten stays one in ten, however few
            // of the others are shared with anyone.
            let mut lengths = [0.0f32; PARTS];
            // In key order (as tallied), so that sums come out the same however the songs
            // were ordered.
            for e in tally.entries {
                if e.part == Part::Terms && e.songs < 2 {
                    continue;
                }
                let share = e.songs as f32 / tally.songs as f32;
                lengths[e.part as usize] += share * share;
                let carriers = artists_carrying.get(&e.key).copied().unwrap_or(0);
                let weight = share * e.weight * rarity(carriers);
                if carriers >= 2 && weight > 0.0 {
                    parts[e.part as usize].push((e.key, weight));
                }
            }
            let mut profile = Vec::new();
            for (i, mut entries) in parts.into_iter().enumerate() {
                let part = PART_ORDER[i];
                entries.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                entries.truncate(part.size(params));
                // Scaled by the shares alone: a part made of common entries stays weak.
                let norm = lengths[i].sqrt() * rarest;
                if norm > 0.0 {
                    let scale = part.weight(params) / norm;
                    profile.extend(entries.into_iter().map(|(k, w)| (k, w * scale)));
                }
            }
            (tally.artist, profile)
        })
        .collect()
}

/// One artist's songs and, per profile key, what they say of it.
struct Tally {
    artist: u64,
    songs: u32,
    /// In key order.
    entries: Vec<TallyEntry>,
}

struct TallyEntry {
    key: u64,
    /// The part of the first song that carries the key.
    part: Part,
    /// The largest weight the key has on a song.
    weight: f32,
    /// Songs carrying the key.
    songs: u32,
}

impl Tally {
    /// The tally of one artist's songs `run` (the artist and an index into `per_song`, in
    /// catalogue order).
    fn of(run: &[(u64, u32)], per_song: &[Vec<(u64, Part, f32)>]) -> Tally {
        let artist = run.first().map_or(0, |r| r.0);
        let mut all: Vec<(u64, Part, f32)> = run
            .iter()
            .flat_map(|&(_, i)| per_song[i as usize].iter().copied())
            .collect();
        // Stable: a key's entries stay in song order, the first song's part first.
        all.sort_by_key(|e| e.0);
        let entries = all
            .chunk_by(|a, b| a.0 == b.0)
            .map(|same| TallyEntry {
                key: same[0].0,
                part: same[0].1,
                weight: same.iter().fold(0.0, |m, e| m.max(e.2)),
                songs: same.len() as u32,
            })
            .collect();
        Tally {
            artist,
            songs: run.len() as u32,
            entries,
        }
    }
}

/// [`Part`]s by their discriminant.
const PART_ORDER: [Part; PARTS] = [
    Part::Collaborators,
    Part::Labels,
    Part::Publishers,
    Part::Crew,
    Part::Roles,
    Part::Tags,
    Part::Era,
    Part::Terms,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::song_description_terms;
    use crate::test_songs::produced as song;

    #[test]
    fn an_entry_weighs_its_share_of_the_artists_songs_times_its_rarity_among_artists() {
        // Artist 1's ten songs: producer 100 on all, 101 on one, 102 (its own) on five.
        let mut songs: Vec<Song> = (0..10u64)
            .map(|i| {
                let mut producers = vec![100];
                if i == 0 {
                    producers.push(101);
                }
                if i < 5 {
                    producers.push(102);
                }
                song(i, 1, &producers)
            })
            .collect();
        songs.push(song(20, 2, &[100, 101]));
        songs.push(song(30, 3, &[100]));
        songs.push(song(40, 4, &[]));
        let refs: Vec<&Song> = songs.iter().collect();
        let params = TrainParams::default();
        let terms: Vec<Vec<u64>> = refs.iter().map(|s| song_description_terms(s)).collect();
        let profiles = artist_profiles(&refs, &terms, &params);
        let profile: HashMap<u64, f32> = profiles[&1].iter().copied().collect();
        // Producer 102 links artist 1 to nobody: not in the profile, yet its share still
        // counts in the part's length (1 + 0.01 + 0.25).
        assert!(!profile.contains_key(&102), "{profile:?}");
        let rarity = |carriers: f32| (6.0f32 / (1.0 + carriers)).ln();
        let scale = params.weights.artist_circle / (1.26f32.sqrt() * rarity(2.0));
        assert!(
            (profile[&100] - rarity(3.0) * scale).abs() < 1e-6,
            "{profile:?}"
        );
        assert!((profile[&101] - 0.1 * rarity(2.0) * scale).abs() < 1e-6);
        // An artist with nothing shared has an empty profile.
        assert!(profiles[&4].is_empty());
    }
}
