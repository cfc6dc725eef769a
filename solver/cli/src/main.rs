//! The `haplan` binary: a thin shell around [`haplan_cli::run`].

fn main() {
    // Unlocked handles: a worker thread that panics must still be able to
    // print its message (a held lock would hang the process instead).
    let code = haplan_cli::run(
        std::env::args_os(),
        &mut std::io::stdin(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    std::process::exit(code);
}
