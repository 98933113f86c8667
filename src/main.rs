//! The `mlci` binary: the command line of [`mlci::cli`].

fn main() -> std::process::ExitCode {
    mlci::cli::main()
}
