//! Personal data: patterns, then checksums and context words where a shape alone would
//! match order numbers and timestamps too.

use super::{Candidate, PatternSpec};
use crate::kinds::{Category, Severity};
use crate::validate;

/// Detectors that cannot match text without an ASCII digit (skipped on such text).
pub(crate) fn needs_digits(id: &str) -> bool {
    !matches!(
        id,
        "email" | "person_name" | "private_key" | "jwt" | "password_assignment" | "high_entropy_secret" | "slack_token"
    ) && !id.ends_with("_token")
        && !id.ends_with("_key")
}

/// Words that make a nearby number something other than personal data.
const NOT_PERSONAL: &[&str] = &[
    "order",
    "invoice",
    "isbn",
    "tracking",
    "ref",
    "reference",
    "serial",
    "sku",
    "ticket",
    "case",
    "po",
    "build",
    "version",
    "ver",
    "release",
    "commit",
    "sha",
    "part",
    "model",
    "barcode",
    "ean",
    "upc",
    "asin",
    "transaction",
    "txn",
    "confirmation",
    "booking",
    "shipment",
    "parcel",
    "issue",
    "bug",
    "item",
    "items",
    "total",
    "count",
    "section",
    "clause",
    "article",
    "chapter",
    "paragraph",
    "page",
    "figure",
    "table",
];

/// The number is labelled as something else: one of `NOT_PERSONAL` in the two words right
/// before it ("order 123…", "tracking no. …"), further words being about something else.
pub(crate) fn near_not_personal(candidate: &Candidate<'_>) -> bool {
    let before = candidate.before(28);
    let words: Vec<&str> =
        before.split_whitespace().map(|word| word.trim_matches(|c: char| !c.is_alphanumeric())).collect();
    words[words.len().saturating_sub(2)..].iter().any(|word| NOT_PERSONAL.contains(word))
}

fn has_context(candidate: &Candidate<'_>, words: &[&str], window: usize) -> bool {
    mentions(&candidate.before(window), &candidate.after(16), words)
}

/// Like `has_context`, but only within the number's own sentence: in "call me on 0612 345 678.
/// My customer number is …" the second sentence says nothing about the first number.
fn has_context_in_sentence(candidate: &Candidate<'_>, words: &[&str], window: usize) -> bool {
    let before = candidate.before(window);
    let after = candidate.after(16);
    mentions(&before[sentence_start(&before)..], &after[..sentence_end(&after)], words)
}

fn mentions(before: &str, after: &str, words: &[&str]) -> bool {
    words.iter().any(|word| contains_word(before, word) || contains_word(after, word))
}

/// Where the sentence holding the end of `text` starts: after the last line break (unless the
/// line is a label such as "Phone:") or the last ". " / "! " / "? " before a capital letter
/// ("Tel. 030…" keeps its abbreviation).
fn sentence_start(text: &str) -> usize {
    let mut start = 0;
    for (index, c) in text.char_indices() {
        let rest = &text[index + c.len_utf8()..];
        let boundary = match c {
            '\n' => !text[..index].trim_end().ends_with(':'),
            '.' | '!' | '?' => rest.strip_prefix(' ').is_some_and(|next| next.starts_with(char::is_uppercase)),
            _ => false,
        };
        if boundary {
            start = text.len() - rest.strip_prefix(' ').unwrap_or(rest).len();
        }
    }
    start
}

/// Where the sentence that `text` continues ends: the first line break or sentence mark
/// followed by a space.
fn sentence_end(text: &str) -> usize {
    text.char_indices()
        .find(|&(index, c)| {
            c == '\n' || (matches!(c, '.' | '!' | '?' | ';') && text[index + 1..].starts_with([' ', '\n']))
        })
        .map_or(text.len(), |(index, _)| index)
}

/// `word` occurs in `text` at the start of a word ("calling" has "call", "hotel" has no
/// "tel"); a word of up to three letters must be the whole word ("sin" is not in "since").
/// Words in scripts without spaces (電話) match anywhere.
fn contains_word(text: &str, word: &str) -> bool {
    // Caseless letters (Han, kana, Thai) belong to scripts written without spaces.
    let spaced = !word.chars().next().is_some_and(|c| c.is_alphabetic() && !c.is_lowercase() && !c.is_uppercase());
    let whole = word.chars().count() <= 3;
    text.match_indices(word).any(|(index, _)| {
        if !spaced {
            return true;
        }
        let starts = !text[..index].chars().next_back().is_some_and(char::is_alphanumeric);
        let ends = !whole || !text[index + word.len()..].chars().next().is_some_and(char::is_alphanumeric);
        starts && ends
    })
}

/// Not glued to more digits, letters or dotted parts (a fragment of a longer token).
/// Joined to letters or digits by a hyphen (`FA-2019-96545`, a UUID's groups): part of an
/// identifier.
fn hyphen_glued(candidate: &Candidate<'_>) -> bool {
    let before = candidate.text[..candidate.start].chars().rev().take(2).collect::<Vec<_>>();
    let after = candidate.text[candidate.end..].chars().take(2).collect::<Vec<_>>();
    (before.first() == Some(&'-') && before.get(1).is_some_and(|c| c.is_ascii_alphanumeric()))
        || (after.first() == Some(&'-') && after.get(1).is_some_and(|c| c.is_ascii_alphanumeric()))
}

/// Words naming another identifier: a number next to them is not a phone number.
const OTHER_ID_WORDS: &[&str] = &[
    "aadhaar",
    "ssn",
    "social security",
    "iban",
    "bsn",
    "sin",
    "cpf",
    "nir",
    "dni",
    "nie",
    "passport",
    "license",
    "licence",
    "dossier",
    "pratica",
    "cliente",
    "customer",
    "client",
    "fattura",
    "factura",
    "rechnung",
    "facture",
    "kundennummer",
    "klantnummer",
    "account",
];

fn standalone(candidate: &Candidate<'_>) -> bool {
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let dotted_after = candidate.text[candidate.end..].starts_with('.')
        && candidate.text[candidate.end + 1..].starts_with(|c: char| c.is_ascii_digit());
    !glued(candidate.char_before()) && !glued(candidate.char_after()) && !dotted_after
}

fn email(candidate: &Candidate<'_>) -> Option<f32> {
    let value = candidate.value();
    // `scheme://user:password@host` is a URL with credentials, not an email address.
    let token_start = candidate.text[..candidate.start].rfind(char::is_whitespace).map_or(0, |index| index + 1);
    if candidate.text[token_start..candidate.start].contains("://") {
        return None;
    }
    let (local, domain) = value.split_once('@')?;
    (local.len() <= 64 && domain.len() <= 253 && !local.starts_with('.') && !domain.contains("..")).then_some(1.0)
}

fn phone(candidate: &Candidate<'_>) -> Option<f32> {
    let value = candidate.value();
    // An extension ("x204", "ext. 12") is part of the number but not of its length.
    let main = value.split(['x', 'e']).next().unwrap_or(value).trim_end();
    let digits = validate::digits(main);
    if !(8..=15).contains(&digits.len())
        || !standalone(candidate)
        || hyphen_glued(candidate)
        || part_of_longer_number(candidate)
        || continues_account_code(candidate)
        || near_not_personal(candidate)
    {
        return None;
    }
    let phone_context = has_context_in_sentence(candidate, PHONE_WORDS, 32);
    if !phone_context && has_context_in_sentence(candidate, OTHER_ID_WORDS, 24) {
        return None;
    }
    let value = main;
    if digits.iter().all(|&d| d == digits[0]) || value.parse::<std::net::Ipv4Addr>().is_ok() {
        return None;
    }
    // "00" dials out: a country code and a full national number follow (postcodes such as
    // "00776699" do not have that many digits).
    let international = value.starts_with('+') || (value.starts_with("00") && digits.len() >= 10);
    let grouped = value.chars().any(|c| matches!(c, ' ' | '-' | '.' | '(' | ')'));
    // A bare run of digits is a phone number only when something says so.
    if !international && !grouped {
        return phone_context.then_some(0.6);
    }
    // Dates and times have the same shape (2024-06-01, 12.05.2023), and 3-2-4 digit groups
    // are how SSNs are written, never phone numbers.
    if looks_like_date(value) || is_ssn_shape(value) {
        return None;
    }
    // A card number with a valid checksum is a card, not a phone.
    if (13..=19).contains(&digits.len()) && validate::luhn(&digits) && validate::card_issuer_known(&digits) {
        return None;
    }
    // Short national numbers, and the 3-3-3 and 4.2.3 groupings that national ids (Canadian
    // SIN, Dutch BSN) share with some national phone formats, need a phone word.
    if !international && (digits.len() < 9 || is_national_id_grouping(value)) && !phone_context {
        return None;
    }
    Some(if international { 0.95 } else { 0.8 })
}

/// The match is a fragment of a longer number: more digits follow or precede it across a
/// single space or dot ("1 95 09 70 701 617 90", "4.254.996.223").
fn part_of_longer_number(candidate: &Candidate<'_>) -> bool {
    let before: Vec<char> = candidate.text[..candidate.start].chars().rev().take(2).collect();
    let after: Vec<char> = candidate.text[candidate.end..].chars().take(2).collect();
    let joined =
        |pair: &[char]| matches!(pair.first(), Some(' ' | '.')) && pair.get(1).is_some_and(|c| c.is_ascii_digit());
    joined(&before) || joined(&after)
}

/// The digits continue an account code written in groups of four after a country code and
/// check digits ("GB46 NWBK 1986 8587 0661 39"): an IBAN, valid or not, not a phone.
fn continues_account_code(candidate: &Candidate<'_>) -> bool {
    let mut groups = candidate.text[..candidate.start].split(' ').rev();
    if groups.next() != Some("") {
        return false;
    }
    for group in groups.take(8) {
        let bytes = group.as_bytes();
        let alphanumeric = bytes.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if bytes.len() == 4
            && bytes[..2].iter().all(u8::is_ascii_uppercase)
            && bytes[2..].iter().all(u8::is_ascii_digit)
        {
            return true;
        }
        if bytes.len() != 4 || !alphanumeric {
            return false;
        }
    }
    false
}

fn is_national_id_grouping(value: &str) -> bool {
    matches!(group_lengths(value).as_slice(), [3, 3, 3] | [4, 2, 3])
}

/// Lengths of the parts between separators (`-`, space, `.`): "415 555-0132" is [3, 3, 4].
fn group_lengths(value: &str) -> Vec<usize> {
    value.split(['-', ' ', '.']).map(str::len).collect()
}

const PHONE_WORDS: &[&str] = &[
    "phone",
    "tel",
    "telephone",
    "call",
    "mobile",
    "cell",
    "fax",
    "whatsapp",
    "contact",
    "ring",
    "reach",
    "sms",
    "text me",
    "dial",
    // German, Dutch
    "telefon",
    "handy",
    "anruf",
    "rufen",
    "ruf",
    "erreichbar",
    "rückruf",
    "mobil",
    "bereikbaar",
    "bel",
    "bellen",
    "telefoon",
    "mobiel",
    // French
    "téléphone",
    "portable",
    "appel",
    "rappel",
    "joignable",
    "joindre",
    // Spanish, Portuguese, Italian
    "teléfono",
    "telefone",
    "telefono",
    "móvil",
    "celular",
    "llam",
    "llám",
    "ligar",
    "liguem",
    "ligue",
    "contato",
    "contacto",
    "cellulare",
    "chiam",
    "richiam",
    "raggiungibile",
    "contattar",
    // Japanese, Hindi
    "電話",
    "携帯",
    "連絡先",
    "फ़ोन",
    "फोन",
];

fn is_ssn_shape(value: &str) -> bool {
    !value.contains('.') && group_lengths(value) == [3, 2, 4] && value.bytes().filter(u8::is_ascii_digit).count() == 9
}

fn looks_like_date(value: &str) -> bool {
    let parts: Vec<&str> = value.split(['-', '.', '/', ' ']).filter(|part| !part.is_empty()).collect();
    if parts.len() != 3 {
        return false;
    }
    let numbers: Vec<u32> = parts.iter().filter_map(|part| part.parse().ok()).collect();
    numbers.len() == 3
        && ((parts[0].len() == 4 && (1..=12).contains(&numbers[1]) && (1..=31).contains(&numbers[2]))
            || (parts[2].len() == 4 && (1..=31).contains(&numbers[0]) && (1..=31).contains(&numbers[1])))
}

fn credit_card(candidate: &Candidate<'_>) -> Option<f32> {
    let value = candidate.value();
    let digits = validate::digits(value);
    if !(13..=19).contains(&digits.len()) || !standalone(candidate) {
        return None;
    }
    // Mixed separators ("4111-1111 1111.1111") are not how cards are written.
    let separators: Vec<char> = value.chars().filter(|c| !c.is_ascii_digit()).collect();
    if separators.windows(2).any(|pair| pair[0] != pair[1]) {
        return None;
    }
    (validate::luhn(&digits) && validate::card_issuer_known(&digits)).then_some(1.0)
}

fn iban(candidate: &Candidate<'_>) -> Option<f32> {
    (standalone(candidate) && validate::iban(candidate.value())).then_some(1.0)
}

const SSN_WORDS: &[&str] = &["ssn", "social security", "social-security", "ss#", "ss #", "taxpayer"];

fn us_ssn(candidate: &Candidate<'_>) -> Option<f32> {
    let value = candidate.value();
    let digits = validate::digits(value);
    if !standalone(candidate) || !validate::us_ssn(&digits) || near_not_personal(candidate) {
        return None;
    }
    let separated = value.contains('-') || value.contains(' ');
    if separated {
        let dashed = value.matches('-').count() == 2 || value.matches(' ').count() == 2;
        return dashed.then_some(if has_context(candidate, SSN_WORDS, 40) { 1.0 } else { 0.85 });
    }
    has_context(candidate, SSN_WORDS, 40).then_some(0.9)
}

fn uk_nino(candidate: &Candidate<'_>) -> Option<f32> {
    let compact: String =
        candidate.value().chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let prefix = compact.get(..2)?;
    if matches!(prefix, "BG" | "GB" | "NK" | "KN" | "TN" | "NT" | "ZZ") || !standalone(candidate) {
        return None;
    }
    Some(1.0)
}

fn es_dni(candidate: &Candidate<'_>) -> Option<f32> {
    (standalone(candidate) && validate::es_dni(candidate.value())).then_some(1.0)
}

fn fr_nir(candidate: &Candidate<'_>) -> Option<f32> {
    (standalone(candidate) && validate::fr_nir(candidate.value())).then_some(1.0)
}

fn it_fiscal_code(candidate: &Candidate<'_>) -> Option<f32> {
    (standalone(candidate) && validate::it_fiscal_code(candidate.value())).then_some(1.0)
}

const BSN_WORDS: &[&str] =
    &["bsn", "burgerservicenummer", "burgerservice", "sofinummer", "sofi-nummer", "citizen service number"];

fn nl_bsn(candidate: &Candidate<'_>) -> Option<f32> {
    let digits = validate::digits(candidate.value());
    (standalone(candidate) && validate::nl_bsn(&digits) && has_context(candidate, BSN_WORDS, 40)).then_some(0.95)
}

fn in_aadhaar(candidate: &Candidate<'_>) -> Option<f32> {
    let digits = validate::digits(candidate.value());
    // "+91…" is an Indian phone number with its country code.
    if !standalone(candidate)
        || candidate.char_before() == Some('+')
        || !validate::verhoeff(&digits)
        || near_not_personal(candidate)
    {
        return None;
    }
    Some(if has_context(candidate, &["aadhaar", "aadhar", "uidai", "uid"], 40) { 1.0 } else { 0.8 })
}

const SIN_WORDS: &[&str] = &["sin", "social insurance", "numéro d'assurance sociale", "nas", "assurance sociale"];

fn ca_sin(candidate: &Candidate<'_>) -> Option<f32> {
    let digits = validate::digits(candidate.value());
    (standalone(candidate) && digits.len() == 9 && validate::luhn(&digits) && has_context(candidate, SIN_WORDS, 40))
        .then_some(0.95)
}

fn br_cpf(candidate: &Candidate<'_>) -> Option<f32> {
    let digits = validate::digits(candidate.value());
    if !standalone(candidate) || !validate::br_cpf(&digits) {
        return None;
    }
    let formatted = candidate.value().contains('.');
    (formatted || has_context(candidate, &["cpf"], 32)).then_some(1.0)
}

fn ip_address(candidate: &Candidate<'_>) -> Option<f32> {
    let value = candidate.value();
    if value.contains(':') {
        return value.parse::<std::net::Ipv6Addr>().ok().filter(|_| value.matches(':').count() >= 2).map(|_| 0.95);
    }
    if !standalone(candidate) {
        return None;
    }
    let before = candidate.before(16);
    let last_word = before.split_whitespace().next_back().unwrap_or_default();
    if matches!(last_word, "v" | "ver" | "ver." | "version" | "release" | "build" | "firmware" | "rev" | "rev.") {
        return None;
    }
    value.parse::<std::net::Ipv4Addr>().ok().map(|_| 0.95)
}

const DOB_WORDS: &[&str] = &[
    "born",
    "birth",
    "dob",
    "d.o.b",
    "birthday",
    "geboren",
    "geburtsdatum",
    "né le",
    "née le",
    "né(e)",
    "naissance",
    "fecha de nacimiento",
    "nacido",
    "nacida",
    "data di nascita",
    "nato il",
    "nata il",
    "geboortedatum",
    "nascimento",
    "nascido",
    "nascida",
    "生年月日",
    "age:",
];

fn date_of_birth(candidate: &Candidate<'_>) -> Option<f32> {
    has_context(candidate, DOB_WORDS, 36).then_some(0.9)
}

fn person_name(candidate: &Candidate<'_>) -> Option<f32> {
    let value = candidate.value();
    const NOT_NAMES: &[&str] = &[
        "Sir",
        "Madam",
        "Team",
        "Customer",
        "Support",
        "Sir/Madam",
        "All",
        "Friend",
        "Colleague",
        "User",
        "Admin",
        "The",
        "Hiring",
        "Valued",
        "Client",
        "Mr",
        "Ms",
        "Mrs",
        "Dr",
    ];
    let first = value.split_whitespace().next()?;
    (!NOT_NAMES.contains(&first)).then_some(0.6)
}

pub(crate) fn specs() -> Vec<PatternSpec> {
    use Category::Pii;
    use Severity::{High, Low, Medium};
    let spec = |id, severity, description, pattern, group, validate, priority| PatternSpec {
        id,
        category: Pii,
        severity,
        description,
        pattern,
        group,
        validate,
        priority,
    };
    vec![
        spec(
            "email",
            Medium,
            "email address",
            r"\b[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b",
            0,
            email,
            40,
        ),
        spec(
            "credit_card",
            High,
            "payment card number (Luhn and issuer checked)",
            r"\b\d(?:[ -]?\d){12,18}\b",
            0,
            credit_card,
            60,
        ),
        spec(
            "iban",
            High,
            "IBAN (country length and mod-97 checked)",
            r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b",
            0,
            iban,
            60,
        ),
        spec(
            "us_ssn",
            High,
            "US social security number (area, group and serial rules)",
            r"\b\d{3}([- ]?)\d{2}([- ]?)\d{4}\b",
            0,
            us_ssn,
            55,
        ),
        spec(
            "uk_nino",
            High,
            "UK national insurance number",
            r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
            0,
            uk_nino,
            55,
        ),
        spec("es_dni", High, "Spanish DNI / NIE (check letter)", r"\b(?:\d{8}|[XYZ]-?\d{7})-?[A-Z]\b", 0, es_dni, 55),
        spec(
            "fr_nir",
            High,
            "French social security number (key checked)",
            r"\b[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b",
            0,
            fr_nir,
            58,
        ),
        spec(
            "it_fiscal_code",
            High,
            "Italian codice fiscale (check character)",
            r"\b[A-Za-z]{6}\d{2}[A-EHLMPR-Ta-ehlmpr-t]\d{2}[A-Za-z]\d{3}[A-Za-z]\b",
            0,
            it_fiscal_code,
            55,
        ),
        spec("nl_bsn", High, "Dutch BSN (11-proof, with a context word)", r"\b\d{4}\.?\d{2}\.?\d{3}\b", 0, nl_bsn, 52),
        spec(
            "in_aadhaar",
            High,
            "Indian Aadhaar number (Verhoeff)",
            r"\b[2-9]\d{3}[ -]?\d{4}[ -]?\d{4}\b",
            0,
            in_aadhaar,
            57,
        ),
        spec(
            "ca_sin",
            High,
            "Canadian social insurance number (Luhn, with a context word)",
            r"\b\d{3}[ -]?\d{3}[ -]?\d{3}\b",
            0,
            ca_sin,
            53,
        ),
        spec("br_cpf", High, "Brazilian CPF (check digits)", r"\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b", 0, br_cpf, 56),
        spec(
            "phone",
            Medium,
            "phone number (international and national formats)",
            r"(?:(?:\+|\b00)[1-9]\d{0,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}|(?:\(\d{2,5}\)|\b\d{2,5})(?:[ .-]?\d{2,5}){1,5})(?:\s?(?:x|ext\.?)\s?\d{1,6}\b|\b)",
            0,
            phone,
            30,
        ),
        spec(
            "ip_address",
            Medium,
            "IPv4 or IPv6 address",
            r"\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,5})?|::(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}",
            0,
            ip_address,
            35,
        ),
        spec(
            "date_of_birth",
            High,
            "a date next to a birth-date context word",
            r"\b(?:\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d{2}|(?:19|20)\d{2}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}\.? (?:[A-Za-zéû]{3,10}\.?) (?:19|20)\d{2}|[A-Z][a-z]{2,8}\.? \d{1,2},? (?:19|20)\d{2}|(?:19|20)\d{2}年\d{1,2}月\d{1,2}日)",
            0,
            date_of_birth,
            45,
        ),
        spec(
            "person_name",
            Low,
            "a person's name introduced by a phrase (my name is, Dear, Mr.)",
            r"(?:[Mm]y name is|(?:[Ff]ull )?[Nn]ame ?:|[Dd]ear|Mr\.?|Mrs\.?|Ms\.?|Dr\.?|[Ss]incerely,|[Rr]egards,|[Ii]ch heiße|[Jj]e m'appelle|[Jj]e suis|[Mm]e llamo|[Mm]i nombre es|[Mm]i chiamo|[Mm]ijn naam is|[Mm]eu nome é|[Nn]om(?: complet)? ?:|[Nn]ome(?: e cognome| completo)? ?:|[Nn]ombre(?: completo)? ?:|[Nn]aam ?:|[Ee]stimad[oa]|[Pp]rezad[oa]|[Gg]entile|[Cc]h[eè]re?|[Bb]este|[Hh]allo|[Ss]ehr geehrte[r]? (?:Frau|Herr)|氏名 ?[:：]|お名前 ?[:：]|私の名前は)[ \u{3000}]?((?:\p{Lu}[\p{Ll}'’]+(?:-\p{Lu}[\p{Ll}'’]+)?|\p{Lu}\.)(?: (?:\p{Lu}[\p{Ll}'’]+(?:-\p{Lu}[\p{Ll}'’]+)?|van|von|der|den|del|de|da|di|le|la)){0,3}(?: (?:II|III|IV|Jr\.|Sr\.))?|\p{Han}{1,3}[ \u{3000}]?\p{Han}{1,3})",
            1,
            person_name,
            20,
        ),
    ]
}
