//! What the parquet crate lets through: it takes a file whose leading magic
//! number is wrong, reads a footer of any length the file claims, and
//! decompresses a page to whatever size its header says (a 261 KB file can
//! hold a 256 MB value). [`Guarded`] is the file as the crate sees it: it
//! checks both magic numbers and the footer's length first, as pyarrow does,
//! then reads each page's sizes from its header before the crate does, and
//! refuses a page over [`MAX_PAGE_BYTES`] or a row group whose pages held at
//! once (one data page and one dictionary per column) pass
//! [`MAX_PAGES_IN_FLIGHT_BYTES`].

use super::limits::{MAX_FOOTER_BYTES, MAX_PAGE_BYTES, MAX_PAGES_IN_FLIGHT_BYTES, size};
use ::parquet::errors::ParquetError;
use ::parquet::file::metadata::RowGroupMetaData;
use ::parquet::file::reader::{ChunkReader, Length};
use bytes::Bytes;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

const MAGIC: &[u8; 4] = b"PAR1";
/// The footer's last 8 bytes: the metadata's length, then the magic number.
const TAIL: u64 = 8;

/// Why the guard refused the file.
#[derive(Debug)]
pub(super) enum Refusal {
    NoLeadingMagic,
    NoTrailingMagic,
    FooterTooLarge(u64),
    PageTooLarge { column: String, bytes: u64 },
    UncheckablePage { column: String },
    TooMuchAtOnce { bytes: u64 },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoLeadingMagic => write!(
                f,
                "not a Parquet file: it does not start with the magic bytes `PAR1`"
            ),
            Refusal::NoTrailingMagic => write!(
                f,
                "not a Parquet file: it does not end with the magic bytes `PAR1` (a file cut short, or another format)"
            ),
            Refusal::FooterTooLarge(bytes) => write!(
                f,
                "the footer claims {} of metadata, over mlci's limit of {}",
                size(*bytes),
                size(MAX_FOOTER_BYTES)
            ),
            Refusal::PageTooLarge { column, bytes } => write!(
                f,
                "column `{}`: a page of {} is over mlci's limit of {} for one page",
                super::super::value::shorten(column),
                size(*bytes),
                size(MAX_PAGE_BYTES)
            ),
            Refusal::UncheckablePage { column } => write!(
                f,
                "column `{}`: a page header that does not start with its sizes",
                super::super::value::shorten(column)
            ),
            Refusal::TooMuchAtOnce { bytes } => write!(
                f,
                "reading its rows needs {} of pages at once, over mlci's limit of {}",
                size(*bytes),
                size(MAX_PAGES_IN_FLIGHT_BYTES)
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// The guard's refusal inside an error the parquet crate returned, if it is one.
pub(super) fn refusal(error: &ParquetError) -> Option<&Refusal> {
    match error {
        ParquetError::External(inner) => inner.downcast_ref::<Refusal>(),
        _ => None,
    }
}

fn refuse(refusal: Refusal) -> ParquetError {
    ParquetError::External(Box::new(refusal))
}

/// A column chunk of the row group being read, and the pages of it held now.
struct Chunk {
    start: u64,
    end: u64,
    column: String,
    dictionary: u64,
    page: u64,
}

pub(super) struct Guarded {
    file: File,
    len: u64,
    /// Where the footer starts: pages lie before it.
    data_end: u64,
    pages: Pages,
}

/// The pages held of the row group being read: its column chunks, sorted by
/// where they start. Shared by the guard and the reader's loop, which tells
/// it each row group it starts.
#[derive(Clone, Default)]
pub(super) struct Pages(Arc<Mutex<Vec<Chunk>>>);

impl Pages {
    /// Starts the accounting of a row group's pages.
    pub(super) fn enter(&self, group: &RowGroupMetaData) {
        let mut chunks: Vec<Chunk> = group
            .columns()
            .iter()
            .map(|c| {
                let (start, length) = c.byte_range();
                Chunk {
                    start,
                    end: start.saturating_add(length),
                    column: c.column_path().string(),
                    dictionary: 0,
                    page: 0,
                }
            })
            .collect();
        chunks.sort_by_key(|c| c.start);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = chunks;
    }
}

impl Guarded {
    /// Checks the magic numbers and the footer's length.
    pub(super) fn new(file: File) -> Result<Guarded, Refusal> {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut head = [0u8; 4];
        if len < 12 || file.read_exact_at(&mut head, 0).is_err() || &head != MAGIC {
            return Err(Refusal::NoLeadingMagic);
        }
        let mut tail = [0u8; TAIL as usize];
        if file.read_exact_at(&mut tail, len - TAIL).is_err() || &tail[4..] != MAGIC {
            return Err(Refusal::NoTrailingMagic);
        }
        let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
        if footer > MAX_FOOTER_BYTES {
            return Err(Refusal::FooterTooLarge(footer));
        }
        Ok(Guarded {
            file,
            len,
            data_end: len.saturating_sub(footer + TAIL),
            pages: Pages::default(),
        })
    }

    /// The accounting of pages, for the reader's loop.
    pub(super) fn pages(&self) -> Pages {
        self.pages.clone()
    }

    /// Reads the sizes at the front of the page header at `start` and
    /// accounts for the page before the crate allocates it.
    fn check_page(&self, start: u64) -> Result<(), ParquetError> {
        let mut chunks = self.pages.0.lock().unwrap_or_else(|e| e.into_inner());
        let at = chunks.partition_point(|c| c.start <= start);
        let column = match at.checked_sub(1).map(|i| &chunks[i]) {
            Some(c) if start < c.end => c.column.clone(),
            _ => String::from("?"),
        };
        let mut header = [0u8; 32];
        let n = self.file.read_at(&mut header, start)?;
        let Some(sizes) = page_sizes(&header[..n]) else {
            return Err(refuse(Refusal::UncheckablePage { column }));
        };
        let bytes = sizes.uncompressed.max(sizes.compressed);
        if bytes > MAX_PAGE_BYTES {
            return Err(refuse(Refusal::PageTooLarge { column, bytes }));
        }
        if let Some(i) = at.checked_sub(1)
            && start < chunks[i].end
        {
            let chunk = &mut chunks[i];
            if sizes.dictionary {
                chunk.dictionary = bytes;
            } else {
                chunk.page = bytes;
            }
            let held: u64 = chunks.iter().map(|c| c.dictionary + c.page).sum();
            if held > MAX_PAGES_IN_FLIGHT_BYTES {
                return Err(refuse(Refusal::TooMuchAtOnce { bytes: held }));
            }
        }
        Ok(())
    }
}

impl Length for Guarded {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Guarded {
    type T = BufReader<File>;

    fn get_read(&self, start: u64) -> Result<Self::T, ParquetError> {
        // Before the footer, a read that starts somewhere is a page header.
        if start < self.data_end {
            self.check_page(start)?;
        }
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(start))?;
        Ok(BufReader::new(file))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes, ParquetError> {
        // Pages were checked by their header, the footer by its length.
        let most = MAX_PAGE_BYTES.max(MAX_FOOTER_BYTES);
        if length as u64 > most {
            return Err(refuse(Refusal::PageTooLarge {
                column: String::from("?"),
                bytes: length as u64,
            }));
        }
        let mut buffer = vec![0u8; length];
        self.file
            .read_exact_at(&mut buffer, start)
            .map_err(|e| ParquetError::EOF(format!("{length} bytes at offset {start}: {e}")))?;
        Ok(buffer.into())
    }
}

struct PageSizes {
    dictionary: bool,
    uncompressed: u64,
    compressed: u64,
}

/// The first fields of a Thrift (compact protocol) `PageHeader`: 1 `type`,
/// 2 `uncompressed_page_size`, 3 `compressed_page_size`, all `i32`, which
/// every writer puts first. The crate keeps its header type private, and only
/// these three fields are needed before it reads the rest.
fn page_sizes(header: &[u8]) -> Option<PageSizes> {
    const I32: u8 = 5;
    const DICTIONARY_PAGE: i64 = 2;
    let mut bytes = header.iter().copied();
    let (mut id, mut kind, mut uncompressed, mut compressed) = (0i64, None, None, None);
    while kind.is_none() || uncompressed.is_none() || compressed.is_none() {
        let field = bytes.next()?;
        let delta = i64::from(field >> 4);
        if field & 0x0f != I32 || delta == 0 {
            return None;
        }
        id += delta;
        let value = varint(&mut bytes)?;
        match id {
            1 => kind = Some(value),
            2 => uncompressed = Some(value),
            3 => compressed = Some(value),
            _ => return None,
        }
    }
    Some(PageSizes {
        dictionary: kind? == DICTIONARY_PAGE,
        uncompressed: u64::try_from(uncompressed?).ok()?,
        compressed: u64::try_from(compressed?).ok()?,
    })
}

/// A zigzag varint (Thrift compact `i32`).
fn varint(bytes: &mut impl Iterator<Item = u8>) -> Option<i64> {
    let mut value = 0u64;
    for shift in (0..35).step_by(7) {
        let byte = bytes.next()?;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((value >> 1) as i64 ^ -((value & 1) as i64));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_come_from_the_header_front() {
        // type 0 (data page), uncompressed 300, compressed 150: zigzag 0, 600, 300.
        let header = [0x15, 0x00, 0x15, 0xd8, 0x04, 0x15, 0xac, 0x02, 0x00];
        let sizes = page_sizes(&header).unwrap();
        assert_eq!((sizes.uncompressed, sizes.compressed), (300, 150));
        assert!(!sizes.dictionary);
        // A struct where the sizes should be: not a header that can be checked.
        assert!(page_sizes(&[0x1c, 0x00]).is_none());
    }
}
