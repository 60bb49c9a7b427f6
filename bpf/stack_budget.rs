//! The BPF verifier's stack budget, checked at build time. Without private stacks (whether a
//! kernel gives a tracing program's subprograms their own stacks depends on its version and
//! build) the verifier sums the stack frames of every bpf-to-bpf call chain, `bpf_loop`
//! callbacks included, each frame rounded up to 16 bytes under the JIT, and refuses a
//! program whose deepest chain passes 512 bytes ("combined stack size of N calls is M") or
//! 8 frames. This walks the compiled object's call graph the same way, from each program,
//! so that a probe change that would not load on such a kernel fails the build instead.
//!
//! A frame's depth is the lowest stack offset its instructions reach: loads and stores
//! through `r10`, and pointers made from `r10` plus a negative constant (helper buffers),
//! followed through register copies in one pass over the code (not along its jumps: what
//! clang emits for a stack address is its computation right before its use). Frames are
//! rounded to 16 bytes, as under the JIT (`CONFIG_BPF_JIT_ALWAYS_ON` on these kernels;
//! the interpreter rounds to 32). A call whose relocation names no code (a kfunc, an
//! extern) is no frame.

use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionKind, SymbolKind};
use std::collections::HashMap;

/// The verifier's limits (`MAX_BPF_STACK`, `MAX_CALL_FRAMES`).
const MAX_STACK: u64 = 512;
const MAX_FRAMES: usize = 8;

/// A function of the object: its stack depth and whom it calls (direct calls and callbacks
/// it hands to helpers), by (section index, byte offset).
struct Func {
    name: String,
    depth: u64,
    callees: Vec<(usize, u64)>,
}

/// The deepest chain of `obj`'s programs: its byte total and its frames (name: rounded
/// depth). Errors on an object it cannot read.
pub fn deepest_chain(obj: &[u8]) -> Result<(u64, Vec<String>), String> {
    let file = object::File::parse(obj).map_err(|e| format!("reading the BPF object: {e}"))?;
    let mut funcs: HashMap<(usize, u64), Func> = HashMap::new();
    let mut programs = Vec::new();
    for sym in file.symbols() {
        if sym.kind() != SymbolKind::Text {
            continue;
        }
        let Some(sec_idx) = sym.section_index() else {
            continue;
        };
        let sec = file
            .section_by_index(sec_idx)
            .map_err(|e| format!("symbol {:?}: {e}", sym.name()))?;
        if sec.kind() != SectionKind::Text {
            continue;
        }
        let data = sec.data().map_err(|e| e.to_string())?;
        let (start, size) = (sym.address() as usize, sym.size() as usize);
        let code = data
            .get(start..start + size)
            .ok_or_else(|| format!("symbol {:?} out of its section", sym.name()))?;
        // relocations of this function's instructions, by offset in the section
        let mut relocs = HashMap::new();
        for (off, r) in sec.relocations() {
            if (start as u64..(start + size) as u64).contains(&off)
                && let RelocationTarget::Symbol(si) = r.target()
                && let Ok(t) = file.symbol_by_index(si)
            {
                relocs.insert(off, t);
            }
        }
        let name = sym.name().unwrap_or("?").to_string();
        let mut f = Func {
            name,
            depth: 0,
            callees: Vec::new(),
        };
        // registers holding r10 + offset
        let mut fp: [Option<i64>; 11] = [None; 11];
        let mut pc = 0;
        while pc + 8 <= code.len() {
            let insn = &code[pc..pc + 8];
            let at = (start + pc) as u64;
            let (op, dst, src) = (insn[0], (insn[1] & 0xf) as usize, (insn[1] >> 4) as usize);
            let off = i16::from_le_bytes([insn[2], insn[3]]) as i64;
            let imm = i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]) as i64;
            let mut below = |o: i64| {
                if o < 0 {
                    f.depth = f.depth.max(o.unsigned_abs());
                }
            };
            match op & 7 {
                // LDX: through r10, or through a register holding r10 + offset
                1 if src == 10 => below(off),
                1 if src < 10 && fp[src].is_some() => below(fp[src].unwrap_or(0) + off),
                // ST, STX (atomics included), likewise
                2 | 3 if dst == 10 => below(off),
                2 | 3 if dst < 10 && fp[dst].is_some() => below(fp[dst].unwrap_or(0) + off),
                _ => {}
            }
            if op == 0xbf && dst < 10 {
                // dst = src: r10, or a register holding r10 + offset, or another value
                fp[dst] = if src == 10 { Some(0) } else { fp[src.min(10)] };
            } else if op == 0x07 && dst < 10 && fp[dst].is_some() {
                let o = fp[dst].unwrap_or(0) + imm; // dst += imm
                fp[dst] = Some(o);
                below(o);
            } else if op == 0x85 {
                // a call: r0-r5 clobbered; a bpf-to-bpf call (src 1) names its callee
                fp[..6].iter_mut().for_each(|r| *r = None);
                if src == 1 {
                    let target = match relocs.get(&at) {
                        Some(t) if t.kind() == SymbolKind::Section => {
                            t.section_index().map(|s| (s.0, ((imm + 1) * 8) as u64))
                        }
                        Some(t) => t.section_index().map(|s| (s.0, t.address())),
                        None => Some((sec_idx.0, (at as i64 + (imm + 1) * 8) as u64)),
                    };
                    f.callees.extend(target);
                }
            } else if dst < 10 && matches!(op & 7, 0 | 1 | 4 | 7) {
                fp[dst] = None; // dst written otherwise
            }
            if op == 0x18 {
                // ld_imm64: a function's address (a callback) when relocated to code
                if let Some(t) = relocs.get(&at)
                    && let Some(s) = t.section_index()
                    && file
                        .section_by_index(s)
                        .is_ok_and(|s| s.kind() == SectionKind::Text)
                {
                    let addr = if t.kind() == SymbolKind::Section {
                        imm as u64
                    } else {
                        t.address()
                    };
                    f.callees.push((s.0, addr));
                }
                pc += 16;
            } else {
                pc += 8;
            }
        }
        if sec.name().is_ok_and(|n| n != ".text") {
            programs.push((sec_idx.0, start as u64));
        }
        funcs.insert((sec_idx.0, start as u64), f);
    }
    let mut best = (0, Vec::new());
    for p in programs {
        let mut path = Vec::new();
        walk(&funcs, p, 0, &mut path, &mut best)?;
    }
    Ok(best)
}

fn walk(
    funcs: &HashMap<(usize, u64), Func>,
    at: (usize, u64),
    total: u64,
    path: &mut Vec<String>,
    best: &mut (u64, Vec<String>),
) -> Result<(), String> {
    let f = funcs
        .get(&at)
        .ok_or_else(|| format!("a call to no function: section {} offset {}", at.0, at.1))?;
    // (this call would be frame path.len() + 1)
    if path.len() >= MAX_FRAMES {
        return Err(format!(
            "a BPF call chain of more than {MAX_FRAMES} frames: {}",
            path.join(" > ")
        ));
    }
    let depth = f.depth.div_ceil(16) * 16;
    let total = total + depth;
    path.push(format!("{}:{depth}", f.name));
    if total > best.0 {
        *best = (total, path.clone());
    }
    for &c in &f.callees {
        walk(funcs, c, total, path, best)?;
    }
    path.pop();
    Ok(())
}

/// Fails (with the chain) when the deepest chain of `obj` passes the verifier's budget;
/// otherwise gives that chain: its bytes and frames.
pub fn check(obj: &[u8], what: &str) -> Result<String, String> {
    let (total, chain) = deepest_chain(obj)?;
    let chain = format!("{total} bytes: {}", chain.join(" > "));
    if total > MAX_STACK {
        return Err(format!(
            "{what}: a BPF call chain needs more stack than the verifier's {MAX_STACK} bytes \
             on kernels without private stacks: {chain}"
        ));
    }
    Ok(chain)
}
