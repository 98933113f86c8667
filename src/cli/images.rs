//! `mlci images build|ls`.

use super::args::ImagesCommand;
use std::process::ExitCode;

pub(super) fn images(command: ImagesCommand) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            ImagesCommand::Build {
                names,
                force,
                base,
                offline,
            } => {
                // The progress output already says what was built or reused.
                let source = crate::images::BaseSource::new(base, offline);
                crate::images::build(&names, force, &source, &crate::images::Progress::auto())
                    .await?;
                Ok(())
            }
            ImagesCommand::Agent { tag, from } => {
                let tag = tag.unwrap_or_else(crate::images::default_agent_tag);
                crate::images::build_agent(&tag, &from).await?;
                println!(
                    "built {tag}: its /mlci is this mlci; push it where the cluster pulls from"
                );
                Ok(())
            }
            ImagesCommand::Ls => {
                let list = crate::images::list().await?;
                print!("{}", crate::images::render_list(&list));
                Ok::<(), crate::images::ImageError>(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
