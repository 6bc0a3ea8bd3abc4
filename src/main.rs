fn main() -> std::process::ExitCode {
    iro_advice::cli::main()
}
