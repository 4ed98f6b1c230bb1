//! Which server ports carry a login, and how much each service's ordinary use
//! looks like repeated short sessions.

/// A login service, from the server port or an SSH banner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Svc {
    Ssh,
    Ftp,
    Telnet,
    /// SMTP on 25: server-to-server relays open many short sessions, so only
    /// explicit failures (535) count there.
    SmtpRelay,
    /// Submission (465/587): a mail client's AUTH.
    SmtpSubmit,
    Pop3,
    Imap,
    Mysql,
    Postgres,
    Mssql,
    Oracle,
    Rdp,
    Vnc,
    Kerberos,
    Ldap,
    Smb,
    Winrm,
    /// HTTP(S) login forms: browsers open many short connections, so only
    /// login metadata (POSTs, 401s, failures) counts there.
    Http,
    /// A port with no known login service (counted by the generic rule).
    Other,
}

/// How a service's sessions are counted by the connection-pattern rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Floor {
    /// The ordinary floor (`min_sessions`).
    Normal,
    /// Services applications and the OS legitimately open many short sessions
    /// to (`min_sessions_busy`).
    Busy,
    /// Connection counts mean nothing here: metadata only.
    MetaOnly,
    /// No known service on the port (`generic_min_sessions`).
    Generic,
}

impl Svc {
    /// The login service on a TCP server port, if any.
    #[inline]
    pub fn of_tcp_port(port: u16) -> Option<Svc> {
        Some(match port {
            22 | 2222 => Svc::Ssh,
            21 => Svc::Ftp,
            23 => Svc::Telnet,
            25 => Svc::SmtpRelay,
            465 | 587 => Svc::SmtpSubmit,
            110 | 995 => Svc::Pop3,
            143 | 993 => Svc::Imap,
            3306 => Svc::Mysql,
            5432 => Svc::Postgres,
            1433 => Svc::Mssql,
            1521 => Svc::Oracle,
            3389 => Svc::Rdp,
            5900 | 5901 => Svc::Vnc,
            88 => Svc::Kerberos,
            389 | 636 => Svc::Ldap,
            445 => Svc::Smb,
            5985 | 5986 => Svc::Winrm,
            80 | 443 | 8080 | 8443 | 8000 | 8008 | 8888 => Svc::Http,
            _ => return None,
        })
    }

    /// The service a metadata `service` name stands for (as `vigil-app`
    /// spells it; matched loosely).
    pub fn of_meta(name: &str, port: u16) -> Svc {
        let n = name.to_ascii_lowercase();
        let by_name = if n.starts_with("ssh") {
            Some(Svc::Ssh)
        } else if n.starts_with("ftp") {
            Some(Svc::Ftp)
        } else if n.starts_with("telnet") {
            Some(Svc::Telnet)
        } else if n.starts_with("smtp") {
            Some(if port == 25 {
                Svc::SmtpRelay
            } else {
                Svc::SmtpSubmit
            })
        } else if n.starts_with("pop") {
            Some(Svc::Pop3)
        } else if n.starts_with("imap") {
            Some(Svc::Imap)
        } else if n.starts_with("mysql") || n.starts_with("maria") {
            Some(Svc::Mysql)
        } else if n.starts_with("postgres") || n.starts_with("pgsql") {
            Some(Svc::Postgres)
        } else if n.starts_with("mssql") || n.starts_with("tds") {
            Some(Svc::Mssql)
        } else if n.starts_with("oracle") || n.starts_with("tns") {
            Some(Svc::Oracle)
        } else if n.starts_with("rdp") {
            Some(Svc::Rdp)
        } else if n.starts_with("vnc") || n.starts_with("rfb") {
            Some(Svc::Vnc)
        } else if n.starts_with("kerberos") || n.starts_with("krb") {
            Some(Svc::Kerberos)
        } else if n.starts_with("ldap") {
            Some(Svc::Ldap)
        } else if n.starts_with("smb") || n.starts_with("ntlm") {
            Some(Svc::Smb)
        } else if n.starts_with("winrm") {
            Some(Svc::Winrm)
        } else if n.starts_with("http") {
            Some(Svc::Http)
        } else {
            None
        };
        by_name
            .or_else(|| Svc::of_tcp_port(port))
            .unwrap_or(Svc::Other)
    }

    pub fn floor(self) -> Floor {
        match self {
            Svc::Ssh
            | Svc::Ftp
            | Svc::Telnet
            | Svc::SmtpSubmit
            | Svc::Pop3
            | Svc::Imap
            | Svc::Rdp
            | Svc::Vnc
            | Svc::Smb => Floor::Normal,
            Svc::Mysql
            | Svc::Postgres
            | Svc::Mssql
            | Svc::Oracle
            | Svc::Kerberos
            | Svc::Ldap
            | Svc::Winrm => Floor::Busy,
            Svc::SmtpRelay | Svc::Http => Floor::MetaOnly,
            Svc::Other => Floor::Generic,
        }
    }

    /// The protocol decoder reports failures for this service, so logins
    /// seen without any failure are successful ones.
    pub fn failures_visible(self) -> bool {
        matches!(
            self,
            Svc::Ftp | Svc::Mysql | Svc::Postgres | Svc::Kerberos | Svc::SmtpSubmit
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Svc::Ssh => "SSH",
            Svc::Ftp => "FTP",
            Svc::Telnet => "Telnet",
            Svc::SmtpRelay | Svc::SmtpSubmit => "SMTP",
            Svc::Pop3 => "POP3",
            Svc::Imap => "IMAP",
            Svc::Mysql => "MySQL",
            Svc::Postgres => "PostgreSQL",
            Svc::Mssql => "MSSQL",
            Svc::Oracle => "Oracle",
            Svc::Rdp => "RDP",
            Svc::Vnc => "VNC",
            Svc::Kerberos => "Kerberos",
            Svc::Ldap => "LDAP",
            Svc::Smb => "SMB",
            Svc::Winrm => "WinRM",
            Svc::Http => "HTTP",
            Svc::Other => "unknown service",
        }
    }
}

/// Ports where the generic (unknown service) rule never counts: client-speaks
/// first request/response protocols whose clients legitimately reconnect
/// often (web, proxies, DNS, APIs).
pub fn generic_excluded(port: u16) -> bool {
    matches!(
        port,
        53 | 80 | 443 | 853 | 8000 | 8008 | 8080 | 8443 | 8888 | 3128 | 9200 | 9100 | 2375 | 2376
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_names() {
        assert_eq!(Svc::of_tcp_port(22), Some(Svc::Ssh));
        assert_eq!(Svc::of_tcp_port(902), None);
        assert_eq!(Svc::of_meta("postgresql", 5433), Svc::Postgres);
        assert_eq!(Svc::of_meta("smtp", 25), Svc::SmtpRelay);
        assert_eq!(Svc::of_meta("whatever", 3306), Svc::Mysql);
        assert_eq!(Svc::of_meta("whatever", 902), Svc::Other);
        assert_eq!(Svc::Http.floor(), Floor::MetaOnly);
    }
}
