//! The Docker backend against the real engine (nothing is pulled: the test
//! image is imported from a static busybox, see `common`).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use mlci::executor::docker::{DockerBackend, GpuSupport, job_container_body};
use mlci::executor::{
    Backend, ContainerOptions, ExecError, ExecOutcome, ExecRequest, JobEnv, StreamKind,
};
use tokio_util::sync::CancellationToken;

async fn start(
    b: &DockerBackend,
    spec: &mlci::executor::JobSpec,
) -> mlci::executor::docker::DockerJob {
    b.start_job(spec, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("start_job: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_streams_in_order_with_exit_codes() {
    guarded("stream", |b, id| async move {
        let ws = workspace();
        let job = start(&b, &spec(&id, "stream", ws.path(), "")).await;

        let out = sh(
            &job,
            "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; exit 3",
        )
        .await;
        assert_eq!(out.outcome, Some(ExecOutcome::Exited(3)));
        assert_eq!(out.stdout, "one\nthree\n");
        assert_eq!(out.stderr, "two\n");
        let order: Vec<(StreamKind, &str)> =
            out.chunks.iter().map(|(k, t)| (*k, t.trim())).collect();
        assert_eq!(
            order,
            vec![
                (StreamKind::Stdout, "one"),
                (StreamKind::Stderr, "two"),
                (StreamKind::Stdout, "three")
            ]
        );
        assert_eq!(sh(&job, "true").await.outcome, Some(ExecOutcome::Exited(0)));
        assert_eq!(
            sh(&job, "exit 255").await.outcome,
            Some(ExecOutcome::Exited(255))
        );
        // A program that does not exist is the command's failure, not the engine's.
        let missing = run(
            &job,
            ExecRequest {
                argv: vec!["no-such-program".into()],
                ..Default::default()
            },
        )
        .await;
        assert!(
            matches!(missing.outcome, Some(ExecOutcome::Exited(c)) if c != 0),
            "{missing:?}"
        );

        // Output arrives as it is written, not when the command ends.
        let started = Instant::now();
        let mut first_at = None;
        let mut cb = |_: StreamKind, _: &[u8]| {
            first_at.get_or_insert(started.elapsed());
        };
        let outcome = job
            .exec(
                &sh_req("echo first; sleep 2; echo second"),
                &CancellationToken::new(),
                &mut cb,
            )
            .await
            .unwrap();
        assert_eq!(outcome, ExecOutcome::Exited(0));
        assert!(
            first_at.unwrap() < Duration::from_millis(1500),
            "first output after {first_at:?}"
        );

        job.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_env_workdir_and_user() {
    guarded("env", |b, id| async move {
        let ws = workspace();
        let job = start(&b, &spec(&id, "env", ws.path(), "-e FROM_OPTIONS=opt")).await;
        let out = run(
            &job,
            ExecRequest {
                argv: vec![
                    "sh".into(),
                    "-c".into(),
                    "echo $FOO $JOB_LEVEL $FROM_OPTIONS; pwd; id -u".into(),
                ],
                env: BTreeMap::from([("FOO".to_string(), "bar baz".to_string())]),
                workdir: "/tmp".into(),
                user: Some("1001".into()),
                timeout: None,
            },
        )
        .await;
        assert_eq!(out.stdout, "bar baz yes opt\n/tmp\n1001\n", "{out:?}");
        // Without a workdir the command runs in the workspace.
        let out = run(
            &job,
            ExecRequest {
                argv: vec!["pwd".into()],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(out.stdout.trim(), WORKSPACE_PATH);
        job.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_is_copied_with_git_and_modes() {
    guarded("workspace", |b, id| async move {
        let ws = workspace();
        let job = start(&b, &spec(&id, "workspace", ws.path(), "")).await;
        let out = sh(
            &job,
            "cat .git/HEAD src/deep/er/data.txt README.md && test -x run.sh && ./run.sh && stat -c %a run.sh README.md && \
             touch /__w/_temp/x && ls -d /__w/_temp",
        )
        .await;
        assert_eq!(out.outcome, Some(ExecOutcome::Exited(0)), "{out:?}");
        assert_eq!(
            out.stdout,
            "ref: refs/heads/main\ndeep data\n# repo\nran\n755\n644\n/__w/_temp\n"
        );
        assert!(job.image_digest().starts_with("sha256:"), "{}", job.image_digest());
        job.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_command_and_its_children() {
    guarded("timeout", |b, id| async move {
        let ws = workspace();
        let job = start(&b, &spec(&id, "timeout", ws.path(), "")).await;
        let started = Instant::now();
        let mut req = sh_req("sleep 100 & sleep 100; wait");
        req.timeout = Some(Duration::from_millis(500));
        let out = run(&job, req).await;
        assert_eq!(out.outcome, Some(ExecOutcome::TimedOut));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        let ps = sh(&job, "ps -o pid,args").await;
        assert!(
            !ps.stdout.contains("sleep 100"),
            "still running:\n{}",
            ps.stdout
        );
        job.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_command() {
    guarded("cancel", |b, id| async move {
        let ws = workspace();
        let job = start(&b, &spec(&id, "cancel", ws.path(), "")).await;
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c2.cancel();
        });
        let started = Instant::now();
        let out = run_with(&job, sh_req("echo started; sleep 100"), &cancel).await;
        assert_eq!(out.outcome, Some(ExecOutcome::Cancelled));
        assert_eq!(out.stdout, "started\n");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        let ps = sh(&job, "ps -o pid,args").await;
        assert!(
            !ps.stdout.contains("sleep 100"),
            "still running:\n{}",
            ps.stdout
        );
        // An already cancelled token runs nothing.
        let out = run_with(&job, sh_req("touch /tmp/ran"), &cancel).await;
        assert_eq!(out.outcome, Some(ExecOutcome::Cancelled));
        assert_eq!(
            sh(&job, "test -e /tmp/ran").await.outcome,
            Some(ExecOutcome::Exited(1))
        );
        job.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip() {
    use std::os::unix::fs::PermissionsExt;
    guarded("files", |b, id| async move {
        let ws = workspace();
        let job = start(&b, &spec(&id, "files", ws.path(), "")).await;

        // write_file / read_file, parents created, mode kept.
        job.write_file("/__w/_temp/a/b/step.sh", b"#!/bin/sh\necho hi\n", 0o750).await.unwrap();
        assert_eq!(job.read_file("/__w/_temp/a/b/step.sh").await.unwrap().as_deref(), Some(&b"#!/bin/sh\necho hi\n"[..]));
        let out = sh(&job, "stat -c %a /__w/_temp/a/b/step.sh && /__w/_temp/a/b/step.sh").await;
        assert_eq!(out.stdout, "750\nhi\n");
        assert_eq!(job.read_file("/__w/_temp/nope").await.unwrap(), None);
        assert_eq!(job.read_file("/no/such/dir/file").await.unwrap(), None);
        // Relative paths are in the workspace; empty files and overwrites work.
        job.write_file("out/empty", b"", 0o644).await.unwrap();
        assert_eq!(job.read_file(&format!("{WORKSPACE_PATH}/out/empty")).await.unwrap(), Some(vec![]));
        job.write_file("out/empty", b"now full", 0o644).await.unwrap();
        assert_eq!(job.read_file("out/empty").await.unwrap(), Some(b"now full".to_vec()));
        // Binary contents.
        let bin: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        job.write_file("/tmp/bin", &bin, 0o600).await.unwrap();
        assert_eq!(job.read_file("/tmp/bin").await.unwrap(), Some(bin));

        // copy_in a tree.
        let host = tempfile::tempdir().unwrap();
        let tree = host.path().join("tree");
        std::fs::create_dir_all(tree.join("sub/inner")).unwrap();
        std::fs::write(tree.join("top.txt"), "top\n").unwrap();
        std::fs::write(tree.join("sub/inner/tool"), "#!/bin/sh\necho tool\n").unwrap();
        std::fs::set_permissions(tree.join("sub/inner/tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(tree.join("sub/secret"), "s\n").unwrap();
        std::fs::set_permissions(tree.join("sub/secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink("top.txt", tree.join("link")).unwrap();
        job.copy_in(&tree, "/data/tree").await.unwrap();
        let out = sh(
            &job,
            "cd /data/tree && cat top.txt link && sub/inner/tool && stat -c '%a %n' sub/inner/tool sub/secret && readlink link",
        )
        .await;
        assert_eq!(out.stdout, "top\ntop\ntool\n755 sub/inner/tool\n600 sub/secret\ntop.txt\n", "{out:?}");
        // copy_in a single file.
        job.copy_in(&tree.join("top.txt"), "/data/single.txt").await.unwrap();
        assert_eq!(job.read_file("/data/single.txt").await.unwrap(), Some(b"top\n".to_vec()));

        // copy_out the tree (with a file made inside) and a single file.
        sh(&job, "echo made inside > /data/tree/sub/new.txt && chmod 640 /data/tree/sub/new.txt").await;
        let back = host.path().join("back");
        job.copy_out("/data/tree", &back).await.unwrap();
        assert_eq!(std::fs::read_to_string(back.join("top.txt")).unwrap(), "top\n");
        assert_eq!(std::fs::read_to_string(back.join("sub/new.txt")).unwrap(), "made inside\n");
        let mode = |p: &str| std::fs::metadata(back.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("sub/inner/tool"), 0o755);
        assert_eq!(mode("sub/secret"), 0o600);
        assert_eq!(mode("sub/new.txt"), 0o640);
        assert_eq!(std::fs::read_link(back.join("link")).unwrap().to_str(), Some("top.txt"));
        let single = host.path().join("one/file.txt");
        job.copy_out("/data/tree/top.txt", &single).await.unwrap();
        assert_eq!(std::fs::read_to_string(&single).unwrap(), "top\n");
        let err = job.copy_in(std::path::Path::new("/nonexistent/mlci-x"), "/data/x").await.unwrap_err();
        assert!(err.to_string().contains("/nonexistent/mlci-x"), "{err}");
        let err = job.copy_out("/data/missing", &host.path().join("x")).await.unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");

        job.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_jobs_do_not_share_files() {
    guarded("parallel", |b, id| async move {
        let ws = workspace();
        let (sa, sb, never) = (
            spec(&id, "job a", ws.path(), ""),
            spec(&id, "job b", ws.path(), ""),
            CancellationToken::new(),
        );
        let (a, c) = tokio::join!(b.start_job(&sa, &never), b.start_job(&sb, &never));
        let (a, c) = (a.unwrap(), c.unwrap());
        assert_ne!(a.container_id(), c.container_id());
        let (oa, oc) = tokio::join!(
            sh(
                &a,
                "echo from-a > scratch && echo a > /tmp/only-a && sleep 0.5 && ls"
            ),
            sh(&c, "sleep 0.5; ls; test -e /tmp/only-a"),
        );
        assert_eq!(oa.outcome, Some(ExecOutcome::Exited(0)));
        assert!(oa.stdout.contains("scratch"));
        assert!(!oc.stdout.contains("scratch"), "{oc:?}");
        assert_eq!(oc.outcome, Some(ExecOutcome::Exited(1)));
        // Nothing leaks back to the host workspace either.
        assert!(!ws.path().join("scratch").exists());
        a.remove().await.unwrap();
        c.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_is_reachable_by_its_key_after_its_health_check() {
    guarded("service", |b, id| async move {
        let ws = workspace();
        let mut s = spec(&id, "with service", ws.path(), "");
        let mut web = service(
            "web",
            "--health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/' --health-interval 1s --health-retries 10",
            &["8080"],
        );
        web.env.insert("SERVICE_ENV".into(), "1".into());
        s.services.push(web);
        let job = start(&b, &s).await;

        // Health was waited on: a fresh container is `starting` until its first check, 1 s in.
        let svc = &job.services()[0];
        assert_eq!(svc.name, "web");
        let health = docker(&["inspect", "--format", "{{.State.Health.Status}}", &svc.id]).unwrap();
        assert_eq!(health.trim(), "healthy");
        let out = sh(&job, "wget -q -O- http://web:8080/").await;
        assert_eq!(out.stdout, "hello from the web service\n", "{out:?}");
        // Published on 127.0.0.1 at a random port.
        let port = svc.ports.get("8080").expect("port 8080 published").clone();
        let mut conn = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        conn.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut resp = String::new();
        conn.read_to_string(&mut resp).await.unwrap();
        assert!(resp.contains("hello from the web service"), "{resp}");
        let env = docker(&["inspect", "--format", "{{json .Config.Env}}", &svc.id]).unwrap();
        assert!(env.contains("SERVICE_ENV=1"), "{env}");

        job.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_service_fails_the_set_up_and_cleans_up() {
    guarded("unhealthy", |b, id| async move {
        let ws = workspace();
        let mut s = spec(&id, "sick", ws.path(), "");
        s.services.push(service(
            "db",
            "--health-cmd 'exit 1' --health-interval 200ms --health-retries 2",
            &[],
        ));
        let err = b
            .start_job(&s, &CancellationToken::new())
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("service `db` of job `sick` is unhealthy"),
            "{msg}"
        );
        assert_no_leftovers(&b, &id).await;

        // A service that exits is reported with its code.
        let mut s = spec(&id, "gone", ws.path(), "");
        s.services
            .push(service("quitter", "--entrypoint false", &[]));
        let err = b
            .start_job(&s, &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("service `quitter` of job `gone` exited with code 1"),
            "{err}"
        );
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_set_up_removes_everything() {
    guarded("cancelsetup", |b, id| async move {
        let ws = workspace();
        let mut s = spec(&id, "slow", ws.path(), "");
        // Healthy only after a long time: the set-up waits until cancelled.
        s.services.push(service(
            "slow",
            "--health-cmd 'exit 1' --health-interval 1m --health-retries 5",
            &[],
        ));
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            c2.cancel();
        });
        let started = Instant::now();
        let err = b.start_job(&s, &cancel).await.unwrap_err();
        assert!(matches!(err, ExecError::Cancelled { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_run_removes_everything_labelled() {
    guarded("removerun", |b, id| async move {
        let ws = workspace();
        let mut s = spec(&id, "left", ws.path(), "-v /scratch");
        s.volumes
            .push(format!("mlci-test-vol-{}:/vol", std::process::id()));
        s.services.push(service("web", "", &[]));
        let job = start(&b, &s).await;
        let job2 = start(&b, &spec(&id, "left too", ws.path(), "")).await;
        // Simulate Ctrl-C: the jobs are never removed one by one.
        std::mem::forget(job);
        std::mem::forget(job2);
        b.remove_run(&id).await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpu_request_fails_at_once_without_nvidia_runtime() {
    guarded("gpu", |b, id| async move {
        let ws = workspace();
        let started = Instant::now();
        let err = b
            .start_job(
                &spec(&id, "train", ws.path(), "--gpus all --shm-size 1g"),
                &CancellationToken::new(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, ExecError::NoGpuRuntime { ref job } if job == "train"),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("job `train`") && msg.contains("NVIDIA") && msg.contains("install"),
            "{msg}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        // A GPU service is refused the same way.
        let mut s = spec(&id, "svc-gpu", ws.path(), "");
        s.services.push(service("triton", "--gpus 1", &[]));
        assert!(matches!(
            b.start_job(&s, &CancellationToken::new()).await,
            Err(ExecError::NoGpuRuntime { .. })
        ));
        assert_no_leftovers(&b, &id).await;

        // Where `docker info` cannot tell (an engine on another machine), the
        // engine's own refusal at container start is recognised, still at once.
        let remote = DockerBackend::with_client(b.client().clone(), "tcp://gpu-box.invalid:2376");
        assert_eq!(remote.gpu_support().await.unwrap(), GpuSupport::Unknown);
        let started = Instant::now();
        let err = remote
            .start_job(
                &spec(&id, "train", ws.path(), "--gpus 2"),
                &CancellationToken::new(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ExecError::NoGpuRuntime { .. }), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpu_device_request_in_the_container_config() {
    guarded("gpuconfig", |b, id| async move {
        let ws = workspace();
        let s = spec(&id, "gpu config", ws.path(), r#"--gpus '"device=0,1"' --ipc host"#);
        let net = format!("mlci-{id}");
        docker(&["network", "create", "--label", &format!("dev.mlci.run={id}"), &net]).unwrap();
        let body = job_container_body(&s, Some(&net));
        let hc = body.host_config.as_ref().unwrap();
        let dr = &hc.device_requests.as_ref().unwrap()[0];
        assert_eq!(dr.driver.as_deref(), Some("nvidia"));
        assert_eq!(dr.device_ids, Some(vec!["0".to_string(), "1".to_string()]));
        assert_eq!(dr.capabilities, Some(vec![vec!["gpu".to_string()]]));
        // Created, never started: the engine stores what it was given.
        let created = b.client().create_container(None, body).await.unwrap();
        let inspect = docker(&["inspect", "--format", "{{json .HostConfig.DeviceRequests}} {{.HostConfig.IpcMode}}", &created.id]).unwrap();
        assert_eq!(
            inspect.trim(),
            r#"[{"Driver":"nvidia","Count":0,"DeviceIDs":["0","1"],"Capabilities":[["gpu"]],"Options":{}}] host"#
        );
        b.client().remove_container(&created.id, None).await.unwrap();
        docker(&["network", "rm", &net]).unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_options_reach_the_container() {
    guarded("resources", |b, id| async move {
        let ws = workspace();
        let job = start(&b, &spec(&id, "resources", ws.path(), "--shm-size 256m --memory 512m --cpus 1.5 --user 1000 --label team=ml")).await;
        let inspect = docker(&[
            "inspect",
            "--format",
            "{{.HostConfig.ShmSize}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.Config.User}} {{index .Config.Labels \"team\"}} {{index .Config.Labels \"dev.mlci.job\"}}",
            job.container_id(),
        ])
        .unwrap();
        assert_eq!(inspect.trim(), "268435456 536870912 1500000000 1000 ml resources");
        // The workspace belongs to the job's user, so steps can write to it.
        let out = sh(&job, "id -u && touch new-file && touch /__w/_temp/t && df -m /dev/shm | tail -1").await;
        assert_eq!(out.outcome, Some(ExecOutcome::Exited(0)), "{out:?}");
        assert!(out.stdout.starts_with("1000\n"), "{out:?}");
        assert!(out.stdout.contains(" 256 "), "{out:?}");
        job.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_is_one_clear_error() {
    guarded("noimage", |b, id| async move {
        let ws = workspace();
        let mut s = spec(&id, "noimage", ws.path(), "");
        s.image = "mlci-test/does-not-exist:1".into();
        let err = b.start_job(&s, &CancellationToken::new()).await.unwrap_err();
        assert!(matches!(err, ExecError::ImageMissing { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("mlci-test/does-not-exist:1") && msg.contains("mlci images build"), "{msg}");
        // A missing service image too.
        let mut s = spec(&id, "noimage", ws.path(), "");
        let mut svc = service("db", "", &[]);
        svc.image = "mlci-test/no-db:1".into();
        s.services.push(svc);
        assert!(matches!(b.start_job(&s, &CancellationToken::new()).await, Err(ExecError::ImageMissing { ref image, .. }) if image == "mlci-test/no-db:1"));
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_option_is_an_error_with_its_position() {
    let text = "--shm-size 1g --gpu all";
    let err = ContainerOptions::parse(text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown option `--gpu`; did you mean `--gpus`?"
    );
    assert_eq!(&text[err.offset..err.offset + err.len], "--gpu");
    let e: ExecError = err.into();
    assert!(matches!(e, ExecError::Options(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_is_refused_unless_allowed() {
    guarded("privileged", |b, id| async move {
        let ws = workspace();
        let err = b
            .start_job(
                &spec(&id, "priv", ws.path(), "--cpus 1 --privileged"),
                &CancellationToken::new(),
            )
            .await
            .unwrap_err();
        let ExecError::Options(o) = &err else {
            panic!("{err}")
        };
        assert_eq!(o.flag, "--privileged");
        assert_eq!(o.offset, 9);
        assert!(err.to_string().contains("--allow-privileged"), "{err}");
        // On a service too.
        let mut s = spec(&id, "priv", ws.path(), "");
        s.services.push(service("dind", "--privileged", &[]));
        assert!(matches!(
            b.start_job(&s, &CancellationToken::new()).await,
            Err(ExecError::Options(_))
        ));
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrypoint_option_keeps_the_job_alive_and_volumes_are_mounted() {
    guarded("entry", |b, id| async move {
        let ws = workspace();
        let host = tempfile::tempdir().unwrap();
        std::fs::write(host.path().join("mounted.txt"), "from host\n").unwrap();
        let mut s = spec(
            &id,
            "entry",
            ws.path(),
            "--entrypoint tail --tmpfs /scratch --init",
        );
        s.volumes
            .push(format!("{}:/host:ro", host.path().display()));
        let job = start(&b, &s).await;
        let out = sh(
            &job,
            "cat /host/mounted.txt && touch /scratch/x && ! touch /host/nope 2>/dev/null",
        )
        .await;
        assert_eq!(out.outcome, Some(ExecOutcome::Exited(0)), "{out:?}");
        assert_eq!(out.stdout, "from host\n");
        job.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}
