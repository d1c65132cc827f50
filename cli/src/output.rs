//! Printing for people and for programs: an aligned table with relative times when stdout is a
//! terminal (or `--table`), one JSON document with `--json` (never any colour).

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

use crate::time::relative;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

impl Format {
    /// `--json` wins; otherwise a table (for a terminal or a pipe alike: the table is plain
    /// text, and programs should ask for `--json`).
    pub fn choose(json: bool) -> Format {
        if json { Format::Json } else { Format::Table }
    }
}

/// A table with these column headers.
pub fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(if std::io::stdout().is_terminal() {
            ContentArrangement::Dynamic
        } else {
            ContentArrangement::Disabled
        })
        .set_header(headers.iter().map(|h| h.to_uppercase()));
    t
}

/// Prints a table or a JSON document.
pub fn print<T: Serialize>(format: Format, value: &T, table: impl FnOnce() -> Table) {
    let mut out = std::io::stdout().lock();
    let text = match format {
        Format::Json => serde_json::to_string_pretty(value).expect("views serialize"),
        Format::Table => render(&table()),
    };
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = writeln!(out, "{text}");
}

/// A table as text, without the margin comfy-table leaves left of the first column and after the
/// last.
pub fn render(t: &Table) -> String {
    let text = t.to_string();
    let margin = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| l.get(margin..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A time for a table cell: relative ("in 5m", "3h ago"), or `-`.
pub fn when(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| relative(t, now))
}

/// An optional value for a table cell.
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}
