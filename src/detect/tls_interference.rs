//! `tls.interference`: a TLS handshake killed after the ClientHello.
//!
//! Builds on the TCP findings of the same flow: a ClientHello was sent, no
//! ServerHello came back, and the connection was reset by an injected RST or its
//! ClientHello was swallowed. The SNI is the trigger; a ClientHello that
//! carried an ECH or ESNI extension says so (`encrypted_client_hello`), since
//! censors block by the extension as well as by the name (the outer SNI of a
//! real ECH hello is the provider's public name, not the site). When the same
//! server completed a handshake in another flow, that flow is named
//! (`server_completed_handshake`): the server works, so the content of this
//! hello (its name, its extension) is what was blocked. A control whose hello
//! had no ECH or ESNI extension is preferred: for a hello with one, a plain
//! hello getting through (above all with the same name) says the extension
//! was what was blocked.

use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::flow::TO_SERVER;
use crate::proto::{AppProto, client_hello_hidden_name, starts_with_server_hello};
use crate::report::Finding;

/// The detector.
pub struct TlsInterference;

impl Detector for TlsInterference {
    fn kind(&self) -> &'static str {
        "tls.interference"
    }

    fn inspect(&self, v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) {
        if v.app.proto != AppProto::Tls {
            return;
        }
        let f = v.flow;
        if starts_with_server_hello(v.down) {
            return;
        }
        let Some(hello_frame) = f.dirs[TO_SERVER].first_payload_frame else {
            return;
        };
        let cause = out
            .iter()
            .filter(|x| x.flow_id == f.id && matches!(x.kind, "tcp.injected_rst" | "tcp.blackhole"))
            .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
            .cloned();
        let Some(cause) = cause else { return };
        let failure = if cause.kind == "tcp.injected_rst" {
            "connection_reset"
        } else {
            "generic_timeout_error"
        };
        let mut frames = cause.frames.clone();
        frames.push(hello_frame);
        let mut b = FindingBuilder::new(v, "tls.interference", f.first_ts.0)
            .confidence(cause.confidence)
            .frames(frames)
            .evidence("client_hello_frame", hello_frame)
            .evidence("server_hello_seen", false)
            .evidence("cause", cause.kind)
            .trigger_from(v)
            .ooni(failure, "http-failure");
        let hidden = client_hello_hidden_name(v.up);
        if let Some(h) = hidden {
            b = b.evidence("encrypted_client_hello", h.as_str());
        }
        let served = cx.tls_served(f);
        let control = served
            .plain
            .map(|c| (c, false))
            .or(served.hidden.map(|c| (c, true)));
        if let Some(((id, frame), ech)) = control {
            b = b.evidence(
                "server_completed_handshake",
                serde_json::json!({"flow_id": id, "server_hello_frame": frame, "encrypted_client_hello": ech}),
            );
        }
        if let Some(p) = cause.profile {
            b = b.profile(p);
        }
        out.push(b.build());
    }
}
