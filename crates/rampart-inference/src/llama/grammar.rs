//! `response_format` as a GBNF grammar that constrains sampling, so the output parses.

use super::OutputFormat;

/// Any JSON object (llama.cpp's `grammars/json.gbnf`), with whitespace bounded so a small model
/// cannot loop on it.
const JSON_OBJECT: &str = r#"
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws     ::= | " " | "\n" [ \t]{0,20}
"#;

/// The grammar for a format, or why the schema cannot be turned into one.
pub(super) fn for_format(format: &OutputFormat) -> Result<Option<String>, String> {
    match format {
        OutputFormat::Text => Ok(None),
        OutputFormat::JsonObject => Ok(Some(JSON_OBJECT.to_owned())),
        OutputFormat::JsonSchema(schema) => llama_cpp_2::json_schema_to_grammar(&schema.to_string())
            .map(Some)
            .map_err(|error| format!("the JSON schema cannot be enforced by the local model's grammar ({error})")),
    }
}
