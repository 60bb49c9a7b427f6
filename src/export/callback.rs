//! The callback sink: hands events and flows to a closure.

use super::{RecordCallback, RecordSink, RecordView};
use crate::error::Result;
use crate::model::{RecordKind, SfHeader};

/// Calls a closure for every event and flow record, K8sEvent records included (not for
/// entity records, which reach the closure linked to the events and flows that refer to
/// them — the reference library's contract; a K8sEvent refers to none). Unlike the
/// reference, the header passed along is filled in, and K8sEvents are delivered.
pub struct CallbackSink {
    callback: RecordCallback,
}

impl CallbackSink {
    /// Wraps a callback.
    pub fn new(callback: RecordCallback) -> Self {
        Self { callback }
    }
}

impl RecordSink for CallbackSink {
    fn start(&mut self, _header: &SfHeader) -> Result<()> {
        Ok(())
    }

    fn write(&mut self, view: &RecordView<'_>) -> Result<()> {
        if view.record.kind().is_event_or_flow() || view.record.kind() == RecordKind::K8sEvent {
            (self.callback)(view);
        }
        Ok(())
    }
}
