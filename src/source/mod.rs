//! Where syscall events come from: a scap capture file or the live CO-RE probe.

mod convert;
pub mod scap;
pub mod scap_events;
pub use convert::ConvertStats;
pub(crate) use convert::{convert_scap, open_scap};
pub mod live;
mod live_run;
pub(crate) use live_run::run_live;
