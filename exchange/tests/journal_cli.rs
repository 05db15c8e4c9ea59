//! The operator tools `exchange journal verify|stat|dump` against real journals on disk.

use std::path::Path;
use std::process::{Command, Output};

use journal::{Journal, JournalConfig, RecordKind};

fn exchange(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_exchange"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the exchange binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes `n` records with payload `record-<i>` into a journal with small segments.
fn write_journal(dir: &Path, n: u64) {
    let mut config = JournalConfig::new(dir);
    config.segment_bytes = 4096;
    let journal = Journal::open(config).expect("open");
    let mut last = 0;
    for i in 1..=n {
        let kind = if i % 2 == 0 {
            RecordKind::Event
        } else {
            RecordKind::Command
        };
        last = journal
            .append(kind, format!("record-{i}").as_bytes())
            .expect("append");
    }
    journal.wait_durable_blocking(last).expect("durable");
    journal.close().expect("close");
}

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

#[test]
fn stat_verify_and_dump_a_healthy_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_journal(dir.path(), 300);
    let d = dir.path().to_str().expect("utf-8 path");

    let out = exchange(&["journal", "stat", d]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert_eq!(field(&text, "first_index"), "1");
    assert_eq!(field(&text, "last_index"), "300");
    assert_eq!(field(&text, "records"), "300");
    let segments: usize = field(&text, "segments").parse().expect("segment count");
    assert!(segments > 1, "4 KiB segments must have rolled:\n{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains(".seg")).count(),
        segments
    );

    let out = exchange(&["journal", "verify", d]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).starts_with("ok: 300 records, indexes 1..=300"),
        "{out:?}"
    );

    let out = exchange(&["journal", "dump", d, "--from", "41", "--limit", "3"]);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (line, index) in lines.iter().zip(41u64..) {
        let kind = if index % 2 == 0 { "event" } else { "command" };
        let len = format!("record-{index}").len();
        assert!(
            line.starts_with(&format!("{index} term=0 kind={kind} v=1 len={len} ")),
            "{line}"
        );
    }
    // The whole dump has one line per record.
    let out = exchange(&["journal", "dump", d]);
    assert_eq!(stdout(&out).lines().count(), 300);
}

#[test]
fn verify_names_the_segment_and_offset_of_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_journal(dir.path(), 300);
    let d = dir.path().to_str().expect("utf-8 path");

    // Flip one payload byte of the 3rd record of the first segment: records before it are
    // whole and plenty of valid records follow it, so this is corruption, not a torn tail.
    let mut segments: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    let first = &segments[0];
    let mut bytes = std::fs::read(first).expect("read segment");
    // Frames are a 32-byte header, the payload, zero padding to 8 bytes.
    let frame = |len: usize| 32 + len.div_ceil(8) * 8;
    let third = frame("record-1".len()) + frame("record-2".len());
    bytes[third + 32] ^= 0xff;
    std::fs::write(first, &bytes).expect("write segment");

    let out = exchange(&["journal", "verify", d]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let text = stdout(&out);
    let name = first
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(text.starts_with("CORRUPT: "), "{text}");
    assert!(text.contains(&name), "{text}");
    assert!(text.contains(&format!("at byte offset {third}:")), "{text}");

    // stat refuses too, with a non-zero exit and the same location.
    let out = exchange(&["journal", "stat", d]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&name) && err.contains(&third.to_string()),
        "{err}"
    );
}

#[test]
fn tools_on_a_missing_directory_fail_clearly() {
    let out = exchange(&["journal", "verify", "/nonexistent/journal/dir"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/journal/dir"));
}
