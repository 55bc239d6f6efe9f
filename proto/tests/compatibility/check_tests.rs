//! The checker on small contracts written for the purpose: each breaking change is named with its
//! file, definition and field, and compatible growth passes.

use prost_types::FileDescriptorSet;

use crate::check::{Break, breaking_changes};

/// The older contract every case changes: one file, `demo/v1/demo.proto`.
const BASE: &str = r#"
syntax = "proto3";
package demo.v1;

service Agents {
  rpc CheckIn(CheckInRequest) returns (CheckInResponse);
  rpc Watch(CheckInRequest) returns (stream CheckInResponse);
}

message CheckInRequest {
  string agent_version = 1;
  repeated Progress rotations = 2;
  optional bool idle = 3;
  oneof key {
    string device = 4;
    string reason = 5;
  }
  reserved 9;
  reserved "old_field";
}

message Progress {
  string rotation_id = 1;
  Step step = 2;
  enum Kind {
    KIND_UNSPECIFIED = 0;
    KIND_PERIODIC = 1;
  }
  Kind kind = 3;
}

message CheckInResponse {
  uint32 interval_seconds = 1;
}

enum Step {
  STEP_UNSPECIFIED = 0;
  STEP_STARTED = 1;
  STEP_VERIFIED = 2;
  reserved 7;
}
"#;

fn compile(source: &str) -> FileDescriptorSet {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("demo/v1/demo.proto");
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("the directory is made");
    std::fs::write(&path, source).expect("the file is written");
    protox::compile([&path], [dir.path()]).expect("the .proto compiles")
}

/// The breaks from BASE to BASE with `from` replaced by `to` (which must occur once).
fn breaks(from: &str, to: &str) -> Vec<String> {
    assert_eq!(BASE.matches(from).count(), 1, "{from:?} must occur once in BASE");
    let changed = BASE.replacen(from, to, 1);
    breaking_changes(&compile(BASE), &compile(&changed)).iter().map(Break::to_string).collect()
}

#[track_caller]
fn assert_breaks(from: &str, to: &str, expected: &[&str]) {
    assert_eq!(breaks(from, to), expected, "{from:?} -> {to:?}");
}

#[test]
fn a_contract_is_compatible_with_itself() {
    assert_eq!(breaking_changes(&compile(BASE), &compile(BASE)), []);
}

#[test]
fn additions_are_compatible() {
    for (from, to) in [
        ("  string agent_version = 1;\n", "  string agent_version = 1;\n  string hostname = 6;\n"),
        ("  STEP_VERIFIED = 2;\n", "  STEP_VERIFIED = 2;\n  STEP_FAILED = 3;\n"),
        ("  rpc Watch(", "  rpc Report(CheckInRequest) returns (CheckInResponse);\n  rpc Watch("),
        ("message CheckInResponse {", "message Extra { string x = 1; }\nmessage CheckInResponse {"),
        (
            "service Agents {",
            "service Admins { rpc Ping(Progress) returns (Progress); }\nservice Agents {",
        ),
        (
            "  uint32 interval_seconds = 1;\n",
            "  uint32 interval_seconds = 1;\n  Progress.Kind kind = 2;\n",
        ),
    ] {
        assert_eq!(breaks(from, to), Vec::<String>::new(), "{from:?} -> {to:?}");
    }
}

#[test]
fn a_field_removed_is_compatible_only_with_its_number_and_name_reserved() {
    let field = "  uint32 interval_seconds = 1;\n";
    assert_breaks(
        field,
        "",
        &[
            "demo/v1/demo.proto: message demo.v1.CheckInResponse: field 1 (interval_seconds) removed without reserving it: add `reserved 1;` and `reserved \"interval_seconds\";`",
        ],
    );
    assert_breaks(
        field,
        "  reserved 1;\n",
        &[
            "demo/v1/demo.proto: message demo.v1.CheckInResponse: field 1 (interval_seconds) removed without reserving it: add `reserved \"interval_seconds\";`",
        ],
    );
    assert_breaks(
        field,
        "  reserved \"interval_seconds\";\n",
        &[
            "demo/v1/demo.proto: message demo.v1.CheckInResponse: field 1 (interval_seconds) removed without reserving it: add `reserved 1;`",
        ],
    );
    assert_breaks(field, "  reserved 1;\n  reserved \"interval_seconds\";\n", &[]);
    assert_breaks(field, "  reserved 1 to 3;\n  reserved \"interval_seconds\";\n", &[]);
}

#[test]
fn a_field_number_keeps_its_name_type_and_label() {
    let at = "demo/v1/demo.proto: message demo.v1.CheckInRequest: field";
    assert_breaks(
        "string agent_version = 1;",
        "string version = 1;",
        &[&format!("{at} 1 (agent_version) renamed to version")],
    );
    assert_breaks(
        "string agent_version = 1;",
        "bytes agent_version = 1;",
        &[&format!("{at} 1 (agent_version) changed type from string to bytes")],
    );
    assert_breaks(
        "repeated Progress rotations = 2;",
        "Progress rotations = 2;",
        &[&format!("{at} 2 (rotations) changed from repeated to singular")],
    );
    assert_breaks(
        "repeated Progress rotations = 2;",
        "repeated CheckInResponse rotations = 2;",
        &[&format!(
            "{at} 2 (rotations) changed type from demo.v1.Progress to demo.v1.CheckInResponse"
        )],
    );
    assert_breaks(
        "optional bool idle = 3;",
        "bool idle = 3;",
        &[&format!("{at} 3 (idle) changed from optional to singular")],
    );
    assert_breaks(
        "    string reason = 5;\n  }\n",
        "  }\n  string reason = 5;\n",
        &[&format!("{at} 5 (reason) moved from oneof key to no oneof")],
    );
    // A number reused by another field: both the rename and the type change are named.
    assert_breaks(
        "string agent_version = 1;",
        "reserved \"agent_version\";\n  uint64 generation = 1;",
        &[
            &format!("{at} 1 (agent_version) renamed to generation"),
            &format!("{at} 1 (agent_version) changed type from string to uint64"),
        ],
    );
}

#[test]
fn reserved_numbers_and_names_stay_unused() {
    let at = "demo/v1/demo.proto: message demo.v1.CheckInRequest: field";
    assert_breaks(
        "  reserved 9;\n",
        "  string hostname = 9;\n",
        &[&format!("{at} 9 (hostname) takes a number the older contract reserved")],
    );
    assert_breaks(
        "  reserved \"old_field\";\n",
        "  string old_field = 10;\n",
        &[&format!("{at} 10 (old_field) takes a name the older contract reserved")],
    );
    assert_breaks(
        "  reserved 7;\n",
        "  STEP_CHANGED = 7;\n",
        &[
            "demo/v1/demo.proto: enum demo.v1.Step: value 7 (STEP_CHANGED) takes a number the older contract reserved",
        ],
    );
}

#[test]
fn enum_values_keep_their_names_and_are_removed_only_reserved() {
    let at = "demo/v1/demo.proto: enum demo.v1.Step: value";
    assert_breaks(
        "STEP_VERIFIED = 2;",
        "STEP_DONE = 2;",
        &[&format!("{at} 2 (STEP_VERIFIED) renamed to STEP_DONE")],
    );
    assert_breaks(
        "  STEP_VERIFIED = 2;\n",
        "",
        &[&format!(
            "{at} 2 (STEP_VERIFIED) removed without reserving it: add `reserved 2;` and `reserved \"STEP_VERIFIED\";`"
        )],
    );
    assert_breaks("  STEP_VERIFIED = 2;\n", "  reserved 2;\n  reserved \"STEP_VERIFIED\";\n", &[]);
    // A nested enum is checked where it lives.
    assert_breaks(
        "KIND_PERIODIC = 1;",
        "KIND_SCHEDULED = 1;",
        &[
            "demo/v1/demo.proto: enum demo.v1.Progress.Kind: value 1 (KIND_PERIODIC) renamed to KIND_SCHEDULED",
        ],
    );
}

#[test]
fn a_type_still_referred_to_cannot_be_removed() {
    // Step goes, and field 2 of Progress with it, unreserved: both are named.
    assert_breaks(
        "  Step step = 2;\n",
        "",
        &[
            "demo/v1/demo.proto: message demo.v1.Progress: field 2 (step) removed without reserving it: add `reserved 2;` and `reserved \"step\";`",
        ],
    );
    let without_step = "enum Step {\n  STEP_UNSPECIFIED = 0;\n  STEP_STARTED = 1;\n  STEP_VERIFIED = 2;\n  reserved 7;\n}\n";
    let changed = BASE.replace("  Step step = 2;\n", "").replace(without_step, "");
    let found: Vec<String> =
        breaking_changes(&compile(BASE), &compile(&changed)).iter().map(Break::to_string).collect();
    assert_eq!(
        found,
        [
            "demo/v1/demo.proto: message demo.v1.Progress: field 2 (step) removed without reserving it: add `reserved 2;` and `reserved \"step\";`",
            "demo/v1/demo.proto: enum demo.v1.Step: removed while field 2 (step) of message demo.v1.Progress still refers to it",
        ]
    );
    // With the field retired properly, the enum may go.
    let retired = BASE
        .replace("  Step step = 2;\n", "  reserved 2;\n  reserved \"step\";\n")
        .replace(without_step, "");
    assert!(breaking_changes(&compile(BASE), &compile(&retired)).is_empty());
}

#[test]
fn methods_and_services_stay() {
    let at = "demo/v1/demo.proto: service demo.v1.Agents: method";
    assert_breaks(
        "  rpc CheckIn(CheckInRequest) returns (CheckInResponse);\n",
        "",
        &[&format!(
            "{at} CheckIn removed: clients calling it get UNIMPLEMENTED; keep it (it may answer UNIMPLEMENTED or FAILED_PRECONDITION itself)"
        )],
    );
    assert_breaks(
        "rpc CheckIn(CheckInRequest) returns (CheckInResponse);",
        "rpc CheckIn(Progress) returns (CheckInResponse);",
        &[&format!("{at} CheckIn takes demo.v1.Progress instead of demo.v1.CheckInRequest")],
    );
    assert_breaks(
        "rpc CheckIn(CheckInRequest) returns (CheckInResponse);",
        "rpc CheckIn(CheckInRequest) returns (Progress);",
        &[&format!("{at} CheckIn returns demo.v1.Progress instead of demo.v1.CheckInResponse")],
    );
    assert_breaks(
        "returns (stream CheckInResponse)",
        "returns (CheckInResponse)",
        &[&format!("{at} Watch changed from server-streaming to unary")],
    );
    assert_breaks(
        "rpc CheckIn(CheckInRequest)",
        "rpc CheckIn(stream CheckInRequest)",
        &[&format!("{at} CheckIn changed from unary to client-streaming")],
    );
    assert_breaks(
        "service Agents {",
        "service Workstations {",
        &[
            "demo/v1/demo.proto: service demo.v1.Agents: removed: every client calling it gets UNIMPLEMENTED; keep it (its methods may answer UNIMPLEMENTED themselves)",
        ],
    );
}

#[test]
fn a_package_keeps_its_name() {
    let found = breaks("package demo.v1;", "package demo.v2;");
    assert_eq!(
        found[0],
        "demo/v1/demo.proto: file: package renamed from demo.v1 to demo.v2: every type and method path changes"
    );
    // Every definition of the old package is gone with it: each is named as well.
    assert!(found.iter().any(|b| b.contains("service demo.v1.Agents: removed")), "{found:?}");
}
