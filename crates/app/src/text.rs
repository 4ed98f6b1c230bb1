//! Turning untrusted protocol bytes into the `String`s a [`Meta`] carries.
//!
//! Exists so that every parser renders names, banners and user names the same
//! way. Promises: the output is always printable ASCII (bytes outside the kept
//! set become `\xNN`), bounded by the caller's byte cap, and is only built
//! when the caller has already decided to return a `Meta`.
//!
//! [`Meta`]: vigil_core::Meta

/// Longest user name kept (bytes of input): real user names are short; a
/// longer "name" is junk or an attack string and its head is enough.
pub const MAX_USER: usize = 128;

/// Append `b` as is when `keep(b)`, else as `\xNN` (lower-case hex).
#[inline]
fn push_byte(out: &mut String, b: u8, keep: bool) {
    if keep {
        out.push(char::from(b));
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push('\\');
        out.push('x');
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

/// Printable ASCII (space included), backslash escaped so the rendering
/// stays unambiguous.
#[inline]
pub fn is_kept_text(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) && b != b'\\'
}

/// Printable ASCII without space, dot or backslash: what may stand for itself
/// inside a DNS label or host name label.
#[inline]
pub fn is_kept_label(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'.' && b != b'\\'
}

/// Render at most `cap` bytes of `bytes` as text (see module docs).
pub fn text(bytes: &[u8], cap: usize) -> String {
    let bytes = &bytes[..bytes.len().min(cap)];
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        push_byte(&mut out, b, is_kept_text(b));
    }
    out
}

/// Append one DNS label / host name label, lower-cased, escaping what
/// [`is_kept_label`] refuses.
pub fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        let b = b.to_ascii_lowercase();
        push_byte(out, b, is_kept_label(b));
    }
}

/// A host name (TLS SNI, HTTP Host): lower-cased, dots kept as separators,
/// other bytes as in [`push_label`]; at most `cap` input bytes.
pub fn host(bytes: &[u8], cap: usize) -> String {
    let bytes = &bytes[..bytes.len().min(cap)];
    let mut out = String::with_capacity(bytes.len());
    for (i, label) in bytes.split(|&b| b == b'.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_label(&mut out, label);
    }
    out
}

/// `s` without leading and trailing ASCII whitespace.
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// `s` starts with `prefix`, ASCII case-insensitively.
#[inline]
pub fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `needle` occurs in `hay`, ASCII case-insensitively (`needle` non-empty,
/// short; `hay` is bounded by the caller).
pub fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && hay.len() >= needle.len()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The first line of `s` (without `\r\n` / `\n`) and whether a line end was
/// found; at most `cap` bytes are searched.
pub fn first_line(s: &[u8], cap: usize) -> (&[u8], bool) {
    let s = &s[..s.len().min(cap)];
    match s.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let line = &s[..i];
            (line.strip_suffix(b"\r").unwrap_or(line), true)
        }
        None => (s, false),
    }
}

/// A user name argument: trimmed, surrounding double quotes removed; `None`
/// when empty.
pub fn user(arg: &[u8]) -> Option<String> {
    let mut a = trim(arg);
    if let [b'"', inner @ .., b'"'] = a {
        a = inner;
    }
    (!a.is_empty()).then(|| text(a, MAX_USER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(text(b"ab\x00c\\", 100), "ab\\x00c\\x5c");
        assert_eq!(text(b"abcdef", 3), "abc");
        assert_eq!(host(b"WWW.Ex\xffample.COM", 255), "www.ex\\xffample.com");
        assert_eq!(trim(b"  a b \r\n"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert!(contains_ci(b"xx LoGiN yy", b"login"));
        assert!(!contains_ci(b"lo", b"login"));
        assert_eq!(first_line(b"abc\r\ndef", 100), (&b"abc"[..], true));
        assert_eq!(first_line(b"abcdef", 3), (&b"abc"[..], false));
        assert_eq!(user(b" \"bob\" "), Some("bob".to_string()));
        assert_eq!(user(b"  "), None);
    }
}
