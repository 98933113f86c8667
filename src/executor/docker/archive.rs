//! Tar streams to and from the Docker archive API.
//!
//! Uploads are built on a blocking thread that walks the host files and
//! writes the archive into a bounded channel, which is the request body, so a
//! workspace of any size goes into the container with flat memory. Downloads
//! go the other way: the response body feeds a bounded channel that a blocking
//! thread reads as `std::io::Read` and unpacks.

use std::io::{self, Read, Write};
use std::path::{Component, Path};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// Who owns the files that mlci puts into a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
}

impl Owner {
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

/// What goes into an upload archive. Names are relative to `/` (no leading
/// slash); the archive is extracted at `/`.
pub enum Source {
    /// A host file or directory (recursively), stored under `name`.
    Host {
        host: std::path::PathBuf,
        name: String,
    },
    /// A file with the given contents.
    Data {
        name: String,
        data: Vec<u8>,
        mode: u32,
    },
    /// An empty directory (or an existing one: its mode and owner are set).
    Dir { name: String, mode: u32 },
}

const CHUNK: usize = 256 * 1024;

/// A `Write` that sends what is written, in chunks, down a bounded channel.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the Docker engine stopped reading the upload",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Starts building the archive on a blocking thread; returns the request body
/// and the thread's handle (which reports file-system errors on the host).
pub fn upload_body(
    sources: Vec<Source>,
    owner: Owner,
) -> (
    impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
    tokio::task::JoinHandle<io::Result<()>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(8);
    let abort_tx = tx.clone();
    let handle = tokio::task::spawn_blocking(move || {
        let result = write_archive(sources, owner, tx);
        if let Err(e) = &result {
            // Break the request off, so the engine does not take a truncated
            // archive for a whole one.
            let _ = abort_tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
        }
        result
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (stream, handle)
}

fn write_archive(
    sources: Vec<Source>,
    owner: Owner,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, io::Error>>,
) -> io::Result<()> {
    {
        let writer = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let mut builder = tar::Builder::new(writer);
        builder.follow_symlinks(false);
        for source in sources {
            match source {
                Source::Host { host, name } => append_host(&mut builder, &host, &name, owner)?,
                Source::Data { name, data, mode } => {
                    let mut h = header(tar::EntryType::Regular, mode, owner);
                    h.set_size(data.len() as u64);
                    builder.append_data(&mut h, &name, data.as_slice())?;
                }
                Source::Dir { name, mode } => {
                    let mut h = header(tar::EntryType::Directory, mode, owner);
                    h.set_size(0);
                    builder.append_data(&mut h, format!("{name}/"), io::empty())?;
                }
            }
        }
        let mut writer = builder.into_inner()?;
        writer.flush()
    }
}

fn header(kind: tar::EntryType, mode: u32, owner: Owner) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode & 0o7777);
    h.set_uid(owner.uid);
    h.set_gid(owner.gid);
    h.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    h
}

/// Appends a host file, symlink or directory tree under `name`, with the
/// host's modes and mtimes but the container owner's uid/gid. `.git` is kept:
/// workflows need it. Sockets, fifos and devices are skipped.
fn append_host<W: Write>(
    builder: &mut tar::Builder<W>,
    host: &Path,
    name: &str,
    owner: Owner,
) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(host)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", host.display())))?;
    let ft = meta.file_type();
    let kind = if ft.is_dir() {
        tar::EntryType::Directory
    } else if ft.is_symlink() {
        tar::EntryType::Symlink
    } else if ft.is_file() {
        tar::EntryType::Regular
    } else {
        return Ok(());
    };
    let mut h = header(kind, meta.mode(), owner);
    h.set_mtime(meta.mtime().max(0) as u64);
    match kind {
        tar::EntryType::Directory => {
            h.set_size(0);
            builder.append_data(&mut h, format!("{name}/"), io::empty())?;
            let mut children: Vec<_> = std::fs::read_dir(host)?.collect::<Result<_, _>>()?;
            children.sort_by_key(|e| e.file_name());
            for child in children {
                let child_name = child.file_name();
                let child_name = child_name.to_string_lossy();
                append_host(
                    builder,
                    &child.path(),
                    &format!("{name}/{child_name}"),
                    owner,
                )?;
            }
        }
        tar::EntryType::Symlink => {
            h.set_size(0);
            let target = std::fs::read_link(host)?;
            builder.append_link(&mut h, name, target)?;
        }
        _ => {
            h.set_size(meta.len());
            let file = std::fs::File::open(host).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot read {}: {e}", host.display()))
            })?;
            // A file that changes size while it is archived must not corrupt
            // the stream: read exactly the size recorded in the header.
            let limited = file.take(meta.len()).chain(io::repeat(0)).take(meta.len());
            builder.append_data(&mut h, name, limited)?;
        }
    }
    Ok(())
}

/// A `Read` over chunks that arrive on a bounded channel.
pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, io::Error>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Feeds a byte stream into a `ChannelReader` from a task; the reader is
/// meant for a blocking thread.
pub fn reader_for<S, E>(stream: S) -> (ChannelReader, tokio::task::JoinHandle<()>)
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(8);
    let pump = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            let item = item.map_err(|e| io::Error::other(e.to_string()));
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    (
        ChannelReader {
            rx,
            current: Bytes::new(),
        },
        pump,
    )
}

/// Unpacks a Docker archive download of one path to `host`: the archive's
/// first path component (the basename Docker puts there) becomes `host`.
pub fn unpack_to(reader: impl Read, host: &Path) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_mtime(true);
    let mut dirs: Vec<(std::path::PathBuf, u32)> = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let mut rel = std::path::PathBuf::new();
        for (i, c) in path.components().enumerate() {
            match c {
                Component::Normal(p) if i > 0 => rel.push(p),
                Component::Normal(_) | Component::CurDir => {}
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("refusing archive entry `{}`", path.display()),
                    ));
                }
            }
        }
        let target = if rel.as_os_str().is_empty() {
            host.to_path_buf()
        } else {
            host.join(&rel)
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            dirs.push((target, entry.header().mode().unwrap_or(0o755)));
            continue;
        }
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if let Ok(meta) = std::fs::symlink_metadata(&target)
            && !meta.is_dir()
        {
            std::fs::remove_file(&target)?;
        }
        entry.unpack(&target)?;
    }
    // Directory modes last, so that read-only directories can be filled first.
    use std::os::unix::fs::PermissionsExt;
    for (dir, mode) in dirs.into_iter().rev() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode & 0o7777))?;
    }
    Ok(())
}

/// Reads the first regular file of an archive into memory.
pub fn first_file(reader: impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        }
        if kind.is_file() {
            let mut data = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut data)?;
            return Ok(Some(data));
        }
    }
    Ok(None)
}

/// The regular files directly inside the directory that a Docker archive
/// download of one directory holds (`dir/name`), by name.
pub fn top_level_files(
    reader: impl Read,
) -> io::Result<std::collections::BTreeMap<String, Vec<u8>>> {
    let mut files = std::collections::BTreeMap::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path()?.into_owned();
        let parts: Vec<_> = path.components().collect();
        if let [_, Component::Normal(name)] = parts.as_slice() {
            let name = name.to_string_lossy().into_owned();
            let mut data = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut data)?;
            files.insert(name, data);
        }
    }
    Ok(files)
}

/// A path relative to `/`, without `.` and `..` tricks.
pub fn relative_to_root(path: &str) -> Result<String, String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(format!("`{path}` is not a file path"));
    }
    Ok(parts.join("/"))
}
