//! Versions of one song: a live recording, a remix, a translation, an edit, an anniversary or
//! deluxe re-release. They are one song to a listener, so they are never recommended for each
//! other and a list holds at most one of them.

use std::collections::HashMap;

use songrec_catalog::Song;

use crate::features::is_version_relationship;

/// Words that mark a bracketed or dashed title suffix as a version of the same song.
const VERSION_WORDS: [&str; 24] = [
    "live",
    "remix",
    "mix",
    "edit",
    "version",
    "remaster",
    "remastered",
    "demo",
    "acoustic",
    "anniversary",
    "deluxe",
    "edition",
    "mono",
    "stereo",
    "instrumental",
    "radio",
    "extended",
    "session",
    "sessions",
    "unplugged",
    "rework",
    "translation",
    "traducción",
    "übersetzung",
];

/// The title without version suffixes ("(Live)", "[2011 Remaster]", "- Radio Edit", "(25th
/// Anniversary Edition)"), lower-cased, letters and digits only.
pub(crate) fn base_title(title: &str) -> String {
    let mut t = title.to_lowercase();
    loop {
        let trimmed = t.trim_end();
        let cut = if let Some(stripped) = trimmed.strip_suffix(')') {
            stripped.rfind('(')
        } else if let Some(stripped) = trimmed.strip_suffix(']') {
            stripped.rfind('[')
        } else {
            trimmed.rfind(" - ")
        };
        let Some(at) = cut else { break };
        let suffix = &trimmed[at..];
        let marks_version = suffix
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| VERSION_WORDS.contains(&w));
        if !marks_version || at == 0 {
            break;
        }
        t = trimmed[..at].to_string();
    }
    t.chars().filter(|c| c.is_alphanumeric()).collect()
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        parent[x as usize] = parent[parent[x as usize] as usize];
        x = parent[x as usize];
    }
    x
}

/// Each song's version group (the index of one member): songs linked by a version
/// relationship, and songs of one primary artist with the same base title, share a group.
pub(crate) fn version_groups(songs: &[&Song]) -> Vec<u32> {
    let mut parent: Vec<u32> = (0..songs.len() as u32).collect();
    let index: HashMap<u64, u32> = songs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i as u32))
        .collect();
    let union = |parent: &mut Vec<u32>, a: u32, b: u32| {
        let (ra, rb) = (find(parent, a), find(parent, b));
        if ra != rb {
            parent[ra.max(rb) as usize] = ra.min(rb);
        }
    };
    let mut by_title: HashMap<(u64, String), u32> = HashMap::new();
    for (i, song) in songs.iter().enumerate() {
        let i = i as u32;
        for rel in &song.relationships {
            if is_version_relationship(&rel.kind)
                && let Some(&j) = index.get(&rel.song_id)
            {
                union(&mut parent, i, j);
            }
        }
        let base = base_title(&song.title);
        if base.is_empty() {
            continue;
        }
        match by_title.entry((song.primary_artist.id, base)) {
            std::collections::hash_map::Entry::Occupied(e) => union(&mut parent, i, *e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
        }
    }
    (0..songs.len() as u32)
        .map(|i| find(&mut parent, i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_suffixes_are_stripped_and_other_brackets_kept() {
        assert_eq!(base_title("Stairway to Heaven (Live)"), "stairwaytoheaven");
        assert_eq!(
            base_title("Friends in Low Places (25th Anniversary Edition)"),
            "friendsinlowplaces"
        );
        assert_eq!(base_title("Creep - 2011 Remaster"), "creep");
        assert_eq!(base_title("Halo [Radio Edit] (Live)"), "halo");
        assert_eq!(base_title("Song (Interlude)"), "songinterlude");
        assert_eq!(base_title("(Live)"), "live");
    }
}
