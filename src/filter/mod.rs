//! The Falco filter language (`falcoFilter`), as libsinsp 0.18.1 implements it: parsed
//! and compiled once, evaluated on every event before aggregation.

mod fields;
mod names;

pub use fields::{ArgSel, EventFields, Field, FieldType, Value};
