-- Compress the raw JSON with LZ4 where the server supports it (PostgreSQL 14+ built with lz4):
-- the default pglz compression took a fifth of the server's time during a bulk import.
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_settings
        WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)
    ) THEN
        EXECUTE 'ALTER TABLE songs ALTER COLUMN raw_json SET COMPRESSION lz4';
    END IF;
END
$$;
