//! PostgreSQL's binary COPY format, written by hand: the rows of every staging and direct COPY.

use chrono::{DateTime, Utc};

use crate::StoreError;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Rows in PostgreSQL's binary COPY format: a header, then per row its field count and each
/// field as a big-endian length (-1 for NULL) and the value's binary form.
pub(super) struct CopyRows {
    buf: Vec<u8>,
    count: u64,
}

impl CopyRows {
    pub(super) fn new() -> CopyRows {
        let mut buf = Vec::with_capacity(64 * 1024);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyRows { buf, count: 0 }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rows() == 0
    }

    /// How many rows were added.
    pub(super) fn rows(&self) -> u64 {
        self.count
    }

    pub(super) fn row(&mut self, fields: i16) {
        self.count += 1;
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    pub(super) fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn fixed<const N: usize>(&mut self, value: [u8; N]) {
        // Fixed-size values are at most 8 bytes.
        let len = i32::try_from(N).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(&value);
    }

    pub(super) fn i64(&mut self, v: i64) {
        self.fixed(v.to_be_bytes());
    }

    pub(super) fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.i64(v),
            None => self.null(),
        }
    }

    pub(super) fn i32(&mut self, v: i32) {
        self.fixed(v.to_be_bytes());
    }

    pub(super) fn bool(&mut self, v: bool) {
        self.fixed([u8::from(v)]);
    }

    pub(super) fn timestamptz(&mut self, at: DateTime<Utc>) {
        self.i64(at.timestamp_micros() - PG_EPOCH_MICROS);
    }

    /// A variable-length value: `prefix` then `value`.
    fn var(&mut self, prefix: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let len = prefix.len() + value.len();
        let len = i32::try_from(len).map_err(|_| StoreError::OutOfRange {
            field: "value length",
            value: len as u64,
        })?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(prefix);
        self.buf.extend_from_slice(value);
        Ok(())
    }

    pub(super) fn bytes(&mut self, v: &[u8]) -> Result<(), StoreError> {
        self.var(&[], v)
    }

    pub(super) fn text(&mut self, v: &str) -> Result<(), StoreError> {
        self.var(&[], v.as_bytes())
    }

    pub(super) fn opt_text(&mut self, v: Option<&str>) -> Result<(), StoreError> {
        match v {
            Some(v) => self.text(v),
            None => {
                self.null();
                Ok(())
            }
        }
    }

    /// `jsonb`'s binary form: format version 1, then the JSON text.
    pub(super) fn jsonb(&mut self, json: &str) -> Result<(), StoreError> {
        self.var(&[1], json.as_bytes())
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_are_framed_as_postgres_reads_them() {
        let mut rows = CopyRows::new();
        rows.row(3);
        rows.i64(7);
        rows.null();
        rows.jsonb("[]").unwrap();
        let bytes = rows.finish();
        assert_eq!(&bytes[..11], b"PGCOPY\n\xff\r\n\0");
        let body = &bytes[19..];
        let mut expected = vec![
            0, 3, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff,
        ];
        expected.extend_from_slice(&[0, 0, 0, 3, 1, b'[', b']', 0xff, 0xff]);
        assert_eq!(body, expected.as_slice());
    }

    #[test]
    fn times_count_from_the_postgres_epoch() {
        let mut rows = CopyRows::new();
        let epoch = DateTime::parse_from_rfc3339("2000-01-01T00:00:01Z")
            .unwrap()
            .with_timezone(&Utc);
        rows.timestamptz(epoch);
        assert_eq!(
            &rows.buf[19..],
            &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40]
        );
    }
}
