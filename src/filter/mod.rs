//! The Falco filter language (`falcoFilter`), as libsinsp 0.18.1 implements it: parsed
//! and compiled once, evaluated on every event before aggregation.
//!
//! [`Filter::compile`] parses a filter string (grammar, keywords, escapes, positions and
//! error messages as libsinsp's parser), resolves its fields against libsinsp's field
//! table, checks operators against field types and parses right-hand values by the left
//! field's type. [`Filter::matches`] evaluates it on one event through [`EventFields`]:
//! a value the event does not have makes its check false, whatever the operator.
//!
//! ```
//! use sysflow::filter::Filter;
//!
//! let f = Filter::compile("evt.type=execve and proc.name in (bash, sh)").unwrap();
//! assert!(f.event_codes().is_some());
//! let e = Filter::compile("proc.name ~ bash").unwrap_err();
//! assert_eq!(e.index, 10);
//! ```

mod compile;
pub(crate) mod eval;
mod fields;
mod fnmatch;
mod names;
mod param_types;
mod parse;
mod pmatch;
pub(crate) mod state_fields;
mod table;
#[cfg(test)]
mod tests;

use std::fmt;

pub use fields::{ArgSel, EventFields, Field, FieldType, Value};

/// A compiled filter.
///
/// Compile once with [`Filter::compile`], then call [`Filter::matches`] on each event. A
/// filter keeps scratch buffers for evaluation, so `matches` takes `&mut self`; it is
/// `Send`, and each thread needs its own filter.
pub struct Filter {
    source: String,
    root: compile::Node,
    warnings: Vec<String>,
    event_codes: Option<Vec<u16>>,
    scratch: eval::Scratch,
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("source", &self.source)
            .field("warnings", &self.warnings)
            .field("event_codes", &self.event_codes)
            .finish_non_exhaustive()
    }
}

impl Filter {
    /// Parses and compiles a filter string.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] of kind [`FilterErrorKind::Parse`] when the string does not
    /// follow the grammar, or [`FilterErrorKind::Compile`] when it names an unknown field,
    /// uses an operator the field's type does not support, or gives a value the field's
    /// type cannot hold; both with the position of the problem.
    pub fn compile(src: &str) -> Result<Filter, FilterError> {
        let expr = parse::parse(src)
            .map_err(|e| FilterError::new(FilterErrorKind::Parse, e.message, e.pos))?;
        let c = compile::compile(&expr)
            .map_err(|e| FilterError::new(FilterErrorKind::Compile, e.message, e.pos))?;
        Ok(Filter {
            source: src.to_string(),
            root: c.root,
            warnings: c.warnings,
            event_codes: c.event_codes,
            scratch: eval::Scratch::default(),
        })
    }

    /// Evaluates the filter on one event. Reuses internal buffers: no allocation once
    /// they have grown to the event's value sizes.
    pub fn matches(&mut self, ev: &dyn EventFields) -> bool {
        eval::eval(&self.root, ev, &mut self.scratch)
    }

    /// Warnings found while compiling: a value that names a field (`proc.name =
    /// proc.pname` compares with the text; `val(proc.pname)` reads the field), a value
    /// that looks like a transformer or a Falco list name, a regex a simpler operator
    /// could replace.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The filter string as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The event numbers (indexes of the scap event table, as [`event_name`] takes) that
    /// the filter can match, sorted; `None` when any event may match.
    ///
    /// Derived from `evt.type` checks with `=`, `in` or `intersects` joined by `and`/`or`;
    /// conservative: an event outside the list never matches.
    pub fn event_codes(&self) -> Option<Vec<u16>> {
        self.event_codes.clone()
    }
}

/// Which stage rejected a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterErrorKind {
    /// The string does not follow the grammar.
    Parse,
    /// The string parses, but a field, operator or value is invalid.
    Compile,
}

/// Why a filter string was rejected, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    /// Parse or compile error.
    pub kind: FilterErrorKind,
    /// libsinsp's message (`expected a ')' token`, `filter_check called with nonexistent
    /// field proc.nmae`).
    pub message: String,
    /// 0-based byte index: where the parser stopped, or the offending field or value.
    pub index: usize,
    /// 1-based line (`\n` and `\r` start a new line).
    pub line: usize,
    /// 1-based column, in bytes.
    pub column: usize,
}

impl FilterError {
    fn new(kind: FilterErrorKind, message: String, pos: parse::Pos) -> FilterError {
        FilterError {
            kind,
            message,
            index: pos.idx,
            line: pos.line,
            column: pos.col,
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "filter error at index {}, line {}, column {}: {}",
            self.index, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for FilterError {}

/// The name of scap event number `code` (`execve`, `procexit`), as `evt.type` gives it;
/// `None` for unused numbers.
pub fn event_name(code: u16) -> Option<&'static str> {
    names::EVENTS
        .get(usize::from(code))
        .map(|(name, _)| *name)
        .filter(|name| *name != "NA")
}

/// The parameter names of scap event number `code`, in order (`evt.arg[N]` is the `N`th);
/// empty for unknown numbers.
pub fn event_param_names(code: u16) -> &'static [&'static str] {
    names::EVENTS
        .get(usize::from(code))
        .map_or(&[], |(_, params)| params)
}
