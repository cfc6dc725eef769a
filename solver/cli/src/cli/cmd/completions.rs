//! `haplan completions`: print a shell completion script (bash, elvish, fish, powershell, zsh).

// The arguments of `haplan completions` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}
