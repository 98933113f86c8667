//! Structured flag values: `--ulimit`, `--device` and `--mount` specs, and
//! the CSV records that `--mount` and `--gpus` are written in.

use super::model::{Device, Mount, MountKind, Ulimit};

/// One CSV record (Go's encoding/csv): commas separate, double quotes group.
pub(super) fn parse_csv(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes => {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            }
            '"' if cur.is_empty() => in_quotes = true,
            ',' if !in_quotes => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if in_quotes {
        return Err("unterminated double quote".to_string());
    }
    fields.push(cur);
    Ok(fields)
}

pub(super) fn parse_ulimit(s: &str) -> Result<Ulimit, String> {
    let (name, limits) = s.split_once('=').ok_or("expected name=soft[:hard]")?;
    if name.is_empty() {
        return Err("expected name=soft[:hard]".to_string());
    }
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let soft = soft
        .parse::<i64>()
        .map_err(|_| format!("`{soft}` is not a number"))?;
    let hard = hard
        .parse::<i64>()
        .map_err(|_| format!("`{hard}` is not a number"))?;
    if soft > hard && hard >= 0 {
        return Err("the soft limit is above the hard limit".to_string());
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

pub(super) fn parse_device(s: &str) -> Result<Device, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, c]
            if c.chars().all(|ch| "rwm".contains(ch)) && !c.is_empty() && !c.starts_with('/') =>
        {
            (*h, *h, *c)
        }
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => return Err("expected host-device[:container-device[:permissions]]".to_string()),
    };
    if !host.starts_with('/') {
        return Err("the device must be an absolute path such as /dev/fuse".to_string());
    }
    Ok(Device {
        host_path: host.to_string(),
        container_path: container.to_string(),
        permissions: perms.to_string(),
    })
}

/// `--mount type=bind,source=/a,target=/b,readonly` (bind, volume, tmpfs).
pub(super) fn parse_mount(s: &str) -> Result<Mount, String> {
    let mut kind = None;
    let mut source = None;
    let mut target = None;
    let mut read_only = None;
    let mut consistency = None;
    for field in parse_csv(s)? {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        match (k.as_str(), v) {
            ("type", Some(t)) => {
                kind = Some(match t.as_str() {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    other => {
                        return Err(format!(
                            "mount type `{other}` is not supported (bind, volume or tmpfs)"
                        ));
                    }
                })
            }
            ("source" | "src", Some(v)) => source = Some(v),
            ("target" | "destination" | "dst", Some(v)) => target = Some(v),
            ("readonly" | "ro", None) => read_only = Some(true),
            ("readonly" | "ro", Some(v)) => read_only = Some(matches!(v.as_str(), "true" | "1")),
            ("consistency", Some(v)) => consistency = Some(v),
            (other, _) => return Err(format!("unexpected key `{other}`")),
        }
    }
    let Some(target) = target else {
        return Err("a mount needs target=PATH".to_string());
    };
    Ok(Mount {
        kind: kind.unwrap_or(MountKind::Volume),
        source,
        target,
        read_only,
        consistency,
    })
}
