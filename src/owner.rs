//! Which process owns what a run leaves behind (containers, networks,
//! volumes, run store rows, temp files), and whether that process is gone.
//!
//! A run killed with SIGKILL cannot clean up after itself, so what it makes
//! carries its owner: the host, the process id and the process's start time
//! (`/proc/PID/stat` field 22, in clock ticks since boot), which tells a dead
//! owner from a later process that got the same pid. The next run removes
//! what belongs to owners that are gone on this host. Without `/proc`
//! (macOS) the start time is 0 and liveness is `kill(pid, 0)`; an owner on
//! another host is never taken for gone.

use std::path::Path;

/// One process on one host, written `host/pid/start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    /// When the process started (clock ticks since boot); 0 where unknown.
    pub start: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            host: host_name(),
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    /// This process, encoded (worked out once).
    pub fn current_encoded() -> &'static str {
        static CURRENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        CURRENT.get_or_init(|| Owner::current().encode())
    }

    /// `host/pid/start`, as labels and the run store keep it.
    pub fn encode(&self) -> String {
        format!("{}/{}/{}", self.host, self.pid, self.start)
    }

    /// Reads [`Owner::encode`]'s form back; None for anything else.
    pub fn parse(text: &str) -> Option<Owner> {
        let mut parts = text.rsplitn(3, '/');
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?.to_string();
        Some(Owner { host, pid, start })
    }

    /// True only when the owner certainly no longer runs: it was on this
    /// host, and no process has its pid, or the one that has it started at
    /// another time (the pid was reused).
    pub fn is_gone(&self) -> bool {
        if self.host != host_name() || self.pid == 0 {
            return false;
        }
        if self.pid == std::process::id() {
            return self.start != start_time(self.pid).unwrap_or(0);
        }
        if Path::new("/proc/self/stat").exists() {
            return match start_time(self.pid) {
                None => true,
                Some(start) => self.start != 0 && start != self.start,
            };
        }
        // SAFETY: kill(2) with signal 0 only checks that the process exists.
        let exists = unsafe { libc::kill(self.pid as libc::pid_t, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        !exists
    }
}

/// Where a pid means one process: this machine's name, and on Linux its pid
/// namespace (`hostname~4026531836`). A container with the host's network
/// has the host's name but pids of its own, and a runner that is itself a
/// container shares the engine with the host: without the namespace, each
/// would take the other's live runs for gone and remove their containers.
fn host_name() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| match pid_namespace() {
        Some(namespace) => format!("{}~{namespace}", machine_name()),
        None => machine_name(),
    })
    .clone()
}

/// The inode of this process's pid namespace (`/proc/self/ns/pid` reads
/// `pid:[4026531836]`); None without `/proc`.
fn pid_namespace() -> Option<u64> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let link = link.to_str()?;
    link.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// What `hostname` prints; inside a container, the container's.
fn machine_name() -> String {
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        return name.trim().to_string();
    }
    let mut buffer = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return String::new();
    }
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Field 22 of `/proc/PID/stat`: the process's start time. The command
/// name (field 2) is in parentheses and may hold spaces, so fields are
/// counted after its closing parenthesis.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Fields 3… follow; field 22 is the 20th of them.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_reads_back_and_this_process_is_alive() {
        let me = Owner::current();
        assert_eq!(Owner::parse(&me.encode()), Some(me.clone()));
        assert!(!me.is_gone());
        let reused = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        assert!(reused.is_gone() || me.start == 0);
        let elsewhere = Owner {
            host: "another-host".into(),
            pid: 1 << 30,
            start: 1,
        };
        assert!(!elsewhere.is_gone());
        assert_eq!(Owner::parse("x/y"), None);
    }

    #[test]
    fn a_process_of_another_pid_namespace_on_this_machine_is_never_taken_for_gone() {
        // A runner in a container with the host's network has the host's
        // name; its pids mean nothing here, so its runs are not ours to judge.
        let no_such_pid = 1 << 30;
        let here = Owner {
            host: host_name(),
            pid: no_such_pid,
            start: 1,
        };
        assert!(here.is_gone());
        if pid_namespace().is_some() {
            let other_namespace = Owner {
                host: format!("{}~1", machine_name()),
                ..here
            };
            assert!(!other_namespace.is_gone());
        }
    }
}
