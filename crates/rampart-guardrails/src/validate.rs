//! Check-digit algorithms: what separates a card number from sixteen random digits.

/// The digits of `text`, ignoring separators.
pub fn digits(text: &str) -> Vec<u32> {
    text.chars().filter_map(|c| c.to_digit(10)).collect()
}

/// Luhn (ISO/IEC 7812): payment cards, Canadian SINs.
pub fn luhn(digits: &[u32]) -> bool {
    if digits.len() < 2 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(index, &digit)| {
            if index % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Known issuer prefixes and lengths (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay,
/// Maestro).
pub fn card_issuer_known(digits: &[u32]) -> bool {
    let prefix = |count: usize| digits.iter().take(count).fold(0u32, |acc, &d| acc * 10 + d);
    let length = digits.len();
    match digits.first() {
        Some(4) => matches!(length, 13 | 16 | 19),
        Some(5) => {
            (51..=55).contains(&prefix(2)) && length == 16
                || matches!(prefix(2), 50 | 56..=58) && (12..=19).contains(&length)
        }
        Some(2) => (2221..=2720).contains(&prefix(4)) && length == 16,
        Some(3) => {
            (matches!(prefix(2), 34 | 37) && length == 15)
                || ((3528..=3589).contains(&prefix(4)) && (16..=19).contains(&length))
                || (matches!(prefix(2), 36 | 38 | 39) || (300..=305).contains(&prefix(3)))
                    && (14..=19).contains(&length)
        }
        Some(6) => {
            (prefix(4) == 6011
                || prefix(2) == 65
                || (644..=649).contains(&prefix(3))
                || prefix(2) == 62
                || prefix(2) == 67)
                && (16..=19).contains(&length)
        }
        _ => false,
    }
}

/// IBAN length per country (ISO 13616 registry, the common ones).
fn iban_length(country: &str) -> Option<usize> {
    Some(match country {
        "AD" => 24,
        "AE" => 23,
        "AL" => 28,
        "AT" => 20,
        "AZ" => 28,
        "BA" => 20,
        "BE" => 16,
        "BG" => 22,
        "BH" => 22,
        "BR" => 29,
        "CH" => 21,
        "CR" => 22,
        "CY" => 28,
        "CZ" => 24,
        "DE" => 22,
        "DK" => 18,
        "DO" => 28,
        "EE" => 20,
        "EG" => 29,
        "ES" => 24,
        "FI" => 18,
        "FO" => 18,
        "FR" => 27,
        "GB" => 22,
        "GE" => 22,
        "GI" => 23,
        "GL" => 18,
        "GR" => 27,
        "GT" => 28,
        "HR" => 21,
        "HU" => 28,
        "IE" => 22,
        "IL" => 23,
        "IQ" => 23,
        "IS" => 26,
        "IT" => 27,
        "JO" => 30,
        "KW" => 30,
        "KZ" => 20,
        "LB" => 28,
        "LI" => 21,
        "LT" => 20,
        "LU" => 20,
        "LV" => 21,
        "MC" => 27,
        "MD" => 24,
        "ME" => 22,
        "MK" => 19,
        "MR" => 27,
        "MT" => 31,
        "MU" => 30,
        "NL" => 18,
        "NO" => 15,
        "PK" => 24,
        "PL" => 28,
        "PS" => 29,
        "PT" => 25,
        "QA" => 29,
        "RO" => 24,
        "RS" => 22,
        "SA" => 24,
        "SE" => 24,
        "SI" => 19,
        "SK" => 24,
        "SM" => 27,
        "TN" => 24,
        "TR" => 26,
        "UA" => 29,
        "VA" => 22,
        "VG" => 24,
        "XK" => 20,
        _ => return None,
    })
}

/// ISO 13616: country length and mod-97 = 1.
pub fn iban(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if compact.len() < 15 || !compact.is_ascii() {
        return false;
    }
    let Some(length) = iban_length(&compact[..2]) else { return false };
    if compact.len() != length {
        return false;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut remainder: u32 = 0;
    for c in rearranged.chars() {
        let value = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
    }
    remainder == 1
}

/// US SSN structure: area not 000, 666 or 9xx; group not 00; serial not 0000.
pub fn us_ssn(digits: &[u32]) -> bool {
    if digits.len() != 9 {
        return false;
    }
    let number = |range: std::ops::Range<usize>| digits[range].iter().fold(0u32, |acc, &d| acc * 10 + d);
    let (area, group, serial) = (number(0..3), number(3..5), number(5..9));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 && !digits.iter().all(|&d| d == digits[0])
}

/// Spanish DNI (8 digits + letter) and NIE (X/Y/Z + 7 digits + letter): the letter is the
/// number mod 23 in `TRWAGMYFPDXBNJZSQVHLCKE`.
pub fn es_dni(text: &str) -> bool {
    const LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let compact: String = text.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
    let bytes = compact.as_bytes();
    if bytes.len() != 9 {
        return false;
    }
    let mut number = String::with_capacity(8);
    match bytes[0] {
        b'X' => number.push('0'),
        b'Y' => number.push('1'),
        b'Z' => number.push('2'),
        _ => {}
    }
    number.push_str(if bytes[0].is_ascii_digit() { &compact[..8] } else { &compact[1..8] });
    let Ok(value) = number.parse::<u64>() else { return false };
    usize::try_from(value % 23).ok().and_then(|index| LETTERS.get(index)) == Some(&bytes[8])
}

/// French NIR (sécurité sociale): 13 digits (Corsica: 2A = 19, 2B = 18 in the department) and
/// a key of 97 − (number mod 97).
pub fn fr_nir(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
    if compact.len() != 15 {
        return false;
    }
    let (body, key) = compact.split_at(13);
    let body = body.replacen("2A", "19", 1).replacen("2B", "18", 1);
    let (Ok(number), Ok(key)) = (body.parse::<u64>(), key.parse::<u64>()) else { return false };
    97 - number % 97 == key
}

/// Italian codice fiscale: the 16th character from the odd/even position tables.
pub fn it_fiscal_code(text: &str) -> bool {
    const ODD: [u32; 26] =
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
    let code = text.to_ascii_uppercase();
    let bytes = code.as_bytes();
    if bytes.len() != 16 {
        return false;
    }
    let mut sum = 0u32;
    for (position, &byte) in bytes[..15].iter().enumerate() {
        let index = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            b'A'..=b'Z' => u32::from(byte - b'A'),
            _ => return false,
        };
        // Positions are counted from 1: odd ones use the table.
        sum += if position % 2 == 0 { ODD[index as usize] } else { index };
    }
    u32::from(bytes[15]) == u32::from(b'A') + sum % 26
}

/// Dutch BSN: the 11-proof (weights 9..2 and −1).
pub fn nl_bsn(digits: &[u32]) -> bool {
    if digits.len() != 9 || digits.iter().all(|&d| d == 0) {
        return false;
    }
    let sum: i64 = digits[..8].iter().enumerate().map(|(index, &d)| i64::from(d) * (9 - index as i64)).sum::<i64>()
        - i64::from(digits[8]);
    sum % 11 == 0
}

/// Verhoeff: Indian Aadhaar numbers.
pub fn verhoeff(digits: &[u32]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut check = 0usize;
    for (index, &digit) in digits.iter().rev().enumerate() {
        check = usize::from(D[check][usize::from(P[index % 8][digit as usize % 10])]);
    }
    !digits.is_empty() && check == 0
}

/// Brazilian CPF: two mod-11 check digits; repeated digits are invalid.
pub fn br_cpf(digits: &[u32]) -> bool {
    if digits.len() != 11 || digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    let check = |count: usize| {
        let sum: u32 =
            digits[..count].iter().enumerate().map(|(index, &d)| d * (count as u32 + 1 - index as u32)).sum();
        let rest = (sum * 10) % 11;
        if rest == 10 { 0 } else { rest }
    };
    check(9) == digits[9] && check(10) == digits[10]
}

/// Shannon entropy in bits per character.
pub fn entropy(text: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut total = 0u32;
    for byte in text.bytes() {
        counts[usize::from(byte)] += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = f64::from(count) / f64::from(total);
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_issuers() {
        assert!(luhn(&digits("4111 1111 1111 1111")) && card_issuer_known(&digits("4111111111111111")));
        assert!(!luhn(&digits("4111 1111 1111 1112")));
        assert!(luhn(&digits("378282246310005")) && card_issuer_known(&digits("378282246310005")));
        assert!(luhn(&digits("5555555555554444")) && card_issuer_known(&digits("5555555555554444")));
        assert!(!card_issuer_known(&digits("9111111111111111")));
        assert!(luhn(&digits("046 454 286")), "a Canadian SIN test number");
    }

    #[test]
    fn iban_mod_97_and_length() {
        assert!(iban("DE89 3704 0044 0532 0130 00"));
        assert!(iban("GB82WEST12345698765432"));
        assert!(iban("FR1420041010050500013M02606"));
        assert!(!iban("DE89 3704 0044 0532 0130 01"), "one digit off");
        assert!(!iban("DE89 3704 0044 0532 0130"), "too short for DE");
        assert!(!iban("XX89370400440532013000"));
    }

    #[test]
    fn national_ids() {
        assert!(us_ssn(&digits("536-22-1234")));
        for bad in ["000-12-3456", "666-12-3456", "912-12-3456", "536-00-1234", "536-22-0000"] {
            assert!(!us_ssn(&digits(bad)), "{bad}");
        }
        assert!(es_dni("12345678Z") && es_dni("X1234567L") && !es_dni("12345678A"));
        assert!(fr_nir("1 85 05 78 006 084 91") && !fr_nir("1 85 05 78 006 084 92"));
        assert!(it_fiscal_code("RSSMRA85T10A562S") && !it_fiscal_code("RSSMRA85T10A562T"));
        assert!(nl_bsn(&digits("111222333")) && !nl_bsn(&digits("111222334")));
        assert!(
            br_cpf(&digits("529.982.247-25"))
                && !br_cpf(&digits("529.982.247-26"))
                && !br_cpf(&digits("111.111.111-11"))
        );
    }

    #[test]
    fn verhoeff_known_values() {
        // The textbook value 236 has check digit 3; and of ten candidate last digits exactly
        // one validates.
        assert!(verhoeff(&[2, 3, 6, 3]) && !verhoeff(&[2, 3, 6, 4]));
        let base = [2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3];
        let valid = (0..10).filter(|&last| {
            let mut number = base.to_vec();
            number.push(last);
            verhoeff(&number)
        });
        assert_eq!(valid.count(), 1);
    }

    #[test]
    fn entropy_separates_keys_from_words() {
        assert!(entropy("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") > 4.0);
        assert!(entropy("aaaaaaaaaaaaaaaaaaaa") < 0.1);
    }
}
