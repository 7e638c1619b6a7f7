//! Postal addresses, found in two steps.
//!
//! 1. A **street line** by its shape in one of the address formats of the supported countries:
//!    number first with a street type last (US, UK, Canada, India: "221 Baker Street",
//!    "Flat 2, Mitchell Glen", "H.No. 73, Ahluwalia Path"), a compound street name then the
//!    number (Germany, the Netherlands: "Hauptstraße 5", "Philipsteeg 894"), a street type
//!    first (Spain, Italy, Portugal, Brazil, France: "Calle Mayor 21", "Via Roma, 12",
//!    "57, rue Lebon"), or a Japanese block address ("…17丁目13番2号").
//! 2. The **rest of the address** that follows on the same line, comma by comma: unit, house
//!    number, district, locality, then a postcode in one of the countries' formats with the
//!    locality and region around it. The finding ends at the postcode part; where none follows,
//!    the street line alone is the finding, and only a street type that is rarely anything
//!    else ("Street", "Avenue", a compound "-straße", a house number after "Calle") counts.
//!
//! Street types are the postal services' own lists (USPS's suffixes, Royal Mail's, and the
//! common types of the other countries), not a gazetteer of places.

use regex::Regex;

use super::{Candidate, EntityInfo, Finding, compile};
use crate::kinds::{Category, Severity};

pub(crate) const ENTITY: &str = "postal_address";

pub(crate) const INFO: EntityInfo = EntityInfo {
    id: ENTITY,
    category: Category::Pii,
    default_severity: Severity::Medium,
    description: "postal address: a street line (US, UK, CA, IN, DE, NL, FR, ES, IT, PT/BR, JP formats) and what follows it up to the postcode",
};

/// USPS street suffixes (Publication 28, C1) and Royal Mail's, with common abbreviations;
/// then Indian locality types.
const STREET_TYPES: &str = "Alley|Annex|Arcade|Avenue|Ave|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Blvd|Branch|Bridge|Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Cent(?:er|re)s?|Chase|Circles?|Cir|Cliffs?|Close|Club|Common|Corners?|Course|Courts?|Ct|Coves?|Creek|Crescent|Cres|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives?|Dr|Drove|Embankment|Esplanade|Estates?|Expressway|Expy|Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Forks?|Fort|Freeway|Fwy|Gardens?|Gate|Gateway|Glens?|Greens?|Groves?|Harbou?rs?|Haven|Heights|Hts|Highway|Hwy|Hills?|Hollow|Inlet|Islands?|Isle|Junctions?|Keys?|Knolls?|Lakes?|Land|Landing|Lane|Ln|Lights?|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mills?|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|Parade|Parks?|Parkway|Pkwy|Pass|Passage|Path|Pike|Pines?|Place|Pl|Plains?|Plaza|Points?|Ports?|Prairie|Promenade|Quay|Radial|Ramp|Ranch|Rapids?|Rest|Ridges?|Rise|River|Roads?|Rd|Route|Row|Rue|Run|Shoals?|Shores?|Skyway|Springs?|Spurs?|Squares?|Sq|Station|Stravenue|Stream|Streets?|St|Summit|Terrace|Ter|Throughway|Trace|Track|Trafficway|Trail|Trl|Tunnel|Turnpike|Underpass|Unions?|Valleys?|Via|Viaduct|Views?|Villages?|Ville|Vista|Walks?|Wall|Way|Ways|Wells?|Wharf|Yard|Nagar|Ganj|Zila|Marg|Chowk|Colony|Layout|Vihar|Enclave|Bagh|Bazaa?r|Gali|Mohalla|Sector|Puram|Peth|Cross";

/// Street types that name a street and rarely anything else, so "221 Baker Street" is an
/// address on its own; "3 Green Park" needs a postcode after it.
const STRONG_TYPES: &[&str] = &[
    "Street",
    "Streets",
    "St",
    "Avenue",
    "Ave",
    "Road",
    "Roads",
    "Rd",
    "Boulevard",
    "Blvd",
    "Lane",
    "Ln",
    "Drive",
    "Drives",
    "Dr",
    "Court",
    "Courts",
    "Ct",
    "Way",
    "Place",
    "Pl",
    "Terrace",
    "Ter",
    "Close",
    "Crescent",
    "Cres",
    "Square",
    "Parkway",
    "Pkwy",
    "Highway",
    "Hwy",
    "Nagar",
    "Marg",
    "Chowk",
    "Colony",
    "Turnpike",
];

/// Street types written first (ES, IT, PT/BR, FR), capitalised as in running text.
const TYPES_FIRST: &str = "Calle|C\\.|Avenida|Avda\\.|Av\\.|Paseo|Vial|Carrer|Pasadizo|Ruta|Pza\\.|Ctra\\.|Aeroporto|Área|Campo|Estação|Lago|Plaza|Pasaje|Camino|Carretera|Ronda|Travesía|Callejón|Cañada|Alameda|Glorieta|Rambla|Vía|Urbanización|Acceso|Cuesta|Bajada|Subida|Costanilla|Carrera|Senda|Via|Viale|Piazza|Piazzale|Corso|Largo|Vicolo|Strada|Contrada|Borgo|Lungomare|Salita|Vico|Traversa|Rotonda|Incrocio|Canale|Stretto|Rua|Travessa|Praça|Estrada|Rodovia|Ladeira|Beco|Viela|Vila|Quadra|Setor|Conjunto|Colônia|Favela|Loteamento|Morro|Viaduto|Vereda|Trecho|Sítio|Chácara|Núcleo|Residencial|Jardim|Parque|Passarela|Pátio|Recanto|Trevo|Vale|Lagoa|Esplanada|Fazenda|Feira|Distrito|Condomínio|[Rr]ue|[Aa]venue|[Bb]oulevard|[Pp]lace|[Cc]hemin|[Aa]llée|[Ii]mpasse|[Qq]uai|[Rr]oute|[Cc]ours|[Pp]assage|[Ss]quare|[Vv]oie|[Ss]entier|[Ff]aubourg|[Pp]romenade|[Rr]ésidence|[Hh]ameau";

/// German and Dutch street names end in their type ("Mangoldstraße", "Aronpad").
const COMPOUND_TYPES: &str = "straße|strasse|str\\.|gasse|weg|allee|platz|ring|damm|ufer|steig|pfad|chaussee|markt|graben|stieg|kamp|zeile|straat|laan|plein|gracht|kade|singel|dijk|pad|steeg|baan|dreef|wal|plantsoen|hof|park|berg";

/// Compound types that end ordinary words too ("Bahnhof", "Heidelberg"): these need a postcode.
const WEAK_COMPOUND_TYPES: &[&str] = &["hof", "park", "berg", "markt", "ring", "wal", "pad"];

/// The 47 prefectures, where a Japanese address starts.
const PREFECTURES: &str = "北海道|東京都|京都府|大阪府|(?:青森|岩手|宮城|秋田|山形|福島|茨城|栃木|群馬|埼玉|千葉|神奈川|新潟|富山|石川|福井|山梨|長野|岐阜|静岡|愛知|三重|滋賀|兵庫|奈良|和歌山|鳥取|島根|岡山|広島|山口|徳島|香川|愛媛|高知|福岡|佐賀|長崎|熊本|大分|宮崎|鹿児島|沖縄)県";

/// A word of a place or street name, in the Latin script of the countries above (Latin-1 and
/// Latin Extended-A rather than all of Unicode's letters, which would make every automaton
/// that repeats this several times larger).
const NAME_WORD: &str = r"[A-ZÀ-ÖØ-ÞĀ-ž][A-Za-zÀ-ÖØ-öø-ÿĀ-ž'’.-]*";

/// Words that may join the words of a place name without a capital.
const CONNECTORS: &[&str] = &[
    "de", "da", "do", "dos", "das", "del", "di", "la", "le", "les", "am", "an", "der", "den", "het", "ter", "ten",
    "bij", "in", "im", "auf", "zum", "zur", "sur", "sous", "en", "aan", "op", "upon", "on", "al",
];

/// Apartment, suite, floor and building designators, before or after the street line.
const UNIT: &str = r"(?:(?:Apt\.?|Apartment|Appartamento|Apartamento|Wohnung|Whg\.|Suite|Ste\.?|Unit|Flat|Floor|Fl\.|Studio|Room|Piso|Planta|Puerta|Piano|Scala|Interno|Int\.|Apto\.?|Bloco|Sala|Casa|Bus|Etage|Étage|App\.?|Bâtiment|Bât\.?|Escalera|Esc\.?) |# ?)[0-9A-Za-z][0-9A-Za-z-]{0,5}(?:[ºª°]|\b)";

/// Postcodes: US state and ZIP, Canadian province and code, UK, NL, BR CEP, IN PIN, Japan,
/// five digits (DE, FR, ES, IT, US), four digits (AT, BE, CH, DK, NO…). Tried longest first.
const POSTCODE: &str = r"(?:[A-Z]{2} \d{5}(?:-\d{4})?|(?:[A-Z]{2} )?[A-Z]\d[A-Z] ?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|\d{4} ?[A-Z]{2}|\d{5}-\d{4}|\d{5}-?\d{3}|\d{3} ?\d{3}|\d{5}|〒?\d{3}-\d{4}|\d{4})";

#[derive(Clone, Copy, PartialEq)]
enum Street {
    /// An address on its own.
    Strong,
    /// An address only with a postcode after it.
    NeedsPostcode,
}

pub(crate) struct AddressDetector {
    number_first: Regex,
    /// "723, Nagy, Machilipatnam 881879": a number and a name with no street type, taken only
    /// when a postcode follows.
    numbered_name: Regex,
    compound: Regex,
    type_first: Regex,
    french_number_first: Regex,
    japanese: Regex,
    prefecture: Regex,
    /// A unit after the street line (" Apt. 543", ", Piso 3") or as a part of its own.
    unit: Regex,
    house_number: Regex,
    /// A comma-delimited part that holds a postcode: `[locality ]POSTCODE[ locality][ region]`.
    postcode_part: Regex,
    locality: Regex,
    japanese_building: Regex,
}

impl AddressDetector {
    pub fn new() -> Result<Self, regex::Error> {
        let name = NAME_WORD;
        let number = r"\d{1,6}[A-Za-z]?(?:[/-]\d{1,5}[A-Za-z]?)?";
        let directional = r"(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.? )?";
        let unit_before = r"(?:Flat|Apartment|Apt\.?|Unit|Suite|Studio|Room|Block|H\.? ?No\.?|House No\.?|Plot No\.?|D\.? ?No\.?)\s?\d[0-9A-Za-z/-]{0,7}";
        Ok(AddressDetector {
            number_first: compile(&format!(
                r"\b(?:{unit_before},? (?:{number},? )?|{number},? ){directional}(?:(?:{name}|\d{{1,3}}(?:st|nd|rd|th)) ){{1,4}}?(?P<kind>{STREET_TYPES})\b\.?(?: (?:N|S|E|W|NE|NW|SE|SW)\b)?"
            ))?,
            numbered_name: compile(&format!(
                r"\b(?:{unit_before}|\d{{1,5}}(?:/\d{{1,5}})?), {name}(?: {name}){{0,2}}"
            ))?,
            compound: compile(&format!(
                r"\b[A-ZÀ-ÖØ-ÞĀ-ž][A-Za-zÀ-ÖØ-öø-ÿĀ-ž-]{{2,}}?(?P<kind>{COMPOUND_TYPES}) (?P<number>\d{{1,5}}(?: ?[a-zA-Z]\b)?(?: ?[-/] ?\d{{1,4}}[a-zA-Z]?)?)\b|\b(?:{name}[ -])(?P<kind2>Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm|Ufer|Steig|Pfad|Chaussee|Markt|Graben) \d{{1,5}}(?: ?[a-zA-Z]\b)?(?: ?[-/] ?\d{{1,4}}[a-zA-Z]?)?\b"
            ))?,
            type_first: compile(&format!(
                r"\b(?:{TYPES_FIRST}) (?:(?:de la|de las|de los|del|de|da|das|do|dos|di|della|delle|dello|dei|degli|d'|l')\s?){{0,2}}{name}(?: (?:de|da|do|dos|das|del|di|la|{name})){{0,4}}(?P<number>,? (?:[Nn]\.?º? ?|nº ?|[Nn]úm\.? ?|[Nn]o\.? )?\d{{1,4}}[A-Za-z]?(?:[/-]\d{{1,4}})?\b|,? s/n\b)?"
            ))?,
            french_number_first: compile(&format!(
                r"\b\d{{1,5}}(?: ?(?:bis|ter|quater|[A-D]))?,? (?:{TYPES_FIRST}) (?:(?:de la|des|du|de|d'|l')\s?)?{name}(?: (?:de|du|des|la|le|les|{name})){{0,4}}"
            ))?,
            japanese: Regex::new(&format!(
                r"(?:〒?\d{{3}}-\d{{4}}[ \u{{3000}}]?)?[\p{{Han}}\p{{Hiragana}}\p{{Katakana}}ー]{{2,24}}?\d{{1,2}}丁目(?:\d{{1,4}}番(?:地)?(?:\d{{1,4}}号)?)?|(?:{PREFECTURES})[\p{{Han}}\p{{Hiragana}}\p{{Katakana}}ー]{{1,20}}?\d{{1,4}}-\d{{1,4}}(?:-\d{{1,4}})?"
            ))?,
            prefecture: Regex::new(&format!("(?:〒?\\d{{3}}-\\d{{4}}[ \\u{{3000}}]?)?(?:{PREFECTURES})"))?,
            unit: compile(&format!(r"^(?:,? )?{UNIT}"))?,
            house_number: compile(r"^\d{1,5}[A-Za-z]?(?:[/-]\d{1,4})?")?,
            postcode_part: compile(&format!(
                r"^(?:(?P<before>{name}(?: {name}){{0,2}})[ -])?(?P<code>{POSTCODE})(?-u:\b)"
            ))?,
            locality: compile(&format!(r"^(?:{name}|\d{{1,3}}[ªº°])"))?,
            japanese_building: Regex::new(r"^[ \u{3000}][\p{Han}\p{Katakana}\p{Hiragana}ー]{1,20}\d{1,4}(?:号室)?")?,
        })
    }

    pub fn detect(&self, text: &str) -> Vec<Finding> {
        // (start, end, score) from every format; where two overlap, the longer wins: "527,
        // Sport Club" (US shape) inside "Residencial de Azevedo, 527, Sport Club, 06605-957 …".
        let mut candidates: Vec<(usize, usize, f32)> = Vec::new();
        for matched in self.japanese.find_iter(text) {
            let start = self.japanese_start(text, matched.start(), matched.end());
            let mut end = matched.end();
            if let Some(building) = self.japanese_building.find(&text[end..]) {
                end += building.end();
            }
            candidates.push((start, end, 0.8));
        }
        for captures in self.number_first.captures_iter(text) {
            let (Some(whole), Some(kind)) = (captures.get(0), captures.name("kind")) else { continue };
            let street = if STRONG_TYPES.contains(&kind.as_str()) { Street::Strong } else { Street::NeedsPostcode };
            self.consider(text, whole.start(), whole.end(), street, true, &mut candidates);
        }
        for whole in self.numbered_name.find_iter(text) {
            self.consider(text, whole.start(), whole.end(), Street::NeedsPostcode, false, &mut candidates);
        }
        for captures in self.compound.captures_iter(text) {
            let Some(whole) = captures.get(0) else { continue };
            let weak = captures.name("kind").is_some_and(|kind| WEAK_COMPOUND_TYPES.contains(&kind.as_str()))
                || captures.name("number").is_some_and(|number| looks_like_year(number.as_str()));
            let street = if weak { Street::NeedsPostcode } else { Street::Strong };
            self.consider(text, whole.start(), whole.end(), street, false, &mut candidates);
        }
        for captures in self.type_first.captures_iter(text) {
            let Some(whole) = captures.get(0) else { continue };
            // "Plaza Hotel, 5 nights" is not "Via Roma, 5": a number after a comma must end
            // the part.
            let numbered = captures.name("number").is_some_and(|number| {
                let rest = &text[number.end()..];
                !number.as_str().starts_with(',')
                    || !rest.starts_with(' ')
                    || !rest[1..].starts_with(char::is_lowercase)
            });
            let street = if numbered { Street::Strong } else { Street::NeedsPostcode };
            self.consider(text, whole.start(), whole.end(), street, true, &mut candidates);
        }
        for whole in self.french_number_first.find_iter(text) {
            self.consider(text, whole.start(), whole.end(), Street::Strong, false, &mut candidates);
        }
        candidates.sort_by(|a, b| (b.1 - b.0).cmp(&(a.1 - a.0)).then(a.0.cmp(&b.0)));
        let mut found: Vec<Finding> = Vec::new();
        for (start, end, score) in candidates {
            if !found.iter().any(|other| other.start < end && start < other.end) {
                found.push(Finding {
                    entity: ENTITY,
                    category: Category::Pii,
                    severity: Severity::Medium,
                    start,
                    end,
                    score,
                });
            }
        }
        found.sort_by_key(|finding| finding.start);
        found
    }

    /// Completes the street line `start..end` and keeps it as a candidate, unless its number
    /// is labelled as something else ("Section 5 Main Street", "page 3 …").
    fn consider(
        &self,
        text: &str,
        start: usize,
        end: usize,
        street: Street,
        number_may_follow: bool,
        candidates: &mut Vec<(usize, usize, f32)>,
    ) {
        if text[start..].starts_with(|c: char| c.is_ascii_digit()) && labelled_as_other(text, start) {
            return;
        }
        if let Some((end, score)) = self.complete(text, end, street, number_may_follow) {
            candidates.push((start, end, score));
        }
    }

    /// A Japanese match may have started inside the words before the address ("送付先は…"):
    /// start at the prefecture, or else after the last particle or punctuation.
    fn japanese_start(&self, text: &str, start: usize, end: usize) -> usize {
        let span = &text[start..end];
        if let Some(prefecture) = self.prefecture.find(span) {
            return start + prefecture.start();
        }
        span.char_indices()
            .take_while(|(_, c)| !c.is_ascii_digit())
            .filter(|(_, c)| matches!(c, 'は' | 'を' | 'に' | 'で' | 'が' | 'へ' | '：' | '、' | '。'))
            .last()
            .map_or(start, |(index, c)| start + index + c.len_utf8())
    }

    /// Extends a street line ending at `end` over the rest of the address. `None` when the
    /// street line needs a postcode and none follows.
    fn complete(&self, text: &str, end: usize, street: Street, number_may_follow: bool) -> Option<(usize, f32)> {
        let mut at = end;
        // "… Apt. 543", "… 21 Piso 3": a unit right after the street line, before any comma.
        if let Some(unit) = self.unit.find(&text[at..]) {
            at += unit.end();
        }
        let mut parts = 0;
        while parts < 4 {
            let Some(part_start) = next_part(text, at) else { break };
            let part = &text[part_start..part_end(text, part_start)];
            if let Some((code_end, locality_follows)) = self.postcode_in(part) {
                let mut end = part_start + code_end;
                // "…, 6702 XC, Friens", "…, 52041, Badia Al Pino (AR)": the locality after a
                // part that was only a postcode.
                if locality_follows
                    && code_end == part.trim_end().len()
                    && let Some(next) = next_part(text, end)
                    && let Some(locality_end) = self.locality_with_region(&text[next..part_end(text, next)])
                {
                    end = next + locality_end;
                }
                return Some((end, 0.85));
            }
            let consumed = if let Some(unit) = self.unit.find(part) {
                unit.end()
            } else if number_may_follow && let Some(number) = self.house_number.find(part) {
                // "Via Mascheroni, 958", "Travessa Pereira, 336": the house number, and a unit
                // after it ("528 Piano 5").
                number.end() + self.unit.find(&part[number.end()..]).map_or(0, |unit| unit.end())
            } else {
                self.locality_with_region(part).unwrap_or(0)
            };
            if consumed == 0 || consumed < part.trim_end().len() {
                break;
            }
            at = part_start + consumed;
            parts += 1;
        }
        (street == Street::Strong).then_some((end, 0.7))
    }

    /// Where a postcode part ends, when `part` starts with one, and whether a locality may
    /// follow the code. It does after a numeric code that starts its part ("75004 Paris",
    /// "6702 XC, Friens"); not after a code that ends an address line ("London SW1A 2AA",
    /// "WA 62646", "Bhatpara 021484"), where the next words belong to the text.
    fn postcode_in(&self, part: &str) -> Option<(usize, bool)> {
        let captures = self.postcode_part.captures(part)?;
        let code = captures.name("code")?;
        let rest = &part[code.end()..];
        // "…, 0612 345678" is a phone number after the street, not a postcode.
        if rest.trim_start_matches([' ', '-', '.']).starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let locality_follows = captures.name("before").is_none()
            && code.as_str().trim_start_matches('〒').starts_with(|c: char| c.is_ascii_digit());
        if !locality_follows {
            return Some((code.end(), false));
        }
        let after =
            rest.strip_prefix(' ').and_then(|locality| self.locality_with_region(locality)).map_or(0, |len| len + 1);
        Some((code.end() + after, true))
    }

    /// The length of a locality at the start of `part`, with a region after it ("Duarte de
    /// Minas / TO", "Badia Al Pino (AR)"). A name of several words counts only when a
    /// delimiter ends it: in "62790 Lübz Rufen Sie mich an" the locality is "Lübz".
    fn locality_with_region(&self, part: &str) -> Option<usize> {
        // "23749845 da Rocha / BA": a locality may start with a connector.
        let mut lead = 0;
        while let Some((word, _)) = part[lead..].split_once(' ') {
            if !CONNECTORS.contains(&word) {
                break;
            }
            lead += word.len() + 1;
        }
        let first = lead + self.locality.find(&part[lead..])?.end();
        let mut ends = vec![first];
        let mut at = first;
        for _ in 0..4 {
            let rest = &part[at..];
            let Some(word_start) = rest.strip_prefix(' ') else { break };
            let next = word_start.split(' ').next().unwrap_or("");
            if CONNECTORS.contains(&next) {
                at += 1 + next.len();
                continue;
            }
            let Some(word) = self.locality.find(word_start) else { break };
            at += 1 + word.end();
            ends.push(at);
        }
        let delimited = |end: usize| {
            let rest = &part[end..];
            rest.is_empty()
                || rest.starts_with([',', '.', '\n', ';', ')', '|'])
                || rest.starts_with(" /")
                || rest.starts_with(" (")
                || rest.starts_with(" -")
        };
        // With no delimiter, one word, unless a lowercase word follows it: "17779 Por favor"
        // starts a sentence, "04109 Leipzig Bitte klingeln" does not.
        let end = match ends.iter().rev().copied().find(|&end| delimited(end)) {
            Some(end) => end,
            None if part[first..].strip_prefix(' ').is_some_and(|next| next.starts_with(char::is_lowercase)) => {
                return None;
            }
            None => first,
        };
        let region = &part[end..];
        let region_len = [" / ", "/", " - "]
            .iter()
            .find_map(|sep| region.strip_prefix(sep).filter(|rest| is_region(rest)).map(|_| sep.len() + 2))
            .or_else(|| {
                region.strip_prefix(" (").filter(|rest| rest.get(2..3) == Some(")") && is_region(rest)).map(|_| 5)
            });
        Some(end + region_len.unwrap_or(0))
    }
}

/// Two capitals and then no letter: a state, province or region code ("TO", "AR").
fn is_region(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 2
        && bytes[0].is_ascii_uppercase()
        && bytes[1].is_ascii_uppercase()
        && !bytes.get(2).is_some_and(|b| b.is_ascii_alphanumeric())
}

fn looks_like_year(number: &str) -> bool {
    number.len() == 4 && (number.starts_with("19") || number.starts_with("20"))
}

/// The start of the next comma-separated part after `at`, when a comma (or the hyphen of
/// "Morbi-309140") comes next on the same line.
fn next_part(text: &str, at: usize) -> Option<usize> {
    let rest = &text[at..];
    let skipped = rest.strip_prefix(", ").or_else(|| rest.strip_prefix(',')).or_else(|| rest.strip_prefix('-'))?;
    Some(text.len() - skipped.len())
}

/// Where a part starting at `start` ends: the next comma, line break or sentence end.
fn part_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    rest.char_indices()
        .find(|&(index, c)| {
            matches!(c, ',' | '\n' | ';' | '|')
                || (c == '.' && rest[index + 1..].starts_with([' ', '\n']))
                || (c == '.' && index + 1 == rest.len())
        })
        .map_or(text.len(), |(index, _)| start + index)
}

/// "Section 5 Main Street", "page 3 …": the number is labelled as something else.
fn labelled_as_other(text: &str, start: usize) -> bool {
    super::pii::near_not_personal(&Candidate { text, start, end: start })
}
