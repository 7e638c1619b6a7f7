//! Stop sequences found across token boundaries.

/// Finds stop sequences in streamed text, holding back only text that could still become one.
pub(super) struct StopScanner {
    stops: Vec<String>,
    held: String,
}

impl StopScanner {
    pub(super) fn new(stops: &[String]) -> Self {
        StopScanner { stops: stops.iter().filter(|stop| !stop.is_empty()).cloned().collect(), held: String::new() }
    }

    /// Adds text; returns what is safe to emit and whether a stop sequence ended the text.
    pub(super) fn push(&mut self, text: &str) -> (String, bool) {
        self.held.push_str(text);
        if let Some(at) = self.stops.iter().filter_map(|stop| self.held.find(stop.as_str())).min() {
            let ready = self.held[..at].to_owned();
            self.held.clear();
            return (ready, true);
        }
        let keep = self.stops.iter().map(|stop| longest_suffix_prefix(&self.held, stop)).max().unwrap_or(0);
        let cut = self.held.len() - keep;
        let ready = self.held[..cut].to_owned();
        self.held.drain(..cut);
        (ready, false)
    }

    /// The held-back text once generation ended without a stop sequence.
    pub(super) fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `stop` (char-aligned).
fn longest_suffix_prefix(text: &str, stop: &str) -> usize {
    (1..stop.len().min(text.len() + 1))
        .rev()
        .find(|&length| {
            stop.is_char_boundary(length)
                && text.is_char_boundary(text.len() - length)
                && text.ends_with(&stop[..length])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_sequences_split_across_pieces_are_caught_and_held_text_released() {
        let mut scanner = StopScanner::new(&["END".to_owned()]);
        assert_eq!(scanner.push("hello E"), ("hello ".to_owned(), false));
        assert_eq!(scanner.push("N"), (String::new(), false));
        assert_eq!(scanner.push("D tail"), (String::new(), true));
        let mut scanner = StopScanner::new(&["END".to_owned()]);
        assert_eq!(scanner.push("an E"), ("an ".to_owned(), false));
        assert_eq!(scanner.push("lephant"), ("Elephant".to_owned(), false));
        assert_eq!(scanner.push(" E"), (" ".to_owned(), false));
        assert_eq!(scanner.finish(), "E");
    }
}
