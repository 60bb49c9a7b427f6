//! The lexer and recursive-descent parser of the filter language, following libsinsp
//! 0.18.1's `filter/parser.cpp`: the same token rules, the same order of alternatives, the
//! same error messages, and the position the parser stands at when it gives up.

/// A position in the filter string: 0-based byte index, 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    pub idx: usize,
    pub line: usize,
    pub col: usize,
}

impl Pos {
    const START: Pos = Pos {
        idx: 0,
        line: 1,
        col: 1,
    };
}

/// A parse error: the message and where the parser stood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub message: String,
    pub pos: Pos,
}

/// The deepest nesting of parentheses, `not(` groups and transformers accepted.
///
/// libsinsp 0.18.1 declares a limit of 100 but its guard is a temporary that never fires
/// (fixed upstream later); we keep the limit, counted in nesting levels, so that deep input
/// cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 100;

/// A transformer around a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transformer {
    /// `val(field)`: the field's value, only on the right-hand side.
    Val,
    ToLower,
    ToUpper,
    B64,
    Basename,
}

impl Transformer {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Transformer::Val => "val",
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
        }
    }
}

/// A field, possibly inside transformers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    Field {
        name: String,
        arg: Option<String>,
        pos: Pos,
    },
    Transform {
        tr: Transformer,
        inner: Box<Operand>,
        pos: Pos,
    },
}

impl Operand {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            Operand::Field { pos, .. } | Operand::Transform { pos, .. } => *pos,
        }
    }
}

/// A constant on the right-hand side, with how it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub text: String,
    pub quoted: bool,
}

/// The right-hand side of a binary check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rhs {
    /// A single constant.
    Value { item: Item, pos: Pos },
    /// `( a, b, … )`.
    List { items: Vec<Item>, pos: Pos },
    /// An identifier after a list operator (`in listname`): a literal value.
    ListName { name: String, pos: Pos },
    /// A field (`val(f)`) or a transformed field.
    Operand(Operand),
}

/// A check operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Exists,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    Pmatch,
}

impl Op {
    /// The operator's name as libsinsp prints it (`cmpop_to_str`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Exists => "exists",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
        }
    }

    /// The upper-case name libsinsp uses in some messages (`std::to_string(cmpop)`).
    pub(crate) fn upper(self) -> String {
        match self {
            Op::Eq => "EQ".into(),
            Op::Ne => "NE".into(),
            Op::Lt => "LT".into(),
            Op::Le => "LE".into(),
            Op::Gt => "GT".into(),
            Op::Ge => "GE".into(),
            o => o.as_str().to_ascii_uppercase(),
        }
    }
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Ident { name: String, pos: Pos },
    Unary { left: Operand },
    Binary { left: Operand, op: Op, right: Rhs },
}

const UNARY_OPS: &[(&str, Op)] = &[("exists", Op::Exists)];
const NUM_OPS: &[(&str, Op)] = &[("<=", Op::Le), ("<", Op::Lt), (">=", Op::Ge), (">", Op::Gt)];
const STR_OPS: &[(&str, Op)] = &[
    ("==", Op::Eq),
    ("=", Op::Eq),
    ("!=", Op::Ne),
    ("glob ", Op::Glob),
    ("iglob ", Op::IGlob),
    ("contains ", Op::Contains),
    ("icontains ", Op::IContains),
    ("bcontains ", Op::BContains),
    ("startswith ", Op::StartsWith),
    ("bstartswith ", Op::BStartsWith),
    ("endswith ", Op::EndsWith),
    ("regex ", Op::Regex),
];
const LIST_OPS: &[(&str, Op)] = &[
    ("intersects", Op::Intersects),
    ("in", Op::In),
    ("pmatch", Op::Pmatch),
];
const TRANSFORMERS: &[(&str, Transformer)] = &[
    ("tolower(", Transformer::ToLower),
    ("toupper(", Transformer::ToUpper),
    ("b64(", Transformer::B64),
    ("basename(", Transformer::Basename),
];

/// `'val', 'tolower', 'toupper', 'b64', 'basename'`.
const TRANSFORMER_LIST: &str = "'val', 'tolower', 'toupper', 'b64', 'basename'";

fn operator_list() -> String {
    let mut s = String::new();
    for (op, _) in UNARY_OPS
        .iter()
        .chain(NUM_OPS)
        .chain(STR_OPS)
        .chain(LIST_OPS)
    {
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push('\'');
        s.push_str(op.trim());
        s.push('\'');
    }
    s
}

/// Whether `c` is in the POSIX `[[:space:]]` class.
fn is_posix_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Parses a filter string.
pub(crate) fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        s: input.as_bytes(),
        pos: Pos::START,
        last: String::new(),
        depth: 0,
    };
    if input.is_empty() {
        return Err(p.err("filter input string is empty"));
    }
    let e = p.parse_or()?;
    if p.pos.idx != p.s.len() {
        let msg = format!("unexpected token after '{}', expecting 'or', 'and'", p.last);
        return Err(p.err(&msg));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: Pos,
    /// The last token lexed (libsinsp's `m_last_token`), for the trailing-input message.
    last: String,
    depth: usize,
}

type PResult<T> = Result<T, ParseError>;

impl Parser<'_> {
    fn err(&self, msg: &str) -> ParseError {
        ParseError {
            message: msg.to_string(),
            pos: self.pos,
        }
    }

    /// The byte at `idx`, or 0 past the end (like the C string's terminator).
    fn at(&self, idx: usize) -> u8 {
        self.s.get(idx).copied().unwrap_or(0)
    }

    fn cur(&self) -> u8 {
        self.at(self.pos.idx)
    }

    fn advance(&mut self, n: usize) {
        for _ in 0..n {
            let c = self.cur();
            self.pos.col += 1;
            if c == b'\r' || c == b'\n' {
                self.pos.col = 1;
                self.pos.line += 1;
            }
            self.pos.idx += 1;
        }
    }

    /// Consumes `n` bytes as the last token.
    fn take(&mut self, n: usize) {
        let start = self.pos.idx;
        self.last = String::from_utf8_lossy(&self.s[start..start + n]).into_owned();
        self.advance(n);
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(&format!("exceeded max depth limit of {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn lex_blank(&mut self) -> bool {
        let mut found = false;
        while matches!(self.cur(), b' ' | b'\t' | 0x08 | b'\r' | b'\n') {
            found = true;
            self.advance(1);
        }
        found
    }

    fn lex_str(&mut self, tok: &str) -> bool {
        let rest = &self.s[self.pos.idx..];
        // strncmp stops at a NUL byte in the input.
        if rest.starts_with(tok.as_bytes()) && !tok.as_bytes().contains(&0) {
            self.take(tok.len());
            true
        } else {
            false
        }
    }

    fn lex_str_list<T: Copy>(&mut self, list: &[(&str, T)]) -> Option<T> {
        for (tok, v) in list {
            if self.lex_str(tok) {
                return Some(*v);
            }
        }
        None
    }

    /// Length of `[a-zA-Z]+[a-zA-Z0-9_]*` at `idx` (0 if none).
    fn word_len(&self, idx: usize) -> usize {
        if !is_alpha(self.at(idx)) {
            return 0;
        }
        let mut n = 1;
        while is_word(self.at(idx + n)) {
            n += 1;
        }
        n
    }

    fn lex_identifier(&mut self) -> bool {
        let n = self.word_len(self.pos.idx);
        if n == 0 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_field_name(&mut self) -> bool {
        let start = self.pos.idx;
        let mut n = self.word_len(start);
        if n == 0 {
            return false;
        }
        let mut parts = 0;
        while self.at(start + n) == b'.' {
            let w = self.word_len(start + n + 1);
            if w == 0 {
                break;
            }
            n += 1 + w;
            parts += 1;
        }
        if parts == 0 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_class(&mut self, accept: impl Fn(u8) -> bool) -> bool {
        let start = self.pos.idx;
        let mut n = 0;
        while start + n < self.s.len() && accept(self.s[start + n]) {
            n += 1;
        }
        if n == 0 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_field_arg_bare_str(&mut self) -> bool {
        self.lex_class(|c| !matches!(c, b'[' | b']' | b'"' | b'\'') && !is_posix_space(c))
    }

    fn lex_bare_str(&mut self) -> bool {
        self.lex_class(|c| {
            !matches!(c, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_posix_space(c)
        })
    }

    fn lex_not_blank(&mut self) -> bool {
        let i = self.pos.idx;
        if !self.s[i..].starts_with(b"not") {
            return false;
        }
        let mut n = 3;
        while is_posix_space(self.at(i + n)) {
            n += 1;
        }
        if n == 3 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_hex_num(&mut self) -> bool {
        let i = self.pos.idx;
        if self.at(i) != b'0' || !matches!(self.at(i + 1), b'x' | b'X') {
            return false;
        }
        let mut n = 2;
        while self.at(i + n).is_ascii_alphanumeric() {
            n += 1;
        }
        if n == 2 {
            return false;
        }
        self.take(n);
        true
    }

    /// `[+\-]?[0-9]+[\.]?[0-9]*([eE][+\-][0-9]+)?`, longest match.
    fn lex_num(&mut self) -> bool {
        let i = self.pos.idx;
        let mut n = 0;
        if matches!(self.at(i), b'+' | b'-') {
            n += 1;
        }
        let d0 = n;
        while self.at(i + n).is_ascii_digit() {
            n += 1;
        }
        if n == d0 {
            return false;
        }
        if self.at(i + n) == b'.' {
            n += 1;
        }
        while self.at(i + n).is_ascii_digit() {
            n += 1;
        }
        if matches!(self.at(i + n), b'e' | b'E')
            && matches!(self.at(i + n + 1), b'+' | b'-')
            && self.at(i + n + 2).is_ascii_digit()
        {
            n += 3;
            while self.at(i + n).is_ascii_digit() {
                n += 1;
            }
        }
        self.take(n);
        true
    }

    /// A quoted string; `Ok(None)` when there is none (or it is unterminated).
    fn lex_quoted_str(&mut self) -> PResult<Option<String>> {
        let delim = self.cur();
        if delim != b'\'' && delim != b'"' {
            return Ok(None);
        }
        let start = self.pos;
        let mut prev = b'\\';
        let mut i = start.idx;
        while i < self.s.len() && self.s[i] != 0 {
            let c = self.s[i];
            if c == delim && prev != b'\\' {
                let raw = &self.s[start.idx..=i];
                self.last = String::from_utf8_lossy(raw).into_owned();
                self.advance(i + 1 - start.idx);
                let v = unescape(raw).map_err(|m| self.err(&m))?;
                self.last = v.clone();
                return Ok(Some(v));
            }
            prev = c;
            i += 1;
        }
        // libsinsp keeps the partial text as its last token.
        self.last = String::from_utf8_lossy(&self.s[start.idx..]).into_owned();
        Ok(None)
    }

    fn parse_or(&mut self) -> PResult<Expr> {
        self.lex_blank();
        let mut children = vec![self.parse_and()?];
        self.lex_blank();
        while self.lex_str("or") {
            let child = if !self.lex_blank() {
                if self.lex_str("(") {
                    self.parse_embedded_remainder()?
                } else {
                    return Err(self.err("expected blank or '(' after 'or'"));
                }
            } else {
                self.parse_and()?
            };
            children.push(child);
            self.lex_blank();
        }
        Ok(if children.len() > 1 {
            Expr::Or(children)
        } else {
            children.pop().expect("one child")
        })
    }

    fn parse_and(&mut self) -> PResult<Expr> {
        self.lex_blank();
        let mut children = vec![self.parse_not()?];
        self.lex_blank();
        while self.lex_str("and") {
            let child = if !self.lex_blank() {
                if self.lex_str("(") {
                    self.parse_embedded_remainder()?
                } else {
                    return Err(self.err("expected blank or '(' after 'and'"));
                }
            } else {
                self.parse_not()?
            };
            children.push(child);
            self.lex_blank();
        }
        Ok(if children.len() > 1 {
            Expr::And(children)
        } else {
            children.pop().expect("one child")
        })
    }

    fn parse_not(&mut self) -> PResult<Expr> {
        let mut is_not = false;
        self.lex_blank();
        while self.lex_not_blank() {
            is_not = !is_not;
        }
        let child = if self.lex_str("not(") {
            is_not = !is_not;
            self.parse_embedded_remainder()?
        } else {
            self.parse_check()?
        };
        Ok(if is_not {
            Expr::Not(Box::new(child))
        } else {
            child
        })
    }

    /// The rest of a parenthesised expression, after its `(`.
    fn parse_embedded_remainder(&mut self) -> PResult<Expr> {
        self.enter()?;
        self.lex_blank();
        let child = self.parse_or()?;
        self.lex_blank();
        if !self.lex_str(")") {
            return Err(self.err("expected a ')' token"));
        }
        self.leave();
        Ok(child)
    }

    fn parse_check(&mut self) -> PResult<Expr> {
        let pos = self.pos;
        self.lex_blank();
        if self.lex_str("(") {
            return self.parse_embedded_remainder();
        }
        if self.lex_field_name() {
            let name = self.last.clone();
            let left = self.parse_field_remainder(name, pos)?;
            return self.parse_condition(left);
        }
        if let Some(tr) = self.lex_str_list(TRANSFORMERS) {
            self.lex_blank();
            let left = self.parse_field_or_transformer_remainder(tr, pos)?;
            return self.parse_condition(left);
        }
        if self.lex_identifier() {
            return Ok(Expr::Ident {
                name: self.last.clone(),
                pos,
            });
        }
        Err(self.err("expected a '(' token, a field check, or an identifier"))
    }

    fn parse_field_remainder(&mut self, name: String, pos: Pos) -> PResult<Operand> {
        let mut arg = None;
        if self.lex_str("[") {
            if let Some(q) = self.lex_quoted_str()? {
                arg = Some(q);
            } else if self.lex_field_arg_bare_str() {
                arg = Some(self.last.clone());
            } else {
                return Err(
                    self.err("expected a valid field argument: a quoted string or a bare string")
                );
            }
            if !self.lex_str("]") {
                return Err(self.err("expected a ']' token"));
            }
        }
        Ok(Operand::Field { name, arg, pos })
    }

    fn parse_field_or_transformer_remainder(
        &mut self,
        tr: Transformer,
        pos: Pos,
    ) -> PResult<Operand> {
        self.enter()?;
        self.lex_blank();
        let arg_pos = self.pos;
        let mut child = None;
        if let Some(inner) = self.lex_str_list(TRANSFORMERS) {
            self.lex_blank();
            child = Some(self.parse_field_or_transformer_remainder(inner, arg_pos)?);
        }
        // As in libsinsp, a field name may follow (and replace) a nested transformer.
        if self.lex_field_name() {
            let name = self.last.clone();
            child = Some(self.parse_field_remainder(name, arg_pos)?);
        }
        let Some(child) = child else {
            return Err(self.err(&format!(
                "expected a field or a nested valid transformer: {TRANSFORMER_LIST}"
            )));
        };
        self.lex_blank();
        if !self.lex_str(")") {
            return Err(self.err("expected a ')' token closing the transformer"));
        }
        self.leave();
        Ok(Operand::Transform {
            tr,
            inner: Box::new(child),
            pos,
        })
    }

    fn parse_condition(&mut self, left: Operand) -> PResult<Expr> {
        self.lex_blank();
        if self.lex_str_list(UNARY_OPS).is_some() {
            return Ok(Expr::Unary { left });
        }
        self.lex_blank();
        let (op, right) = if let Some(op) = self.lex_str_list(NUM_OPS) {
            (op, self.parse_num_value_or_transformer()?)
        } else if let Some(op) = self.lex_str_list(STR_OPS) {
            (op, self.parse_str_value_or_transformer()?)
        } else if let Some(op) = self.lex_str_list(LIST_OPS) {
            (op, self.parse_list_value_or_transformer()?)
        } else {
            return Err(self.err(&format!(
                "expected a valid check operator: one of {}",
                operator_list()
            )));
        };
        Ok(Expr::Binary { left, op, right })
    }

    fn parse_num_value_or_transformer(&mut self) -> PResult<Rhs> {
        self.lex_blank();
        let pos = self.pos;
        if let Some(o) = self.try_parse_transformer_or_val()? {
            return Ok(Rhs::Operand(o));
        }
        if self.lex_hex_num() || self.lex_num() {
            return Ok(Rhs::Value {
                item: Item {
                    text: self.last.clone(),
                    quoted: false,
                },
                pos,
            });
        }
        Err(self.err(&format!(
            "expected a number value or a field with a valid transformer: {TRANSFORMER_LIST}"
        )))
    }

    /// A quoted or bare string (the `no_transformer` form of libsinsp's function).
    fn parse_str_value(&mut self) -> PResult<Option<Item>> {
        self.lex_blank();
        if let Some(q) = self.lex_quoted_str()? {
            return Ok(Some(Item {
                text: q,
                quoted: true,
            }));
        }
        if self.lex_bare_str() {
            return Ok(Some(Item {
                text: self.last.clone(),
                quoted: false,
            }));
        }
        Ok(None)
    }

    fn parse_str_value_or_transformer(&mut self) -> PResult<Rhs> {
        self.lex_blank();
        let pos = self.pos;
        if let Some(o) = self.try_parse_transformer_or_val()? {
            return Ok(Rhs::Operand(o));
        }
        match self.parse_str_value()? {
            Some(item) => Ok(Rhs::Value { item, pos }),
            None => Err(self.err(&format!(
                "expected a string value or a field with a valid transformer: {TRANSFORMER_LIST}"
            ))),
        }
    }

    fn parse_list_value_or_transformer(&mut self) -> PResult<Rhs> {
        self.lex_blank();
        let pos = self.pos;
        if self.lex_str("(") {
            let mut items = Vec::new();
            self.lex_blank();
            // libsinsp swallows any error of the first item: the list is then empty.
            if let Ok(Some(first)) = self.parse_str_value() {
                items.push(first);
                self.lex_blank();
                while self.lex_str(",") {
                    match self.parse_str_value()? {
                        Some(item) => items.push(item),
                        None => return Err(self.err("expected a string value")),
                    }
                    self.lex_blank();
                }
            }
            if !self.lex_str(")") {
                return Err(self.err("expected a ')' token"));
            }
            return Ok(Rhs::List { items, pos });
        }
        if let Some(o) = self.try_parse_transformer_or_val()? {
            return Ok(Rhs::Operand(o));
        }
        if self.lex_identifier() {
            return Ok(Rhs::ListName {
                name: self.last.clone(),
                pos,
            });
        }
        Err(self.err(&format!(
            "expected a list, an identifier, or a field with a valid transformer: {TRANSFORMER_LIST}"
        )))
    }

    fn try_parse_transformer_or_val(&mut self) -> PResult<Option<Operand>> {
        self.lex_blank();
        let pos = self.pos;
        if self.lex_str("val(") {
            self.lex_blank();
            let field_pos = self.pos;
            if !self.lex_field_name() {
                return Err(self.err("expected a field within 'val' transformer"));
            }
            let name = self.last.clone();
            let child = self.parse_field_remainder(name, field_pos)?;
            self.lex_blank();
            if !self.lex_str(")") {
                return Err(self.err("expected a ')' token closing the transformer"));
            }
            return Ok(Some(Operand::Transform {
                tr: Transformer::Val,
                inner: Box::new(child),
                pos,
            }));
        }
        if let Some(tr) = self.lex_str_list(TRANSFORMERS) {
            self.lex_blank();
            return self.parse_field_or_transformer_remainder(tr, pos).map(Some);
        }
        Ok(None)
    }
}

/// Removes the quotes of a quoted token and resolves its escapes (libsinsp's
/// `unescape_str` of 0.18.1).
fn unescape(raw: &[u8]) -> Result<String, String> {
    let delim = raw[0];
    let body = &raw[1..raw.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut escaped = false;
    for &c in body {
        if !escaped {
            if c == b'\\' {
                escaped = true;
            } else {
                out.push(c);
            }
            continue;
        }
        match c {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b' ' | b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'"' => {
                if delim != b'"' {
                    return Err("invalid \\\" escape in '-quoted string".into());
                }
                out.push(b'"');
            }
            b'\'' => {
                if delim != b'\'' {
                    return Err("invalid \\' escape in \"-quoted string".into());
                }
                out.push(b'\'');
            }
            _ => {
                return Err(format!(
                    "unsupported string escape sequence: \\{}",
                    escaped_char(body, c)
                ));
            }
        }
        escaped = false;
    }
    // The body came from a &str and escapes add ASCII only.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// The escaped character for the message: the whole UTF-8 sequence when `c` starts one.
fn escaped_char(body: &[u8], c: u8) -> String {
    if c.is_ascii() {
        return (c as char).to_string();
    }
    // Find the character starting at the first occurrence after a backslash.
    for i in 0..body.len().saturating_sub(1) {
        if body[i] == b'\\' && body[i + 1] == c {
            let rest = &body[i + 1..];
            let s = String::from_utf8_lossy(rest);
            if let Some(ch) = s.chars().next() {
                return ch.to_string();
            }
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> ParseError {
        parse(s).expect_err(s)
    }

    fn ok(s: &str) -> Expr {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn precedence_and_structure() {
        let e = ok("evt.name exists and evt.type in (a, b) and not evt.dir=< or proc.name=cat");
        let Expr::Or(ch) = e else { panic!() };
        assert_eq!(ch.len(), 2);
        let Expr::And(a) = &ch[0] else { panic!() };
        assert_eq!(a.len(), 3);
        assert!(matches!(a[2], Expr::Not(_)));
        assert!(matches!(ok("not not a.b=1"), Expr::Binary { .. }));
        assert!(matches!(ok("not(a.b=1)"), Expr::Not(_)));
        assert!(matches!(ok("a and(b)"), Expr::And(_)));
        assert!(matches!(ok("a or(b)"), Expr::Or(_)));
        assert!(matches!(ok("macro and not_macro"), Expr::And(_)));
    }

    #[test]
    fn keywords() {
        assert_eq!(err("a andb").message, "expected blank or '(' after 'and'");
        assert_eq!(err("a orb").message, "expected blank or '(' after 'or'");
        assert!(parse("a notb").is_err());
        assert!(parse("(a)andnot(b)").is_err());
        let e = err("a AND b");
        assert_eq!(
            e.message,
            "unexpected token after 'a', expecting 'or', 'and'"
        );
        assert_eq!(e.pos.idx, 2);
        // `not` followed by any POSIX space.
        assert!(matches!(ok("not\x0ba.b=1"), Expr::Not(_)));
    }

    #[test]
    fn lists() {
        assert_eq!(err("a.b in (x,)").message, "expected a string value");
        assert_eq!(err("a.b in (,)").message, "expected a ')' token");
        assert_eq!(err("a.b in (x,,y)").message, "expected a string value");
        let Expr::Binary { right, .. } = ok("a.b in ()") else {
            panic!()
        };
        assert_eq!(
            right,
            Rhs::List {
                items: vec![],
                pos: Pos {
                    idx: 7,
                    line: 1,
                    col: 8
                }
            }
        );
        let Expr::Binary { right, .. } = ok("a.b in( x , 'y z' ,\"w\")") else {
            panic!()
        };
        let Rhs::List { items, .. } = right else {
            panic!()
        };
        let texts: Vec<_> = items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(texts, ["x", "y z", "w"]);
        assert!(matches!(
            ok("a.b in listname").clone(),
            Expr::Binary {
                right: Rhs::ListName { .. },
                ..
            }
        ));
        assert!(parse("a.b = (x)").is_err());
        assert!(parse("a.b in (tolower(c.d))").is_err());
    }

    #[test]
    fn escapes() {
        let v = |s: &str| match ok(s) {
            Expr::Binary {
                right: Rhs::Value { item, .. },
                ..
            } => item.text,
            e => panic!("{e:?}"),
        };
        assert_eq!(v(r#"a.b = "x\"y""#), "x\"y");
        assert_eq!(v(r#"a.b = 'x"y'"#), "x\"y");
        assert_eq!(v(r"a.b = 'x\'y'"), "x'y");
        assert_eq!(v(r#"a.b = "\\\/\b\f\n\r\t""#), "\\/\u{8}\u{c}\n\r\t");
        assert_eq!(v(r#"a.b = "a\ b""#), "a\\b");
        assert_eq!(
            err(r#"a.b = "\x41""#).message,
            "unsupported string escape sequence: \\x"
        );
        assert_eq!(
            err(r#"a.b = 'x\"y'"#).message,
            "invalid \\\" escape in '-quoted string"
        );
        assert_eq!(
            err(r#"a.b = "x\'y""#).message,
            "invalid \\' escape in \"-quoted string"
        );
    }

    #[test]
    fn depth_limit() {
        let nest = |n: usize| format!("{}a.b=1{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nest(MAX_DEPTH)).is_ok());
        assert_eq!(
            err(&nest(MAX_DEPTH + 1)).message,
            "exceeded max depth limit of 100"
        );
        assert_eq!(
            err(&"(".repeat(100_000)).message,
            "exceeded max depth limit of 100"
        );
        let tr = |n: usize| format!("{}a.b{} = x", "tolower(".repeat(n), ")".repeat(n));
        assert!(parse(&tr(MAX_DEPTH)).is_ok());
        assert!(parse(&tr(MAX_DEPTH + 1)).is_err());
        assert!(parse(&"not ".repeat(100_000)).is_err());
    }

    #[test]
    fn positions_count_lines() {
        let e = err("proc.name=bash and\n  (evt.type=x");
        assert_eq!(e.message, "expected a ')' token");
        assert_eq!(
            e.pos,
            Pos {
                idx: 32,
                line: 2,
                col: 14
            }
        );
        // `\r` and `\n` each start a line.
        let e = err("a.b=1\r\nx.y ~");
        assert_eq!(
            e.pos,
            Pos {
                idx: 7,
                line: 3,
                col: 1
            }
        );
        // A closing quote right after a backslash does not close (libsinsp's lexer).
        assert!(parse(r"a.b = 'x\\'").is_err());
        assert!(parse(r"a.b = 'x\\y'").is_ok());
    }

    #[test]
    fn numbers_and_values() {
        assert!(parse("a.b > 0x10").is_ok());
        assert!(parse("a.b > -1.5e+3").is_ok());
        assert_eq!(
            err("a.b < abc").message,
            "expected a number value or a field with a valid transformer: 'val', 'tolower', 'toupper', 'b64', 'basename'"
        );
        assert!(parse("evt.dir=<").is_ok());
        assert!(parse("a.b = runc:[0:PARENT]").is_ok());
        assert!(parse("a.b = a=b").is_err());
        assert!(parse("a.b[x] = 1").is_ok());
        assert!(parse("a.b['x y'] = 1").is_ok());
        assert_eq!(
            err("a.b[] = 1").message,
            "expected a valid field argument: a quoted string or a bare string"
        );
        assert!(parse("a.b = val(c.d)").is_ok());
        assert!(parse("a.b = val( c.d )").is_ok());
        assert_eq!(
            err("a.b = val(tolower(c.d))").message,
            "expected a field within 'val' transformer"
        );
        assert!(parse("val(c.d) = x").is_err());
        assert!(parse("tolower(toupper(a.b)) = val(c.d)").is_ok());
        assert!(parse("a.b contains  x").is_ok());
        assert!(parse("a.b contains\tx").is_err());
        assert!(parse("a.b in(x)").is_ok());
        assert!(parse("a.b pmatch(x)").is_ok());
    }
}
