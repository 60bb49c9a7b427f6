//! Feeds arbitrary bytes to the scap reader: it must never panic, hang or allocate
//! without bound, whatever the input (plain or gzip).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysflow::source::scap::{ScapItem, ScapReader, params};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = ScapReader::new(data) else {
        return;
    };
    let meta = reader.metadata();
    let _ = (meta.processes.len(), meta.fds.len(), meta.interfaces.len());
    loop {
        match reader.next_item() {
            Ok(Some(ScapItem::Event(ev))) => {
                let _ = (ev.info(), ev.param(ev.nparams()));
                for p in ev.params {
                    let _ = params::le_uint(p);
                    let _ = params::le_int(p);
                    let _ = params::charbuf(p);
                    let _ = params::nul_list(p).count();
                    let _ = params::sockaddr(p);
                    let _ = params::socktuple(p);
                    let _ = params::fdlist(p).map(Iterator::count);
                }
            }
            Ok(Some(ScapItem::NewSection)) => {
                let _ = reader.metadata().processes.len();
            }
            Ok(None) | Err(_) => break,
        }
    }
    // A finished reader stays finished.
    assert!(matches!(reader.next_event(), Ok(None)));
});
