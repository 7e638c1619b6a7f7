//! The small vocabularies rules are written in: stages, categories, severities, actions and
//! redaction styles.

use std::fmt;
use std::str::FromStr;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "'{other}' is not one of {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

named_enum!(
    /// Where text is screened.
    Stage {
        Prompt => "prompt",
        Response => "response",
        ToolArguments => "tool_arguments",
        ToolResult => "tool_result",
        Memory => "memory",
        Log => "log",
    }
);

named_enum!(
    /// What kind of thing a detector finds.
    Category {
        Pii => "pii",
        Secret => "secret",
        Injection => "injection",
        Moderation => "moderation",
    }
);

named_enum!(
    /// How bad a finding is; rules act from a minimum severity up.
    Severity {
        Low => "low",
        Medium => "medium",
        High => "high",
    }
);

named_enum!(
    /// What a rule does with a finding. Ordered by strength: block wins over redact over flag.
    Action {
        Flag => "flag",
        Redact => "redact",
        Block => "block",
    }
);

named_enum!(
    /// How a redacted value is replaced.
    RedactionStyle {
        Mask => "mask",
        Hash => "hash",
        Placeholder => "placeholder",
    }
);

// The enum comes out of `named_enum!`, which has no place for `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for RedactionStyle {
    fn default() -> Self {
        RedactionStyle::Placeholder
    }
}

impl Severity {
    /// Severity of an injection score: high from 0.8, medium from 0.5.
    pub fn from_score(score: f32) -> Severity {
        if score >= 0.8 {
            Severity::High
        } else if score >= 0.5 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}
