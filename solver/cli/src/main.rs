//! The `haplan` binary: a thin shell around [`haplan_cli::run_from`].

use std::io::IsTerminal;

// mimalloc: faster than the C library's allocator for the search's many
// small vectors on every thread (solver/cli/Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // The time limit counts from here.
    let start = std::time::Instant::now();
    no_huge_pages();
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

/// Turns transparent huge pages off for this process: mimalloc returns
/// freed memory in pieces smaller than a huge page, and each 2 MiB page
/// touched again is cleared again, which made an answer of gigabytes take
/// twice as long. A kernel without the setting leaves things as they are.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and touches
    // no memory of ours.
    unsafe {
        // Variadic: each argument as the unsigned long the kernel reads.
        let (on, zero): (libc::c_ulong, libc::c_ulong) = (1, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, on, zero, zero, zero);
    }
}
