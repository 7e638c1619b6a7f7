//! Standard output for a Unix tool: a closed pipe (`rampart logs | head`) ends the program
//! quietly instead of panicking.

use std::io::Write;

pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(error) = writeln!(out, "{args}").and_then(|()| out.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {error}");
        std::process::exit(1);
    }
}

/// `println!` that exits quietly on a closed pipe.
macro_rules! say {
    ($($arg:tt)*) => { crate::output::line(format_args!($($arg)*)) };
}
