//! Unit tests on hand-made captures: every format variant, truncation, caps
//! and the structural errors.

mod common;

use common::*;
use vigil_capture::{linktype, open_reader, Merge, PacketSource, MAX_CAPLEN};

const S: u64 = 1_000_000_000;

fn three_pcap(be: bool, ns: bool) -> Vec<u8> {
    let mut f = pcap_header(be, ns, linktype::ETHERNET);
    f.extend(pcap_record(be, 100, 5, 60, &[1; 60]));
    f.extend(pcap_record(be, 101, 999_999, 1514, &[2; 1514]));
    f.extend(pcap_record(be, 102, 0, 3, &[3; 3]));
    f
}

#[test]
fn pcap_little_endian_micro() {
    let p = read_all(&three_pcap(false, false));
    assert_eq!(p.len(), 3);
    assert_eq!(p[0].ts, 100 * S + 5_000);
    assert_eq!(p[1].ts, 101 * S + 999_999_000);
    assert_eq!(p[1].data, vec![2; 1514]);
    assert_eq!(p[1].orig_len, 1514);
    assert_eq!(p[2].data, vec![3; 3]);
    assert!(p
        .iter()
        .all(|x| x.linktype == linktype::ETHERNET && x.interface == 0));
}

#[test]
fn pcap_big_endian_and_nanos() {
    let p = read_all(&three_pcap(true, true));
    assert_eq!(p.len(), 3);
    assert_eq!(p[0].ts, 100 * S + 5);
    assert_eq!(p[1].ts, 101 * S + 999_999);
    assert_eq!(read_all(&three_pcap(false, true))[0].ts, 100 * S + 5);
    assert_eq!(read_all(&three_pcap(true, false))[1].data, vec![2; 1514]);
}

#[test]
fn pcap_fcs_bits_in_linktype_field_are_accepted() {
    // Bits 28..31 give the FCS length, not part of the link type.
    let mut f = pcap_header(false, false, 0x3000_0001);
    f.extend(pcap_record(false, 1, 0, 10, &[0; 10]));
    let p = read_all(&f);
    assert_eq!(p[0].linktype, 1);
}

#[test]
fn pcap_small_reads_give_same_packets() {
    let f = three_pcap(false, false);
    let want = read_all(&f);
    for chunk in [1, 3, 17, 4096] {
        let r = Dribble {
            data: f.clone(),
            at: 0,
            chunk,
        };
        let mut s = open_reader("dribble", Box::new(r), None).unwrap();
        let (got, e) = drain(&mut *s);
        assert!(e.is_none());
        assert_eq!(got, want, "chunk {chunk}");
    }
}

#[test]
fn pcap_truncated_last_record_is_a_warning() {
    let f = three_pcap(false, false);
    // Cut inside the last record's data, inside its header, and inside the
    // second record's data.
    for (cut, kept, needs) in [
        (3, 2, "needs 19 bytes, 16 present"),
        (10, 2, "needs 16 bytes, 9 present"),
    ] {
        let mut s = open_bytes(&f[..f.len() - cut]).unwrap();
        let (p, e) = drain(&mut *s);
        assert!(e.is_none());
        assert_eq!(p.len(), kept);
        let w = s.take_warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("test.pcap: last record truncated"),
            "{}",
            w[0]
        );
        assert!(w[0].contains(needs), "{}", w[0]);
        assert!(w[0].contains("2 packets kept"), "{}", w[0]);
        assert!(s.take_warnings().is_empty());
        assert!(s.next_packet().unwrap().is_none());
    }
    let mut s = open_bytes(&f[..24 + 76 + 16 + 300]).unwrap();
    let (p, _) = drain(&mut *s);
    assert_eq!(p.len(), 1);
    let w = s.take_warnings();
    assert!(
        w[0].contains("needs 1530 bytes, 316 present); 1 packets kept"),
        "{w:?}"
    );
}

#[test]
fn pcap_header_only_is_an_empty_capture() {
    let mut s = open_bytes(&pcap_header(false, false, 1)).unwrap();
    assert!(s.peek_ts().unwrap().is_none());
    assert!(s.next_packet().unwrap().is_none());
    assert!(s.take_warnings().is_empty());
}

#[test]
fn caplen_above_orig_len_is_tolerated() {
    let mut f = pcap_header(false, false, 1);
    f.extend(pcap_record(false, 1, 0, 4, &[7; 64]));
    let p = read_all(&f);
    assert_eq!(p[0].data.len(), 64);
    assert_eq!(p[0].orig_len, 4);
}

#[test]
fn caplen_above_cap_is_an_error() {
    let mut f = pcap_header(false, false, 1);
    f.extend(pcap_record(false, 1, 0, 60, &[0; 60]));
    let mut hdr = pcap_record(false, 2, 0, 60, &[]);
    hdr[8..12].copy_from_slice(&((MAX_CAPLEN as u32) + 1).to_le_bytes());
    f.extend(hdr);
    f.extend([0; 100]);
    let mut s = open_bytes(&f).unwrap();
    let (p, e) = drain(&mut *s);
    assert_eq!(p.len(), 1);
    let msg = e.expect("error").to_string();
    assert!(
        msg.starts_with("test.pcap: record 2: captured length 16777217 exceeds the 16 MiB cap"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn large_record_grows_the_buffer() {
    let big = vec![0xab; 9 << 20];
    let mut f = pcap_header(false, false, 1);
    f.extend(pcap_record(false, 1, 0, big.len() as u32, &[1; 100]));
    f.extend(pcap_record(false, 2, 0, big.len() as u32, &big));
    f.extend(pcap_record(false, 3, 0, 10, &[1; 10]));
    let p = read_all(&f);
    assert_eq!(p.len(), 3);
    assert_eq!(p[1].data.len(), big.len());
    assert!(p[1].data == big);
}

#[test]
fn header_errors_name_file_and_defect() {
    let err = |b: &[u8]| open_bytes(b).err().expect("should fail").to_string();
    assert_eq!(err(&[]), "test.pcap: empty file (no capture header)");
    assert!(
        err(b"GIF89a....").contains("not a pcap, pcapng or gzip file (starts with 47 49 46 38)")
    );
    assert!(err(&[0xd4, 0xc3]).contains("truncated capture file header"));
    let h = pcap_header(false, false, 1);
    assert!(err(&h[..23]).contains("truncated pcap file header (24 bytes needed, 23 present)"));
    let mut v = h.clone();
    v[4] = 1;
    assert!(err(&v).contains("unsupported pcap version 1.4"));
    let mut v = h.clone();
    v[20..24].copy_from_slice(&0x0030_0001u32.to_le_bytes());
    assert!(err(&v).contains("linktype reserved field not zero (0x00300000)"));
}

fn two_section_pcapng() -> Vec<u8> {
    let mut f = Vec::new();
    // Section 1, little-endian: Ethernet at µs (default resolution).
    f.extend(shb(
        false,
        &[opt(false, 4, b"vigil test"), opt(false, 0, b"")].concat(),
    ));
    f.extend(idb(false, 1, 0, &[]));
    f.extend(epb(false, 0, 1_500_000, 60, &[1; 60]));
    f.extend(block(false, 0x0000_0005, &[9; 20])); // interface statistics: skipped
    f.extend(block(false, 0x4000_0bad, &[9; 8])); // custom: skipped
    f.extend(pb(false, 0, 2_000_000, 61, &[2; 61]));
    // Section 2, big-endian: two interfaces.
    let ns = opt(true, 9, &[9]);
    let pow2 = [
        opt(true, 9, &[0x80 | 20]),
        opt(true, 14, &10i64.to_be_bytes()),
    ]
    .concat();
    f.extend(shb(true, &[]));
    f.extend(idb(true, linktype::RAW as u16, 0, &ns));
    f.extend(idb(true, linktype::LINUX_SLL as u16, 0, &pow2));
    f.extend(epb(true, 1, 3 << 20, 100, &[3; 33])); // 3 s + 10 s offset
    f.extend(epb(true, 0, 20 * S + 7, 40, &[4; 40]));
    f.extend(spb(true, 40, &[5; 40]));
    f
}

#[test]
fn pcapng_sections_interfaces_resolutions() {
    let p = read_all(&two_section_pcapng());
    assert_eq!(p.len(), 5);
    assert_eq!(
        (p[0].ts, p[0].linktype, p[0].interface, p[0].orig_len),
        (1_500_000_000, 1, 0, 60)
    );
    assert_eq!(p[0].data, vec![1; 60]);
    assert_eq!((p[1].ts, p[1].linktype, p[1].data.len()), (2 * S, 1, 61));
    // Second section: interfaces numbered on from the first section's.
    assert_eq!(
        (
            p[2].ts,
            p[2].linktype,
            p[2].interface,
            p[2].data.len(),
            p[2].orig_len
        ),
        (13 * S, linktype::LINUX_SLL, 2, 33, 100)
    );
    assert_eq!(
        (p[3].ts, p[3].linktype, p[3].interface),
        (20 * S + 7, linktype::RAW, 1)
    );
    // SPB: interface 0 of its section, time of the previous packet.
    assert_eq!(
        (p[4].ts, p[4].linktype, p[4].interface),
        (20 * S + 7, linktype::RAW, 1)
    );
    assert_eq!(p[4].data, vec![5; 40]);
}

#[test]
fn pcapng_spb_obeys_snaplen_and_orig_len() {
    let mut f = shb(false, &[]);
    f.extend(idb(false, 1, 16, &[]));
    f.extend(spb(false, 40, &[5; 40])); // snaplen 16 wins
    f.extend(spb(false, 3, &[6; 8])); // orig_len 3 wins over padding
    let p = read_all(&f);
    assert_eq!(p[0].data, vec![5; 16]);
    assert_eq!(p[1].data, vec![6; 3]);
}

#[test]
fn pcapng_small_reads_and_peek() {
    let f = two_section_pcapng();
    let want = read_all(&f);
    let r = Dribble {
        data: f,
        at: 0,
        chunk: 5,
    };
    let mut s = open_reader("x.pcapng", Box::new(r), None).unwrap();
    let mut got = Vec::new();
    while let Some(t) = s.peek_ts().unwrap() {
        assert_eq!(s.peek_ts().unwrap(), Some(t));
        let p = s.next_packet().unwrap().unwrap();
        assert_eq!(p.ts, t);
        got.push(p.data.to_vec());
    }
    assert_eq!(got, want.iter().map(|p| p.data.clone()).collect::<Vec<_>>());
}

#[test]
fn pcapng_truncated_last_block_is_a_warning() {
    let f = two_section_pcapng();
    let mut s = open_bytes(&f[..f.len() - 10]).unwrap();
    let (p, e) = drain(&mut *s);
    assert!(e.is_none());
    assert_eq!(p.len(), 4);
    let w = s.take_warnings();
    assert!(
        w[0].contains("last block truncated (needs 56 bytes, 46 present); 4 packets kept"),
        "{w:?}"
    );
}

#[test]
fn pcapng_structural_errors() {
    let err_at_open_or_read = |f: &[u8]| -> String {
        match open_bytes(f) {
            Err(e) => e.to_string(),
            Ok(mut s) => drain(&mut *s).1.expect("should fail").to_string(),
        }
    };
    let head = [shb(false, &[]), idb(false, 1, 0, &[])].concat();
    // Trailer differs from header.
    let mut b = epb(false, 0, 1, 4, &[0; 4]);
    let n = b.len();
    b[n - 4] ^= 4;
    let m = err_at_open_or_read(&[head.clone(), b].concat());
    assert!(
        m.contains("total length in header 52 and trailer 48 don't match"),
        "{m}"
    );
    // Length not a multiple of 4, too small, huge.
    for (len, words) in [
        (30u32, "length 30 is not a multiple of 4"),
        (4, "has a length of 4 < 12"),
        (0xfff0_0000, "exceeds the 17 MiB cap"),
    ] {
        let mut b = block(false, 6, &[0; 40]);
        b[4..8].copy_from_slice(&len.to_le_bytes());
        let m = err_at_open_or_read(&[head.clone(), b].concat());
        assert!(
            m.starts_with("test.pcap: block (type 0x00000006)") && m.contains(words),
            "{m}"
        );
    }
    // Option longer than its block, with a consistent trailer.
    let mut o = opt(false, 2, b"abcd");
    o[2..4].copy_from_slice(&200u16.to_le_bytes());
    let m = err_at_open_or_read(&shb(false, &o));
    assert!(
        m.contains("option (code 2, length 200) longer than its block (4 bytes left)"),
        "{m}"
    );
    let m = err_at_open_or_read(&[shb(false, &[]), idb(false, 1, 0, &o)].concat());
    assert!(m.contains("longer than its block"), "{m}");
    // Packets before any IDB / for a missing interface.
    let m = err_at_open_or_read(&[shb(false, &[]), epb(false, 0, 1, 1, &[1])].concat());
    assert!(
        m.contains("packet block for interface 0 before any Interface Description Block"),
        "{m}"
    );
    let m = err_at_open_or_read(&[shb(false, &[]), spb(false, 1, &[1])].concat());
    assert!(m.contains("before any Interface Description Block"), "{m}");
    let m = err_at_open_or_read(&[head.clone(), epb(false, 3, 1, 1, &[1])].concat());
    assert!(
        m.contains("interface 3, but the section describes only 1 interfaces"),
        "{m}"
    );
    // EPB claiming more data than the block holds.
    let mut b = epb(false, 0, 1, 4, &[0; 4]);
    b[20..24].copy_from_slice(&100u32.to_le_bytes());
    let m = err_at_open_or_read(&[head.clone(), b].concat());
    assert!(m.contains("captured length 100 exceeds its block"), "{m}");
    // Versions, byte-order magic, truncated first SHB.
    let mut v = shb(false, &[]);
    v[12] = 2;
    assert!(err_at_open_or_read(&v).contains("unsupported pcapng section header version 2.0"));
    let mut v = shb(false, &[]);
    v[8] = 0;
    assert!(err_at_open_or_read(&v).contains("byte-order magic invalid"));
    let v = shb(false, &[]);
    let m = err_at_open_or_read(&v[..20]);
    assert!(
        m.contains("truncated pcapng section header block (28 bytes needed, 20 present)"),
        "{m}"
    );
}

#[test]
fn gzip_pcap_and_multi_member_and_progress() {
    let plain = three_pcap(false, false);
    let want = read_all(&plain);
    let gz = gzip(&plain);
    let total = gz.len() as u64;
    let mut s = open_reader(
        "f.pcap.gz",
        Box::new(std::io::Cursor::new(gz.clone())),
        Some(total),
    )
    .unwrap();
    let (got, e) = drain(&mut *s);
    assert!(e.is_none());
    assert_eq!(got, want);
    assert_eq!(s.progress(), (total, Some(total)));
    // Two gzip members (as `cat a.gz b.gz` makes) read as one stream.
    let half = plain.len() / 2;
    let two = [gzip(&plain[..half]), gzip(&plain[half..])].concat();
    assert_eq!(read_all(&two), want);
    // pcapng inside gzip.
    let ng = two_section_pcapng();
    assert_eq!(read_all(&gzip(&ng)), read_all(&ng));
}

#[test]
fn gzip_cut_short_keeps_packets_and_warns() {
    let mut plain = pcap_header(false, false, 1);
    for i in 0..2000u32 {
        plain.extend(pcap_record(false, i, 0, 100, &[i as u8; 100]));
    }
    let gz = gzip(&plain);
    let mut s = open_bytes(&gz[..gz.len() * 2 / 3]).unwrap();
    let (p, e) = drain(&mut *s);
    assert!(e.is_none(), "{e:?}");
    assert!(p.len() > 100 && p.len() < 2000, "{}", p.len());
    let w = s.take_warnings();
    assert!(!w.is_empty(), "{w:?}");
    // A corrupt deflate stream is an error naming the file.
    let mut bad = gz.clone();
    for b in &mut bad[20..60] {
        *b ^= 0x55;
    }
    let r = open_bytes(&bad).map(|mut s| drain(&mut *s).1);
    match r {
        Err(e) => assert!(e.to_string().starts_with("test.pcap: ")),
        Ok(Some(e)) => assert!(e.to_string().starts_with("test.pcap: ")),
        Ok(None) => {}
    }
}

#[test]
fn progress_counts_file_bytes() {
    let f = three_pcap(false, false);
    let mut s = open_bytes(&f).unwrap();
    drain(&mut *s);
    assert_eq!(s.progress(), (f.len() as u64, Some(f.len() as u64)));
}

#[test]
fn merge_orders_by_time_and_is_stable() {
    let mut a = pcap_header(false, false, 1);
    a.extend(pcap_record(false, 1, 0, 1, b"a"));
    a.extend(pcap_record(false, 3, 0, 1, b"b"));
    a.extend(pcap_record(false, 3, 0, 1, b"c"));
    a.extend(pcap_record(false, 9, 0, 1, b"d"));
    let mut b = pcap_header(true, true, 101);
    b.extend(pcap_record(true, 0, 5, 1, b"E"));
    b.extend(pcap_record(true, 3, 0, 1, b"F"));
    b.extend(pcap_record(true, 4, 0, 1, b"G"));
    let empty = pcap_header(false, false, 1);
    let mut c = pcap_header(false, false, 1);
    c.extend(pcap_record(false, 3, 0, 1, b"h"));
    let srcs = vec![
        open_bytes(&a).unwrap(),
        open_bytes(&empty).unwrap(),
        open_bytes(&b).unwrap(),
        open_bytes(&c).unwrap(),
    ];
    let mut m = Merge::new(srcs);
    assert_eq!(m.peek_ts().unwrap(), Some(5));
    let (p, e) = drain(&mut m);
    assert!(e.is_none());
    let order: String = p.iter().map(|p| p.data[0] as char).collect();
    assert_eq!(order, "EabcFhGd");
    assert_eq!(p[0].linktype, 101);
    assert!(m.peek_ts().unwrap().is_none());
    let (done, total) = m.progress();
    assert_eq!(Some(done), total);
    let mut none = Merge::new(Vec::new());
    assert!(none.next_packet().unwrap().is_none());
}

#[test]
fn merge_collects_warnings() {
    let f = three_pcap(false, false);
    let mut m = Merge::new(vec![
        open_bytes(&f[..f.len() - 1]).unwrap(),
        open_bytes(&f).unwrap(),
    ]);
    let (p, _) = drain(&mut m);
    assert_eq!(p.len(), 5);
    assert_eq!(m.take_warnings().len(), 1);
}
