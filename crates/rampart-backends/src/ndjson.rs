//! Newline-delimited JSON, split incrementally as bytes arrive (Ollama's streaming format).

use bytes::{Buf, BytesMut};

#[derive(Debug, Default)]
pub(crate) struct NdjsonSplitter {
    buffer: BytesMut,
}

impl NdjsonSplitter {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete, non-empty line.
    pub fn next_line(&mut self) -> Option<BytesMut> {
        loop {
            let newline = self.buffer.iter().position(|&byte| byte == b'\n')?;
            let mut line = self.buffer.split_to(newline);
            self.buffer.advance(1);
            if line.last() == Some(&b'\r') {
                line.truncate(line.len() - 1);
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some(line);
            }
        }
    }

    /// The last line when the stream ended without a newline.
    pub fn finish(&mut self) -> Option<BytesMut> {
        let rest = std::mem::take(&mut self.buffer);
        (!rest.iter().all(u8::is_ascii_whitespace)).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_across_chunks() {
        let mut splitter = NdjsonSplitter::default();
        splitter.push(b"{\"a\":1}\n{\"b\"");
        assert_eq!(splitter.next_line().as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(splitter.next_line(), None);
        splitter.push(b":2}\r\n\n{\"c\":3}");
        assert_eq!(splitter.next_line().as_deref(), Some(&b"{\"b\":2}"[..]));
        assert_eq!(splitter.next_line(), None);
        assert_eq!(splitter.finish().as_deref(), Some(&b"{\"c\":3}"[..]));
    }
}
