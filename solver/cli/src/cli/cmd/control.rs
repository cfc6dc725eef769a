//! `haplan control`: one operator event sent to a running `haplan run --control SOCKET`.

// The arguments of `haplan control` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The runtime's control socket.
    pub(crate) socket: String,
    /// The event, as JSON (docs/runtime.md).
    pub(crate) event: String,
}
