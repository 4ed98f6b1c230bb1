//! Ed25519-signed chain heads (feature `signing`).
//!
//! A *head* is `(records, last_hash)`: the number of records and the hash of
//! the last one. Because every hash commits to all records before it, signing
//! the head signs the whole log up to that point. A verifier holding the
//! public key can then detect what the bare chain cannot: records cut off the
//! end, and a rewrite of the whole chain. Records appended after the head was
//! signed are allowed (they are covered by the chain, not by this signature).
//!
//! The signed message is exactly the UTF-8 bytes
//! `"vigil-evidence head v1\n" + decimal(records) + "\n" + last_hash + "\n"`,
//! with `last_hash` = 64 zeros for an empty log. Keys and signatures are
//! lowercase hex (32 and 64 bytes).

use std::path::Path;

use ed25519_dalek::{Signature, Signer, Verifier};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{scan_with, to_hex, EvidenceLog, Verified, VerifyError, GENESIS_PREV};

/// A signed `(records, last_hash)` head; serialisable for storing elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    /// Records covered (the head is record `records - 1`).
    pub records: u64,
    /// Hash of record `records - 1`, or 64 zeros when `records == 0`.
    pub last_hash: String,
    /// Signer's Ed25519 public key, lowercase hex.
    pub public_key: String,
    /// Ed25519 signature over [`head_message`], lowercase hex.
    pub signature: String,
}

/// Why a log does not match a signed head.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// The log itself is broken.
    #[error("{0}")]
    Chain(#[from] VerifyError),
    /// The head was signed by another key.
    #[error("signed head: signed by key {found}, expected {expected}")]
    WrongKey { expected: String, found: String },
    /// The signature does not verify (the head or signature was altered).
    #[error("signed head: bad signature: the head was altered or not signed by this key")]
    BadSignature,
    /// The log has fewer records than the head.
    #[error("log has {found} records but the signed head covers {records}: records were cut off the end")]
    Truncated { records: u64, found: u64 },
    /// The record at the head differs from the signed hash.
    #[error("seq {seq}: hash differs from the signed head: the chain was rewritten")]
    Rewritten { seq: u64 },
}

/// The exact bytes signed for a head.
pub fn head_message(records: u64, last_hash: &str) -> Vec<u8> {
    format!("vigil-evidence head v1\n{records}\n{last_hash}\n").into_bytes()
}

/// Signs the head `(records, last_hash)`; pass `None` for an empty log.
pub fn sign_head(key: &SigningKey, records: u64, last_hash: Option<&str>) -> SignedHead {
    let last_hash = last_hash.unwrap_or(GENESIS_PREV).to_string();
    let sig = key.sign(&head_message(records, &last_hash));
    SignedHead {
        records,
        last_hash,
        public_key: to_hex(key.verifying_key().as_bytes()),
        signature: to_hex(&sig.to_bytes()),
    }
}

impl EvidenceLog {
    /// Signs this log's current head (call after [`EvidenceLog::flush`] to
    /// sign only durable records).
    pub fn sign_head(&self, key: &SigningKey) -> SignedHead {
        sign_head(key, self.next_seq, Some(&self.prev))
    }
}

/// Verifies the log at `path` (as [`crate::verify`]) and that it contains the
/// signed `head`, signed by `key`. Records after the head are allowed.
pub fn verify_signed(
    path: &Path,
    head: &SignedHead,
    key: &VerifyingKey,
) -> Result<Verified, HeadError> {
    let expected = to_hex(key.as_bytes());
    if head.public_key != expected {
        return Err(HeadError::WrongKey {
            expected,
            found: head.public_key.clone(),
        });
    }
    let sig: [u8; 64] = from_hex(&head.signature)
        .and_then(|v| v.try_into().ok())
        .ok_or(HeadError::BadSignature)?;
    key.verify(
        &head_message(head.records, &head.last_hash),
        &Signature::from_bytes(&sig),
    )
    .map_err(|_| HeadError::BadSignature)?;

    let io = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut at_head: Option<String> = None;
    let scan = scan_with(std::io::BufReader::new(f), |seq, hash| {
        if seq + 1 == head.records {
            at_head = Some(hash.to_string());
        }
    })
    .map_err(io)?;
    if let Some(e) = scan.error {
        return Err(e.into());
    }
    if scan.good.records < head.records {
        return Err(HeadError::Truncated {
            records: head.records,
            found: scan.good.records,
        });
    }
    if head.records > 0 && at_head.as_deref() != Some(head.last_hash.as_str()) {
        return Err(HeadError::Rewritten {
            seq: head.records - 1,
        });
    }
    if head.records == 0 && head.last_hash != GENESIS_PREV {
        return Err(HeadError::Rewritten { seq: 0 });
    }
    Ok(Verified {
        records: scan.good.records,
        last_hash: scan.good.last_hash,
    })
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    s.as_bytes()
        .chunks(2)
        .map(|c| match c {
            [hi, lo] => Some((hex_digit(*hi)? << 4) | hex_digit(*lo)?),
            _ => None,
        })
        .collect()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpenOptions;
    use serde_json::json;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    #[test]
    fn signed_head_roundtrip_and_attacks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let (mut log, _) = EvidenceLog::open(&path, &OpenOptions::default()).unwrap();
        let empty = log.sign_head(&key(1));
        for i in 0..10u64 {
            log.append(i, "alert", &json!({ "i": i })).unwrap();
        }
        log.flush().unwrap();
        let head = log.sign_head(&key(1));
        let vk = key(1).verifying_key();
        assert_eq!(verify_signed(&path, &head, &vk).unwrap().records, 10);
        assert_eq!(verify_signed(&path, &empty, &vk).unwrap().records, 10);
        // Records appended after the head are fine.
        log.append(11, "action", &json!(null)).unwrap();
        assert_eq!(verify_signed(&path, &head, &vk).unwrap().records, 11);
        drop(log);

        // Wrong key, altered head.
        let other = key(2).verifying_key();
        assert!(matches!(
            verify_signed(&path, &head, &other),
            Err(HeadError::WrongKey { .. })
        ));
        let mut forged = head.clone();
        forged.records = 9;
        assert!(matches!(
            verify_signed(&path, &forged, &vk),
            Err(HeadError::BadSignature)
        ));
        let mut bad = head.clone();
        bad.signature = "zz".into();
        assert!(matches!(
            verify_signed(&path, &bad, &vk),
            Err(HeadError::BadSignature)
        ));

        // Tail cut at a record boundary: the bare chain verifies, the head does not.
        let text = std::fs::read_to_string(&path).unwrap();
        let keep: String = text.split_inclusive('\n').take(8).collect();
        std::fs::write(&path, &keep).unwrap();
        assert_eq!(crate::verify(&path).unwrap().records, 8);
        let e = verify_signed(&path, &head, &vk).unwrap_err();
        assert!(
            matches!(
                e,
                HeadError::Truncated {
                    records: 10,
                    found: 8
                }
            ),
            "{e}"
        );

        // Whole chain rewritten from scratch: verifies alone, not against the head.
        std::fs::remove_file(&path).unwrap();
        let (mut log, _) = EvidenceLog::open(&path, &OpenOptions::default()).unwrap();
        for i in 0..10u64 {
            log.append(i, "alert", &json!({ "i": i + 100 })).unwrap();
        }
        drop(log);
        assert!(crate::verify(&path).is_ok());
        let e = verify_signed(&path, &head, &vk).unwrap_err();
        assert!(matches!(e, HeadError::Rewritten { seq: 9 }), "{e}");

        // The head serialises for storage elsewhere.
        let j = serde_json::to_string(&head).unwrap();
        assert_eq!(serde_json::from_str::<SignedHead>(&j).unwrap(), head);
    }
}
