//! API keys for the traders, read from the output of `exchange keys create`.

use super::LoadError;
use crate::demo::TraderKey;

/// Reads blocks of `account N`, `apiKey K`, `secretKey S` lines (the output of
/// `exchange keys create`, concatenated; blank lines and `#` comments are skipped), in
/// order.
pub fn parse_keys(text: &str) -> Result<Vec<TraderKey>, LoadError> {
    let mut keys = Vec::new();
    let mut account: Option<(usize, u64)> = None;
    let mut api_key: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let bad = |why: &str| LoadError::BadKeys {
            line,
            why: why.to_string(),
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut words = trimmed.split_whitespace();
        let (Some(name), Some(value), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad("expected `name value`"));
        };
        match name {
            "account" => {
                if account.is_some() {
                    return Err(bad("a new account before the previous one's secretKey"));
                }
                let n = value
                    .parse()
                    .map_err(|_| bad("the account is not a number"))?;
                account = Some((line, n));
            }
            "apiKey" => {
                if account.is_none() || api_key.is_some() {
                    return Err(bad("apiKey must follow an account line"));
                }
                api_key = Some(value.to_string());
            }
            "secretKey" => {
                let (Some((_, acc)), Some(key)) = (account.take(), api_key.take()) else {
                    return Err(bad("secretKey must follow account and apiKey lines"));
                };
                keys.push(TraderKey {
                    account: acc,
                    api_key: key,
                    secret: value.to_string(),
                });
            }
            _ => return Err(bad("expected account, apiKey or secretKey")),
        }
    }
    if let Some((line, _)) = account {
        return Err(LoadError::BadKeys {
            line,
            why: "this account has no apiKey and secretKey".into(),
        });
    }
    Ok(keys)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_concatenated_key_outputs() {
        let text = "account 1001\napiKey    AAA\nsecretKey sss\n\n# second\naccount 1002\n  apiKey BBB\nsecretKey ttt\n";
        let keys = parse_keys(text).unwrap();
        let got: Vec<_> = keys
            .iter()
            .map(|k| (k.account, k.api_key.as_str(), k.secret.as_str()))
            .collect();
        assert_eq!(got, vec![(1001, "AAA", "sss"), (1002, "BBB", "ttt")]);
        assert!(parse_keys("").unwrap().is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_key_listing() {
        for (text, line) in [
            ("account x\n", 1),
            ("apiKey A\n", 1),
            ("account 1\nsecretKey s\n", 2),
            ("account 1\napiKey A\napiKey B\n", 3),
            ("account 1\napiKey A\naccount 2\n", 3),
            ("account 1\napiKey A\n", 1),
            ("account 1 2\n", 1),
            ("hello world\n", 1),
        ] {
            match parse_keys(text) {
                Err(LoadError::BadKeys { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
