use super::*;
use proptest::prelude::*;
use vigil_core::tcp_flags::*;

const S: Nanos = NANOS_PER_SEC;

#[derive(Default)]
struct Collect {
    flows: Vec<FlowRecord>,
    aggs: Vec<ShedAggregate>,
}
impl FlowSink for Collect {
    fn flow(&mut self, rec: &FlowRecord) {
        self.flows.push(rec.clone());
    }
    fn shed(&mut self, agg: &ShedAggregate) {
        self.aggs.push(agg.clone());
    }
}

fn tcp(
    ts: Nanos,
    src: [u8; 4],
    sp: u16,
    dst: [u8; 4],
    dp: u16,
    flags: u8,
    payload: u32,
) -> PacketInfo {
    let ip_len = 40 + payload;
    PacketInfo {
        ts,
        src: Addr::v4(src),
        dst: Addr::v4(dst),
        proto: proto::TCP,
        sport: sp,
        dport: dp,
        tcp_flags: flags,
        frames: 1,
        wire_len: (14 + ip_len).max(60),
        ip_len,
        payload_len: payload,
        ..Default::default()
    }
}

const C: [u8; 4] = [10, 0, 0, 5];
const SV: [u8; 4] = [203, 0, 113, 50];

/// A full connection: handshake, `n` data segments up with ACKs, FIN both ways.
fn connection(t0: Nanos, n: u32) -> Vec<PacketInfo> {
    let mut v = vec![
        tcp(t0, C, 50386, SV, 443, SYN, 0),
        tcp(t0 + 1000, SV, 443, C, 50386, SYN | ACK, 0),
        tcp(t0 + 2000, C, 50386, SV, 443, ACK, 0),
    ];
    for i in 0..n {
        let t = t0 + 3000 + i as u64 * 1000;
        v.push(tcp(t, C, 50386, SV, 443, ACK | PSH, 1448));
        v.push(tcp(t + 500, SV, 443, C, 50386, ACK, 0));
    }
    let t = t0 + 3000 + n as u64 * 1000;
    v.push(tcp(t, C, 50386, SV, 443, FIN | ACK, 0));
    v.push(tcp(t + 1, SV, 443, C, 50386, FIN | ACK, 0));
    v.push(tcp(t + 2, C, 50386, SV, 443, ACK, 0));
    v
}

fn total_pkts(c: &Collect) -> u64 {
    c.flows
        .iter()
        .map(|f| f.toserver.pkts + f.toclient.pkts)
        .sum::<u64>()
        + c.aggs.iter().map(|a| a.pkts).sum::<u64>()
}

#[test]
fn one_connection_one_record() {
    let mut t = FlowTable::new(&FlowConfig::default());
    let mut out = Collect::default();
    let pkts = connection(100 * S, 10);
    t.process_batch(&pkts, &mut Vec::new(), &mut out);
    t.finish(&mut out);
    assert_eq!(out.flows.len(), 1);
    let f = &out.flows[0];
    assert_eq!(f.client, Addr::v4(C));
    assert_eq!(f.server, Addr::v4(SV));
    assert_eq!((f.cport, f.sport), (50386, 443));
    assert_eq!(f.toserver.pkts, 2 + 10 + 2);
    assert_eq!(f.toclient.pkts, 1 + 10 + 1);
    assert_eq!(f.toserver.payload_bytes, 14480);
    assert_eq!(f.toserver.bytes, 3 * 60 + 10 * (14 + 40 + 1448) + 60);
    assert_eq!(f.toserver.ip_bytes, 4 * 40 + 10 * 1488);
    assert_eq!(f.state, FlowState::Closed);
    assert_eq!(f.reason, EndReason::Shutdown);
    assert_eq!(f.start, 100 * S);
    assert_eq!(f.toserver.tcp_flags, SYN | ACK | PSH | FIN);
    assert!(out.aggs.is_empty());
    assert_eq!(t.stats().flows, 1);
    assert_eq!(t.stats().flows_logged, 1);
}

#[test]
fn syn_ack_first_makes_its_receiver_the_client() {
    let mut t = FlowTable::new(&FlowConfig::default());
    let mut out = Collect::default();
    let pkts = connection(100 * S, 2);
    t.process_batch(&pkts[1..], &mut Vec::new(), &mut out);
    t.finish(&mut out);
    assert_eq!(out.flows.len(), 1);
    assert_eq!(out.flows[0].client, Addr::v4(C));
    assert_eq!(out.flows[0].state, FlowState::Closed);
}

#[test]
fn idle_flow_times_out_and_one_packet_flows_are_logged() {
    let mut t = FlowTable::new(&FlowConfig::default());
    let mut out = Collect::default();
    // a lone DNS query, then 100 s later unrelated traffic sweeps it out
    let mut q = tcp(10 * S, C, 5353, [192, 0, 2, 53], 53, 0, 30);
    q.proto = proto::UDP;
    let _ = t.process(&q, &mut out);
    for i in 0..200u64 {
        let p = tcp(
            (11 + i) * S,
            [10, 0, 0, 9],
            1000,
            [10, 0, 0, 10],
            22,
            ACK,
            10,
        );
        t.process(&p, &mut out);
    }
    assert_eq!(out.flows.len(), 1, "the query timed out during the run");
    assert_eq!(out.flows[0].reason, EndReason::Timeout);
    assert_eq!(out.flows[0].toserver.pkts, 1);
    assert_eq!(out.flows[0].end, 10 * S);
    t.finish(&mut out);
    assert_eq!(out.flows.len(), 2);
}

#[test]
fn closed_connection_reused_by_a_new_syn_is_a_new_flow() {
    let mut t = FlowTable::new(&FlowConfig::default());
    let mut out = Collect::default();
    t.process_batch(&connection(100 * S, 1), &mut Vec::new(), &mut out);
    t.process_batch(&connection(105 * S, 1), &mut Vec::new(), &mut out);
    t.finish(&mut out);
    assert_eq!(out.flows.len(), 2);
    assert!(out
        .flows
        .iter()
        .all(|f| f.toserver.pkts == 5 && f.toclient.pkts == 3));
}

/// The flood-proof promise: a spoofed SYN flood far larger than the table
/// neither evicts nor splits an established upload, and every packet is
/// accounted for, in records or in the shed aggregate of the victim.
#[test]
fn flood_does_not_split_or_evict_the_upload() {
    let mut t = FlowTable::new(&FlowConfig {
        memory: MIN_FLOW_MEMORY,
        ..Default::default()
    });
    let mut out = Collect::default();
    let upload = connection(100 * S, 20_000);
    let mut x: u64 = 0x1234_5678;
    let mut batch = Vec::new();
    let mut total = 0u64;
    for (i, p) in upload.iter().enumerate() {
        batch.push(*p);
        // 20 spoofed SYNs per upload packet, ~800k in all
        for _ in 0..20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let src = (x as u32 | 0x6400_0000).to_be_bytes();
            batch.push(tcp(
                p.ts + 1,
                src,
                (x >> 40) as u16,
                [10, 0, 1, 10],
                80,
                SYN,
                0,
            ));
        }
        if batch.len() >= 256 || i + 1 == upload.len() {
            total += batch.len() as u64;
            t.process_batch(&batch, &mut Vec::new(), &mut out);
            batch.clear();
        }
    }
    t.finish(&mut out);
    let ups: Vec<_> = out
        .flows
        .iter()
        .filter(|f| f.server == Addr::v4(SV))
        .collect();
    assert_eq!(ups.len(), 1, "the upload is one record");
    assert_eq!(ups[0].toserver.pkts, 2 + 20_000 + 2);
    assert_eq!(ups[0].toserver.payload_bytes, 20_000 * 1448);
    let st = t.stats();
    assert!(st.flows_shed > 700_000, "{st:?}");
    assert_eq!(st.forced, 0);
    assert_eq!(total_pkts(&out), total, "every packet accounted");
    assert_eq!(st.flows, st.flows_logged + st.flows_shed);
    let victim: Vec<_> = out
        .aggs
        .iter()
        .filter(|a| a.dest == Some(Addr::v4([10, 0, 1, 10])))
        .collect();
    assert_eq!(victim.len(), 1);
    assert!(st.memory_peak <= st.memory_bound, "{st:?}");
}

#[test]
fn main_table_full_of_protected_flows_forces_the_stalest() {
    let mut t = FlowTable::new(&FlowConfig {
        memory: MIN_FLOW_MEMORY,
        ..Default::default()
    });
    let mut out = Collect::default();
    let n = t.max_flows as u32 + 50;
    for i in 0..n {
        let c = (0x0a00_0000 + i).to_be_bytes();
        let ts = S + i as u64 * 1000;
        t.process_batch(
            &[
                tcp(ts, c, 1000, SV, 443, SYN, 0),
                tcp(ts + 1, SV, 443, c, 1000, SYN | ACK, 0),
                tcp(ts + 2, c, 1000, SV, 443, ACK, 0),
            ],
            &mut Vec::new(),
            &mut out,
        );
    }
    assert!(t.stats().forced >= 50);
    assert!(out.flows.iter().all(|f| f.reason == EndReason::Forced));
    t.finish(&mut out);
    assert_eq!(out.flows.len() as u32, n);
    assert!(out
        .flows
        .iter()
        .all(|f| f.toserver.pkts == 2 && f.toclient.pkts == 1));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
    /// Conservation: whatever the traffic and however small the table, every
    /// frame and every flow ends up in exactly one record or aggregate.
    #[test]
    fn everything_is_accounted(
        pkts in prop::collection::vec((0u8..40, 0u8..40, 0u16..4, any::<u8>(), 0u64..5_000, 1u32..3), 1..3000)
    ) {
        let mut t = FlowTable::new(&FlowConfig { memory: MIN_FLOW_MEMORY, ..Default::default() });
        let mut out = Collect::default();
        let mut ts = S;
        let mut frames = 0;
        let v: Vec<PacketInfo> = pkts.iter().map(|&(a, b, port, flags, dt, fr)| {
            ts += dt * 1_000_000;
            frames += fr as u64;
            let mut p = tcp(ts, [10, 0, 0, a], 1000 + port, [10, 0, 1, b], 80, flags, (flags % 3) as u32 * 100);
            p.frames = fr;
            if flags % 5 == 0 { p.proto = proto::UDP; p.tcp_flags = 0; }
            p
        }).collect();
        for chunk in v.chunks(100) { t.process_batch(chunk, &mut Vec::new(), &mut out); }
        t.finish(&mut out);
        let st = t.stats();
        prop_assert_eq!(total_pkts(&out), frames);
        prop_assert_eq!(st.packets, frames);
        prop_assert_eq!(st.flows, st.flows_logged + st.flows_shed);
        prop_assert_eq!(out.flows.len() as u64, st.flows_logged);
        prop_assert_eq!(out.aggs.iter().map(|a| a.flows).sum::<u64>(), st.flows_shed);
    }
}

#[test]
fn flow_ids_are_stable_from_the_first_packet_and_ctx_tracks_the_handshake() {
    let mut t = FlowTable::new(&FlowConfig::default());
    let mut out = Collect::default();
    let mut ctx = Vec::new();
    t.process_batch(&connection(100 * S, 1), &mut ctx, &mut out);
    t.finish(&mut out);
    assert!(ctx[0].new_flow && ctx[0].to_server && !ctx[0].established);
    assert!(!ctx[1].new_flow && !ctx[1].to_server);
    assert!(ctx[2].established);
    assert!(ctx.iter().all(|c| c.flow_id == out.flows[0].flow_id));
    assert_eq!(ctx.last().unwrap().flow_pkts, 8);
}
