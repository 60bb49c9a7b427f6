//! The `SysFlow` union: one record of any kind.

use super::entity::{Container, File, Pod, Process, SfHeader};
use super::event::{FileEvent, K8sEvent, NetworkEvent, ProcessEvent};
use super::flow::{FileFlow, NetworkFlow, ProcessFlow};
use super::ids::{Foid, Oid};

/// One SysFlow record (the schema's `SysFlow.rec` union), in union branch order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// Branch 0: file or stream header.
    Header(SfHeader),
    /// Branch 1: container entity.
    Container(Container),
    /// Branch 2: process entity.
    Process(Process),
    /// Branch 3: file entity.
    File(File),
    /// Branch 4: process event.
    ProcessEvent(ProcessEvent),
    /// Branch 5: network flow.
    NetworkFlow(NetworkFlow),
    /// Branch 6: file flow.
    FileFlow(FileFlow),
    /// Branch 7: file event.
    FileEvent(FileEvent),
    /// Branch 8: network event.
    NetworkEvent(NetworkEvent),
    /// Branch 9: process flow.
    ProcessFlow(ProcessFlow),
    /// Branch 10: pod entity.
    Pod(Pod),
    /// Branch 11: Kubernetes event.
    K8sEvent(K8sEvent),
}

/// The kind of a [`Record`], without its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// [`Record::Header`].
    Header = 0,
    /// [`Record::Container`].
    Container = 1,
    /// [`Record::Process`].
    Process = 2,
    /// [`Record::File`].
    File = 3,
    /// [`Record::ProcessEvent`].
    ProcessEvent = 4,
    /// [`Record::NetworkFlow`].
    NetworkFlow = 5,
    /// [`Record::FileFlow`].
    FileFlow = 6,
    /// [`Record::FileEvent`].
    FileEvent = 7,
    /// [`Record::NetworkEvent`].
    NetworkEvent = 8,
    /// [`Record::ProcessFlow`].
    ProcessFlow = 9,
    /// [`Record::Pod`].
    Pod = 10,
    /// [`Record::K8sEvent`].
    K8sEvent = 11,
}

impl RecordKind {
    /// All kinds in union branch order.
    pub const ALL: [RecordKind; 12] = [
        RecordKind::Header,
        RecordKind::Container,
        RecordKind::Process,
        RecordKind::File,
        RecordKind::ProcessEvent,
        RecordKind::NetworkFlow,
        RecordKind::FileFlow,
        RecordKind::FileEvent,
        RecordKind::NetworkEvent,
        RecordKind::ProcessFlow,
        RecordKind::Pod,
        RecordKind::K8sEvent,
    ];

    /// The union branch index.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The schema's record name (`SFHeader`, `Container`, …).
    pub const fn schema_name(self) -> &'static str {
        match self {
            RecordKind::Header => "SFHeader",
            RecordKind::Container => "Container",
            RecordKind::Process => "Process",
            RecordKind::File => "File",
            RecordKind::ProcessEvent => "ProcessEvent",
            RecordKind::NetworkFlow => "NetworkFlow",
            RecordKind::FileFlow => "FileFlow",
            RecordKind::FileEvent => "FileEvent",
            RecordKind::NetworkEvent => "NetworkEvent",
            RecordKind::ProcessFlow => "ProcessFlow",
            RecordKind::Pod => "Pod",
            RecordKind::K8sEvent => "K8sEvent",
        }
    }

    /// The schema's full record name (`sysflow.entity.SFHeader`, `sysflow.flow.FileFlow`, …):
    /// what a reader matches a writer's union member against.
    pub const fn full_name(self) -> &'static str {
        match self {
            RecordKind::Header => "sysflow.entity.SFHeader",
            RecordKind::Container => "sysflow.entity.Container",
            RecordKind::Process => "sysflow.entity.Process",
            RecordKind::File => "sysflow.entity.File",
            RecordKind::ProcessEvent => "sysflow.event.ProcessEvent",
            RecordKind::NetworkFlow => "sysflow.flow.NetworkFlow",
            RecordKind::FileFlow => "sysflow.flow.FileFlow",
            RecordKind::FileEvent => "sysflow.event.FileEvent",
            RecordKind::NetworkEvent => "sysflow.event.NetworkEvent",
            RecordKind::ProcessFlow => "sysflow.flow.ProcessFlow",
            RecordKind::Pod => "sysflow.entity.Pod",
            RecordKind::K8sEvent => "sysflow.event.K8sEvent",
        }
    }

    /// Whether records of this kind are events or flows (what a callback receives).
    pub const fn is_event_or_flow(self) -> bool {
        matches!(
            self,
            RecordKind::ProcessEvent
                | RecordKind::NetworkFlow
                | RecordKind::FileFlow
                | RecordKind::FileEvent
                | RecordKind::NetworkEvent
                | RecordKind::ProcessFlow
        )
    }
}

impl Record {
    /// The record's kind.
    pub const fn kind(&self) -> RecordKind {
        match self {
            Record::Header(_) => RecordKind::Header,
            Record::Container(_) => RecordKind::Container,
            Record::Process(_) => RecordKind::Process,
            Record::File(_) => RecordKind::File,
            Record::ProcessEvent(_) => RecordKind::ProcessEvent,
            Record::NetworkFlow(_) => RecordKind::NetworkFlow,
            Record::FileFlow(_) => RecordKind::FileFlow,
            Record::FileEvent(_) => RecordKind::FileEvent,
            Record::NetworkEvent(_) => RecordKind::NetworkEvent,
            Record::ProcessFlow(_) => RecordKind::ProcessFlow,
            Record::Pod(_) => RecordKind::Pod,
            Record::K8sEvent(_) => RecordKind::K8sEvent,
        }
    }

    /// The OID of the process an event or flow belongs to.
    pub fn proc_oid(&self) -> Option<Oid> {
        match self {
            Record::ProcessEvent(r) => Some(r.proc_oid),
            Record::NetworkFlow(r) => Some(r.proc_oid),
            Record::FileFlow(r) => Some(r.proc_oid),
            Record::FileEvent(r) => Some(r.proc_oid),
            Record::NetworkEvent(r) => Some(r.proc_oid),
            Record::ProcessFlow(r) => Some(r.proc_oid),
            _ => None,
        }
    }

    /// The file(s) an event or flow refers to: `(file, new_file)`.
    pub fn file_oids(&self) -> (Option<Foid>, Option<Foid>) {
        match self {
            Record::FileFlow(r) => (Some(r.file_oid), None),
            Record::FileEvent(r) => (Some(r.file_oid), r.new_file_oid),
            _ => (None, None),
        }
    }

    /// The record's start timestamp (ns), if it has one.
    pub fn ts(&self) -> Option<i64> {
        Some(match self {
            Record::Header(_) => return None,
            Record::Container(_) => return None,
            Record::Process(r) => r.ts,
            Record::File(r) => r.ts,
            Record::ProcessEvent(r) => r.ts,
            Record::NetworkFlow(r) => r.ts,
            Record::FileFlow(r) => r.ts,
            Record::FileEvent(r) => r.ts,
            Record::NetworkEvent(r) => r.ts,
            Record::ProcessFlow(r) => r.ts,
            Record::Pod(r) => r.ts,
            Record::K8sEvent(r) => r.ts,
        })
    }
}
