-- The catalogue. `songs` keeps the original service's columns with the same names and
-- meanings (its browse page reads `SELECT id, pageviews, artist, title FROM songs`), followed by
-- what songrec adds. Ids and counts are BIGINT; the original's INT values fit.
CREATE TABLE IF NOT EXISTS songs (
    id                 BIGINT PRIMARY KEY,           -- Genius song id
    title              TEXT NOT NULL,
    language           TEXT,
    artist             TEXT NOT NULL,                -- primary artist's name
    album              TEXT,                         -- album name
    description        TEXT,                         -- plain text
    release_date       TEXT,                         -- YYYY-MM-DD
    pageviews          BIGINT,
    featured_artists   TEXT,                         -- names joined by ', '
    producer_artists   TEXT,                         -- names joined by ', '
    song_relationships JSONB,                        -- [{"type": .., "song_ids": [..]}]
    url                TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- A database the original created has the table already: widen it and add songrec's columns.
ALTER TABLE songs ALTER COLUMN id TYPE BIGINT, ALTER COLUMN pageviews TYPE BIGINT;
ALTER TABLE songs
    ADD COLUMN IF NOT EXISTS primary_artist_id  BIGINT,
    ADD COLUMN IF NOT EXISTS album_id           BIGINT,
    ADD COLUMN IF NOT EXISTS release_year       INTEGER,
    ADD COLUMN IF NOT EXISTS song_art_image_url TEXT,
    ADD COLUMN IF NOT EXISTS updated_at         TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    ADD COLUMN IF NOT EXISTS content_hash       TEXT,  -- SHA-256 of the parsed song and its raw JSON
    ADD COLUMN IF NOT EXISTS raw_json           TEXT;  -- the song object as received

-- The original browse query's order.
CREATE INDEX IF NOT EXISTS songs_by_pageviews ON songs (pageviews DESC NULLS LAST, id);

CREATE TABLE artists (
    id   BIGINT PRIMARY KEY,                         -- Genius artist id
    name TEXT NOT NULL                               -- latest name seen
);

-- Every credited artist of a song, the primary artist included (role 'primary').
-- No foreign keys here or in `relationships`: PostgreSQL checks them with a trigger per row,
-- which doubled the time of a bulk import. The store writes a song, its artists, credits and
-- relationships in one transaction and replaces them together.
CREATE TABLE credits (
    song_id   BIGINT NOT NULL,
    artist_id BIGINT NOT NULL,
    role      TEXT NOT NULL CHECK (role IN ('primary', 'featured', 'producer', 'writer')),
    position  INTEGER NOT NULL,                      -- order within the song's credits
    PRIMARY KEY (song_id, role, artist_id)
);
CREATE INDEX credits_by_artist ON credits (artist_id);

-- Typed links between songs; the related song need not be stored.
CREATE TABLE relationships (
    song_id         BIGINT NOT NULL,
    related_song_id BIGINT NOT NULL,
    kind            TEXT NOT NULL,                   -- as Genius spells it: samples, cover_of, ...
    position        INTEGER NOT NULL,
    PRIMARY KEY (song_id, kind, related_song_id)
);
CREATE INDEX relationships_by_related ON relationships (related_song_id);

CREATE TABLE fetch_runs (
    id            BIGSERIAL PRIMARY KEY,
    artist        TEXT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        TEXT NOT NULL DEFAULT 'running',   -- running, succeeded, failed, interrupted
    songs_seen    BIGINT NOT NULL DEFAULT 0,
    songs_fetched BIGINT NOT NULL DEFAULT 0,
    songs_stored  BIGINT NOT NULL DEFAULT 0,
    songs_failed  BIGINT NOT NULL DEFAULT 0,
    error         TEXT
);
