fn main() -> std::process::ExitCode {
    songrec::cli::main()
}
