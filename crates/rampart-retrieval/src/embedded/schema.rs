//! The Tantivy schema of one partition and the conversions between its rows and our records.
//!
//! A partition holds two kinds of rows: one `document` row per document (its record as JSON:
//! owner, kind, state, expiry, provenance) and one `chunk` row per chunk (searchable text,
//! heading, vector). Visibility lives only on the document row, so a state change rewrites
//! one small row, and searches filter chunks by the ids of the documents the caller may see.

use rampart_core::{ChunkRecord, DocumentRecord, IndexError};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};
use tantivy::{TantivyDocument, doc};

/// The analyzer of searchable text: words, lower-cased, accents folded, English stems (the
/// same for documents and queries, so "Installing" finds "installed").
pub const ANALYZER: &str = "rampart_en";

pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

pub const ROW_DOCUMENT: &str = "document";
pub const ROW_CHUNK: &str = "chunk";

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub row: Field,
    /// On document rows: the document's id.
    pub record_id: Field,
    /// On chunk rows: the id of the document they belong to.
    pub document_id: Field,
    pub chunk_id: Field,
    /// Heading and text, analysed, not stored.
    pub body: Field,
    pub text: Field,
    /// Heading path as a JSON array.
    pub heading: Field,
    pub ordinal: Field,
    /// Little-endian `f32`s.
    pub vector: Field,
    /// The `DocumentRecord` as JSON.
    pub record: Field,
    /// Heading and text sealed at rest; `text` and `heading` are then stored empty.
    pub sealed: Field,
}

impl Fields {
    pub fn schema() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        let body_options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            row: builder.add_text_field("row", STRING),
            record_id: builder.add_text_field("record_id", STRING),
            document_id: builder.add_text_field("document_id", STRING | STORED),
            chunk_id: builder.add_text_field("chunk_id", STRING | STORED),
            body: builder.add_text_field("body", body_options),
            text: builder.add_text_field("text", STORED),
            heading: builder.add_text_field("heading", STORED),
            ordinal: builder.add_u64_field("ordinal", INDEXED | STORED),
            vector: builder.add_bytes_field("vector", STORED),
            record: builder.add_text_field("record", STORED),
            sealed: builder.add_bytes_field("sealed", STORED),
        };
        (builder.build(), fields)
    }

    pub fn document_row(&self, document: &DocumentRecord) -> Result<TantivyDocument, IndexError> {
        let record = serde_json::to_string(document)
            .map_err(|error| IndexError::Invalid(format!("document record does not serialise: {error}")))?;
        Ok(doc!(
            self.row => ROW_DOCUMENT,
            self.record_id => document.id.as_str(),
            self.record => record,
        ))
    }

    pub fn chunk_row(&self, document_id: &str, chunk: &ChunkRecord) -> TantivyDocument {
        let heading = serde_json::to_string(&chunk.heading).unwrap_or_else(|_| "[]".into());
        let body = if chunk.heading.is_empty() {
            chunk.text.clone()
        } else {
            format!("{}\n{}", chunk.heading.join(" / "), chunk.text)
        };
        let vector: Vec<u8> = chunk.embedding.iter().flat_map(|value| value.to_le_bytes()).collect();
        let mut row = doc!(
            self.row => ROW_CHUNK,
            self.document_id => document_id,
            self.chunk_id => chunk.id.as_str(),
            self.body => body,
            self.ordinal => u64::from(chunk.index),
            self.vector => vector,
        );
        // Sealed: the body above is indexed (words and counts, not stored); the passage
        // itself is kept only inside the seal.
        match &chunk.sealed {
            Some(sealed) => {
                row.add_text(self.text, "");
                row.add_text(self.heading, "[]");
                row.add_bytes(self.sealed, sealed.as_slice());
            }
            None => {
                row.add_text(self.text, chunk.text.as_str());
                row.add_text(self.heading, heading);
            }
        }
        row
    }

    fn string(&self, row: &TantivyDocument, field: Field, name: &str) -> Result<String, IndexError> {
        row.get_first(field)
            .and_then(|value| value.as_str())
            .map(str::to_owned)
            .ok_or_else(|| IndexError::Corrupt(format!("a stored row has no `{name}`")))
    }

    pub fn read_document(&self, row: &TantivyDocument) -> Result<DocumentRecord, IndexError> {
        let record = self.string(row, self.record, "record")?;
        serde_json::from_str(&record)
            .map_err(|error| IndexError::Corrupt(format!("a stored document record does not parse: {error}")))
    }

    pub fn read_chunk(&self, row: &TantivyDocument) -> Result<(String, ChunkRecord), IndexError> {
        let document_id = self.string(row, self.document_id, "document_id")?;
        let heading_json = self.string(row, self.heading, "heading")?;
        let heading: Vec<String> = serde_json::from_str(&heading_json)
            .map_err(|error| IndexError::Corrupt(format!("a stored heading does not parse: {error}")))?;
        let index = row
            .get_first(self.ordinal)
            .and_then(|value| value.as_u64())
            .and_then(|ordinal| u32::try_from(ordinal).ok())
            .ok_or_else(|| IndexError::Corrupt("a stored chunk has no ordinal".into()))?;
        let bytes = row
            .get_first(self.vector)
            .and_then(|value| value.as_bytes())
            .ok_or_else(|| IndexError::Corrupt("a stored chunk has no vector".into()))?;
        if bytes.len() % 4 != 0 {
            return Err(IndexError::Corrupt("a stored vector is not a whole number of floats".into()));
        }
        let embedding =
            bytes.chunks_exact(4).map(|quad| f32::from_le_bytes([quad[0], quad[1], quad[2], quad[3]])).collect();
        Ok((
            document_id,
            ChunkRecord {
                id: self.string(row, self.chunk_id, "chunk_id")?,
                document_hash: String::new(),
                index,
                heading,
                text: self.string(row, self.text, "text")?,
                embedding,
                sealed: row.get_first(self.sealed).and_then(|value| value.as_bytes()).map(<[u8]>::to_vec),
            },
        ))
    }
}
