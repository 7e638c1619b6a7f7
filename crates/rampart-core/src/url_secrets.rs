//! Keeping passwords in database, cache and ledger URLs out of errors and logs.

/// The URL with any password (in `user:password@` or a `password=` parameter) replaced by
/// `***`, fit for errors and logs.
pub fn redact_url_password(url: &str) -> String {
    let mut redacted = url.to_owned();
    if let Some((start, end)) = userinfo_password_range(&redacted) {
        redacted.replace_range(start..end, "***");
    }
    if let Some(query_start) = redacted.find('?') {
        let (base, query) = redacted.split_at(query_start + 1);
        let query = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => param.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&");
        redacted = format!("{base}{query}");
    }
    redacted
}

/// `detail` (an engine's error message) with every password in `url`, as written and
/// percent-decoded, replaced by `***`: engines do not normally repeat a password, but a message
/// that might is cheaper to clean than to audit.
pub fn scrub_url_password(detail: &str, url: &str) -> String {
    let mut scrubbed = detail.to_owned();
    for password in passwords(url) {
        for form in [percent_decode(&password), password] {
            if !form.is_empty() {
                scrubbed = scrubbed.replace(&form, "***");
            }
        }
    }
    scrubbed
}

/// The byte range of the password in `scheme://user:password@host`, if there is one.
fn userinfo_password_range(url: &str) -> Option<(usize, usize)> {
    let authority_start = url.find("://")? + 3;
    let authority_end = url[authority_start..].find(['/', '?', '#']).map_or(url.len(), |index| authority_start + index);
    let authority = &url[authority_start..authority_end];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    Some((authority_start + colon + 1, authority_start + at))
}

fn passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some((start, end)) = userinfo_password_range(url) {
        found.push(url[start..end].to_owned());
    }
    if let Some((_, query)) = url.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        for param in query.split('&') {
            if let Some((key, value)) = param.split_once('=')
                && key.eq_ignore_ascii_case("password")
            {
                found.push(value.to_owned());
            }
        }
    }
    found
}

/// `%XX` escapes decoded; anything that is not a valid escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = bytes.get(index + 1..index + 3).filter(|_| bytes[index] == b'%');
        match escape.and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()) {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_and_query_passwords() {
        assert_eq!(redact_url_password("redis://:hunter2@cache:6379/0"), "redis://:***@cache:6379/0");
        assert_eq!(redact_url_password("rediss://app:hunter2@cache/1"), "rediss://app:***@cache/1");
        assert_eq!(redact_url_password("redis://cache?password=hunter2&db=1"), "redis://cache?password=***&db=1");
        assert_eq!(redact_url_password("redis://app@cache:6379"), "redis://app@cache:6379");
        assert_eq!(
            redact_url_password("mysql://root:p@ss@db/x?password=two&sslmode=require"),
            "mysql://root:***@db/x?password=***&sslmode=require"
        );
        assert_eq!(redact_url_password("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
        assert_eq!(redact_url_password("sqlite://data/rampart.db"), "sqlite://data/rampart.db");
    }

    #[test]
    fn scrubs_passwords_as_written_and_decoded() {
        let url = "redis://app:p%40ss@cache:6379?password=other";
        assert_eq!(scrub_url_password("auth p@ss failed, p%40ss, other", url), "auth *** failed, ***, ***");
        assert_eq!(scrub_url_password("connection refused", "redis://cache"), "connection refused");
    }
}
