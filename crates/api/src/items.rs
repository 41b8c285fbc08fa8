//! The song records answers carry, borrowed from the served model while the answer is
//! serialised.

use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};
use songrec_model::{Reason, SongView};
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

/// Why a song is recommended.
pub(crate) enum Reasons<'m> {
    /// Worked out from the model as the answer is written: why song `song` is a neighbour of
    /// song `query`, from the reason bits stored with the pair.
    Stored {
        model: &'m dyn Recommender,
        query: usize,
        song: usize,
        bits: u8,
    },
    /// Already worked out.
    Listed(Vec<String>),
}

impl Reasons<'_> {
    /// Hands each reason to `each`, in order.
    fn each(&self, each: &mut dyn FnMut(Reason<'_>)) {
        match self {
            Reasons::Stored {
                model,
                query,
                song,
                bits,
            } => model.each_reason(*query, *song, *bits, each),
            Reasons::Listed(list) => list.iter().for_each(|r| each(Reason::Text(r))),
        }
    }

    /// Each reason in order, as JSON strings.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        let mut first = true;
        self.each(&mut |reason| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            json::reason(out, reason);
        });
        out.push(b']');
    }

    fn to_strings(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.each(&mut |reason| out.push(reason.to_string()));
        out
    }
}

impl Serialize for Reasons<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let reasons = self.to_strings();
        let mut seq = serializer.serialize_seq(Some(reasons.len()))?;
        for reason in &reasons {
            seq.serialize_element(reason)?;
        }
        seq.end()
    }
}

impl std::fmt::Debug for Reasons<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.to_strings()).finish()
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
    #[schema(value_type = Vec<String>)]
    pub reasons: Reasons<'m>,
}

/// Appends `,"key":` (a key that needs no escaping), in one copy.
macro_rules! field {
    ($out:expr, $key:literal) => {
        $out.extend_from_slice(concat!(",\"", $key, "\":").as_bytes())
    };
}

impl RecommendedSong<'_> {
    /// Appends the item as JSON, exactly as serialising it with `serde_json` would.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let s = &self.song;
        out.push(b'{');
        out.extend_from_slice(b"\"id\":");
        json::value(out, &s.id);
        field!(out, "index");
        json::value(out, &s.index);
        field!(out, "title");
        json::string(out, s.title);
        field!(out, "artist");
        json::string(out, s.artist);
        field!(out, "artist_id");
        json::value(out, &s.artist_id);
        field!(out, "album");
        json::optional_string(out, s.album);
        field!(out, "release_date");
        json::optional_string(out, s.release_date);
        field!(out, "release_year");
        json::value(out, &s.release_year);
        field!(out, "language");
        json::optional_string(out, s.language);
        field!(out, "pageviews");
        json::value(out, &s.pageviews);
        field!(out, "url");
        json::optional_string(out, s.url);
        field!(out, "art_url");
        json::optional_string(out, s.art_url);
        field!(out, "score");
        json::value(out, &self.score);
        field!(out, "reasons");
        self.reasons.write_json(out);
        out.push(b'}');
    }
}

/// Appends `"recommendations":[...]` (after a comma).
pub(crate) fn write_recommendations(out: &mut Vec<u8>, items: &[RecommendedSong<'_>]) {
    field!(out, "recommendations");
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
    256 + 512 * n
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
            reasons: Reasons::Listed(reasons),
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
