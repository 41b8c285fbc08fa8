"""The original fetcher's per-song loop, for comparison with `songrec fetch`.

Same shape as the original script: one `requests.get` per song, one after the other, no session,
the same field extraction, one INSERT per song. It stores into SQLite (stdlib) instead of
PostgreSQL through SQLAlchemy, and walks the artist's song list instead of taking 10 search hits,
so that both sides fetch the same songs.

usage: python3 original_fetch.py BASE_URL TOKEN ARTIST_ID DB_PATH
prints: songs stored
"""

import json
import sqlite3
import sys

import requests

base, token, artist_id, db_path = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
HEADERS = {"Authorization": f"Bearer {token}"}


def extract_text(obj, parts):
    if isinstance(obj, str):
        parts.append(obj)
    elif isinstance(obj, dict) and "children" in obj:
        for child in obj["children"]:
            extract_text(child, parts)
    elif isinstance(obj, list):
        for item in obj:
            extract_text(item, parts)


def song_details(song_id):
    response = requests.get(f"{base}/songs/{song_id}", headers=HEADERS)
    if response.status_code != 200:
        return None
    song = response.json().get("response", {}).get("song", {})
    parts = []
    description = song.get("description") or {}
    extract_text(description.get("dom", description.get("plain", "")), parts)
    return {
        "id": song.get("id"),
        "title": song.get("title"),
        "language": song.get("language", "Unknown"),
        "artist": (song.get("primary_artist") or {}).get("name"),
        "album": (song.get("album") or {}).get("name"),
        "description": " ".join(parts).strip() or "No description available",
        "release_date": song.get("release_date", "Unknown"),
        "pageviews": (song.get("stats") or {}).get("pageviews"),
        "featured_artists": ", ".join(a["name"] for a in song.get("featured_artists") or []),
        "producer_artists": ", ".join(a["name"] for a in song.get("producer_artists") or []),
        "song_relationships": json.dumps(
            [
                {"type": r.get("type"), "songs": [s.get("title") for s in r.get("songs", [])]}
                for r in song.get("song_relationships") or []
            ]
        ),
        "url": song.get("url"),
    }


db = sqlite3.connect(db_path)
db.execute(
    "CREATE TABLE IF NOT EXISTS songs (id INT PRIMARY KEY, title TEXT NOT NULL, language TEXT, "
    "artist TEXT NOT NULL, album TEXT, description TEXT, release_date TEXT, pageviews INT, "
    "featured_artists TEXT, producer_artists TEXT, song_relationships TEXT, url TEXT, "
    "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"
)
ids, page = [], 1
while page:
    listing = requests.get(
        f"{base}/artists/{artist_id}/songs",
        params={"per_page": 50, "page": page, "sort": "popularity"},
        headers=HEADERS,
    ).json()["response"]
    ids += [s["id"] for s in listing["songs"]]
    page = listing["next_page"]
stored = 0
for song_id in ids:
    song = song_details(song_id)
    if song:
        db.execute(
            "INSERT INTO songs (id, title, language, artist, album, description, release_date, "
            "pageviews, featured_artists, producer_artists, song_relationships, url) VALUES "
            "(:id, :title, :language, :artist, :album, :description, :release_date, :pageviews, "
            ":featured_artists, :producer_artists, :song_relationships, :url) "
            "ON CONFLICT (id) DO NOTHING",
            song,
        )
        stored += 1
db.commit()
print(stored)
