//! The Docker translation of `container.options`, checked flag by flag on
//! parsed options.

use super::*;
use crate::executor::options::{OptionsError, Ulimit};

fn parse(s: &str) -> ContainerOptions {
    ContainerOptions::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn fail(s: &str) -> OptionsError {
    ContainerOptions::parse(s).expect_err(s)
}

#[test]
fn gpus_all() {
    let o = parse("--gpus all");
    assert_eq!(o.gpus.len(), 1);
    assert_eq!(o.gpus[0].count, Some(-1));
    assert_eq!(o.gpus[0].capabilities, vec![vec!["gpu".to_string()]]);
    assert!(o.wants_gpus());
    let dr = &o.host_config().device_requests.unwrap()[0];
    assert_eq!(dr.driver.as_deref(), Some("nvidia"));
    assert_eq!(dr.count, Some(-1));
    assert_eq!(dr.capabilities, Some(vec![vec!["gpu".to_string()]]));
}

#[test]
fn gpus_devices() {
    for s in [
        r#"--gpus '"device=0,1"'"#,
        r#"--gpus "\"device=0,1\"""#,
        "--gpus device=0,1",
        r#"--gpus='"device=0,1"'"#,
    ] {
        let g = &parse(s).gpus[0];
        assert_eq!(g.device_ids, vec!["0", "1"], "{s}");
        assert_eq!(g.count, None, "{s}");
        let dr = g.device_request();
        assert_eq!(dr.device_ids, Some(vec!["0".to_string(), "1".to_string()]));
        assert_eq!(dr.count, None);
    }
    let g = &parse("--gpus device=0").gpus[0];
    assert_eq!(g.device_ids, vec!["0"]);
    let g = &parse("--gpus device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a").gpus[0];
    assert_eq!(g.device_ids.len(), 1);
}

#[test]
fn gpus_capabilities_driver_options() {
    let g = &parse(r#"--gpus '"count=2,capabilities=compute,utility"'"#).gpus[0];
    assert_eq!(g.count, Some(2));
    assert_eq!(g.capabilities, vec![vec!["compute", "utility", "gpu"]]);
    // Docker's own quoting of the same request, and the unquoted form.
    for s in [
        r#"--gpus '"capabilities=compute,utility",count=2'"#,
        "--gpus count=2,capabilities=compute,utility",
    ] {
        let g = &parse(s).gpus[0];
        assert_eq!(g.count, Some(2), "{s}");
        assert_eq!(
            g.capabilities,
            vec![vec!["compute", "utility", "gpu"]],
            "{s}"
        );
    }
    let g = &parse(r#"--gpus '"device=0,1",capabilities=utility'"#).gpus[0];
    assert_eq!(g.device_ids, vec!["0", "1"]);
    assert_eq!(g.capabilities, vec![vec!["utility", "gpu"]]);
    let g = &parse("--gpus all,options=k=v").gpus[0];
    assert_eq!(g.count, Some(-1));
    assert_eq!(g.options, vec![("k".to_string(), "v".to_string())]);
    assert!(fail("--gpus 1,2").message.contains("count is given twice"));
    assert!(fail("--gpus device=").message.contains("needs GPU"));
    let g = &parse("--gpus count=1,driver=cdi").gpus[0];
    assert_eq!(g.driver, "cdi");
    assert_eq!(g.device_request().driver.as_deref(), Some("cdi"));
    let e = fail("--gpus colour=red");
    assert!(
        e.message.contains("unexpected key `colour`"),
        "{}",
        e.message
    );
    assert!(fail("--gpus device=0,count=2").message.contains("not both"));
    assert!(fail("--gpus").message.contains("needs a value"));
}

#[test]
fn shm_size_units() {
    assert_eq!(parse("--shm-size 256m").shm_size, Some(256 << 20));
    assert_eq!(parse("--shm-size=8g").shm_size, Some(8 << 30));
    assert_eq!(parse("--shm-size 64k").shm_size, Some(64 << 10));
    assert_eq!(parse("--shm-size 100b").shm_size, Some(100));
    assert_eq!(parse("--shm-size 1024").shm_size, Some(1024));
    assert_eq!(parse("--shm-size 2GB").shm_size, Some(2 << 30));
    assert_eq!(parse("--shm-size 1.5g").shm_size, Some(3 << 29));
    assert_eq!(parse("--shm-size 1GiB").shm_size, Some(1 << 30));
    assert!(fail("--shm-size lots").message.contains("not a size"));
    assert!(fail("--shm-size 5x").message.contains("not a size"));
    assert_eq!(
        parse("--shm-size 256m").host_config().shm_size,
        Some(256 << 20)
    );
}

#[test]
fn ipc_and_pid() {
    assert_eq!(parse("--ipc host").ipc.as_deref(), Some("host"));
    assert_eq!(
        parse("--ipc=container:db").ipc.as_deref(),
        Some("container:db")
    );
    assert_eq!(
        parse("--ipc host").host_config().ipc_mode.as_deref(),
        Some("host")
    );
    assert!(fail("--ipc everywhere").message.contains("--ipc"));
    assert_eq!(
        parse("--pid host").host_config().pid_mode.as_deref(),
        Some("host")
    );
}

#[test]
fn memory_and_swap() {
    assert_eq!(parse("--memory 512m").memory, Some(512 << 20));
    assert_eq!(parse("-m 1g").memory, Some(1 << 30));
    assert_eq!(parse("-m1g").memory, Some(1 << 30));
    assert_eq!(parse("-m=1g").memory, Some(1 << 30));
    assert_eq!(parse("--memory-swap -1").memory_swap, Some(-1));
    assert_eq!(parse("--memory-swap 2g").memory_swap, Some(2 << 30));
    let hc = parse("--memory 512m --memory-swap 1g").host_config();
    assert_eq!(hc.memory, Some(512 << 20));
    assert_eq!(hc.memory_swap, Some(1 << 30));
}

#[test]
fn cpus_and_shares() {
    assert_eq!(parse("--cpus 1.5").nano_cpus, Some(1_500_000_000));
    assert_eq!(
        parse("--cpus=2").host_config().nano_cpus,
        Some(2_000_000_000)
    );
    assert!(fail("--cpus two").message.contains("--cpus"));
    assert_eq!(
        parse("--cpu-shares 512").host_config().cpu_shares,
        Some(512)
    );
    assert_eq!(parse("-c 256").cpu_shares, Some(256));
    assert_eq!(
        parse("--cpuset-cpus 0-3")
            .host_config()
            .cpuset_cpus
            .as_deref(),
        Some("0-3")
    );
}

#[test]
fn user() {
    let o = parse("--user 1000");
    assert_eq!(o.user.as_deref(), Some("1000"));
    let mut body = ContainerCreateBody::default();
    o.apply_to(&mut body);
    assert_eq!(body.user.as_deref(), Some("1000"));
    assert_eq!(parse("-u 1000:1000").user.as_deref(), Some("1000:1000"));
    assert_eq!(parse("-u=runner").user.as_deref(), Some("runner"));
    assert!(fail("--user=").message.contains("needs a user"));
}

#[test]
fn volumes() {
    let o = parse("-v /data:/data:ro --volume cache:/cache -v /anon");
    assert_eq!(o.volumes.len(), 3);
    let hc = o.host_config();
    assert_eq!(
        hc.binds,
        Some(vec![
            "/data:/data:ro".to_string(),
            "cache:/cache".to_string()
        ])
    );
    let mut body = ContainerCreateBody::default();
    o.apply_to(&mut body);
    assert_eq!(body.volumes, Some(vec!["/anon".to_string()]));
    assert!(
        fail("-v a:b:c:d").message.contains("--volume")
            || fail("-v a:b:c:d").message.contains("-v")
    );
}

#[test]
fn mounts() {
    let o = parse("--mount type=bind,source=/src,target=/dst,readonly");
    let mounts = o.host_config().mounts.unwrap();
    let m = &mounts[0];
    assert_eq!(m.typ, Some(MountType::BIND));
    assert_eq!(m.source.as_deref(), Some("/src"));
    assert_eq!(m.target.as_deref(), Some("/dst"));
    assert_eq!(m.read_only, Some(true));
    assert_eq!(
        parse("--mount type=tmpfs,dst=/t")
            .host_config()
            .mounts
            .unwrap()[0]
            .typ,
        Some(MountType::TMPFS)
    );
    assert!(
        fail("--mount type=bind,source=/a")
            .message
            .contains("target")
    );
}

#[test]
fn env() {
    let o = parse("-e A=1 --env B=two -e=C=3 --env 'D=with space'");
    assert_eq!(o.env, vec!["A=1", "B=two", "C=3", "D=with space"]);
    let mut body = ContainerCreateBody::default();
    o.apply_to(&mut body);
    assert_eq!(body.env.unwrap().len(), 4);
    // A bare name is taken from mlci's environment, and dropped when unset.
    let o = parse("-e MLCI_SURELY_UNSET_VARIABLE_XYZ");
    let mut body = ContainerCreateBody::default();
    o.apply_to(&mut body);
    assert_eq!(body.env.unwrap_or_default().len(), 0);
    assert!(fail("-e =x").message.contains("KEY=value"));
}

#[test]
fn network_and_aliases() {
    assert_eq!(parse("--network host").network.as_deref(), Some("host"));
    assert_eq!(
        parse("--net=none").host_config().network_mode.as_deref(),
        Some("none")
    );
    assert_eq!(
        parse("--network-alias db --net-alias pg").network_aliases,
        vec!["db", "pg"]
    );
}

#[test]
fn privileged_flag_and_check() {
    let o = parse("--shm-size 1g --privileged");
    assert!(o.privileged);
    assert_eq!(o.host_config().privileged, Some(true));
    let e = o.check_privileged(false).unwrap_err();
    assert_eq!(e.flag, "--privileged");
    assert_eq!(e.offset, 14);
    assert!(e.message.contains("--allow-privileged"));
    assert!(o.check_privileged(true).is_ok());
    assert!(!parse("--privileged=false").privileged);
    assert!(parse("--privileged=false").check_privileged(false).is_ok());
    assert!(fail("--privileged=maybe").message.contains("switch"));
}

#[test]
fn entrypoint_workdir_hostname() {
    let o = parse("--entrypoint /bin/sh -w /src -h box");
    let mut body = ContainerCreateBody::default();
    o.apply_to(&mut body);
    assert_eq!(body.entrypoint, Some(vec!["/bin/sh".to_string()]));
    assert_eq!(body.working_dir.as_deref(), Some("/src"));
    assert_eq!(body.hostname.as_deref(), Some("box"));
    assert_eq!(
        parse("--workdir=/x --hostname=h").workdir.as_deref(),
        Some("/x")
    );
    assert!(fail("--workdir rel").message.contains("absolute"));
    let mut body = ContainerCreateBody::default();
    parse("--entrypoint ''").apply_to(&mut body);
    assert_eq!(body.entrypoint, Some(vec![]));
}

#[test]
fn add_host_dns() {
    let o = parse("--add-host db:10.0.0.2 --add-host=cache=10.0.0.3 --dns 1.1.1.1");
    assert_eq!(
        o.host_config().extra_hosts,
        Some(vec![
            "db:10.0.0.2".to_string(),
            "cache:10.0.0.3".to_string()
        ])
    );
    assert_eq!(o.host_config().dns, Some(vec!["1.1.1.1".to_string()]));
    assert!(fail("--add-host nohost").message.contains("host:ip"));
}

#[test]
fn capabilities_security() {
    let hc = parse(
        "--cap-add SYS_PTRACE --cap-add=NET_ADMIN --cap-drop ALL --security-opt seccomp=unconfined",
    )
    .host_config();
    assert_eq!(
        hc.cap_add,
        Some(vec!["SYS_PTRACE".to_string(), "NET_ADMIN".to_string()])
    );
    assert_eq!(hc.cap_drop, Some(vec!["ALL".to_string()]));
    assert_eq!(
        hc.security_opt,
        Some(vec!["seccomp=unconfined".to_string()])
    );
}

#[test]
fn sysctl_and_group_add() {
    let hc = parse("--sysctl net.core.somaxconn=1024 --group-add video").host_config();
    assert_eq!(
        hc.sysctls
            .unwrap()
            .get("net.core.somaxconn")
            .map(String::as_str),
        Some("1024")
    );
    assert_eq!(hc.group_add, Some(vec!["video".to_string()]));
}

#[test]
fn ulimit() {
    let o = parse("--ulimit nofile=1024:2048 --ulimit memlock=-1 --ulimit stack=67108864");
    assert_eq!(
        o.ulimits[0],
        Ulimit {
            name: "nofile".into(),
            soft: 1024,
            hard: 2048
        }
    );
    assert_eq!(
        o.ulimits[1],
        Ulimit {
            name: "memlock".into(),
            soft: -1,
            hard: -1
        }
    );
    assert_eq!(o.host_config().ulimits.unwrap().len(), 3);
    assert!(fail("--ulimit nofile").message.contains("name=soft"));
    assert!(fail("--ulimit nofile=10:5").message.contains("above"));
}

#[test]
fn init_tmpfs_readonly() {
    let hc = parse("--init --tmpfs /run --tmpfs /tmp:rw,size=64m --read-only").host_config();
    assert_eq!(hc.init, Some(true));
    let t = hc.tmpfs.unwrap();
    assert_eq!(t.get("/run").map(String::as_str), Some(""));
    assert_eq!(t.get("/tmp").map(String::as_str), Some("rw,size=64m"));
    assert_eq!(hc.readonly_rootfs, Some(true));
    assert!(fail("--tmpfs run").message.contains("absolute"));
}

#[test]
fn labels() {
    let o = parse("--label team=ml -l tier=gpu -l bare");
    assert_eq!(
        o.labels,
        vec![
            ("team".into(), "ml".into()),
            ("tier".into(), "gpu".into()),
            ("bare".into(), "".into())
        ]
    );
    let mut body = ContainerCreateBody {
        labels: Some(HashMap::from([("team".to_string(), "mlci".to_string())])),
        ..Default::default()
    };
    o.apply_to(&mut body);
    assert_eq!(body.labels.as_ref().unwrap()["team"], "mlci");
    assert_eq!(body.labels.as_ref().unwrap()["tier"], "gpu");
}

#[test]
fn health_flags() {
    let o = parse(
        r#"--health-cmd "pg_isready -U postgres" --health-interval 10s --health-timeout 5s --health-retries 5 --health-start-period 1m30s"#,
    );
    let h = o.healthcheck().unwrap();
    assert_eq!(
        h.test,
        Some(vec![
            "CMD-SHELL".to_string(),
            "pg_isready -U postgres".to_string()
        ])
    );
    assert_eq!(h.interval, Some(10_000_000_000));
    assert_eq!(h.timeout, Some(5_000_000_000));
    assert_eq!(h.retries, Some(5));
    assert_eq!(h.start_period, Some(90_000_000_000));
    assert_eq!(
        parse("--health-interval 500ms").health_interval,
        Some(500_000_000)
    );
    assert!(
        fail("--health-interval 10")
            .message
            .contains("not a duration")
    );
    assert!(fail("--health-retries x").message.contains("whole number"));
    assert_eq!(
        parse("--no-healthcheck").healthcheck().unwrap().test,
        Some(vec!["NONE".to_string()])
    );
    assert_eq!(parse("--cpus 1").healthcheck(), None);
}

#[test]
fn pids_limit_and_devices() {
    assert_eq!(
        parse("--pids-limit 100").host_config().pids_limit,
        Some(100)
    );
    let d = parse("--device /dev/fuse --device /dev/sda:/dev/xvda:r")
        .host_config()
        .devices
        .unwrap();
    assert_eq!(d[0].path_in_container.as_deref(), Some("/dev/fuse"));
    assert_eq!(d[0].cgroup_permissions.as_deref(), Some("rwm"));
    assert_eq!(d[1].path_in_container.as_deref(), Some("/dev/xvda"));
    assert_eq!(d[1].cgroup_permissions.as_deref(), Some("r"));
    assert!(fail("--device fuse").message.contains("absolute"));
}

#[test]
fn platform_pull_rm_stop_signal_runtime() {
    let o = parse("--platform linux/amd64 --pull never --rm --stop-signal SIGINT --runtime nvidia");
    assert_eq!(o.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(o.runtime.as_deref(), Some("nvidia"));
    assert!(o.wants_gpus());
    let mut body = ContainerCreateBody::default();
    o.apply_to(&mut body);
    assert_eq!(body.stop_signal.as_deref(), Some("SIGINT"));
}

#[test]
fn apply_to_merges_host_config() {
    let mut body = ContainerCreateBody {
        host_config: Some(HostConfig {
            binds: Some(vec!["/a:/a".to_string()]),
            network_mode: Some("mlci-net".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    parse("-v /b:/b --shm-size 1g").apply_to(&mut body);
    let hc = body.host_config.unwrap();
    assert_eq!(
        hc.binds,
        Some(vec!["/a:/a".to_string(), "/b:/b".to_string()])
    );
    assert_eq!(hc.network_mode.as_deref(), Some("mlci-net"));
    assert_eq!(hc.shm_size, Some(1 << 30));
}

#[test]
fn mounts_and_devices_as_docker_has_them() {
    let hc = parse(
        "--mount type=bind,source=/src,target=/dst,readonly \
         --mount type=volume,src=cache,dst=/c,readonly=false,consistency=cached \
         --mount target=/anon --device /dev/sda:/dev/xvda:r",
    )
    .host_config();
    assert_eq!(
        hc.mounts,
        Some(vec![
            DockerMount {
                typ: Some(MountType::BIND),
                source: Some("/src".to_string()),
                target: Some("/dst".to_string()),
                read_only: Some(true),
                ..Default::default()
            },
            DockerMount {
                typ: Some(MountType::VOLUME),
                source: Some("cache".to_string()),
                target: Some("/c".to_string()),
                read_only: Some(false),
                consistency: Some("cached".to_string()),
                ..Default::default()
            },
            DockerMount {
                typ: Some(MountType::VOLUME),
                target: Some("/anon".to_string()),
                ..Default::default()
            },
        ])
    );
    assert_eq!(
        hc.devices,
        Some(vec![DeviceMapping {
            path_on_host: Some("/dev/sda".to_string()),
            path_in_container: Some("/dev/xvda".to_string()),
            cgroup_permissions: Some("r".to_string()),
        }])
    );
}
