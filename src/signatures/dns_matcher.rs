//! Block addresses and names in DNS answers: exact addresses in a hash map,
//! networks checked one by one (the published sets have few), CNAME targets by
//! name.

use std::collections::HashMap;
use std::net::IpAddr;

use super::model::{Location, Pattern, Signature, in_network};

/// The compiled DNS-answer signatures.
#[derive(Default)]
pub(crate) struct DnsMatcher {
    exact: HashMap<IpAddr, Vec<usize>>,
    networks: Vec<(IpAddr, u8, usize)>,
    names: HashMap<String, Vec<usize>>,
}

impl DnsMatcher {
    /// Compiles the DNS-answer signatures of `sigs`.
    pub fn new(sigs: &[Signature]) -> DnsMatcher {
        let mut m = DnsMatcher::default();
        for (i, s) in sigs.iter().enumerate() {
            if let (Location::DnsAnswer, Pattern::Name(n)) = (&s.location, &s.pattern) {
                m.names.entry(n.clone()).or_default().push(i);
            }
            if let (Location::DnsAnswer, Pattern::Network(a, l)) = (&s.location, &s.pattern) {
                let full = if a.is_ipv4() { 32 } else { 128 };
                if *l == full {
                    m.exact.entry(*a).or_default().push(i);
                } else {
                    m.networks.push((*a, *l, i));
                }
            }
        }
        m
    }

    /// The signatures a CNAME target matches.
    pub fn matches_name(&self, name: &str) -> Vec<usize> {
        self.names.get(name).cloned().unwrap_or_default()
    }

    /// The signatures an answer address matches.
    pub fn matches(&self, ip: IpAddr) -> Vec<usize> {
        let mut v: Vec<usize> = self.exact.get(&ip).cloned().unwrap_or_default();
        v.extend(
            self.networks
                .iter()
                .filter(|(n, l, _)| in_network(ip, *n, *l))
                .map(|(_, _, i)| *i),
        );
        v.sort_unstable();
        v
    }
}
