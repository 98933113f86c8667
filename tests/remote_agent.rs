//! `mlci agent` driven through its mailbox as the cluster executors drive
//! it, with no cluster: the agent runs here as a process on a directory
//! mailbox, and a `RemoteEnv` reads its standard output as the Slurm
//! executor reads a job's output file. Commands, their exit codes, timeouts
//! and cancels, files both ways, and secrets that travel only as
//! placeholders and come back masked.

use mlci::executor::remote::{FrameRouter, Mailbox, RemoteEnd, RemoteEnv, SecretPlaceholders};
use mlci::executor::{ExecError, ExecOutcome, ExecRequest, FileToWrite, JobEnv, StreamKind};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

struct NoEnd;

impl RemoteEnd for NoEnd {
    async fn release(&self) -> Result<(), ExecError> {
        Ok(())
    }
}

const SECRET: &str = "agent-s3cr3t-91f0";

struct Agent {
    child: Child,
    env: RemoteEnv<NoEnd>,
    dir: tempfile::TempDir,
    agent_lines: Arc<Mutex<Vec<String>>>,
}

fn start() -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let secrets_file = dir.path().join("secrets.json");
    std::fs::write(&secrets_file, format!("{{\"TOKEN\":\"{SECRET}\"}}")).unwrap();
    let url = format!("file://{}", dir.path().join("mailbox").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlci"))
        .args(["agent", "--mailbox", &url])
        .env("MLCI_AGENT_SECRETS_FILE", &secrets_file)
        .env("MLCI_AGENT_IDLE_SECS", "60")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let agent_lines = Arc::new(Mutex::new(Vec::new()));
    let lines = agent_lines.clone();
    let frames = FrameRouter::new(move |line| lines.lock().unwrap().push(line.to_string()));
    let (gone, liveness) = tokio::sync::watch::channel(None);
    let stdout = child.stdout.take().unwrap();
    let feed = frames.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            feed.feed_line(&line);
        }
        let _ = gone.send(Some("the agent exited".to_string()));
    });
    let mailbox = Mailbox::open(&url, &Default::default()).unwrap();
    let secrets =
        SecretPlaceholders::new(&BTreeMap::from([("TOKEN".to_string(), SECRET.to_string())]));
    let env = RemoteEnv::new(
        "job".into(),
        "the test",
        mailbox,
        secrets,
        frames,
        liveness,
        "sha256:none".into(),
        NoEnd,
    );
    Agent {
        child,
        env,
        dir,
        agent_lines,
    }
}

fn sh(script: &str) -> ExecRequest {
    ExecRequest {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        ..ExecRequest::default()
    }
}

async fn run(agent: &Agent, request: &ExecRequest) -> (ExecOutcome, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = agent
        .env
        .exec(
            request,
            &CancellationToken::new(),
            &mut |kind, bytes| match kind {
                StreamKind::Stdout => out.extend_from_slice(bytes),
                StreamKind::Stderr => err.extend_from_slice(bytes),
            },
        )
        .await
        .unwrap();
    (
        outcome,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

#[tokio::test]
async fn commands_files_timeouts_cancels_and_secrets_through_the_mailbox() {
    let mut agent = start();
    let root = agent.dir.path().join("work");
    let root_text = root.display().to_string();

    // A command: both streams, its exit code, its env and working directory.
    let mut request = sh("echo out; echo err >&2; pwd; echo \"$GREETING\"; exit 3");
    request.env.insert("GREETING".into(), "hello".into());
    request.workdir = root_text.clone();
    let (outcome, out, err) = run(&agent, &request).await;
    assert_eq!(outcome, ExecOutcome::Exited(3));
    assert_eq!(out, format!("out\n{root_text}\nhello\n"));
    assert_eq!(err, "err\n");

    // Files: written (mode kept), read back one and by directory, copied both ways.
    let script = format!("{root_text}/tmp/run.sh");
    agent
        .env
        .write_files(vec![
            FileToWrite {
                path: script.clone(),
                contents: b"#!/bin/sh\necho from the script\n".to_vec(),
                mode: 0o755,
            },
            FileToWrite {
                path: format!("{root_text}/tmp/notes.txt"),
                contents: b"notes".to_vec(),
                mode: 0o644,
            },
        ])
        .await
        .unwrap();
    let (outcome, out, _) = run(&agent, &sh(&script)).await;
    assert_eq!(
        (outcome, out.as_str()),
        (ExecOutcome::Exited(0), "from the script\n")
    );
    let files = agent
        .env
        .read_dir_files(&format!("{root_text}/tmp"))
        .await
        .unwrap();
    assert_eq!(files.keys().collect::<Vec<_>>(), ["notes.txt", "run.sh"]);
    assert_eq!(
        agent
            .env
            .read_file(&format!("{root_text}/nope"))
            .await
            .unwrap(),
        None
    );
    let host = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(host.path().join("data/sub")).unwrap();
    std::fs::write(host.path().join("data/sub/rows.csv"), "a,b\n1,2\n").unwrap();
    agent
        .env
        .copy_in(&host.path().join("data"), &format!("{root_text}/ws/data"))
        .await
        .unwrap();
    let (_, out, _) = run(
        &agent,
        &sh(&format!("cat {root_text}/ws/data/sub/rows.csv")),
    )
    .await;
    assert_eq!(out, "a,b\n1,2\n");
    agent
        .env
        .copy_out(&format!("{root_text}/ws"), &host.path().join("back"))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(host.path().join("back/data/sub/rows.csv")).unwrap(),
        "a,b\n1,2\n"
    );

    // A dataset larger than one part of a multipart upload arrives whole.
    let big: Vec<u8> = (0..40u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(host.path().join("data/big.bin"), &big).unwrap();
    agent
        .env
        .copy_in(&host.path().join("data"), &format!("{root_text}/ws2/data"))
        .await
        .unwrap();
    let (_, out, _) = run(
        &agent,
        &sh(&format!("sha256sum {root_text}/ws2/data/big.bin")),
    )
    .await;
    use sha2::Digest;
    let expected = format!("{:x}", sha2::Sha256::digest(&big));
    assert!(out.starts_with(&expected), "{out} vs {expected}");

    // A secret travels as a placeholder, is itself inside the command, and is masked on its way out.
    let mut request = sh(&format!(
        "test \"$TOKEN\" = {SECRET} && echo \"token $TOKEN\""
    ));
    request.env.insert("TOKEN".into(), SECRET.into());
    let (outcome, out, _) = run(&agent, &request).await;
    assert_eq!(
        (outcome, out.as_str()),
        (ExecOutcome::Exited(0), "token ***\n")
    );
    let mut stored = Vec::new();
    collect(&agent.dir.path().join("mailbox"), &mut stored);
    assert!(!stored.is_empty());
    for file in stored {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{} holds the secret",
            file.display()
        );
    }

    // A timeout and a cancel end the command and what it started.
    let mut request = sh("sleep 30 & sleep 30");
    request.timeout = Some(Duration::from_millis(500));
    let started = Instant::now();
    let (outcome, _, _) = run(&agent, &request).await;
    assert_eq!(outcome, ExecOutcome::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.cancel();
    });
    let started = Instant::now();
    let outcome = agent
        .env
        .exec(&sh("echo going; sleep 30"), &cancel, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(outcome, ExecOutcome::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(10));

    // A program that does not exist is exit code 127, as in a shell.
    let request = ExecRequest {
        argv: vec!["/no/such/program".into()],
        ..ExecRequest::default()
    };
    let (outcome, _, err) = run(&agent, &request).await;
    assert_eq!(outcome, ExecOutcome::Exited(127));
    assert!(err.contains("cannot start `/no/such/program`"), "{err}");

    // The end: the agent exits when told, and said nothing but its routine lines.
    agent.env.shut_down().await;
    let status = agent.child.wait().unwrap();
    assert!(status.success());
    assert_eq!(
        agent.agent_lines.lock().unwrap().len(),
        0,
        "{:?}",
        agent.agent_lines
    );
}

fn collect(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, found);
        } else {
            found.push(path);
        }
    }
}
