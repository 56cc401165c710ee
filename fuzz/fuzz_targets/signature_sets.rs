//! A signature file of any of the three formats a user can point the analyzer
//! at (our TOML, Censored Planet's JSON Lines, OONI's CSV), loaded, compiled and
//! matched against a response and DNS answers: a bad file is an error or a
//! counted rejection, never a panic.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use tamperscope::proto::http_response;
use tamperscope::signatures::{
    SignatureSet, Signatures, add_censoredplanet, from_ooni_csv, from_toml,
};

const RESPONSE: &[u8] = b"HTTP/1.1 403 Forbidden\r\nServer: nginx\r\nLocation: http://10.10.34.34/\r\n\
Content-Type: text/html\r\n\r\n<html><title>Access denied</title><body>blocked by order</body></html>";

fuzz_target!(|data: &[u8]| {
    let Some((&format, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let set = match format % 4 {
        0 => match from_toml(&text) {
            Ok(s) => s,
            Err(_) => return,
        },
        1 | 2 => {
            let mut s = SignatureSet::new("fuzz");
            add_censoredplanet(&mut s, &text, format % 4 == 2);
            s
        }
        _ => from_ooni_csv("fuzz", &text),
    };
    let Ok(sigs) = Signatures::from_sets(vec![set]) else {
        return;
    };
    let db = sigs.db();
    if let Some(h) = http_response(RESPONSE) {
        let start = h.head_len.unwrap_or(RESPONSE.len());
        let _ = db.match_http(RESPONSE, Some(start), &h.headers);
    }
    let _ = db.match_http(rest, None, &[]);
    let _ = db.match_dns(IpAddr::V4(Ipv4Addr::new(10, 10, 34, 34)));
    let _ = db.match_dns_name("blocked.example");
});
