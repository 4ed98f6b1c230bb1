//! `vigil verify`: the evidence log's hash chain, then what the chain vouches
//! for: every pcap excerpt it lists must still hash to the value recorded,
//! and, with `--store`, every alert it holds must still be in the store (a
//! deleted row is named). With `--public-key`, the signed head written by
//! `analyze --evidence-key` must match too (catches records cut off the
//! end, or a rewritten chain).
//!
//! Also `vigil keygen`: an Ed25519 key pair for signing heads.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use vigil_evidence::signing::{SignedHead, SigningKey, VerifyingKey};

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The evidence log (JSON lines).
    pub file: PathBuf,
    /// Also check that every alert in the log is in this store.
    #[arg(long, value_name = "FILE.db")]
    pub store: Option<PathBuf>,
    /// Also check the signed head (FILE.head, written by `analyze
    /// --evidence-key`) against this Ed25519 public key (hex).
    #[arg(long, value_name = "HEX")]
    pub public_key: Option<String>,
}

/// An alert as both the log and the store know it: (time in µs, signature
/// id, source, destination).
type AlertKey = (i64, u64, Option<String>, Option<String>);

/// Where the signed head of an evidence log is kept.
pub fn head_path(log: &Path) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(".head");
    PathBuf::from(s)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Reads a secret key file (64 hex digits).
///
/// # Errors
/// Unreadable, or not 32 bytes of hex.
pub fn load_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let bytes: [u8; 32] = unhex(&text)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: not an Ed25519 secret key (64 hex digits)",
                path.display()
            )
        })?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Signs the log's current head into FILE.head.
///
/// # Errors
/// The key or log cannot be read, or the head cannot be written.
pub fn sign(log: &Path, key: &SigningKey) -> anyhow::Result<()> {
    let v = vigil_evidence::verify(log)?;
    let head = vigil_evidence::signing::sign_head(key, v.records, v.last_hash.as_deref());
    let p = head_path(log);
    std::fs::write(&p, serde_json::to_string_pretty(&head)? + "\n")
        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
}

/// `vigil keygen`: writes a new secret key (hex, mode 0600) and returns the
/// public key (hex).
///
/// # Errors
/// No randomness, or the file cannot be written (an existing file is never
/// overwritten).
pub fn keygen(out: &Path) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    let key = SigningKey::from_bytes(&seed);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(out)
        .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    writeln!(f, "{}", hex(&seed))?;
    Ok(hex(key.verifying_key().as_bytes()))
}

/// An excerpt file named in the log: as written, or relative to the log.
fn resolve(log: &Path, file: &str) -> PathBuf {
    let p = PathBuf::from(file);
    if p.exists() || p.is_absolute() {
        return p;
    }
    log.parent().map_or(p.clone(), |d| d.join(&p))
}

/// SHA-256 of a file's bytes, lowercase hex.
pub fn sha256(p: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Runs every check; returns the line printed on success.
///
/// # Errors
/// The first check that failed, naming the record, file or row.
pub fn run(a: &VerifyArgs) -> anyhow::Result<String> {
    let v = vigil_evidence::verify(&a.file)?;
    let mut notes = Vec::new();
    if let Some(pk) = &a.public_key {
        let bytes: [u8; 32] = unhex(pk)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("--public-key: not 64 hex digits"))?;
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("--public-key: {e}"))?;
        let hp = head_path(&a.file);
        let head: SignedHead = serde_json::from_str(
            &std::fs::read_to_string(&hp).map_err(|e| anyhow::anyhow!("{}: {e}", hp.display()))?,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", hp.display()))?;
        vigil_evidence::signing::verify_signed(&a.file, &head, &key)?;
        notes.push(format!("signed head ok ({} records)", head.records));
    }
    // what the records vouch for
    let f = std::fs::File::open(&a.file)?;
    let mut excerpts = 0;
    let mut alerts: Vec<(u64, AlertKey)> = Vec::new();
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        let Ok(rec) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let seq = rec["seq"].as_u64().unwrap_or(0);
        let d = &rec["data"];
        match rec["kind"].as_str() {
            Some("excerpt") => {
                let file = d["file"].as_str().unwrap_or("");
                let p = resolve(&a.file, file);
                let got = sha256(&p)
                    .map_err(|e| anyhow::anyhow!("seq {seq}: excerpt {}: {e}", p.display()))?;
                if Some(got.as_str()) != d["sha256"].as_str() {
                    anyhow::bail!(
                        "seq {seq}: excerpt {} was altered: sha256 {got}, the log says {}",
                        p.display(),
                        d["sha256"].as_str().unwrap_or("?")
                    );
                }
                excerpts += 1;
            }
            Some("alert") if a.store.is_some() => {
                let ts = d["timestamp"]
                    .as_str()
                    .and_then(|t| crate::query::parse_time(t).ok())
                    .unwrap_or(0);
                alerts.push((
                    seq,
                    (
                        ts / 1000,
                        d["alert"]["signature_id"].as_u64().unwrap_or(0),
                        d["src_ip"].as_str().map(str::to_string),
                        d["dest_ip"].as_str().map(str::to_string),
                    ),
                ));
            }
            _ => {}
        }
    }
    if excerpts > 0 {
        notes.push(format!("{excerpts} excerpt file(s) match their hashes"));
    }
    if let Some(db) = &a.store {
        let st = vigil_store::Store::open_existing(db)?;
        let check = st.integrity_check()?;
        if check != "ok" {
            anyhow::bail!("{}: SQLite integrity check: {check}", db.display());
        }
        let rows: HashSet<AlertKey> = st
            .alerts(&vigil_store::Filter::default())?
            .into_iter()
            .map(|r| {
                (
                    r.ts_ns / 1000,
                    u64::from(r.signature_id),
                    r.src_ip,
                    r.dest_ip,
                )
            })
            .collect();
        let missing: Vec<u64> = alerts
            .iter()
            .filter(|(_, key)| !rows.contains(key))
            .map(|a| a.0)
            .collect();
        if let Some(first) = missing.first() {
            anyhow::bail!(
                "{}: {} alert(s) of the evidence log are missing from the store (rows deleted?); first: seq {first}",
                db.display(),
                missing.len()
            );
        }
        notes.push(format!(
            "all {} alert(s) present in {}",
            alerts.len(),
            db.display()
        ));
    }
    let mut s = format!(
        "{}: ok, {} records, last hash {}",
        a.file.display(),
        v.records,
        v.last_hash.as_deref().unwrap_or("-")
    );
    for n in notes {
        s.push_str("; ");
        s.push_str(&n);
    }
    Ok(s)
}
