//! The `iro-advice` binary: the service, its operator's commands, the witness and the
//! end-to-end client, in one executable (see `cli`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
