//! `vigil report`: the breach report of a run (or one incident) from the
//! store, as self-contained HTML, Markdown or JSON.

use std::path::PathBuf;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Html,
    Md,
    Json,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The store written by `vigil analyze --store`.
    #[arg(long, value_name = "FILE.db")]
    pub store: PathBuf,
    /// Report on this incident only (default: every incident of the run).
    #[arg(long)]
    pub incident: Option<u64>,
    /// The run to report on (default: the latest, or the incident's).
    #[arg(long)]
    pub run: Option<i64>,
    #[arg(long, value_enum, default_value = "html")]
    pub format: Format,
    /// Output file ("-" for stdout).
    #[arg(short, long, value_name = "FILE|-", default_value = "-")]
    pub output: PathBuf,
}

/// # Errors
/// The store cannot be read, the run or incident is unknown, or the output
/// cannot be written.
pub fn run(a: &ReportArgs) -> anyhow::Result<()> {
    let st = vigil_store::Store::open_existing(&a.store)?;
    let r = vigil_report::build(&st, &a.store.display().to_string(), a.run, a.incident)?;
    let text = match a.format {
        Format::Html => vigil_report::html(&r),
        Format::Md => vigil_report::markdown(&r),
        Format::Json => serde_json::to_string_pretty(&r)? + "\n",
    };
    if a.output.as_os_str() == "-" {
        use std::io::Write;
        match std::io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => Ok(r?),
        }
    } else {
        std::fs::write(&a.output, text).map_err(|e| anyhow::anyhow!("{}: {e}", a.output.display()))
    }
}
