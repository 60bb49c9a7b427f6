//! From the parsed expression to an evaluable tree: fields resolved, operators checked
//! against field types, right-hand values parsed by the left field's type, sets, tries
//! and regexes built once (libsinsp 0.18.1's `sinsp_filter_compiler` and
//! `sinsp_filter_check::add_filter_value`).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use regex::bytes::{Regex, RegexBuilder};

use super::fields::Field;
use super::names;
use super::parse::{Expr, Item, Op, Operand, Pos, Rhs, Transformer};
use super::pmatch::PathSet;
use super::table::{self, IS_LIST, Multi, NO_RHS, NO_TRANSFORMER, Resolved, Ty};

/// The largest compiled regex, in bytes of the regex crate's program.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A compile error: message and the position of the offending item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CompileError {
    pub message: String,
    pub pos: Pos,
}

/// A field read by a check, with its transformers (innermost first).
#[derive(Debug)]
pub(crate) struct Side {
    pub field: Field,
    pub multi: Multi,
    pub transformers: Vec<Transformer>,
}

/// A right-hand constant, parsed by the left field's type.
#[derive(Debug)]
pub(crate) enum Const {
    Bytes(Vec<u8>),
    Num(i128),
    Bool(bool),
    Ip(IpAddr),
    Net(IpAddr, u8),
    /// A value for `evt.rawarg`: its text, and its number when it is one.
    Dyn(Vec<u8>, Option<i128>),
}

/// The values of a list operator.
#[derive(Debug, Default)]
pub(crate) struct ValueSet {
    pub bytes: HashSet<Vec<u8>>,
    pub nums: HashSet<i128>,
    pub bools: [bool; 2],
    pub ips: HashSet<IpAddr>,
    pub nets: Vec<(IpAddr, u8)>,
}

/// What a check compares with.
#[derive(Debug)]
pub(crate) enum Target {
    /// `exists`.
    Exists,
    /// One constant, for the scalar operators.
    One(Const),
    /// `in` / `intersects`.
    Set(ValueSet),
    /// `pmatch`.
    Paths(PathSet),
    /// `regex`.
    Regex(Regex),
    /// Another field (`val()`, or a transformer on the right).
    Field(Side),
}

/// One check: `field op target`.
#[derive(Debug)]
pub(crate) struct Check {
    pub lhs: Side,
    pub op: Op,
    pub target: Target,
}

/// The evaluable tree.
#[derive(Debug)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Check(Box<Check>),
}

/// The result of compiling.
pub(crate) struct Compiled {
    pub root: Node,
    pub warnings: Vec<String>,
    pub event_codes: Option<Vec<u16>>,
}

type CResult<T> = Result<T, CompileError>;

fn cerr(message: impl Into<String>, pos: Pos) -> CompileError {
    CompileError {
        message: message.into(),
        pos,
    }
}

/// Compiles a parsed expression.
pub(crate) fn compile(expr: &Expr) -> CResult<Compiled> {
    let mut c = Compiler {
        warnings: Vec::new(),
    };
    let (root, event_codes) = c.node(expr)?;
    Ok(Compiled {
        root,
        warnings: c.warnings,
        event_codes,
    })
}

struct Compiler {
    warnings: Vec<String>,
}

/// A resolved operand: the field, its base resolution and transformers.
struct Operand2 {
    res: Resolved,
    transformers: Vec<Transformer>,
    pos: Pos,
}

impl Compiler {
    /// Compiles a node and computes the event codes it can match (`None`: any).
    fn node(&mut self, e: &Expr) -> CResult<(Node, Option<Vec<u16>>)> {
        Ok(match e {
            Expr::And(children) => {
                let mut nodes = Vec::with_capacity(children.len());
                let mut codes: Option<Vec<u16>> = None;
                for ch in children {
                    let (n, cs) = self.node(ch)?;
                    nodes.push(n);
                    codes = match (codes, cs) {
                        (None, x) | (x, None) => x,
                        (Some(a), Some(b)) => {
                            Some(a.into_iter().filter(|c| b.contains(c)).collect())
                        }
                    };
                }
                (Node::And(nodes), codes)
            }
            Expr::Or(children) => {
                let mut nodes = Vec::with_capacity(children.len());
                let mut codes: Option<Vec<u16>> = Some(Vec::new());
                for ch in children {
                    let (n, cs) = self.node(ch)?;
                    nodes.push(n);
                    codes = match (codes, cs) {
                        (Some(mut a), Some(b)) => {
                            a.extend(b);
                            a.sort_unstable();
                            a.dedup();
                            Some(a)
                        }
                        _ => None,
                    };
                }
                (Node::Or(nodes), codes)
            }
            Expr::Not(child) => {
                let (n, _) = self.node(child)?;
                (Node::Not(Box::new(n)), None)
            }
            Expr::Ident { name, pos } => {
                return Err(cerr(format!("unexpected identifier '{name}'"), *pos));
            }
            Expr::Unary { left } => {
                let l = self.operand(left)?;
                let check = Check {
                    lhs: side(&l),
                    op: Op::Exists,
                    target: Target::Exists,
                };
                (Node::Check(Box::new(check)), None)
            }
            Expr::Binary { left, op, right } => self.binary(left, *op, right)?,
        })
    }

    /// Resolves a field with its transformers.
    fn operand(&mut self, o: &Operand) -> CResult<Operand2> {
        match o {
            Operand::Field { name, arg, pos } => {
                let res = table::resolve(name, arg.as_deref()).map_err(|m| cerr(m, *pos))?;
                Ok(Operand2 {
                    res,
                    transformers: Vec::new(),
                    pos: *pos,
                })
            }
            Operand::Transform { tr, inner, pos } => {
                let mut o = self.operand(inner)?;
                if *tr == Transformer::Val {
                    return Ok(o);
                }
                if o.res.flags & NO_TRANSFORMER != 0 {
                    return Err(cerr(
                        format!("field '{}' does not support transformers", o.res.name),
                        *pos,
                    ));
                }
                let ok = match tr {
                    Transformer::B64 => matches!(o.res.ty, Ty::Str | Ty::Bytes),
                    _ => o.res.ty == Ty::Str,
                };
                if !ok {
                    return Err(cerr(
                        format!(
                            "can't add field transformer: type '{}' is not supported by '{}' transformer applied on field '{}'",
                            o.res.type_name,
                            tr.name(),
                            o.res.name
                        ),
                        *pos,
                    ));
                }
                o.transformers.push(*tr);
                o.pos = *pos;
                Ok(o)
            }
        }
    }

    fn binary(&mut self, left: &Operand, op: Op, right: &Rhs) -> CResult<(Node, Option<Vec<u16>>)> {
        let l = self.operand(left)?;
        check_op_type(op, &l.res).map_err(|m| cerr(m, left.pos()))?;
        let is_evt_type = l.res.field == Field::EvtType;
        let (values, pos, listname) = match right {
            Rhs::Operand(o) => {
                let r = self.operand(o)?;
                self.check_rhs_field(op, &l, &r, o.pos())?;
                let check = Check {
                    lhs: side(&l),
                    op,
                    target: Target::Field(side(&r)),
                };
                return Ok((Node::Check(Box::new(check)), None));
            }
            Rhs::Value { item, pos } => (vec![item.clone()], *pos, false),
            Rhs::List { items, pos } => (items.clone(), *pos, false),
            Rhs::ListName { name, pos } => (
                vec![Item {
                    text: name.clone(),
                    quoted: false,
                }],
                *pos,
                true,
            ),
        };
        for v in &values {
            self.add_warnings(op, v, listname || matches!(right, Rhs::List { .. }));
        }
        let consts = values
            .iter()
            .map(|v| {
                if is_evt_type && !table::is_event_type_name(&v.text) {
                    return Err(format!("unknown event type {}", v.text));
                }
                parse_const(op, &l.res, &v.text)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| cerr(m, pos))?;
        let codes = if is_evt_type
            && l.transformers.is_empty()
            && matches!(op, Op::Eq | Op::In | Op::Intersects)
        {
            Some(event_codes_for(values.iter().map(|v| v.text.as_str())))
        } else {
            None
        };
        let target = match op {
            Op::In | Op::Intersects => {
                let mut set = ValueSet::default();
                for c in consts {
                    match c {
                        Const::Bytes(b) => {
                            set.bytes.insert(b);
                        }
                        Const::Num(n) => {
                            set.nums.insert(n);
                        }
                        Const::Bool(b) => set.bools[usize::from(b)] = true,
                        Const::Ip(ip) => {
                            set.ips.insert(ip);
                        }
                        Const::Net(ip, bits) => set.nets.push((ip, bits)),
                        Const::Dyn(b, n) => {
                            set.bytes.insert(b);
                            if let Some(n) = n {
                                set.nums.insert(n);
                            }
                        }
                    }
                }
                Target::Set(set)
            }
            Op::Pmatch => {
                let mut paths = PathSet::default();
                for v in &values {
                    paths.add(v.text.as_bytes());
                }
                Target::Paths(paths)
            }
            Op::Regex => {
                let v = &values[0].text;
                let build = |pattern: &str| {
                    RegexBuilder::new(pattern)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .dfa_size_limit(REGEX_SIZE_LIMIT)
                        .build()
                };
                // the pattern alone first: a `)` in it must not close the anchoring group,
                // and its errors must quote the user's pattern
                build(v)
                    .map_err(|e| cerr(format!("invalid regular expression '{v}': {e}"), pos))?;
                let re = build(&format!("^(?:{v})$"))
                    .map_err(|e| cerr(format!("invalid regular expression '{v}': {e}"), pos))?;
                Target::Regex(re)
            }
            _ => {
                let c = consts
                    .into_iter()
                    .next()
                    .ok_or_else(|| cerr("expected a value", pos))?;
                Target::One(c)
            }
        };
        let check = Check {
            lhs: side(&l),
            op,
            target,
        };
        Ok((Node::Check(Box::new(check)), codes))
    }

    fn check_rhs_field(&self, op: Op, l: &Operand2, r: &Operand2, pos: Pos) -> CResult<()> {
        if matches!(op, Op::Pmatch | Op::Regex) {
            return Err(cerr(
                format!(
                    "operator '{}' doesn't support right-hand side fields",
                    op.upper()
                ),
                pos,
            ));
        }
        if l.res.ty == Ty::Net {
            return Err(cerr(
                "field type 'IPNET' doesn't support right-hand side fields",
                pos,
            ));
        }
        if l.res.flags & NO_RHS != 0 {
            return Err(cerr(
                format!(
                    "field '{}' doesn't support right-hand side fields",
                    l.res.name
                ),
                l.pos,
            ));
        }
        if r.res.flags & NO_RHS != 0 {
            return Err(cerr(
                format!(
                    "field '{}' can't be used as a right-hand side field",
                    r.res.name
                ),
                pos,
            ));
        }
        let (ll, rl) = (l.res.flags & IS_LIST != 0, r.res.flags & IS_LIST != 0);
        if l.res.type_name != r.res.type_name || ll != rl {
            let list = |b: bool| if b { " (list)" } else { "" };
            return Err(cerr(
                format!(
                    "field '{}' has type '{}{}' while the right-hand side field '{}' has incompatible type '{}{}'",
                    l.res.name,
                    l.res.type_name,
                    list(ll),
                    r.res.name,
                    r.res.type_name,
                    list(rl)
                ),
                pos,
            ));
        }
        Ok(())
    }

    /// libsinsp's `check_value_and_add_warnings`, plus a warning for list names.
    fn add_warnings(&mut self, op: Op, v: &Item, in_list: bool) {
        let text = &v.text;
        if op == Op::Regex {
            if let Some(w) = regex_warning(text) {
                self.warnings.push(w);
            }
        }
        let nospaces: String = text
            .chars()
            .filter(|c| !c.is_ascii_whitespace() && *c != '\x0b')
            .collect();
        if table::resolve_full(&nospaces).is_ok() {
            self.warnings.push(format!(
                "'{text}' may be a valid field misused as a const string value"
            ));
        }
        for t in ["val", "tolower", "toupper", "b64", "basename"] {
            if nospaces.len() >= t.len() + 2
                && nospaces.starts_with(t)
                && nospaces.as_bytes()[t.len()] == b'('
                && nospaces.ends_with(')')
            {
                self.warnings.push(format!(
                    "'{text}' may be a valid field transformer misused as a const string value"
                ));
            }
        }
        if in_list && !v.quoted && looks_like_list_name(text) {
            self.warnings.push(format!(
                "'{text}' looks like a list name, but a filter has no lists: it is compared as a literal string"
            ));
        }
    }
}

fn side(o: &Operand2) -> Side {
    Side {
        field: o.res.field.clone(),
        multi: o.res.multi,
        transformers: o.transformers.clone(),
    }
}

/// Falco list names: lower-case words joined by `_` (`shell_binaries`).
fn looks_like_list_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && s.contains('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// libsinsp's `check_warnings_regex_value`: a regex that a simpler operator could do.
fn regex_warning(v: &str) -> Option<String> {
    const SPECIAL: &[u8] = b".+*?^$()[]{}|\\";
    let b = v.as_bytes();
    let len = b.len();
    let mut i = 0;
    while i < len {
        if (i == 0 && b[i] == b'^') || (i + 1 == len && b[i] == b'$') {
            i += 1;
            continue;
        }
        if ((i == 0 && len > 1) || (len >= 2 && i == len - 2))
            && b[i] == b'.'
            && i + 1 < len
            && b"+*?".contains(&b[i + 1])
        {
            i += 2;
            continue;
        }
        if SPECIAL.contains(&b[i]) {
            return None;
        }
        i += 1;
    }
    Some(format!(
        "regex check with '{v}' may be optimized with simpler operators such as '=', 'contains', 'startswith', 'endswith'"
    ))
}

/// Operator/type compatibility (`flt_is_comparable`).
fn check_op_type(op: Op, r: &Resolved) -> Result<(), String> {
    use Op::*;
    if op == Exists {
        return Ok(());
    }
    let (ok, kind) = if r.flags & IS_LIST != 0 {
        (matches!(op, In | Intersects), "list")
    } else {
        match r.ty {
            Ty::Int(_) | Ty::Uint(_) | Ty::Port | Ty::Double => (
                matches!(op, Eq | Ne | Lt | Le | Gt | Ge | In | Intersects),
                "numeric",
            ),
            Ty::Bool => (matches!(op, Eq | Ne | In | Intersects), "numeric"),
            Ty::Ip | Ty::Net => (
                matches!(op, Eq | Ne | In | Intersects),
                "ip address and network",
            ),
            Ty::Str => (!matches!(op, BContains | BStartsWith), "string"),
            Ty::Bytes => (
                matches!(
                    op,
                    Eq | Ne
                        | Contains
                        | In
                        | StartsWith
                        | EndsWith
                        | Intersects
                        | BContains
                        | BStartsWith
                ),
                "buffer",
            ),
            Ty::Dyn => (true, ""),
        }
    };
    if ok {
        return Ok(());
    }
    if kind == "list" {
        return Err(format!(
            "'{}' operator not supported list filters",
            op.as_str()
        ));
    }
    Err(format!(
        "'{}' operator not supported for {kind} filters",
        op.as_str()
    ))
}

/// Parses a right-hand value by the left field's type (`string_to_rawval`).
fn parse_const(op: Op, r: &Resolved, v: &str) -> Result<Const, String> {
    let bad_number = || format!("{v} is not a valid number");
    if matches!(op, Op::BContains | Op::BStartsWith) {
        return unhex(v)
            .map(Const::Bytes)
            .ok_or_else(|| "bcontains and bstartswith operator support hex strings only".into());
    }
    Ok(match r.ty {
        Ty::Str | Ty::Bytes => Const::Bytes(v.as_bytes().to_vec()),
        // sscanf("%d") stores the long it read into an int; DOUBLE goes through parsed32.
        Ty::Int(bits) => Const::Num(i128::from(wrap_signed(
            table::sscanf_i64(v).ok_or_else(bad_number)?,
            bits,
        ))),
        Ty::Double => Const::Num(i128::from(wrap_signed(
            table::sscanf_i64(v).ok_or_else(bad_number)?,
            32,
        ))),
        Ty::Uint(bits) => {
            let n = table::sscanf_u64(v).ok_or_else(bad_number)?;
            let n = if bits < 64 {
                n & ((1u64 << bits) - 1)
            } else {
                n
            };
            Const::Num(i128::from(n))
        }
        Ty::Port => Const::Num(i128::from(parse_port(v)?)),
        Ty::Bool => match v {
            "true" => Const::Bool(true),
            "false" => Const::Bool(false),
            _ => return Err(format!("unrecognized boolean value {v}")),
        },
        Ty::Ip => Const::Ip(parse_ip(v)?),
        Ty::Net => {
            let (ip, bits) = parse_net(v)?;
            Const::Net(ip, bits)
        }
        Ty::Dyn => Const::Dyn(v.as_bytes().to_vec(), table::sscanf_i64(v).map(i128::from)),
    })
}

fn wrap_signed(n: i64, bits: u8) -> i64 {
    match bits {
        8 => i64::from(n as i8),
        16 => i64::from(n as i16),
        32 => i64::from(n as i32),
        _ => n,
    }
}

fn unhex(v: &str) -> Option<Vec<u8>> {
    let b = v.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks(2)
        .map(|p| {
            let h = (p[0] as char).to_digit(16)?;
            let l = (p[1] as char).to_digit(16)?;
            Some((h * 16 + l) as u8)
        })
        .collect()
}

fn parse_ip(v: &str) -> Result<IpAddr, String> {
    if v.contains('.') {
        v.parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| format!("unrecognized IPv4 address {v}"))
    } else {
        v.parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| format!("unrecognized IPv6 address {v}"))
    }
}

fn parse_net(v: &str) -> Result<(IpAddr, u8), String> {
    if v.contains('.') {
        let Some((ip, mask)) = v.split_once('/') else {
            return Err(format!("unrecognized IP network {v}"));
        };
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("unrecognized IP address {v}"))?;
        let bits =
            table::sscanf_u64(mask).ok_or_else(|| format!("{mask} is not a valid number"))? as u8;
        if bits > 32 {
            return Err(format!("invalid netmask {mask}"));
        }
        Ok((IpAddr::V4(ip), bits))
    } else {
        let (ip, mask) = v
            .split_once('/')
            .ok_or_else(|| format!("unrecognized IPv6 network {v}"))?;
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| format!("unrecognized IPv6 network {v}"))?;
        let bits = table::sscanf_u64(mask)
            .filter(|b| *b <= 128)
            .ok_or_else(|| format!("unrecognized IPv6 network {v}"))?;
        Ok((IpAddr::V6(ip), bits as u8))
    }
}

/// A port number or a service name (`getservbyname`: `/etc/services`, then a built-in
/// table of common services).
fn parse_port(v: &str) -> Result<u16, String> {
    if v.is_empty() {
        return Ok(0);
    }
    if v.bytes().all(|c| c.is_ascii_digit()) {
        // std::stoi: out of int range is an error; the int is then stored as a u16.
        let n: i32 = v
            .parse()
            .map_err(|_| format!("{v} is not a valid number"))?;
        return Ok(n as u16);
    }
    if let Ok(text) = std::fs::read_to_string("/etc/services") {
        if let Some(p) = service_port(&text, v) {
            return Ok(p);
        }
    }
    BUILTIN_SERVICES
        .iter()
        .find(|(n, _)| *n == v)
        .map(|(_, p)| *p)
        .ok_or_else(|| format!("unrecognized protocol {v}"))
}

/// The port of service `name` (or an alias) in an `/etc/services` text.
fn service_port(text: &str, name: &str) -> Option<u16> {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let (Some(svc), Some(port)) = (words.next(), words.next()) else {
            continue;
        };
        if svc == name || words.any(|a| a == name) {
            if let Some(p) = port.split('/').next().and_then(|p| p.parse().ok()) {
                return Some(p);
            }
        }
    }
    None
}

/// Services resolved when `/etc/services` is missing or lacks them.
const BUILTIN_SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("ntp", 123),
    ("imap", 143),
    ("imap2", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("microsoft-ds", 445),
    ("syslog", 514),
    ("submission", 587),
    ("ldaps", 636),
    ("rsync", 873),
    ("imaps", 993),
    ("pop3s", 995),
    ("socks", 1080),
    ("openvpn", 1194),
    ("ms-sql-s", 1433),
    ("mysql", 3306),
    ("postgresql", 5432),
    ("x11", 6000),
    ("http-alt", 8080),
];

/// The event numbers whose `evt.type` is one of `names`; generic syscall events (codes 0
/// and 1, which report a syscall's own name) when a name is a syscall without its own event.
fn event_codes_for<'a>(values: impl Iterator<Item = &'a str>) -> Vec<u16> {
    let mut codes = Vec::new();
    for v in values {
        let mut found = false;
        for (code, (name, _)) in names::EVENTS.iter().enumerate() {
            if *name == v {
                codes.push(code as u16);
                found = true;
            }
        }
        if !found {
            codes.extend([0, 1]);
        }
    }
    codes.sort_unstable();
    codes.dedup();
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services() {
        let text = "# x\nhttps\t\t443/tcp\t\t\t# http protocol over TLS/SSL\nhttps 443/udp\nwww-http 80/tcp http www\n";
        assert_eq!(service_port(text, "https"), Some(443));
        assert_eq!(service_port(text, "www"), Some(80));
        assert_eq!(service_port(text, "nope"), None);
        assert_eq!(parse_port("https"), Ok(443));
        assert_eq!(parse_port("70000"), Ok(4464));
        assert_eq!(parse_port(""), Ok(0));
        assert_eq!(
            parse_port("no-such-service-x"),
            Err("unrecognized protocol no-such-service-x".into())
        );
    }

    /// Integers past the 64-bit range saturate, as glibc's sscanf("%ld") (strtol) does in
    /// libsinsp's parsed64; a leading `-` on an unsigned value wraps, as strtoul's does.
    #[test]
    fn out_of_range_integers_parse_as_libsinsp_parses_them() {
        assert_eq!(table::sscanf_i64("99999999999999999999"), Some(i64::MAX));
        assert_eq!(table::sscanf_i64("-99999999999999999999"), Some(i64::MIN));
        assert_eq!(table::sscanf_i64("9223372036854775807"), Some(i64::MAX));
        assert_eq!(table::sscanf_u64("-1"), Some(u64::MAX));
        assert_eq!(table::sscanf_u64("99999999999999999999"), Some(u64::MAX));
        assert_eq!(table::sscanf_i64("12x"), None);
    }

    #[test]
    fn regex_warnings() {
        assert!(regex_warning("bash").is_some());
        assert!(regex_warning(".*bash").is_some());
        assert!(regex_warning("^bash$").is_some());
        assert!(regex_warning("ba.h").is_none());
        assert!(regex_warning("a|b").is_none());
    }

    #[test]
    fn networks() {
        assert_eq!(
            parse_net("10.0.0.0/8"),
            Ok((IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8))
        );
        assert_eq!(
            parse_net("10.0.0.0"),
            Err("unrecognized IP network 10.0.0.0".into())
        );
        assert_eq!(parse_net("10.0.0.0/33"), Err("invalid netmask 33".into()));
        assert!(parse_net("fd00::/8").is_ok());
        assert!(parse_ip("::1").is_ok());
        assert_eq!(
            parse_ip("1.2.3"),
            Err("unrecognized IPv4 address 1.2.3".into())
        );
    }
}
