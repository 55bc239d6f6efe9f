//! The migrations are append-only: each landed file keeps its bytes (a hash list committed in
//! `tests/src/landed_migrations.txt`), none is removed, and a new one is numbered after them.
//! Every landed version has its schema fixture (`tests/fixtures/schema/`, upgraded by
//! `e2e::upgrades`), and every migration runs in a transaction (a crash inside one leaves the
//! previous version).

use super::workspace_root;

/// FNV-1a, 64 bits: enough to notice an edit (the list it is compared with is reviewed like code).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A migration's number, from its file name (`NNNN_name.sql`).
fn migration_number(path: &str) -> Option<u32> {
    let name = path.rsplit('/').next()?;
    let (number, rest) = name.split_once('_')?;
    let well_formed = number.len() == 4
        && rest.ends_with(".sql")
        && rest
            .trim_end_matches(".sql")
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if well_formed { number.parse().ok() } else { None }
}

#[test]
fn migrations_are_append_only() {
    let root = workspace_root();
    let list = std::fs::read_to_string(root.join("tests/src/landed_migrations.txt"))
        .expect("tests/src/landed_migrations.txt");
    let landed: Vec<(&str, &str)> = list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once("  ").map(|(h, p)| (p.trim(), h.trim())).expect("HASH  PATH lines"))
        .collect();
    let mut problems = Vec::new();
    let mut on_disk = Vec::new();
    for backend in ["sqlite", "postgres"] {
        for entry in std::fs::read_dir(root.join("migrations").join(backend)).expect("migrations") {
            let name = entry.expect("an entry").file_name().to_string_lossy().into_owned();
            on_disk.push(format!("migrations/{backend}/{name}"));
        }
    }
    on_disk.sort();
    for path in &on_disk {
        let bytes = std::fs::read(root.join(path)).expect("a readable migration");
        let hash = format!("{:016x}", fnv1a(&bytes));
        match landed.iter().find(|(p, _)| p == path) {
            Some((_, h)) if *h == hash => {}
            Some(_) => problems.push(format!(
                "{path} changed after it landed: write a new migration instead (databases that ran it refuse to start)"
            )),
            None => problems.push(format!("{path} is new: append `{hash}  {path}` to tests/src/landed_migrations.txt")),
        }
        let new = !landed.iter().any(|(p, _)| p == path);
        match migration_number(path) {
            None => problems.push(format!("{path}: name it NNNN_snake_case.sql")),
            Some(number) if new => {
                let backend = path.split('/').nth(1);
                let not_last = landed.iter().any(|(p, _)| {
                    p.split('/').nth(1) == backend
                        && migration_number(p).is_some_and(|n| n >= number)
                });
                if not_last {
                    problems.push(format!(
                        "{path}: number a new migration above every landed one of its backend"
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for (path, _) in &landed {
        if !on_disk.iter().any(|p| p == path) {
            problems
                .push(format!("{path} landed and is gone: a landed migration is never removed"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The versions of the landed migrations, from `tests/src/landed_migrations.txt`.
fn landed_versions() -> std::collections::BTreeSet<u32> {
    let list = std::fs::read_to_string(workspace_root().join("tests/src/landed_migrations.txt"))
        .expect("tests/src/landed_migrations.txt");
    list.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| migration_number(l.split_whitespace().last()?))
        .collect()
}

#[test]
fn every_landed_migration_has_a_schema_fixture() {
    let dir = workspace_root().join("tests/fixtures/schema");
    let missing: Vec<String> = landed_versions()
        .into_iter()
        .map(|v| format!("v{v:04}.sql"))
        .filter(|name| !dir.join(name).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "tests/fixtures/schema/ lacks {}: a new migration comes with the fixture of its version \
         (tests/fixtures/schema/README.md says how)",
        missing.join(", ")
    );
}

#[test]
fn migrations_run_in_transactions() {
    let root = workspace_root();
    let mut outside = Vec::new();
    for backend in ["sqlite", "postgres"] {
        for entry in std::fs::read_dir(root.join("migrations").join(backend)).expect("migrations") {
            let path = entry.expect("an entry").path();
            let sql = std::fs::read_to_string(&path).expect("a readable migration");
            if sql.starts_with("-- no-transaction") {
                outside.push(path.display().to_string());
            }
        }
    }
    assert!(
        outside.is_empty(),
        "{} opt out of the migration's transaction: a crash inside would leave the schema half \
         migrated and marked failed",
        outside.join(", ")
    );
}
