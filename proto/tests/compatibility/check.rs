//! The compatibility rule between two contracts: what a newer descriptor set may change in an
//! older one without breaking the agents and clients built from the older one.
//!
//! Protobuf names nothing on the wire but field numbers, enum numbers and method paths, so the
//! rule is about those, with names kept too (JSON, reflection, and the next reader of the
//! `.proto` all go by them). A newer contract may add files, messages, enums, fields, values,
//! methods and services. It may not:
//! - change a file's package;
//! - give a field number another name, type, label (repeated, optional presence) or oneof;
//! - drop a field without reserving both its number and its name;
//! - use a number or name the older contract reserved;
//! - rename an enum value, or drop one without reserving its number and name;
//! - drop a message or enum the older contract's surviving fields or methods refer to;
//! - drop a service or method, or change a method's request, response or streaming.

use std::collections::BTreeMap;
use std::fmt;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorSet,
    ServiceDescriptorProto,
};

/// One change that breaks the older contract's agents or clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Break {
    /// The `.proto` file of the older contract where the broken definition lives.
    pub(crate) file: String,
    /// The definition: `message sesame.v1.StepReport`, `service sesame.v1.AgentService`, …
    pub(crate) place: String,
    /// What changed, and how to keep it compatible when there is a way.
    pub(crate) what: String,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.place, self.what)
    }
}

/// Every change from `old` to `new` that breaks what was built from `old`; empty when `new` only
/// grows compatibly.
pub(crate) fn breaking_changes(old: &FileDescriptorSet, new: &FileDescriptorSet) -> Vec<Break> {
    let old_index = Index::of(old);
    let new_index = Index::of(new);
    let mut breaks = Vec::new();
    for file in &old.file {
        let Some(renamed) = new.file.iter().find(|f| f.name == file.name) else { continue };
        if renamed.package != file.package {
            breaks.push(Break {
                file: file.name().to_owned(),
                place: "file".to_owned(),
                what: format!(
                    "package renamed from {} to {}: every type and method path changes",
                    file.package(),
                    renamed.package()
                ),
            });
        }
    }
    for (name, (file, old_message)) in &old_index.messages {
        let place = format!("message {}", name.trim_start_matches('.'));
        let at = |what: String| Break { file: (*file).to_owned(), place: place.clone(), what };
        match new_index.messages.get(name) {
            Some((_, new_message)) => {
                breaks.extend(message_changes(old_message, new_message).into_iter().map(at));
            }
            None => {
                for user in old_index.users_of(name, &new_index) {
                    breaks.push(at(format!("removed while {user} still refers to it")));
                }
            }
        }
    }
    for (name, (file, old_enum)) in &old_index.enums {
        let place = format!("enum {}", name.trim_start_matches('.'));
        let at = |what: String| Break { file: (*file).to_owned(), place: place.clone(), what };
        match new_index.enums.get(name) {
            Some((_, new_enum)) => {
                breaks.extend(enum_changes(old_enum, new_enum).into_iter().map(at))
            }
            None => {
                for user in old_index.users_of(name, &new_index) {
                    breaks.push(at(format!("removed while {user} still refers to it")));
                }
            }
        }
    }
    for (name, (file, old_service)) in &old_index.services {
        let place = format!("service {}", name.trim_start_matches('.'));
        let at = |what: String| Break { file: (*file).to_owned(), place: place.clone(), what };
        match new_index.services.get(name) {
            Some((_, new_service)) => {
                breaks.extend(service_changes(old_service, new_service).into_iter().map(at));
            }
            None => breaks.push(at(
                "removed: every client calling it gets UNIMPLEMENTED; keep it (its methods may answer UNIMPLEMENTED themselves)".to_owned(),
            )),
        }
    }
    breaks
}

/// The definitions of a descriptor set by fully qualified name (`.sesame.v1.StepReport`), each
/// with the file that holds it; nested messages and enums included.
struct Index<'a> {
    messages: BTreeMap<String, (&'a str, &'a DescriptorProto)>,
    enums: BTreeMap<String, (&'a str, &'a EnumDescriptorProto)>,
    services: BTreeMap<String, (&'a str, &'a ServiceDescriptorProto)>,
}

impl<'a> Index<'a> {
    fn of(set: &'a FileDescriptorSet) -> Index<'a> {
        let mut index =
            Index { messages: BTreeMap::new(), enums: BTreeMap::new(), services: BTreeMap::new() };
        for file in &set.file {
            let scope = if file.package().is_empty() {
                String::new()
            } else {
                format!(".{}", file.package())
            };
            for message in &file.message_type {
                index.add_message(file.name(), &scope, message);
            }
            for e in &file.enum_type {
                index.enums.insert(format!("{scope}.{}", e.name()), (file.name(), e));
            }
            for service in &file.service {
                index
                    .services
                    .insert(format!("{scope}.{}", service.name()), (file.name(), service));
            }
        }
        index
    }

    fn add_message(&mut self, file: &'a str, scope: &str, message: &'a DescriptorProto) {
        let name = format!("{scope}.{}", message.name());
        for nested in &message.nested_type {
            self.add_message(file, &name, nested);
        }
        for e in &message.enum_type {
            self.enums.insert(format!("{name}.{}", e.name()), (file, e));
        }
        self.messages.insert(name, (file, message));
    }

    /// What in this (older) contract refers to the type `name` and survives in `new`: a field of
    /// a message `new` still has, whose number `new` did not reserve, or a method `new` still
    /// has. Those are the references a removal of the type would break.
    fn users_of(&self, name: &str, new: &Index<'_>) -> Vec<String> {
        let mut users = Vec::new();
        for (owner, (_, message)) in &self.messages {
            let Some((_, kept)) = new.messages.get(owner) else { continue };
            for field in message.field.iter().filter(|f| f.type_name() == name) {
                if !reserves_number(kept, field.number()) {
                    users.push(format!(
                        "field {} ({}) of message {}",
                        field.number(),
                        field.name(),
                        owner.trim_start_matches('.')
                    ));
                }
            }
        }
        for (service_name, (_, service)) in &self.services {
            let Some((_, kept)) = new.services.get(service_name) else { continue };
            for method in &service.method {
                let refers = method.input_type() == name || method.output_type() == name;
                if refers && kept.method.iter().any(|m| m.name() == method.name()) {
                    users.push(format!(
                        "method {}.{}",
                        service_name.trim_start_matches('.'),
                        method.name()
                    ));
                }
            }
        }
        users
    }
}

fn message_changes(old: &DescriptorProto, new: &DescriptorProto) -> Vec<String> {
    let mut changes = Vec::new();
    for field in &old.field {
        let number = field.number();
        let label = format!("field {number} ({})", field.name());
        match new.field.iter().find(|f| f.number() == number) {
            Some(now) => {
                if now.name() != field.name() {
                    changes.push(format!("{label} renamed to {}", now.name()));
                }
                let (was, is) = (field_type(field), field_type(now));
                if was != is {
                    changes.push(format!("{label} changed type from {was} to {is}"));
                }
                let (was, is) = (cardinality(field), cardinality(now));
                if was != is {
                    changes.push(format!("{label} changed from {was} to {is}"));
                }
                let (was, is) = (oneof(old, field), oneof(new, now));
                if was != is {
                    changes.push(format!(
                        "{label} moved from {} to {}",
                        was.map_or("no oneof".to_owned(), |o| format!("oneof {o}")),
                        is.map_or("no oneof".to_owned(), |o| format!("oneof {o}"))
                    ));
                }
            }
            None => {
                let number_kept = reserves_number(new, number);
                let name_kept = new.reserved_name.iter().any(|n| n == field.name());
                if !(number_kept && name_kept) {
                    let missing = match (number_kept, name_kept) {
                        (false, false) => {
                            format!("`reserved {number};` and `reserved \"{}\";`", field.name())
                        }
                        (false, true) => format!("`reserved {number};`"),
                        _ => format!("`reserved \"{}\";`", field.name()),
                    };
                    changes.push(format!("{label} removed without reserving it: add {missing}"));
                }
            }
        }
    }
    for field in &new.field {
        let reused = old.field.iter().all(|f| f.number() != field.number())
            && reserves_number(old, field.number());
        if reused {
            changes.push(format!(
                "field {} ({}) takes a number the older contract reserved",
                field.number(),
                field.name()
            ));
        }
        let renamed_into = old.field.iter().all(|f| f.name() != field.name())
            && old.reserved_name.iter().any(|n| n == field.name());
        if renamed_into {
            changes.push(format!(
                "field {} ({}) takes a name the older contract reserved",
                field.number(),
                field.name()
            ));
        }
    }
    changes
}

fn enum_changes(old: &EnumDescriptorProto, new: &EnumDescriptorProto) -> Vec<String> {
    let mut changes = Vec::new();
    for value in &old.value {
        let number = value.number();
        let label = format!("value {number} ({})", value.name());
        let now: Vec<&str> =
            new.value.iter().filter(|v| v.number() == number).map(|v| v.name()).collect();
        if now.is_empty() {
            let number_kept =
                new.reserved_range.iter().any(|r| (r.start()..=r.end()).contains(&number));
            let name_kept = new.reserved_name.iter().any(|n| n == value.name());
            if !(number_kept && name_kept) {
                changes.push(format!(
                    "{label} removed without reserving it: add `reserved {number};` and `reserved \"{}\";`",
                    value.name()
                ));
            }
        } else if !now.contains(&value.name()) {
            changes.push(format!("{label} renamed to {}", now.join(", ")));
        }
    }
    for value in &new.value {
        let fresh = old.value.iter().all(|v| v.number() != value.number());
        let reserved =
            old.reserved_range.iter().any(|r| (r.start()..=r.end()).contains(&value.number()));
        if fresh && reserved {
            changes.push(format!(
                "value {} ({}) takes a number the older contract reserved",
                value.number(),
                value.name()
            ));
        }
    }
    changes
}

fn service_changes(old: &ServiceDescriptorProto, new: &ServiceDescriptorProto) -> Vec<String> {
    let mut changes = Vec::new();
    for method in &old.method {
        let label = format!("method {}", method.name());
        let Some(now) = new.method.iter().find(|m| m.name() == method.name()) else {
            changes.push(format!(
                "{label} removed: clients calling it get UNIMPLEMENTED; keep it (it may answer UNIMPLEMENTED or FAILED_PRECONDITION itself)"
            ));
            continue;
        };
        let short = |t: &str| t.trim_start_matches('.').to_owned();
        if now.input_type() != method.input_type() {
            changes.push(format!(
                "{label} takes {} instead of {}",
                short(now.input_type()),
                short(method.input_type())
            ));
        }
        if now.output_type() != method.output_type() {
            changes.push(format!(
                "{label} returns {} instead of {}",
                short(now.output_type()),
                short(method.output_type())
            ));
        }
        let streaming = |client: bool, server: bool| match (client, server) {
            (false, false) => "unary",
            (true, false) => "client-streaming",
            (false, true) => "server-streaming",
            (true, true) => "bidirectional streaming",
        };
        let was = streaming(method.client_streaming(), method.server_streaming());
        let is = streaming(now.client_streaming(), now.server_streaming());
        if was != is {
            changes.push(format!("{label} changed from {was} to {is}"));
        }
    }
    changes
}

/// Whether `message` reserves field number `number` (its ranges' ends are exclusive).
fn reserves_number(message: &DescriptorProto, number: i32) -> bool {
    message.reserved_range.iter().any(|r| (r.start()..r.end()).contains(&number))
}

/// A field's type as the `.proto` writes it: `string`, `sesame.v1.KeyState`, …
fn field_type(field: &FieldDescriptorProto) -> String {
    match field.r#type() {
        Type::Message | Type::Enum | Type::Group => {
            field.type_name().trim_start_matches('.').to_owned()
        }
        scalar => scalar.as_str_name().trim_start_matches("TYPE_").to_lowercase(),
    }
}

/// `repeated`, `optional` (explicit presence) or `singular`.
fn cardinality(field: &FieldDescriptorProto) -> &'static str {
    match field.label() {
        Label::Repeated => "repeated",
        Label::Required => "required",
        Label::Optional if field.proto3_optional() => "optional",
        Label::Optional => "singular",
    }
}

/// The real (not synthetic, for proto3 `optional`) oneof a field belongs to.
fn oneof<'a>(message: &'a DescriptorProto, field: &FieldDescriptorProto) -> Option<&'a str> {
    if field.proto3_optional() {
        return None;
    }
    let index = usize::try_from(field.oneof_index?).ok()?;
    message.oneof_decl.get(index).map(|o| o.name())
}
