//! [`ContainerOptions::parse`]: the options text, word by word and flag by
//! flag, onto the request.

use super::error::OptionsError;
use super::flags::{Arity, FLAGS, unknown_flag};
use super::gpus::parse_gpus;
use super::model::ContainerOptions;
use super::specs::{parse_device, parse_mount, parse_ulimit};
use super::values::{parse_bytes, parse_duration, parse_int};
use super::words::split_words;

impl ContainerOptions {
    /// Parses `container.options`. Offsets in errors are byte offsets in `text`.
    pub fn parse(text: &str) -> Result<ContainerOptions, OptionsError> {
        let words = split_words(text)?;
        let mut opts = ContainerOptions {
            source: text.to_string(),
            ..Default::default()
        };
        let mut i = 0;
        while i < words.len() {
            let word = &words[i];
            i += 1;
            let w = word.text.as_str();
            if !w.starts_with('-') || w == "-" || w == "--" {
                let message = if w == "--" {
                    "`--` is not allowed in container.options: the image and command are set by mlci".to_string()
                } else {
                    format!(
                        "unexpected argument `{w}` in container.options: only flags are allowed here (the image goes in `image:`)"
                    )
                };
                return Err(OptionsError::new(w, word.start, word.len(), message));
            }
            // Split `--flag=value`, `-fvalue`, `-f=value`.
            let (name, inline, shown, inline_offset) = if let Some(long) = w.strip_prefix("--") {
                match long.split_once('=') {
                    Some((n, v)) => (
                        n.to_string(),
                        Some(v.to_string()),
                        format!("--{n}"),
                        3 + n.len(),
                    ),
                    None => (long.to_string(), None, w.to_string(), 0),
                }
            } else {
                let rest = &w[1..];
                let c = rest.chars().next().unwrap_or('-');
                let after = &rest[c.len_utf8()..];
                let short = FLAGS.iter().find(|f| f.1 == Some(c));
                match short {
                    Some(&(long, _, _)) if !after.is_empty() => {
                        let (v, off) = match after.strip_prefix('=') {
                            Some(v) => (v, 2 + c.len_utf8() + 1),
                            None => (after, 1 + c.len_utf8()),
                        };
                        (long.to_string(), Some(v.to_string()), format!("-{c}"), off)
                    }
                    Some(&(long, _, _)) => (long.to_string(), None, w.to_string(), 0),
                    None => (rest.to_string(), None, w.to_string(), 0),
                }
            };
            let Some(&(canonical, _, arity)) = FLAGS.iter().find(|f| f.0 == name) else {
                return Err(unknown_flag(w, &name, word.start, word.len()));
            };
            opts.flags.push((shown.clone(), word.start));
            let value: Value = match arity {
                Arity::Bool => match inline.as_deref() {
                    None | Some("true") | Some("1") => Value::Bool(true),
                    Some("false") | Some("0") => Value::Bool(false),
                    Some(other) => {
                        return Err(OptionsError::new(
                            &shown,
                            word.start + inline_offset,
                            other.len().max(1),
                            format!(
                                "`{shown}` is a switch: write `{shown}` or `{shown}=false`, not `{shown}={other}`"
                            ),
                        ));
                    }
                },
                Arity::Value => match inline {
                    Some(v) => Value::Text(v, word.start + inline_offset),
                    None => {
                        let Some(next) = words.get(i) else {
                            return Err(OptionsError::new(
                                &shown,
                                word.start,
                                word.len(),
                                format!("`{shown}` needs a value"),
                            ));
                        };
                        i += 1;
                        Value::Text(next.text.clone(), next.start)
                    }
                },
            };
            opts.apply_flag(canonical, &shown, value)?;
        }
        Ok(opts)
    }

    fn apply_flag(&mut self, name: &str, shown: &str, value: Value) -> Result<(), OptionsError> {
        let (v, at) = match value {
            Value::Bool(b) => {
                match name {
                    "privileged" => self.privileged = b,
                    "init" => self.init = b,
                    "read-only" => self.read_only = b,
                    "no-healthcheck" => self.no_healthcheck = b,
                    _ => {} // --rm: a CI container is always removed
                }
                return Ok(());
            }
            Value::Text(v, at) => (v, at),
        };
        let err = |msg: String| OptionsError::new(shown, at, v.len().max(1), msg);
        match name {
            "gpus" => self.gpus.push(
                parse_gpus(&v).map_err(|m| err(format!("invalid `{shown}` value `{v}`: {m}")))?,
            ),
            "runtime" => self.runtime = Some(v),
            "shm-size" => {
                self.shm_size = Some(
                    parse_bytes(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?,
                )
            }
            "memory" => {
                self.memory = Some(
                    parse_bytes(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?,
                )
            }
            "memory-swap" => {
                self.memory_swap = Some(if v == "-1" {
                    -1
                } else {
                    parse_bytes(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?
                })
            }
            "cpus" => {
                let cpus: f64 = v
                    .parse()
                    .ok()
                    .filter(|c: &f64| c.is_finite() && *c >= 0.0)
                    .ok_or_else(|| {
                        err(format!(
                            "invalid `{shown}` value `{v}`: expected a number of CPUs such as `1.5`"
                        ))
                    })?;
                self.nano_cpus = Some((cpus * 1e9).round() as i64);
            }
            "cpu-shares" => {
                self.cpu_shares =
                    Some(parse_int(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?)
            }
            "cpuset-cpus" => self.cpuset_cpus = Some(v),
            "pids-limit" => {
                self.pids_limit =
                    Some(parse_int(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?)
            }
            "ipc" => {
                let ok = matches!(v.as_str(), "" | "none" | "private" | "shareable" | "host")
                    || v.strip_prefix("container:").is_some_and(|c| !c.is_empty());
                if !ok {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected host, private, shareable, none or container:NAME"
                    )));
                }
                self.ipc = Some(v);
            }
            "pid" => {
                let ok = v == "host" || v.strip_prefix("container:").is_some_and(|c| !c.is_empty());
                if !ok {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected host or container:NAME"
                    )));
                }
                self.pid = Some(v);
            }
            "user" => {
                if v.is_empty() {
                    return Err(err(format!("`{shown}` needs a user name or uid[:gid]")));
                }
                self.user = Some(v)
            }
            "group-add" => self.group_add.push(v),
            "volume" => {
                if v.is_empty() || v.split(':').count() > 3 {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected host-path:container-path[:ro], name:container-path or container-path"
                    )));
                }
                self.volumes.push(v)
            }
            "mount" => self.mounts.push(
                parse_mount(&v).map_err(|m| err(format!("invalid `{shown}` value `{v}`: {m}")))?,
            ),
            "env" => {
                let key = v.split('=').next().unwrap_or("");
                if key.is_empty() {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected KEY=value or KEY"
                    )));
                }
                self.env.push(v)
            }
            "network" | "net" => self.network = Some(v),
            "network-alias" | "net-alias" => self.network_aliases.push(v),
            "entrypoint" => self.entrypoint = Some(v),
            "workdir" => {
                if !v.starts_with('/') {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: the working directory must be an absolute path"
                    )));
                }
                self.workdir = Some(v)
            }
            "hostname" => self.hostname = Some(v),
            "add-host" => {
                let Some((host, ip)) = v.split_once(['=', ':']) else {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected host:ip"
                    )));
                };
                if host.is_empty() || ip.is_empty() {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected host:ip"
                    )));
                }
                self.add_hosts.push(format!("{host}:{ip}"))
            }
            "dns" => self.dns.push(v),
            "cap-add" => self.cap_add.push(v),
            "cap-drop" => self.cap_drop.push(v),
            "security-opt" => self.security_opt.push(v),
            "sysctl" => {
                let Some((k, val)) = v.split_once('=') else {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected name=value"
                    )));
                };
                self.sysctls.push((k.to_string(), val.to_string()))
            }
            "ulimit" => self.ulimits.push(
                parse_ulimit(&v).map_err(|m| err(format!("invalid `{shown}` value `{v}`: {m}")))?,
            ),
            "tmpfs" => {
                let (path, o) = v.split_once(':').unwrap_or((&v, ""));
                if !path.starts_with('/') {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected an absolute path[:options]"
                    )));
                }
                self.tmpfs.push((path.to_string(), o.to_string()))
            }
            "label" => {
                let (k, val) = v.split_once('=').unwrap_or((&v, ""));
                if k.is_empty() {
                    return Err(err(format!(
                        "invalid `{shown}` value `{v}`: expected key=value"
                    )));
                }
                self.labels.push((k.to_string(), val.to_string()))
            }
            "health-cmd" => self.health_cmd = Some(v),
            "health-interval" => {
                self.health_interval = Some(
                    parse_duration(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?,
                )
            }
            "health-timeout" => {
                self.health_timeout = Some(
                    parse_duration(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?,
                )
            }
            "health-start-period" => {
                self.health_start_period = Some(
                    parse_duration(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?,
                )
            }
            "health-retries" => {
                self.health_retries =
                    Some(parse_int(&v).map_err(|m| err(format!("invalid `{shown}` value: {m}")))?)
            }
            "device" => self.devices.push(
                parse_device(&v).map_err(|m| err(format!("invalid `{shown}` value `{v}`: {m}")))?,
            ),
            "platform" => self.platform = Some(v),
            "stop-signal" => self.stop_signal = Some(v),
            // --pull: nothing is ever pulled (images are built locally).
            _ => {}
        }
        Ok(())
    }
}

enum Value {
    Bool(bool),
    Text(String, usize),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::options::{Device, Mount, MountKind};

    fn parse(s: &str) -> ContainerOptions {
        ContainerOptions::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn fail(s: &str) -> OptionsError {
        ContainerOptions::parse(s).expect_err(s)
    }

    #[test]
    fn empty_and_whitespace() {
        assert_eq!(parse("").gpus, vec![]);
        assert!(parse("  \n\t ").flags.is_empty());
    }

    #[test]
    fn gpus_count_and_equals_form() {
        assert_eq!(parse("--gpus 2").gpus[0].count, Some(2));
        assert_eq!(parse("--gpus=2").gpus[0].count, Some(2));
        assert_eq!(parse("--gpus count=3").gpus[0].count, Some(3));
        // Docker accepts a count of 0; real workflows (Hugging Face) use it.
        assert_eq!(parse("--gpus 0").gpus[0].count, Some(0));
        assert!(fail("--gpus -1").message.contains("GPU count"));
        assert!(fail("--gpus many").message.contains("GPU count"));
    }

    #[test]
    fn gpus_repeated() {
        assert_eq!(parse("--gpus 1 --gpus device=3").gpus.len(), 2);
    }

    #[test]
    fn unknown_flag_suggests() {
        let e = fail("--shm-size 1g --gpu all");
        assert_eq!(e.flag, "--gpu");
        assert_eq!(e.offset, 14);
        assert_eq!(e.len, 5);
        assert_eq!(e.message, "unknown option `--gpu`; did you mean `--gpus`?");
        assert!(
            fail("--shmsize 1g")
                .message
                .contains("did you mean `--shm-size`")
        );
        assert_eq!(
            fail("--frobnicate").message,
            "unknown option `--frobnicate` in container.options"
        );
        let e = fail("-x");
        assert_eq!(e.flag, "-x");
        assert!(e.message.contains("unknown option"));
        assert!(fail("--gpu=all").flag == "--gpu");
    }

    #[test]
    fn refused_flags_say_why() {
        assert!(fail("-p 80:80").message.contains("ports:"));
        assert!(fail("--name x").message.contains("names its containers"));
        assert!(fail("-it").message.contains("terminal"));
        assert!(fail("--env-file f").message.contains("env:"));
    }

    #[test]
    fn positional_argument_is_an_error() {
        let e = fail("--cpus 2 ubuntu");
        assert_eq!(e.offset, 9);
        assert!(e.message.contains("unexpected argument `ubuntu`"));
    }

    #[test]
    fn value_error_points_at_the_value() {
        let e = fail("--memory  lots");
        assert_eq!(e.flag, "--memory");
        assert_eq!(e.offset, 10);
        assert_eq!(e.len, 4);
        let e = fail("--memory=lots");
        assert_eq!(e.offset, 9);
        let e = fail("-mlots");
        assert_eq!(e.offset, 2);
        assert_eq!(e.flag, "-m");
    }

    #[test]
    fn shell_quoting_and_comments() {
        let o = parse("-e 'A=x y' -e \"B=\\\"q\\\"\" -e C=a\\ b # a comment --bogus\n --cpus 1");
        assert_eq!(o.env, vec!["A=x y", "B=\"q\"", "C=a b"]);
        assert_eq!(o.nano_cpus, Some(1_000_000_000));
        assert!(
            fail("-e 'oops")
                .message
                .contains("unterminated single quote")
        );
        assert!(
            fail("-e \"oops")
                .message
                .contains("unterminated double quote")
        );
        let e = fail("--cpus 1 \\");
        assert_eq!(e.offset, 9);
    }

    #[test]
    fn multiline_options_offsets() {
        let text = "--gpus all\n  --shm-size 8g\n  --memroy 4g";
        let e = fail(text);
        assert_eq!(&text[e.offset..e.offset + e.len], "--memroy");
        assert!(e.message.contains("did you mean `--memory`"));
    }

    #[test]
    fn last_value_wins_for_single_flags() {
        assert_eq!(parse("--shm-size 1g --shm-size 2g").shm_size, Some(2 << 30));
    }

    #[test]
    fn mounts_and_devices_in_the_neutral_model() {
        assert_eq!(
            parse("--mount type=bind,source=/src,target=/dst,readonly").mounts,
            vec![Mount {
                kind: MountKind::Bind,
                source: Some("/src".to_string()),
                target: "/dst".to_string(),
                read_only: Some(true),
                consistency: None,
            }]
        );
        assert_eq!(
            parse("--mount type=tmpfs,dst=/t").mounts[0].kind,
            MountKind::Tmpfs
        );
        assert_eq!(parse("--mount target=/v").mounts[0].kind, MountKind::Volume);
        assert_eq!(
            parse("--device /dev/fuse --device /dev/sda:/dev/xvda:r").devices,
            vec![
                Device {
                    host_path: "/dev/fuse".to_string(),
                    container_path: "/dev/fuse".to_string(),
                    permissions: "rwm".to_string(),
                },
                Device {
                    host_path: "/dev/sda".to_string(),
                    container_path: "/dev/xvda".to_string(),
                    permissions: "r".to_string(),
                },
            ]
        );
    }
}
