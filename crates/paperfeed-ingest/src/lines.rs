//! Byte offsets to line numbers, for error messages.

/// Turns byte offsets into 1-based line numbers by counting newlines forward from the last
/// offset asked about, so asking in file order costs one pass over the file in total.
pub(crate) struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    pub(crate) fn line_at(&mut self, offset: u64) -> u64 {
        let offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        let newlines = memchr::memchr_iter(b'\n', &self.bytes[self.offset..offset]).count();
        self.line += newlines as u64;
        self.offset = offset;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_count_newlines_before_the_offset() {
        let bytes = b"a\nb\nc\n";
        let mut lines = LineCounter::new(bytes);
        assert_eq!(lines.line_at(0), 1);
        assert_eq!(lines.line_at(2), 2);
        assert_eq!(lines.line_at(5), 3);
        assert_eq!(lines.line_at(1), 1);
        assert_eq!(lines.line_at(10_000), 4);
    }
}
