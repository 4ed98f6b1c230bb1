//! SSH-2 transport: banners, a real KEXINIT, curve25519 ECDH messages,
//! NEWKEYS, then encrypted packets of realistic sizes (ciphertext is random).

use crate::rng::Rng;

/// Client identification strings.
pub const CLIENT_BANNERS: &[&str] = &[
    "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6",
    "SSH-2.0-OpenSSH_9.6",
    "SSH-2.0-PuTTY_Release_0.80",
    "SSH-2.0-libssh2_1.11.0",
    "SSH-2.0-Go",
    "SSH-2.0-paramiko_3.4.0",
];

/// Server identification strings.
pub const SERVER_BANNERS: &[&str] = &[
    "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6",
    "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2",
    "SSH-2.0-OpenSSH_7.4",
];

/// `banner` + CRLF.
pub fn banner(banner: &str) -> Vec<u8> {
    format!("{banner}\r\n").into_bytes()
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// Wraps a payload in the unencrypted binary packet format (block size 8,
/// at least 4 bytes of padding).
pub fn packet(rng: &mut Rng, payload: &[u8]) -> Vec<u8> {
    let mut pad = 8 - (5 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let mut out = Vec::with_capacity(5 + payload.len() + pad);
    out.extend_from_slice(&((1 + payload.len() + pad) as u32).to_be_bytes());
    out.push(pad as u8);
    out.extend_from_slice(payload);
    out.extend_from_slice(&rng.bytes(pad));
    out
}

/// SSH_MSG_KEXINIT in a binary packet.
pub fn kexinit(rng: &mut Rng, server: bool) -> Vec<u8> {
    let mut p = vec![20];
    p.extend_from_slice(&rng.bytes(16));
    let kex: &[u8] = if server {
        b"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group16-sha512,kex-strict-s-v00@openssh.com"
    } else {
        b"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,ext-info-c,kex-strict-c-v00@openssh.com"
    };
    let hostkey: &[u8] = if server {
        b"rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519"
    } else {
        b"ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256"
    };
    let cipher: &[u8] = b"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
    let mac: &[u8] = b"umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com";
    let comp: &[u8] = b"none,zlib@openssh.com";
    string(&mut p, kex);
    string(&mut p, hostkey);
    for _ in 0..2 {
        string(&mut p, cipher);
    }
    for _ in 0..2 {
        string(&mut p, mac);
    }
    for _ in 0..2 {
        string(&mut p, comp);
    }
    string(&mut p, b"");
    string(&mut p, b"");
    p.push(0);
    p.extend_from_slice(&[0, 0, 0, 0]);
    packet(rng, &p)
}

/// SSH_MSG_KEX_ECDH_INIT (client ephemeral key).
pub fn ecdh_init(rng: &mut Rng) -> Vec<u8> {
    let mut p = vec![30];
    string(&mut p, &rng.bytes(32));
    packet(rng, &p)
}

/// SSH_MSG_KEX_ECDH_REPLY + SSH_MSG_NEWKEYS (ed25519 host key).
pub fn ecdh_reply(rng: &mut Rng) -> Vec<u8> {
    let mut hk = Vec::new();
    string(&mut hk, b"ssh-ed25519");
    string(&mut hk, &rng.bytes(32));
    let mut sig = Vec::new();
    string(&mut sig, b"ssh-ed25519");
    string(&mut sig, &rng.bytes(64));
    let mut p = vec![31];
    string(&mut p, &hk);
    string(&mut p, &rng.bytes(32));
    string(&mut p, &sig);
    let mut out = packet(rng, &p);
    out.extend_from_slice(&packet(rng, &[21]));
    out
}

/// SSH_MSG_NEWKEYS.
pub fn newkeys(rng: &mut Rng) -> Vec<u8> {
    packet(rng, &[21])
}

/// An encrypted packet carrying about `plain` bytes (chacha20-poly1305
/// framing: 4-byte encrypted length, padded body, 16-byte tag).
pub fn encrypted(rng: &mut Rng, plain: usize) -> Vec<u8> {
    let body = (plain + 1 + 4).div_ceil(8) * 8;
    rng.bytes(4 + body + 16)
}
