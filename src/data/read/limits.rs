//! The sizes past which a reader refuses a dataset, so that memory stays
//! bounded whatever the file holds: a reader keeps at most one record (CSV),
//! one line (JSON lines) or one page per column (Parquet) at a time, and each
//! of those is capped here. Values past these sizes are not data a check can
//! say anything useful about; a file of NUL bytes or `/dev/zero` reaches
//! them in milliseconds instead of exhausting memory.

/// One CSV record or one JSON line, in bytes.
pub const MAX_RECORD_BYTES: u64 = 8 << 20;

/// One Parquet page, compressed or not, in bytes (writers aim at 1 MiB).
pub const MAX_PAGE_BYTES: u64 = 16 << 20;

/// The Parquet pages held at once while a row group is read (one data page,
/// and its dictionary, per column): string values are copied out of their
/// page, so the reader holds up to twice this (96 columns of 1 MiB pages).
pub const MAX_PAGES_IN_FLIGHT_BYTES: u64 = 96 << 20;

/// A Parquet footer (the file's metadata), in bytes.
pub const MAX_FOOTER_BYTES: u64 = 16 << 20;

/// Columns in one dataset: each costs a few hundred bytes of statistics.
pub const MAX_COLUMNS: usize = 10_000;

/// One column name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// A size for messages, in the binary units the limits are set in: `8 MiB`, `268.4 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The column-count and name-length check every reader applies to the names
/// it found; one sentence when they are over the limits.
pub fn check_names(names: &[String]) -> Result<(), String> {
    check_count(names.len())?;
    if let Some((i, name)) = names
        .iter()
        .enumerate()
        .find(|(_, n)| n.len() > MAX_NAME_BYTES)
    {
        return Err(format!(
            "the name of column {} is {} long, over mlci's limit of {} for a column name",
            i + 1,
            size(name.len() as u64),
            size(MAX_NAME_BYTES as u64)
        ));
    }
    Ok(())
}

/// The column-count check alone, for a reader that can count before it names.
pub fn check_count(columns: usize) -> Result<(), String> {
    if columns > MAX_COLUMNS {
        return Err(format!(
            "{columns} columns, over mlci's limit of {MAX_COLUMNS}"
        ));
    }
    Ok(())
}
