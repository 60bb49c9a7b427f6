//! Plain SysFlow record types (schema v5): entities, events, flows, identifiers and flags.
//!
//! Field names are the schema's, in snake case (`exeArgs` is `exe_args`); each field's doc
//! names the schema field. Types follow the schema: `long` is `i64`, `int` is `i32`,
//! `union {null, T}` is `Option<T>`, `fixed FOID(20)` is [`Foid`].

mod entity;
mod enums;
mod event;
mod flags;
mod flow;
mod ids;
mod name;
mod record;

pub use entity::{Container, File, Pod, Port, Process, SCHEMA_VERSION, Service, SfHeader};
pub use enums::{ContainerType, K8sAction, K8sComponent, ObjectState, ResourceType};
pub use event::{FileEvent, K8sEvent, NetworkEvent, ProcessEvent};
pub use flags::{OpFlags, OpenFlags};
pub use flow::{FileFlow, NetworkFlow, ProcessFlow, avro_to_ipv4, ipv4_to_avro};
pub use ids::{Foid, Oid};
pub use name::{escape_name, unescape_name};
pub use record::{Record, RecordKind};
