-- The catalogue. `songs` keeps the original service's columns with the same names and
-- meanings (its browse page reads `SELECT id, pageviews, artist, title FROM songs`), followed by
-- what songrec adds. Times are RFC 3339 text in UTC.
CREATE TABLE songs (
    id                 INTEGER PRIMARY KEY,          -- Genius song id
    title              TEXT NOT NULL,
    language           TEXT,
    artist             TEXT NOT NULL,                -- primary artist's name
    album              TEXT,                         -- album name
    description        TEXT,                         -- plain text
    release_date       TEXT,                         -- YYYY-MM-DD
    pageviews          INTEGER,
    featured_artists   TEXT,                         -- names joined by ", "
    producer_artists   TEXT,                         -- names joined by ", "
    song_relationships TEXT,                         -- JSON: [{"type": .., "song_ids": [..]}]
    url                TEXT,
    created_at         TEXT NOT NULL,
    primary_artist_id  INTEGER NOT NULL,
    album_id           INTEGER,
    release_year       INTEGER,
    song_art_image_url TEXT,
    updated_at         TEXT NOT NULL,
    content_hash       TEXT NOT NULL,                -- SHA-256 of the parsed song and its raw JSON
    raw_json           TEXT NOT NULL                 -- the song object as received
);

-- The original browse query's order.
CREATE INDEX songs_by_pageviews ON songs (pageviews DESC, id);

CREATE TABLE artists (
    id   INTEGER PRIMARY KEY,                        -- Genius artist id
    name TEXT NOT NULL                               -- latest name seen
);

-- Every credited artist of a song, the primary artist included (role 'primary').
CREATE TABLE credits (
    song_id   INTEGER NOT NULL REFERENCES songs (id) ON DELETE CASCADE,
    artist_id INTEGER NOT NULL REFERENCES artists (id),
    role      TEXT NOT NULL CHECK (role IN ('primary', 'featured', 'producer', 'writer')),
    position  INTEGER NOT NULL,                      -- order within the song's credits
    PRIMARY KEY (song_id, role, artist_id)
);
CREATE INDEX credits_by_artist ON credits (artist_id);

-- Typed links between songs; the related song need not be stored.
CREATE TABLE relationships (
    song_id         INTEGER NOT NULL REFERENCES songs (id) ON DELETE CASCADE,
    related_song_id INTEGER NOT NULL,
    kind            TEXT NOT NULL,                   -- as Genius spells it: samples, cover_of, ...
    position        INTEGER NOT NULL,
    PRIMARY KEY (song_id, kind, related_song_id)
);
CREATE INDEX relationships_by_related ON relationships (related_song_id);

CREATE TABLE fetch_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    artist        TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL DEFAULT 'running',   -- running, succeeded, failed, interrupted
    songs_seen    INTEGER NOT NULL DEFAULT 0,
    songs_fetched INTEGER NOT NULL DEFAULT 0,
    songs_stored  INTEGER NOT NULL DEFAULT 0,
    songs_failed  INTEGER NOT NULL DEFAULT 0,
    error         TEXT
);
