//! A server stream read for its certificate chain, each certificate parsed for
//! the facts `tls.mitm` uses and matched against the built-in interception
//! authorities, a client stream read for its alert, and the bytes read as a
//! client's QUIC datagrams (Initials decrypted for their server name): any
//! bytes give an answer or nothing, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tamperscope::proto::{cert_facts, client_alert, initial_sni, server_chain};
use tamperscope::signatures::Signatures;

fuzz_target!(|data: &[u8]| {
    let db = Signatures::builtin();
    if let Some(chain) = server_chain(data) {
        let facts: Vec<_> = chain.certificates.iter().map(|c| cert_facts(c)).collect();
        for h in db.db().match_certificates(&facts) {
            assert!(h.cert < facts.len());
        }
        assert!(chain.stream_offset < data.len());
    }
    let _ = cert_facts(data);
    let _ = initial_sni(data.chunks(1400));
    if let Some(a) = client_alert(data) {
        assert!(a.stream_offset + 7 <= data.len());
    }
});
