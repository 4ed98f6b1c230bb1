//! Repeated login attempts against one service (`bruteforce`).
//!
//! Keyed by (client, server, server port). Evidence, cheapest first:
//! - **short authentication sessions**: TCP connections to a login service
//!   (by well-known port, or any port where an SSH banner was seen) that
//!   complete the handshake, exchange a little data both ways and end within
//!   `max_session_secs`, counted when the first FIN/RST is seen (so the alert
//!   comes with the attempt, not a flow timeout later);
//! - **Kerberos exchanges over UDP 88** (AS-REQ answered by the KDC);
//! - **login metadata** from `vigil-app` when present: explicit failures
//!   (`LoginFailure`, HTTP 401), visible attempts (`LoginAttempt`, login-form
//!   POSTs);
//! - a **generic rule** for unknown ports, on finished flows: a high rate of
//!   short two-way sessions from one client to one server port.
//!
//! See `docs/detection/bruteforce.md` for thresholds and blind spots.

mod services;
pub(crate) mod util;

use serde::{Deserialize, Serialize};
use vigil_core::{proto, tcp_flags, Addr, Alert, Category, FlowRecord, FlowState, Meta, Nanos};
use vigil_core::{NetSet, NANOS_PER_SEC};

use crate::sketch::FastMap;
use crate::{Ctx, Detector, Out};
use services::{generic_excluded, Floor, Svc};
use util::TimeWindow;

/// Settings of the bruteforce detector (`[detect.bruteforce]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run this detector. Default true.
    pub enabled: bool,
    /// Sliding window (seconds) over which short sessions and visible login
    /// attempts are counted. Default 120: a password guesser makes several
    /// attempts a minute; a person or a mail client polling every few minutes
    /// does not.
    pub window_secs: u64,
    /// Short sessions in `window_secs` from one client to one SSH, FTP,
    /// Telnet, SMTP submission, POP3, IMAP, RDP, VNC or SMB service that raise
    /// an alert. Default 8 (4 a minute): above a person retrying a mistyped
    /// password, far below any guessing tool (hydra, nmap, ncrack make tens
    /// to hundreds a minute).
    pub min_sessions: u32,
    /// The same for services that applications and the OS legitimately open
    /// many short sessions to: MySQL, PostgreSQL, MSSQL, Oracle, LDAP, WinRM
    /// and Kerberos (TCP connections or UDP exchanges). Default 30 (15 a
    /// minute).
    pub min_sessions_busy: u32,
    /// Short two-way sessions from one client to one server port with no
    /// known login service (and no SSH banner seen) within
    /// `generic_window_secs` that raise an alert; 0 turns the rule off.
    /// Default 40: a tool hammering a service on an odd port; web, proxy and
    /// DNS ports never count.
    pub generic_min_sessions: u32,
    /// Window (seconds) of the generic rule. Default 60.
    pub generic_window_secs: u64,
    /// A session counts as an attempt only if it lasts at most this many
    /// seconds. Default 60: sshd closes after 6 failed tries (about 20 s),
    /// a logged-in interactive session lasts longer.
    pub max_session_secs: u64,
    /// ...and carries at most this many payload bytes (both ways). Default
    /// 32768: a failed SSH login, key exchange included, is 3-6 KB; file
    /// transfers and interactive work are far larger.
    pub max_session_bytes: u64,
    /// Explicit login failures (from metadata: FTP 530, SMTP 535, MySQL 1045,
    /// PostgreSQL 28P01, Kerberos pre-auth failed, HTTP 401) within
    /// `failure_window_secs` that raise an alert. Default 5: a person gets
    /// one or two wrong.
    pub min_failures: u32,
    /// Window (seconds) for explicit failures. Default 300.
    pub failure_window_secs: u64,
    /// Visible login attempts (metadata: `LoginAttempt`, HTTP POSTs to a
    /// login form) within `window_secs` that raise an alert even when no
    /// failure is visible (HTTP logins answered "200 invalid"). Default 20:
    /// a user logs in once; a NAT of many users rarely reaches 10 a minute
    /// on one site.
    pub min_login_attempts: u32,
    /// Most (client, server, port) keys tracked; new keys are dropped (and
    /// counted) past it. Default 16384.
    pub max_keys: usize,
    /// Most login-service flows followed at once. Default 65536.
    pub max_flows: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            window_secs: 120,
            min_sessions: 8,
            min_sessions_busy: 30,
            generic_min_sessions: 40,
            generic_window_secs: 60,
            max_session_secs: 60,
            max_session_bytes: 32_768,
            min_failures: 5,
            failure_window_secs: 300,
            min_login_attempts: 20,
            max_keys: 16_384,
            max_flows: 65_536,
        }
    }
}

/// Signature ids (3xxxxxx: category 3 of the scoring contract).
pub const SID_FAILURES: u32 = 3_000_001;
pub const SID_ATTEMPTS: u32 = 3_000_002;
pub const SID_SESSIONS: u32 = 3_000_003;
pub const SID_GENERIC: u32 = 3_000_004;

/// Event times kept per evidence kind and key (counts saturate here).
const WINDOW_CAP: usize = 256;
/// Flow ids kept per key for the alert.
const MAX_FLOW_IDS: usize = 16;
/// Seconds between updates of an alert already raised for a key.
const UPDATE_SECS: u64 = 60;
/// Seconds between sweeps of idle state.
const SWEEP_SECS: u64 = 10;
/// Visible attempts without any failure, on a service whose failures the
/// decoder reports, above which the sessions are successful logins (an
/// application connecting per request), not guessing.
const SUCCESS_ONLY_ATTEMPTS: u32 = 3;

type Key = (Addr, Addr, u16);

/// A login-service flow being followed.
struct FlowTrack {
    key: Key,
    svc: Svc,
    start: Nanos,
    last: Nanos,
    c2s: u64,
    s2c: u64,
    /// Already judged (at its first FIN/RST); kept until its record arrives
    /// so the record does not count it again.
    done: bool,
}

#[derive(Default)]
struct KeyState {
    svc: Option<Svc>,
    proto: u8,
    sessions: TimeWindow,
    attempts: TimeWindow,
    posts: TimeWindow,
    failures: TimeWindow,
    http401: TimeWindow,
    total_sessions: u64,
    total_failures: u64,
    total_attempts: u64,
    first: Nanos,
    last: Nanos,
    alerted: Option<Nanos>,
    flow_ids: Vec<u64>,
}

/// Counters for the stats (how often a bound was hit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub keys_dropped: u64,
    pub flows_dropped: u64,
    pub sessions_counted: u64,
    pub sessions_rejected: u64,
}

pub struct Bruteforce {
    cfg: Config,
    window: Nanos,
    fwindow: Nanos,
    gwindow: Nanos,
    flows: FastMap<u64, FlowTrack>,
    keys: FastMap<Key, KeyState>,
    /// One bit per TCP port on which an SSH banner was seen: flows there are
    /// followed like port 22.
    banner_ports: Vec<u64>,
    next_sweep: Nanos,
    pub stats: Stats,
}

enum Evidence {
    Session,
    Attempt,
    Post,
    Failure,
    Http401,
}

impl Bruteforce {
    pub fn new(cfg: &Config) -> Self {
        Bruteforce {
            cfg: cfg.clone(),
            window: cfg.window_secs.max(1) * NANOS_PER_SEC,
            fwindow: cfg.failure_window_secs.max(1) * NANOS_PER_SEC,
            gwindow: cfg.generic_window_secs.max(1) * NANOS_PER_SEC,
            flows: FastMap::default(),
            keys: FastMap::default(),
            banner_ports: vec![0; 65536 / 64],
            next_sweep: 0,
            stats: Stats::default(),
        }
    }

    #[inline]
    fn banner_port(&self, port: u16) -> bool {
        self.banner_ports[port as usize >> 6] & (1u64 << (port & 63)) != 0
    }

    /// Is a finished session a login attempt (short, small, both sides spoke)?
    fn short_session(&self, start: Nanos, end: Nanos, c2s: u64, s2c: u64) -> bool {
        c2s > 0
            && s2c > 0
            && c2s + s2c <= self.cfg.max_session_bytes
            && end.saturating_sub(start) <= self.cfg.max_session_secs * NANOS_PER_SEC
    }

    fn judge_flow(&mut self, fid: u64, end: Nanos, c2s: u64, s2c: u64, out: &mut Out) {
        let Some(f) = self.flows.get_mut(&fid) else {
            return;
        };
        if f.done {
            return;
        }
        f.done = true;
        let (key, svc, start) = (f.key, f.svc, f.start);
        if self.short_session(start, end, c2s, s2c) {
            self.stats.sessions_counted += 1;
            self.evidence(key, svc, proto::TCP, end, Some(fid), Evidence::Session, out);
        } else {
            self.stats.sessions_rejected += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn evidence(
        &mut self,
        key: Key,
        svc: Svc,
        proto: u8,
        t: Nanos,
        fid: Option<u64>,
        ev: Evidence,
        out: &mut Out,
    ) {
        if !self.keys.contains_key(&key) && self.keys.len() >= self.cfg.max_keys {
            self.sweep(t);
            if self.keys.len() >= self.cfg.max_keys {
                self.stats.keys_dropped += 1;
                return;
            }
        }
        let st = self.keys.entry(key).or_default();
        if st.first == 0 {
            st.first = t;
            st.proto = proto;
        }
        // metadata names the service better than the port; keep the first
        // precise one
        if st.svc.is_none() || st.svc == Some(Svc::Other) {
            st.svc = Some(svc);
        }
        st.last = st.last.max(t);
        match ev {
            Evidence::Session => {
                st.sessions.push(t, WINDOW_CAP);
                st.total_sessions += 1;
            }
            Evidence::Attempt => {
                st.attempts.push(t, WINDOW_CAP);
                st.total_attempts += 1;
            }
            Evidence::Post => st.posts.push(t, WINDOW_CAP),
            Evidence::Failure => {
                st.failures.push(t, WINDOW_CAP);
                st.total_failures += 1;
            }
            Evidence::Http401 => st.http401.push(t, WINDOW_CAP),
        }
        if let Some(fid) = fid {
            if !st.flow_ids.contains(&fid) {
                if st.flow_ids.len() >= MAX_FLOW_IDS {
                    st.flow_ids.remove(0);
                }
                st.flow_ids.push(fid);
            }
        }
        self.evaluate(key, t, out);
    }

    fn evaluate(&mut self, key: Key, t: Nanos, out: &mut Out) {
        let (window, fwindow, gwindow) = (self.window, self.fwindow, self.gwindow);
        let cfg = &self.cfg;
        let Some(st) = self.keys.get_mut(&key) else {
            return;
        };
        let svc = st.svc.unwrap_or(Svc::Other);
        let floor = match svc.floor() {
            Floor::Normal => cfg.min_sessions,
            Floor::Busy => cfg.min_sessions_busy,
            Floor::Generic => cfg.generic_min_sessions,
            Floor::MetaOnly => 0,
        };
        let swin = if svc.floor() == Floor::Generic {
            gwindow
        } else {
            window
        };
        let sessions = st.sessions.count(t, swin);
        let failures = st
            .failures
            .count(t, fwindow)
            .max(st.http401.count(t, fwindow));
        let attempts_meta = st.attempts.count(t, window);
        let attempts = attempts_meta.max(st.posts.count(t, window));
        let success_only =
            svc.failures_visible() && attempts_meta >= SUCCESS_ONLY_ATTEMPTS && failures == 0;
        let (sid, sev, what) = if cfg.min_failures > 0 && failures >= cfg.min_failures {
            (SID_FAILURES, 1, "repeated login failures")
        } else if cfg.min_login_attempts > 0 && attempts >= cfg.min_login_attempts && !success_only
        {
            (SID_ATTEMPTS, 2, "repeated login attempts")
        } else if floor > 0 && sessions >= floor && !success_only {
            if svc == Svc::Other {
                (SID_GENERIC, 3, "rapid short sessions to one service")
            } else {
                (SID_SESSIONS, 2, "repeated short authentication sessions")
            }
        } else {
            return;
        };
        if let Some(a) = st.alerted {
            if t < a.saturating_add(UPDATE_SECS * NANOS_PER_SEC) {
                return;
            }
        }
        st.alerted = Some(t);
        let sig = format!("VIGIL BRUTEFORCE {what} against {}", svc.name());
        let mut a = Alert::new(t, Category::Bruteforce, sid, &sig, sev);
        a.src = Some(key.0);
        a.dst = Some(key.1);
        a.dest_port = Some(key.2);
        a.proto = Some(st.proto);
        let span = t.saturating_sub(st.first) as f64 / 1e9;
        let rate = |n: u32, w: Nanos| n as f64 * 60.0 / (w as f64 / 1e9);
        a.metrics = vec![
            ("sessions_in_window", sessions as f64),
            ("failures_in_window", failures as f64),
            ("attempts_in_window", attempts as f64),
            ("sessions_per_min", rate(sessions, swin)),
            ("window_secs", swin as f64 / 1e9),
            ("total_sessions", st.total_sessions as f64),
            ("total_failures", st.total_failures as f64),
            ("total_attempts", st.total_attempts as f64),
            ("duration_secs", span),
        ];
        a.flow_ids = st.flow_ids.clone();
        out.push(a);
    }

    /// Forgets keys idle for longer than every window, and flows whose
    /// record never came.
    fn sweep(&mut self, now: Nanos) {
        let idle = 2 * self.window.max(self.fwindow).max(self.gwindow);
        self.keys
            .retain(|_, st| now.saturating_sub(st.last) <= idle);
        let stale = 3600 * NANOS_PER_SEC;
        self.flows
            .retain(|_, f| now.saturating_sub(f.last) <= stale);
    }

    /// Client, server and server port of the flow a packet belongs to.
    #[inline]
    fn ends(c: &Ctx) -> Key {
        let p = c.p;
        if c.flow.to_server {
            (p.src, p.dst, p.dport)
        } else {
            (p.dst, p.src, p.sport)
        }
    }

    fn track(&mut self, fid: u64, key: Key, svc: Svc, t: Nanos) -> bool {
        if self.flows.len() >= self.cfg.max_flows {
            self.stats.flows_dropped += 1;
            return false;
        }
        self.flows.insert(
            fid,
            FlowTrack {
                key,
                svc,
                start: t,
                last: t,
                c2s: 0,
                s2c: 0,
                done: false,
            },
        );
        true
    }
}

/// A login form's URI (for HTTP POSTs when no `LoginAttempt` is reported).
fn login_uri(uri: &str) -> bool {
    let u = uri.to_ascii_lowercase();
    [
        "login",
        "logon",
        "signin",
        "sign-in",
        "auth",
        "session",
        "j_security_check",
    ]
    .iter()
    .any(|w| u.contains(w))
}

impl Detector for Bruteforce {
    fn reconfigure(&mut self, cfg: &crate::DetectConfig) {
        let c = &cfg.bruteforce;
        self.window = c.window_secs.max(1) * NANOS_PER_SEC;
        self.fwindow = c.failure_window_secs.max(1) * NANOS_PER_SEC;
        self.gwindow = c.generic_window_secs.max(1) * NANOS_PER_SEC;
        self.cfg = c.clone();
    }
    fn name(&self) -> &'static str {
        "bruteforce"
    }

    fn on_packet(&mut self, c: &Ctx, out: &mut Out) {
        let p = c.p;
        match p.proto {
            proto::TCP => {
                if !c.flow.established {
                    return;
                }
                let server_port = if c.flow.to_server { p.dport } else { p.sport };
                let svc = Svc::of_tcp_port(server_port)
                    .filter(|s| matches!(s.floor(), Floor::Normal | Floor::Busy));
                if svc.is_none() && !self.banner_port(server_port) {
                    return;
                }
                let fid = c.flow.flow_id;
                let end = p.tcp_flags & (tcp_flags::FIN | tcp_flags::RST) != 0;
                if let Some(f) = self.flows.get_mut(&fid) {
                    if f.done {
                        return;
                    }
                    f.last = p.ts;
                    if c.flow.to_server {
                        f.c2s += p.payload_len as u64;
                    } else {
                        f.s2c += p.payload_len as u64;
                    }
                    if end {
                        let (c2s, s2c) = (f.c2s, f.s2c);
                        self.judge_flow(fid, p.ts, c2s, s2c, out);
                    }
                } else if let Some(svc) = svc {
                    // follow flows from their handshake on (a flow first
                    // seen later, or its closing packets, are not new)
                    if c.flow.flow_pkts <= 4 && !end && self.track(fid, Self::ends(c), svc, p.ts) {
                        if let Some(f) = self.flows.get_mut(&fid) {
                            if c.flow.to_server {
                                f.c2s = p.payload_len as u64;
                            } else {
                                f.s2c = p.payload_len as u64;
                            }
                        }
                    }
                }
            }
            // a KDC answer: one Kerberos exchange
            proto::UDP if p.sport == 88 && !c.flow.to_server && p.payload_len > 0 => {
                let key = (p.dst, p.src, 88);
                let fid = c.flow.flow_id;
                self.evidence(
                    key,
                    Svc::Kerberos,
                    proto::UDP,
                    p.ts,
                    Some(fid),
                    Evidence::Session,
                    out,
                );
            }
            _ => {}
        }
    }

    fn on_meta(&mut self, c: Option<&Ctx>, m: &Meta, _home: &NetSet, out: &mut Out) {
        let Some(c) = c else {
            return;
        };
        let key = Self::ends(c);
        let fid = Some(c.flow.flow_id);
        let t = c.p.ts;
        let proto = c.p.proto;
        match m {
            Meta::SshBanner { .. } => {
                if proto != proto::TCP {
                    return;
                }
                let port = key.2;
                let known = Svc::of_tcp_port(port)
                    .is_some_and(|s| matches!(s.floor(), Floor::Normal | Floor::Busy));
                if known {
                    return;
                }
                self.banner_ports[port as usize >> 6] |= 1u64 << (port & 63);
                let fid = c.flow.flow_id;
                if !self.flows.contains_key(&fid) && self.track(fid, key, Svc::Ssh, t) {
                    // the banner packet itself was already seen by on_packet
                    // (before this flow was followed): count its bytes
                    if let Some(f) = self.flows.get_mut(&fid) {
                        if c.flow.to_server {
                            f.c2s = c.p.payload_len as u64;
                        } else {
                            f.s2c = c.p.payload_len as u64;
                        }
                    }
                }
            }
            Meta::LoginAttempt { service, .. } => {
                let svc = Svc::of_meta(service, key.2);
                self.evidence(key, svc, proto, t, fid, Evidence::Attempt, out);
            }
            Meta::LoginFailure { service } => {
                let svc = Svc::of_meta(service, key.2);
                self.evidence(key, svc, proto, t, fid, Evidence::Failure, out);
            }
            Meta::HttpRequest { method, uri, .. }
                if c.flow.to_server && method.eq_ignore_ascii_case("POST") && login_uri(uri) =>
            {
                self.evidence(key, Svc::Http, proto, t, fid, Evidence::Post, out);
            }
            Meta::HttpResponse { status: 401 } if !c.flow.to_server => {
                self.evidence(key, Svc::Http, proto, t, fid, Evidence::Http401, out);
            }
            _ => {}
        }
    }

    /// An exported record of a client's TCP connection to a login service
    /// is one session, judged like the packet path's: short and small. The
    /// client's record is the one holding its SYN; an ACK in it means the
    /// handshake completed (the server answered). Without a biflow the
    /// server's bytes are unknown: they count as 1 (it answered), so the
    /// session's size is the client's payload (estimated from IP bytes, see
    /// vigil-collect). Other records take the generic rule of
    /// `on_flow_end`.
    fn on_flow_export(&mut self, r: &FlowRecord, home: &NetSet, out: &mut Out) {
        let svc = (r.proto == proto::TCP)
            .then(|| Svc::of_tcp_port(r.sport))
            .flatten()
            .filter(|s| matches!(s.floor(), Floor::Normal | Floor::Busy));
        let Some(svc) = svc else {
            return self.on_flow_end(r, home, out);
        };
        let f = r.toserver.tcp_flags;
        if f & tcp_flags::SYN == 0 || f & tcp_flags::ACK == 0 {
            return;
        }
        let c2s = r.toserver.payload_bytes;
        let s2c = if r.toclient.pkts > 0 {
            r.toclient.payload_bytes
        } else {
            1
        };
        if self.short_session(r.start, r.end, c2s, s2c) {
            self.stats.sessions_counted += 1;
            let key = (r.client, r.server, r.sport);
            self.evidence(
                key,
                svc,
                proto::TCP,
                r.end,
                Some(r.flow_id),
                Evidence::Session,
                out,
            );
        } else {
            self.stats.sessions_rejected += 1;
        }
    }

    fn on_flow_end(&mut self, r: &FlowRecord, _home: &NetSet, out: &mut Out) {
        if let Some(f) = self.flows.get(&r.flow_id) {
            if !f.done {
                let (c2s, s2c) = (r.toserver.payload_bytes, r.toclient.payload_bytes);
                self.judge_flow(r.flow_id, r.end, c2s, s2c, out);
            }
            self.flows.remove(&r.flow_id);
            return;
        }
        // the generic rule: TCP to a port with no known service
        if self.cfg.generic_min_sessions == 0
            || r.proto != proto::TCP
            || r.state == FlowState::New
            || Svc::of_tcp_port(r.sport).is_some()
            || generic_excluded(r.sport)
        {
            return;
        }
        let (c2s, s2c) = (r.toserver.payload_bytes, r.toclient.payload_bytes);
        if self.short_session(r.start, r.end, c2s, s2c) {
            let key = (r.client, r.server, r.sport);
            self.evidence(
                key,
                Svc::Other,
                r.proto,
                r.end,
                Some(r.flow_id),
                Evidence::Session,
                out,
            );
        }
    }

    fn on_tick(&mut self, now: Nanos, _out: &mut Out) {
        if now >= self.next_sweep {
            self.next_sweep = now + SWEEP_SECS * NANOS_PER_SEC;
            self.sweep(now);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
