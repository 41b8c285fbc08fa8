//! The promotion policy: whether a newly registered version replaces the champion.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// When a newly registered version becomes champion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromotionPolicy {
    /// Only when its primary metric is at least the champion's (always for the first model).
    #[default]
    Auto,
    Always,
    Never,
}

/// The outcome of [`PromotionPolicy::decide`], with a sentence saying why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub promote: bool,
    pub reason: String,
    /// The candidate's primary metric, when it has a finite one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_score: Option<f64>,
    /// The champion's score it was compared with (rescored or as recorded), when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub champion_score: Option<f64>,
}

/// Default of [`TOLERANCE_PARAM`]: differences in the primary metric this small are noise.
pub const DEFAULT_TOLERANCE: f64 = 0.01;
/// The training parameter holding the promotion tolerance.
pub const TOLERANCE_PARAM: &str = "promotion_tolerance";
/// Prefix of the candidate's metric holding the champion's parameters scored on the candidate's
/// catalogue and held-out sample (`champion_heldout_hit_rate_at_10`): like compared with like.
pub const CHAMPION_PREFIX: &str = "champion_";
/// The candidate's metric naming the champion version whose parameters it rescored: the
/// rescored score stands for that version only.
pub const RESCORED_VERSION_METRIC: &str = "champion_version";

/// One side of a promotion contest: a version's number, metrics and the songs it was trained
/// on.
#[derive(Debug, Clone, Copy)]
pub struct Contender<'a> {
    pub version: u64,
    pub metrics: &'a BTreeMap<String, f64>,
    pub songs: u64,
}

impl<'a> From<&'a crate::VersionInfo> for Contender<'a> {
    fn from(version: &'a crate::VersionInfo) -> Self {
        Contender {
            version: version.version,
            metrics: &version.metrics,
            songs: version.songs,
        }
    }
}

/// The tolerance a candidate's parameters ask for ([`DEFAULT_TOLERANCE`] when absent or invalid).
pub fn tolerance(params: &BTreeMap<String, String>) -> f64 {
    params
        .get(TOLERANCE_PARAM)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t >= 0.0)
        .unwrap_or(DEFAULT_TOLERANCE)
}

impl PromotionPolicy {
    /// The names accepted by [`FromStr`], for help texts.
    pub const NAMES: [&'static str; 3] = ["auto", "always", "never"];

    /// [`PromotionPolicy::decide`] between two registered versions, with the tolerance the
    /// candidate's parameters ask for.
    pub fn decide_versions(
        self,
        primary_metric: &str,
        candidate: &crate::VersionInfo,
        champion: Option<&crate::VersionInfo>,
    ) -> Decision {
        self.decide(
            primary_metric,
            candidate.into(),
            champion.map(Contender::from),
            tolerance(&candidate.params),
        )
    }

    /// Decides whether a candidate replaces the champion (`None` when there is none yet),
    /// comparing `primary_metric` where higher is better.
    ///
    /// Under `Auto` the candidate is compared with the champion's parameters scored on the
    /// candidate's catalogue and held-out sample when the candidate carries that score
    /// (`champion_<metric>`) for this very champion ([`RESCORED_VERSION_METRIC`]; a score of
    /// another version, say one that was champion when training started, does not count), else
    /// with the champion's recorded score. It is promoted when it is
    /// at least as good; when it is worse by at most `tolerance` it is promoted only if the
    /// champion was trained on fewer songs (so new songs always become servable, and noise never
    /// freezes the champion on an old catalogue); otherwise the champion is kept. A candidate
    /// without a finite metric never wins; a champion without one loses to any candidate that
    /// has it. The reason names both scores.
    pub fn decide(
        self,
        primary_metric: &str,
        candidate: Contender<'_>,
        champion: Option<Contender<'_>>,
        tolerance: f64,
    ) -> Decision {
        let finite = |metrics: &BTreeMap<String, f64>, name: &str| {
            metrics.get(name).copied().filter(|v| v.is_finite())
        };
        let new = finite(candidate.metrics, primary_metric);
        let (old, how) = match champion {
            None => (None, ""),
            Some(champion) => {
                let rescored_version = candidate.metrics.get(RESCORED_VERSION_METRIC).copied();
                let rescored = finite(
                    candidate.metrics,
                    &format!("{CHAMPION_PREFIX}{primary_metric}"),
                )
                .filter(|_| rescored_version.is_none_or(|v| v == champion.version as f64));
                match rescored {
                    Some(v) => (
                        Some(v),
                        "champion's parameters on the same catalogue and sample",
                    ),
                    None => (
                        finite(champion.metrics, primary_metric),
                        "champion as recorded",
                    ),
                }
            }
        };
        let decision = |promote: bool, reason: String| Decision {
            promote,
            reason,
            candidate_score: new,
            champion_score: old,
        };
        match self {
            PromotionPolicy::Always => decision(true, "policy is always".into()),
            PromotionPolicy::Never => decision(false, "policy is never".into()),
            PromotionPolicy::Auto => {
                let Some(champion) = champion else {
                    return decision(true, "first model: no champion yet".into());
                };
                match (new, old) {
                    (None, _) => decision(
                        false,
                        format!("candidate has no valid {primary_metric}; champion kept"),
                    ),
                    (Some(new), None) => decision(
                        true,
                        format!("{primary_metric} {new:.4}; champion has no valid value"),
                    ),
                    (Some(new), Some(old)) if new >= old => decision(
                        true,
                        format!("{primary_metric} {new:.4} >= {old:.4} ({how})"),
                    ),
                    (Some(new), Some(old))
                        if new >= old - tolerance && champion.songs < candidate.songs =>
                    {
                        decision(
                            true,
                            format!(
                                "{primary_metric} {new:.4} within {tolerance} of {old:.4} ({how}) \
                                 and the champion was trained on fewer songs ({} < {})",
                                champion.songs, candidate.songs
                            ),
                        )
                    }
                    (Some(new), Some(old)) => decision(
                        false,
                        format!(
                            "{primary_metric} {new:.4} < {old:.4} ({how}, tolerance {tolerance}, \
                             champion on {} songs, candidate on {}); champion kept",
                            champion.songs, candidate.songs
                        ),
                    ),
                }
            }
        }
    }
}

impl fmt::Display for PromotionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PromotionPolicy::Auto => "auto",
            PromotionPolicy::Always => "always",
            PromotionPolicy::Never => "never",
        })
    }
}

/// The error for a promotion policy name that is not one of [`PromotionPolicy::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown promotion policy {0:?} (expected auto, always or never)")]
pub struct UnknownPolicy(pub String);

impl FromStr for PromotionPolicy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(PromotionPolicy::Auto),
            "always" => Ok(PromotionPolicy::Always),
            "never" => Ok(PromotionPolicy::Never),
            _ => Err(UnknownPolicy(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn side(metrics: &BTreeMap<String, f64>, songs: u64) -> Contender<'_> {
        Contender {
            version: 1,
            metrics,
            songs,
        }
    }

    const TOL: f64 = 0.01;

    #[test]
    fn auto_promotes_the_first_model() {
        let m = metrics(&[("hit", 0.1)]);
        let d = PromotionPolicy::Auto.decide("hit", side(&m, 10), None, TOL);
        assert!(d.promote, "{d:?}");
    }

    #[test]
    fn on_one_catalogue_an_equal_or_better_model_wins_and_a_worse_one_within_tolerance_does_not() {
        let champion = metrics(&[("hit", 0.5)]);
        let auto = PromotionPolicy::Auto;
        let decide = |score: f64| {
            let m = metrics(&[("hit", score)]);
            auto.decide("hit", side(&m, 100), Some(side(&champion, 100)), TOL)
        };
        assert!(decide(0.5).promote, "equal");
        assert!(decide(0.6).promote, "better");
        let within = decide(0.495);
        assert!(!within.promote, "worse within tolerance: {within:?}");
        let worse = decide(0.3);
        assert!(!worse.promote);
        assert!(worse.reason.contains("0.3000 < 0.5000"), "{}", worse.reason);
    }

    #[test]
    fn a_champion_trained_on_fewer_songs_gives_way_to_a_candidate_within_tolerance() {
        let champion = metrics(&[("hit", 0.5)]);
        let auto = PromotionPolicy::Auto;
        let within = metrics(&[("hit", 0.492)]);
        let d = auto.decide("hit", side(&within, 120), Some(side(&champion, 100)), TOL);
        assert!(d.promote, "{d:?}");
        assert!(d.reason.contains("fewer songs (100 < 120)"), "{}", d.reason);
        let worse = metrics(&[("hit", 0.45)]);
        let d = auto.decide(
            "hit",
            side(&worse, 120),
            Some(side(&worse_champion(), 100)),
            TOL,
        );
        assert!(
            !d.promote,
            "beyond tolerance even on a grown catalogue: {d:?}"
        );
    }

    fn worse_champion() -> BTreeMap<String, f64> {
        metrics(&[("hit", 0.5)])
    }

    #[test]
    fn the_champion_rescored_on_the_candidates_sample_is_what_the_candidate_is_compared_with() {
        // Recorded on an easier old catalogue the champion scored 0.9; its parameters score
        // 0.40 on today's catalogue and sample, where the candidate scores 0.42.
        let champion = metrics(&[("hit", 0.9)]);
        let candidate = metrics(&[("hit", 0.42), ("champion_hit", 0.40)]);
        let d = PromotionPolicy::Auto.decide(
            "hit",
            side(&candidate, 100),
            Some(side(&champion, 100)),
            TOL,
        );
        assert!(d.promote, "{d:?}");
        assert!(
            d.reason.contains("0.4200 >= 0.4000") && d.reason.contains("same catalogue"),
            "{}",
            d.reason
        );
        let candidate = metrics(&[("hit", 0.30), ("champion_hit", 0.40)]);
        let d = PromotionPolicy::Auto.decide(
            "hit",
            side(&candidate, 100),
            Some(side(&champion, 100)),
            TOL,
        );
        assert!(!d.promote);
        assert!(d.reason.contains("0.3000 < 0.4000"), "{}", d.reason);
    }

    #[test]
    fn a_rescore_of_another_champion_is_not_used_against_the_current_one() {
        // Training rescored version 1 (0.40); meanwhile version 2 (0.60) became champion.
        let champion = metrics(&[("hit", 0.6)]);
        let candidate = metrics(&[
            ("hit", 0.45),
            ("champion_hit", 0.40),
            (RESCORED_VERSION_METRIC, 1.0),
        ]);
        let current = Contender {
            version: 2,
            metrics: &champion,
            songs: 100,
        };
        let d = PromotionPolicy::Auto.decide("hit", side(&candidate, 100), Some(current), TOL);
        assert!(!d.promote, "{d:?}");
        assert!(d.reason.contains("champion as recorded"), "{}", d.reason);
        assert_eq!(
            (d.candidate_score, d.champion_score),
            (Some(0.45), Some(0.6))
        );
        let rescored_this_one = Contender {
            version: 1,
            metrics: &champion,
            songs: 100,
        };
        let d = PromotionPolicy::Auto.decide(
            "hit",
            side(&candidate, 100),
            Some(rescored_this_one),
            TOL,
        );
        assert!(d.promote, "{d:?}");
        assert_eq!(d.champion_score, Some(0.40));
    }

    #[test]
    fn auto_never_promotes_a_candidate_with_a_missing_or_nan_metric() {
        let champion = metrics(&[("hit", 0.5)]);
        let auto = PromotionPolicy::Auto;
        let none = metrics(&[]);
        let nan = metrics(&[("hit", f64::NAN)]);
        assert!(
            !auto
                .decide("hit", side(&none, 9), Some(side(&champion, 1)), TOL)
                .promote
        );
        assert!(
            !auto
                .decide("hit", side(&nan, 9), Some(side(&champion, 1)), TOL)
                .promote
        );
        let champion_without = metrics(&[("other", 1.0)]);
        let zero = metrics(&[("hit", 0.0)]);
        assert!(
            auto.decide("hit", side(&zero, 1), Some(side(&champion_without, 1)), TOL)
                .promote
        );
    }

    #[test]
    fn always_and_never_ignore_metrics() {
        let champion = metrics(&[("hit", 0.9)]);
        let worse = metrics(&[("hit", 0.1)]);
        assert!(
            PromotionPolicy::Always
                .decide("hit", side(&worse, 1), Some(side(&champion, 1)), TOL)
                .promote
        );
        assert!(
            !PromotionPolicy::Never
                .decide("hit", side(&worse, 1), None, TOL)
                .promote
        );
    }

    #[test]
    fn the_tolerance_comes_from_the_parameters_with_a_default() {
        let mut params = BTreeMap::new();
        assert_eq!(tolerance(&params), DEFAULT_TOLERANCE);
        params.insert(TOLERANCE_PARAM.to_string(), "0.05".to_string());
        assert_eq!(tolerance(&params), 0.05);
        params.insert(TOLERANCE_PARAM.to_string(), "-1".to_string());
        assert_eq!(tolerance(&params), DEFAULT_TOLERANCE);
    }

    #[test]
    fn policy_names_round_trip_and_unknown_names_are_refused() {
        for name in PromotionPolicy::NAMES {
            let policy: PromotionPolicy = name.parse().unwrap();
            assert_eq!(policy.to_string(), name);
        }
        assert_eq!(
            "ALWAYS".parse::<PromotionPolicy>(),
            Ok(PromotionPolicy::Always)
        );
        assert!("sometimes".parse::<PromotionPolicy>().is_err());
    }
}
