//! The song records answers carry, borrowed from the served model while the answer is
//! serialised.

use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};
use songrec_model::{Reason, SongView, record};
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

    fn view(&self) -> SongView<'m> {
        SongView {
            id: self.id,
            title: self.title,
            artist: self.artist,
            artist_id: self.artist_id,
            album: self.album,
            release_date: self.release_date,
            release_year: self.release_year,
            language: self.language,
            pageviews: self.pageviews,
            url: self.url,
            art_url: self.art_url,
        }
    }
}

/// The song of a recommendation: its details, or the same as the JSON record the model
/// stores for it, copied whole into the answer.
#[derive(Debug)]
pub(crate) enum ItemSong<'m> {
    Details(SongItem<'m>),
    Record { id: u64, json: &'m [u8] },
}

impl<'m> ItemSong<'m> {
    /// The song at `index`, if the model has it: its record when the model stores records.
    pub fn at(model: &'m dyn Recommender, index: usize) -> Option<ItemSong<'m>> {
        match model.song_record(index) {
            Some(json) => Some(ItemSong::Record {
                id: model.song_id(index)?,
                json,
            }),
            None => SongItem::at(model, index).map(ItemSong::Details),
        }
    }

    /// The Genius song id.
    pub fn id(&self) -> u64 {
        match self {
            ItemSong::Details(song) => song.id,
            ItemSong::Record { id, .. } => *id,
        }
    }

    /// Appends the song's fields as an object left open for more.
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            ItemSong::Details(song) => record::write_song(out, song.index, &song.view()),
            ItemSong::Record { json, .. } => out.extend_from_slice(json),
        }
    }
}

impl Serialize for ItemSong<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ItemSong::Details(song) => song.serialize(serializer),
            ItemSong::Record { json, .. } => {
                let mut whole = json.to_vec();
                whole.push(b'}');
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&whole)
                    .map_err(serde::ser::Error::custom)?
                    .serialize(serializer)
            }
        }
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
    #[schema(value_type = SongItem)]
    pub song: ItemSong<'m>,
    /// Similarity to the request, higher is closer, capped at the score of the item above:
    /// never increases down a list, even where the model places a song below a less similar
    /// one. Cosine in [0, 1] for one song; for seeds, the mean over the seeds minus the mean
    /// over `avoid`.
    pub score: f32,
    /// Why it is recommended, most telling first.
    #[schema(value_type = Vec<String>)]
    pub reasons: Reasons<'m>,
}

impl RecommendedSong<'_> {
    /// Appends the item as JSON, exactly as serialising it with `serde_json` would.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.song.write_json(out);
        out.extend_from_slice(b",\"score\":");
        json::value(out, &self.score);
        out.extend_from_slice(b",\"reasons\":");
        self.reasons.write_json(out);
        out.push(b'}');
    }
}

/// Appends `"recommendations":[...]` (after a comma).
pub(crate) fn write_recommendations(out: &mut Vec<u8>, items: &[RecommendedSong<'_>]) {
    out.extend_from_slice(b",\"recommendations\":");
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
            song: ItemSong::Details(SongItem {
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
            }),
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
