//! Server-sent events, parsed incrementally as bytes arrive (WHATWG `text/event-stream`).

use bytes::{Buf, BytesMut};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SseEvent {
    /// The `event:` field, when the server sent one (Anthropic does; OpenAI does not).
    pub event: Option<String>,
    /// All `data:` lines of the event, joined by `\n`.
    pub data: String,
}

/// Incremental parser: feed bytes with [`SseParser::push`], take complete events with
/// [`SseParser::next_event`]. Holds only the bytes of the event in progress.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: BytesMut,
    pending: SseEvent,
    has_data: bool,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete event, if the buffered bytes hold one.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let newline = self.buffer.iter().position(|&byte| byte == b'\n' || byte == b'\r')?;
            // A lone `\r` at the end may be the first half of `\r\n`: wait for more bytes.
            if self.buffer[newline] == b'\r' && newline + 1 == self.buffer.len() {
                return None;
            }
            let line = self.buffer.split_to(newline);
            let terminator = if self.buffer.starts_with(b"\r\n") { 2 } else { 1 };
            self.buffer.advance(terminator);
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                if self.has_data || self.pending.event.is_some() {
                    self.has_data = false;
                    return Some(std::mem::take(&mut self.pending));
                }
                continue;
            }
            self.field(&line);
        }
    }

    /// At end of input: an event whose blank line never came (some servers omit the last one).
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.buffer.is_empty() {
            let rest = String::from_utf8_lossy(&self.buffer).into_owned();
            self.buffer.clear();
            for line in rest.lines() {
                self.field(line);
            }
        }
        if self.has_data {
            self.has_data = false;
            return Some(std::mem::take(&mut self.pending));
        }
        None
    }

    fn field(&mut self, line: &str) {
        if line.starts_with(':') {
            return; // comment / keep-alive
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "data" => {
                if self.has_data {
                    self.pending.data.push('\n');
                }
                self.pending.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.pending.event = Some(value.to_owned()),
            _ => {} // id, retry: not used by model APIs
        }
    }
}

/// The events of a streaming HTTP response, in order; transport errors end the stream.
pub(crate) fn sse_events(
    upstream: crate::http::Upstream,
    response: reqwest::Response,
) -> impl futures_util::Stream<Item = Result<SseEvent, rampart_core::BackendError>> + Send {
    struct State {
        upstream: crate::http::Upstream,
        response: reqwest::Response,
        parser: SseParser,
        ended: bool,
    }
    let state = State { upstream, response, parser: SseParser::default(), ended: false };
    futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.parser.next_event() {
                return Some((Ok(event), state));
            }
            if state.ended {
                let last = state.parser.finish()?;
                return Some((Ok(last), state));
            }
            match state.response.chunk().await {
                Ok(Some(bytes)) => state.parser.push(&bytes),
                Ok(None) => state.ended = true,
                Err(error) => {
                    state.ended = true;
                    state.parser = SseParser::default();
                    let error = state.upstream.transport_error(&error);
                    return Some((Err(error), state));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &str, piece: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in input.as_bytes().chunks(piece) {
            parser.push(chunk);
            while let Some(event) = parser.next_event() {
                events.push(event);
            }
        }
        events.extend(parser.finish());
        events
    }

    #[test]
    fn events_survive_any_chunking() {
        let input = "event: message_start\r\ndata: {\"a\":1}\r\n\r\n: ping\n\ndata: one\ndata: two\n\ndata: [DONE]";
        let expected = vec![
            SseEvent { event: Some("message_start".into()), data: "{\"a\":1}".into() },
            SseEvent { event: None, data: "one\ntwo".into() },
            SseEvent { event: None, data: "[DONE]".into() },
        ];
        for piece in 1..input.len() {
            assert_eq!(parse_in_pieces(input, piece), expected, "piece size {piece}");
        }
    }
}
