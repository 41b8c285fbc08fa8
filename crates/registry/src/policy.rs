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
}

impl PromotionPolicy {
    /// The names accepted by [`FromStr`], for help texts.
    pub const NAMES: [&'static str; 3] = ["auto", "always", "never"];

    /// Decides whether a candidate with `candidate` metrics replaces a champion with
    /// `champion` metrics (`None` when there is no champion yet), comparing `primary_metric`
    /// where higher is better.
    ///
    /// Under `Auto` a candidate without a finite primary metric is never promoted over an existing
    /// champion, and a champion without one loses to any candidate that has it, so a metric that
    /// a training run failed to compute can never win by accident.
    pub fn decide(
        self,
        primary_metric: &str,
        candidate: &BTreeMap<String, f64>,
        champion: Option<&BTreeMap<String, f64>>,
    ) -> Decision {
        let decision = |promote: bool, reason: String| Decision { promote, reason };
        match self {
            PromotionPolicy::Always => decision(true, "policy is always".into()),
            PromotionPolicy::Never => decision(false, "policy is never".into()),
            PromotionPolicy::Auto => {
                let Some(champion) = champion else {
                    return decision(true, "first model: no champion yet".into());
                };
                let finite = |metrics: &BTreeMap<String, f64>| {
                    metrics
                        .get(primary_metric)
                        .copied()
                        .filter(|v| v.is_finite())
                };
                match (finite(candidate), finite(champion)) {
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
                        format!("{primary_metric} {new:.4} >= champion's {old:.4}"),
                    ),
                    (Some(new), Some(old)) => decision(
                        false,
                        format!("{primary_metric} {new:.4} < champion's {old:.4}; champion kept"),
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

    #[test]
    fn auto_promotes_the_first_model() {
        let d = PromotionPolicy::Auto.decide("hit", &metrics(&[("hit", 0.1)]), None);
        assert!(d.promote, "{d:?}");
    }

    #[test]
    fn auto_promotes_an_equal_or_better_model_and_keeps_a_worse_one() {
        let champion = metrics(&[("hit", 0.5)]);
        let auto = PromotionPolicy::Auto;
        assert!(
            auto.decide("hit", &metrics(&[("hit", 0.5)]), Some(&champion))
                .promote
        );
        assert!(
            auto.decide("hit", &metrics(&[("hit", 0.6)]), Some(&champion))
                .promote
        );
        let worse = auto.decide("hit", &metrics(&[("hit", 0.49)]), Some(&champion));
        assert!(!worse.promote);
        assert!(
            worse.reason.contains("0.4900 < champion's 0.5000"),
            "{}",
            worse.reason
        );
    }

    #[test]
    fn auto_never_promotes_a_candidate_with_a_missing_or_nan_metric() {
        let champion = metrics(&[("hit", 0.5)]);
        let auto = PromotionPolicy::Auto;
        assert!(!auto.decide("hit", &metrics(&[]), Some(&champion)).promote);
        assert!(
            !auto
                .decide("hit", &metrics(&[("hit", f64::NAN)]), Some(&champion))
                .promote
        );
        let champion_without = metrics(&[("other", 1.0)]);
        assert!(
            auto.decide("hit", &metrics(&[("hit", 0.0)]), Some(&champion_without))
                .promote
        );
    }

    #[test]
    fn always_and_never_ignore_metrics() {
        let champion = metrics(&[("hit", 0.9)]);
        let worse = metrics(&[("hit", 0.1)]);
        assert!(
            PromotionPolicy::Always
                .decide("hit", &worse, Some(&champion))
                .promote
        );
        assert!(!PromotionPolicy::Never.decide("hit", &worse, None).promote);
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
