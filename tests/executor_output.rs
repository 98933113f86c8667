//! 1 GiB of output streams through with flat memory. (Its own test binary, so
//! that the resident-memory reading is this test's alone.)

mod common;

use common::*;
use mlci::executor::{Backend, ExecOutcome, JobEnv, StreamKind};
use tokio_util::sync::CancellationToken;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_of_output_with_flat_memory() {
    guarded("output", |b, id| async move {
        let ws = workspace();
        let job = b
            .start_job(
                &spec(&id, "output", ws.path(), ""),
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        let before = rss_kib();
        let mut total: u64 = 0;
        let mut err_bytes: u64 = 0;
        let mut peak = before;
        let mut chunks: u64 = 0;
        let mut cb = |k: StreamKind, b: &[u8]| {
            match k {
                StreamKind::Stdout => total += b.len() as u64,
                StreamKind::Stderr => err_bytes += b.len() as u64,
            }
            chunks += 1;
            if chunks % 256 == 0 {
                peak = peak.max(rss_kib());
            }
        };
        let outcome = job
            .exec(
                &sh_req("yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 1073741824"),
                &CancellationToken::new(),
                &mut cb,
            )
            .await
            .unwrap();
        assert_eq!(outcome, ExecOutcome::Exited(0));
        assert_eq!(total, 1 << 30);
        assert_eq!(err_bytes, 0);
        let grown = peak.saturating_sub(before);
        assert!(
            grown < 64 * 1024,
            "resident memory grew by {grown} KiB while streaming 1 GiB"
        );
        job.remove().await.unwrap();
        assert_no_leftovers(&b, &id).await;
    })
    .await;
}
