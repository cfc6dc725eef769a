//! The `haplan` binary: a thin shell around [`haplan::cli::run`].

fn main() {
    let code = haplan::cli::run(
        std::env::args_os(),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
