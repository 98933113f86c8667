//! Following a job's output file as Slurm writes it, and telling the job
//! environment when the job has left the queue.

use crate::executor::remote::FrameRouter;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const READ_EVERY: Duration = Duration::from_millis(100);
const STATE_EVERY: Duration = Duration::from_secs(1);

pub async fn follow(
    path: PathBuf,
    job_id: String,
    frames: FrameRouter,
    gone: watch::Sender<Option<String>>,
) {
    let mut offset = 0u64;
    let mut partial = Vec::new();
    let mut checked = Instant::now();
    loop {
        read_new(&path, &mut offset, &mut partial, &frames);
        if checked.elapsed() >= STATE_EVERY {
            checked = Instant::now();
            let state = super::queue::squeue_state(&job_id).await;
            if let Some(reason) = ended(&job_id, state.as_deref()) {
                // What the job wrote last, before the job environment hears of its end.
                tokio::time::sleep(READ_EVERY).await;
                read_new(&path, &mut offset, &mut partial, &frames);
                if !partial.is_empty() {
                    frames.feed_line(&String::from_utf8_lossy(&partial));
                }
                let _ = gone.send(Some(reason));
                return;
            }
        }
        tokio::time::sleep(READ_EVERY).await;
    }
}

/// Why the job no longer serves, from its state; None while it may.
fn ended(job_id: &str, state: Option<&str>) -> Option<String> {
    match state {
        None => Some(format!("Slurm job {job_id} has left the queue")),
        Some("PENDING" | "RUNNING" | "CONFIGURING" | "SUSPENDED" | "REQUEUED" | "RESIZING") => None,
        Some("TIMEOUT" | "DEADLINE") => Some(format!(
            "Slurm job {job_id} reached its time limit (--time, from the job's timeout-minutes)"
        )),
        Some(other) => Some(format!("Slurm job {job_id} ended ({other})")),
    }
}

fn read_new(path: &PathBuf, offset: &mut u64, partial: &mut Vec<u8>, frames: &FrameRouter) {
    let Ok(mut file) = std::fs::File::open(path) else {
        return;
    };
    if file.seek(SeekFrom::Start(*offset)).is_err() {
        return;
    }
    let mut fresh = Vec::new();
    let Ok(n) = file.read_to_end(&mut fresh) else {
        return;
    };
    *offset += n as u64;
    partial.extend_from_slice(&fresh);
    while let Some(end) = partial.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = partial.drain(..=end).collect();
        frames.feed_line(&String::from_utf8_lossy(&line));
    }
}
