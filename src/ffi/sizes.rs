//! [`sysflow_struct_size`]: the size of each struct as this library knows it, so a program
//! built against a newer header can tell which fields the library it runs with fills.
//!
//! The ABI rule (tested against the released 0.2 header by `tests/c_abi.rs`): structs
//! only grow at their end; a field never moves or changes type. A program built against an
//! older header reads a prefix of the views and passes a prefix of its config (with its
//! own `struct_size`). A program built against a newer header reads a field added after
//! the library it runs with only when `sysflow_struct_size` covers it:
//!
//! ```c
//! if (sysflow_struct_size(SYSFLOW_STRUCT_PROCESS) >=
//!         offsetof(sysflow_process, new_field) + sizeof proc->new_field)
//!     use(proc->new_field);
//! ```

use super::config::sysflow_config;
use super::stats::sysflow_stats;
use super::view::*;
use std::mem::size_of;

/// `sysflow_header`.
pub const SYSFLOW_STRUCT_HEADER: i32 = 1;
/// `sysflow_container`.
pub const SYSFLOW_STRUCT_CONTAINER: i32 = 2;
/// `sysflow_pod`.
pub const SYSFLOW_STRUCT_POD: i32 = 3;
/// `sysflow_process`.
pub const SYSFLOW_STRUCT_PROCESS: i32 = 4;
/// `sysflow_file`.
pub const SYSFLOW_STRUCT_FILE: i32 = 5;
/// `sysflow_process_event`.
pub const SYSFLOW_STRUCT_PROCESS_EVENT: i32 = 6;
/// `sysflow_file_event`.
pub const SYSFLOW_STRUCT_FILE_EVENT: i32 = 7;
/// `sysflow_network_event`.
pub const SYSFLOW_STRUCT_NETWORK_EVENT: i32 = 8;
/// `sysflow_file_flow`.
pub const SYSFLOW_STRUCT_FILE_FLOW: i32 = 9;
/// `sysflow_network_flow`.
pub const SYSFLOW_STRUCT_NETWORK_FLOW: i32 = 10;
/// `sysflow_process_flow`.
pub const SYSFLOW_STRUCT_PROCESS_FLOW: i32 = 11;
/// `sysflow_record`.
pub const SYSFLOW_STRUCT_RECORD: i32 = 12;
/// `sysflow_config`.
pub const SYSFLOW_STRUCT_CONFIG: i32 = 13;
/// `sysflow_stats`.
pub const SYSFLOW_STRUCT_STATS: i32 = 14;
/// `sysflow_k8s_event` (added in 0.4).
pub const SYSFLOW_STRUCT_K8S_EVENT: i32 = 15;

/// `sizeof` of one of the library's structs (`SYSFLOW_STRUCT_*`) as this library lays it
/// out, or 0 for a number it does not know (a struct newer than the library). See the
/// module's ABI rule: a field lies within the library's struct when its offset plus its
/// size is at most this.
#[unsafe(no_mangle)]
pub extern "C" fn sysflow_struct_size(which: i32) -> usize {
    match which {
        SYSFLOW_STRUCT_HEADER => size_of::<sysflow_header>(),
        SYSFLOW_STRUCT_CONTAINER => size_of::<sysflow_container>(),
        SYSFLOW_STRUCT_POD => size_of::<sysflow_pod>(),
        SYSFLOW_STRUCT_PROCESS => size_of::<sysflow_process>(),
        SYSFLOW_STRUCT_FILE => size_of::<sysflow_file>(),
        SYSFLOW_STRUCT_PROCESS_EVENT => size_of::<sysflow_process_event>(),
        SYSFLOW_STRUCT_FILE_EVENT => size_of::<sysflow_file_event>(),
        SYSFLOW_STRUCT_NETWORK_EVENT => size_of::<sysflow_network_event>(),
        SYSFLOW_STRUCT_FILE_FLOW => size_of::<sysflow_file_flow>(),
        SYSFLOW_STRUCT_NETWORK_FLOW => size_of::<sysflow_network_flow>(),
        SYSFLOW_STRUCT_PROCESS_FLOW => size_of::<sysflow_process_flow>(),
        SYSFLOW_STRUCT_RECORD => size_of::<sysflow_record>(),
        SYSFLOW_STRUCT_CONFIG => size_of::<sysflow_config>(),
        SYSFLOW_STRUCT_STATS => size_of::<sysflow_stats>(),
        SYSFLOW_STRUCT_K8S_EVENT => size_of::<sysflow_k8s_event>(),
        _ => 0,
    }
}
