//! Columns of fixed-width values and a pool of strings, held either in memory (a model just
//! trained) or in the mapped model file (a model loaded for serving), and read the same way.
//!
//! A mapped column is a byte range of the file, so serving a model costs the pages requests
//! touch rather than a copy of the file.

use std::collections::HashMap;
use std::ops::{Deref, Range};
use std::ptr::NonNull;
use std::sync::Arc;

use bytemuck::Pod;
use memmap2::Mmap;

/// A slice of `T` owned in memory, borrowed from a mapped model file, or copied into a
/// read-only anonymous map (see [`Column::into_huge_pages`]).
///
/// The slice is resolved once, when the column is made: reading a value is then one bounds
/// check, where casting the map's bytes on every read cost an answer a tenth of its
/// instructions.
pub(crate) struct Column<T: Pod> {
    /// The first value; `len` values from here are `_owner`'s.
    start: NonNull<T>,
    len: usize,
    _owner: Owner<T>,
}

/// What keeps a column's values alive and unchanged.
#[expect(dead_code, reason = "held, never read: dropping it frees the values")]
enum Owner<T> {
    Owned(Vec<T>),
    /// The map a range of which (checked for bounds and alignment) the column is.
    Mapped(Arc<Mmap>),
}

// SAFETY: a column is a shared slice of plain values whose owner (a `Vec` or a read-only
// map, both `Send` and `Sync` for `Pod` values) it carries; nothing mutates the values.
unsafe impl<T: Pod + Sync> Send for Column<T> {}
// SAFETY: as above; `&Column<T>` gives out only `&[T]`.
unsafe impl<T: Pod + Sync> Sync for Column<T> {}

impl<T: Pod> Column<T> {
    /// The bytes `range` of `map` as a column, or `None` when they are out of bounds, not a
    /// whole number of values or not aligned for `T`.
    pub fn mapped(map: &Arc<Mmap>, range: Range<usize>) -> Option<Column<T>> {
        let values = bytemuck::try_cast_slice::<u8, T>(map.get(range)?).ok()?;
        Some(Column {
            start: NonNull::from(values).cast(),
            len: values.len(),
            _owner: Owner::Mapped(map.clone()),
        })
    }

    /// The same values copied into memory of the process's own that the kernel is asked to
    /// back with 2 MiB pages (Linux): a column read at random by every answer then needs one
    /// address translation per 2 MiB instead of one per 4 KiB, which a virtual machine pays
    /// dearly for. A column under 2 MiB, another system, or a failed map keeps the column.
    pub fn into_huge_pages(self) -> Column<T> {
        #[cfg(target_os = "linux")]
        if self.as_bytes().len() >= HUGE_PAGE
            && let Some(column) = huge_copy(self.as_bytes())
        {
            return column;
        }
        self
    }

    /// The values as bytes, as the model file stores them (little-endian).
    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::cast_slice(self)
    }
}

/// The size of a huge page on x86-64 and most 64-bit Arm kernels.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// `bytes` copied into a new anonymous map advised for huge pages, starting on a huge-page
/// boundary (the map has room to spare for that), as a column.
#[cfg(target_os = "linux")]
fn huge_copy<T: Pod>(bytes: &[u8]) -> Option<Column<T>> {
    let mut map = memmap2::MmapMut::map_anon(bytes.len().checked_add(HUGE_PAGE)?).ok()?;
    let skip = map.as_ptr().align_offset(HUGE_PAGE);
    let range = skip..skip + bytes.len();
    // Only advice: without huge pages the copy works the same.
    let _ = map.advise(memmap2::Advice::HugePage);
    map.get_mut(range.clone())?.copy_from_slice(bytes);
    Column::mapped(&Arc::new(map.make_read_only().ok()?), range)
}

impl<T: Pod> Default for Column<T> {
    fn default() -> Self {
        Column::from(Vec::new())
    }
}

impl<T: Pod> From<Vec<T>> for Column<T> {
    fn from(mut values: Vec<T>) -> Self {
        Column {
            start: NonNull::from(values.as_mut_slice()).cast(),
            len: values.len(),
            _owner: Owner::Owned(values),
        }
    }
}

impl<T: Pod> Deref for Column<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `start` and `len` were taken from the slice `_owner` holds: a `Vec`'s heap
        // buffer or a range of a map, checked then for bounds and alignment. Neither moves
        // nor changes while the column (which owns it and gives out only shared borrows)
        // lives: the `Vec` is never touched again, a file map is never written in place (see
        // `file::load`), and a copy in huge pages is made read-only before it becomes a column
        // (`huge_copy`).
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
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
    /// Whether the whole pool is known to be UTF-8 with every offset on a character boundary,
    /// so that no string needs checking when it is read (see [`Strings::check_utf8`]).
    utf8: bool,
}

/// Bytes of the pool checked between two releases of the pages read.
const CHECK_STRETCH: usize = 16 << 20;

impl Strings {
    /// A pool whose strings are checked as they are read, until [`Strings::check_utf8`].
    pub fn new(offsets: Column<u64>, bytes: Column<u8>) -> Strings {
        Strings {
            offsets,
            bytes,
            utf8: false,
        }
    }

    /// String `id`, or `None` for [`NO_STRING`], an unknown id or bytes that are not UTF-8
    /// (a damaged file degrades to a missing field rather than a panic).
    pub fn get(&self, id: StrRef) -> Option<&str> {
        if id == NO_STRING {
            return None;
        }
        let i = id as usize;
        let start = usize::try_from(*self.offsets.get(i)?).ok()?;
        let end = usize::try_from(*self.offsets.get(i + 1)?).ok()?;
        let bytes = self.bytes.get(start..end)?;
        if self.utf8 {
            // SAFETY: `check_utf8` found the whole pool to be UTF-8 and both offsets to be
            // character boundaries of it, so the bytes between them are UTF-8. Neither column
            // can change since: an owned column is never mutated, and a mapped model file is
            // never written in place (see `file::load`).
            Some(unsafe { std::str::from_utf8_unchecked(bytes) })
        } else {
            std::str::from_utf8(bytes).ok()
        }
    }

    /// Checks once that the whole pool is UTF-8 and that every offset is a character boundary,
    /// so that reading a string no longer checks it (serving reads several per song of every
    /// answer). A pool that fails keeps checking each string as it is read. `release` is given
    /// each stretch of the columns once checked (a mapped file's pages can then be dropped).
    pub fn check_utf8(&mut self, release: &mut dyn FnMut(&[u8])) {
        let bytes: &[u8] = &self.bytes;
        let boundary = |o: u64| {
            usize::try_from(o)
                .ok()
                .map(|o| match bytes.get(o) {
                    // Not a continuation byte (10xxxxxx): a character starts here.
                    Some(&b) => (b as i8) >= -0x40,
                    None => o == bytes.len(),
                })
                .unwrap_or(false)
        };
        let mut valid = true;
        for stretch in self.offsets.chunks(CHECK_STRETCH / 8) {
            valid = valid && stretch.iter().all(|&o| boundary(o));
            release(bytemuck::cast_slice(stretch));
        }
        let mut start = 0;
        while valid && start < bytes.len() {
            // End each stretch where a character starts, so none is split between two.
            let mut end = (start + CHECK_STRETCH).min(bytes.len());
            while end < bytes.len() && end > start && (bytes[end] as i8) < -0x40 {
                end -= 1;
            }
            if end == start {
                valid = false;
                break;
            }
            valid = std::str::from_utf8(&bytes[start..end]).is_ok();
            release(&bytes[start..end]);
            start = end;
        }
        self.utf8 = valid;
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
            // Built from `&str`s, with an offset after each.
            utf8: true,
        }
    }
}

/// Asks the processor to bring `items[i]` into the cache ahead of its use (a hint: nothing
/// happens where there is no such instruction, or no such item).
#[inline(always)]
pub(crate) fn prefetch<T>(items: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(item) = items.get(i) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE is part of every x86_64 target, and a prefetch only hints at an address
        // (here a valid one): it never faults nor changes memory.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((item as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (items, i);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_in_huge_pages_holds_the_same_values() {
        let values: Vec<u64> = (0..(3 << 20) / 8 + 5).map(|i| i * 2_654_435_761).collect();
        let moved = Column::from(values.clone()).into_huge_pages();
        assert_eq!(&moved[..], &values[..]);
        #[cfg(target_os = "linux")]
        {
            assert!(matches!(moved._owner, Owner::Mapped(_)), "not copied");
            assert_eq!(moved.as_ptr().align_offset(HUGE_PAGE), 0);
        }
        let small = Column::from(vec![1u32, 2, 3]).into_huge_pages();
        assert!(matches!(small._owner, Owner::Owned(_)));
        assert_eq!(&small[..], &[1, 2, 3]);
    }

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
        let mut strings = Strings::new(vec![0, 1, 2].into(), "é".as_bytes().to_vec().into());
        assert_eq!(strings.get(0), None);
        assert_eq!(strings.text(1), "");
        // The whole-pool check refuses it, and reading keeps checking.
        strings.check_utf8(&mut |_| {});
        assert!(!strings.utf8);
        assert_eq!(strings.get(0), None);
    }

    #[test]
    fn a_checked_pool_reads_the_same_strings() {
        let mut b = StringsBuilder::new();
        let ids: Vec<StrRef> = ["", "Halo", "Heewon (희원)", "ñé", "\u{1F600}x"]
            .iter()
            .map(|s| b.add(s))
            .collect();
        let built = b.finish();
        let mut read = Strings::new(built.offsets.to_vec().into(), built.bytes.to_vec().into());
        let before: Vec<Option<String>> = ids
            .iter()
            .map(|&i| read.get(i).map(str::to_owned))
            .collect();
        let mut released = 0;
        read.check_utf8(&mut |bytes| released += bytes.len());
        assert!(read.utf8);
        assert_eq!(released, built.offsets.len() * 8 + built.bytes.len());
        for (&i, want) in ids.iter().zip(&before) {
            assert_eq!(read.get(i).map(str::to_owned), *want);
            assert_eq!(read.get(i), built.get(i));
        }
        assert_eq!(read.get(99), None);
    }
}
