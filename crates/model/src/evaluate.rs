//! Offline evaluation without user data: held-out links, coverage, same-artist share,
//! popularity bias, and scene precision against a generated catalogue's ground truth.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use songrec_catalog::Song;

/// The metric that decides promotion (higher is better).
pub const PRIMARY_METRIC: &str = "heldout_hit_rate_at_10";

/// A fact linking songs that evaluation can hide: a credited artist or a relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Link {
    Artist(u64),
    /// Taking part in a relationship with this song (or being it).
    Related(u64),
}

/// Each song's links, sorted, for checking whether a recommended song shares a hidden one.
pub(crate) struct Links {
    per_song: Vec<Vec<Link>>,
}

impl Links {
    /// `songs` in browse order.
    pub fn new(songs: &[&Song]) -> Links {
        let per_song = songs
            .iter()
            .map(|s| {
                let mut links: Vec<Link> = std::iter::once(Link::Artist(s.primary_artist.id))
                    .chain(s.credits.iter().map(|c| Link::Artist(c.artist.id)))
                    .chain(
                        s.relationships
                            .iter()
                            .filter(|r| !crate::features::is_version_relationship(&r.kind))
                            .map(|r| Link::Related(r.song_id)),
                    )
                    .collect();
                if links.iter().any(|l| matches!(l, Link::Related(_))) {
                    links.push(Link::Related(s.id));
                }
                links.sort_unstable();
                links.dedup();
                links
            })
            .collect();
        Links { per_song }
    }

    pub fn has(&self, song: usize, link: Link) -> bool {
        self.per_song[song].binary_search(&link).is_ok()
    }

    /// For a sample of songs (seeded), one link to hide: a non-primary credit or a relationship
    /// that a song by another artist shares (finding the artist's own songs proves little).
    pub fn sample_hidden(&self, songs: &[&Song], sample: usize, seed: u64) -> Vec<(usize, Link)> {
        // For each link, the first primary artist carrying it and whether another one does too.
        let mut carriers: HashMap<Link, (u64, bool)> = HashMap::new();
        for (links, song) in self.per_song.iter().zip(songs) {
            let artist = song.primary_artist.id;
            for link in links {
                let entry = carriers.entry(*link).or_insert((artist, false));
                entry.1 |= entry.0 != artist;
            }
        }
        let mut order: Vec<(u64, usize)> = (0..songs.len())
            .map(|i| {
                (
                    splitmix64(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                    i,
                )
            })
            .collect();
        order.sort_unstable();
        let mut chosen = Vec::with_capacity(sample);
        for (h, i) in order {
            if chosen.len() == sample {
                break;
            }
            let primary = Link::Artist(songs[i].primary_artist.id);
            let hideable: Vec<Link> = self.per_song[i]
                .iter()
                .copied()
                .filter(|l| *l != primary && *l != Link::Related(songs[i].id))
                .filter(|l| carriers.get(l).is_some_and(|c| c.1))
                .collect();
            if !hideable.is_empty() {
                let pick = (splitmix64(h) % hideable.len() as u64) as usize;
                chosen.push((i, hideable[pick]));
            }
        }
        chosen
    }
}

pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Share of queries whose top list holds at least one song by another artist with the hidden
/// link; `results` are (query, hidden link, top list).
pub(crate) fn hit_rate(links: &Links, artist: &[u64], results: &[(usize, Link, Vec<u32>)]) -> f64 {
    if results.is_empty() {
        return 0.0;
    }
    let hits = results
        .iter()
        .filter(|(q, link, top)| {
            top.iter()
                .any(|&c| artist[c as usize] != artist[*q] && links.has(c as usize, *link))
        })
        .count();
    hits as f64 / results.len() as f64
}

/// Share of the catalogue that appears in at least one top list.
pub fn coverage(n: usize, tops: &[&[u32]]) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let seen: HashSet<u32> = tops.iter().flat_map(|t| t.iter().copied()).collect();
    seen.len() as f64 / n as f64
}

/// Share of recommended songs by the query's own primary artist.
pub fn same_artist_share(artist: &[u64], tops: &[&[u32]]) -> f64 {
    let (mut same, mut total) = (0usize, 0usize);
    for (q, top) in tops.iter().enumerate() {
        for &c in *top {
            total += 1;
            same += usize::from(artist[c as usize] == artist[q]);
        }
    }
    if total == 0 {
        0.0
    } else {
        same as f64 / total as f64
    }
}

/// Mean popularity percentile of recommended songs (1 = the most viewed song, 0 = the least,
/// by browse order): 0.5 means no popularity bias, higher means popular songs are favoured.
pub fn popularity_bias(n: usize, tops: &[&[u32]]) -> f64 {
    if n < 2 {
        return 0.5;
    }
    let (mut sum, mut total) = (0.0, 0usize);
    for top in tops {
        for &c in *top {
            sum += 1.0 - c as f64 / (n - 1) as f64;
            total += 1;
        }
    }
    if total == 0 { 0.5 } else { sum / total as f64 }
}

/// Mean share of the approximate top list found by exact search.
pub(crate) fn recall(approximate: &[Vec<u32>], exact: &[Vec<u32>]) -> f64 {
    let (mut found, mut total) = (0usize, 0usize);
    for (a, e) in approximate.iter().zip(exact) {
        let a: HashSet<&u32> = a.iter().collect();
        found += e.iter().filter(|c| a.contains(c)).count();
        total += e.len();
    }
    if total == 0 {
        1.0
    } else {
        found as f64 / total as f64
    }
}

/// Where a song sits in a generated catalogue's planted structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruthRow {
    pub scene: u64,
    pub artist: u64,
}

/// Scene precision of a model's top-10 lists, against ground truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SceneReport {
    /// Songs of the model found in the truth file and queried.
    pub queries: usize,
    /// Recommended songs by other artists that are in the query's scene, over all
    /// recommended songs by other artists.
    pub scene_precision_other_artists_at_10: f64,
    /// Recommended songs in the query's scene, any artist.
    pub scene_precision_at_10: f64,
    pub same_artist_share_at_10: f64,
    pub coverage_at_10: f64,
}

/// Parses a truth TSV (`song_id<TAB>scene_id<TAB>artist_id`, one header line).
pub fn parse_truth(text: &str) -> Result<HashMap<u64, TruthRow>, String> {
    let mut rows = HashMap::new();
    for (number, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let parse = |i: usize| -> Result<u64, String> {
            fields
                .get(i)
                .and_then(|f| f.trim().parse().ok())
                .ok_or_else(|| {
                    format!("line {}: expected song_id, scene_id, artist_id", number + 1)
                })
        };
        rows.insert(
            parse(0)?,
            TruthRow {
                scene: parse(1)?,
                artist: parse(2)?,
            },
        );
    }
    Ok(rows)
}

/// Agreement of a model's top-10 lists with per-song labels (a genre, say).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelReport {
    /// Songs of the model found in the labels file and queried.
    pub queries: usize,
    /// Distinct labels in the file.
    pub labels: usize,
    /// Recommended songs by other artists that carry the query's label, over all recommended
    /// labelled songs by other artists.
    pub label_agreement_other_artists_at_10: f64,
    /// Recommended labelled songs that carry the query's label, any artist.
    pub label_agreement_at_10: f64,
    /// Recommended labelled songs by the query's own artist.
    pub same_artist_share_at_10: f64,
    /// Share of the model's songs that appear in at least one top list.
    pub coverage_at_10: f64,
    /// `label_agreement_other_artists_at_10` of the queries carrying each label.
    pub by_label: BTreeMap<String, f64>,
    /// The mean of `by_label`: every label counts the same, however many songs carry it.
    pub label_agreement_other_artists_macro: f64,
}

/// A labels file: each labelled song's label (as a number) and artist, and the labels' names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    pub rows: HashMap<u64, TruthRow>,
    /// Label names; a row's `scene` is its label's position here.
    pub names: Vec<String>,
}

/// Largest labels file read, in lines: a catalogue's worth and then some.
pub const MAX_LABEL_LINES: usize = 20_000_000;

/// Parses a labels TSV (`song_id<TAB>artist_id<TAB>label`; a first line that does not start
/// with a number is a header). Labels are compared as trimmed text.
pub fn parse_labels(text: &str) -> Result<Labels, String> {
    let mut rows = HashMap::new();
    let mut labels: HashMap<&str, u64> = HashMap::new();
    let mut names = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if number >= MAX_LABEL_LINES {
            return Err(format!("more than {MAX_LABEL_LINES} lines"));
        }
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let song = fields.first().and_then(|f| f.trim().parse::<u64>().ok());
        if number == 0 && song.is_none() {
            continue;
        }
        let bad = || format!("line {}: expected song_id, artist_id, label", number + 1);
        let (Some(song), Some(artist), Some(label)) = (
            song,
            fields.get(1).and_then(|f| f.trim().parse::<u64>().ok()),
            fields.get(2).map(|l| l.trim()).filter(|l| !l.is_empty()),
        ) else {
            return Err(bad());
        };
        let next = labels.len() as u64;
        let scene = *labels.entry(label).or_insert_with(|| {
            names.push(label.to_string());
            next
        });
        rows.insert(song, TruthRow { scene, artist });
    }
    Ok(Labels { rows, names })
}

/// Parses a list of artist ids, one per line (blank lines and a first line that is not a
/// number, a header, are skipped).
pub fn parse_artist_ids(text: &str) -> Result<HashSet<u64>, String> {
    let mut ids = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        if number >= MAX_LABEL_LINES {
            return Err(format!("more than {MAX_LABEL_LINES} lines"));
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.parse::<u64>() {
            Ok(id) => {
                ids.insert(id);
            }
            Err(_) if number == 0 => {}
            Err(_) => return Err(format!("line {}: expected an artist id", number + 1)),
        }
    }
    Ok(ids)
}

/// Label agreement of each song's top list (`tops[i]` for song `ids[i]`); with
/// `query_artists`, only the songs of those artists are queried (their lists are still
/// scored against every labelled song), so that agreement can be read on a held-out part of
/// the artists.
pub fn label_report(
    ids: &[u64],
    tops: &[&[u32]],
    labels: &Labels,
    query_artists: Option<&HashSet<u64>>,
) -> LabelReport {
    let t = tally(ids, tops, &labels.rows, |row| {
        query_artists.is_none_or(|a| a.contains(&row.artist))
    });
    let by_label: BTreeMap<String, f64> = t
        .per_scene
        .iter()
        .filter_map(|(&scene, &(agree, other))| {
            let name = labels.names.get(scene as usize)?;
            Some((name.clone(), ratio(agree, other)))
        })
        .collect();
    let macro_agreement = if by_label.is_empty() {
        0.0
    } else {
        by_label.values().sum::<f64>() / by_label.len() as f64
    };
    LabelReport {
        queries: t.queries,
        labels: labels.names.len(),
        label_agreement_other_artists_at_10: ratio(t.other_same_scene, t.other),
        label_agreement_at_10: ratio(t.all_same_scene, t.all),
        same_artist_share_at_10: ratio(t.same_artist, t.all),
        coverage_at_10: ratio(t.seen, ids.len()),
        by_label,
        label_agreement_other_artists_macro: macro_agreement,
    }
}

/// Counts over the queried songs' top lists.
#[derive(Default)]
struct Tally {
    queries: usize,
    other: usize,
    other_same_scene: usize,
    all: usize,
    all_same_scene: usize,
    same_artist: usize,
    /// Distinct songs recommended.
    seen: usize,
    /// Per query scene: (other artists' songs in the scene, other artists' songs).
    per_scene: BTreeMap<u64, (usize, usize)>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn tally(
    ids: &[u64],
    tops: &[&[u32]],
    truth: &HashMap<u64, TruthRow>,
    queried: impl Fn(&TruthRow) -> bool,
) -> Tally {
    let mut t = Tally::default();
    let mut seen: HashSet<u32> = HashSet::new();
    for (q, top) in tops.iter().enumerate() {
        let Some(query) = ids.get(q).and_then(|id| truth.get(id)) else {
            continue;
        };
        if !queried(query) {
            continue;
        }
        t.queries += 1;
        let scene = t.per_scene.entry(query.scene).or_default();
        for &c in *top {
            seen.insert(c);
            let Some(rec) = ids.get(c as usize).and_then(|id| truth.get(id)) else {
                continue;
            };
            t.all += 1;
            t.all_same_scene += usize::from(rec.scene == query.scene);
            if rec.artist == query.artist {
                t.same_artist += 1;
            } else {
                t.other += 1;
                t.other_same_scene += usize::from(rec.scene == query.scene);
                scene.1 += 1;
                scene.0 += usize::from(rec.scene == query.scene);
            }
        }
    }
    t.seen = seen.len();
    t
}

/// Scores each song's top list (`tops[i]` for song `ids[i]`) against the truth; songs missing
/// from the truth are skipped.
pub fn scene_report(ids: &[u64], tops: &[&[u32]], truth: &HashMap<u64, TruthRow>) -> SceneReport {
    let t = tally(ids, tops, truth, |_| true);
    SceneReport {
        queries: t.queries,
        scene_precision_other_artists_at_10: ratio(t.other_same_scene, t.other),
        scene_precision_at_10: ratio(t.all_same_scene, t.all),
        same_artist_share_at_10: ratio(t.same_artist, t.all),
        coverage_at_10: ratio(t.seen, ids.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_distinct_recommended_songs() {
        let tops: Vec<&[u32]> = vec![&[1, 2], &[2, 0], &[1, 0], &[0, 1]];
        assert_eq!(coverage(4, &tops), 0.75);
        assert_eq!(coverage(0, &[]), 0.0);
    }

    #[test]
    fn same_artist_share_compares_primary_artists() {
        let artist = [7, 7, 8, 9];
        // song 0 -> [1 (same), 2], song 1 -> [0 (same), 3], song 2 -> [3, 0], song 3 -> [2, 1]
        let tops: Vec<&[u32]> = vec![&[1, 2], &[0, 3], &[3, 0], &[2, 1]];
        assert_eq!(same_artist_share(&artist, &tops), 2.0 / 8.0);
    }

    #[test]
    fn popularity_bias_is_one_when_only_the_top_song_is_recommended() {
        let tops: Vec<&[u32]> = vec![&[0], &[0], &[0]];
        assert_eq!(popularity_bias(3, &tops), 1.0);
        let tops: Vec<&[u32]> = vec![&[2], &[0]];
        assert_eq!(popularity_bias(3, &tops), 0.5);
    }

    #[test]
    fn recall_is_the_share_of_exact_neighbours_found() {
        let approximate = vec![vec![1, 2, 3], vec![4, 5]];
        let exact = vec![vec![1, 2, 9], vec![5, 6]];
        assert_eq!(recall(&approximate, &exact), 3.0 / 5.0);
    }

    #[test]
    fn scene_precision_ignores_the_query_artists_own_songs() {
        let truth = parse_truth(
            "song_id\tscene_id\tartist_id\n10\t1\t100\n11\t1\t100\n12\t1\t101\n13\t2\t102\n",
        )
        .unwrap();
        let ids = [10, 11, 12, 13];
        // 10 -> [11 same artist, 12 same scene, 13 other scene]; 13 -> [12 other scene]
        let tops: Vec<&[u32]> = vec![&[1, 2, 3], &[], &[], &[2]];
        let report = scene_report(&ids, &tops, &truth);
        assert_eq!(report.queries, 4);
        assert_eq!(report.scene_precision_other_artists_at_10, 1.0 / 3.0);
        assert_eq!(report.scene_precision_at_10, 2.0 / 4.0);
        assert_eq!(report.same_artist_share_at_10, 1.0 / 4.0);
        assert_eq!(report.coverage_at_10, 0.75);
    }

    fn song(id: u64, artist: u64, producer: u64) -> Song {
        crate::test_songs::produced(id, artist, &[producer])
    }

    #[test]
    fn a_hidden_credit_found_only_on_the_artists_own_songs_is_not_a_hit() {
        let songs = [
            song(1, 10, 99),
            song(2, 10, 99),
            song(3, 20, 99),
            song(4, 30, 98),
        ];
        let refs: Vec<&Song> = songs.iter().collect();
        let links = Links::new(&refs);
        let artist = [10, 10, 20, 30];
        let hidden = Link::Artist(99);
        let own_song_only = [(0, hidden, vec![1, 3])];
        assert_eq!(hit_rate(&links, &artist, &own_song_only), 0.0);
        let other_artist = [(0, hidden, vec![3, 2]), (0, hidden, vec![1])];
        assert_eq!(hit_rate(&links, &artist, &other_artist), 0.5);
        // Producer 98 is on one song only: nothing to hide there; 99 is hideable for 1, 2 and 3.
        let sampled = links.sample_hidden(&refs, 10, 7);
        assert_eq!(sampled.len(), 3);
        assert!(sampled.iter().all(|(q, link)| *q < 3 && *link == hidden));
    }

    #[test]
    fn label_agreement_counts_other_artists_songs_carrying_the_querys_label() {
        let labels = parse_labels(
            "song_id\tartist_id\tgenre\n1\t10\trock\n2\t10\trock\n3\t20\trock\n4\t30\tpop\n",
        )
        .unwrap();
        assert_eq!(labels.names, ["rock", "pop"]);
        let ids = [1, 2, 3, 4, 5];
        // 1 -> [2 own artist, 3 rock, 4 pop, 5 unlabelled]; 4 -> [3 rock]
        let tops: Vec<&[u32]> = vec![&[1, 2, 3, 4], &[], &[], &[2], &[]];
        let report = label_report(&ids, &tops, &labels, None);
        assert_eq!(report.queries, 4);
        assert_eq!(report.labels, 2);
        assert_eq!(report.label_agreement_other_artists_at_10, 1.0 / 3.0);
        assert_eq!(report.label_agreement_at_10, 2.0 / 4.0);
        assert_eq!(report.same_artist_share_at_10, 1.0 / 4.0);
        assert_eq!(report.coverage_at_10, 4.0 / 5.0);
        // rock queries: song 1's 2 other artists' songs, one rock; pop: song 4's one, not pop.
        assert_eq!(report.by_label["rock"], 0.5);
        assert_eq!(report.by_label["pop"], 0.0);
        assert_eq!(report.label_agreement_other_artists_macro, 0.25);

        // Only artist 30's songs queried: song 4's list, scored against every label.
        let only: HashSet<u64> = [30].into();
        let report = label_report(&ids, &tops, &labels, Some(&only));
        assert_eq!(report.queries, 1);
        assert_eq!(report.label_agreement_other_artists_at_10, 0.0);
        assert_eq!(report.coverage_at_10, 1.0 / 5.0);
        assert_eq!(report.by_label.len(), 1);
    }

    #[test]
    fn a_labels_file_needs_no_header_and_refuses_short_lines() {
        let labels = parse_labels("7\t1\thip hop\n8\t2\tr&b/soul\n").unwrap();
        assert_eq!((labels.rows.len(), labels.names.len()), (2, 2));
        assert!(parse_labels("h\n7\t1\n").is_err());
        assert!(parse_labels("h\n7\tx\trock\n").is_err());
        assert!(parse_labels("h\n7\t1\t \n").is_err());
    }

    #[test]
    fn artist_lists_take_a_header_and_refuse_other_text() {
        assert_eq!(
            parse_artist_ids("artist_id\n7\n\n 9 \n7\n"),
            Ok([7, 9].into())
        );
        assert!(parse_artist_ids("7\nnine\n").is_err());
    }

    #[test]
    fn truth_lines_that_are_not_three_numbers_are_refused() {
        assert!(parse_truth("h\n1\t2\n").is_err());
        assert!(parse_truth("h\n1\tx\t3\n").is_err());
    }
}
