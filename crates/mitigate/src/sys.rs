//! The one seam through which backends touch the system: running a
//! program (nft, gobgp, an exec hook) with optional stdin. The real
//! [`OsSys`] is what vigil uses; [`Recorder`] replaces it in unit tests so
//! the command text a backend produces is checked without root. The real
//! backends are also tested for real, in network namespaces.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::Error;

/// Runs programs.
pub trait Sys: Send + Sync {
    /// Runs `program args...`, feeding `stdin`, and returns its stdout.
    ///
    /// # Errors
    /// [`Error::Command`] when it cannot start or exits non-zero (with its
    /// stderr).
    fn run(&self, program: &str, args: &[String], stdin: Option<&[u8]>) -> Result<String, Error>;
}

/// The operating system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsSys;

impl Sys for OsSys {
    fn run(&self, program: &str, args: &[String], stdin: Option<&[u8]>) -> Result<String, Error> {
        let what = || format!("{program} {}", args.join(" "));
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Command(what(), e.to_string()))?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // a program that exits without reading is reported by its status
            let _ = pipe.write_all(data);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::Command(what(), e.to_string()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(Error::Command(
                what(),
                format!("{}: {}", out.status, err.trim().replace('\n', " ")),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// One call seen by a [`Recorder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<String>,
}

/// Records calls and answers them with a fixed stdout (or fails the ones
/// whose command line contains `fail_on`).
#[derive(Clone, Default)]
pub struct Recorder {
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub stdout: Arc<Mutex<String>>,
    pub fail_on: Arc<Mutex<Option<String>>>,
}

impl Recorder {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("not poisoned").clone()
    }
}

impl Sys for Recorder {
    fn run(&self, program: &str, args: &[String], stdin: Option<&[u8]>) -> Result<String, Error> {
        let call = Call {
            program: program.to_string(),
            args: args.to_vec(),
            stdin: stdin.map(|s| String::from_utf8_lossy(s).into_owned()),
        };
        let line = format!(
            "{program} {} {}",
            args.join(" "),
            call.stdin.clone().unwrap_or_default()
        );
        self.calls.lock().expect("not poisoned").push(call);
        if let Some(f) = self.fail_on.lock().expect("not poisoned").as_deref() {
            if line.contains(f) {
                return Err(Error::Command(line, "recorder told to fail".into()));
            }
        }
        Ok(self.stdout.lock().expect("not poisoned").clone())
    }
}

/// Runs every program inside a network namespace (`ip netns exec NS ...`):
/// a sensor on the host driving the filter of a router namespace, and the
/// namespace tests.
#[derive(Clone, Debug)]
pub struct NetnsSys {
    pub netns: String,
}

impl Sys for NetnsSys {
    fn run(&self, program: &str, args: &[String], stdin: Option<&[u8]>) -> Result<String, Error> {
        let mut all = vec![
            "netns".to_string(),
            "exec".into(),
            self.netns.clone(),
            program.into(),
        ];
        all.extend(args.iter().cloned());
        OsSys.run("ip", &all, stdin)
    }
}
