-- Every song as training reads it: the parsed song in a compact binary encoding (postcard),
-- written with the song, so the whole catalogue loads in one pass over one narrow table.
-- `version` is the record format (`songrec_catalog::SONG_RECORD_VERSION`) it was written with;
-- 0 marks a record still to be derived from `songs.raw_json`, which the store does when it opens
-- the database (and whenever a build with another version opens it). Rows the original service
-- wrote (no raw JSON) get no record until a fetch or import rewrites them.
CREATE TABLE song_records (
    song_id BIGINT PRIMARY KEY,
    version INTEGER NOT NULL,
    record  BYTEA NOT NULL
);
CREATE INDEX song_records_by_version ON song_records (version);

INSERT INTO song_records (song_id, version, record)
SELECT id, 0, '\x'::bytea FROM songs WHERE raw_json IS NOT NULL AND primary_artist_id IS NOT NULL;
