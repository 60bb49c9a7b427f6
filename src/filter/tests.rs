//! The falco-filter.md §5 table and end-to-end checks, over described events.

use std::collections::HashMap;
use std::net::IpAddr;

use super::*;

#[derive(Clone, Debug)]
enum V {
    S(String),
    I(i64),
    U(u64),
    B(bool),
    Ip(IpAddr),
}

/// A described event: each field's values (`n` = 0, 1, …).
#[derive(Clone, Debug, Default)]
struct Ev {
    vals: HashMap<Field, Vec<V>>,
}

impl Ev {
    fn set(mut self, f: Field, v: V) -> Ev {
        self.vals.insert(f, vec![v]);
        self
    }
    fn s(self, f: Field, v: &str) -> Ev {
        self.set(f, V::S(v.into()))
    }
    fn i(self, f: Field, v: i64) -> Ev {
        self.set(f, V::I(v))
    }
    fn u(self, f: Field, v: u64) -> Ev {
        self.set(f, V::U(v))
    }
    fn b(self, f: Field, v: bool) -> Ev {
        self.set(f, V::B(v))
    }
    fn ip(self, f: Field, v: &str) -> Ev {
        self.set(f, V::Ip(v.parse().unwrap()))
    }
    fn many(mut self, f: Field, v: Vec<V>) -> Ev {
        self.vals.insert(f, v);
        self
    }
    fn without(mut self, f: &Field) -> Ev {
        self.vals.remove(f);
        self
    }
    /// The process and its ancestors, self first: `(comm, pid)`.
    fn chain(mut self, chain: &[(&str, i64)]) -> Ev {
        for (k, (name, pid)) in chain.iter().enumerate() {
            self.vals
                .insert(Field::ProcAname(Some(k as u32)), vec![V::S((*name).into())]);
            self.vals
                .insert(Field::ProcApid(Some(k as u32)), vec![V::I(*pid)]);
        }
        let names = chain[1..].iter().map(|(n, _)| V::S((*n).into())).collect();
        let pids = chain[1..].iter().map(|(_, p)| V::I(*p)).collect();
        self.vals.insert(Field::ProcAname(None), names);
        self.vals.insert(Field::ProcApid(None), pids);
        self.s(Field::ProcName, chain[0].0)
            .i(Field::ProcPid, chain[0].1)
            .s(Field::ProcPname, chain.get(1).map_or("", |c| c.0))
            .i(Field::ProcPpid, chain.get(1).map_or(0, |c| c.1))
    }
    fn host(self) -> Ev {
        self.s(Field::ContainerId, "host")
            .s(Field::ContainerName, "host")
            .s(Field::ContainerType, "host")
    }
    fn web(self) -> Ev {
        self.s(Field::ContainerId, "3ad7b26ded6d")
            .s(Field::ContainerName, "web")
            .s(Field::ContainerType, "docker")
            .s(Field::ContainerImage, "nginx:1.25")
            .s(Field::ContainerImageRepository, "nginx")
            .s(Field::ContainerImageTag, "1.25")
            .b(Field::ContainerPrivileged, false)
    }
    fn exit(self, ty: &str, res: i64) -> Ev {
        let ev = self
            .s(Field::EvtType, ty)
            .s(Field::EvtDir, "<")
            .i(Field::EvtRawres, res)
            .b(Field::EvtFailed, res < 0);
        ev.s(
            Field::EvtRes,
            match res {
                -2 => "ENOENT",
                r if r < 0 => "EPERM",
                _ => "SUCCESS",
            },
        )
    }
}

impl EventFields for Ev {
    fn value<'s>(&'s self, field: &Field, n: usize, scratch: &'s mut Vec<u8>) -> Option<Value<'s>> {
        let v = self.vals.get(field)?.get(n)?;
        Some(match v {
            V::S(s) => {
                // Exercise the scratch path for composed values.
                if *field == Field::ProcCmdline {
                    scratch.extend_from_slice(s.as_bytes());
                    return Some(Value::Str(scratch));
                }
                Value::Str(s.as_bytes())
            }
            V::I(i) => Value::Int(*i),
            V::U(u) => Value::Uint(*u),
            V::B(b) => Value::Bool(*b),
            V::Ip(ip) => Value::Ip(*ip),
        })
    }
}

fn x() -> Ev {
    Ev::default()
        .exit("execve", 0)
        .chain(&[
            ("bash", 4242),
            ("sshd", 4200),
            ("sshd", 4100),
            ("systemd", 1),
        ])
        .s(Field::ProcExe, "bash")
        .s(Field::ProcExepath, "/usr/bin/bash")
        .s(Field::ProcArgs, "-c ls /tmp")
        .s(Field::ProcCmdline, "bash -c ls /tmp")
        .u(Field::UserUid, 0)
        .s(Field::UserName, "root")
        .u(Field::GroupGid, 0)
        .s(Field::GroupName, "root")
        .u(Field::ProcTty, 34816)
        .u(Field::EvtNum, 10)
        .host()
}

fn o() -> Ev {
    Ev::default()
        .exit("openat", 3)
        .chain(&[("cat", 77), ("sh", 70)])
        .web()
        .i(Field::FdNum, 3)
        .s(Field::FdName, "/etc/shadow")
        .s(Field::FdDirectory, "/etc")
        .s(Field::FdFilename, "shadow")
        .s(Field::FdTypechar, "f")
        .s(Field::FdType, "file")
        .u(Field::EvtNum, 11)
        .s(Field::EvtArg(ArgSel::Name("name".into())), "/etc/shadow")
}

fn of() -> Ev {
    o().exit("openat", -2)
        .s(Field::FdName, "/etc/missing")
        .i(Field::FdNum, -2)
        .without(&Field::FdFilename)
        .without(&Field::FdDirectory)
        .without(&Field::FdTypechar)
        .without(&Field::FdType)
        .s(Field::EvtArg(ArgSel::Name("name".into())), "/etc/missing")
}

fn n() -> Ev {
    let ip = |s: &str| V::Ip(s.parse().unwrap());
    Ev::default()
        .exit("connect", 0)
        .chain(&[("curl", 88), ("sh", 70)])
        .web()
        .i(Field::FdNum, 5)
        .s(Field::FdTypechar, "4")
        .s(Field::FdType, "ipv4")
        .s(Field::FdL4proto, "tcp")
        .s(Field::FdName, "172.17.0.2:40000->93.184.216.34:443")
        .ip(Field::FdSip, "93.184.216.34")
        .ip(Field::FdCip, "172.17.0.2")
        .u(Field::FdSport, 443)
        .u(Field::FdCport, 40000)
        .many(Field::FdIp, vec![ip("172.17.0.2"), ip("93.184.216.34")])
        .many(Field::FdNet, vec![ip("172.17.0.2"), ip("93.184.216.34")])
        .many(Field::FdPort, vec![V::U(40000), V::U(443)])
}

fn e() -> Ev {
    Ev::default()
        .s(Field::EvtType, "procexit")
        .s(Field::EvtDir, ">")
        .chain(&[("bash", 4242), ("sshd", 4200)])
        .host()
}

fn u() -> Ev {
    Ev::default()
        .exit("unlinkat", 0)
        .chain(&[("rm", 99), ("bash", 4242)])
        .s(Field::EvtArg(ArgSel::Name("name".into())), "/tmp/x")
        .host()
}

fn q() -> Ev {
    Ev::default()
        .exit("execve", 0)
        .chain(&[("sh", 500), ("containerd-shim", 400)])
        .s(Field::ContainerId, "abcdef012345")
}

fn event(name: &str) -> Ev {
    match name {
        "X" => x(),
        "O" => o(),
        "OF" => of(),
        "N" => n(),
        "E" => e(),
        "U" => u(),
        "Q" => q(),
        _ => panic!("no event {name}"),
    }
}

fn compile(src: &str) -> Filter {
    Filter::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn check(src: &str, cases: &[(&str, bool)]) {
    let mut f = compile(src);
    for (ev, want) in cases {
        assert_eq!(f.matches(&event(ev)), *want, "filter {src:?} on {ev}");
    }
}

fn error(src: &str) -> FilterError {
    match Filter::compile(src) {
        Ok(_) => panic!("{src:?} compiled"),
        Err(e) => e,
    }
}

const ALL: [&str; 7] = ["X", "O", "OF", "N", "E", "U", "Q"];

#[test]
fn table_rows_1_to_9() {
    check("evt.type=execve", &[("X", true), ("O", false), ("Q", true)]);
    check(
        "proc.name in (bash, sh) and evt.type=execve",
        &[("X", true), ("O", false)],
    );
    check("proc.name in(bash,sh)", &[("X", true), ("O", false)]);
    check(
        "proc.name=bash or proc.name=cat and container.id=host",
        &[("X", true), ("O", false)],
    );
    check(
        "(proc.name=bash or proc.name=cat) and container.id!=host",
        &[("O", true), ("X", false)],
    );
    check("not proc.name=bash", &[("X", false), ("O", true)]);
    check("container.id != host", &[("X", false), ("O", true)]);
    check(
        "container.name != sf-collector",
        &[("O", true), ("Q", false)],
    );
    check(
        "not container.name in (sf-collector, sf-processor)",
        &[("Q", true), ("O", true)],
    );
}

#[test]
fn table_rows_10_to_20() {
    check("fd.name != /etc/passwd", &[("X", false), ("O", true)]);
    check("fd.name exists", &[("O", true), ("X", false)]);
    check("fd.name pmatch (/etc)", &[("O", true)]);
    check("fd.name pmatch (/et)", &[("O", false)]);
    check("fd.name startswith /et", &[("O", true)]);
    check("fd.name glob '/etc/*'", &[("O", true)]);
    check("fd.name glob '/*'", &[("O", true)]);
    check(
        "fd.directory=/etc and fd.filename=shadow and fd.typechar=f",
        &[("O", true), ("OF", false)],
    );
    check(
        "fd.name=/etc/missing and evt.failed=true and evt.res=ENOENT and evt.rawres<0",
        &[("OF", true), ("O", false)],
    );
    check("fd.name=/tmp/x", &[("U", false)]);
    check("evt.arg.name=/tmp/x", &[("U", true), ("X", false)]);
    check("proc.cmdline = \"bash -c ls /tmp\"", &[("X", true)]);
    check(
        "proc.exe=bash and proc.exepath=/usr/bin/bash and proc.args contains \"ls /tmp\"",
        &[("X", true)],
    );
    check("proc.aname=sshd", &[("X", true)]);
    check("proc.aname[3]=systemd", &[("X", true)]);
    check("proc.aname[0]=bash", &[("X", true)]);
    check("proc.aname=bash", &[("X", false)]);
    check("proc.aname[9]=x", &[("X", false)]);
    check("not proc.aname[9]=x", &[("X", true)]);
}

#[test]
fn table_rows_21_to_31() {
    check(
        "proc.pname=sshd and proc.ppid=4200 and proc.pid>4000 and proc.pid<=4242",
        &[("X", true), ("O", false)],
    );
    check(
        "user.uid=0 and user.name=root and proc.tty!=0",
        &[("X", true)],
    );
    check(
        "container.image.repository=nginx and container.image.tag=\"1.25\" and container.privileged=false",
        &[("O", true), ("X", false), ("Q", false)],
    );
    check(
        "fd.sip=93.184.216.34 and fd.sport=443 and fd.l4proto=tcp and fd.typechar=4",
        &[("N", true), ("O", false)],
    );
    check("fd.net=\"93.184.216.0/24\"", &[("N", true), ("O", false)]);
    check("fd.port=40000", &[("N", true)]);
    check("fd.port!=443", &[("N", false)]);
    check("evt.type=procexit", &[("E", true), ("X", false)]);
    check("evt.dir=<", &[("E", false), ("X", true)]);
    let all_false: Vec<_> = ALL.iter().map(|e| (*e, false)).collect();
    check("evt.num=0", &all_false);
    check("proc.name icontains BAS", &[("X", true)]);
    check("proc.name contains BAS", &[("X", false)]);
    check("toupper(proc.name)=BASH", &[("X", true)]);
    check("basename(proc.exepath)=bash", &[("X", true)]);
    check("proc.name regex 'ba.h'", &[("X", true)]);
    check("proc.name regex 'ba'", &[("X", false)]);
    check("proc.name = val(proc.pname)", &[("X", false)]);
    let f = compile("proc.name = proc.pname");
    assert_eq!(
        f.warnings(),
        ["'proc.pname' may be a valid field misused as a const string value"]
    );
    check("proc.name = proc.pname", &[("X", false)]);
    let f = compile("proc.name in (shell_binaries)");
    assert_eq!(f.warnings().len(), 1, "{:?}", f.warnings());
    assert!(f.warnings()[0].contains("shell_binaries"));
    check("proc.name in (shell_binaries)", &[("X", false)]);
    assert_eq!(compile("proc.name in shell_binaries").warnings().len(), 1);
    assert!(compile("proc.name in (bash, sh)").warnings().is_empty());
}

#[test]
fn table_rows_32_to_39_errors() {
    let e = error("spawned_process and proc.name=bash");
    assert_eq!(e.kind, FilterErrorKind::Compile);
    assert_eq!(e.message, "unexpected identifier 'spawned_process'");
    assert_eq!((e.index, e.line, e.column), (0, 1, 1));

    let e = error("(proc.name=bash");
    assert_eq!(e.kind, FilterErrorKind::Parse);
    assert_eq!(e.message, "expected a ')' token");
    assert_eq!((e.index, e.line, e.column), (15, 1, 16));
    assert_eq!(
        e.to_string(),
        "filter error at index 15, line 1, column 16: expected a ')' token"
    );

    let e = error("proc.name=bash)");
    assert_eq!(
        e.message,
        "unexpected token after 'bash', expecting 'or', 'and'"
    );
    assert_eq!(e.index, 14);
    let e = error("proc.name = bash AND evt.type=execve");
    assert_eq!(
        e.message,
        "unexpected token after 'bash', expecting 'or', 'and'"
    );
    assert_eq!(e.index, 17);

    let e = error("proc.name ~ bash");
    assert_eq!(
        e.message,
        "expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', \
         'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', \
         'endswith', 'regex', 'intersects', 'in', 'pmatch'"
    );
    assert_eq!(e.index, 10);

    let e = error("proc.cmdline contains ls /tmp");
    assert_eq!(
        e.message,
        "unexpected token after 'ls', expecting 'or', 'and'"
    );
    assert_eq!((e.index, e.kind), (25, FilterErrorKind::Parse));

    for (src, msg) in [
        (
            "proc.nmae=bash",
            "filter_check called with nonexistent field proc.nmae",
        ),
        (
            "fd.dip=1.2.3.4",
            "filter_check called with nonexistent field fd.dip",
        ),
        (
            "fd.dport=80",
            "filter_check called with nonexistent field fd.dport",
        ),
        (
            "proc.pid contains 1",
            "'contains' operator not supported for numeric filters",
        ),
        ("proc.pid=abc", "abc is not a valid number"),
        ("container.privileged=yes", "unrecognized boolean value yes"),
        (
            "container.privileged contains x",
            "'contains' operator not supported for numeric filters",
        ),
        ("evt.type=EXECVE", "unknown event type EXECVE"),
    ] {
        let e = error(src);
        assert_eq!(e.kind, FilterErrorKind::Compile, "{src}");
        assert_eq!(e.message, msg, "{src}");
    }
    // Compile errors point at the offending item.
    assert_eq!(error("evt.type=execve and proc.nmae=bash").index, 20);
    assert_eq!(error("proc.pid = abc").index, 11);

    let tr = "'val', 'tolower', 'toupper', 'b64', 'basename'";
    for (src, msg) in [
        (
            "proc.name in (bash,)",
            "expected a string value".to_string(),
        ),
        (
            "proc.name < abc",
            format!("expected a number value or a field with a valid transformer: {tr}"),
        ),
        (
            "proc.name = 'x",
            format!("expected a string value or a field with a valid transformer: {tr}"),
        ),
        ("", "filter input string is empty".to_string()),
        (
            "proc.name = \"\\x41\"",
            "unsupported string escape sequence: \\x".to_string(),
        ),
    ] {
        let e = error(src);
        assert_eq!(e.kind, FilterErrorKind::Parse, "{src}");
        assert_eq!(e.message, msg, "{src}");
    }
    assert_eq!(error("proc.name = 'x").index, 12);
}

#[test]
fn grammar_through_the_api() {
    assert!(Filter::compile("proc.name=bash andb").is_err());
    assert!(Filter::compile("(proc.name=bash)andnot(proc.name=sh)").is_err());
    assert!(Filter::compile("(proc.name=bash)and not(proc.name=sh)").is_ok());
    assert_eq!(
        error("proc.name=bash andproc.name=sh").message,
        "expected blank or '(' after 'and'"
    );
    let deep = |n: usize| format!("{}proc.name=bash{}", "(".repeat(n), ")".repeat(n));
    check(&deep(100), &[("X", true)]);
    assert_eq!(error(&deep(101)).message, "exceeded max depth limit of 100");
    let e = error("proc.name=bash and\n\tproc.pid contains 1");
    assert_eq!((e.line, e.column, e.index), (2, 2, 20));
    let e = error("proc.name=bash and\n  (evt.type=execve");
    assert_eq!((e.kind, e.line, e.column), (FilterErrorKind::Parse, 2, 19));
    check("proc.name in ()", &[("X", false)]);
    check("not proc.name in ()", &[("X", true)]);
    check("proc.name in ('bash')", &[("X", true)]);
    check(
        "evt.type = execve or evt.type = openat",
        &[("X", true), ("O", true), ("N", false)],
    );
}

#[test]
fn operators() {
    check("fd.name glob '/etc/sh*'", &[("O", true)]);
    check("fd.name glob '/ETC/*'", &[("O", false)]);
    check("fd.name iglob '/ETC/*'", &[("O", true)]);
    check("fd.name glob 'shadow'", &[("O", false)]);
    check("fd.name glob '/etc/[rs]hadow'", &[("O", true)]);
    check("proc.name regex '.*a.*'", &[("X", true)]);
    check("proc.name regex 'a.*'", &[("X", false)]);
    check("proc.name regex 'bash|sh'", &[("X", true)]);
    check(
        "proc.name endswith sh and proc.name startswith ba",
        &[("X", true)],
    );
    // String fields compare bytewise; a bare right-hand side must lex as a number.
    check(
        "proc.name > 5 and proc.name < val(proc.pname)",
        &[("X", true)],
    );
    check(
        "proc.name >= val(proc.exe) and proc.name <= val(proc.exe)",
        &[("X", true)],
    );
    check("proc.name intersects (bash)", &[("X", true)]);
    check("proc.pid in (1, 4242)", &[("X", true), ("O", false)]);
    check("proc.pid=\"4242\"", &[("X", true)]);
    check("proc.pid=+4242", &[("X", true)]);
    check("proc.pid > -1", &[("X", true)]);
    check("user.uid = -1", &[("X", false)]);
    check("proc.tty > 0 and proc.tty < 4294967295", &[("X", true)]);
    check("fd.num < 0", &[("OF", true), ("O", false)]);
    check("evt.failed = false", &[("O", true), ("OF", false)]);
    check("evt.failed in (true)", &[("OF", true), ("O", false)]);
    check(
        "proc.name exists and fd.name exists",
        &[("X", false), ("O", true)],
    );
    check("tolower(proc.name) = bash", &[("X", true)]);
    check("tolower(toupper(proc.name)) = bash", &[("X", true)]);
    check("toupper(tolower(proc.name)) in (BASH)", &[("X", true)]);
    check("basename(fd.name) = shadow", &[("O", true)]);
    check("proc.name = tolower(proc.exe)", &[("X", true)]);
    check("proc.name = val(proc.exe)", &[("X", true)]);
    check("proc.name != val(proc.exe)", &[("X", false)]);
    check("proc.pid > val(proc.ppid)", &[("X", true)]);
    check("proc.name = val(container.image)", &[("X", false)]);
    check("not proc.name = val(container.image)", &[("X", true)]);
    check("evt.arg.name contains shad", &[("O", true), ("X", false)]);
    check("evt.arg[0] exists", &[("X", false)]);
}

#[test]
fn multi_valued_fields() {
    check("fd.ip = 172.17.0.2", &[("N", true), ("O", false)]);
    check("fd.ip = 93.184.216.34", &[("N", true)]);
    check("fd.ip != 93.184.216.34", &[("N", false), ("O", false)]);
    check("fd.ip != 1.1.1.1", &[("N", true)]);
    check("fd.ip in (1.1.1.1, 172.17.0.2)", &[("N", true)]);
    check("fd.port > 40000", &[("N", false)]);
    check("fd.port >= 40000", &[("N", true)]);
    check("fd.port = https", &[("N", true)]);
    check("fd.sport = https", &[("N", true)]);
    check("fd.port in (22, 443)", &[("N", true)]);
    check("fd.net != 10.0.0.0/8", &[("N", true)]);
    check("fd.net != 172.16.0.0/12", &[("N", false)]);
    check("fd.snet = 93.184.0.0/16", &[]);
    check("fd.ip exists", &[("N", true), ("O", false)]);
    check("proc.aname = systemd", &[("X", true), ("O", false)]);
    check("proc.aname != sshd", &[("X", true)]);
    check("proc.aname in (sshd)", &[("X", true)]);
    check("proc.apid = 1", &[("X", true)]);
    check("proc.apid = 4242", &[("X", false)]);
    check("proc.apid[0] = 4242", &[("X", true)]);
    check("proc.aname exists", &[("X", true)]);
}

#[test]
fn compile_time_checks() {
    for (src, msg) in [
        ("proc.pid = 0x10", "0x10 is not a valid number"),
        ("proc.pid = 1.5", "1.5 is not a valid number"),
        ("proc.pid > 1e+5", "1e+5 is not a valid number"),
        (
            "proc.name bcontains 41",
            "'bcontains' operator not supported for string filters",
        ),
        (
            "fd.sip contains 1",
            "'contains' operator not supported for ip address and network filters",
        ),
        ("fd.sip = 1.2.3", "unrecognized IPv4 address 1.2.3"),
        ("fd.net = 1.2.3.4", "unrecognized IP network 1.2.3.4"),
        (
            "fd.sport = nosuchservice",
            "unrecognized protocol nosuchservice",
        ),
        ("evt.type contains exec", "unknown event type exec"),
        ("evt.type in (execve, nosuch)", "unknown event type nosuch"),
        (
            "tolower(proc.pid) = 1",
            "can't add field transformer: type 'INT64' is not supported by 'tolower' transformer applied on field 'proc.pid'",
        ),
        (
            "tolower(proc.aname) = x",
            "field 'proc.aname' does not support transformers",
        ),
        (
            "proc.name = val(proc.pid)",
            "field 'proc.name' has type 'CHARBUF' while the right-hand side field 'proc.pid' has incompatible type 'INT64'",
        ),
        (
            "proc.name pmatch val(proc.pname)",
            "operator 'PMATCH' doesn't support right-hand side fields",
        ),
        (
            "proc.name regex val(proc.pname)",
            "operator 'REGEX' doesn't support right-hand side fields",
        ),
        (
            "proc.aname = val(proc.pname)",
            "field 'proc.aname' doesn't support right-hand side fields",
        ),
        (
            "proc.name = val(proc.aname)",
            "field 'proc.aname' can't be used as a right-hand side field",
        ),
        (
            "fd.ip = val(fd.sip)",
            "field 'fd.ip' doesn't support right-hand side fields",
        ),
        ("evt.arg[x] = 1", "x is not a valid number"),
        (
            "evt.arg.nosuchparam = 1",
            "unknown event argument nosuchparam",
        ),
        (
            "evt.rawarg[0] = 1",
            "evt.arg fields must be expressed explicitly",
        ),
        ("proc.name regex '('", "invalid regular expression '('"),
        // an unmatched `)` must not close the anchoring group around the pattern
        (
            "proc.name regex 'a)|(b'",
            "invalid regular expression 'a)|(b'",
        ),
    ] {
        let e = error(src);
        assert_eq!(e.kind, FilterErrorKind::Compile, "{src}: {e}");
        assert!(e.message.starts_with(msg), "{src}: {e}");
    }
    let huge = format!("proc.name regex '{}'", "(a{1000}){1000}");
    assert_eq!(error(&huge).kind, FilterErrorKind::Compile);
    // Fields libsinsp knows but the producer does not extract yet: always missing.
    check("evt.buffer bcontains 6261", &[("X", false)]);
    check("not k8s.pod.label[app] = web", &[("O", true)]);
    check("fd.sip.name = example.com", &[("N", false)]);
    check(
        "thread.cap_effective contains CAP_SYS_ADMIN",
        &[("X", false)],
    );
    check("container.mount[0] exists", &[("O", false)]);
    check("proc.env[HOME] = /root", &[("X", false)]);
    check("evt.rawarg.res < 0", &[("OF", false)]);
}

#[test]
fn b64_transformer() {
    let ev = x().s(Field::ProcArgs, "YmFzaA==");
    let mut f = compile("b64(proc.args) = bash");
    assert!(f.matches(&ev));
    let mut f = compile("not b64(proc.args) = bash");
    assert!(!f.matches(&ev));
    // A failed decode is no match, even for !=.
    let bad = x().s(Field::ProcArgs, "!!!");
    let mut f = compile("b64(proc.args) != bash");
    assert!(!f.matches(&bad));
}

#[test]
fn event_codes_are_conservative() {
    let filters = [
        "evt.type=execve",
        "evt.type=execve and proc.name=bash",
        "evt.type in (open, openat) or evt.type=connect",
        "evt.type=execve or proc.name=bash",
        "not evt.type=execve",
        "evt.type != execve",
        "(evt.type=execve and proc.name=bash) or (evt.type=openat and fd.name exists)",
        "evt.type=execve and evt.type=openat",
        "evt.type=pread64",
        "evt.type in ()",
        "evt.type=procexit",
        "tolower(evt.type)=execve",
        "proc.name=bash",
    ];
    for src in filters {
        let mut f = compile(src);
        let codes = f.event_codes();
        for code in 0..names::EVENTS.len() as u16 {
            let name = names::EVENTS[usize::from(code)].0;
            for base in [x(), e()] {
                let ev = base.s(Field::EvtType, name);
                if f.matches(&ev) {
                    if let Some(c) = &codes {
                        assert!(c.contains(&code), "{src}: {name} ({code}) excluded");
                    }
                }
            }
        }
    }
    let codes = compile("evt.type=execve and proc.name=bash")
        .event_codes()
        .unwrap();
    assert!(!codes.is_empty());
    assert!(codes.iter().all(|c| event_name(*c) == Some("execve")));
    assert_eq!(compile("not evt.type=execve").event_codes(), None);
    assert_eq!(
        compile("evt.type=execve or proc.name=bash").event_codes(),
        None
    );
    assert_eq!(compile("evt.type=pread64").event_codes(), Some(vec![0, 1]));
    assert_eq!(compile("evt.type in ()").event_codes(), Some(vec![]));
}

#[test]
fn event_names() {
    assert_eq!(event_name(12), Some("execve"));
    assert_eq!(event_name(17), None);
    assert_eq!(event_name(u16::MAX), None);
    assert_eq!(event_param_names(13)[0], "res");
    assert!(event_param_names(u16::MAX).is_empty());
}

#[test]
fn filter_is_send_and_debug() {
    fn send<T: Send>() {}
    send::<Filter>();
    let f = compile("proc.name=bash");
    assert_eq!(f.source(), "proc.name=bash");
    assert!(format!("{f:?}").contains("proc.name=bash"));
}

/// A small xorshift generator, so the garbage test is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn garbage_never_panics() {
    let tokens = [
        "proc.name",
        "fd.name",
        "proc.pid",
        "evt.type",
        "fd.ip",
        "proc.aname[",
        "]",
        "(",
        ")",
        " ",
        "\n",
        "\t",
        "and",
        "or",
        "not",
        "not(",
        "=",
        "!=",
        "<",
        ">=",
        "in",
        "pmatch",
        "glob ",
        "regex ",
        "contains ",
        "exists",
        "'",
        "\"",
        "\\",
        "x",
        "bash",
        "1",
        "-1",
        "0x1f",
        "1.5e+3",
        ",",
        "val(",
        "tolower(",
        "b64(",
        "basename(",
        "évt",
        "\u{0}",
        "[",
        "execve",
        "/etc/*",
        "*",
        "?",
        "evt.arg.",
        "evt.rawarg.res",
        "fd.port",
        "https",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let events = ALL.map(event);
    for _ in 0..20_000 {
        let n = (rng.next() % 12) as usize + 1;
        let src: String = (0..n).map(|_| rng.pick(&tokens)).collect();
        if let Ok(mut f) = Filter::compile(&src) {
            for ev in &events {
                f.matches(ev);
            }
            let _ = f.event_codes();
        }
    }
    // Random bytes as text.
    for _ in 0..5_000 {
        let n = (rng.next() % 40) as usize;
        let bytes: Vec<u8> = (0..n).map(|_| (rng.next() % 128) as u8).collect();
        let src = String::from_utf8(bytes).unwrap();
        let _ = Filter::compile(&src);
    }
    let long_list = format!(
        "proc.name in ({})",
        (0..100_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut f = compile(&long_list);
    assert!(!f.matches(&x()));
    assert!(Filter::compile(&"(".repeat(1_000_000)).is_err());
    assert!(Filter::compile(&"not ".repeat(100_000)).is_err());
    assert!(Filter::compile(&format!("proc.name = '{}x'", "\\\\".repeat(100_000))).is_ok());
}
