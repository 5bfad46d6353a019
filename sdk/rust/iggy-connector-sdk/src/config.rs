//! Decoding a plugin_config (JSON) into a connector's config struct, with errors that name the key.
//!
//! The rules are those of the Go SDK (`sdk.DecodeConfig`): empty input or `null` is `{}`; anything
//! but a JSON object is refused; unknown keys are refused (suggesting the closest known key); a
//! missing `required` key is refused; an absent key takes its [`ConfigField::default`] (JSON text);
//! a `null` value counts as absent; a value of the wrong type is refused naming its key. The declared
//! fields ([`Source::config_fields`](crate::Source::config_fields)) are the source of truth for the
//! known keys, so they must list every key the config struct reads.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::abi::{code, status, ConfigField, Error};

/// A config that could not be decoded: the status to return and the Error record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// [`status::BAD_INPUT`] for text that is not JSON, [`status::PERMANENT`] otherwise.
    pub status: i32,
    pub error: Error,
}

impl From<Error> for ConfigError {
    fn from(error: Error) -> ConfigError {
        ConfigError { status: error.status(), error }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Decodes `json` into `C` following the module's rules, checking keys against `fields`.
pub fn decode_config<C: DeserializeOwned>(json: &[u8], fields: &[ConfigField]) -> Result<C, ConfigError> {
    let text = std::str::from_utf8(json).map_err(|e| ConfigError {
        status: status::BAD_INPUT,
        error: Error::permanent(code::BAD_INPUT, format!("plugin_config is not UTF-8: {e}")),
    })?;
    let value: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).map_err(|e| ConfigError {
            status: status::BAD_INPUT,
            error: Error::permanent(code::BAD_INPUT, format!("plugin_config is not valid JSON: {e}")),
        })?
    };
    let mut obj = match value {
        Value::Null => Map::new(),
        Value::Object(m) => m,
        other => {
            return Err(Error::invalid_config(
                "",
                format!("plugin_config must be a JSON object, found {}", json_type(&other)),
            )
            .into())
        }
    };
    // Unknown keys (serde_json's Map is sorted, so the first one reported is the first alphabetically).
    if let Some(k) = obj.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
        let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        let mut msg = format!("unknown key {k:?}");
        match suggest(k, &known) {
            Some(s) => msg.push_str(&format!(" (did you mean {s:?}?)")),
            None => msg.push_str(&format!(" (known keys: {})", known.join(", "))),
        }
        return Err(Error::invalid_config(k.clone(), msg).into());
    }
    obj.retain(|_, v| !v.is_null());
    for f in fields {
        if obj.contains_key(&f.name) {
            continue;
        }
        if f.required {
            return Err(Error::invalid_config(f.name.clone(), format!("{} is required", f.name)).into());
        }
        if !f.default.is_empty() {
            let def: Value = serde_json::from_str(&f.default).map_err(|e| {
                Error::permanent(code::INTERNAL, format!("declared default of {} is not JSON: {e}", f.name))
            })?;
            obj.insert(f.name.clone(), def);
        }
    }
    serde_path_to_error::deserialize(Value::Object(obj)).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let inner = e.into_inner().to_string();
        let msg = if field.is_empty() { inner } else { format!("{field}: {inner}") };
        Error::invalid_config(field, msg).into()
    })
}

/// The candidate closest to `s` by edit distance, if it is close enough to be a likely typo.
pub fn suggest<'a>(s: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<&'a str> = None;
    let mut best_d = s.chars().count() / 2 + 2;
    for c in candidates {
        let d = levenshtein(s, c);
        if d < best_d {
            best = Some(c);
            best_d = d;
        }
    }
    best
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        name: String,
        #[serde(default)]
        size: u32,
        flag: Option<bool>,
    }

    fn fields() -> Vec<ConfigField> {
        vec![
            ConfigField { name: "name".into(), ty: "string".into(), required: true, ..Default::default() },
            ConfigField { name: "size".into(), ty: "int".into(), default: "10".into(), ..Default::default() },
            ConfigField { name: "flag".into(), ty: "bool".into(), ..Default::default() },
        ]
    }

    #[test]
    fn decodes_and_reports_the_culprit() {
        struct Case {
            json: &'static str,
            status: i32,
            field: &'static str,
            message_has: &'static str,
        }
        let cases = [
            Case { json: r#"{"name":"a"}"#, status: status::OK, field: "", message_has: "" },
            Case { json: r#"{"name":"a","size":null}"#, status: status::OK, field: "", message_has: "" },
            Case { json: "", status: status::PERMANENT, field: "name", message_has: "name is required" },
            Case { json: "null", status: status::PERMANENT, field: "name", message_has: "required" },
            Case {
                json: r#"{"name":"a","sise":3}"#,
                status: status::PERMANENT,
                field: "sise",
                message_has: "did you mean \"size\"",
            },
            Case {
                json: r#"{"name":"a","zzzzzzzz":3}"#,
                status: status::PERMANENT,
                field: "zzzzzzzz",
                message_has: "known keys: name, size, flag",
            },
            Case {
                json: r#"{"name":"a","size":"big"}"#,
                status: status::PERMANENT,
                field: "size",
                message_has: "invalid type: string",
            },
            Case {
                json: r#"{"name":"a","size":-1}"#,
                status: status::PERMANENT,
                field: "size",
                message_has: "invalid value",
            },
            Case { json: r#"{"name":7}"#, status: status::PERMANENT, field: "name", message_has: "expected a string" },
            Case {
                json: r#"[1]"#,
                status: status::PERMANENT,
                field: "",
                message_has: "must be a JSON object, found array",
            },
            Case { json: r#"{"name":"a""#, status: status::BAD_INPUT, field: "", message_has: "not valid JSON" },
        ];
        for c in cases {
            let got = decode_config::<Cfg>(c.json.as_bytes(), &fields());
            match got {
                Ok(cfg) => {
                    assert_eq!(c.status, status::OK, "{}: decoded {cfg:?}", c.json);
                    assert_eq!(cfg, Cfg { name: "a".into(), size: 10, flag: None }, "{}", c.json);
                }
                Err(e) => {
                    assert_eq!(e.status, c.status, "{}: {e:?}", c.json);
                    assert_eq!(e.error.field, c.field, "{}: {e:?}", c.json);
                    assert!(
                        e.error.message.contains(c.message_has),
                        "{}: {:?} lacks {:?}",
                        c.json,
                        e.error.message,
                        c.message_has
                    );
                }
            }
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("batch_sise", &["batch_size", "prefix"]), Some("batch_size"));
        assert_eq!(suggest("qqqq", &["batch_size", "prefix"]), None);
    }
}
