fn main() -> std::process::ExitCode {
    mlci::cli::main()
}
