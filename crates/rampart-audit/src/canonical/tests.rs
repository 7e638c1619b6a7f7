use serde_json::{Value, json};

use super::number::format_f64;
use super::*;

fn check(input: &str, expected: &str) {
    let value: Value = serde_json::from_str(input).expect("test input is JSON");
    let canonical = canonicalize(&value).expect("canonicalizes");
    assert_eq!(canonical, expected, "input: {input}");
    assert!(is_canonical(&canonical), "own output must be accepted: {canonical}");
    let reparsed = parse_canonical(&canonical).expect("own output parses");
    assert_eq!(canonicalize(&reparsed).expect("canonicalizes"), canonical);
}

fn check_rejected(text: &str) {
    assert!(!is_canonical(text), "should not be canonical: {text}");
    assert!(parse_canonical(text).is_err(), "should not parse: {text}");
}

fn double(bits: u64) -> String {
    format_f64(f64::from_bits(bits)).expect("finite").as_str().to_owned()
}

#[test]
fn rfc8785_appendix_b_numbers() {
    let cases: &[(u64, &str)] = &[
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        (0x43143ff3c1cb0959, "1424953923781206.2"),
    ];
    for &(bits, expected) in cases {
        assert_eq!(double(bits), expected, "bits {bits:016x}");
        // And the scanner agrees that the printed form is the canonical one.
        assert!(is_canonical(expected), "{expected}");
    }
    assert!(format_f64(f64::NAN).is_err());
    assert!(format_f64(f64::INFINITY).is_err());
    assert!(format_f64(f64::NEG_INFINITY).is_err());
}

/// 1,300 doubles printed by node's `String(x)`: random bit patterns, short decimals and
/// integers of every size.
#[test]
fn ecmascript_numbers_match_node() {
    let data = include_str!("../../tests/data/ecmascript_numbers.txt");
    let mut count = 0;
    for line in data.lines().filter(|line| !line.starts_with('#')) {
        let (bits, expected) = line.split_once(' ').expect("two fields");
        let bits = u64::from_str_radix(bits, 16).expect("hex bits");
        assert_eq!(double(bits), expected, "bits {bits:016x}");
        assert!(is_canonical(expected), "{expected}");
        count += 1;
    }
    assert!(count > 1000);
}

#[test]
fn numbers_are_read_exactly() {
    let value = parse_canonical("[333333333.3333333,1424953923781206.2,5e-324]").expect("canonical");
    let bits: Vec<u64> = value.as_array().expect("array").iter().map(|n| n.as_f64().expect("f64").to_bits()).collect();
    assert_eq!(bits, [0x41b3de4355555555, 0x43143ff3c1cb0959, 0x0000000000000001]);
}

#[test]
fn well_known_number_forms() {
    for (input, expected) in [
        ("1e21", "1e+21"),
        ("1e20", "100000000000000000000"),
        ("1e-7", "1e-7"),
        ("1e-6", "0.000001"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("4.50", "4.5"),
        ("2e-3", "0.002"),
        ("1E30", "1e+30"),
        ("0.000000000000000000000000001", "1e-27"),
        ("56.0", "56"),
        ("-1.5e300", "-1.5e+300"),
        ("123456789012", "123456789012"),
        ("-9007199254740992", "-9007199254740992"),
        ("10000000000000000000", "10000000000000000000"),
    ] {
        check(input, expected);
    }
}

#[test]
fn rfc8785_section_3_2_2_example() {
    // The RFC writes the first number as 333333333.33333329; serde_json without its
    // `float_roundtrip` feature reads that one ULP low (…325), so the input here is the same
    // double written with its shortest digits. `parse_canonical` reads numbers exactly.
    check(
        r#"{
          "numbers": [333333333.3333333, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#,
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#,
    );
}

#[test]
fn rfc8785_section_3_2_3_member_sorting() {
    check(
        r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#,
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\
         \"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}",
    );
}

#[test]
fn cyberphone_testdata() {
    // The reference implementation's input/output pairs (arrays, structures, weird).
    check(r#"[56, {"d": true, "10": null, "1": [ ]}]"#, r#"[56,{"1":[],"10":null,"d":true}]"#);
    check(
        r#"{"1": {"f": {"f": "hi","F": 5} ,"\n": 56.0}, "10": { }, "": "empty", "a": { },
            "111": [ {"e": "yes","E": "no" } ], "A": { }}"#,
        r#"{"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{"E":"no","e":"yes"}],"A":{},"a":{}}"#,
    );
    check(
        r#"{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\u000a": "Newline", "1": "One",
            "\u0080": "Control\u007f", "\ud83d\ude02": "Smiley", "\u00f6": "Latin Small Letter O With Diaeresis",
            "\ufb33": "Hebrew Letter Dalet With Dagesh", "</script>": "Browser Challenge"}"#,
        "{\"\\n\":\"Newline\",\"\\r\":\"Carriage Return\",\"1\":\"One\",\"</script>\":\"Browser Challenge\",\
         \"\u{80}\":\"Control\u{7f}\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\
         \"😂\":\"Smiley\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}",
    );
}

/// 300 random documents (unicode and control-character names and strings, numbers of every
/// form) canonicalised by node; see `tests/data/gen_jcs_structures.js`.
#[test]
fn random_documents_match_node() {
    let data = include_str!("../../tests/data/jcs_structures.jsonl");
    for line in data.lines() {
        let (input, expected): (String, String) = serde_json::from_str(line).expect("data line");
        check(&input, &expected);
    }
}

#[test]
fn utf16_order_differs_from_code_point_order() {
    // U+FB33 is above U+1F600 as code points but below it as UTF-16 (0xD83D < 0xFB33).
    let value = json!({"\u{fb33}": 1, "\u{1f600}": 2, "\u{e000}": 3});
    assert_eq!(canonicalize(&value).expect("ok"), "{\"\u{1f600}\":2,\"\u{e000}\":3,\"\u{fb33}\":1}");
    check_rejected("{\"\u{e000}\":3,\"\u{1f600}\":2}");
}

#[test]
fn integers_beyond_double_precision_are_refused() {
    for number in ["9007199254740993", "18446744073709551615", "-9223372036854775807", "1152921504606846977"] {
        let value: Value = serde_json::from_str(number).expect("json");
        assert!(
            matches!(canonicalize(&value), Err(AuditError::NumberNotRepresentable { .. })),
            "{number} must be refused"
        );
        check_rejected(number);
    }
    // Exactly representable and printed as the same digits: allowed both ways.
    check("9007199254740992", "9007199254740992");
    check("-1000000000000000000", "-1000000000000000000");
    // -2^63 is an exact double, but it prints as -9223372036854776000.
    check_rejected("-9223372036854775808");
}

#[test]
fn non_canonical_texts_are_rejected() {
    for text in [
        "",
        " 1",
        "1 ",
        "{\"a\": 1}",
        "{\"b\":1,\"a\":2}",
        "{\"a\":1,\"a\":2}",
        "[1, 2]",
        "-0",
        "01",
        "1.0",
        "1e21",
        "1E+21",
        "1.5e+0",
        "0.0000001",
        "1.",
        ".5",
        "+1",
        "\"\\/\"",
        "\"\\u0041\"",
        "\"\\u000a\"",
        "\"\\u001F\"",
        "\"\\ud83d\\ude00\"",
        "\"\u{1}\"",
        "tru",
        "nul",
        "[1,]",
        "{\"a\"}",
        "\"unterminated",
        "NaN",
        "Infinity",
    ] {
        check_rejected(text);
    }
    for text in ["\"\\u001f\\u0000\\b\"", "{\"\":[]}", "[[],{}]", "\"\u{7f}\u{2028}\"", "-5e-324", "true"] {
        assert!(is_canonical(text), "{text}");
    }
}

#[test]
fn nesting_is_bounded_both_ways() {
    let mut deep = Value::Null;
    for _ in 0..MAX_DEPTH {
        deep = Value::Array(vec![deep]);
    }
    let text = canonicalize(&deep).expect("MAX_DEPTH levels are fine");
    assert!(is_canonical(&text));
    let deeper = Value::Array(vec![deep]);
    assert!(matches!(canonicalize(&deeper), Err(AuditError::TooDeep { .. })));
    let text = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert!(!is_canonical(&text));
    let hostile = "[".repeat(1_000_000);
    assert!(matches!(parse_canonical(&hostile), Err(AuditError::TooDeep { .. })));
}

#[test]
fn string_scanning_finds_the_first_special_byte_at_any_offset() {
    let naive = |bytes: &[u8]| bytes.iter().take_while(|&&b| b != b'"' && b != b'\\' && b >= 0x20).count();
    for len in 0..26 {
        for filler in [b'a', 0x7f, 0xc3, b' ', b'!', b'#', b']', 0x21, 0x5b, 0x5d] {
            let plain = vec![filler; len];
            assert_eq!(scan::plain_run(&plain), naive(&plain));
            for position in 0..len {
                for special in [b'"', b'\\', 0x00, 0x01, 0x1f] {
                    let mut bytes = plain.clone();
                    bytes[position] = special;
                    if position + 1 < len {
                        bytes[position + 1] = 0x00; // a later special must not mask the first
                    }
                    assert_eq!(scan::plain_run(&bytes), position, "{bytes:?}");
                }
            }
        }
    }
}

#[test]
fn utf16_comparison_matches_encode_utf16() {
    let samples = [
        "",
        "a",
        "ab",
        "b",
        "\u{7f}",
        "\u{80}",
        "\u{7ff}",
        "\u{800}",
        "\u{d7ff}",
        "\u{e000}",
        "\u{efff}",
        "\u{f000}",
        "\u{fb33}",
        "\u{ffff}",
        "\u{10000}",
        "\u{1f600}",
        "\u{1f601}",
        "\u{10ffff}",
        "a\u{e000}",
        "a\u{10000}",
        "\u{e000}a",
        "\u{10000}a",
        "\u{ff61}",
        "\u{ff61}\u{ff62}",
        "\u{1d11e}",
    ];
    for a in samples {
        for b in samples {
            assert_eq!(compare_utf16(a, b), a.encode_utf16().cmp(b.encode_utf16()), "{a:?} vs {b:?}");
        }
    }
}
