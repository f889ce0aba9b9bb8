//! Results on stdout: one home for the line writer every command (and the demo's story) prints
//! through, so that printing does not tie the demo to the command line.

/// Writes one line to stdout. A closed pipe (`kassa analyze | head`) ends the process
/// quietly with success, as Unix tools do, instead of panicking like `println!`.
pub fn print_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
    if let Err(error) = written {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("kassa: error: cannot write to stdout: {error}");
        std::process::exit(1);
    }
}

/// `println!` through [`print_line`].
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::print_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::print_line(format_args!($($arg)*))
    };
}
