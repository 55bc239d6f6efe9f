//! Fuzz targets of the configuration (bolero, run by `cargo test` for a fixed number of cases;
//! `tests/FUZZING.md` says how to run them longer): any text as the file, and files and
//! environments made of the server's own keys with any values. No panic; a refusal names the file
//! or the key.

use bolero::{TypeGenerator, check};

use super::*;
use sesame_base::fuzz_tally::Tally;

#[test]
fn any_file_is_read_or_refused_without_panicking() {
    let tally = Tally::new("server_config_any_text");
    // Seeds: the example file and a PostgreSQL one (`__fuzz__/server_config/corpus`).
    check!(name = "server_config").with_iterations(2_000).for_each(|bytes: &[u8]| {
        tally.case(|| {
            let Ok(text) = std::str::from_utf8(bytes) else { return };
            if let Ok(file) = parse_file(text, "server.toml") {
                let _ = Config::default().apply_file(file);
            }
        })
    });
    println!("{tally}");
}

/// Settings of the server's own keys (`SESAME_SECTION__KEY`), with any values.
#[derive(Debug, TypeGenerator)]
struct Settings {
    entries: Vec<(u8, Value)>,
    version: Option<i64>,
}

#[derive(Debug, TypeGenerator)]
enum Value {
    Text(String),
    Integer(i64),
    Small(u16),
    Boolean(bool),
    Texts(Vec<String>),
}

impl Value {
    fn toml(&self) -> String {
        match self {
            Value::Text(s) => toml::Value::String(s.clone()).to_string(),
            Value::Integer(n) => n.to_string(),
            Value::Small(n) => n.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::Texts(list) => format!(
                "[{}]",
                list.iter()
                    .map(|s| toml::Value::String(s.clone()).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn env(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Integer(n) => n.to_string(),
            Value::Small(n) => n.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::Texts(list) => list.join(","),
        }
    }
}

/// The database URL file the variables name: none.
const NO_FILE: &str = "/nonexistent/sesame-fuzz-database-url";

#[test]
fn the_servers_keys_take_any_values_or_name_the_key() {
    let tally = Tally::new("server_config_keys");
    check!().with_type::<Settings>().with_iterations(2_000).for_each(|settings| {
        tally.case(|| {
            let mut sections: Vec<(String, Vec<String>)> = Vec::new();
            let mut env = Vec::new();
            for (key, value) in &settings.entries {
                let name = ENV_KEYS[usize::from(*key) % ENV_KEYS.len()];
                let Some((section, key)) = name
                    .trim_start_matches("SESAME_")
                    .to_ascii_lowercase()
                    .split_once("__")
                    .map(|(s, k)| (s.to_owned(), k.to_owned()))
                else {
                    continue;
                };
                // The one file the variables name is read: never let a generated path name a
                // real file.
                let env_value = if name == "SESAME_DATABASE__URL_FILE" {
                    NO_FILE.to_owned()
                } else {
                    value.env()
                };
                env.push((name.to_owned(), env_value));
                let line = format!("{key} = {}", value.toml());
                match sections.iter_mut().find(|(s, _)| *s == section) {
                    Some((_, lines)) => {
                        if !lines.iter().any(|l| l.starts_with(&format!("{key} ="))) {
                            lines.push(line);
                        }
                    }
                    None => sections.push((section, vec![line])),
                }
            }
            let mut text = settings.version.map(|v| format!("version = {v}\n")).unwrap_or_default();
            for (section, lines) in &sections {
                text.push_str(&format!("[{section}]\n{}\n", lines.join("\n")));
            }
            match parse_file(&text, "server.toml") {
                Ok(file) => match Config::default().apply_file(file) {
                    Ok(_) => tally.accepted(),
                    Err(Error::Value { key, .. }) => {
                        let last = key.rsplit('.').next().unwrap_or(&key);
                        assert!(text.contains(last), "{key} in {text}");
                    }
                    Err(Error::Version(v)) => assert_ne!(v, 1),
                    Err(other) => panic!("{other} for {text}"),
                },
                Err(Error::Parse { path, .. }) => assert_eq!(path, "server.toml"),
                Err(other) => panic!("{other}"),
            }
            match Config::default().apply_env(env.clone()) {
                Ok(()) => {}
                Err(Error::Value { key, .. }) => {
                    assert!(env.iter().any(|(k, _)| *k == key), "{key}")
                }
                Err(Error::Read { path, .. }) => assert_eq!(path, NO_FILE),
                Err(other) => panic!("{other}"),
            }
        })
    });
    println!("{tally}");
}
