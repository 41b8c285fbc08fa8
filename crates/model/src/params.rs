//! Training parameters: defaults, `name=value` overrides and the map recorded with each run.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Which features the model is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureSet {
    /// Credits, album, relationships, description terms, language, era and popularity.
    #[default]
    Full,
    /// The replaced system's model: one-hot primary artist name plus standard-scaled pageviews
    /// (missing as 0), cosine; kept to compare the two on the same data.
    Original,
}

impl FeatureSet {
    pub fn as_str(self) -> &'static str {
        match self {
            FeatureSet::Full => "full",
            FeatureSet::Original => "original",
        }
    }
}

impl fmt::Display for FeatureSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FeatureSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(FeatureSet::Full),
            "original" => Ok(FeatureSet::Original),
            other => Err(format!(
                "unknown feature set {other:?} (expected full or original)"
            )),
        }
    }
}

/// Relative weights of each feature family in the song vectors (before IDF and normalisation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureWeights {
    pub primary_artist: f32,
    pub featured_artist: f32,
    pub producer: f32,
    pub writer: f32,
    pub album: f32,
    /// A direct link of a kind without its own weight below.
    pub relationship: f32,
    /// Sampling or being sampled: weak evidence of one scene (anyone samples anything).
    pub rel_sample: f32,
    /// Interpolating or being interpolated.
    pub rel_interpolation: f32,
    /// Covering or being covered: the same song in another artist's hands.
    pub rel_cover: f32,
    pub description: f32,
    /// A genre tag; the primary tag weighs `primary_tag` instead.
    pub tag: f32,
    pub primary_tag: f32,
    /// `custom_performances` credits, by role family.
    pub label: f32,
    pub publisher: f32,
    pub engineer: f32,
    pub production: f32,
    pub musician: f32,
    pub vocals: f32,
    pub visual: f32,
    pub other_role: f32,
    // The primary artist's profile comes in parts, each scaled to unit length by the shares of
    // the artist's songs its entries are on, then weighed by these (relative) weights; see
    // `profile::artist_profiles`.
    /// The artists credited on the artist's songs (featured, producers, writers).
    pub artist_circle: f32,
    /// The words of the artist's descriptions (without titles, albums and its own name).
    pub artist_terms: f32,
    /// The `custom_performances` roles the artist's songs credit (guitar, drums, programmer,
    /// vocal producer, ...): how an artist's records are made says much about its scene, while
    /// on a single song a role is weak evidence, so roles count in the profile only.
    pub artist_roles: f32,
    /// The half-decades the artist's songs came out in.
    pub artist_era: f32,
    /// The labels, imprints and distributors of the artist's songs. Weak: most artists' songs
    /// come out on a handful of major labels, whatever they sound like.
    pub artist_labels: f32,
    /// The publishers, rights societies and licensors of the artist's songs: corporate, not
    /// stylistic, so off by default.
    pub artist_publishers: f32,
    /// The engineers, session musicians and other crew of the artist's songs.
    pub artist_crew: f32,
    /// The genre tags of the artist's songs: the most direct statement of its scene.
    pub artist_tags: f32,
    pub language: f32,
    pub era: f32,
    pub popularity: f32,
}

impl Default for FeatureWeights {
    fn default() -> Self {
        FeatureWeights {
            primary_artist: 1.0,
            featured_artist: 1.0,
            producer: 1.0,
            writer: 0.8,
            album: 0.6,
            relationship: 1.2,
            rel_sample: 0.3,
            rel_interpolation: 0.8,
            rel_cover: 1.2,
            description: 0.4,
            tag: 0.6,
            primary_tag: 1.2,
            label: 0.8,
            publisher: 0.3,
            engineer: 0.6,
            production: 0.8,
            musician: 0.5,
            vocals: 0.6,
            visual: 0.2,
            other_role: 0.2,
            artist_circle: 0.5,
            artist_terms: 2.0,
            artist_roles: 3.0,
            artist_era: 0.0,
            artist_labels: 0.25,
            artist_publishers: 0.0,
            artist_crew: 1.0,
            artist_tags: 3.0,
            language: 0.4,
            era: 0.3,
            popularity: 0.15,
        }
    }
}

impl FeatureWeights {
    /// The weight of a `custom_performances` credit in `family`.
    pub fn family(&self, family: songrec_catalog::RoleFamily) -> f32 {
        use songrec_catalog::RoleFamily as F;
        match family {
            F::Label => self.label,
            F::Publisher => self.publisher,
            F::Engineer => self.engineer,
            F::Production => self.production,
            F::Musician => self.musician,
            F::Vocals => self.vocals,
            F::Visual => self.visual,
            F::Other => self.other_role,
        }
    }
}

/// Training parameters; every field is recorded with the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Neighbours precomputed per song (the largest k the model can serve).
    pub k: usize,
    pub seed: u64,
    pub features: FeatureSet,
    pub weights: FeatureWeights,
    /// Description terms in more than this share of songs are dropped (they say nothing).
    pub description_max_df: f64,
    /// Collaborators kept per artist profile (the weightiest).
    pub circle_size: usize,
    /// Entries kept per other part of an artist profile (labels, publishers, crew, roles,
    /// tags, half-decades; the weightiest of each).
    pub profile_size: usize,
    /// Share of a song's similarity that comes from its artist's profile (collaborators, labels,
    /// crew, roles, tags, words) compared with the other song's artist's: the cosine
    /// is `(1 - s)` times the songs' own cosine plus `s` times their artists' (0: songs only).
    pub artist_similarity: f64,
    /// Description words kept per artist profile (the weightiest).
    pub profile_terms: usize,
    /// Catalogues up to this size get exact neighbour search; larger ones the approximate path.
    pub exact_max_songs: usize,
    /// On the approximate path, features shared by more songs than this do not generate
    /// candidates (they still count in the score of candidates found through rarer features).
    /// At 1,000,000 generated songs, 1,000 keeps recall@10 at 0.994 (2,000: 0.997, 500: 0.983)
    /// for a fifth less search time, with the same scene precision.
    pub candidate_max_df: usize,
    /// Artist-profile entries carried by more songs than this never find candidates by
    /// themselves, even on the exact path (they still count in every score): otherwise an
    /// entry many artists share makes every one of their songs a candidate for every query.
    pub profile_max_df: usize,
    /// Songs whose approximate neighbours are checked against exact search (recall@10).
    pub recall_sample: usize,
    /// Songs sampled for the held-out evaluation.
    pub eval_sample: usize,
    /// In every prefix of a song's neighbour list, at most this share (rounded up) is by the
    /// song's own primary artist, so the list does not collapse onto one discography (1: no
    /// limit). The artist's other songs fill in when other artists run out.
    pub same_artist_share: f64,
    /// How much lower than the champion's (scored on the same catalogue and sample) a new
    /// version's held-out hit rate may be and still replace a champion trained on fewer songs.
    pub promotion_tolerance: f64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            k: 100,
            seed: 42,
            features: FeatureSet::Full,
            weights: FeatureWeights::default(),
            description_max_df: 0.01,
            circle_size: 12,
            profile_size: 12,
            profile_terms: 50,
            artist_similarity: 0.5,
            exact_max_songs: 200_000,
            candidate_max_df: 1_000,
            profile_max_df: 2_000,
            recall_sample: 500,
            eval_sample: 2_000,
            same_artist_share: 0.5,
            promotion_tolerance: 0.01,
        }
    }
}

/// The largest k a model may be trained for.
pub const MAX_K: usize = 1000;

fn parse<T: FromStr>(name: &str, value: &str) -> Result<T, ModelError> {
    value
        .trim()
        .parse()
        .map_err(|_| ModelError::Params(format!("invalid value {value:?} for parameter {name}")))
}

fn parse_weight(name: &str, value: &str) -> Result<f32, ModelError> {
    let w: f32 = parse(name, value)?;
    if !w.is_finite() || w < 0.0 {
        return Err(ModelError::Params(format!(
            "weight {name} must be a finite number >= 0, got {value}"
        )));
    }
    Ok(w)
}

impl TrainParams {
    /// The parameter names [`TrainParams::set`] accepts.
    pub fn names() -> Vec<&'static str> {
        let mut defaults = TrainParams::default();
        let weights: Vec<&'static str> = defaults.weight_slots().map(|(n, _)| n).collect();
        weights
            .into_iter()
            .chain([
                "k",
                "seed",
                "features",
                "description_max_df",
                "circle_size",
                "profile_size",
                "profile_terms",
                "artist_similarity",
                "exact_max_songs",
                "candidate_max_df",
                "profile_max_df",
                "recall_sample",
                "eval_sample",
                "same_artist_share",
                "promotion_tolerance",
            ])
            .collect()
    }

    fn weight_slots(&mut self) -> impl Iterator<Item = (&'static str, &mut f32)> {
        let w = &mut self.weights;
        [
            ("w_primary_artist", &mut w.primary_artist),
            ("w_featured_artist", &mut w.featured_artist),
            ("w_producer", &mut w.producer),
            ("w_writer", &mut w.writer),
            ("w_album", &mut w.album),
            ("w_relationship", &mut w.relationship),
            ("w_rel_sample", &mut w.rel_sample),
            ("w_rel_interpolation", &mut w.rel_interpolation),
            ("w_rel_cover", &mut w.rel_cover),
            ("w_description", &mut w.description),
            ("w_tag", &mut w.tag),
            ("w_primary_tag", &mut w.primary_tag),
            ("w_label", &mut w.label),
            ("w_publisher", &mut w.publisher),
            ("w_engineer", &mut w.engineer),
            ("w_production", &mut w.production),
            ("w_musician", &mut w.musician),
            ("w_vocals", &mut w.vocals),
            ("w_visual", &mut w.visual),
            ("w_other_role", &mut w.other_role),
            ("w_artist_circle", &mut w.artist_circle),
            ("w_artist_terms", &mut w.artist_terms),
            ("w_artist_roles", &mut w.artist_roles),
            ("w_artist_era", &mut w.artist_era),
            ("w_artist_labels", &mut w.artist_labels),
            ("w_artist_publishers", &mut w.artist_publishers),
            ("w_artist_crew", &mut w.artist_crew),
            ("w_artist_tags", &mut w.artist_tags),
            ("w_language", &mut w.language),
            ("w_era", &mut w.era),
            ("w_popularity", &mut w.popularity),
        ]
        .into_iter()
    }

    /// Sets one parameter by name, validating its value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ModelError> {
        if let Some((_, slot)) = self.weight_slots().find(|(n, _)| *n == name) {
            *slot = parse_weight(name, value)?;
            return Ok(());
        }
        match name {
            "k" => {
                let k: usize = parse(name, value)?;
                if k == 0 || k > MAX_K {
                    return Err(ModelError::Params(format!(
                        "k must be between 1 and {MAX_K}, got {k}"
                    )));
                }
                self.k = k;
            }
            "seed" => self.seed = parse(name, value)?,
            "features" => {
                self.features = value.trim().parse().map_err(ModelError::Params)?;
            }
            "description_max_df" => {
                let v: f64 = parse(name, value)?;
                if !(v > 0.0 && v <= 1.0) {
                    return Err(ModelError::Params(format!(
                        "description_max_df must be in (0, 1], got {value}"
                    )));
                }
                self.description_max_df = v;
            }
            "circle_size" => self.circle_size = parse(name, value)?,
            "profile_size" => self.profile_size = parse(name, value)?,
            "profile_terms" => self.profile_terms = parse(name, value)?,
            "artist_similarity" => {
                let v: f64 = parse(name, value)?;
                if !(0.0..1.0).contains(&v) {
                    return Err(ModelError::Params(format!(
                        "artist_similarity must be in [0, 1), got {value}"
                    )));
                }
                self.artist_similarity = v;
            }
            "exact_max_songs" => self.exact_max_songs = parse(name, value)?,
            "candidate_max_df" => {
                self.candidate_max_df = parse(name, value)?;
                if self.candidate_max_df == 0 {
                    return Err(ModelError::Params("candidate_max_df must be >= 1".into()));
                }
            }
            "profile_max_df" => self.profile_max_df = parse(name, value)?,
            "recall_sample" => self.recall_sample = parse(name, value)?,
            "eval_sample" => self.eval_sample = parse(name, value)?,
            "same_artist_share" => {
                let v: f64 = parse(name, value)?;
                if !(v > 0.0 && v <= 1.0) {
                    return Err(ModelError::Params(format!(
                        "same_artist_share must be in (0, 1], got {value}"
                    )));
                }
                self.same_artist_share = v;
            }
            "promotion_tolerance" => {
                let v: f64 = parse(name, value)?;
                if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                    return Err(ModelError::Params(format!(
                        "promotion_tolerance must be in [0, 1], got {value}"
                    )));
                }
                self.promotion_tolerance = v;
            }
            other => {
                return Err(ModelError::Params(format!(
                    "unknown parameter {other:?}; known: {}",
                    TrainParams::names().join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Applies `name=value` overrides in order.
    pub fn apply<'a>(
        &mut self,
        overrides: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), ModelError> {
        for (name, value) in overrides {
            self.set(name.trim(), value)?;
        }
        Ok(())
    }

    /// Every parameter as text, as recorded with the run.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut copy = self.clone();
        let mut map: BTreeMap<String, String> = copy
            .weight_slots()
            .map(|(n, w)| (n.to_string(), w.to_string()))
            .collect();
        let scalars = [
            ("k", self.k.to_string()),
            ("seed", self.seed.to_string()),
            ("features", self.features.to_string()),
            ("description_max_df", self.description_max_df.to_string()),
            ("circle_size", self.circle_size.to_string()),
            ("profile_size", self.profile_size.to_string()),
            ("profile_terms", self.profile_terms.to_string()),
            ("artist_similarity", self.artist_similarity.to_string()),
            ("exact_max_songs", self.exact_max_songs.to_string()),
            ("candidate_max_df", self.candidate_max_df.to_string()),
            ("profile_max_df", self.profile_max_df.to_string()),
            ("recall_sample", self.recall_sample.to_string()),
            ("eval_sample", self.eval_sample.to_string()),
            ("same_artist_share", self.same_artist_share.to_string()),
            ("promotion_tolerance", self.promotion_tolerance.to_string()),
        ];
        map.extend(scalars.map(|(n, v)| (n.to_string(), v)));
        map
    }

    /// Reads parameters from a TOML table of `name = value` (numbers or strings).
    pub fn apply_toml(&mut self, text: &str) -> Result<(), ModelError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e| ModelError::Params(format!("invalid TOML: {e}")))?;
        for (name, value) in &table {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => {
                    return Err(ModelError::Params(format!(
                        "parameter {name} must be a number or a string, got {other}"
                    )));
                }
            };
            self.set(name, &text)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_round_trips_through_the_recorded_map() {
        let mut params = TrainParams::default();
        params.set("w_producer", "2.5").unwrap();
        params.set("features", "original").unwrap();
        params.set("k", "20").unwrap();
        let map = params.to_map();
        let mut again = TrainParams::default();
        again
            .apply(map.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .unwrap();
        assert_eq!(again, params);
        assert_eq!(map.len(), TrainParams::names().len());
    }

    #[test]
    fn unknown_names_and_bad_values_are_refused() {
        let mut params = TrainParams::default();
        assert!(params.set("w_nothing", "1").is_err());
        assert!(params.set("w_album", "-1").is_err());
        assert!(params.set("k", "0").is_err());
        assert!(params.set("features", "deep").is_err());
        assert_eq!(params, TrainParams::default());
    }

    #[test]
    fn toml_files_set_parameters() {
        let mut params = TrainParams::default();
        params
            .apply_toml("w_album = 0.25\nk = 10\nfeatures = \"original\"\n")
            .unwrap();
        assert_eq!(params.weights.album, 0.25);
        assert_eq!(params.k, 10);
        assert_eq!(params.features, FeatureSet::Original);
    }
}
