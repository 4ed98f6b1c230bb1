//! Database login exchanges: MySQL (3306) handshake / auth / ERR 1045 and
//! PostgreSQL (5432) startup / MD5 challenge / 28P01.

use crate::rng::Rng;

fn my_packet(seq: u8, body: &[u8]) -> Vec<u8> {
    let l = body.len() as u32;
    let mut out = l.to_le_bytes()[..3].to_vec();
    out.push(seq);
    out.extend_from_slice(body);
    out
}

/// MySQL server greeting (protocol 10, caching_sha2_password).
pub fn mysql_greeting(rng: &mut Rng, thread_id: u32) -> Vec<u8> {
    let mut b = vec![10];
    b.extend_from_slice(b"8.0.36\0");
    b.extend_from_slice(&thread_id.to_le_bytes());
    let salt = rng.string(
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        20,
    );
    b.extend_from_slice(&salt.as_bytes()[..8]);
    b.push(0);
    b.extend_from_slice(&0xffffu16.to_le_bytes());
    b.push(0xff);
    b.extend_from_slice(&0x0002u16.to_le_bytes());
    b.extend_from_slice(&0xdfffu16.to_le_bytes());
    b.push(21);
    b.extend_from_slice(&[0; 10]);
    b.extend_from_slice(&salt.as_bytes()[8..]);
    b.push(0);
    b.extend_from_slice(b"caching_sha2_password\0");
    my_packet(0, &b)
}

/// MySQL HandshakeResponse41 for `user` with a 32-byte scramble.
pub fn mysql_login(rng: &mut Rng, user: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0x01af_a20du32.to_le_bytes());
    b.extend_from_slice(&16_777_216u32.to_le_bytes());
    b.push(0xff);
    b.extend_from_slice(&[0; 23]);
    b.extend_from_slice(user.as_bytes());
    b.push(0);
    b.push(32);
    b.extend_from_slice(&rng.bytes(32));
    b.extend_from_slice(b"caching_sha2_password\0");
    my_packet(1, &b)
}

/// MySQL ERR 1045 (access denied).
pub fn mysql_denied(user: &str, host: &str) -> Vec<u8> {
    let mut b = vec![0xff];
    b.extend_from_slice(&1045u16.to_le_bytes());
    b.extend_from_slice(b"#28000");
    b.extend_from_slice(
        format!("Access denied for user '{user}'@'{host}' (using password: YES)").as_bytes(),
    );
    my_packet(2, &b)
}

/// PostgreSQL StartupMessage (protocol 3.0).
pub fn pg_startup(user: &str, db: &str) -> Vec<u8> {
    let mut b = 196_608u32.to_be_bytes().to_vec();
    for (k, v) in [
        ("user", user),
        ("database", db),
        ("application_name", "psql"),
    ] {
        b.extend_from_slice(k.as_bytes());
        b.push(0);
        b.extend_from_slice(v.as_bytes());
        b.push(0);
    }
    b.push(0);
    let mut out = ((b.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&b);
    out
}

fn pg_msg(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![ty];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// AuthenticationMD5Password with a random salt.
pub fn pg_md5_challenge(rng: &mut Rng) -> Vec<u8> {
    let mut b = 5u32.to_be_bytes().to_vec();
    b.extend_from_slice(&rng.bytes(4));
    pg_msg(b'R', &b)
}

/// PasswordMessage with an `md5…` hash.
pub fn pg_password(rng: &mut Rng) -> Vec<u8> {
    let mut b = b"md5".to_vec();
    b.extend_from_slice(rng.string(b"0123456789abcdef", 32).as_bytes());
    b.push(0);
    pg_msg(b'p', &b)
}

/// ErrorResponse 28P01 (password authentication failed).
pub fn pg_auth_failed(user: &str) -> Vec<u8> {
    let mut b = Vec::new();
    let msg = format!("password authentication failed for user \"{user}\"");
    for (k, v) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "28P01"),
        (b'M', msg.as_str()),
        (b'F', "auth.c"),
        (b'L', "326"),
        (b'R', "auth_failed"),
    ] {
        b.push(k);
        b.extend_from_slice(v.as_bytes());
        b.push(0);
    }
    b.push(0);
    pg_msg(b'E', &b)
}
