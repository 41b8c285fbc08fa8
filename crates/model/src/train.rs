//! Training: order the catalogue, build features, precompute neighbours, evaluate.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::time::Instant;

use rayon::prelude::*;
use songrec_catalog::{Song, browse_order};

use crate::evaluate::{self, Link, Links, splitmix64};
use crate::features::{self, Kind, TokenHasher, role};
use crate::order::Order;
use crate::original::OriginalModel;
use crate::params::{FeatureSet, TrainParams};
use crate::search::{Hit, Query, Scratch, Searcher};
use crate::versions;
use crate::{Explanations, Model, ModelError, ModelInfo, PRIMARY_METRIC, Trained};

/// Top-list length that the evaluation metrics look at.
const EVAL_K: usize = 10;

/// Builds features, finds neighbours, evaluates; the songs may come in any order.
pub fn train(songs: &[Song], params: &TrainParams) -> Result<Trained, ModelError> {
    if params.k == 0 || params.k > crate::MAX_K {
        return Err(ModelError::Params(format!(
            "k must be between 1 and {}",
            crate::MAX_K
        )));
    }
    let started = Instant::now();
    let mut timings = BTreeMap::new();
    let ordered = browse_ordered(songs);
    let n = ordered.len();
    if n < 2 {
        return Err(ModelError::Training(format!(
            "the catalogue holds {n} distinct song(s); at least 2 are needed"
        )));
    }
    let k = params.k.min(n - 1);
    // The features and the search work in search order; the model's tables and the
    // evaluation are in browse order.
    let order = Order::new(&ordered, params.features);
    let searched = order.searched(&ordered);
    let pageviews: Vec<Option<u64>> = searched.iter().map(|s| s.pageviews).collect();
    let search_artists: Vec<u64> = searched.iter().map(|s| s.primary_artist.id).collect();
    let artists: Vec<u64> = ordered.iter().map(|s| s.primary_artist.id).collect();
    timings.insert("prepare".to_string(), started.elapsed().as_secs_f64());
    // The evaluation's links, the version groups and the model's explanations are built
    // beside the features, whose single-threaded stretches leave a core free.
    let t = Instant::now();
    let (vectors, ((links, groups), explanations)) = rayon::join(
        || (params.features == FeatureSet::Full).then(|| features::build(&searched, params)),
        || {
            rayon::join(
                || {
                    rayon::join(
                        || Links::new(&ordered),
                        || versions::version_groups(&searched),
                    )
                },
                || explanations(&ordered),
            )
        },
    );
    let hidden = links.sample_hidden(&ordered, params.eval_sample, params.seed);
    // What building the features freed goes back before the search allocates its own.
    release_free_memory();
    if vectors.is_some() {
        timings.insert("features".to_string(), t.elapsed().as_secs_f64());
    }
    let mut metrics = BTreeMap::new();

    let mut neighbours = vec![0u32; n * k];
    let mut scores = vec![0u16; n * k];
    let mut reasons = vec![0u8; n * k];
    let heldout_tops: Vec<Vec<u32>>;
    match vectors {
        Some(vectors) => {
            metrics.insert("vocabulary_size".to_string(), vectors.kinds.len() as f64);
            let exact = n <= params.exact_max_songs;
            metrics.insert("search_exact".to_string(), if exact { 1.0 } else { 0.0 });
            let searcher = Searcher::new(
                &vectors,
                search_artists.clone(),
                &pageviews,
                (!exact).then_some(params.candidate_max_df),
                params.same_artist_share,
            )
            .with_profile_max_df(params.profile_max_df)
            .with_versions(groups.clone());
            let t = Instant::now();
            search_all(
                &vectors,
                &searcher,
                k,
                &order,
                Tables {
                    neighbours: &mut neighbours,
                    scores: &mut scores,
                    reasons: &mut reasons,
                },
            );
            timings.insert("search".to_string(), t.elapsed().as_secs_f64());

            let t = Instant::now();
            let traces = Traces::new(&searched);
            heldout_tops = hidden
                .par_iter()
                .map_init(
                    || Scratch::new(&vectors),
                    |scratch, &(q, link)| {
                        heldout_query(&searcher, &traces, &order, q, link, scratch)
                    },
                )
                .collect();
            if !exact {
                let recall = approximate_recall(
                    &vectors,
                    &groups,
                    &search_artists,
                    &pageviews,
                    Stored {
                        neighbours: &neighbours,
                        k,
                        order: &order,
                    },
                    params,
                );
                metrics.insert("ann_recall_at_10".to_string(), recall);
            }
            timings.insert("evaluation".to_string(), t.elapsed().as_secs_f64());
        }
        None => {
            let t = Instant::now();
            // The original features are searched in browse order: `pageviews` is in it.
            let names: Vec<&str> = ordered
                .iter()
                .map(|s| s.primary_artist.name.as_str())
                .collect();
            let model = OriginalModel::new(&pageviews, &names);
            timings.insert("features".to_string(), t.elapsed().as_secs_f64());
            let t = Instant::now();
            neighbours
                .par_chunks_mut(k)
                .zip(scores.par_chunks_mut(k))
                .zip(reasons.par_chunks_mut(k))
                .enumerate()
                .for_each(|(q, ((nb, sc), rs))| store_row(&model.search(q, k), nb, sc, rs));
            timings.insert("search".to_string(), t.elapsed().as_secs_f64());
            // The original model ignores credits and relationships, so hiding one changes
            // nothing: its held-out answer is its ordinary top list.
            heldout_tops = hidden
                .iter()
                .map(|&(q, _)| neighbours[q * k..q * k + k.min(EVAL_K)].to_vec())
                .collect();
            metrics.insert("search_exact".to_string(), 1.0);
        }
    }

    // The features and the search structures are gone; what they held goes back to the system
    // before the model's tables are assembled, instead of staying beside them.
    release_free_memory();
    let t = Instant::now();
    let heldout: Vec<(usize, Link, Vec<u32>)> = hidden
        .iter()
        .zip(heldout_tops)
        .map(|(&(q, link), top)| (q, link, top))
        .collect();
    metrics.insert(
        PRIMARY_METRIC.to_string(),
        evaluate::hit_rate(&links, &artists, &heldout),
    );
    metrics.insert("heldout_queries".to_string(), heldout.len() as f64);
    let tops: Vec<&[u32]> = neighbours
        .chunks(k)
        .map(|row| &row[..k.min(EVAL_K)])
        .collect();
    metrics.insert("coverage_at_10".to_string(), evaluate::coverage(n, &tops));
    metrics.insert(
        "same_artist_share_at_10".to_string(),
        evaluate::same_artist_share(&artists, &tops),
    );
    metrics.insert(
        "popularity_bias_at_10".to_string(),
        evaluate::popularity_bias(n, &tops),
    );
    let fallback = reasons
        .chunks(k)
        .flat_map(|row| &row[..k.min(EVAL_K)])
        .filter(|&&r| r == crate::reason::FALLBACK)
        .count();
    metrics.insert(
        "fallback_share_at_10".to_string(),
        fallback as f64 / (n * k.min(EVAL_K)) as f64,
    );
    *timings.entry("evaluation".to_string()).or_insert(0.0) += t.elapsed().as_secs_f64();

    let t = Instant::now();
    let info = ModelInfo {
        trained_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        params: params.to_map(),
        metrics,
        songs: n,
    };
    // Each song's details are read where they are as its columns are written.
    let model = Model::from_parts(
        info,
        ordered.iter().copied(),
        k,
        neighbours,
        scores,
        reasons,
        explanations,
    );
    timings.insert("assemble".to_string(), t.elapsed().as_secs_f64());
    timings.insert("total".to_string(), started.elapsed().as_secs_f64());
    Ok(Trained { model, timings })
}

/// Returns the allocator's free memory to the system. glibc keeps freed blocks in its heaps
/// (and, once a large block has been freed, serves later large ones from the heaps too), so
/// without this the search's structures, then the model's tables, are allocated beside the
/// memory the step before them freed: 100,000 songs peaked about 80 MiB higher.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The held-out hit rate@10 that `params` reach on `songs`, without building neighbour lists:
/// the same sample of hidden facts (it depends on the catalogue and `params.seed` only) and the
/// same queries as [`train`] evaluates. Scoring a champion's parameters this way on the
/// catalogue a candidate was trained on compares the two like with like.
pub fn heldout_hit_rate(songs: &[Song], params: &TrainParams) -> Result<f64, ModelError> {
    let ordered = browse_ordered(songs);
    let n = ordered.len();
    if n < 2 {
        return Err(ModelError::Training(format!(
            "the catalogue holds {n} distinct song(s); at least 2 are needed"
        )));
    }
    let order = Order::new(&ordered, params.features);
    let searched = order.searched(&ordered);
    let pageviews: Vec<Option<u64>> = searched.iter().map(|s| s.pageviews).collect();
    let artists: Vec<u64> = ordered.iter().map(|s| s.primary_artist.id).collect();
    let links = Links::new(&ordered);
    let hidden = links.sample_hidden(&ordered, params.eval_sample, params.seed);
    // What building the features freed goes back before the search allocates its own.
    release_free_memory();
    let tops: Vec<Vec<u32>> = match params.features {
        FeatureSet::Full => {
            let vectors = features::build(&searched, params);
            let exact = n <= params.exact_max_songs;
            let searcher = Searcher::new(
                &vectors,
                searched.iter().map(|s| s.primary_artist.id).collect(),
                &pageviews,
                (!exact).then_some(params.candidate_max_df),
                params.same_artist_share,
            )
            .with_profile_max_df(params.profile_max_df)
            .with_versions(versions::version_groups(&searched));
            let traces = Traces::new(&searched);
            hidden
                .par_iter()
                .map_init(
                    || Scratch::new(&vectors),
                    |scratch, &(q, link)| {
                        heldout_query(&searcher, &traces, &order, q, link, scratch)
                    },
                )
                .collect()
        }
        FeatureSet::Original => {
            let names: Vec<&str> = ordered
                .iter()
                .map(|s| s.primary_artist.name.as_str())
                .collect();
            let model = OriginalModel::new(&pageviews, &names);
            hidden
                .par_iter()
                .map(|&(q, _)| {
                    model
                        .search(q, EVAL_K.min(n - 1))
                        .into_iter()
                        .map(|h| h.0)
                        .collect()
                })
                .collect()
        }
    };
    let heldout: Vec<(usize, Link, Vec<u32>)> = hidden
        .iter()
        .zip(tops)
        .map(|(&(q, link), top)| (q, link, top))
        .collect();
    Ok(evaluate::hit_rate(&links, &artists, &heldout))
}

/// Distinct songs (first of each id) in browse order.
fn browse_ordered(songs: &[Song]) -> Vec<&Song> {
    // Sorted on copies of the keys, so that no comparison reads a song; the position breaks
    // ties, as a stable sort would.
    let mut keyed: Vec<(Option<u64>, u64, usize)> = songs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.pageviews, s.id, i))
        .collect();
    keyed.par_sort_unstable_by(|a, b| browse_order((a.0, a.1), (b.0, b.1)).then(a.2.cmp(&b.2)));
    let mut seen = HashSet::with_capacity(keyed.len());
    keyed
        .into_iter()
        .filter(|&(_, id, _)| seen.insert(id))
        .map(|(_, _, i)| &songs[i])
        .collect()
}

fn store_row(hits: &[Hit], nb: &mut [u32], sc: &mut [u16], rs: &mut [u8]) {
    for (slot, hit) in hits.iter().enumerate().take(nb.len()) {
        nb[slot] = hit.0;
        sc[slot] = Model::quantise(hit.1);
        rs[slot] = hit.2;
    }
}

/// Songs answered together: one artist's songs share a circle (split so no group is huge).
const GROUP_SIZE: usize = 64;
/// Songs whose neighbours are held in memory at once before being written to the table.
const BATCH_SONGS: usize = 16_384;

/// The model's neighbour tables: `k` entries per song, in browse order.
struct Tables<'t> {
    neighbours: &'t mut [u32],
    scores: &'t mut [u16],
    reasons: &'t mut [u8],
}

/// Every song's `k` neighbours into the tables, artist by artist.
fn search_all(
    vectors: &features::Vectors,
    searcher: &Searcher<'_>,
    k: usize,
    order: &Order,
    tables: Tables<'_>,
) {
    let mut by_circle: Vec<(u32, u32)> = vectors
        .circle_of
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, i as u32))
        .collect();
    by_circle.sort_unstable();
    let mut groups: Vec<&[(u32, u32)]> = Vec::new();
    for same in by_circle.chunk_by(|a, b| a.0 == b.0) {
        groups.extend(same.chunks(GROUP_SIZE));
    }
    let mut start = 0;
    while start < groups.len() {
        let mut end = start;
        let mut songs = 0;
        while end < groups.len() && songs < BATCH_SONGS {
            songs += groups[end].len();
            end += 1;
        }
        let answers: Vec<Vec<(u32, Vec<Hit>)>> = groups[start..end]
            .par_iter()
            .map_init(
                || Scratch::new(vectors),
                |scratch, group| {
                    let queries: Vec<Query<'_>> = group
                        .iter()
                        .map(|&(_, q)| Query::of_song(vectors, q as usize))
                        .collect();
                    let hits = searcher.search_group(&queries, k, scratch);
                    group.iter().map(|g| g.1).zip(hits).collect()
                },
            )
            .collect();
        for (q, mut hits) in answers.into_iter().flatten() {
            for hit in &mut hits {
                hit.0 = order.browse(hit.0);
            }
            let b = order.browse(q) as usize;
            let row = b * k..(b + 1) * k;
            store_row(
                &hits,
                &mut tables.neighbours[row.clone()],
                &mut tables.scores[row.clone()],
                &mut tables.reasons[row],
            );
        }
        start = end;
    }
}

/// What a hidden fact leaves in a query besides itself: the words of names and titles in the
/// description, and the album it shares with other songs carrying the fact.
struct Traces<'s> {
    songs: &'s [&'s Song],
    index: HashMap<u64, usize>,
    by_album: HashMap<u64, Vec<usize>>,
}

impl<'s> Traces<'s> {
    fn new(songs: &'s [&'s Song]) -> Traces<'s> {
        let mut by_album: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, s) in songs.iter().enumerate() {
            if let Some(album) = &s.album {
                by_album.entry(album.id).or_default().push(i);
            }
        }
        Traces {
            songs,
            index: songs.iter().enumerate().map(|(i, s)| (s.id, i)).collect(),
            by_album,
        }
    }

    /// The name under which `artist` is credited on song `q`.
    fn artist_name(&self, q: usize, artist: u64) -> Option<&'s str> {
        let song = self.songs[q];
        std::iter::once(&song.primary_artist)
            .chain(song.credits.iter().map(|c| &c.artist))
            .chain(song.performances.iter().map(|p| &p.artist))
            .find(|a| a.id == artist)
            .map(|a| a.name.as_str())
    }

    /// Every token of the query that the hidden `link` accounts for, and its circle entries.
    fn hidden_tokens(&self, v: &features::Vectors, q: usize, link: Link) -> (Vec<u32>, Vec<u32>) {
        let song = self.songs[q];
        let mut keys: Vec<(Kind, u64)> = Vec::new();
        let mut circle: Vec<(Kind, u64)> = Vec::new();
        let mut words = String::new();
        match link {
            Link::Artist(a) => {
                for kind in [Kind::Artist, Kind::Label, Kind::Crew] {
                    keys.push((kind, a));
                    circle.push((Kind::Circle, features::profile_key(kind, a)));
                }
                words.push_str(self.artist_name(q, a).unwrap_or_default());
            }
            Link::Related(x) => {
                // The song's own relationship token would still connect it to the partner.
                keys.extend([(Kind::Song, x), (Kind::Song, song.id)]);
                if let Some(&other) = self.index.get(&x) {
                    words.push_str(&self.songs[other].title);
                }
            }
        }
        // The words of the name or title, in the query's description and in its artist's
        // profile of characteristic words.
        for term in features::description_terms(&words) {
            keys.push((Kind::Term, term));
            circle.push((Kind::Circle, features::profile_key(Kind::Term, term)));
        }
        // The album gives the fact away when another song on it carries the fact too.
        if let Some(album) = &song.album {
            let mates = self.by_album.get(&album.id).map_or(&[][..], Vec::as_slice);
            let links = Links::new(&mates.iter().map(|&i| self.songs[i]).collect::<Vec<_>>());
            if (0..mates.len()).any(|m| mates[m] != q && links.has(m, link)) {
                keys.push((Kind::Album, album.id));
            }
        }
        let ids = |keys: Vec<(Kind, u64)>| -> Vec<u32> {
            keys.into_iter()
                .filter_map(|key| v.vocabulary.get(&key).copied())
                .collect()
        };
        (ids(keys), ids(circle))
    }
}

/// The top 10 of the song at browse index `q` with one link, and every trace of it, removed
/// from its vector, as browse indices.
fn heldout_query(
    searcher: &Searcher<'_>,
    traces: &Traces<'_>,
    order: &Order,
    q: usize,
    link: Link,
    scratch: &mut Scratch,
) -> Vec<u32> {
    let q = order.search(q);
    let v = searcher.vectors;
    let (tokens, weights, roles) = v.song(q);
    let (removed, hidden_circle) = traces.hidden_tokens(v, q, link);
    let keep: Vec<usize> = (0..tokens.len())
        .filter(|&i| !removed.contains(&tokens[i]))
        .collect();
    let t: Vec<u32> = keep.iter().map(|&i| tokens[i]).collect();
    let w: Vec<f32> = keep.iter().map(|&i| weights[i]).collect();
    let r: Vec<u8> = keep.iter().map(|&i| roles[i]).collect();
    // A hidden credit leaves the artist's circle and profile too, as far as this query goes.
    let (circle_tokens, circle_weights) = v.circle(q);
    let circle_keep: Vec<usize> = (0..circle_tokens.len())
        .filter(|&i| !hidden_circle.contains(&circle_tokens[i]))
        .collect();
    let ct: Vec<u32> = circle_keep.iter().map(|&i| circle_tokens[i]).collect();
    let cw: Vec<f32> = circle_keep.iter().map(|&i| circle_weights[i]).collect();
    let query = Query {
        index: q,
        tokens: &t,
        weights: &w,
        roles: &r,
        circle_tokens: &ct,
        circle_weights: &cw,
        inv_norm: v.inv_norm[q],
    };
    searcher
        .search(&query, EVAL_K, scratch)
        .into_iter()
        .map(|h| order.browse(h.0))
        .collect()
}

/// The neighbours stored in the model's table (`k` per song, browse order), and the order
/// the search saw the songs in.
struct Stored<'t> {
    neighbours: &'t [u32],
    k: usize,
    order: &'t Order,
}

/// Recall@10 of the stored (approximate) neighbours against exact search, on a sample.
fn approximate_recall(
    vectors: &features::Vectors,
    groups: &[u32],
    artists: &[u64],
    pageviews: &[Option<u64>],
    stored: Stored<'_>,
    params: &TrainParams,
) -> f64 {
    let Stored {
        neighbours,
        k,
        order,
    } = stored;
    let n = vectors.n;
    let exact = Searcher::new(
        vectors,
        artists.to_vec(),
        pageviews,
        None,
        params.same_artist_share,
    )
    .with_versions(groups.to_vec());
    // Browse indices.
    let sample: Vec<usize> = {
        let mut ranked: Vec<(u64, usize)> = (0..n)
            .map(|i| (splitmix64(params.seed.wrapping_add(0x5eed) ^ i as u64), i))
            .collect();
        ranked.sort_unstable();
        ranked
            .into_iter()
            .take(params.recall_sample)
            .map(|x| x.1)
            .collect()
    };
    let top = k.min(EVAL_K);
    let exact_tops: Vec<Vec<u32>> = sample
        .par_iter()
        .map_init(
            || Scratch::new(vectors),
            |scratch, &q| {
                let query = Query::of_song(vectors, order.search(q));
                exact
                    .search(&query, top, scratch)
                    .into_iter()
                    .map(|h| order.browse(h.0))
                    .collect()
            },
        )
        .collect();
    let approximate_tops: Vec<Vec<u32>> = sample
        .iter()
        .map(|&q| neighbours[q * k..q * k + top].to_vec())
        .collect();
    evaluate::recall(&approximate_tops, &exact_tops)
}

/// Credited artists and relationships per song, for serving-time reasons.
fn explanations(ordered: &[&Song]) -> Explanations {
    let index: HashMap<u64, u32, BuildHasherDefault<TokenHasher>> = ordered
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i as u32))
        .collect();
    let mut e = Explanations {
        credit_offsets: vec![0],
        relation_offsets: vec![0],
        ..Explanations::default()
    };
    let mut name_ids: HashMap<u64, u32, BuildHasherDefault<TokenHasher>> = HashMap::default();
    let mut kind_ids: HashMap<&str, u8> = HashMap::new();
    for song in ordered {
        let mut credits: Vec<(u32, u8)> = Vec::new();
        let all = std::iter::once((role::PRIMARY, &song.primary_artist)).chain(
            song.credits.iter().map(|c| {
                let bit = match c.role {
                    songrec_catalog::CreditRole::Primary => role::PRIMARY,
                    songrec_catalog::CreditRole::Featured => role::FEATURED,
                    songrec_catalog::CreditRole::Producer => role::PRODUCER,
                    songrec_catalog::CreditRole::Writer => role::WRITER,
                };
                (bit, &c.artist)
            }),
        );
        // Labels and crew, so that reasons can name them; visual and other roles say little.
        let performances = song.performances.iter().filter_map(|p| {
            use songrec_catalog::RoleFamily as F;
            match F::of(&p.role) {
                F::Label | F::Publisher => Some((role::LABEL, &p.artist)),
                F::Engineer | F::Production | F::Musician | F::Vocals => {
                    Some((role::CREW, &p.artist))
                }
                F::Visual | F::Other => None,
            }
        });
        for (bit, artist) in all.chain(performances) {
            let next = e.names.len() as u32;
            let id = *name_ids.entry(artist.id).or_insert(next);
            if id == next {
                e.names.push(artist.name.clone());
                e.artist_ids.push(artist.id);
            }
            credits.push((id, bit));
        }
        credits.sort_unstable();
        for (id, bit) in credits {
            if e.credit_names.last() == Some(&id)
                && e.credit_names.len() > *e.credit_offsets.last().unwrap_or(&0) as usize
            {
                if let Some(last) = e.credit_roles.last_mut() {
                    *last |= bit;
                }
            } else {
                e.credit_names.push(id);
                e.credit_roles.push(bit);
            }
        }
        e.credit_offsets.push(e.credit_names.len() as u32);
        for rel in &song.relationships {
            let Some(&target) = index.get(&rel.song_id) else {
                continue;
            };
            // At most 256 kinds fit a byte; beyond that the kind is shown generically.
            let kind = match kind_ids.get(rel.kind.as_str()) {
                Some(&k) => k,
                None if e.relation_kinds.len() < 256 => {
                    let k = e.relation_kinds.len() as u8;
                    e.relation_kinds.push(rel.kind.clone());
                    kind_ids.insert(rel.kind.as_str(), k);
                    k
                }
                None => continue,
            };
            e.relation_targets.push(target);
            e.relation_kind.push(kind);
        }
        e.relation_offsets.push(e.relation_targets.len() as u32);
    }
    e
}
