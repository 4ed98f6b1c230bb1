//! HTTP/1.1 requests and responses.

use crate::rng::Rng;

/// Browser User-Agents used by benign clients.
pub const BROWSER_UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
];

/// A request with the usual browser headers; `body` (for POST) is sent with
/// `Content-Type: application/x-www-form-urlencoded`.
pub fn request(method: &str, host: &str, uri: &str, ua: &str, body: Option<&[u8]>) -> Vec<u8> {
    let mut s = format!(
        "{method} {uri} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
    );
    if let Some(b) = body {
        s.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    s.push_str("\r\n");
    let mut v = s.into_bytes();
    if let Some(b) = body {
        v.extend_from_slice(b);
    }
    v
}

/// A response with status line, headers and a body of `body_len` bytes
/// (HTML-ish text for text types, random bytes otherwise); `extra` headers
/// are inserted verbatim (each ending in CRLF).
pub fn response(
    rng: &mut Rng,
    status: u16,
    reason: &str,
    ctype: &str,
    body_len: usize,
    extra: &str,
) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 {status} {reason}\r\nServer: nginx/1.24.0\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: {ctype}\r\nContent-Length: {body_len}\r\nConnection: keep-alive\r\n{extra}\r\n"
    )
    .into_bytes();
    if ctype.starts_with("text/") {
        const WORDS: &[&str] = &[
            "<div>",
            "</div>",
            "the ",
            "class=\"a\" ",
            "<p>",
            "data ",
            "item ",
            "\n",
            "<span>",
            "</span>",
        ];
        let start = v.len();
        while v.len() - start < body_len {
            v.extend_from_slice(rng.pick(WORDS).as_bytes());
        }
        v.truncate(start + body_len);
    } else {
        let at = v.len();
        v.resize(at + body_len, 0);
        rng.fill(&mut v[at..]);
    }
    v
}
