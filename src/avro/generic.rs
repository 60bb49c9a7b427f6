//! Decoding of SysFlow files written with another schema version than v5.
//!
//! Older collectors wrote earlier SysFlow schemas (header versions 1000-4: no `filename`,
//! no process `cwd`/`env`, no network flow `fd`, …). Such files are decoded with
//! apache-avro against their own embedded schema, each value by its primitive type, and
//! mapped onto the v5 model by record full name and field name once [`super::layout`] has
//! accepted the layout. Fields the old schema lacks take their v5 default (empty, zero,
//! false, none); a printer that must show them as absent reads the schema itself
//! ([`SfReader::schema_json`](super::SfReader::schema_json)).

use super::layout;
use crate::model::*;
use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;

/// Why a writer schema cannot be used.
#[derive(Debug)]
pub(crate) enum SchemaError {
    /// Not JSON, not an Avro schema, or not a SysFlow schema.
    Invalid(String),
    /// A SysFlow schema whose layout this crate cannot interpret.
    Unsupported(String),
}

/// Decoder for one writer schema.
pub(crate) struct GenericDecoder {
    schema: Schema,
    /// Record kind of each union branch of `SysFlow.rec` (None: unknown record full name).
    branches: Vec<Option<RecordKind>>,
    v5_equivalent: bool,
}

impl GenericDecoder {
    /// Parses a writer schema (without its `logicalType` annotations) and checks that its
    /// layout can be read (see [`super::layout`]).
    pub(crate) fn new(json: &str) -> Result<Self, SchemaError> {
        let invalid = |e: String| SchemaError::Invalid(e);
        let mut plain: serde_json::Value =
            serde_json::from_str(json).map_err(|e| invalid(format!("schema is not JSON: {e}")))?;
        layout::strip_logical_types(&mut plain);
        layout::check_canonical_form_input(&plain)
            .map_err(|e| invalid(format!("invalid Avro schema: {e}")))?;
        let schema =
            Schema::parse(&plain).map_err(|e| invalid(format!("invalid Avro schema: {e}")))?;
        let Schema::Record(top) = &schema else {
            return Err(invalid(
                "not a SysFlow schema: the top-level type is not a record".into(),
            ));
        };
        let Some(rec) = top.fields.iter().find(|f| f.name == "rec") else {
            return Err(invalid("not a SysFlow schema: no `rec` union field".into()));
        };
        let Schema::Union(u) = &rec.schema else {
            return Err(invalid("not a SysFlow schema: `rec` is not a union".into()));
        };
        let v5 =
            Schema::parse_str(super::schema::schema_v5()).map_err(|e| invalid(e.to_string()))?;
        let branches =
            layout::union_kinds(&schema, u.variants(), &v5).map_err(SchemaError::Unsupported)?;
        let v5_equivalent = v5.canonical_form() == schema.canonical_form();
        Ok(Self {
            schema,
            branches,
            v5_equivalent,
        })
    }

    /// Whether the schema is the v5 schema written differently (same canonical form).
    pub(crate) fn is_v5_equivalent(&self) -> bool {
        self.v5_equivalent
    }

    /// Decodes one datum; returns the record and the bytes used.
    pub(crate) fn decode(&self, data: &[u8]) -> Result<(Record, usize), String> {
        let mut slice = data;
        let reader = GenericDatumReader::builder(&self.schema)
            .build()
            .map_err(|e| e.to_string())?;
        let v = reader.read_value(&mut slice).map_err(|e| e.to_string())?;
        let used = data.len() - slice.len();
        let Value::Record(top) = v else {
            return Err("datum is not a record".into());
        };
        let Some((_, Value::Union(idx, inner))) = top.into_iter().find(|(n, _)| n == "rec") else {
            return Err("datum has no `rec` union".into());
        };
        let kind = self
            .branches
            .get(idx as usize)
            .copied()
            .flatten()
            .ok_or_else(|| format!("union branch {idx} is not a known SysFlow record"))?;
        let Value::Record(fields) = *inner else {
            return Err("union branch is not a record".into());
        };
        Ok((to_record(kind, &Fields(fields))?, used))
    }
}

struct Fields(Vec<(String, Value)>);

fn unwrap_union(v: &Value) -> &Value {
    match v {
        Value::Union(_, inner) => unwrap_union(inner),
        other => other,
    }
}

impl Fields {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| unwrap_union(v))
    }

    fn long(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Value::Long(v)) => *v,
            Some(Value::Int(v)) => i64::from(*v),
            _ => 0,
        }
    }

    fn int(&self, name: &str) -> i32 {
        match self.get(name) {
            Some(Value::Int(v)) => *v,
            Some(Value::Long(v)) => *v as i32,
            _ => 0,
        }
    }

    fn boolean(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Boolean(true)))
    }

    fn string(&self, name: &str) -> String {
        self.opt_string(name).unwrap_or_default()
    }

    fn opt_string(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    fn strings(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match unwrap_union(v) {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn longs(&self, name: &str) -> Vec<i64> {
        match self.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match unwrap_union(v) {
                    Value::Long(l) => Some(*l),
                    Value::Int(i) => Some(i64::from(*i)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The records of an array field (entries that are not records are skipped).
    fn records(&self, name: &str) -> Vec<Fields> {
        match self.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match unwrap_union(v) {
                    Value::Record(f) => Some(Fields(f.clone())),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn str_map(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        match self.get(name) {
            Some(Value::Map(m)) => m
                .iter()
                .filter_map(|(k, v)| match unwrap_union(v) {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    _ => None,
                })
                .collect(),
            _ => Default::default(),
        }
    }

    fn symbol(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Value::Enum(_, s)) => Some(s),
            _ => None,
        }
    }

    fn oid(&self, name: &str) -> Option<Oid> {
        match self.get(name) {
            Some(Value::Record(f)) => {
                let f = Fields(f.clone());
                Some(Oid::new(f.long("createTS"), f.long("hpid")))
            }
            _ => None,
        }
    }

    fn foid(&self, name: &str) -> Option<Foid> {
        match self.get(name) {
            Some(Value::Fixed(_, b)) => <[u8; 20]>::try_from(b.as_slice()).ok().map(Foid),
            _ => None,
        }
    }

    fn op_flags(&self) -> OpFlags {
        OpFlags::from_avro(self.int("opFlags"))
    }

    fn state(&self) -> Result<ObjectState, String> {
        let s = self.symbol("state").unwrap_or("");
        ObjectState::from_symbol(s).ok_or_else(|| format!("unknown object state {s:?}"))
    }
}

fn to_record(kind: RecordKind, f: &Fields) -> Result<Record, String> {
    let need_oid = |n: &str| f.oid(n).ok_or_else(|| format!("missing OID field {n}"));
    let need_foid = |n: &str| f.foid(n).ok_or_else(|| format!("missing FOID field {n}"));
    Ok(match kind {
        RecordKind::Header => Record::Header(SfHeader {
            version: f.long("version"),
            exporter: f.string("exporter"),
            ip: f.string("ip"),
            filename: f.string("filename"),
        }),
        RecordKind::Container => Record::Container(Container {
            id: f.string("id"),
            name: f.string("name"),
            image: f.string("image"),
            imageid: f.string("imageid"),
            container_type: f
                .symbol("type")
                .and_then(ContainerType::from_symbol)
                .ok_or("unknown container type")?,
            privileged: f.boolean("privileged"),
            pod_id: f.opt_string("podId"),
        }),
        RecordKind::Process => Record::Process(Process {
            state: f.state()?,
            oid: need_oid("oid")?,
            poid: f.oid("poid"),
            ts: f.long("ts"),
            exe: f.string("exe"),
            exe_args: f.string("exeArgs"),
            uid: f.int("uid"),
            user_name: f.string("userName"),
            gid: f.int("gid"),
            group_name: f.string("groupName"),
            tty: f.boolean("tty"),
            container_id: f.opt_string("containerId"),
            entry: f.boolean("entry"),
            cwd: f.string("cwd"),
            env: f.strings("env"),
        }),
        RecordKind::File => Record::File(File {
            state: f.state()?,
            oid: need_foid("oid")?,
            ts: f.long("ts"),
            restype: f.int("restype"),
            path: f.string("path"),
            container_id: f.opt_string("containerId"),
        }),
        RecordKind::ProcessEvent => Record::ProcessEvent(ProcessEvent {
            proc_oid: need_oid("procOID")?,
            ts: f.long("ts"),
            tid: f.long("tid"),
            op_flags: f.op_flags(),
            args: f.strings("args"),
            ret: f.int("ret"),
        }),
        RecordKind::NetworkFlow => Record::NetworkFlow(NetworkFlow {
            proc_oid: need_oid("procOID")?,
            ts: f.long("ts"),
            tid: f.long("tid"),
            op_flags: f.op_flags(),
            end_ts: f.long("endTs"),
            sip: f.int("sip"),
            sport: f.int("sport"),
            dip: f.int("dip"),
            dport: f.int("dport"),
            proto: f.int("proto"),
            fd: f.int("fd"),
            num_r_recv_ops: f.long("numRRecvOps"),
            num_w_send_ops: f.long("numWSendOps"),
            num_r_recv_bytes: f.long("numRRecvBytes"),
            num_w_send_bytes: f.long("numWSendBytes"),
        }),
        RecordKind::FileFlow => Record::FileFlow(FileFlow {
            proc_oid: need_oid("procOID")?,
            ts: f.long("ts"),
            tid: f.long("tid"),
            op_flags: f.op_flags(),
            open_flags: f.int("openFlags"),
            end_ts: f.long("endTs"),
            file_oid: need_foid("fileOID")?,
            fd: f.int("fd"),
            num_r_recv_ops: f.long("numRRecvOps"),
            num_w_send_ops: f.long("numWSendOps"),
            num_r_recv_bytes: f.long("numRRecvBytes"),
            num_w_send_bytes: f.long("numWSendBytes"),
        }),
        RecordKind::FileEvent => Record::FileEvent(FileEvent {
            proc_oid: need_oid("procOID")?,
            ts: f.long("ts"),
            tid: f.long("tid"),
            op_flags: f.op_flags(),
            file_oid: need_foid("fileOID")?,
            ret: f.int("ret"),
            new_file_oid: f.foid("newFileOID"),
        }),
        RecordKind::NetworkEvent => Record::NetworkEvent(NetworkEvent {
            proc_oid: need_oid("procOID")?,
            ts: f.long("ts"),
            tid: f.long("tid"),
            op_flags: f.op_flags(),
            sip: f.int("sip"),
            sport: f.int("sport"),
            dip: f.int("dip"),
            dport: f.int("dport"),
            proto: f.int("proto"),
            ret: f.int("ret"),
        }),
        RecordKind::ProcessFlow => Record::ProcessFlow(ProcessFlow {
            proc_oid: need_oid("procOID")?,
            ts: f.long("ts"),
            num_threads_cloned: f.long("numThreadsCloned"),
            op_flags: f.op_flags(),
            end_ts: f.long("endTs"),
            num_threads_exited: f.long("numThreadsExited"),
            num_clone_errors: f.long("numCloneErrors"),
        }),
        RecordKind::Pod => Record::Pod(Pod {
            ts: f.long("ts"),
            id: f.string("id"),
            name: f.string("name"),
            node_name: f.string("nodeName"),
            host_ip: f.longs("hostIP"),
            internal_ip: f.longs("internalIP"),
            namespace: f.string("namespace"),
            restart_count: f.long("restartCount"),
            labels: f.str_map("labels"),
            selectors: f.str_map("selectors"),
            services: f.records("services").iter().map(service).collect(),
        }),
        RecordKind::K8sEvent => Record::K8sEvent(K8sEvent {
            kind: f
                .symbol("kind")
                .and_then(K8sComponent::from_symbol)
                .unwrap_or(K8sComponent::Unknown),
            action: f
                .symbol("action")
                .and_then(K8sAction::from_symbol)
                .unwrap_or(K8sAction::Unknown),
            ts: f.long("ts"),
            message: f.string("message"),
        }),
    })
}

fn service(f: &Fields) -> Service {
    Service {
        name: f.string("name"),
        id: f.string("id"),
        namespace: f.string("namespace"),
        port_list: f
            .records("portList")
            .iter()
            .map(|p| Port {
                port: p.int("port"),
                target_port: p.int("targetPort"),
                node_port: p.int("nodePort"),
                proto: p.string("proto"),
            })
            .collect(),
        cluster_ip: f.longs("clusterIP"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avro::binary::{encode_datum, tests::samples};

    /// The v5 schema with `logicalType` on every `ts` and `createTS`, and without its last
    /// union member (so it is not v5-equivalent and is read generically).
    fn annotated_v5_without_k8s_events() -> String {
        fn annotate(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    let timestamp = matches!(
                        m.get("name").and_then(|n| n.as_str()),
                        Some("ts" | "createTS")
                    ) && m.get("type").is_some_and(|t| t == "long");
                    if timestamp {
                        m.insert(
                            "type".into(),
                            serde_json::json!({"type": "long", "logicalType": "timestamp-millis"}),
                        );
                    }
                    m.values_mut().for_each(annotate);
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(annotate),
                _ => {}
            }
        }
        let mut v: serde_json::Value =
            serde_json::from_str(super::super::schema::schema_v5()).unwrap();
        annotate(&mut v);
        v["fields"][0]["type"].as_array_mut().unwrap().pop();
        let json = v.to_string();
        assert!(json.contains("timestamp-millis"));
        json
    }

    /// Fuzzers' finds: the Avro parser's canonical form (apache-avro 0.22) panicked on a
    /// non-integer `size`, `precision` or `scale`, or on a value that is not a schema
    /// (a number, a boolean, null) under `name`, `type`, `fields`, `symbols`, `items`,
    /// `values` or `order`, anywhere in a writer schema, even as a field's extra
    /// attribute: each is an invalid schema.
    #[test]
    fn attributes_the_canonical_form_cannot_take_make_an_invalid_schema() {
        let v5 = super::super::schema::schema_v5();
        let version = "{\"name\":\"version\",\"type\":\"long\",\"default\":5}";
        let ns = "\"namespace\":\"sysflow.entity\"";
        for (from, to, says) in [
            (ns, "\"precision\":\"sysflow.entity\"", "not an integer"),
            ("\"size\":20", "\"size\":\"20x\"", "not an integer"),
            ("\"size\":20", "\"size\":2.5", "not an integer"),
            (
                "\"size\":20",
                "\"size\":9223372036854775808",
                "not an integer",
            ),
            (ns, "\"scale\":[1]", "not an integer"),
            (
                version,
                "{\"name\":\"version\",\"type\":\"long\",\"symbols\":2}",
                "`symbols`",
            ),
            (
                version,
                "{\"name\":\"version\",\"type\":\"long\",\"items\":[\"a\",[true]]}",
                "`items`",
            ),
            (
                version,
                "{\"name\":\"version\",\"type\":\"long\",\"order\":null}",
                "`order`",
            ),
            (ns, "\"values\":{\"fields\":[1.5]}", "`fields`"),
        ] {
            assert!(v5.contains(from), "{from}");
            let bad = v5.replacen(from, to, 1);
            match GenericDecoder::new(&bad) {
                Err(SchemaError::Invalid(e)) => assert!(e.contains(says), "{to}: {e}"),
                Err(e) => panic!("{to}: {e:?}"),
                Ok(_) => panic!("{to}: accepted"),
            }
        }
        // a string of digits is read as the integer it spells; what the canonical form
        // leaves out may hold anything
        let digits = v5.replacen(ns, "\"namespace\":\"sysflow.entity\",\"scale\":\"3\"", 1);
        assert!(GenericDecoder::new(&digits).is_ok());
        let ok = v5.replacen(
            version,
            "{\"name\":\"version\",\"type\":\"long\",\"default\":5,\"doc\":7,\"x-note\":[1,null]}",
            1,
        );
        assert!(GenericDecoder::new(&ok).is_ok());
        assert!(GenericDecoder::new(v5).is_ok());
    }

    #[test]
    fn every_field_survives_an_annotated_older_schema() {
        let d = GenericDecoder::new(&annotated_v5_without_k8s_events()).unwrap();
        assert!(!d.is_v5_equivalent());
        let mut pods = 0;
        for r in samples() {
            if r.kind() == RecordKind::K8sEvent {
                continue;
            }
            if let Record::Pod(p) = &r {
                assert!(p.services.iter().any(|s| !s.port_list.is_empty()));
                pods += 1;
            }
            let buf = encode_datum(&r);
            let (back, used) = d.decode(&buf).unwrap();
            assert_eq!(used, buf.len(), "{:?}", r.kind());
            assert_eq!(back, r);
        }
        assert_eq!(pods, 1);
    }
}
