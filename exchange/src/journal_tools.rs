//! `exchange journal verify|stat|dump`: read-only operator tools over a journal directory.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use journal::{JournalError, JournalReader, Record, ScanReport};

/// The journal subcommands.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Scan every segment; exit non-zero and name the first bad offset on corruption.
    Verify {
        /// The journal directory.
        dir: PathBuf,
    },
    /// First/last index, record and byte counts, and the segments.
    Stat {
        /// The journal directory.
        dir: PathBuf,
    },
    /// One human-readable line per record.
    Dump {
        /// The journal directory.
        dir: PathBuf,
        /// First index to print (default: the first retained record).
        #[arg(long)]
        from: Option<u64>,
        /// Print at most this many records.
        #[arg(long)]
        limit: Option<u64>,
    },
}

/// Runs one journal subcommand; the exit code says whether the journal is sound.
pub fn run(cmd: JournalCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        JournalCommand::Verify { dir } => verify(&dir),
        JournalCommand::Stat { dir } => {
            let report = scan(&dir)?;
            print!("{}", format_stat(&report));
            Ok(ExitCode::SUCCESS)
        }
        JournalCommand::Dump { dir, from, limit } => dump(&dir, from, limit),
    }
}

fn scan(dir: &std::path::Path) -> anyhow::Result<ScanReport> {
    journal::scan(dir).with_context(|| format!("scanning journal {}", dir.display()))
}

fn verify(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    match journal::scan(dir) {
        Ok(report) => {
            let range = match (report.first_index, report.last_index) {
                (Some(first), Some(last)) => format!("indexes {first}..={last}"),
                _ => "no records".to_owned(),
            };
            println!(
                "ok: {} records, {range}, {} segments",
                report.records,
                report.segments.len()
            );
            if let Some(torn) = &report.torn_tail {
                println!(
                    "note: torn tail in {} at byte {} ({}); it is truncated when the journal is next opened for writing",
                    torn.segment.display(),
                    torn.offset,
                    torn.reason
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(JournalError::Corrupt {
            segment,
            offset,
            reason,
        }) => {
            println!(
                "CORRUPT: {} at byte offset {offset}: {reason}",
                segment.display()
            );
            Ok(ExitCode::from(2))
        }
        Err(other) => Err(other).with_context(|| format!("scanning journal {}", dir.display())),
    }
}

/// The `stat` report as text.
fn format_stat(report: &ScanReport) -> String {
    let mut out = String::new();
    let idx = |i: Option<u64>| i.map_or_else(|| "-".to_owned(), |i| i.to_string());
    let _ = writeln!(out, "first_index   {}", idx(report.first_index));
    let _ = writeln!(out, "last_index    {}", idx(report.last_index));
    let _ = writeln!(out, "records       {}", report.records);
    let _ = writeln!(out, "payload_bytes {}", report.payload_bytes);
    let _ = writeln!(out, "framed_bytes  {}", report.framed_bytes);
    let _ = writeln!(out, "segments      {}", report.segments.len());
    for seg in &report.segments {
        let _ = writeln!(
            out,
            "  {}  first={} last={} records={} used={} size={}",
            seg.path.file_name().map_or_else(
                || seg.path.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            ),
            seg.first_index,
            idx(seg.last_index),
            seg.records,
            seg.used_bytes,
            seg.file_bytes
        );
    }
    if let Some(torn) = &report.torn_tail {
        let _ = writeln!(
            out,
            "torn_tail     {} at byte {} ({})",
            torn.segment.display(),
            torn.offset,
            torn.reason
        );
    }
    out
}

fn dump(dir: &std::path::Path, from: Option<u64>, limit: Option<u64>) -> anyhow::Result<ExitCode> {
    let report = scan(dir)?;
    let Some(first) = report.first_index else {
        return Ok(ExitCode::SUCCESS);
    };
    let start = from.unwrap_or(first).max(first);
    let mut reader = JournalReader::open(dir, start)
        .with_context(|| format!("opening a reader on {} at index {start}", dir.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    while limit.is_none_or(|l| printed < l) {
        let Some(record) = reader.try_next().context("reading the journal")? else {
            break;
        };
        if writeln!(out, "{}", format_record(&record)).is_err() {
            // The reader went away (e.g. `| head`): stop quietly.
            return Ok(ExitCode::SUCCESS);
        }
        printed += 1;
    }
    out.flush().ok();
    Ok(ExitCode::SUCCESS)
}

/// One line per record: header fields, then the payload.
fn format_record(record: &Record) -> String {
    format!(
        "{} term={} kind={} v={} len={} {}",
        record.index,
        record.term,
        record.kind,
        record.version,
        record.payload.len(),
        crate::payload::describe(record)
    )
}
