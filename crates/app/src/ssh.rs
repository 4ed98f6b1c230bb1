//! SSH identification strings (RFC 4253 4.2).
//!
//! Exists so the brute-force detector can count SSH sessions and name the
//! client software. Promises: only `SSH-2.0-` and `SSH-1.99-` lines at the
//! very start of a segment are taken; the banner is the first line without
//! its line end, escaped, at most [`MAX_BANNER`] bytes.

use crate::text;

/// RFC 4253: the identification string is at most 255 characters, CR LF
/// included.
pub const MAX_BANNER: usize = 255;

/// The banner starting `seg`, if any.
pub fn banner(seg: &[u8]) -> Option<String> {
    if !(seg.starts_with(b"SSH-2.0-") || seg.starts_with(b"SSH-1.99-")) {
        return None;
    }
    let (line, _) = text::first_line(seg, MAX_BANNER);
    Some(text::text(line, MAX_BANNER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners() {
        assert_eq!(
            banner(b"SSH-2.0-OpenSSH_6.7p1 Debian-5\r\n\0\0\0\x14").as_deref(),
            Some("SSH-2.0-OpenSSH_6.7p1 Debian-5")
        );
        assert_eq!(
            banner(b"SSH-1.99-Cisco-1.25\n").as_deref(),
            Some("SSH-1.99-Cisco-1.25")
        );
        assert_eq!(banner(b"SSH-2.0-").as_deref(), Some("SSH-2.0-"));
        assert_eq!(banner(b"SSH-1.5-old\r\n"), None);
        assert_eq!(banner(b"SSH-2.0"), None);
        assert_eq!(banner(&[b'x'; 10]), None);
        let long = [b"SSH-2.0-".as_slice(), &[b'a'; 400]].concat();
        assert_eq!(banner(&long).unwrap().len(), MAX_BANNER);
        assert_eq!(
            banner(b"SSH-2.0-a\x01b\r\n").as_deref(),
            Some("SSH-2.0-a\\x01b")
        );
    }
}
