//! The song records answers carry, borrowed from the served model while the answer is
//! serialised.

use serde::Serialize;
use songrec_model::SongView;
use utoipa::ToSchema;

use crate::Recommender;
use crate::json;

/// A song of the served catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SongItem<'m> {
    /// Genius song id.
    #[schema(example = 2471960)]
    pub id: u64,
    /// Browse-order index: position by pageviews descending, ties by id, songs without
    /// pageviews last. `/recommend/{index}` accepts it when the song has pageviews.
    pub index: usize,
    pub title: &'m str,
    /// The primary artist.
    pub artist: &'m str,
    /// The primary artist's Genius id (`/artists/{id}`).
    pub artist_id: u64,
    pub album: Option<&'m str>,
    /// `YYYY-MM-DD` when the full date is known.
    pub release_date: Option<&'m str>,
    pub release_year: Option<i32>,
    /// Language code as Genius gives it (`en`, `es`, ...).
    pub language: Option<&'m str>,
    pub pageviews: Option<u64>,
    /// The song's Genius page.
    pub url: Option<&'m str>,
    /// Song art.
    pub art_url: Option<&'m str>,
}

impl<'m> SongItem<'m> {
    pub fn new(index: usize, s: SongView<'m>) -> SongItem<'m> {
        SongItem {
            id: s.id,
            index,
            title: s.title,
            artist: s.artist,
            artist_id: s.artist_id,
            album: s.album,
            release_date: s.release_date,
            release_year: s.release_year,
            language: s.language,
            pageviews: s.pageviews,
            url: s.url,
            art_url: s.art_url,
        }
    }

    /// The song at `index`, if the model has it.
    pub fn at(model: &'m dyn Recommender, index: usize) -> Option<SongItem<'m>> {
        model.song(index).map(|s| SongItem::new(index, s))
    }
}

/// A recommended song: the song, its score and why.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecommendedSong<'m> {
    #[serde(flatten)]
    pub song: SongItem<'m>,
    /// Similarity to the request, higher is closer, capped at the score of the item above:
    /// never increases down a list, even where the model places a song below a less similar
    /// one. Cosine in [0, 1] for one song; for seeds, the mean over the seeds minus the mean
    /// over `avoid`.
    pub score: f32,
    /// Why it is recommended, most telling first.
    pub reasons: Vec<String>,
}

impl RecommendedSong<'_> {
    /// Appends the item as JSON, exactly as serialising it with `serde_json` would.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let s = &self.song;
        out.push(b'{');
        json::key(out, "id", true);
        json::value(out, &s.id);
        json::key(out, "index", false);
        json::value(out, &s.index);
        json::key(out, "title", false);
        json::string(out, s.title);
        json::key(out, "artist", false);
        json::string(out, s.artist);
        json::key(out, "artist_id", false);
        json::value(out, &s.artist_id);
        json::key(out, "album", false);
        json::optional_string(out, s.album);
        json::key(out, "release_date", false);
        json::optional_string(out, s.release_date);
        json::key(out, "release_year", false);
        json::value(out, &s.release_year);
        json::key(out, "language", false);
        json::optional_string(out, s.language);
        json::key(out, "pageviews", false);
        json::value(out, &s.pageviews);
        json::key(out, "url", false);
        json::optional_string(out, s.url);
        json::key(out, "art_url", false);
        json::optional_string(out, s.art_url);
        json::key(out, "score", false);
        json::value(out, &self.score);
        json::key(out, "reasons", false);
        out.push(b'[');
        for (i, reason) in self.reasons.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::string(out, reason);
        }
        out.extend_from_slice(b"]}");
    }
}

/// Appends `"recommendations":[...]` (after a comma).
pub(crate) fn write_recommendations(out: &mut Vec<u8>, items: &[RecommendedSong<'_>]) {
    json::key(out, "recommendations", false);
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item.write_json(out);
    }
    out.push(b']');
}

/// Bytes to reserve for an answer of `n` items: most answers fit without growing.
pub(crate) fn answer_capacity(n: usize) -> usize {
    256 + 400 * n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<'a>(
        title: &'a str,
        reasons: Vec<String>,
        score: f32,
        full: bool,
    ) -> RecommendedSong<'a> {
        RecommendedSong {
            song: SongItem {
                id: 2_471_960,
                index: 17,
                title,
                artist: "Beyoncé \"B\"",
                artist_id: u64::MAX,
                album: full.then_some("I Am... Sasha Fierce"),
                release_date: full.then_some("2008-11-12"),
                release_year: full.then_some(-12),
                language: full.then_some("en"),
                pageviews: full.then_some(0),
                url: full.then_some("https://genius.com/Beyonce-halo-lyrics"),
                art_url: None,
            },
            score,
            reasons,
        }
    }

    #[test]
    fn items_are_written_as_serde_json_writes_them() {
        let items = [
            item(
                "Halo",
                vec!["same artist".into(), "shared producer Ryan Tedder".into()],
                0.876_543_2,
                true,
            ),
            item("tab\there", Vec::new(), 0.0, false),
            item("", vec!["\u{0}".into()], f32::NAN, true),
            item("희원", vec!["x".into()], 1.0, false),
            item("a", vec![], 1e-7, true),
        ];
        for it in &items {
            let mut out = Vec::new();
            it.write_json(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(it).unwrap()
            );
        }
        let mut out = vec![b'{'];
        json::key(&mut out, "n", true);
        json::value(&mut out, &1);
        write_recommendations(&mut out, &items);
        out.push(b'}');
        #[derive(Serialize)]
        struct Answer<'a> {
            n: u32,
            recommendations: &'a [RecommendedSong<'a>],
        }
        let want = serde_json::to_vec(&Answer {
            n: 1,
            recommendations: &items,
        })
        .unwrap();
        assert_eq!(out, want);
    }
}
