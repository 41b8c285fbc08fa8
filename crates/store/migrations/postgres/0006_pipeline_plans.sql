-- The plan of each process that runs pipeline cycles on a schedule: its schedule and when it
-- runs next, so that every replica sharing the database can show the next run. A process
-- writes its row after each cycle and removes it when it stops; a row whose next run is long
-- past belongs to a process that died and is ignored by readers.
CREATE TABLE IF NOT EXISTS pipeline_plans (
    runner      TEXT PRIMARY KEY,                    -- host:pid of the process
    schedule    TEXT NOT NULL,                       -- e.g. "every 1h", "cron 0 * * * *"
    next_run    TEXT,                                -- RFC 3339 (UTC); NULL when none is planned
    updated_at  TEXT NOT NULL                        -- RFC 3339 (UTC)
);
