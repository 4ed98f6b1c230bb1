//! HTTP/1.x request and status lines, Host and User-Agent, and login-form
//! POSTs.
//!
//! Exists for the detectors that key on web requests (beaconing, C2 URIs,
//! login brute force). Promises: only the head of one segment is read (at
//! most [`MAX_HEAD`] bytes); a request needs a known method, a URI and an
//! `HTTP/1.x` version on a complete first line; strings are escaped and
//! capped. A POST whose path looks like a login form is reported as
//! [`Meta::LoginAttempt`] (service "http", the user name if the form body is
//! in the same segment) *instead of* [`Meta::HttpRequest`]; a 401 response
//! is reported as [`Meta::LoginFailure`] instead of [`Meta::HttpResponse`].

use crate::text;
use vigil_core::Meta;

/// Bytes of a segment searched for the request line and headers: request
/// heads are far smaller; a head longer than this keeps what came first.
pub const MAX_HEAD: usize = 8192;
/// URI bytes kept: enough for any route and query a detector keys on; the
/// rest of a huge (attack) URI is cut.
pub const MAX_URI: usize = 2048;
/// Header value bytes kept (Host, User-Agent).
pub const MAX_VALUE: usize = 512;
/// Form body bytes searched for a user name field.
pub const MAX_FORM: usize = 2048;

/// Methods recognised, each with its trailing space.
const METHODS: [&[u8]; 8] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
];

/// Path fragments (lower case) that make a POST a login attempt.
const LOGIN_PATHS: [&[u8]; 10] = [
    b"login",
    b"logon",
    b"signin",
    b"sign-in",
    b"sign_in",
    b"auth",
    b"session",
    b"wp-login",
    b"j_security_check",
    b"xmlrpc.php",
];

/// Form fields (lower case) that carry the user name in the usual login
/// forms (generic, WordPress `log`, Drupal `name`, Java `j_username`).
const USER_FIELDS: [&[u8]; 8] = [
    b"username",
    b"user",
    b"login",
    b"log",
    b"name",
    b"email",
    b"j_username",
    b"uname",
];

/// The first byte of a method: the dispatcher's cheap pre-check.
#[inline]
pub fn may_be_method(b: u8) -> bool {
    matches!(b, b'G' | b'P' | b'H' | b'D' | b'O' | b'C')
}

/// The recognised method `seg` starts with (without its space).
pub fn method(seg: &[u8]) -> Option<&'static [u8]> {
    METHODS
        .iter()
        .find(|m| seg.starts_with(m))
        .map(|m| &m[..m.len() - 1])
}

/// A borrowed request head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'static [u8],
    pub uri: &'a [u8],
    pub host: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    /// What follows the blank line, if the head ended in this segment.
    pub body: Option<&'a [u8]>,
}

/// Parse a request head at the start of `seg`.
pub fn request(seg: &[u8]) -> Option<Request<'_>> {
    let method = method(seg)?;
    let head = &seg[..seg.len().min(MAX_HEAD)];
    let (line, complete) = text::first_line(head, MAX_HEAD);
    if !complete {
        return None;
    }
    let rest = &line[method.len() + 1..];
    let sp = rest.iter().rposition(|&b| b == b' ')?;
    let (uri, version) = (&rest[..sp], &rest[sp + 1..]);
    if uri.is_empty() || !is_http1(version) {
        return None;
    }
    let mut req = Request {
        method,
        uri,
        host: None,
        user_agent: None,
        body: None,
    };
    // Header lines: complete lines only, up to the blank line.
    let mut at = line_end(head, 0)?;
    while let Some(next) = line_end(head, at) {
        let l = &head[at..next];
        let l = l.strip_suffix(b"\n").unwrap_or(l);
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.is_empty() {
            req.body = Some(&seg[next..]);
            break;
        }
        if let Some(colon) = l.iter().position(|&b| b == b':') {
            let (name, value) = (&l[..colon], text::trim(&l[colon + 1..]));
            if name.eq_ignore_ascii_case(b"host") {
                req.host.get_or_insert(value);
            } else if name.eq_ignore_ascii_case(b"user-agent") {
                req.user_agent.get_or_insert(value);
            }
        }
        at = next;
    }
    Some(req)
}

/// Offset after the `\n` ending the line that starts at `from`.
fn line_end(s: &[u8], from: usize) -> Option<usize> {
    s.get(from..)?
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| from + i + 1)
}

fn is_http1(v: &[u8]) -> bool {
    matches!(v, [b'H', b'T', b'T', b'P', b'/', b'1', b'.', d] if d.is_ascii_digit())
}

/// The status code of a response starting `seg` (`HTTP/1.x NNN`).
pub fn status(seg: &[u8]) -> Option<u16> {
    let [v @ .., b' ', a, b, c] = seg.get(..12)? else {
        return None;
    };
    if !is_http1(v) || !(b'1'..=b'5').contains(a) || !b.is_ascii_digit() || !c.is_ascii_digit() {
        return None;
    }
    if let Some(&after) = seg.get(12) {
        if !matches!(after, b' ' | b'\r' | b'\n') {
            return None;
        }
    }
    Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
}

/// The request is a POST to a login-looking path.
pub fn is_login(req: &Request<'_>) -> bool {
    if req.method != b"POST" {
        return false;
    }
    let path = req.uri.split(|&b| b == b'?').next().unwrap_or(req.uri);
    let path = &path[..path.len().min(MAX_URI)];
    LOGIN_PATHS.iter().any(|p| text::contains_ci(path, p))
}

/// The user name of an `application/x-www-form-urlencoded` login body.
pub fn form_user(body: &[u8]) -> Option<String> {
    let body = &body[..body.len().min(MAX_FORM)];
    for pair in body.split(|&b| b == b'&') {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (k, v) = (&pair[..eq], &pair[eq + 1..]);
        if USER_FIELDS.iter().any(|f| k.eq_ignore_ascii_case(f)) {
            return text::user(&url_decode(v));
        }
    }
    None
}

/// `+` → space and `%XX` → byte; a bad escape stays as is.
fn url_decode(v: &[u8]) -> Vec<u8> {
    let v = &v[..v.len().min(text::MAX_USER * 3)];
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match v[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                v.get(i + 1).and_then(|&b| hex(b)),
                v.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The Meta of a segment starting with a request or status line.
pub fn meta(seg: &[u8]) -> Option<Meta> {
    if let Some(s) = status(seg) {
        return Some(if s == 401 {
            Meta::LoginFailure { service: "http" }
        } else {
            Meta::HttpResponse { status: s }
        });
    }
    let req = request(seg)?;
    if is_login(&req) {
        return Some(Meta::LoginAttempt {
            service: "http",
            user: req.body.and_then(form_user),
        });
    }
    Some(Meta::HttpRequest {
        method: text::text(req.method, 16),
        host: req.host.map(|h| text::host(h, MAX_VALUE)),
        uri: text::text(req.uri, MAX_URI),
        user_agent: req.user_agent.map(|u| text::text(u, MAX_VALUE)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head() {
        let seg = b"GET /index.html?q=1 HTTP/1.1\r\nhOsT: WWW.ESPN.com\r\nUser-Agent:  Mozilla/5.0 (X11)\r\nAccept: */*\r\n\r\n";
        assert_eq!(
            meta(seg),
            Some(Meta::HttpRequest {
                method: "GET".into(),
                host: Some("www.espn.com".into()),
                uri: "/index.html?q=1".into(),
                user_agent: Some("Mozilla/5.0 (X11)".into()),
            })
        );
        // Headers cut by the segment end: the complete ones count.
        let cut = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nUser-Ag";
        assert_eq!(
            meta(cut),
            Some(Meta::HttpRequest {
                method: "CONNECT".into(),
                host: Some("example.com:443".into()),
                uri: "example.com:443".into(),
                user_agent: None,
            })
        );
        assert_eq!(request(b"GET / HTTP/1.0\n\n").unwrap().body, Some(&b""[..]));
    }

    #[test]
    fn not_requests() {
        for seg in [
            &b"GET / HTTP/1.1"[..], // no line end
            b"GET  HTTP/1.1\r\n",
            b"GET / HTTP/2.0\r\n",
            b"GET /\r\n",
            b"GETX / HTTP/1.1\r\n",
            b"get / HTTP/1.1\r\n",
            b"POST",
            b"G",
            b"HTTP/1.1 20",
            b"HTTP/1.1 2000 x",
            b"HTTP/1.1 600 x",
            b"HTTP/3.0 200 OK\r\n",
        ] {
            assert_eq!(meta(seg), None, "{:?}", String::from_utf8_lossy(seg));
        }
    }

    #[test]
    fn responses() {
        assert_eq!(
            meta(b"HTTP/1.1 200 OK\r\n"),
            Some(Meta::HttpResponse { status: 200 })
        );
        assert_eq!(
            meta(b"HTTP/1.0 404"),
            Some(Meta::HttpResponse { status: 404 })
        );
        assert_eq!(
            meta(b"HTTP/1.1 302\r\n"),
            Some(Meta::HttpResponse { status: 302 })
        );
        assert_eq!(
            meta(b"HTTP/1.1 401 Unauthorized\r\n"),
            Some(Meta::LoginFailure { service: "http" })
        );
    }

    #[test]
    fn login_posts() {
        let seg = b"POST /wp-login.php HTTP/1.1\r\nHost: blog\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nlog=Admin%40x&pwd=hunter2&wp-submit=Log+In";
        assert_eq!(
            meta(seg),
            Some(Meta::LoginAttempt {
                service: "http",
                user: Some("Admin@x".into())
            })
        );
        let seg =
            b"POST /user/Login?destination=x HTTP/1.1\r\nHost: d\r\n\r\nname=bob+smith&pass=x";
        assert_eq!(
            meta(seg),
            Some(Meta::LoginAttempt {
                service: "http",
                user: Some("bob smith".into())
            })
        );
        // Body in a later segment: attempt without user.
        let seg = b"POST /api/auth HTTP/1.1\r\nHost: d\r\nContent-Length: 20\r\n";
        assert_eq!(
            meta(seg),
            Some(Meta::LoginAttempt {
                service: "http",
                user: None
            })
        );
        // A GET to the login page, or a POST elsewhere, is a plain request.
        assert!(matches!(
            meta(b"GET /login HTTP/1.1\r\n\r\n"),
            Some(Meta::HttpRequest { .. })
        ));
        assert!(matches!(
            meta(b"POST /upload?next=/login HTTP/1.1\r\n\r\n"),
            Some(Meta::HttpRequest { .. })
        ));
        assert_eq!(form_user(b"a=1&user=%zz%4"), Some("%zz%4".into()));
        assert_eq!(form_user(b"user=&a"), None);
    }
}
