//! What of the host goes into the base image: the Debian mirror and the
//! host's own CA certificates (both part of its content hash).

use std::path::Path;

use super::definition::read_tree;

pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// Where the host's administrator adds certificate authorities (Debian's
/// `update-ca-certificates`).
pub(super) const HOST_CA_DIR: &str = "/usr/local/share/ca-certificates";

/// The host's locally added CA certificates (`*.crt` under
/// `/usr/local/share/ca-certificates`), sorted by name: the base image trusts
/// them too, so that jobs reach PyPI and the like through the same TLS-inspecting
/// proxy the host uses. `MLCI_HOST_CA_CERTS=0` leaves them out.
pub fn host_ca_certs() -> Vec<(String, Vec<u8>)> {
    if std::env::var("MLCI_HOST_CA_CERTS").is_ok_and(|v| v == "0" || v == "false") {
        return vec![];
    }
    let mut files = Vec::new();
    let _ = read_tree(Path::new(HOST_CA_DIR), "", &mut files);
    let mut out: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .filter(|f| f.path.ends_with(".crt"))
        .map(|f| (f.path.replace('/', "_"), f.data))
        .collect();
    out.sort();
    out
}

pub(super) fn mirror() -> String {
    match std::env::var("MLCI_DEBIAN_MIRROR") {
        Ok(m) if !m.trim().is_empty() => m.trim().trim_end_matches('/').to_string(),
        _ => DEFAULT_MIRROR.to_string(),
    }
}
