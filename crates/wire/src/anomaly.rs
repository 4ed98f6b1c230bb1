//! Decoder anomaly kinds and their counters.
//!
//! Every malformed, truncated or refused input the decoder meets is counted
//! under exactly one kind here (a frame can hit several kinds, e.g. a lying
//! IPv4 length and then a short TCP header). Counters are a fixed array
//! indexed by the enum, so counting costs one add and never allocates.
//! Names follow Suricata's decoder-event style (`layer.event`).

macro_rules! anomalies {
    ($( $(#[$m:meta])* $var:ident => $name:literal, )+) => {
        /// One kind of decoder anomaly.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Anomaly {
            $( $(#[$m])* $var, )+
        }

        impl Anomaly {
            /// Every kind, in counter order.
            pub const ALL: &'static [Anomaly] = &[ $( Anomaly::$var, )+ ];
            /// Number of kinds.
            pub const COUNT: usize = Self::ALL.len();

            /// The Suricata-style name, e.g. `"ipv4.hlen_too_small"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Anomaly::$var => $name, )+
                }
            }
        }
    };
}

anomalies! {
    /// Link type the decoder does not know.
    LinkUnsupported => "link.unsupported",
    /// Fewer than 14 bytes for the Ethernet header.
    EthernetPktTooSmall => "ethernet.pkt_too_small",
    /// A VLAN tag cut short.
    VlanTrunc => "vlan.trunc",
    /// More stacked VLAN tags than [`crate::MAX_VLAN_LAYERS`].
    VlanTooManyLayers => "vlan.too_many_layers",
    /// Linux cooked (SLL) header cut short.
    SllPktTooSmall => "sll.pkt_too_small",
    /// Linux cooked v2 (SLL2) header cut short.
    Sll2PktTooSmall => "sll2.pkt_too_small",
    /// BSD loopback 4-byte family header cut short.
    NullPktTooSmall => "null.pkt_too_small",
    /// Raw-IP link with no byte at all.
    IpRawPktTooSmall => "ipraw.pkt_too_small",
    /// Raw-IP link whose version nibble is neither 4 nor 6.
    IpRawInvalidIpVersion => "ipraw.invalid_ip_version",
    /// ARP (Ethernet/IPv4) shorter than its 28 bytes.
    ArpPktTooSmall => "arp.pkt_too_small",

    /// Fewer than 20 bytes where the frame really ended (not a snaplen cut).
    Ipv4PktTooSmall => "ipv4.pkt_too_small",
    /// IPv4 header cut by the capture snaplen.
    Ipv4TruncPkt => "ipv4.trunc_pkt",
    /// Version nibble is not 4.
    Ipv4WrongIpVersion => "ipv4.wrong_ip_version",
    /// IHL below 5 (20 bytes).
    Ipv4HlenTooSmall => "ipv4.hlen_too_small",
    /// Total length smaller than the header length.
    Ipv4IplenSmallerThanHlen => "ipv4.iplen_smaller_than_hlen",
    /// Total length claims more bytes than the frame carried on the wire.
    Ipv4LenExceedsCaptured => "ipv4.len_exceeds_captured",

    /// Fewer than 40 bytes where the frame really ended.
    Ipv6PktTooSmall => "ipv6.pkt_too_small",
    /// IPv6 header cut by the capture snaplen.
    Ipv6TruncPkt => "ipv6.trunc_pkt",
    /// Version nibble is not 6.
    Ipv6WrongIpVersion => "ipv6.wrong_ip_version",
    /// 40 + payload length claims more than the frame carried on the wire.
    Ipv6LenExceedsCaptured => "ipv6.len_exceeds_captured",
    /// An extension header runs past the payload (or the capture).
    Ipv6TruncExthdr => "ipv6.trunc_exthdr",
    /// More chained extension headers than [`crate::MAX_IPV6_EXT_HEADERS`].
    Ipv6ExthdrTooMany => "ipv6.exthdr_too_many",

    /// IP says fewer than 20 TCP bytes.
    TcpPktTooSmall => "tcp.pkt_too_small",
    /// Fixed TCP header cut by the snaplen.
    TcpTruncPkt => "tcp.trunc_pkt",
    /// Data offset below 5.
    TcpHlenTooSmall => "tcp.hlen_too_small",
    /// Data offset beyond the TCP segment length IP gives.
    TcpHlenExceedsPkt => "tcp.hlen_exceeds_pkt",
    /// TCP options cut by the capture (the packet is still decoded).
    TcpOptTrunc => "tcp.opt_trunc",

    /// IP says fewer than 8 UDP bytes.
    UdpPktTooSmall => "udp.pkt_too_small",
    /// UDP header cut by the snaplen.
    UdpTruncPkt => "udp.trunc_pkt",
    /// UDP length field below 8.
    UdpHlenInvalid => "udp.hlen_invalid",
    /// UDP length field beyond the IP payload.
    UdpLenExceedsIpPayload => "udp.len_exceeds_ip_payload",

    /// IP says fewer than 8 ICMP bytes.
    Icmpv4PktTooSmall => "icmpv4.pkt_too_small",
    /// ICMP header cut by the snaplen.
    Icmpv4TruncPkt => "icmpv4.trunc_pkt",
    /// IP says fewer than 8 ICMPv6 bytes.
    Icmpv6PktTooSmall => "icmpv6.pkt_too_small",
    /// ICMPv6 header cut by the snaplen.
    Icmpv6TruncPkt => "icmpv6.trunc_pkt",

    /// A fragment overlaps bytes already held (first arrival wins).
    FragOverlap => "frag.overlap",
    /// Overlapping bytes differ from those held, or two last fragments
    /// disagree on the datagram length.
    FragConflict => "frag.conflict",
    /// A fragment train timed out incomplete (or was incomplete at end of input).
    FragTimeout => "frag.timeout",
    /// Trains in flight at their cap: the new fragment was dropped.
    FragTooMany => "frag.too_many",
    /// A train exceeded its fragment-count cap and was dropped.
    FragTooManyFrags => "frag.too_many_frags",
    /// Fragment ends beyond the largest possible datagram.
    FragTooLarge => "frag.too_large",
    /// Total held fragment bytes at their cap: the fragment was dropped.
    FragMemcap => "frag.memcap",
    /// Empty fragment: dropped.
    FragInvalidLength => "frag.invalid_length",
    /// Fragment cut by the snaplen: it can never be reassembled, dropped.
    FragTrunc => "frag.trunc",
}

/// Fixed array of counters, one per [`Anomaly`].
#[derive(Clone, Debug)]
pub(crate) struct Anomalies([u64; Anomaly::COUNT]);

impl Default for Anomalies {
    fn default() -> Self {
        Anomalies([0; Anomaly::COUNT])
    }
}

impl Anomalies {
    #[inline]
    pub(crate) fn bump(&mut self, a: Anomaly) {
        self.0[a as usize] += 1;
    }

    pub(crate) fn get(&self, a: Anomaly) -> u64 {
        self.0[a as usize]
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Anomaly::ALL
            .iter()
            .map(|a| (a.name(), self.0[*a as usize]))
            .filter(|(_, n)| *n != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unique_and_dotted() {
        let mut names: Vec<_> = Anomaly::ALL.iter().map(|a| a.name()).collect();
        assert!(names.iter().all(|n| n.contains('.')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Anomaly::COUNT);
        for (i, a) in Anomaly::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i);
        }
    }
}
