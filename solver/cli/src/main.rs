//! The `haplan` binary: a thin shell around [`haplan_cli::run_from`].

use std::io::IsTerminal;

fn main() {
    // The time limit counts from here.
    let start = std::time::Instant::now();
    // Unlocked handles: a worker thread that panics must still be able to
    // print its message (a held lock would hang the process instead).
    let code = haplan_cli::run_from(
        start,
        std::io::stderr().is_terminal(),
        std::env::args_os(),
        &mut std::io::stdin(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    std::process::exit(code);
}
