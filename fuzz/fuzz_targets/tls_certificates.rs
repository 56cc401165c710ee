//! A server stream read for its certificate chain, each certificate parsed for
//! the facts `tls.mitm` uses and matched against the built-in interception
//! authorities, a client stream read for its alert, and the bytes read as a
//! client's QUIC datagrams (Initials decrypted for their ClientHello), and as
//! a TLS 1.3 server stream opened with a key log that has its client's keys:
//! any bytes give an answer or nothing, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use tamperscope::proto::{
    TlsKeyLog, cert_facts, client_alert, initial_client_hello, server_chain,
    tls13_server_certificates,
};
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
    let _ = initial_client_hello(data.chunks(1400));
    if let Some(a) = client_alert(data) {
        assert!(a.stream_offset + 7 <= data.len());
    }
    // A ClientHello whose random the key log knows, then `data` as the
    // server's stream (ServerHello, records).
    static KEYS: OnceLock<TlsKeyLog> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        TlsKeyLog::parse(&format!(
            "SERVER_HANDSHAKE_TRAFFIC_SECRET {} {}",
            "00".repeat(32),
            "11".repeat(32)
        ))
    });
    let mut up = vec![22, 3, 1, 0, 100, 1, 0, 0, 96, 3, 3];
    up.extend_from_slice(&[0; 32]);
    if let Some(c) = tls13_server_certificates(&up, data, keys) {
        assert!(c.record_offset < data.len());
    }
});
