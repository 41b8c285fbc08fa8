//! Columns of fixed-width values and a pool of strings, held either in memory (a model just
//! trained) or in the mapped model file (a model loaded for serving), and read the same way.
//!
//! A mapped column is a byte range of the file, so serving a model costs the pages requests
//! touch rather than a copy of the file.

use std::collections::HashMap;
use std::ops::{Deref, Range};
use std::sync::Arc;

use bytemuck::Pod;
use memmap2::Mmap;

/// A slice of `T` owned in memory or borrowed from a mapped model file.
pub(crate) struct Column<T: Pod> {
    repr: Repr<T>,
}

enum Repr<T> {
    Owned(Vec<T>),
    /// A byte range of the map whose alignment and length were checked when it was taken.
    Mapped(Arc<Mmap>, Range<usize>),
}

impl<T: Pod> Column<T> {
    /// The bytes `range` of `map` as a column, or `None` when they are out of bounds, not a
    /// whole number of values or not aligned for `T`.
    pub fn mapped(map: &Arc<Mmap>, range: Range<usize>) -> Option<Column<T>> {
        bytemuck::try_cast_slice::<u8, T>(map.get(range.clone())?).ok()?;
        Some(Column {
            repr: Repr::Mapped(map.clone(), range),
        })
    }

    /// The values as bytes, as the model file stores them (little-endian).
    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::cast_slice(self)
    }
}

impl<T: Pod> Default for Column<T> {
    fn default() -> Self {
        Column::from(Vec::new())
    }
}

impl<T: Pod> From<Vec<T>> for Column<T> {
    fn from(values: Vec<T>) -> Self {
        Column {
            repr: Repr::Owned(values),
        }
    }
}

impl<T: Pod> Deref for Column<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.repr {
            Repr::Owned(values) => values,
            // Checked in `Column::mapped`, and a map never moves: this cast cannot fail.
            Repr::Mapped(map, range) => bytemuck::cast_slice(&map[range.clone()]),
        }
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for Column<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Column(len {})", self.len())
    }
}

/// A reference to a string in a [`Strings`] pool; [`NO_STRING`] for none.
pub(crate) type StrRef = u32;
pub(crate) const NO_STRING: StrRef = u32::MAX;

/// Strings stored back to back, found by number.
#[derive(Debug, Default)]
pub(crate) struct Strings {
    /// `offsets[i]..offsets[i + 1]` are string i's bytes.
    pub offsets: Column<u64>,
    pub bytes: Column<u8>,
}

impl Strings {
    /// String `id`, or `None` for [`NO_STRING`], an unknown id or bytes that are not UTF-8
    /// (a damaged file degrades to a missing field rather than a panic).
    pub fn get(&self, id: StrRef) -> Option<&str> {
        if id == NO_STRING {
            return None;
        }
        let i = id as usize;
        let start = usize::try_from(*self.offsets.get(i)?).ok()?;
        let end = usize::try_from(*self.offsets.get(i + 1)?).ok()?;
        std::str::from_utf8(self.bytes.get(start..end)?).ok()
    }

    /// String `id`, empty when there is none.
    pub fn text(&self, id: StrRef) -> &str {
        self.get(id).unwrap_or("")
    }
}

/// Builds a [`Strings`] pool; repeated values (artist names, albums, languages) are stored
/// once when added with [`StringsBuilder::shared`].
pub(crate) struct StringsBuilder {
    offsets: Vec<u64>,
    bytes: Vec<u8>,
    seen: HashMap<String, StrRef>,
}

impl StringsBuilder {
    pub fn new() -> StringsBuilder {
        StringsBuilder {
            offsets: vec![0],
            bytes: Vec::new(),
            seen: HashMap::new(),
        }
    }

    /// Adds a string that is likely unique (a title, a URL).
    pub fn add(&mut self, s: &str) -> StrRef {
        let id = (self.offsets.len() - 1) as StrRef;
        self.bytes.extend_from_slice(s.as_bytes());
        self.offsets.push(self.bytes.len() as u64);
        id
    }

    /// Adds a string that is likely repeated, storing it once.
    pub fn shared(&mut self, s: &str) -> StrRef {
        if let Some(&id) = self.seen.get(s) {
            return id;
        }
        let id = self.add(s);
        self.seen.insert(s.to_owned(), id);
        id
    }

    pub fn optional(&mut self, s: Option<&str>, shared: bool) -> StrRef {
        match s {
            None => NO_STRING,
            Some(s) if shared => self.shared(s),
            Some(s) => self.add(s),
        }
    }

    pub fn finish(self) -> Strings {
        Strings {
            offsets: self.offsets.into(),
            bytes: self.bytes.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_come_back_by_number_and_shared_ones_are_stored_once() {
        let mut b = StringsBuilder::new();
        let a = b.shared("en");
        let t = b.add("Halo");
        let a2 = b.shared("en");
        let none = b.optional(None, true);
        let strings = b.finish();
        assert_eq!(a, a2);
        assert_eq!(strings.get(a), Some("en"));
        assert_eq!(strings.get(t), Some("Halo"));
        assert_eq!(strings.get(none), None);
        assert_eq!(strings.get(99), None);
    }

    #[test]
    fn a_string_cut_inside_a_character_reads_as_missing() {
        let strings = Strings {
            offsets: vec![0, 1, 2].into(),
            bytes: "é".as_bytes().to_vec().into(),
        };
        assert_eq!(strings.get(0), None);
        assert_eq!(strings.text(1), "");
    }
}
