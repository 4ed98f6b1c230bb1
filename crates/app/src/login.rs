//! Clear-text login commands and refusals of the line protocols: FTP, SMTP,
//! POP3, IMAP.
//!
//! Exists for the brute-force detector: it counts attempts and failures per
//! client and server. Promises: one segment, first line(s) only, no state
//! across packets, so replies are attributed by server port and reply text
//! alone (see each function for the approximation it makes); user names are
//! escaped and capped at [`text::MAX_USER`]. Telnet is not parsed (option
//! negotiation and per-keystroke segments make a login invisible per
//! packet).

use crate::text;
use vigil_core::Meta;

/// Bytes of a segment searched for a command or reply line.
pub const MAX_LINE: usize = 512;
/// IMAP lines looked at in one server segment (untagged data may precede
/// the tagged completion).
pub const MAX_IMAP_LINES: usize = 8;

fn attempt(service: &'static str, user: Option<String>) -> Option<Meta> {
    Some(Meta::LoginAttempt { service, user })
}

fn failure(service: &'static str) -> Option<Meta> {
    Some(Meta::LoginFailure { service })
}

/// `line` is the three-digit `code` followed by space, '-' or the end.
fn reply_code(line: &[u8], code: &[u8; 3]) -> bool {
    line.starts_with(code) && matches!(line.get(3), None | Some(b' ' | b'-' | b'\r' | b'\n'))
}

/// The argument of command `cmd` (upper case, with its space) at the start
/// of `line`, case-insensitively.
fn arg<'a>(line: &'a [u8], cmd: &[u8]) -> Option<&'a [u8]> {
    text::starts_with_ci(line, cmd).then(|| &line[cmd.len()..])
}

/// FTP (RFC 959): `USER name` → attempt; a `530` reply → failure (530 also
/// answers commands sent before logging in, counted the same).
pub fn ftp(seg: &[u8], to_server: bool) -> Option<Meta> {
    let (line, _) = text::first_line(seg, MAX_LINE);
    if to_server {
        arg(line, b"USER ").and_then(|u| attempt("ftp", text::user(u)))
    } else if reply_code(line, b"530") {
        failure("ftp")
    } else {
        None
    }
}

/// SMTP (RFC 4954): `AUTH mech` → attempt (user unknown: it is base64 in a
/// later line); a `535` reply → failure.
pub fn smtp(seg: &[u8], to_server: bool) -> Option<Meta> {
    let (line, _) = text::first_line(seg, MAX_LINE);
    if to_server {
        arg(line, b"AUTH ").and_then(|_| attempt("smtp", None))
    } else if reply_code(line, b"535") {
        failure("smtp")
    } else {
        None
    }
}

/// POP3 (RFC 1939): `USER name` / `APOP name digest` → attempt; any `-ERR`
/// from the server → failure (approximate: without state the command it
/// answers is unknown, and in a brute force it is PASS).
pub fn pop3(seg: &[u8], to_server: bool) -> Option<Meta> {
    let (line, _) = text::first_line(seg, MAX_LINE);
    if to_server {
        if let Some(u) = arg(line, b"USER ") {
            return attempt("pop3", text::user(u));
        }
        let u = arg(line, b"APOP ")?;
        let name = u.split(|&b| b == b' ').next().unwrap_or(u);
        attempt("pop3", text::user(name))
    } else if line.starts_with(b"-ERR") {
        failure("pop3")
    } else {
        None
    }
}

/// Words of a failed login in IMAP completion text (Dovecot
/// `[AUTHENTICATIONFAILED]`, Courier/Exchange "LOGIN failed", Cyrus
/// "authentication failure", Gmail "Invalid credentials").
const IMAP_FAIL_WORDS: [&[u8]; 4] = [b"auth", b"login", b"credential", b"password"];

/// IMAP (RFC 9051): `tag LOGIN user pass` → attempt with the user, `tag
/// AUTHENTICATE mech` → attempt; a tagged `NO`/`BAD` completion whose text
/// speaks of authentication or login → failure (the tag cannot be matched
/// to its command without state, so the text decides).
pub fn imap(seg: &[u8], to_server: bool) -> Option<Meta> {
    if to_server {
        let (line, _) = text::first_line(seg, MAX_LINE);
        let (_tag, rest) = split_word(line)?;
        if let Some(a) = arg(rest, b"LOGIN ") {
            let a = text::trim(a);
            let user = if let Some(q) = a.strip_prefix(b"\"") {
                &q[..q.iter().position(|&b| b == b'"').unwrap_or(q.len())]
            } else {
                split_word(a).map_or(a, |(w, _)| w)
            };
            return attempt("imap", text::user(user));
        }
        return arg(rest, b"AUTHENTICATE ").and_then(|_| attempt("imap", None));
    }
    let mut rest = seg;
    for _ in 0..MAX_IMAP_LINES {
        let (line, complete) = text::first_line(rest, MAX_LINE);
        if let Some((tag, status)) = split_word(line) {
            let tagged = tag != b"*" && tag != b"+";
            let refused =
                text::starts_with_ci(status, b"NO ") || text::starts_with_ci(status, b"BAD ");
            if tagged && refused && IMAP_FAIL_WORDS.iter().any(|w| text::contains_ci(status, w)) {
                return failure("imap");
            }
        }
        if !complete || line.len() + 1 >= rest.len() {
            break;
        }
        let next = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        rest = &rest[next..];
    }
    None
}

/// The first space-separated word of `line` and what follows the space.
fn split_word(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = line.iter().position(|&b| b == b' ')?;
    (sp > 0).then(|| (&line[..sp], &line[sp + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att(s: &'static str, u: Option<&str>) -> Option<Meta> {
        attempt(s, u.map(str::to_string))
    }

    #[test]
    fn ftp_lines() {
        assert_eq!(ftp(b"USER bro\r\n", true), att("ftp", Some("bro")));
        assert_eq!(
            ftp(b"user  anonymous \r\n", true),
            att("ftp", Some("anonymous"))
        );
        assert_eq!(ftp(b"USER \r\n", true), att("ftp", None));
        assert_eq!(ftp(b"PASS 1\r\n", true), None);
        assert_eq!(ftp(b"530 Login incorrect.\r\n", false), failure("ftp"));
        assert_eq!(ftp(b"530-multi\r\n", false), failure("ftp"));
        assert_eq!(ftp(b"5300 no\r\n", false), None);
        assert_eq!(ftp(b"230 ok\r\n", false), None);
        assert_eq!(ftp(b"530", false), failure("ftp"));
        assert_eq!(ftp(b"53", false), None);
    }

    #[test]
    fn smtp_pop3() {
        assert_eq!(smtp(b"AUTH LOGIN\r\n", true), att("smtp", None));
        assert_eq!(
            smtp(b"535 5.7.8 Authentication credentials invalid\r\n", false),
            failure("smtp")
        );
        assert_eq!(smtp(b"250 ok\r\n", false), None);
        assert_eq!(pop3(b"USER alice\r\n", true), att("pop3", Some("alice")));
        assert_eq!(
            pop3(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n", true),
            att("pop3", Some("mrose"))
        );
        assert_eq!(pop3(b"PASS x\r\n", true), None);
        assert_eq!(
            pop3(b"-ERR [AUTH] Authentication failed.\r\n", false),
            failure("pop3")
        );
        assert_eq!(pop3(b"+OK\r\n", false), None);
    }

    #[test]
    fn imap_lines() {
        assert_eq!(
            imap(b"a1 LOGIN bob secret\r\n", true),
            att("imap", Some("bob"))
        );
        assert_eq!(
            imap(b"a1 login \"bob smith\" \"x\"\r\n", true),
            att("imap", Some("bob smith"))
        );
        assert_eq!(imap(b"a1 AUTHENTICATE PLAIN\r\n", true), att("imap", None));
        assert_eq!(imap(b"a1 SELECT INBOX\r\n", true), None);
        assert_eq!(imap(b"LOGIN\r\n", true), None);
        assert_eq!(
            imap(
                b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
                false
            ),
            failure("imap")
        );
        assert_eq!(
            imap(b"* CAPABILITY IMAP4rev1\r\na2 NO LOGIN failed.\r\n", false),
            failure("imap")
        );
        assert_eq!(
            imap(b"a3 BAD Invalid credentials\r\n", false),
            failure("imap")
        );
        assert_eq!(imap(b"a4 NO Mailbox doesn't exist: x\r\n", false), None);
        assert_eq!(imap(b"* NO login whatever\r\n", false), None);
        assert_eq!(imap(b"a5 OK LOGIN completed\r\n", false), None);
        assert_eq!(imap(b"\n\n\n", false), None);
    }
}
