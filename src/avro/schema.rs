//! The SysFlow v5 Avro schema, rendered from a description of its records.
//!
//! Files must embed the schema string exactly as the reference writes it (compact JSON in
//! avro-cpp's key order) so the official readers accept them. The string is produced here
//! from the record descriptions below; a test compares it byte for byte with the reference.

use std::fmt::Write;
use std::sync::OnceLock;

/// An Avro type in the SysFlow schema.
enum Ty {
    Long,
    Int,
    Str,
    Bool,
    Null,
    /// A reference to a named type defined earlier (full name).
    Ref(&'static str),
    Enum(&'static str, &'static str, &'static [&'static str]),
    Fixed(&'static str, &'static str, u32),
    Record(&'static str, &'static str, Vec<Field>),
    Array(Box<Ty>),
    Map(Box<Ty>),
    Union(Vec<Ty>),
}

struct Field {
    name: &'static str,
    ty: Ty,
    default: Option<&'static str>,
}

fn f(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        default: None,
    }
}

fn fd(name: &'static str, ty: Ty, default: &'static str) -> Field {
    Field {
        name,
        ty,
        default: Some(default),
    }
}

const ENTITY: &str = "sysflow.entity";
const EVENT: &str = "sysflow.event";
const FLOW: &str = "sysflow.flow";
const TYPE: &str = "sysflow.type";
const OID: &str = "sysflow.type.OID";
const FOID: &str = "sysflow.type.FOID";

fn opt(t: Ty) -> Ty {
    Ty::Union(vec![Ty::Null, t])
}

fn sysflow_schema() -> Ty {
    use Ty::*;
    let header = Record(
        ENTITY,
        "SFHeader",
        vec![
            fd("version", Long, "5"),
            f("exporter", Str),
            fd("ip", Str, "\"NA\""),
            f("filename", Str),
        ],
    );
    let container = Record(
        ENTITY,
        "Container",
        vec![
            f("id", Str),
            f("name", Str),
            f("image", Str),
            f("imageid", Str),
            f(
                "type",
                Enum(
                    TYPE,
                    "ContainerType",
                    &[
                        "CT_DOCKER",
                        "CT_LXC",
                        "CT_LIBVIRT_LXC",
                        "CT_MESOS",
                        "CT_RKT",
                        "CT_CUSTOM",
                        "CT_CRI",
                        "CT_CONTAINERD",
                        "CT_CRIO",
                        "CT_BPM",
                    ],
                ),
            ),
            f("privileged", Bool),
            f("podId", opt(Str)),
        ],
    );
    let process = Record(
        ENTITY,
        "Process",
        vec![
            f(
                "state",
                Enum(TYPE, "SFObjectState", &["CREATED", "MODIFIED", "REUP"]),
            ),
            f(
                "oid",
                Record(TYPE, "OID", vec![f("createTS", Long), f("hpid", Long)]),
            ),
            f("poid", opt(Ref(OID))),
            f("ts", Long),
            f("exe", Str),
            f("exeArgs", Str),
            f("uid", Int),
            f("userName", Str),
            f("gid", Int),
            f("groupName", Str),
            f("tty", Bool),
            f("containerId", opt(Str)),
            fd("entry", Bool, "false"),
            f("cwd", Str),
            f("env", Array(Box::new(Str))),
        ],
    );
    let file = Record(
        ENTITY,
        "File",
        vec![
            f("state", Ref("sysflow.type.SFObjectState")),
            f("oid", Fixed(TYPE, "FOID", 20)),
            f("ts", Long),
            f("restype", Int),
            f("path", Str),
            f("containerId", opt(Str)),
        ],
    );
    let head = || {
        vec![
            f("procOID", Ref(OID)),
            f("ts", Long),
            f("tid", Long),
            f("opFlags", Int),
        ]
    };
    let mut pe = head();
    pe.extend([f("args", Array(Box::new(Str))), f("ret", Int)]);
    let counters = || {
        vec![
            f("numRRecvOps", Long),
            f("numWSendOps", Long),
            f("numRRecvBytes", Long),
            f("numWSendBytes", Long),
        ]
    };
    let mut nf = head();
    nf.extend([
        f("endTs", Long),
        f("sip", Int),
        f("sport", Int),
        f("dip", Int),
        f("dport", Int),
        f("proto", Int),
        f("fd", Int),
    ]);
    nf.extend(counters());
    let mut ff = head();
    ff.extend([
        f("openFlags", Int),
        f("endTs", Long),
        f("fileOID", Ref(FOID)),
        f("fd", Int),
    ]);
    ff.extend(counters());
    let mut fe = head();
    fe.extend([
        f("fileOID", Ref(FOID)),
        f("ret", Int),
        f("newFileOID", opt(Ref(FOID))),
    ]);
    let mut ne = head();
    ne.extend([
        f("sip", Int),
        f("sport", Int),
        f("dip", Int),
        f("dport", Int),
        f("proto", Int),
        f("ret", Int),
    ]);
    let pf = vec![
        f("procOID", Ref(OID)),
        f("ts", Long),
        f("numThreadsCloned", Long),
        f("opFlags", Int),
        f("endTs", Long),
        f("numThreadsExited", Long),
        f("numCloneErrors", Long),
    ];
    let port = Record(
        ENTITY,
        "Port",
        vec![
            f("port", Int),
            f("targetPort", Int),
            f("nodePort", Int),
            f("proto", Str),
        ],
    );
    let service = Record(
        ENTITY,
        "Service",
        vec![
            f("name", Str),
            f("id", Str),
            f("namespace", Str),
            f("portList", Array(Box::new(port))),
            f("clusterIP", Array(Box::new(Long))),
        ],
    );
    let pod = Record(
        ENTITY,
        "Pod",
        vec![
            f("ts", Long),
            f("id", Str),
            f("name", Str),
            f("nodeName", Str),
            f("hostIP", Array(Box::new(Long))),
            f("internalIP", Array(Box::new(Long))),
            f("namespace", Str),
            f("restartCount", Long),
            f("labels", Map(Box::new(Str))),
            f("selectors", Map(Box::new(Str))),
            f("services", Array(Box::new(service))),
        ],
    );
    let k8s = Record(
        EVENT,
        "K8sEvent",
        vec![
            f(
                "kind",
                Enum(
                    TYPE,
                    "K8sComponent",
                    &[
                        "K8S_NODES",
                        "K8S_NAMESPACES",
                        "K8S_PODS",
                        "K8S_REPLICATIONCONTROLLERS",
                        "K8S_SERVICES",
                        "K8S_EVENTS",
                        "K8S_REPLICASETS",
                        "K8S_DAEMONSETS",
                        "K8S_DEPLOYMENTS",
                        "K8S_UNKNOWN",
                    ],
                ),
            ),
            f(
                "action",
                Enum(
                    TYPE,
                    "K8sAction",
                    &[
                        "K8S_COMPONENT_ADDED",
                        "K8S_COMPONENT_MODIFIED",
                        "K8S_COMPONENT_DELETED",
                        "K8S_COMPONENT_ERROR",
                        "K8S_COMPONENT_NONEXISTENT",
                        "K8S_COMPONENT_UNKNOWN",
                    ],
                ),
            ),
            f("ts", Long),
            f("message", Str),
        ],
    );
    Record(
        "sysflow",
        "SysFlow",
        vec![f(
            "rec",
            Union(vec![
                header,
                container,
                process,
                file,
                Record(EVENT, "ProcessEvent", pe),
                Record(FLOW, "NetworkFlow", nf),
                Record(FLOW, "FileFlow", ff),
                Record(EVENT, "FileEvent", fe),
                Record(EVENT, "NetworkEvent", ne),
                Record(FLOW, "ProcessFlow", pf),
                pod,
                k8s,
            ]),
        )],
    )
}

fn render(t: &Ty, out: &mut String) {
    match t {
        Ty::Long => out.push_str("\"long\""),
        Ty::Int => out.push_str("\"int\""),
        Ty::Str => out.push_str("\"string\""),
        Ty::Bool => out.push_str("\"boolean\""),
        Ty::Null => out.push_str("\"null\""),
        Ty::Ref(name) => {
            let _ = write!(out, "\"{name}\"");
        }
        Ty::Enum(ns, name, symbols) => {
            let _ = write!(
                out,
                "{{\"type\":\"enum\",\"namespace\":\"{ns}\",\"name\":\"{name}\",\"symbols\":["
            );
            for (i, s) in symbols.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "\"{s}\"");
            }
            out.push_str("]}");
        }
        Ty::Fixed(ns, name, size) => {
            let _ = write!(
                out,
                "{{\"type\":\"fixed\",\"namespace\":\"{ns}\",\"name\":\"{name}\",\"size\":{size}}}"
            );
        }
        Ty::Record(ns, name, fields) => {
            let _ = write!(
                out,
                "{{\"type\":\"record\",\"namespace\":\"{ns}\",\"name\":\"{name}\",\"fields\":["
            );
            for (i, fl) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{{\"name\":\"{}\",\"type\":", fl.name);
                render(&fl.ty, out);
                if let Some(d) = fl.default {
                    let _ = write!(out, ",\"default\":{d}");
                }
                out.push('}');
            }
            out.push_str("]}");
        }
        Ty::Array(items) => {
            out.push_str("{\"type\":\"array\",\"items\":");
            render(items, out);
            out.push('}');
        }
        Ty::Map(values) => {
            out.push_str("{\"type\":\"map\",\"values\":");
            render(values, out);
            out.push('}');
        }
        Ty::Union(branches) => {
            out.push('[');
            for (i, b) in branches.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render(b, out);
            }
            out.push(']');
        }
    }
}

/// The exact SysFlow v5 schema string embedded (as `avro.schema`) in the files we write.
pub fn schema_v5() -> &'static str {
    static SCHEMA: OnceLock<String> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut s = String::with_capacity(6200);
        render(&sysflow_schema(), &mut s);
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_byte_identical_to_the_reference() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/reference/sysflow-v5-schema.json"
        );
        let Ok(reference) = std::fs::read_to_string(path) else {
            eprintln!("SKIP: reference schema not found at {path}");
            return;
        };
        assert_eq!(schema_v5(), reference.trim_end_matches('\n'));
    }

    #[test]
    fn schema_parses_with_apache_avro() {
        apache_avro::Schema::parse_str(schema_v5()).expect("valid Avro schema");
    }
}
