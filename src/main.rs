//! The `kassa` binary: everything lives in the library; see `kassa::cli`.

fn main() -> std::process::ExitCode {
    kassa::cli::main()
}
