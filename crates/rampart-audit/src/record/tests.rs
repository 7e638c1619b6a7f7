use serde_json::json;

use super::*;

fn event() -> AuditEvent {
    AuditEvent {
        time_unix_ms: 1_767_225_600_123,
        tenant: Some("acme".into()),
        kind: "policy".into(),
        actor: None,
        request_id: Some("0190f1e2-0000-7000-8000-000000000001".into()),
        data: json!({"verdict": "deny", "rule": "no-tier2", "score": 0.5, "tags": ["pii", "€"]}),
    }
}

#[test]
fn seal_writes_the_documented_text_and_hashes() {
    let record = seal(1, &GENESIS_PREV_HASH, &event()).unwrap();
    let expected = concat!(
        r#"{"actor":null,"data":{"rule":"no-tier2","score":0.5,"tags":["pii","€"],"verdict":"deny"},"#,
        r#""kind":"policy","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","#,
        r#""request_id":"0190f1e2-0000-7000-8000-000000000001","seq":1,"tenant":"acme","time_unix_ms":1767225600123}"#
    );
    assert_eq!(record.canonical, expected);
    assert!(crate::canonical::is_canonical(&record.canonical));
    let mut preimage = vec![0u8; 32];
    preimage.extend_from_slice(expected.as_bytes());
    assert_eq!(record.hash, sha256(&[&preimage]));
    assert_eq!(record.leaf_hash(), sha256(&[&[0u8], expected.as_bytes()]));
    assert_eq!(record.hash_hex(), hex::encode(record.hash));
}

#[test]
fn parse_is_the_inverse_of_seal() {
    let mut prev = GENESIS_PREV_HASH;
    for (seq, time) in [(1u64, 0i64), (2, -5), (MAX_SEQ, i64::try_from(MAX_SEQ).unwrap())] {
        let mut original = event();
        original.time_unix_ms = time;
        original.actor = Some("key:\"admin\"\n".into());
        original.tenant = None;
        let record = seal(seq, &prev, &original).unwrap();
        let parsed = parse(&record.canonical).unwrap();
        assert_eq!(parsed, ParsedRecord { seq, prev_hash: prev, event: original });
        assert_eq!(scan_header(&record.canonical).unwrap(), (seq, prev));
        prev = record.hash;
    }
}

#[test]
fn seal_refuses_what_json_cannot_carry() {
    assert!(matches!(seal(0, &GENESIS_PREV_HASH, &event()), Err(AuditError::SeqOutOfRange { seq: 0 })));
    assert!(matches!(seal(MAX_SEQ + 1, &GENESIS_PREV_HASH, &event()), Err(AuditError::SeqOutOfRange { .. })));
    let mut late = event();
    late.time_unix_ms = i64::MIN;
    assert!(matches!(seal(1, &GENESIS_PREV_HASH, &late), Err(AuditError::TimeOutOfRange { .. })));
    let mut big = event();
    big.data = json!({"id": u64::MAX});
    assert!(matches!(seal(1, &GENESIS_PREV_HASH, &big), Err(AuditError::NumberNotRepresentable { .. })));
}

#[test]
fn parse_refuses_anything_seal_would_not_write() {
    let good = seal(7, &[0xab; 32], &event()).unwrap().canonical;
    let cases: Vec<(String, &str)> = vec![
        (good.replace("\"seq\":7", "\"seq\":0"), "seq"),
        (good.replace("\"seq\":7", "\"seq\":7.5"), "seq"),
        (good.replace("\"seq\":7", "\"seq\":\"7\""), "seq"),
        (good.replace("\"seq\":7", "\"seq\":9007199254740992"), "seq"),
        (good.replace("\"actor\":null", "\"actor\":1"), "actor"),
        (good.replace("\"kind\":\"policy\"", "\"kind\":null"), "kind"),
        (good.replace(&"ab".repeat(32), &"AB".repeat(32)), "prev_hash"),
        (good.replace(&"ab".repeat(32), &"ab".repeat(31)), "prev_hash"),
        (good.replace(",\"tenant\":\"acme\"", ""), "tenant"),
        (good.replace("}", ",\"zzz\":1}"), "time_unix_ms"),
        (good.replace("\"actor\":null,", ""), "actor"),
    ];
    for (text, field) in cases {
        match parse(&text) {
            Err(AuditError::InvalidRecord { field: got, .. }) => assert_eq!(got, field, "{text}"),
            other => panic!("expected InvalidRecord({field}) for {text}, got {other:?}"),
        }
    }
    // Not canonical at all (whitespace before a member is already an ill-typed member).
    assert!(parse(&good.replacen(':', ": ", 1)).is_err());
    for text in [good.replace("\"rule\":", "\"rule\": "), format!("{good} "), good.replace("0.5", "0.50")] {
        assert!(matches!(parse(&text), Err(AuditError::NotCanonical { .. })), "{text}");
    }
}

#[test]
fn floats_round_trip_as_text() {
    let mut original = event();
    original.data = json!([333333333.3333333, 1e21, 1e-7, 5.0, -0.0]);
    let record = seal(1, &GENESIS_PREV_HASH, &original).unwrap();
    assert!(record.canonical.contains("[333333333.3333333,1e+21,1e-7,5,0]"));
    let parsed = parse(&record.canonical).unwrap();
    let resealed = seal(1, &GENESIS_PREV_HASH, &parsed.event).unwrap();
    assert_eq!(resealed, record);
}
