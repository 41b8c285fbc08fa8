-- When a fetch last confirmed the song from Genius, changed or not. `updated_at` moves only
-- when the content changes; a song is fresh for fetching from the later of the two. NULL until
-- a fetch sees the song.
ALTER TABLE songs ADD COLUMN IF NOT EXISTS checked_at TIMESTAMPTZ;
