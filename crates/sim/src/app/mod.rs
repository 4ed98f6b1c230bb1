//! Application payload builders.
//!
//! Each submodule turns "what the protocol says" into the bytes a sniffer sees,
//! real where dissectors look (DNS, TLS ClientHello/ServerHello, HTTP, SSH
//! banners and KEX messages, FTP, MySQL/PostgreSQL login, Kerberos AS-REQ /
//! KRB-ERROR, SMB2 negotiate, RDP connection request, NTP, SNMP) and
//! length-realistic random bytes where the real thing is encrypted.
pub mod admin;
pub mod db;
pub mod dns;
pub mod ftp;
pub mod http;
pub mod kerberos;
pub mod misc;
pub mod ssh;
pub mod tls;
