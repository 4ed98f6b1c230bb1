//! The corpus flow-export captures, fed datagram by datagram to the
//! collector, decode to what tshark reports for the same files (tshark is
//! the oracle; nothing here is a hard-coded expected value except where the
//! corpus README documents what tshark cannot decode).

mod common;

use common::{column, corpus, datagrams, nums, tshark};
use vigil_collect::{CollectConfig, CollectStats, Collector};
use vigil_core::{FlowRecord, NANOS_PER_SEC};

fn collect(file: &str) -> (Vec<FlowRecord>, CollectStats) {
    let path = corpus().join("flowexport").join(file);
    let mut c = Collector::new(&CollectConfig::default());
    let mut out = Vec::new();
    for (from, ts, d) in datagrams(&path) {
        c.datagram(from, &d, ts, &mut out);
    }
    let s = c.stats();
    assert_eq!(s.datagrams, s.by_kind());
    assert_eq!(s.records, out.len() as u64);
    (out, s)
}

fn strs<T: ToString>(v: impl IntoIterator<Item = T>) -> Vec<String> {
    v.into_iter().map(|x| x.to_string()).collect()
}

/// tshark's relative time "2874324.520000000" in milliseconds.
fn rel_ms(s: &str) -> u64 {
    let (a, b) = s.split_once('.').unwrap_or((s, "0"));
    let frac: String = b.chars().chain("000".chars()).take(3).collect();
    a.parse::<u64>().unwrap() * 1000 + frac.parse::<u64>().unwrap()
}

/// tshark's absolute time "Oct  5, 2009 06:06:07.492059999 UTC" in ns.
fn abs_ns(s: &str) -> u64 {
    let w: Vec<&str> = s.split_whitespace().collect();
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == w[0])
    .unwrap() as i64
        + 1;
    let day: i64 = w[1].trim_end_matches(',').parse().unwrap();
    let year: i64 = w[2].parse().unwrap();
    let (hms, frac) = w[3].split_once('.').unwrap();
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    // days from civil (Hinnant)
    let y = if mon <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mon + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86400 + t[0] * 3600 + t[1] * 60 + t[2];
    let frac: String = frac.chars().chain("000000000".chars()).take(9).collect();
    secs as u64 * NANOS_PER_SEC + frac.parse::<u64>().unwrap()
}

#[test]
fn netflow_v5_matches_tshark() {
    let path = corpus().join("flowexport/akvorado_nfv5.pcap");
    let f = [
        "cflow.srcaddr",
        "cflow.dstaddr",
        "cflow.srcport",
        "cflow.dstport",
        "cflow.protocol",
        "cflow.packets",
        "cflow.octets",
        "cflow.tcpflags",
        "cflow.unix_secs",
        "cflow.unix_nsecs",
        "cflow.sysuptime",
        "cflow.timestart",
        "cflow.timeend",
    ];
    let t = tshark(&path, &["-d", "udp.port==9990,cflow"], &f);
    let (recs, s) = collect("akvorado_nfv5.pcap");
    assert_eq!(s.netflow_v5, 1);
    assert_eq!(s.malformed, Default::default());
    assert_eq!(recs.len(), column(&t, 0).len());
    assert_eq!(recs.len(), 29);
    assert_eq!(strs(recs.iter().map(|r| r.client)), column(&t, 0));
    assert_eq!(strs(recs.iter().map(|r| r.server)), column(&t, 1));
    assert_eq!(strs(recs.iter().map(|r| r.cport)), column(&t, 2));
    assert_eq!(strs(recs.iter().map(|r| r.sport)), column(&t, 3));
    assert_eq!(strs(recs.iter().map(|r| r.proto)), column(&t, 4));
    assert_eq!(
        recs.iter().map(|r| r.toserver.pkts).collect::<Vec<_>>(),
        nums(&column(&t, 5))
    );
    assert_eq!(
        recs.iter().map(|r| r.toserver.ip_bytes).collect::<Vec<_>>(),
        nums(&column(&t, 6))
    );
    let flags: Vec<String> = column(&t, 7);
    for (r, fl) in recs.iter().zip(&flags) {
        let want = u8::from_str_radix(fl.trim_start_matches("0x"), 16).unwrap();
        assert_eq!(r.toserver.tcp_flags, if r.proto == 6 { want } else { 0 });
    }
    let export = nums(&column(&t, 8))[0] * NANOS_PER_SEC + nums(&column(&t, 9))[0];
    let uptime = rel_ms(&column(&t, 10)[0]);
    for (i, r) in recs.iter().enumerate() {
        let st = rel_ms(&column(&t, 11)[i]);
        let en = rel_ms(&column(&t, 12)[i]);
        assert_eq!(r.start, export - (uptime - st) * 1_000_000, "record {i}");
        assert_eq!(r.end, export - (uptime - en) * 1_000_000, "record {i}");
        assert!(r.toclient == Default::default());
    }
}

#[test]
fn netflow_v9_data_before_template_and_sampling_option_match_tshark() {
    let path = corpus().join("flowexport/akvorado_nfv9_data+templates.pcap");
    let f = [
        "cflow.srcaddr",
        "cflow.dstaddr",
        "cflow.srcport",
        "cflow.dstport",
        "cflow.protocol",
        "cflow.packets",
        "cflow.octets",
        "cflow.sampling_interval",
        "cflow.unix_secs",
        "cflow.sysuptime",
        "cflow.timestart",
        "cflow.timeend",
    ];
    // two-pass tshark decodes the records that come before their template
    let t = tshark(&path, &["-2"], &f);
    let (recs, s) = collect("akvorado_nfv9_data+templates.pcap");
    assert_eq!(s.malformed, Default::default());
    assert_eq!(s.sets_without_template, 0);
    assert_eq!(
        (s.templates_learned, s.options_templates, s.options_records),
        (2, 1, 1)
    );
    assert_eq!(recs.len(), column(&t, 0).len());
    assert_eq!(recs.len(), 21);
    let rate = nums(&column(&t, 7))[0];
    assert_eq!(rate, 100, "tshark reads the options record's interval");
    assert_eq!(strs(recs.iter().map(|r| r.client)), column(&t, 0));
    assert_eq!(strs(recs.iter().map(|r| r.server)), column(&t, 1));
    assert_eq!(strs(recs.iter().map(|r| r.cport)), column(&t, 2));
    assert_eq!(strs(recs.iter().map(|r| r.sport)), column(&t, 3));
    assert_eq!(strs(recs.iter().map(|r| r.proto)), column(&t, 4));
    let pk: Vec<u64> = nums(&column(&t, 5)).iter().map(|p| p * rate).collect();
    let by: Vec<u64> = nums(&column(&t, 6)).iter().map(|p| p * rate).collect();
    assert_eq!(recs.iter().map(|r| r.toserver.pkts).collect::<Vec<_>>(), pk);
    assert_eq!(
        recs.iter().map(|r| r.toserver.ip_bytes).collect::<Vec<_>>(),
        by
    );
    let export = nums(&column(&t, 8))[0] * NANOS_PER_SEC;
    let uptime = rel_ms(&column(&t, 9)[0]);
    for (i, r) in recs.iter().enumerate() {
        let st = rel_ms(&column(&t, 10)[i]);
        let en = rel_ms(&column(&t, 11)[i]);
        assert_eq!(r.start, export - (uptime - st) * 1_000_000, "record {i}");
        assert_eq!(r.end, export - (uptime - en) * 1_000_000, "record {i}");
    }
}

#[test]
fn ipfix_biflow_templates_then_data_match_tshark() {
    let path = corpus().join("flowexport/akvorado_ipfixprobe_templates+data.pcap");
    let f = [
        "cflow.srcaddr",
        "cflow.dstaddr",
        "cflow.srcport",
        "cflow.dstport",
        "cflow.protocol",
        "cflow.packets",
        "cflow.octets",
        "cflow.abstimestart",
        "cflow.abstimeend",
        "cflow.template_id",
    ];
    let t = tshark(&path, &[], &f);
    let (recs, s) = collect("akvorado_ipfixprobe_templates+data.pcap");
    assert_eq!(s.ipfix, 2);
    assert_eq!(s.malformed, Default::default());
    assert_eq!(s.templates_learned, column(&t, 9).len() as u64);
    assert_eq!(s.templates_cached, 2);
    assert_eq!(recs.len(), column(&t, 0).len());
    assert_eq!(recs.len(), 4);
    assert_eq!(strs(recs.iter().map(|r| r.client)), column(&t, 0));
    assert_eq!(strs(recs.iter().map(|r| r.server)), column(&t, 1));
    assert_eq!(strs(recs.iter().map(|r| r.cport)), column(&t, 2));
    assert_eq!(strs(recs.iter().map(|r| r.sport)), column(&t, 3));
    assert_eq!(strs(recs.iter().map(|r| r.proto)), column(&t, 4));
    // each record carries (forward, reverse) octets and packets (RFC 5103)
    let pk = nums(&column(&t, 5));
    let by = nums(&column(&t, 6));
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(
            (r.toserver.pkts, r.toclient.pkts),
            (pk[2 * i], pk[2 * i + 1])
        );
        assert_eq!(
            (r.toserver.ip_bytes, r.toclient.ip_bytes),
            (by[2 * i], by[2 * i + 1])
        );
        // flowStart/EndMicroseconds: NTP fractions, the low bits are noise
        let (st, en) = (abs_ns(&column(&t, 7)[i]), abs_ns(&column(&t, 8)[i]));
        assert!(
            r.start.abs_diff(st) < 1000,
            "record {i}: {} vs {st}",
            r.start
        );
        assert!(r.end.abs_diff(en) < 1000, "record {i}: {} vs {en}", r.end);
    }
}

#[test]
fn netflow_v9_without_templates_is_counted_not_guessed() {
    let path = corpus().join("flowexport/ndpi_netflowv9_dataonly.pcap");
    let t = tshark(
        &path,
        &["-d", "udp.port==2057,cflow"],
        &["cflow.flowset_id"],
    );
    let (recs, s) = collect("ndpi_netflowv9_dataonly.pcap");
    assert!(recs.is_empty());
    assert_eq!(s.netflow_v9, 10);
    assert_eq!(s.sets_without_template, column(&t, 0).len() as u64);
    assert_eq!(s.sets_without_template, 23);
    assert_eq!(s.malformed, Default::default());
}

#[test]
fn sflow_flow_samples_match_tshark() {
    let path = corpus().join("flowexport/akvorado_sflow_data-1140.pcap");
    let f = [
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "sflow_245.header.frame_length",
        "sflow_245.header.payload_stripped",
        "sflow.flow_sample.sampling_rate",
        "ip.len",
        "ipv6.plen",
        "sflow_245.vlan.in",
    ];
    let t = tshark(&path, &[], &f);
    let (recs, s) = collect("akvorado_sflow_data-1140.pcap");
    assert_eq!(s.sflow_v5, 1);
    assert_eq!(s.sflow_flow_samples, 5);
    assert_eq!(s.malformed, Default::default());
    assert_eq!(recs.len(), column(&t, 8).len());
    // the first ip.src / ip.dst / ip.len are the datagram's own header
    let v4: Vec<&FlowRecord> = recs.iter().filter(|r| !r.client.v6).collect();
    let v6: Vec<&FlowRecord> = recs.iter().filter(|r| r.client.v6).collect();
    assert_eq!(strs(v4.iter().map(|r| r.client)), column(&t, 0)[1..]);
    assert_eq!(strs(v4.iter().map(|r| r.server)), column(&t, 1)[1..]);
    assert_eq!(strs(v6.iter().map(|r| r.client)), column(&t, 2));
    assert_eq!(strs(v6.iter().map(|r| r.server)), column(&t, 3));
    assert_eq!(strs(recs.iter().map(|r| r.cport)), column(&t, 4));
    assert_eq!(strs(recs.iter().map(|r| r.sport)), column(&t, 5));
    let fl = nums(&column(&t, 6));
    let strip = nums(&column(&t, 7));
    let rate = nums(&column(&t, 8));
    let vlan = nums(&column(&t, 11));
    let (mut ip4, mut ip6) = (
        nums(&column(&t, 9)[1..]).into_iter(),
        nums(&column(&t, 10)).into_iter(),
    );
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.toserver.pkts, rate[i]);
        assert_eq!(r.toserver.bytes, (fl[i] - strip[i]) * rate[i]);
        let ip_len = if r.client.v6 {
            40 + ip6.next().unwrap()
        } else {
            ip4.next().unwrap()
        };
        assert_eq!(r.toserver.ip_bytes, ip_len * rate[i], "sample {i}");
        // the extended switch record's VLAN (the sampled header is untagged)
        assert_eq!(r.vlan as u64, vlan[i] & 0xfff);
    }
}

#[test]
fn sflow_counters_and_netflow_on_the_sflow_port() {
    let path = corpus().join("flowexport/tcpdump_sflow_multiple_counter_30_pdus.pcap");
    let f = [
        "sflow_245.numsamples",
        "cflow.srcaddr",
        "cflow.packets",
        "cflow.octets",
    ];
    let t = tshark(&path, &["-d", "udp.port==40000,cflow"], &f);
    let (recs, s) = collect("tcpdump_sflow_multiple_counter_30_pdus.pcap");
    assert_eq!((s.sflow_v5, s.netflow_v5), (25, 5));
    // tshark misparses the two datagrams holding a type-2 counter sample (it
    // does not know record 2001) but still reads their sample count
    assert_eq!(
        s.sflow_counter_samples,
        nums(&column(&t, 0)).iter().sum::<u64>()
    );
    assert_eq!(s.sflow_counter_samples, 144);
    assert_eq!(s.sflow_flow_samples, 0);
    assert_eq!(s.malformed, Default::default());
    assert_eq!(strs(recs.iter().map(|r| r.client)), column(&t, 1));
    assert_eq!(
        recs.iter().map(|r| r.toserver.pkts).collect::<Vec<_>>(),
        nums(&column(&t, 2))
    );
    assert_eq!(
        recs.iter().map(|r| r.toserver.ip_bytes).collect::<Vec<_>>(),
        nums(&column(&t, 3))
    );
}
