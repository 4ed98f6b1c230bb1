//! FTP control-channel lines.

/// Server greetings.
pub const GREETINGS: &[&str] = &[
    "220 (vsFTPd 3.0.3)\r\n",
    "220 ProFTPD Server (Debian) [::ffff:10.0.0.1]\r\n",
    "220 Microsoft FTP Service\r\n",
    "220-FileZilla Server 1.7.3\r\n220 Please visit https://filezilla-project.org/\r\n",
];

/// `USER name`.
pub fn user(name: &str) -> Vec<u8> {
    format!("USER {name}\r\n").into_bytes()
}

/// `PASS secret`.
pub fn pass(secret: &str) -> Vec<u8> {
    format!("PASS {secret}\r\n").into_bytes()
}

/// 331 after USER.
pub const NEED_PASS: &[u8] = b"331 Please specify the password.\r\n";
/// 530 after a wrong password.
pub const LOGIN_INCORRECT: &[u8] = b"530 Login incorrect.\r\n";
/// 230 after a right one.
pub const LOGIN_OK: &[u8] = b"230 Login successful.\r\n";
/// QUIT and its answer.
pub const QUIT: &[u8] = b"QUIT\r\n";
/// 221 goodbye.
pub const GOODBYE: &[u8] = b"221 Goodbye.\r\n";
