//! Fuzz targets of what the agent reads from a file or the network (bolero, run by `cargo test`
//! for a fixed number of cases; `tests/FUZZING.md` says how to run them longer): its
//! configuration here, its journal and outbox files in `records`, OWA's pages, cookies and
//! addresses in `owa`.

mod owa;
mod records;

use std::path::Path;

use bolero::{TypeGenerator, check};
use sesame_base::fuzz_tally::Tally;

use crate::config::AgentConfig;

#[test]
fn the_configuration_reads_any_text_without_panicking() {
    let tally = Tally::new("agent_config_any_text");
    // Seeds: the documented file (`__fuzz__/agent_config/corpus`).
    check!(name = "agent_config").with_iterations(2_000).for_each(|bytes: &[u8]| {
        tally.case(|| {
            if let Ok(text) = std::str::from_utf8(bytes) {
                let _ = AgentConfig::parse(text, Path::new("agent.toml"));
            }
        })
    });
    println!("{tally}");
}

/// A configuration file made of the agent's own sections and keys, with any values.
#[derive(Debug, TypeGenerator)]
struct ConfigFile {
    entries: Vec<(u8, Value)>,
}

#[derive(Debug, TypeGenerator)]
enum Value {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Texts(Vec<String>),
}

/// `[section] key` pairs of `AgentConfig`.
const KEYS: &[(&str, &str)] = &[
    ("", "state_dir"),
    ("", "socket"),
    ("owa", "extra_ca_files"),
    ("owa", "timeout_seconds"),
    ("owa", "proxy"),
    ("owa", "accept_language"),
    ("owa", "lockout_threshold"),
    ("key", "ids"),
    ("key", "poll_interval_ms"),
    ("key", "idle_poll_interval_ms"),
];

fn toml_value(value: &Value) -> String {
    let text = |s: &str| toml::Value::String(s.to_owned()).to_string();
    match value {
        Value::Text(s) => text(s),
        Value::Integer(n) => n.to_string(),
        Value::Float(f) if f.is_finite() => format!("{f:?}"),
        Value::Float(_) => "nan".to_owned(),
        Value::Boolean(b) => b.to_string(),
        Value::Texts(list) => {
            format!("[{}]", list.iter().map(|s| text(s)).collect::<Vec<_>>().join(", "))
        }
    }
}

#[test]
fn the_configuration_checks_any_values_of_its_keys() {
    let tally = Tally::new("agent_config_keys");
    check!().with_type::<ConfigFile>().with_iterations(2_000).for_each(|file| {
        tally.case(|| {
            let mut sections: Vec<(&str, Vec<String>)> = Vec::new();
            for (key, value) in &file.entries {
                let (section, key) = KEYS[usize::from(*key) % KEYS.len()];
                // The CA files are read: never let a generated path name a real file.
                let value = if key == "extra_ca_files" {
                    "[\"/nonexistent/sesame-fuzz.pem\"]".to_owned()
                } else {
                    toml_value(value)
                };
                let line = format!("{key} = {value}");
                match sections.iter_mut().find(|(s, _)| *s == section) {
                    Some((_, lines))
                        if !lines.iter().any(|l| l.starts_with(&format!("{key} ="))) =>
                    {
                        lines.push(line)
                    }
                    Some(_) => {}
                    None => sections.push((section, vec![line])),
                }
            }
            sections.sort_by_key(|(s, _)| !s.is_empty());
            let mut text = String::new();
            for (section, lines) in &sections {
                if !section.is_empty() {
                    text.push_str(&format!("[{section}]\n"));
                }
                for line in lines {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            if let Ok(config) = AgentConfig::parse(&text, Path::new("agent.toml")) {
                tally.accepted();
                // What was accepted holds the bounds the service relies on.
                assert!((1..=600).contains(&config.owa.timeout_seconds), "{text}");
                assert!(!matches!(config.owa.lockout_threshold, 1 | 2), "{text}");
            }
        })
    });
    println!("{tally}");
}
