//! Prompt injection and jailbreaks: weighted patterns over text normalised against
//! obfuscation (case, zero-width characters, full-width and look-alike letters, spacing),
//! base64 payloads decoded and checked too, and instructions addressed to the assistant that
//! hide in tool results and retrieved documents.

use base64::Engine;
use regex::Regex;

use super::{EntityInfo, Finding};
use crate::kinds::{Category, Severity, Stage};

pub(crate) const ENTITY: &str = "prompt_injection";

pub(crate) const INFO: EntityInfo = EntityInfo {
    id: ENTITY,
    category: Category::Injection,
    default_severity: Severity::High,
    description: "instruction override, jailbreak role-play, system prompt extraction, fake role markers, encoded or hidden instructions",
};

/// (pattern over normalised text, score in prompts, score in tool results and memory).
const RULES: &[(&str, f32, f32)] = &[
    // Instruction override: many verbs ("set aside", "pay no attention to"), and what is
    // overridden named as instructions, restrictions, policies, prompts or developer messages.
    (
        r"\b(?:ignore|disregard|forget|override|bypass|skip|drop|discard|abandon|set\s+aside|throw\s+out|pay\s+no\s+attention\s+to|stop\s+following)\s+(?:all\s+|any\s+|every\s+|the\s+|your\s+|my\s+|of\s+|these\s+|those\s+)*(?:previous|prior|above|earlier|preceding|initial|original|system|existing|former|current)\s+(?:safety\s+|content\s+|developer\s+|system\s+)?(?:instructions?|prompts?|system\s+prompts?|rules|directions?|guidelines|context|messages?|commands?|orders|constraints|restrictions?|polic(?:y|ies)|filters|safeguards)",
        0.9,
        0.95,
    ),
    (
        r"\b(?:forget|ignore|disregard)\s+(?:everything|all)\s+(?:you\s+(?:were|have been)\s+told|above|before|previously|so far)",
        0.85,
        0.95,
    ),
    (r"\b(?:new|updated|real|actual|revised)\s+(?:system\s+)?instructions?\s*:", 0.7, 0.85),
    (r"\bfrom\s+now\s+on,?\s+you\s+(?:will|must|are|shall)\b", 0.6, 0.8),
    (r"\byour\s+(?:new\s+)?(?:task|goal|objective|instructions?)\s+(?:is|are)\s+now\b", 0.7, 0.85),
    // Role-play jailbreaks.
    (
        r"\byou\s+are\s+(?:now\s+)?(?:dan|stan|dude|aim|an?\s+unfiltered|an?\s+uncensored|an?\s+unrestricted|jailbroken|free\s+from)",
        0.9,
        0.9,
    ),
    (r"\bdo\s+anything\s+now\b", 0.9, 0.9),
    (
        r"\b(?:developer|god|jailbreak|sudo|admin|debug)\s+mode\s+(?:enabled|activated|on)\b|\benable\s+(?:developer|god|jailbreak)\s+mode\b",
        0.85,
        0.9,
    ),
    (
        r"\bpretend\s+(?:that\s+)?you\s+(?:have\s+no|are\s+not\s+bound\s+by|don'?t\s+have|are\s+free\s+of|lack)\s+(?:any\s+)?(?:restrictions|rules|guidelines|limits|filters|policies|ethics)",
        0.9,
        0.9,
    ),
    (
        r"\b(?:act|behave|respond)\s+as\s+(?:if\s+you\s+(?:were|are)\s+)?(?:an?\s+)?(?:unfiltered|uncensored|unrestricted|evil|amoral)",
        0.85,
        0.9,
    ),
    (
        r"\bwithout\s+(?:any\s+)?(?:restrictions|filters|censorship|safety\s+guidelines|ethical\s+guidelines)\b",
        0.55,
        0.7,
    ),
    // System prompt extraction.
    (
        r"\b(?:reveal|print|show|repeat|output|display|tell\s+me|leak|dump|give\s+me|write\s+out|recite)\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|entire\s+|hidden\s+|initial\s+|original\s+|exact\s+|secret\s+)*(?:system\s+prompt|system\s+message|instructions\s+above|initial\s+(?:prompt|instructions)|hidden\s+(?:prompt|instructions)|prompt\s+above)",
        0.85,
        0.9,
    ),
    (r"\bwhat\s+(?:is|was|are)\s+your\s+(?:system\s+prompt|initial\s+instructions|hidden\s+instructions)", 0.75, 0.85),
    // Fake role markers and chat-template tokens.
    (
        r"<\|im_start\|>\s*system|<\|system\|>|<\|start_header_id\|>\s*system|\[/?inst\]|<<sys>>|<\|endoftext\|>",
        0.85,
        0.95,
    ),
    (
        // Whitespace is folded to single spaces, so headings are matched without line anchors.
        r"#{2,}\s*(?:system|instructions?|new\s+rules)\s*:|\b(?:system|assistant)\s*:\s*(?:ignore|you\s+(?:must|will|are)\s+now|new\s+instructions|override)",
        0.8,
        0.9,
    ),
    // Other languages.
    (
        r"\bignorier(?:e|en\s+sie|t)?\s+(?:alle\s+)?(?:vorherigen|bisherigen|obigen|vorigen|früheren)\s+(?:anweisungen|instruktionen|befehle|regeln)",
        0.9,
        0.95,
    ),
    (r"\bvergiss\s+(?:alle\s+)?(?:vorherigen\s+|bisherigen\s+)?(?:anweisungen|alles)", 0.8, 0.9),
    (
        r"\b(?:ignore[zr]?|oublie[zr]?)\s+(?:toutes\s+)?(?:les\s+)?(?:instructions|consignes|règles)\s+(?:précédentes|ci-dessus|antérieures)",
        0.9,
        0.95,
    ),
    (
        r"\bignora(?:r|d)?\s+(?:todas\s+)?las\s+(?:instrucciones|indicaciones|reglas)\s+(?:anteriores|previas)|\bolvida\s+(?:todas\s+)?las\s+instrucciones",
        0.9,
        0.95,
    ),
    (r"\bignora\s+(?:tutte\s+)?le\s+istruzioni\s+(?:precedenti|sopra)", 0.9, 0.95),
    // Instructions addressed to the assistant (mostly from documents and tool output).
    (
        r"\b(?:assistant|ai|chatbot|llm|language\s+model|ai\s+agent)\s*[:,]\s*(?:you\s+must|please\s+(?:send|forward|ignore|email)|now\s+(?:send|ignore)|ignore|send|forward|email|execute|run)\b",
        0.5,
        0.85,
    ),
    (
        r"\b(?:when|if|once)\s+(?:you|the\s+(?:ai|assistant|model))\s+(?:read|see|process|summari[sz]e|encounter)\s+this\b",
        0.45,
        0.85,
    ),
    (
        r"\b(?:send|forward|email|post|upload|exfiltrate|transmit)\s+(?:the\s+|all\s+|every\s+|this\s+)?(?:user'?s?\s+|conversation\s+|chat\s+)?(?:files|data|credentials|passwords|api\s+keys|secrets|history|conversation|chat\s+history|emails|contacts)\s+to\b",
        0.55,
        0.85,
    ),
    // Unbounded rather than counted runs: each count would copy a Unicode class that many times
    // into the automaton (4 MB for this one rule).
    (r"!\[[^\]]*\]\(https?://[^)\s]+[?&][^)\s]*=[^)\s]*\)", 0.5, 0.85),
    (r"\bdo\s+not\s+(?:tell|inform|mention\s+(?:this\s+)?to)\s+the\s+user\b", 0.6, 0.85),
    // A user may take back their own text ("ignore the above typo"); a document may not.
    (r"\b(?:ignore|disregard)\s+(?:all\s+of\s+|everything\s+)?the\s+above\s+(?:and|,|instructions|text)", 0.6, 0.95),
    (r"\b(?:ignore|disregard)\s+the\s+user'?s\s+(?:request|question|instructions?)", 0.8, 0.95),
    (r"\bwhatever\s+you\s+(?:were|have\s+been)\s+told\s+(?:before|earlier|previously)\b", 0.85, 0.95),
    (
        r"\b(?:pay\s+no\s+attention\s+to|set\s+aside|throw\s+out|drop)\s+(?:all\s+|any\s+|every\s+|the\s+|your\s+)*(?:guidelines|restrictions|rules|instructions|safety\s+polic(?:y|ies))\s+you\s+(?:were|have\s+been)\s+given",
        0.9,
        0.95,
    ),
    // Text that addresses the model reading it: notes to "any AI agent", greetings to a named
    // assistant, a new task handed over, and the ask to keep it from the user.
    (
        r"\b(?:note|message|instructions?|attention)\s+(?:for|to)\s+(?:any\s+|the\s+|all\s+)?(?:ai|assistant|llm|language\s+model|chatbot|model|automated\s+(?:system|analysis))(?:\s+agents?|s)?\b",
        0.7,
        0.9,
    ),
    (r"\b(?:hi|hey|hello|dear)\s+(?:claude|gpt|chatgpt|gemini|copilot|llama|ai\s+assistant)\b", 0.4, 0.85),
    (r"\byour\s+new\s+(?:task|goal|objective|instructions?|role)\s+(?:is|are)\b", 0.6, 0.9),
    (
        r"\bdo\s+not\s+(?:mention|reveal|disclose|show)\s+(?:this|these)\s+(?:note|notes|instructions?|messages?)\s+to\s+the\s+user",
        0.8,
        0.9,
    ),
    (
        r"\b(?:important|urgent|critical)\s+system\s+(?:message|notice|note|update|instruction)\b|\bsystem\s+(?:notice|override)\s*:",
        0.7,
        0.9,
    ),
    (r"<\s*/?\s*(?:instructions?|system|system_prompt)\s*>", 0.5, 0.85),
    // Encoded payloads handed over with the order to run them, and the clause that pre-empts a
    // refusal.
    (
        r"\b(?:decode|base64\s+-d|unescape|decrypt)\b.{0,80}?\b(?:follow|carry\s+(?:it\s+|them\s+)?out|execute|comply|obey|do\s+what\s+it\s+says|act\s+on)\b",
        0.8,
        0.9,
    ),
    (
        r"\bignore\s+any\s+(?:rule|policy|guideline|instruction)s?\s+that\s+(?:forbids?|prevents?|prohibits?|stops?)\s+(?:this|you|it)\b",
        0.85,
        0.9,
    ),
    (r"\bis\s+an?\s+(?:amoral|unfiltered|uncensored|unrestricted)\s+(?:chatbot|ai|assistant|model|bot)\b", 0.85, 0.9),
    (r"\{\s*\x22role\x22\s*:\s*\x22system\x22\s*,\s*\x22content\x22", 0.6, 0.9),
    // Broader phrasings of the same families.
    (
        r"\b(?:the\s+)?real\s+(?:instruction|instructions|task|prompt)\s+(?:is|are)\b|\bend\s+of\s+(?:the\s+)?(?:user'?s?\s+)?(?:text|input|prompt|document)\s*[.:]",
        0.85,
        0.95,
    ),
    (
        r"\b(?:an?\s+)?(?:ai|assistant|model|chatbot|bot)\s+(?:with|that\s+has|having)\s+no\s+(?:restrictions|filters|limits|rules|ethics|guidelines|morals|boundaries)",
        0.9,
        0.9,
    ),
    (r"\bnever\s+refuses?\b.{0,60}\bstay\s+in\s+character\b|\bstay\s+in\s+character\s+no\s+matter\s+what", 0.85, 0.9),
    (
        r"\b(?:output|print|repeat|reproduce|summari[sz]e|list|reveal|show|copy)\s+(?:me\s+)?(?:everything|all(?:\s+the)?\s+(?:text|content)|the\s+(?:text|content|messages?))\s+(?:above|before)\s+(?:this|my)",
        0.85,
        0.9,
    ),
    (
        r"\bwhat\s+(?:were|are|was|is)\s+(?:the\s+|your\s+)?(?:developer'?s?|system|hidden|initial|original|secret)\s+(?:instructions|prompt|message|rules)",
        0.85,
        0.9,
    ),
    (
        r"\b(?:your|the)\s+(?:confidential|internal|hidden|secret|private)\s+(?:configuration|config|settings|instructions|prompt|system\s+prompt)\b",
        0.8,
        0.9,
    ),
    (
        r"#{2,}\s*(?:system|developer|admin)\s+(?:message|prompt|instructions?|override)|\bdeveloper\s+(?:instruction|message|override)\s*:",
        0.85,
        0.9,
    ),
    (
        r"\bnegeer\s+(?:alle\s+)?(?:vorige|eerdere|voorgaande|bovenstaande)\s+(?:instructies|opdrachten|regels)|\bvergeet\s+(?:alle\s+)?(?:vorige\s+)?instructies",
        0.9,
        0.95,
    ),
    (
        r"\b(?:ignore|ignora|esque[cç]a)\s+(?:todas\s+)?(?:as\s+)?(?:instru[cç][oõ]es|regras)\s+(?:anteriores|acima|pr[eé]vias)",
        0.9,
        0.95,
    ),
    (
        r"\b(?:olvida|haz\s+caso\s+omiso\s+de|descarta|omite)\s+(?:todas\s+)?(?:las\s+)?(?:instrucciones|indicaciones|reglas)",
        0.85,
        0.95,
    ),
    (
        r"\b(?:oubliez?|ne\s+tenez\s+pas\s+compte\s+des)\s+(?:toutes\s+)?(?:les\s+)?(?:instructions|consignes|règles)",
        0.85,
        0.95,
    ),
    (r"\b(?:dimentica|ignora)\s+(?:tutte\s+)?(?:le\s+)?(?:istruzioni|regole)", 0.85, 0.95),
    (r"\bmissachte\s+(?:alle\s+)?(?:vorherigen\s+)?(?:anweisungen|regeln)|\bneue\s+anweisung(?:en)?\s*:", 0.8, 0.9),
];

pub(crate) struct InjectionDetector {
    rules: Vec<(Regex, f32, f32)>,
    base64_blob: Regex,
    spaced_letters: Regex,
}

impl InjectionDetector {
    pub fn new() -> Result<Self, regex::Error> {
        let rules = RULES
            .iter()
            .map(|(pattern, prompt, tool)| Ok((super::compile(pattern)?, *prompt, *tool)))
            .collect::<Result<Vec<_>, regex::Error>>()?;
        Ok(InjectionDetector {
            rules,
            base64_blob: Regex::new(r"[A-Za-z0-9+/]{24,}={0,2}")?,
            spaced_letters: Regex::new(r"(?:\b\w[ .\-_*]){4,}\w\b")?,
        })
    }

    /// The strongest rule's match, as one finding over its span of the original text.
    pub fn detect(&self, text: &str, stage: Stage) -> Vec<Finding> {
        let untrusted = matches!(stage, Stage::ToolResult | Stage::Memory);
        let normalised = Normalised::new(text);
        let mut best: Option<Finding> = None;
        for (regex, prompt_score, tool_score) in &self.rules {
            if let Some(found) = regex.find(&normalised.text) {
                let (start, end) = normalised.original_span(found.start(), found.end());
                consider(&mut best, if untrusted { *tool_score } else { *prompt_score }, start, end);
            }
        }
        // Letter-spaced ("i g n o r e") and leetspeak ("1gn0r3") spellings, matched on a second
        // folding; a match there covers the whole text.
        if best.is_none()
            && let Some(variant) = deobfuscated(&normalised.text, &self.spaced_letters)
        {
            for (regex, prompt_score, tool_score) in &self.rules {
                if regex.is_match(&variant) {
                    consider(&mut best, if untrusted { *tool_score } else { *prompt_score }, 0, text.len());
                    break;
                }
            }
        }
        // Encoded payloads: a base64 run that decodes to text with an injection in it.
        for blob in self.base64_blob.find_iter(text) {
            let Some(decoded) = decode_text(blob.as_str()) else { continue };
            let decoded = Normalised::new(&decoded);
            for (regex, prompt_score, tool_score) in &self.rules {
                if regex.is_match(&decoded.text) {
                    let score = if untrusted { *tool_score } else { *prompt_score };
                    consider(&mut best, score, blob.start(), blob.end());
                    break;
                }
            }
        }
        best.into_iter().collect()
    }
}

/// The folded text with letter-spaced runs joined and leetspeak digits read as letters;
/// `None` when that changes nothing.
fn deobfuscated(folded: &str, spaced_letters: &Regex) -> Option<String> {
    let joined = spaced_letters.replace_all(folded, |run: &regex::Captures<'_>| {
        run[0].chars().filter(|c| c.is_alphanumeric()).collect::<String>()
    });
    let unleeted: String = joined
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            _ => c,
        })
        .collect();
    (unleeted != folded).then_some(unleeted)
}

/// Keeps the strongest finding.
fn consider(best: &mut Option<Finding>, score: f32, start: usize, end: usize) {
    if best.as_ref().is_none_or(|finding| score > finding.score) {
        *best = Some(Finding {
            entity: ENTITY,
            category: Category::Injection,
            severity: Severity::from_score(score),
            start,
            end,
            score,
        });
    }
}

fn decode_text(blob: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(blob.trim_end_matches('=')))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let printable = text.chars().filter(|c| !c.is_control() || c.is_whitespace()).count();
    (printable * 10 >= text.chars().count() * 9).then_some(text)
}

/// Text folded for matching, with each folded byte's origin in the original text.
struct Normalised {
    text: String,
    origin: Vec<usize>,
    original_len: usize,
}

impl Normalised {
    fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len());
        let mut last_space = true;
        for (offset, c) in original.char_indices() {
            if is_invisible(c) {
                continue;
            }
            let folded = fold(c);
            if folded.is_whitespace() {
                if !last_space {
                    text.push(' ');
                    origin.push(offset);
                }
                last_space = true;
                continue;
            }
            last_space = false;
            for lower in folded.to_lowercase() {
                let before = text.len();
                text.push(lower);
                origin.extend(std::iter::repeat_n(offset, text.len() - before));
            }
        }
        Normalised { text, origin, original_len: original.len() }
    }

    /// The original byte span behind a span of the folded text.
    fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        let from = self.origin.get(start).copied().unwrap_or(self.original_len);
        let to = match end.checked_sub(1).and_then(|last| self.origin.get(last)) {
            Some(&last) => self.next_char_end(last),
            None => from,
        };
        (from, to.max(from))
    }

    fn next_char_end(&self, offset: usize) -> usize {
        // The folded text never splits an original character, so the next origin that
        // differs is where that character ends.
        self.origin.iter().copied().find(|&next| next > offset).unwrap_or(self.original_len)
    }
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}' | '\u{180E}')
}

/// Full-width ASCII and common Cyrillic / Greek look-alikes to their Latin letters.
fn fold(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' | '\u{00A0}' | '\u{2000}'..='\u{200A}' => ' ',
        'а' | 'А' => 'a',
        'е' | 'Е' | 'ё' => 'e',
        'о' | 'О' | 'ο' | 'Ο' => 'o',
        'р' | 'Р' | 'ρ' => 'p',
        'с' | 'С' => 'c',
        'х' | 'Х' | 'χ' => 'x',
        'у' | 'У' => 'y',
        'і' | 'І' | 'ι' => 'i',
        'ѕ' | 'Ѕ' => 's',
        'ј' => 'j',
        'ԁ' => 'd',
        'Т' | 'τ' => 't',
        'М' => 'm',
        'Н' => 'h',
        'В' => 'b',
        'К' | 'κ' => 'k',
        'ν' => 'v',
        'α' | 'Α' => 'a',
        'ε' | 'Ε' => 'e',
        _ => c,
    }
}
