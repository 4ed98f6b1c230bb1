//! Byte fixtures for paths the corpus captures do not reach: IPFIX
//! variable-length and enterprise fields, reduced-size encoding,
//! millisecond times and template withdrawal; v9 options templates with a
//! scope; sFlow expanded flow samples with a raw IPv4 header; sampling from
//! the record itself.

use std::net::SocketAddr;

use vigil_collect::{CollectConfig, Collector};
use vigil_core::{Addr, FlowRecord, FlowState, NANOS_PER_SEC};

fn exporter() -> SocketAddr {
    "192.0.2.9:4739".parse().unwrap()
}

fn run(c: &mut Collector, d: &[u8]) -> Vec<FlowRecord> {
    let mut out = Vec::new();
    c.datagram(exporter(), d, 42 * NANOS_PER_SEC, &mut out);
    out
}

/// An IPFIX message: header (export time 1_700_000_000, domain 7) + sets.
fn ipfix(sets: &[Vec<u8>]) -> Vec<u8> {
    let mut d = vec![0, 10, 0, 0];
    d.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    d.extend_from_slice(&1u32.to_be_bytes());
    d.extend_from_slice(&7u32.to_be_bytes());
    for s in sets {
        d.extend_from_slice(s);
    }
    let n = d.len() as u16;
    d[2..4].copy_from_slice(&n.to_be_bytes());
    d
}

fn set(id: u16, body: &[u8]) -> Vec<u8> {
    let mut s = id.to_be_bytes().to_vec();
    s.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    s.extend_from_slice(body);
    s
}

fn be16(x: u16) -> [u8; 2] {
    x.to_be_bytes()
}

#[test]
fn ipfix_varlen_enterprise_reduced_size_and_millisecond_times() {
    let mut t = Vec::new();
    t.extend_from_slice(&be16(300)); // template id
    t.extend_from_slice(&be16(8)); // field count
    for (id, len) in [(8u16, 4u16), (12, 4), (2, 8), (1, 2)] {
        t.extend_from_slice(&be16(id));
        t.extend_from_slice(&be16(len));
    }
    // enterprise 9, element 100, variable length
    t.extend_from_slice(&be16(0x8000 | 100));
    t.extend_from_slice(&be16(65535));
    t.extend_from_slice(&9u32.to_be_bytes());
    for (id, len) in [(152u16, 8u16), (153, 8), (4, 1)] {
        t.extend_from_slice(&be16(id));
        t.extend_from_slice(&be16(len));
    }
    let start_ms = 1_699_999_990_123u64;
    let end_ms = 1_699_999_995_456u64;
    let rec = |var: &[u8], pkts: u64| {
        let mut r = vec![10, 0, 0, 1, 10, 0, 0, 2];
        r.extend_from_slice(&pkts.to_be_bytes());
        r.extend_from_slice(&be16(1500)); // octets in 2 bytes (reduced size)
        if var.len() < 255 {
            r.push(var.len() as u8);
        } else {
            r.push(255);
            r.extend_from_slice(&be16(var.len() as u16));
        }
        r.extend_from_slice(var);
        r.extend_from_slice(&start_ms.to_be_bytes());
        r.extend_from_slice(&end_ms.to_be_bytes());
        r.push(17);
        r
    };
    let mut data = rec(b"abc", 3);
    data.extend(rec(&[7u8; 300], 4));
    data.extend_from_slice(&[0, 0, 0]); // padding
    let mut c = Collector::new(&CollectConfig::default());
    let out = run(&mut c, &ipfix(&[set(2, &t), set(300, &data)]));
    let s = c.stats();
    assert_eq!(s.malformed, Default::default(), "{s:?}");
    assert_eq!(out.len(), 2);
    for (r, pkts) in out.iter().zip([3, 4]) {
        assert_eq!(r.client, Addr::v4([10, 0, 0, 1]));
        assert_eq!(r.server, Addr::v4([10, 0, 0, 2]));
        assert_eq!(r.proto, 17);
        assert_eq!(r.toserver.pkts, pkts);
        assert_eq!((r.toserver.ip_bytes, r.toserver.bytes), (1500, 1500));
        assert_eq!(r.start, start_ms * 1_000_000);
        assert_eq!(r.end, end_ms * 1_000_000);
        assert_eq!(r.state, FlowState::New);
        assert_eq!(r.toclient, Default::default());
    }
}

#[test]
fn ipfix_template_withdrawal_then_data_is_counted_without_template() {
    let mut t = be16(256).to_vec();
    t.extend_from_slice(&be16(2));
    t.extend_from_slice(&[0, 8, 0, 4, 0, 12, 0, 4]);
    let data = set(256, &[1, 1, 1, 1, 2, 2, 2, 2]);
    let mut c = Collector::new(&CollectConfig::default());
    assert_eq!(run(&mut c, &ipfix(&[set(2, &t), data.clone()])).len(), 1);
    // withdraw: template 256 with field count 0
    let w = set(2, &[1, 0, 0, 0]);
    assert!(run(&mut c, &ipfix(&[w, data])).is_empty());
    let s = c.stats();
    assert_eq!(s.templates_withdrawn, 1);
    assert_eq!(s.templates_cached, 0);
    assert_eq!(s.sets_without_template, 1);
}

#[test]
fn netflow_v9_options_template_with_scope_sets_the_sampling_rate() {
    // header: version 9, count, uptime 10_000 ms, unix secs, seq, source id 3
    let mut d = vec![0, 9, 0, 3];
    d.extend_from_slice(&10_000u32.to_be_bytes());
    d.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    d.extend_from_slice(&1u32.to_be_bytes());
    d.extend_from_slice(&3u32.to_be_bytes());
    // options template 257: scope System (1, 4 bytes); option
    // SAMPLING_INTERVAL (34, 4 bytes)
    let mut ot = be16(257).to_vec();
    ot.extend_from_slice(&be16(4)); // scope length in bytes
    ot.extend_from_slice(&be16(4)); // option length in bytes
    ot.extend_from_slice(&[0, 1, 0, 4, 0, 34, 0, 4]);
    ot.extend_from_slice(&[0, 0]); // padding
    d.extend(set(1, &ot));
    // data template 256: src, dst, packets, octets, first, last
    let mut t = be16(256).to_vec();
    t.extend_from_slice(&be16(6));
    t.extend_from_slice(&[
        0, 8, 0, 4, 0, 12, 0, 4, 0, 2, 0, 4, 0, 1, 0, 4, 0, 22, 0, 4, 0, 21, 0, 4,
    ]);
    // data first (before its template, as some exporters do)
    let mut rec = vec![10, 0, 0, 1, 10, 0, 0, 2];
    rec.extend_from_slice(&5u32.to_be_bytes());
    rec.extend_from_slice(&400u32.to_be_bytes());
    rec.extend_from_slice(&4_000u32.to_be_bytes());
    rec.extend_from_slice(&9_000u32.to_be_bytes());
    let mut body = set(256, &rec);
    body.extend(set(0, &t));
    // options data: scope value 0, interval 50
    body.extend(set(257, &[0, 0, 0, 0, 0, 0, 0, 50]));
    d.extend(body);
    let mut c = Collector::new(&CollectConfig::default());
    let out = run(&mut c, &d);
    let s = c.stats();
    assert_eq!(s.malformed, Default::default(), "{s:?}");
    assert_eq!((s.options_templates, s.options_records), (1, 1));
    assert_eq!(out.len(), 1);
    let r = &out[0];
    assert_eq!((r.toserver.pkts, r.toserver.ip_bytes), (250, 20_000));
    let export = 1_700_000_000 * NANOS_PER_SEC;
    assert_eq!(r.start, export - 6_000 * 1_000_000);
    assert_eq!(r.end, export - 1_000 * 1_000_000);
}

#[test]
fn sflow_expanded_flow_sample_with_raw_ipv4_header() {
    // a TCP SYN, IPv4, 60 bytes
    let mut ip = vec![
        0x45, 0, 0, 60, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
    ];
    ip.extend_from_slice(&[0x30, 0x39, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02]);
    ip.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
    ip.extend_from_slice(&[0u8; 20]); // options
    assert_eq!(ip.len(), 60);
    let w = |v: u32| v.to_be_bytes();
    // raw packet header record: protocol 11 (IPv4), frame length 60,
    // stripped 0, header length 60
    let mut hdr = Vec::new();
    for x in [11, 60, 0, 60] {
        hdr.extend_from_slice(&w(x));
    }
    hdr.extend_from_slice(&ip);
    // extended switch: vlan 42
    let mut sw = Vec::new();
    for x in [42, 0, 42, 0] {
        sw.extend_from_slice(&w(x));
    }
    let mut sample = Vec::new();
    // seq, source type, source index, rate 256, pool, drops, in fmt, in,
    // out fmt, out, records 2
    for x in [1, 0, 3, 256, 1000, 0, 0, 1, 0, 2, 2] {
        sample.extend_from_slice(&w(x));
    }
    sample.extend_from_slice(&w(1));
    sample.extend_from_slice(&w(hdr.len() as u32));
    sample.extend_from_slice(&hdr);
    sample.extend_from_slice(&w(1001));
    sample.extend_from_slice(&w(sw.len() as u32));
    sample.extend_from_slice(&sw);
    let mut d = Vec::new();
    // version 5, agent IPv4 192.0.2.200, sub-agent, seq, uptime, 2 samples
    for x in [5, 1] {
        d.extend_from_slice(&w(x));
    }
    d.extend_from_slice(&[192, 0, 2, 200]);
    for x in [0, 1, 1000, 2] {
        d.extend_from_slice(&w(x));
    }
    d.extend_from_slice(&w(3)); // expanded flow sample
    d.extend_from_slice(&w(sample.len() as u32));
    d.extend_from_slice(&sample);
    // a counter sample of an unknown layout, skipped by its length
    d.extend_from_slice(&w(4));
    d.extend_from_slice(&w(8));
    d.extend_from_slice(&[9; 8]);
    let mut c = Collector::new(&CollectConfig::default());
    let out = run(&mut c, &d);
    let s = c.stats();
    assert_eq!(s.malformed, Default::default(), "{s:?}");
    assert_eq!((s.sflow_flow_samples, s.sflow_counter_samples), (1, 1));
    assert_eq!(out.len(), 1);
    let r = &out[0];
    assert_eq!(r.client, Addr::v4([192, 0, 2, 1]));
    assert_eq!(r.server, Addr::v4([198, 51, 100, 7]));
    assert_eq!((r.cport, r.sport, r.proto), (12345, 22, 6));
    assert_eq!(r.toserver.pkts, 256);
    assert_eq!(
        (r.toserver.bytes, r.toserver.ip_bytes),
        (60 * 256, 60 * 256)
    );
    assert_eq!(r.toserver.tcp_flags, 0x02);
    assert_eq!(r.vlan, 42);
    assert_eq!((r.start, r.end), (42 * NANOS_PER_SEC, 42 * NANOS_PER_SEC));
    assert_eq!(r.state, FlowState::New);
}

#[test]
fn default_sampling_applies_when_the_export_says_none() {
    // NetFlow v5, sampling interval 0, one record of 2 packets / 100 bytes
    let mut d = vec![0, 5, 0, 1];
    d.extend_from_slice(&[0, 0, 0x27, 0x10]); // uptime 10 s
    d.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    d.extend_from_slice(&[0; 12]);
    let mut r = vec![10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
    r.extend_from_slice(&2u32.to_be_bytes());
    r.extend_from_slice(&100u32.to_be_bytes());
    r.extend_from_slice(&[0, 0, 0x27, 0x10, 0, 0, 0x27, 0x10]);
    r.extend_from_slice(&[0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    d.extend_from_slice(&r);
    let mut c = Collector::new(&CollectConfig {
        max_templates: 16,
        default_sampling: 10,
    });
    let out = run(&mut c, &d);
    assert_eq!(out.len(), 1);
    let r = &out[0];
    assert_eq!((r.toserver.pkts, r.toserver.ip_bytes), (20, 1000));
    // ICMP echo request: type 8 in the destination port's high byte
    assert_eq!((r.proto, r.icmp_type, r.icmp_code), (1, 8, 0));
    assert_eq!(r.start, 1_700_000_000 * NANOS_PER_SEC);
}
