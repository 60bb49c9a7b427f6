//! Which SysFlow layout a writer schema has, and whether this crate can read it.
//!
//! A file is read by its own (writer) schema. Its union members are matched to record
//! kinds by full name, as the official reader does (`sysflow.flow.FileFlow`, …), and each
//! member, and each nested named type the v5 schema also has (OID, FOID, Service, Port,
//! the enums), must fit its v5 counterpart:
//!
//! * every v5 field is present, except the few that published older schemas lack
//!   ([`OPTIONAL_FIELDS`]): printers show those as absent;
//! * a field present in both has a type the v5 reading accepts (the same type, or `int`
//!   where v5 has `long`; not nullable where v5 is not).
//!
//! Anything else is a layout whose fields or flag bits may mean something else (the 2019
//! pre-release layout has process events under the name `ProcessFlow` and other opFlags
//! bits), so it is refused instead of being read with today's meanings.
//!
//! Schema annotations do not change decoding: [`strip_logical_types`] removes every
//! `logicalType` before the schema is parsed, so each value is read by its primitive type
//! (SysFlow timestamps are nanoseconds whatever an annotation says).

use crate::model::RecordKind;
use apache_avro::Schema;
use apache_avro::schema::RecordSchema;
use std::collections::HashMap;

/// Fields of the v5 schema that some published older schemas lack, by record full name.
/// Every other v5 field is required of a writer schema.
pub(crate) const OPTIONAL_FIELDS: &[(&str, &str)] = &[
    ("sysflow.entity.SFHeader", "ip"),
    ("sysflow.entity.SFHeader", "filename"),
    ("sysflow.entity.Container", "podId"),
    ("sysflow.entity.Process", "entry"),
    ("sysflow.entity.Process", "cwd"),
    ("sysflow.entity.Process", "env"),
    ("sysflow.flow.NetworkFlow", "fd"),
    ("sysflow.flow.FileFlow", "openFlags"),
];

/// Removes every `logicalType` annotation, at any depth, from a JSON schema.
pub(crate) fn strip_logical_types(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("logicalType");
            m.values_mut().for_each(strip_logical_types);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_logical_types),
        _ => {}
    }
}

/// Attributes the Avro parser reads as integers wherever they appear (it panics on any
/// other value, apache-avro 0.22: its canonical form parses them with `expect`).
const INTEGER_ATTRIBUTES: [&str; 3] = ["size", "precision", "scale"];

/// Attributes whose values the Avro parser's canonical form reads as schemas (a string,
/// an object or an array of them) wherever they appear, also as a field's or a type's
/// extra attribute; apache-avro 0.22 panics on any other value there.
const SCHEMA_ATTRIBUTES: [&str; 7] = [
    "name", "type", "fields", "symbols", "items", "values", "order",
];

/// Refuses, before the Avro parser sees it, a schema its canonical form would panic on:
/// a `size`, `precision` or `scale` that is not an integer (see [`INTEGER_ATTRIBUTES`]),
/// or a number, boolean or null where it reads a schema (see [`SCHEMA_ATTRIBUTES`]).
pub(crate) fn check_canonical_form_input(v: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for k in INTEGER_ATTRIBUTES {
                // (one past i64::MAX panics too: the canonical form reads an i64, from a
                // number or a string of digits)
                if let Some(x) = m.get(k)
                    && !x.is_i64()
                    && x.as_str().is_none_or(|t| t.parse::<i64>().is_err())
                {
                    return Err(format!("`{k}` is {x}, not an integer"));
                }
            }
            // the canonical form goes on into these values only (it drops defaults, docs
            // and other attributes unread)
            for k in SCHEMA_ATTRIBUTES {
                if let Some(x) = m.get(k) {
                    schema_shaped(x).map_err(|e| format!("`{k}` holds {e}, not a schema"))?;
                    check_canonical_form_input(x)?;
                }
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(check_canonical_form_input),
        _ => Ok(()),
    }
}

/// Whether `v` is a string, or an object or array all of whose array members are (the
/// objects' own attributes are checked by [`check_canonical_form_input`]); the first
/// value that is not, otherwise.
fn schema_shaped(v: &serde_json::Value) -> Result<(), &serde_json::Value> {
    use serde_json::Value;
    match v {
        Value::String(_) | Value::Object(_) => Ok(()),
        Value::Array(a) => a.iter().try_for_each(schema_shaped),
        other => Err(other),
    }
}

/// The record kind of each member of the writer's `rec` union (None: a name this crate
/// does not know, an error only if a record of it is read), after checking that every
/// known member and nested type fits v5. `rec` is the writer's union; `v5` the v5 schema.
pub(crate) fn union_kinds(
    writer: &Schema,
    rec: &[Schema],
    v5: &Schema,
) -> Result<Vec<Option<RecordKind>>, String> {
    let writer_types = named_types(writer);
    let v5_types = named_types(v5);
    let mut problems = Vec::new();
    // The top-level record holds the union, whose members are checked one by one (an
    // unknown member is not an error until a record of it is read).
    let top = type_name(writer);
    let mut names: Vec<&String> = writer_types
        .keys()
        .filter(|n| Some(n.as_str()) != top.as_deref())
        .collect();
    names.sort();
    for name in names {
        let (Some(w), Some(v)) = (writer_types.get(name), v5_types.get(name)) else {
            continue;
        };
        if let Some(p) = misfit(name, w, v) {
            problems.push(p);
        }
    }
    if !problems.is_empty() {
        let mut msg = format!("unsupported SysFlow schema layout: {}", problems.join("; "));
        if is_pre_release(&writer_types) {
            msg.push_str(
                ". This is the 2019 pre-release layout (process events under the name \
                 ProcessFlow, opFlags bits with their early meanings), which cannot be read \
                 as a later SysFlow file",
            );
        }
        return Err(msg);
    }
    Ok(rec
        .iter()
        .map(|member| {
            let name = type_name(member)?;
            RecordKind::ALL.into_iter().find(|k| k.full_name() == name)
        })
        .collect())
}

/// The full name of a named type or reference.
fn type_name(s: &Schema) -> Option<String> {
    match s {
        Schema::Record(r) => Some(r.name.fullname(None)),
        Schema::Enum(e) => Some(e.name.fullname(None)),
        Schema::Fixed(f) => Some(f.name.fullname(None)),
        Schema::Ref { name } => Some(name.fullname(None)),
        _ => None,
    }
}

/// Every named type defined in a schema, by full name.
fn named_types(schema: &Schema) -> HashMap<String, &Schema> {
    fn walk<'s>(s: &'s Schema, out: &mut HashMap<String, &'s Schema>) {
        match s {
            Schema::Record(r) => {
                out.insert(r.name.fullname(None), s);
                for f in &r.fields {
                    walk(&f.schema, out);
                }
            }
            Schema::Enum(_) | Schema::Fixed(_) => {
                if let Some(n) = type_name(s) {
                    out.insert(n, s);
                }
            }
            Schema::Array(a) => walk(&a.items, out),
            Schema::Map(m) => walk(&m.types, out),
            Schema::Union(u) => u.variants().iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = HashMap::new();
    walk(schema, &mut out);
    out
}

/// Why the writer's definition of a named type does not fit the v5 one (None: it fits).
fn misfit(name: &str, w: &Schema, v: &Schema) -> Option<String> {
    match (w, v) {
        (Schema::Record(w), Schema::Record(v)) => record_misfit(name, w, v),
        (Schema::Enum(_), Schema::Enum(_)) => None,
        (Schema::Fixed(w), Schema::Fixed(v)) if w.size == v.size => None,
        (Schema::Fixed(w), Schema::Fixed(v)) => {
            Some(format!("{name} is {} bytes long, not {}", w.size, v.size))
        }
        _ => Some(format!("{name} is not the same kind of type as in SysFlow")),
    }
}

fn record_misfit(name: &str, w: &RecordSchema, v: &RecordSchema) -> Option<String> {
    let has = |n: &str| w.fields.iter().find(|f| f.name == n);
    let missing: Vec<&str> = v
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .filter(|n| has(n).is_none() && !OPTIONAL_FIELDS.contains(&(name, *n)))
        .collect();
    let mistyped: Vec<&str> = v
        .fields
        .iter()
        .filter(|vf| has(&vf.name).is_some_and(|wf| !fits(&wf.schema, &vf.schema)))
        .map(|f| f.name.as_str())
        .collect();
    if missing.is_empty() && mistyped.is_empty() {
        return None;
    }
    let mut why = Vec::new();
    if !missing.is_empty() {
        why.push(format!("lacks {}", missing.join(", ")));
    }
    if !mistyped.is_empty() {
        why.push(format!("has other types for {}", mistyped.join(", ")));
    }
    let fields: Vec<&str> = w.fields.iter().map(|f| f.name.as_str()).collect();
    Some(format!(
        "record {name} {} (its fields: {})",
        why.join(" and "),
        fields.join(", ")
    ))
}

/// Whether a writer field type reads as the v5 field type (named types by name; their
/// definitions are compared on their own).
fn fits(w: &Schema, v: &Schema) -> bool {
    match (w, v) {
        (Schema::Union(wu), Schema::Union(vu)) => wu
            .variants()
            .iter()
            .all(|x| vu.variants().iter().any(|y| fits(x, y))),
        (Schema::Union(_), _) => false,
        (_, Schema::Union(vu)) => vu.variants().iter().any(|y| fits(w, y)),
        (Schema::Null, Schema::Null)
        | (Schema::Boolean, Schema::Boolean)
        | (Schema::Int, Schema::Int | Schema::Long)
        | (Schema::Long, Schema::Long)
        | (Schema::String, Schema::String) => true,
        (Schema::Array(a), Schema::Array(b)) => fits(&a.items, &b.items),
        (Schema::Map(a), Schema::Map(b)) => fits(&a.types, &b.types),
        _ => type_name(w).is_some_and(|n| type_name(v).as_deref() == Some(n.as_str())),
    }
}

/// The 2019 pre-release layout: a `ProcessFlow` member with process-event fields and no
/// `ProcessEvent` member.
fn is_pre_release(types: &HashMap<String, &Schema>) -> bool {
    let event_shaped = match types.get(RecordKind::ProcessFlow.full_name()) {
        Some(Schema::Record(r)) => ["args", "ret"]
            .iter()
            .all(|n| r.fields.iter().any(|f| f.name == *n)),
        _ => false,
    };
    event_shaped && !types.contains_key(RecordKind::ProcessEvent.full_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Schema {
        let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
        strip_logical_types(&mut v);
        Schema::parse(&v).unwrap()
    }

    fn v5() -> Schema {
        parse(super::super::schema::schema_v5())
    }

    fn kinds(json: &str) -> Result<Vec<Option<RecordKind>>, String> {
        let w = parse(json);
        let Schema::Record(top) = &w else {
            panic!("not a record")
        };
        let Schema::Union(u) = &top.fields[0].schema else {
            panic!("not a union")
        };
        union_kinds(&w, u.variants(), &v5())
    }

    /// A SysFlow schema with the given union members (JSON, in namespace `sysflow`).
    fn sysflow(members: &[&str]) -> String {
        format!(
            r#"{{"type":"record","name":"SysFlow","namespace":"sysflow","fields":[{{"name":"rec","type":[{}]}}]}}"#,
            members.join(",")
        )
    }

    const OID: &str = r#"{"type":"record","name":"OID","namespace":"sysflow.type","fields":[{"name":"createTS","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"hpid","type":"long"}]}"#;

    fn process_flow(ns: &str, fields: &str) -> String {
        format!(
            r#"{{"type":"record","name":"ProcessFlow","namespace":"{ns}","fields":[{{"name":"procOID","type":{OID}}},{{"name":"ts","type":"long"}},{fields}]}}"#
        )
    }

    #[test]
    fn every_kind_has_its_full_name_in_the_v5_schema() {
        let v5 = v5();
        let types = named_types(&v5);
        for k in RecordKind::ALL {
            assert!(types.contains_key(k.full_name()), "{}", k.full_name());
        }
        let Schema::Record(top) = &v5 else { panic!() };
        let Schema::Union(u) = &top.fields[0].schema else {
            panic!()
        };
        let got = union_kinds(&v5, u.variants(), &v5).unwrap();
        let want: Vec<_> = RecordKind::ALL.into_iter().map(Some).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn logical_types_are_removed_at_any_depth() {
        let mut v: serde_json::Value = serde_json::from_str(
            r#"{"a":{"type":"long","logicalType":"timestamp-millis"},"b":[{"type":["null",{"type":"string","logicalType":"uuid"}]}]}"#,
        )
        .unwrap();
        strip_logical_types(&mut v);
        assert!(!v.to_string().contains("logicalType"), "{v}");
    }

    #[test]
    fn members_are_matched_by_full_name() {
        let pf = process_flow(
            "sysflow.flow",
            r#"{"name":"numThreadsCloned","type":"long"},{"name":"opFlags","type":"int"},{"name":"endTs","type":"long"},{"name":"numThreadsExited","type":"long"},{"name":"numCloneErrors","type":"int"}"#,
        );
        assert_eq!(
            kinds(&sysflow(&[&pf])).unwrap(),
            vec![Some(RecordKind::ProcessFlow)]
        );
        // The same record in another namespace is not a SysFlow process flow.
        let other = pf.replace("sysflow.flow", "elsewhere");
        assert_eq!(kinds(&sysflow(&[&other])).unwrap(), vec![None]);
    }

    #[test]
    fn the_pre_release_layout_is_refused() {
        let pf = process_flow(
            "sysflow.flow",
            r#"{"name":"tid","type":"long"},{"name":"opFlags","type":"int"},{"name":"args","type":{"type":"array","items":"string"}},{"name":"ret","type":"int"}"#,
        );
        let err = kinds(&sysflow(&[&pf])).unwrap_err();
        assert!(
            err.starts_with("unsupported SysFlow schema layout: record sysflow.flow.ProcessFlow lacks numThreadsCloned, endTs, numThreadsExited, numCloneErrors"),
            "{err}"
        );
        assert!(err.contains("2019 pre-release layout"), "{err}");
    }

    #[test]
    fn a_field_of_another_type_is_refused() {
        let pf = process_flow(
            "sysflow.flow",
            r#"{"name":"numThreadsCloned","type":"long"},{"name":"opFlags","type":"long"},{"name":"endTs","type":["null","long"]},{"name":"numThreadsExited","type":"long"},{"name":"numCloneErrors","type":"long"}"#,
        );
        let err = kinds(&sysflow(&[&pf])).unwrap_err();
        assert!(err.contains("has other types for opFlags, endTs"), "{err}");
        assert!(!err.contains("pre-release"), "{err}");
    }
}
