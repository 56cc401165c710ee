//! Application protocols: what a flow carries, and the names that can trigger
//! interference (TLS SNI, HTTP Host, DNS query name).
//!
//! Parsers read the bounded stream buffers of a finished flow
//! ([`crate::flow::StreamBuf`]), so a ClientHello or a request head split over
//! segments is seen whole. Each parser starts with a cheap check of the first bytes
//! and gives up early: most flows are rejected in a few comparisons.

mod dns;
mod http;
mod tls;

pub use dns::dns_qname;
pub use http::{HttpRequest, http_request};
pub use tls::client_hello_sni;

use crate::flow::{Flow, TO_CLIENT, TO_SERVER};

/// An application protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AppProto {
    /// HTTP/1.x.
    Http,
    /// TLS.
    Tls,
    /// DNS.
    Dns,
    /// Not identified.
    Unknown,
}

impl AppProto {
    /// The name used in the output (`app_proto`).
    pub fn as_str(self) -> &'static str {
        match self {
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Dns => "dns",
            AppProto::Unknown => "unknown",
        }
    }
}

/// How sure an identification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Confidence {
    /// The protocol's own structure was parsed.
    Certain,
    /// The first bytes fit, but not enough was seen to parse it.
    Likely,
}

impl Confidence {
    /// The name used in the output.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Certain => "certain",
            Confidence::Likely => "likely",
        }
    }
}

/// What a flow carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppInfo {
    /// The protocol.
    pub proto: AppProto,
    /// How sure.
    pub confidence: Option<Confidence>,
    /// TLS server name.
    pub sni: Option<String>,
    /// HTTP Host.
    pub http_host: Option<String>,
    /// DNS query name.
    pub dns_qname: Option<String>,
}

impl AppInfo {
    fn unknown() -> AppInfo {
        AppInfo {
            proto: AppProto::Unknown,
            confidence: None,
            sni: None,
            http_host: None,
            dns_qname: None,
        }
    }
}

/// Identifies a flow's application protocol from its first bytes.
pub fn identify(f: &Flow) -> AppInfo {
    let up = f.dirs[TO_SERVER].stream.bytes();
    let down = f.dirs[TO_CLIENT].stream.bytes();
    let mut info = AppInfo::unknown();
    match f.key.proto {
        6 => {
            if let Some(hello) = tls::probe_client_hello(up) {
                info.proto = AppProto::Tls;
                info.confidence = Some(if hello {
                    Confidence::Certain
                } else {
                    Confidence::Likely
                });
                info.sni = client_hello_sni(up);
            } else if let Some(req) = http_request(up) {
                info.proto = AppProto::Http;
                info.confidence = Some(Confidence::Certain);
                info.http_host = req.host;
            } else if (f.server.port == 53 || f.client.port == 53) && up.len() > 2 {
                // DNS over TCP: a 2-byte length, then the message.
                if let Some(q) = dns_qname(&up[2..]) {
                    info.proto = AppProto::Dns;
                    info.confidence = Some(Confidence::Certain);
                    info.dns_qname = Some(q);
                }
            }
        }
        17 if matches!(f.server.port, 53 | 5353) || matches!(f.client.port, 53 | 5353) => {
            if let Some(q) = dns_qname(up).or_else(|| dns_qname(down)) {
                info.proto = AppProto::Dns;
                info.confidence = Some(Confidence::Certain);
                info.dns_qname = Some(q);
            }
        }
        _ => {}
    }
    info
}
