//! Finds the line of a key in the config text, so semantic errors can point at it.

use std::fmt;

use toml::de::{DeTable, DeValue};

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A path into the config, printed the way users write it: `models[1].backend`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct KeyPath(pub(crate) Vec<Segment>);

impl KeyPath {
    pub(crate) fn key(&self, key: &str) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        KeyPath(segments)
    }

    pub(crate) fn index(&self, index: usize) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The 1-based line where the value at `path` starts, or the nearest enclosing value that exists.
pub(crate) fn line_of(text: &str, path: &KeyPath) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut span = None;
    let mut current: Option<&DeValue<'_>> = None;
    for segment in &path.0 {
        let next = match (current, segment) {
            (None, Segment::Key(key)) => root.get_ref().get(key.as_str()),
            (Some(value), Segment::Key(key)) => value.get(key.as_str()),
            (Some(value), Segment::Index(index)) => value.get(*index),
            (None, Segment::Index(_)) => None,
        };
        match next {
            Some(found) => {
                span = Some(found.span());
                current = Some(found.get_ref());
            }
            None => break,
        }
    }
    let start = span?.start;
    Some(text.get(..start)?.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_arrays_of_tables() {
        let text =
            "[server]\nlisten = \"x\"\n\n[[models]]\nname = \"a\"\n\n[[models]]\nname = \"b\"\nbackend = \"nope\"\n";
        let path = KeyPath::default().key("models").index(1).key("backend");
        assert_eq!(path.to_string(), "models[1].backend");
        assert_eq!(line_of(text, &path), Some(9));
        assert_eq!(line_of(text, &KeyPath::default().key("server").key("listen")), Some(2));
    }
}
