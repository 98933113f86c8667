//! `mlci agent`: serves a cluster executor's mailbox from inside the job's
//! container until the controller is done (see `executor::remote::agent`).

use super::args::AgentArgs;
use crate::executor::remote::{Mailbox, S3Access, agent};
use std::process::ExitCode;

pub(super) fn agent(args: AgentArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mlci agent: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async {
        let mailbox = Mailbox::open(&args.mailbox, &S3Access::from_agent_env())?;
        let secrets = agent::load_secrets()?;
        agent::serve(mailbox, secrets).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            println!("mlci agent: {error}");
            ExitCode::FAILURE
        }
    }
}
