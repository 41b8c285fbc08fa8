//! The catalogue's vocabulary: the normalised song record that flows between stages.
//!
//! `genius` turns API song objects into [`Song`]s, `store` persists and streams them back,
//! `model` builds features from them. Nothing here does I/O.

use serde::{Deserialize, Serialize};

/// The version of the stored per-song record: the store keeps every [`Song`] in a compact
/// binary encoding of this struct (serde field order, no field names), which training reads
/// back without re-parsing JSON.
///
/// Bump it whenever [`Song`] or a type inside it changes shape (a field added, removed,
/// reordered or retyped): on its next start the store re-derives every record from the raw JSON
/// it keeps, once. The encoding is not self-describing, so fields must not use
/// `skip_serializing_if`, `flatten` or untagged enums.
pub const SONG_RECORD_VERSION: u32 = 2;

/// A Genius artist, identified by its Genius id. Names are free text and never split.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Artist {
    pub id: u64,
    pub name: String,
}

/// An album a song appears on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Album {
    pub id: u64,
    pub name: String,
}

/// The part an artist played on a song, besides being its primary artist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditRole {
    Primary,
    Featured,
    Producer,
    Writer,
}

impl CreditRole {
    pub const ALL: [CreditRole; 4] = [
        CreditRole::Primary,
        CreditRole::Featured,
        CreditRole::Producer,
        CreditRole::Writer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CreditRole::Primary => "primary",
            CreditRole::Featured => "featured",
            CreditRole::Producer => "producer",
            CreditRole::Writer => "writer",
        }
    }

    pub fn parse(s: &str) -> Option<CreditRole> {
        CreditRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One credited artist on a song.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    pub role: CreditRole,
    pub artist: Artist,
}

/// A typed link from one song to another (`samples`, `cover_of`, `remixed_by`, ...).
///
/// The kind is kept as Genius spells it, because new kinds appear over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    pub kind: String,
    pub song_id: u64,
}

/// One `custom_performances` credit: the role as Genius labels it ("Label", "Mixing Engineer",
/// "Guitar", ...) and the artist (a person, a band, a label or a studio) credited in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Performance {
    pub role: String,
    pub artist: Artist,
}

/// What kind of contribution a `custom_performances` role is. Genius roles are free text
/// ("Mixing Engineer", "Assistant Mixing Engineer", "Mixed At", ...); these families group
/// them so that each can be weighed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleFamily {
    /// Record label, imprint, distributor, phonographic copyright holder.
    Label,
    /// Music publisher, copyright (composition), performance rights, licensing.
    Publisher,
    /// Recording, mixing and mastering engineers, and the studios named as such.
    Engineer,
    /// Co-, additional, executive and vocal producers, programmers, arrangers, composers.
    Production,
    /// Session musicians: instruments, programming of drums, scratches.
    Musician,
    /// Vocals, background and additional vocals, choirs.
    Vocals,
    /// Video, artwork, photography, design.
    Visual,
    /// Anything else (management, A&R, ...).
    Other,
}

impl RoleFamily {
    pub const ALL: [RoleFamily; 8] = [
        RoleFamily::Label,
        RoleFamily::Publisher,
        RoleFamily::Engineer,
        RoleFamily::Production,
        RoleFamily::Musician,
        RoleFamily::Vocals,
        RoleFamily::Visual,
        RoleFamily::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RoleFamily::Label => "label",
            RoleFamily::Publisher => "publisher",
            RoleFamily::Engineer => "engineer",
            RoleFamily::Production => "production",
            RoleFamily::Musician => "musician",
            RoleFamily::Vocals => "vocals",
            RoleFamily::Visual => "visual",
            RoleFamily::Other => "other",
        }
    }

    /// The family of a role as Genius labels it, by the words it contains (case ignored).
    pub fn of(role: &str) -> RoleFamily {
        let r = role.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| r.contains(w));
        if has(&[
            "video",
            "art direction",
            "artwork",
            "photograph",
            "design",
            "illustrat",
        ]) {
            RoleFamily::Visual
        } else if has(&[
            "publish",
            "performance rights",
            "licens",
            "copyright ©",
            "copyright©",
        ]) || r.trim() == "copyright"
        {
            RoleFamily::Publisher
        } else if has(&[
            "label",
            "imprint",
            "distribut",
            "phonographic",
            "℗",
            "released by",
            "marketed",
            "manufactured",
        ]) {
            RoleFamily::Label
        } else if has(&[
            "engineer", "mix", "master", "record", "studio", "editor", "editing",
        ]) {
            RoleFamily::Engineer
        } else if has(&[
            "produc",
            "programm",
            "arrang",
            "compos",
            "lyricist",
            "music by",
            "beats",
            "songwriter",
            "writer",
        ]) {
            RoleFamily::Production
        } else if has(&["vocal", "choir", "singer", "rap", "voice", "chorus", "hook"]) {
            RoleFamily::Vocals
        } else if has(&[
            "guitar",
            "drum",
            "bass",
            "key",
            "piano",
            "organ",
            "synth",
            "percussion",
            "trumpet",
            "sax",
            "violin",
            "cello",
            "viola",
            "string",
            "horn",
            "flute",
            "trombone",
            "harmonica",
            "talkbox",
            "conga",
            "mellotron",
            "rhodes",
            "clap",
            "scratch",
            "instrument",
            "moog",
            "clarinet",
            "harp",
            "banjo",
            "mandolin",
            "ukulele",
            "tuba",
            "bongo",
            "tambourine",
            "vibraphone",
            "marimba",
            "sitar",
            "accordion",
            "turntabl",
            "dj",
            "orchestra",
            "brass",
            "woodwind",
            "oboe",
            "bassoon",
            "timpani",
            "glockenspiel",
            "celesta",
            "pedal steel",
            "whistl",
            "cowbell",
            "shaker",
            "808",
            "sampler",
            "theremin",
        ]) {
            RoleFamily::Musician
        } else {
            RoleFamily::Other
        }
    }
}

/// A song as songrec knows it: everything the model may use and the API may show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Song {
    pub id: u64,
    pub title: String,
    pub primary_artist: Artist,
    /// Featured, producer and writer credits (the primary artist is not repeated here).
    pub credits: Vec<Credit>,
    pub album: Option<Album>,
    /// `YYYY-MM-DD` when Genius knows the full date.
    pub release_date: Option<String>,
    /// The year, even when only a partial date is known.
    pub release_year: Option<i32>,
    pub language: Option<String>,
    pub pageviews: Option<u64>,
    pub relationships: Vec<Relationship>,
    /// Plain-text description; Genius's empty placeholder `"?"` is stored as `None`.
    pub description: Option<String>,
    pub url: Option<String>,
    pub song_art_image_url: Option<String>,
    /// Genre tags as Genius names them ("Rock", "Britpop", "In English"), the primary tag
    /// first, each once. Empty for objects saved before Genius returned tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The primary genre tag, when Genius names one.
    #[serde(default)]
    pub primary_tag: Option<String>,
    /// Every `custom_performances` credit (label, engineers, musicians, ...), in Genius's order.
    #[serde(default)]
    pub performances: Vec<Performance>,
}

impl Song {
    /// A song known by its id, title and primary artist only: no credits, album, dates,
    /// language, pageviews, relationships, links, tags or performances.
    pub fn new(id: u64, title: String, primary_artist: Artist) -> Song {
        Song {
            id,
            title,
            primary_artist,
            credits: Vec::new(),
            album: None,
            release_date: None,
            release_year: None,
            language: None,
            pageviews: None,
            relationships: Vec::new(),
            description: None,
            url: None,
            song_art_image_url: None,
            tags: Vec::new(),
            primary_tag: None,
            performances: Vec::new(),
        }
    }

    /// Artists credited in `role`, primary included when asked for.
    pub fn artists_in(&self, role: CreditRole) -> impl Iterator<Item = &Artist> {
        let primary = (role == CreditRole::Primary).then_some(&self.primary_artist);
        primary.into_iter().chain(
            self.credits
                .iter()
                .filter(move |c| c.role == role)
                .map(|c| &c.artist),
        )
    }
}

/// The serving order of the original browse page: pageviews descending, ties by id
/// ascending, songs without pageviews last (by id). `GET /recommend/{index}` indexes this order.
pub fn browse_order(a: (Option<u64>, u64), b: (Option<u64>, u64)) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.0, b.0) {
        (Some(x), Some(y)) => y.cmp(&x).then(a.1.cmp(&b.1)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genius_roles_fall_into_their_families() {
        let cases = [
            ("Label", RoleFamily::Label),
            ("Label`", RoleFamily::Label),
            ("Phonographic Copyright ℗", RoleFamily::Label),
            ("Distributor", RoleFamily::Label),
            ("Publisher", RoleFamily::Publisher),
            ("Copyright ©", RoleFamily::Publisher),
            ("Performance Rights", RoleFamily::Publisher),
            ("Mixing Engineer", RoleFamily::Engineer),
            ("Mastered at", RoleFamily::Engineer),
            ("Vocal Engineer", RoleFamily::Engineer),
            ("Co-Producer", RoleFamily::Production),
            ("Vocal Producer", RoleFamily::Production),
            ("Drum Programmer", RoleFamily::Production),
            ("Guitar", RoleFamily::Musician),
            ("Bass Guitar", RoleFamily::Musician),
            ("Scratches", RoleFamily::Musician),
            ("Background Vocals", RoleFamily::Vocals),
            ("Video Director", RoleFamily::Visual),
            ("Artwork", RoleFamily::Visual),
            ("A&R", RoleFamily::Other),
            ("Management", RoleFamily::Other),
        ];
        for (role, family) in cases {
            assert_eq!(RoleFamily::of(role), family, "{role}");
        }
    }

    #[test]
    fn browse_order_puts_most_viewed_first_ties_by_id_and_missing_last() {
        let mut v = vec![
            (None, 1),
            (Some(5), 9),
            (Some(7), 3),
            (Some(5), 2),
            (None, 0),
        ];
        v.sort_by(|a, b| browse_order(*a, *b));
        assert_eq!(
            v,
            vec![
                (Some(7), 3),
                (Some(5), 2),
                (Some(5), 9),
                (None, 0),
                (None, 1)
            ]
        );
    }
}
