//! Results for people: the line writer every command (and the demo's story) prints through, so
//! that printing does not tie the demo to the command line, and the one way a file meant to be
//! opened (the HTML report of `kassa report` and of the demo) is written.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

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

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed into place,
/// so a reader (a browser reloading the page, a mailer picking it up) never sees half a file
/// and a failure leaves the old one whole. The file is readable by all (0644): a report is made
/// to be opened, served and mailed, while a temporary file starts private. Returns the absolute
/// path. A missing directory is an error naming it, not created: a typo should not scatter
/// directories.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    use std::io::Write;
    let cannot = || format!("cannot write {}", path.display());
    let absolute = std::path::absolute(path).with_context(cannot)?;
    let dir = absolute.parent().unwrap_or(Path::new("/"));
    if !dir.is_dir() {
        // Named as given: `no/such/dir`, not the current directory's whole path.
        let given = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(dir);
        bail!(
            "cannot write {}: the directory {} does not exist",
            path.display(),
            given.display()
        );
    }
    let mut file = tempfile::NamedTempFile::new_in(dir).with_context(cannot)?;
    file.write_all(bytes).with_context(cannot)?;
    file.as_file().sync_all().with_context(cannot)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(cannot)?;
    }
    file.persist(&absolute)
        .map_err(|e| e.error)
        .with_context(cannot)?;
    Ok(absolute)
}
