//! First messages of remote-administration protocols: SMB2 NEGOTIATE over
//! NetBIOS session service (445), RDP X.224 Connection Request (3389) and
//! WinRM's WS-Management POST (5985).

use crate::rng::Rng;

fn smb2_header(command: u16, response: bool, msg_id: u64) -> Vec<u8> {
    let mut h = vec![0xfe, b'S', b'M', b'B'];
    h.extend_from_slice(&64u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&command.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&(response as u32).to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&msg_id.to_le_bytes());
    h.extend_from_slice(&0xfeffu32.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&0u64.to_le_bytes());
    h.extend_from_slice(&[0; 16]);
    h
}

fn netbios(body: &[u8]) -> Vec<u8> {
    let l = body.len() as u32;
    let mut out = vec![0];
    out.extend_from_slice(&l.to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

/// SMB2 NEGOTIATE request offering dialects 2.0.2 to 3.0.2.
pub fn smb2_negotiate(rng: &mut Rng) -> Vec<u8> {
    let mut b = smb2_header(0, false, 0);
    b.extend_from_slice(&36u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0x7fu32.to_le_bytes());
    b.extend_from_slice(&rng.bytes(16));
    b.extend_from_slice(&0u64.to_le_bytes());
    for d in [0x0202u16, 0x0210, 0x0300, 0x0302] {
        b.extend_from_slice(&d.to_le_bytes());
    }
    netbios(&b)
}

/// SMB2 NEGOTIATE response choosing 3.0.2, without a security blob.
pub fn smb2_negotiate_response(rng: &mut Rng) -> Vec<u8> {
    let mut b = smb2_header(0, true, 0);
    b.extend_from_slice(&65u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0x0302u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&rng.bytes(16));
    b.extend_from_slice(&0x2fu32.to_le_bytes());
    for _ in 0..3 {
        b.extend_from_slice(&8_388_608u32.to_le_bytes());
    }
    b.extend_from_slice(&0x01da_0000_0000_0000u64.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&0x80u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.push(0);
    netbios(&b)
}

/// RDP: TPKT + X.224 Connection Request with an mstshash cookie and an
/// RDP_NEG_REQ asking for TLS/CredSSP.
pub fn rdp_connect_request(user: &str) -> Vec<u8> {
    let cookie = format!("Cookie: mstshash={user}\r\n");
    let mut x224 = vec![0, 0xe0, 0, 0, 0, 0, 0];
    x224.extend_from_slice(cookie.as_bytes());
    x224.extend_from_slice(&[1, 0, 8, 0, 3, 0, 0, 0]);
    x224[0] = (x224.len() - 1) as u8;
    let mut out = vec![3, 0];
    out.extend_from_slice(&((x224.len() + 4) as u16).to_be_bytes());
    out.extend_from_slice(&x224);
    out
}

/// RDP: X.224 Connection Confirm selecting CredSSP.
pub fn rdp_connect_confirm() -> Vec<u8> {
    let x224 = [14u8, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0x1f, 8, 0, 2, 0, 0, 0];
    let mut out = vec![3, 0];
    out.extend_from_slice(&((x224.len() + 4) as u16).to_be_bytes());
    out.extend_from_slice(&x224);
    out
}

/// WinRM: an HTTP POST to /wsman with a Negotiate token.
pub fn winrm_post(rng: &mut Rng, host: &str) -> Vec<u8> {
    let token = rng.string(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        148,
    );
    format!(
        "POST /wsman HTTP/1.1\r\nConnection: Keep-Alive\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nAuthorization: Negotiate TlRMTVNTUAAB{token}\r\nUser-Agent: Microsoft WinRM Client\r\nContent-Length: 0\r\nHost: {host}:5985\r\n\r\n"
    )
    .into_bytes()
}

/// WinRM: the 401 challenge answer.
pub fn winrm_challenge(rng: &mut Rng) -> Vec<u8> {
    let token = rng.string(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        240,
    );
    format!(
        "HTTP/1.1 401 \r\nWWW-Authenticate: Negotiate TlRMTVNTUAAC{token}\r\nServer: Microsoft-HTTPAPI/2.0\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}
