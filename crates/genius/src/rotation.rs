//! Which artists a fetch covers when none is named: a rotation that moves on every hour.

use chrono::{Datelike, NaiveDateTime, Timelike};

/// The 30 artists the original fetcher rotated through, in its order.
pub const ORIGINAL_ARTISTS: [&str; 30] = [
    "Taylor Swift",
    "Drake",
    "The Weeknd",
    "Beyoncé",
    "Kendrick Lamar",
    "Ed Sheeran",
    "Billie Eilish",
    "Adele",
    "Post Malone",
    "Harry Styles",
    "Bruno Mars",
    "Rihanna",
    "Justin Bieber",
    "Dua Lipa",
    "Travis Scott",
    "Ariana Grande",
    "J. Cole",
    "Doja Cat",
    "Shawn Mendes",
    "Lana Del Rey",
    "Lil Nas X",
    "Olivia Rodrigo",
    "Bad Bunny",
    "SZA",
    "Future",
    "Sam Smith",
    "The Chainsmokers",
    "Miley Cyrus",
    "Charlie Puth",
    "Jason Derulo",
];

/// The artist whose turn it is at `now` (local time): the list advances by one every hour of
/// the year, wrapping around, exactly as the original did.
pub fn artist_of_the_hour<S: AsRef<str>>(artists: &[S], now: NaiveDateTime) -> Option<&str> {
    if artists.is_empty() {
        return None;
    }
    let hour_of_year = now.ordinal0() as usize * 24 + now.hour() as usize;
    Some(artists[hour_of_year % artists.len()].as_ref())
}

/// Artist names from a file's text: one a line; blank lines and `#` comments are skipped.
pub fn parse_artist_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(month: u32, day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2025, month, day)
            .unwrap()
            .and_hms_opt(hour, 30, 0)
            .unwrap()
    }

    #[test]
    fn the_rotation_advances_every_hour_and_wraps_after_thirty() {
        assert_eq!(
            artist_of_the_hour(&ORIGINAL_ARTISTS, at(1, 1, 0)),
            Some("Taylor Swift")
        );
        assert_eq!(
            artist_of_the_hour(&ORIGINAL_ARTISTS, at(1, 1, 1)),
            Some("Drake")
        );
        assert_eq!(
            artist_of_the_hour(&ORIGINAL_ARTISTS, at(1, 1, 23)),
            Some("SZA")
        );
        // 2 Jan 06:00 is hour 30 of the year: back to the start.
        assert_eq!(
            artist_of_the_hour(&ORIGINAL_ARTISTS, at(1, 2, 6)),
            Some("Taylor Swift")
        );
        let none: [&str; 0] = [];
        assert_eq!(artist_of_the_hour(&none, at(1, 1, 0)), None);
    }

    #[test]
    fn an_artist_list_skips_blanks_and_comments() {
        let list = parse_artist_list("# mine\nSia\n\n  Pete Rock & C.L. Smooth  \n#Drake\n");
        assert_eq!(list, ["Sia", "Pete Rock & C.L. Smooth"]);
    }
}
