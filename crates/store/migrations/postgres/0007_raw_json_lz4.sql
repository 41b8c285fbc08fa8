-- The raw JSON, LZ4-compressed by songrec (block format, the uncompressed length first as a
-- little-endian u32): about 2.5 times smaller. Songs written from now on have it here and
-- `raw_json` NULL; songs written before keep their text in `raw_json` and NULL here until they
-- are written again. Readers take this column when it is not NULL. A build older than this
-- migration does not know it and refuses the database rather than read the NULL `raw_json`.
-- The value is compressed already: the server stores it as it is (EXTERNAL: never compressed
-- again, moved out of line only when a row is too large for its page).
ALTER TABLE songs ADD COLUMN IF NOT EXISTS raw_json_lz4 BYTEA;
ALTER TABLE songs ALTER COLUMN raw_json_lz4 SET STORAGE EXTERNAL;
