//! The scenario registry: names, summaries, home networks and generators.
//!
//! One module per family; [`INFOS`] and [`lookup`] must list the same names
//! (a unit test checks it).

use crate::ctx::Ctx;
use crate::net::{HOME_A, HOME_B, HOME_C};
use crate::ScenarioInfo;

mod benign;
pub(crate) mod brute;
mod covert;
mod dos;
pub(crate) mod floods;
pub(crate) mod lateral;
pub(crate) mod mixed;
pub(crate) mod scan;

type Run = fn(&mut Ctx);

const fn info(
    name: &'static str,
    summary: &'static str,
    home_nets: &'static [&'static str],
) -> ScenarioInfo {
    ScenarioInfo {
        name,
        summary,
        home_nets,
    }
}

/// Every scenario, in presentation order.
pub(crate) const INFOS: &[ScenarioInfo] = &[
    info("flood-upload", "spoofed SYN flood (300k pkts) on a DMZ web server hiding one exactly counted 20 MB upload from an inside host; truth has the upload's flow counters", HOME_A),
    info("syn-flood", "spoofed-source TCP SYN flood (200k pkts) on a DMZ web server", HOME_A),
    info("udp-flood", "spoofed-source UDP flood (up to 150k pkts) on one host", HOME_B),
    info("icmp-flood", "ICMP echo flood (up to 150k pkts) from spoofed sources or a few bots", HOME_C),
    info("dns-amplification", "large ANY/TXT answers from ~300 open resolvers reflected at a victim (12k responses, fragmented)", HOME_A),
    info("http-flood", "~50 bots complete handshakes and send 15k GETs in about a minute", HOME_B),
    info("slowloris", "~400 connections sending partial HTTP headers every 8-15 s for minutes", HOME_C),
    info("port-scan", "vertical SYN scan of 1000 ports of one host (RST / SYN-ACK answers, filtered retries)", HOME_B),
    info("host-sweep", "one TCP port across a /24, or an ICMP echo sweep", HOME_C),
    info("udp-scan", "UDP scan of 1000 ports on 1-3 hosts (ICMP unreachable, rate limited)", HOME_A),
    info("ssh-bruteforce", "~120 SSH connections with failed password attempts", HOME_C),
    info("ftp-bruteforce", "~150 USER/PASS attempts answered 530 Login incorrect", HOME_B),
    info("http-login-bruteforce", "~250 login-form POSTs answered 401/200-invalid, maybe a final 302", HOME_A),
    info("db-bruteforce", "~200 MySQL (3306) or PostgreSQL (5432) logins refused", HOME_C),
    info("kerberos-bruteforce", "~300 AS-REQs with wrong pre-auth answered KRB-ERROR 24 (UDP or TCP 88)", HOME_A),
    info("exfiltration", "an inside host uploads 100 MB over HTTPS to one outside host", HOME_B),
    info("beaconing", "an inside host checks in every 5-300 s (0-20 % jitter) over HTTPS or HTTP", HOME_C),
    info("dns-tunnel", "~600 long high-entropy queries under one domain (TXT/NULL/CNAME/MX)", HOME_A),
    info("lateral-movement", "an inside host touches SMB/RDP/WinRM/SSH on ~30 inside hosts within minutes", HOME_B),
    info("smokescreen", "a 250k-packet SYN (or 160k UDP) flood hiding a scan, an SSH brute force, lateral movement and a 15 MB exfiltration", HOME_A),
    info("flash-crowd", "benign: ~2000 real clients each load a page from the home web server in a burst", HOME_B),
    info("nightly-backup", "benign: 30 MB of backups from inside hosts to an inside backup server, minutes apart", HOME_C),
    info("busy-resolver", "benign: ~6000 ordinary lookups (CDN-style long names) through an inside resolver", HOME_A),
    info("benign-periodic", "benign: NTP polls, loose OS update checks, SNMP/HTTPS monitoring of ~40 inside hosts", HOME_B),
    info("large-download", "benign: 32 MB of inbound downloads over HTTPS by 2-4 clients", HOME_C),
];

/// The info and generator of `name`.
pub(crate) fn lookup(name: &str) -> Option<(&'static ScenarioInfo, Run)> {
    let run: Run = match name {
        "flood-upload" => mixed::flood_upload,
        "syn-flood" => dos::syn_flood,
        "udp-flood" => dos::udp_flood,
        "icmp-flood" => dos::icmp_flood,
        "dns-amplification" => dos::dns_amplification,
        "http-flood" => dos::http_flood,
        "slowloris" => dos::slowloris,
        "port-scan" => scan::port_scan,
        "host-sweep" => scan::host_sweep,
        "udp-scan" => scan::udp_scan,
        "ssh-bruteforce" => brute::ssh_bruteforce,
        "ftp-bruteforce" => brute::ftp_bruteforce,
        "http-login-bruteforce" => brute::http_login_bruteforce,
        "db-bruteforce" => brute::db_bruteforce,
        "kerberos-bruteforce" => brute::kerberos_bruteforce,
        "exfiltration" => covert::exfiltration,
        "beaconing" => covert::beaconing,
        "dns-tunnel" => covert::dns_tunnel,
        "lateral-movement" => lateral::lateral_movement,
        "smokescreen" => mixed::smokescreen,
        "flash-crowd" => benign::flash_crowd,
        "nightly-backup" => benign::nightly_backup,
        "busy-resolver" => benign::busy_resolver,
        "benign-periodic" => benign::benign_periodic,
        "large-download" => benign::large_download,
        _ => return None,
    };
    let info = INFOS.iter().find(|i| i.name == name)?;
    Some((info, run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_info_has_a_generator() {
        for i in INFOS {
            assert!(lookup(i.name).is_some(), "{}", i.name);
        }
        let mut names: Vec<&str> = INFOS.iter().map(|i| i.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), INFOS.len());
    }
}
