-- The record of pipeline cycles (fetch -> train -> evaluate -> register -> promote -> prune),
-- one row per cycle with the scheduled slot it belongs to and its JSON report. Replicas read it
-- to run each slot once; `GET /pipeline` shows it. Times are RFC 3339 text, as the report has
-- them. Earlier builds created this table when a cycle first ran, with the same columns: such a
-- database keeps its table and rows.
CREATE TABLE IF NOT EXISTS pipeline_cycles (
    id          BIGSERIAL PRIMARY KEY,
    slot        TEXT,                                -- the scheduled time; NULL when run by hand
    runner      TEXT NOT NULL,                       -- host:pid of the process that ran it
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status      TEXT NOT NULL,                       -- succeeded, failed, interrupted, skipped
    report      TEXT NOT NULL                        -- the cycle's report as JSON
);
CREATE INDEX IF NOT EXISTS pipeline_cycles_by_slot ON pipeline_cycles (slot);
