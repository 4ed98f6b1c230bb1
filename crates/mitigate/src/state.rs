//! The state file: the active mitigations as JSON, replaced atomically
//! (written to a temporary file in the same directory, fsynced, renamed)
//! so a crash leaves the old or the new list, never half of one.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::Error;

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct State {
    /// Format version (1).
    pub version: u32,
    /// Applied for real (false: a dry run's plan).
    pub dry_run: bool,
    pub active: Vec<Action>,
}

/// Reads a state file; a missing file is an empty state.
///
/// # Errors
/// Unreadable or not a state file (named in the message).
pub fn load(path: &Path) -> Result<State, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::State(path.display().to_string(), e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State {
            version: 1,
            ..State::default()
        }),
        Err(e) => Err(Error::State(path.display().to_string(), e.to_string())),
    }
}

/// Replaces the state file atomically.
///
/// # Errors
/// The directory is not writable, the disk is full...
pub fn save(path: &Path, st: &State) -> Result<(), Error> {
    let err = |e: std::io::Error| Error::State(path.display().to_string(), e.to_string());
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    let json = serde_json::to_vec_pretty(st)
        .map_err(|e| Error::State(path.display().to_string(), e.to_string()))?;
    tmp.write_all(&json).map_err(err)?;
    tmp.write_all(b"\n").map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}
