//! Why a song is a neighbour of another: short human reasons ("shared producer X", "same
//! album", "samples"), built from the reason bits stored with each neighbour and the two songs'
//! credits, tags and relationships.
//!
//! Reasons are handed out as [`Reason`] parts rather than `String`s, so that a caller writing
//! them somewhere (an HTTP answer) does so without an allocation per reason.

use std::fmt;

use crate::column::NO_STRING;
use crate::features::{reason, role};
use crate::{Model, table};

/// One reason, as text in up to two parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason<'a> {
    /// The text as it is.
    Text(&'a str),
    /// A fixed label followed by a name: `"shared producer "` + `"Ryan Tedder"`.
    Named(&'static str, &'a str),
    /// A relationship kind as Genius spells it, underscores read as spaces (`cover_of`:
    /// "cover of").
    Spaced(&'a str),
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::Text(text) => f.write_str(text),
            Reason::Named(label, name) => {
                f.write_str(label)?;
                f.write_str(name)
            }
            Reason::Spaced(kind) => {
                for (i, part) in kind.split('_').enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    f.write_str(part)?;
                }
                Ok(())
            }
        }
    }
}

impl Model {
    /// Short human explanations of why song `c` is a neighbour of song `q`, from the stored
    /// reason bits of that pair.
    pub fn reasons(&self, q: usize, c: usize, bits: u8) -> Vec<String> {
        let mut out = Vec::new();
        self.each_reason(q, c, bits, &mut |r| out.push(r.to_string()));
        out
    }

    /// The same reasons as [`Model::reasons`], in the same order, handed to `each` one at a
    /// time.
    pub fn each_reason(&self, q: usize, c: usize, bits: u8, each: &mut dyn FnMut(Reason<'_>)) {
        if bits & reason::SAME_ARTIST != 0 {
            each(Reason::Text("same artist"));
        }
        let mut credited = |name: Option<&str>, label: &'static str, bare: &'static str| {
            each(match name {
                Some(name) => Reason::Named(label, name),
                None => Reason::Text(bare),
            })
        };
        if bits & reason::FEATURED != 0 {
            let name = self.shared_artist(q, c, |a, b| {
                (a | b) & role::FEATURED != 0 && a & b & role::PRIMARY == 0
            });
            credited(name, "featured together: ", "featured together:");
        }
        if bits & reason::PRODUCER != 0 {
            let name = self.shared_artist(q, c, |a, b| a & b & role::PRODUCER != 0);
            credited(name, "shared producer ", "shared producer");
        }
        if bits & reason::WRITER != 0 {
            let name = self.shared_artist(q, c, |a, b| a & b & role::WRITER != 0);
            credited(name, "shared writer ", "shared writer");
        }
        if bits & reason::ALBUM != 0 {
            each(Reason::Text("same album"));
        }
        if bits & reason::RELATED != 0 {
            each(match self.relation_kind(q, c) {
                Some(kind) => Reason::Spaced(kind),
                None => Reason::Text("related songs"),
            });
        }
        if bits & reason::SCENE != 0 {
            self.scene_reasons(q, c, each);
        }
        if bits & reason::FALLBACK != 0 {
            each(Reason::Text(if self.original_features {
                "similar popularity"
            } else {
                "few shared credits: same language and era, similar popularity"
            }));
        }
    }

    /// What two songs of one scene share: a label, a crew member, a genre tag, and whose
    /// artist the other is when the artists differ.
    fn scene_reasons(&self, q: usize, c: usize, each: &mut dyn FnMut(Reason<'_>)) {
        let mut any = false;
        if let Some(name) = self.shared_artist(q, c, |a, b| a & b & role::LABEL != 0) {
            each(Reason::Named("same label: ", name));
            any = true;
        }
        if let Some(name) = self.shared_artist(q, c, |a, b| a & b & role::CREW != 0) {
            each(Reason::Named("same crew: ", name));
            any = true;
        }
        // Compared lower-cased; without allocating when both are ASCII (most tags).
        let same = |a: &str, b: &str| {
            if a.is_ascii() && b.is_ascii() {
                a.eq_ignore_ascii_case(b)
            } else {
                a.to_lowercase() == b.to_lowercase()
            }
        };
        if let Some(tag) = self
            .tags(q)
            .find(|t| self.tags(c).any(|theirs| same(t, theirs)))
        {
            each(Reason::Named("tagged ", tag));
            any = true;
        }
        match (self.primary_artist(q), self.primary_artist(c)) {
            (Some((a, _)), Some((b, b_name))) if a != b => {
                each(Reason::Named("similar artist: ", b_name));
            }
            _ if !any => each(Reason::Text("same circle of collaborators")),
            _ => {}
        }
    }

    /// (artist position, role bits) of the song's credits, sorted by artist position.
    pub(crate) fn credit_pairs(&self, song: usize) -> impl Iterator<Item = (u32, u8)> + '_ {
        let t = &self.tables;
        let range = table::range(&t.credit_offsets, song).unwrap_or(0..0);
        t.credit_artists[range.clone()]
            .iter()
            .copied()
            .zip(t.credit_roles[range].iter().copied())
    }

    /// The first artist credited on both songs whose roles satisfy `wanted`.
    fn shared_artist(&self, a: usize, b: usize, wanted: impl Fn(u8, u8) -> bool) -> Option<&str> {
        let t = &self.tables;
        let range = table::range(&t.credit_offsets, b).unwrap_or(0..0);
        let (artists, roles) = (&t.credit_artists[range.clone()], &t.credit_roles[range]);
        let theirs = &artists[..artists.len().min(roles.len())];
        self.credit_pairs(a).find_map(|(name, role_a)| {
            let pos = theirs.binary_search(&name).ok()?;
            wanted(role_a, roles[pos]).then(|| t.strings.text(t.artist_names[name as usize]))
        })
    }

    /// The Genius id and name of the song's primary artist, as [`Model::song`] gives them.
    pub(crate) fn primary_artist(&self, index: usize) -> Option<(u64, &str)> {
        let t = &self.tables;
        let artist = *t.song_artist.get(index)? as usize;
        Some((
            t.artist_ids.get(artist).copied().unwrap_or(0),
            t.strings
                .text(t.artist_names.get(artist).copied().unwrap_or(NO_STRING)),
        ))
    }

    fn relation_kind(&self, from: usize, to: usize) -> Option<&str> {
        let t = &self.tables;
        table::range(&t.relation_offsets, from)?
            .find(|&i| t.relation_targets[i] as usize == to)
            .and_then(|i| t.strings.get(t.relation_kinds[t.relation_kind[i] as usize]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_their_parts_joined() {
        assert_eq!(Reason::Text("same album").to_string(), "same album");
        assert_eq!(
            Reason::Named("shared producer ", "Ryan Tedder").to_string(),
            "shared producer Ryan Tedder"
        );
        assert_eq!(Reason::Spaced("cover_of").to_string(), "cover of");
        assert_eq!(Reason::Spaced("_a__b_").to_string(), " a  b ");
        assert_eq!(Reason::Spaced("samples").to_string(), "samples");
    }
}
