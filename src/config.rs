//! Analysis settings.

/// Settings of an [`crate::Analyzer`]. Every field has a documented default;
/// build with `Config::default()` and change what you need.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Worker threads; 0 means one per core. Default 0.
    pub threads: usize,
    /// Use the parallel path even for small captures (tests use it to prove that
    /// the output does not depend on the path). Default false.
    pub force_parallel: bool,
    /// Captures smaller than this are analysed on one thread. Default 8 MiB.
    pub parallel_min_bytes: u64,
    /// Bytes of capture walked per window. Finished flows are judged, and their
    /// memory reused, at window ends, and on the parallel path a window's decoded
    /// packet views are held at once: smaller windows hold fewer finished flows.
    /// Records are released window by window (by first frame within one), and a
    /// judged flow sees the capture-wide context of the windows read so far: the
    /// window size can change the order of the records and, through that
    /// context, a capture-wide judgement; the thread count changes neither.
    /// Default 8 MiB.
    pub window_bytes: u64,
    /// Most flows tracked at once; beyond it the least recently active are
    /// evicted (and counted in `flows_evicted`). Default 1,000,000.
    pub max_flows: usize,
    /// A TCP flow idle this long (capture time) is over. Default 300 s (Zeek's
    /// `tcp_inactivity_timeout`).
    pub tcp_idle_timeout_ns: u64,
    /// A UDP/ICMP/other flow idle this long is over. Default 60 s.
    pub udp_idle_timeout_ns: u64,
    /// A DNS exchange (UDP, port 53) that was answered is over after this much
    /// silence: long enough for the genuine answer behind an injected one (OONI
    /// waits 5 s more for a second answer). Default 10 s.
    pub dns_answered_timeout_ns: u64,
    /// A TCP flow closed by FIN from both sides or by RST stays open this long for
    /// late packets; after it, a packet on the same 5-tuple starts a new flow.
    /// Default 5 s (Zeek's `tcp_close_delay` / `tcp_reset_delay`).
    pub tcp_close_linger_ns: u64,
    /// Bytes kept from the start of each direction of a TCP stream for handshake
    /// parsing: a post-quantum ClientHello spanning segments, an HTTP response head,
    /// a certificate chain. Default 16 KiB.
    pub stream_buffer_bytes: u32,
    /// Largest size a gzip-compressed capture may decompress to. Default 4 GiB.
    pub max_decompressed_bytes: u64,
    /// Block-page, block-address and false-positive signatures the detectors
    /// match against. Default: the built-in sets
    /// ([`crate::signatures::Signatures::builtin`]); add Censored Planet, OONI or
    /// TOML sets with [`crate::signatures::Signatures::with_files`].
    pub signatures: crate::signatures::Signatures,
    /// TLS key logs (`SSLKEYLOGFILE`) of the capture's clients: with them the
    /// certificate chains of TLS 1.3 handshakes, which the server encrypts,
    /// are read and checked for interception like TLS 1.2 ones. Default:
    /// none; the key logs a pcapng carries (Decryption Secrets Blocks,
    /// wherever they are: each is added as the walk reaches it, for the
    /// flows judged from then on) are added to these.
    pub tls_keys: std::sync::Arc<crate::proto::TlsKeyLog>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            threads: 0,
            force_parallel: false,
            parallel_min_bytes: 8 << 20,
            window_bytes: 8 << 20,
            max_flows: 1_000_000,
            tcp_idle_timeout_ns: 300_000_000_000,
            udp_idle_timeout_ns: 60_000_000_000,
            tcp_close_linger_ns: 5_000_000_000,
            dns_answered_timeout_ns: 10_000_000_000,
            stream_buffer_bytes: 16 * 1024,
            max_decompressed_bytes: 4 << 30,
            signatures: crate::signatures::Signatures::builtin(),
            tls_keys: std::sync::Arc::default(),
        }
    }
}

impl Config {
    /// Sets [`Config::threads`].
    pub fn threads(mut self, n: usize) -> Config {
        self.threads = n;
        self
    }

    /// Sets [`Config::force_parallel`].
    pub fn force_parallel(mut self, yes: bool) -> Config {
        self.force_parallel = yes;
        self
    }

    /// Sets [`Config::max_flows`].
    pub fn max_flows(mut self, n: usize) -> Config {
        self.max_flows = n;
        self
    }

    /// Sets [`Config::signatures`].
    pub fn signatures(mut self, s: crate::signatures::Signatures) -> Config {
        self.signatures = s;
        self
    }

    /// Sets [`Config::tls_keys`].
    pub fn tls_keys(mut self, keys: crate::proto::TlsKeyLog) -> Config {
        self.tls_keys = std::sync::Arc::new(keys);
        self
    }

    /// Sets [`Config::window_bytes`].
    pub fn window_bytes(mut self, n: u64) -> Config {
        self.window_bytes = n.max(1);
        self
    }

    /// The number of threads to use.
    pub(crate) fn effective_threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            self.threads
        }
    }
}
