//! The champion: the registered model's `champion` alias, the history of promotions kept as a
//! registered-model tag (for rollback), and promotion decisions recorded as version tags.

use serde_json::{Value, json};

use super::{CHAMPION_ALIAS, MlflowRegistry};
use crate::{Decision, PromotionPolicy, RegistryError, VersionInfo};

/// Registered-model tag with the champion history (JSON array of versions, oldest first).
const TAG_HISTORY: &str = "songrec.champion_history";
/// Entries kept in the history tag: far more rollbacks than anyone does, and well within
/// MLflow's 5000-character tag values.
const HISTORY_LIMIT: usize = 200;
/// Version tags recording a promotion decision.
pub(super) const TAG_DECISION: &str = "songrec.promotion.decision";
pub(super) const TAG_POLICY: &str = "songrec.promotion.policy";
pub(super) const TAG_REASON: &str = "songrec.promotion.reason";
pub(super) const TAG_CANDIDATE_SCORE: &str = "songrec.promotion.candidate_score";
pub(super) const TAG_CHAMPION_SCORE: &str = "songrec.promotion.champion_score";
pub(super) const TAG_CHAMPION_SEEN: &str = "songrec.promotion.champion_seen";
pub(super) const TAG_DECIDED_AT: &str = "songrec.promotion.decided_at";
/// The process that decided, holding the promotion lease (`host:pid:nonce`).
pub(super) const TAG_DECIDED_BY: &str = "songrec.promotion.decided_by";
/// Longest tag value written (MLflow refuses more than 5000 characters).
const TAG_VALUE_LIMIT: usize = 4000;
/// Times a promotion re-reads a champion that keeps moving before giving up.
const PROMOTION_ATTEMPTS: usize = 5;

/// A promotion decision and its circumstances, as tagged on the candidate's version.
#[derive(Clone, Copy)]
struct DecisionRecord<'a> {
    policy: PromotionPolicy,
    decision: &'a Decision,
    champion_seen: Option<u64>,
    holder: &'a str,
}

impl MlflowRegistry {
    async fn history(&self) -> Result<Vec<u64>, RegistryError> {
        let Some(model) = self.registered_model().await? else {
            return Ok(Vec::new());
        };
        let raw = model
            .tags
            .iter()
            .find(|t| t.key == TAG_HISTORY)
            .map(|t| t.value.as_str())
            .unwrap_or("[]");
        serde_json::from_str(raw).map_err(|e| {
            RegistryError::Corrupt(format!(
                "MLflow model {} tag {TAG_HISTORY} is not a list of versions: {e}",
                self.name()
            ))
        })
    }

    /// The history with the current champion last, even if someone moved the alias by hand.
    async fn reconciled_history(&self, current: Option<u64>) -> Result<Vec<u64>, RegistryError> {
        let mut history = self.history().await?;
        if let Some(c) = current
            && history.last() != Some(&c)
        {
            history.push(c);
        }
        Ok(history)
    }

    async fn write_history(&self, mut history: Vec<u64>) -> Result<(), RegistryError> {
        if history.len() > HISTORY_LIMIT {
            history.drain(..history.len() - HISTORY_LIMIT);
        }
        let value = serde_json::to_string(&history)
            .map_err(|e| RegistryError::Corrupt(format!("cannot encode history: {e}")))?;
        self.client
            .post::<Value>(
                "registered-models/set-tag",
                json!({"name": self.name(), "key": TAG_HISTORY, "value": value}),
            )
            .await?;
        Ok(())
    }

    async fn set_alias(&self, version: u64) -> Result<(), RegistryError> {
        self.client
            .post::<Value>(
                "registered-models/alias",
                json!({"name": self.name(), "alias": CHAMPION_ALIAS, "version": version.to_string()}),
            )
            .await?;
        Ok(())
    }

    pub async fn promote(&self, version: u64) -> Result<(), RegistryError> {
        let mv = self.model_version(version).await?;
        // Only songrec's own versions can be served: they carry the checksum.
        self.version_info(&mv, None).await?;
        self.leased(async |_| {
            let current = self.champion_number().await?;
            self.move_alias(version, current).await
        })
        .await
    }

    /// Points the alias at `version`, `current` being the champion it replaces, and appends
    /// it to the history.
    async fn move_alias(&self, version: u64, current: Option<u64>) -> Result<(), RegistryError> {
        if current == Some(version) {
            return Ok(());
        }
        let mut history = self.reconciled_history(current).await?;
        self.set_alias(version).await?;
        history.push(version);
        self.write_history(history).await?;
        tracing::info!(version, "moved MLflow alias champion");
        Ok(())
    }

    /// Decides against the champion, holding the promotion lease (see `lease.rs`) so that no
    /// other songrec process moves the alias in between, and reads the alias again just before
    /// moving it: someone moving it by hand meanwhile makes the candidate be compared with the
    /// new champion instead. The decision (both scores, the champion seen, who decided) is
    /// recorded as tags on the candidate's version.
    pub async fn promote_if(
        &self,
        candidate: &VersionInfo,
        policy: PromotionPolicy,
        primary_metric: &str,
    ) -> Result<Decision, RegistryError> {
        self.leased(async |lease| {
            self.decide_and_move(candidate, policy, primary_metric, lease.holder())
                .await
        })
        .await
    }

    async fn decide_and_move(
        &self,
        candidate: &VersionInfo,
        policy: PromotionPolicy,
        primary_metric: &str,
        holder: &str,
    ) -> Result<Decision, RegistryError> {
        let mut seen = self.champion().await?;
        for _ in 0..PROMOTION_ATTEMPTS {
            let decision = policy.decide_versions(primary_metric, candidate, seen.as_ref());
            let seen_number = seen.as_ref().map(|c| c.version);
            let now = self.champion_number().await?;
            if now != seen_number {
                tracing::info!(
                    seen = ?seen_number,
                    now = ?now,
                    "the champion changed while deciding; comparing with the new one"
                );
                seen = self.champion().await?;
                continue;
            }
            if decision.promote {
                self.move_alias(candidate.version, now).await?;
            }
            let record = DecisionRecord {
                policy,
                decision: &decision,
                champion_seen: seen_number,
                holder,
            };
            self.tag_decision(candidate.version, &record).await?;
            return Ok(decision);
        }
        Err(RegistryError::Mlflow {
            operation: "promotion".into(),
            code: "CHAMPION_MOVING".into(),
            message: format!(
                "the champion alias moved {PROMOTION_ATTEMPTS} times while version {} was \
                 being compared with it; not promoted",
                candidate.version
            ),
        })
    }

    /// Records a promotion decision as tags on the version.
    async fn tag_decision(
        &self,
        version: u64,
        record: &DecisionRecord<'_>,
    ) -> Result<(), RegistryError> {
        let DecisionRecord {
            policy,
            decision,
            champion_seen,
            holder,
        } = *record;
        let score = |v: Option<f64>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
        let reason: String = decision.reason.chars().take(TAG_VALUE_LIMIT).collect();
        let tags = [
            (
                TAG_DECISION,
                if decision.promote {
                    "promoted"
                } else {
                    "not_promoted"
                }
                .to_string(),
            ),
            (TAG_POLICY, policy.to_string()),
            (TAG_REASON, reason),
            (TAG_CANDIDATE_SCORE, score(decision.candidate_score)),
            (TAG_CHAMPION_SCORE, score(decision.champion_score)),
            (
                TAG_CHAMPION_SEEN,
                champion_seen.map_or_else(|| "none".to_string(), |v| v.to_string()),
            ),
            (TAG_DECIDED_AT, crate::local::now_rfc3339()),
            (TAG_DECIDED_BY, holder.to_string()),
        ];
        for (key, value) in tags {
            self.client
                .post::<Value>(
                    "model-versions/set-tag",
                    json!({
                        "name": self.name(),
                        "version": version.to_string(),
                        "key": key,
                        "value": value,
                    }),
                )
                .await?;
        }
        Ok(())
    }

    /// The version a rollback returns to: the champion before the current one.
    pub(super) async fn rollback_target(
        &self,
        current: Option<u64>,
    ) -> Result<Option<u64>, RegistryError> {
        if current.is_none() {
            return Ok(None);
        }
        let history = self.reconciled_history(current).await?;
        Ok(history.len().checked_sub(2).map(|i| history[i]))
    }

    pub async fn rollback(&self) -> Result<VersionInfo, RegistryError> {
        // Nothing to take the lease for (nor a registered model to hold it) without a champion.
        if self.champion_number().await?.is_none() {
            return Err(RegistryError::NothingToRollBack);
        }
        self.leased(async |_| self.roll_back_alias().await).await
    }

    async fn roll_back_alias(&self) -> Result<VersionInfo, RegistryError> {
        let current = self.champion_number().await?;
        if current.is_none() {
            return Err(RegistryError::NothingToRollBack);
        }
        let mut history = self.reconciled_history(current).await?;
        if history.len() < 2 {
            return Err(RegistryError::NothingToRollBack);
        }
        history.pop();
        let previous = *history.last().ok_or(RegistryError::NothingToRollBack)?;
        let mv = self.model_version(previous).await?;
        self.set_alias(previous).await?;
        self.write_history(history).await?;
        tracing::info!(version = previous, "rolled MLflow alias champion back");
        self.version_info(&mv, Some(previous)).await
    }
}
