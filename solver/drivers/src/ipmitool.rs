//! Keeping IPMI credentials off every command line.
//!
//! `fence_ipmilan` (and its other names: `fence_ilo3`, `fence_idrac`, ...)
//! takes its options on standard input, but runs `ipmitool` with the
//! password as `-P PASSWORD` and a Kg key as `-y KEY`, where every local user
//! can read them (`ps`, `/proc/PID/cmdline`) until ipmitool hides them. So
//! for these agents the password and the Kg key are not given to the agent:
//! it is told to run, as its `ipmitool_path`, a small wrapper that runs the
//! real ipmitool with `-E` (the password from `IPMITOOL_PASSWORD`) and `-K`
//! (the Kg key from `IPMI_KGKEY`) after the agent's own arguments, the
//! credentials being in the environment the agent passes on to it (readable
//! only by the same user and root). The agent then gives ipmitool `-P ''`,
//! which the later `-E` overrides.
//!
//! The wrapper holds no secret: it is written once per process to
//! `haplan-UID/ipmitool-env` in the first directory of `$STATE_DIRECTORY`,
//! `$RUNTIME_DIRECTORY`, `$XDG_RUNTIME_DIR` and the temporary directory
//! where that directory is (or can be made) private to this user and a
//! program written there can run (a `noexec` mount is skipped).

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::agent::{Action, FenceError, FenceParams};

/// The agents that run ipmitool with the password on its command line
/// (fence-agents installs the others as links to `fence_ipmilan`).
pub const IPMITOOL_AGENTS: &[&str] = &[
    "fence_ipmilan",
    "fence_ipmilanplus",
    "fence_ilo3",
    "fence_ilo4",
    "fence_ilo5",
    "fence_imm",
    "fence_idrac",
];

/// Where the agent looks for ipmitool when not told.
const DEFAULT_IPMITOOL: &str = "/usr/bin/ipmitool";

/// The wrapper. `-E` and `-K` come after every argument of the agent, so
/// they override its `-P ''` (ipmitool reads its options in order, and GNU
/// getopt reads options after the command too, as the agent's own `-v`
/// relies on).
const WRAPPER: &str = "#!/bin/sh
# Written by haplan: runs ipmitool with the BMC password (and Kg key) taken
# from the environment, never from the command line.
if [ -n \"${HAPLAN_IPMITOOL_KG:-}\" ]; then
    exec \"$HAPLAN_IPMITOOL\" \"$@\" -E -K
fi
exec \"$HAPLAN_IPMITOOL\" \"$@\" -E
";

/// Environment variables a run sets (or removes when unset).
pub const ENV_VARS: &[&str] = &[
    "HAPLAN_IPMITOOL",
    "HAPLAN_IPMITOOL_KG",
    "IPMITOOL_PASSWORD",
    "IPMI_PASSWORD",
    "IPMI_KGKEY",
    "POSIXLY_CORRECT",
];

/// How to run an agent: its standard input and the environment it gets on
/// top of ours (every name of [`ENV_VARS`] not set here is removed).
#[derive(Debug)]
pub struct Invocation {
    pub stdin: String,
    pub env: Vec<(&'static str, OsString)>,
}

fn bad(key: &str, reason: &str) -> FenceError {
    FenceError::InvalidParam {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

/// What the credentials of an ipmitool agent's options become.
struct Plan<'a> {
    password: Option<&'a str>,
    kg: Option<Vec<u8>>,
    ipmitool: Option<&'a str>,
    /// Every other option.
    rest: FenceParams,
}

/// The options of an ipmitool agent sorted out: `None` when nothing secret
/// would reach a command line (another agent, or no password nor Kg key);
/// an error for what cannot be kept off one.
fn plan<'a>(agent: &str, params: &'a FenceParams) -> Result<Option<Plan<'a>>, FenceError> {
    if !IPMITOOL_AGENTS.contains(&agent) {
        return Ok(None);
    }
    let mut password: Option<&str> = None;
    let mut kg: Option<(&str, &str)> = None;
    let mut ipmitool: Option<&str> = None;
    let mut sudo = false;
    let mut rest = FenceParams::new();
    for key in params.keys() {
        let value = params.get(key).unwrap_or_default();
        match key.replace('-', "_").as_str() {
            "password" | "passwd" => {
                if password.is_some_and(|p| p != value) {
                    return Err(bad(
                        key,
                        "given twice (password and passwd) with different values",
                    ));
                }
                password = Some(value);
            }
            "hexadecimal_kg" => kg = Some((key, value)),
            "password_script" | "passwd_script" => {
                return Err(bad(
                    key,
                    "this agent would put the script's output (the password) on ipmitool's command line; give the password itself",
                ));
            }
            "ipmitool_path" => ipmitool = Some(value),
            k => {
                if k == "use_sudo" && !matches!(value, "" | "0" | "false" | "no" | "off") {
                    sudo = true;
                }
                rest.insert(key, value)?;
            }
        }
    }
    let password = password.filter(|p| !p.is_empty());
    let kg = match kg {
        Some((key, hex)) if !hex.is_empty() => Some(kg_bytes(key, hex)?),
        _ => None,
    };
    if password.is_none() && kg.is_none() {
        return Ok(None);
    }
    if sudo {
        return Err(bad(
            "use_sudo",
            "sudo clears the environment that carries the password to ipmitool; run haplan as a user that may run ipmitool",
        ));
    }
    Ok(Some(Plan {
        password,
        kg,
        ipmitool,
        rest,
    }))
}

/// Whether `agent` can run with `params` without a secret on a command
/// line (checked when a fence device is made, so that a pool's mistake
/// shows before the first fence).
pub fn check(agent: &str, params: &FenceParams) -> Result<(), FenceError> {
    plan(agent, params).map(|_| ())
}

/// The standard input and environment for running `agent` with `params`:
/// for the ipmitool agents, with a password or Kg key, the credentials go
/// to the environment and the agent runs the wrapper; otherwise every
/// option goes to standard input as it is.
pub fn invocation(
    agent: &str,
    params: &FenceParams,
    action: Action,
) -> Result<Invocation, FenceError> {
    let Some(Plan {
        password,
        kg,
        ipmitool,
        mut rest,
    }) = plan(agent, params)?
    else {
        return Ok(Invocation {
            stdin: params.stdin_text(action),
            env: Vec::new(),
        });
    };
    let wrapper = wrapper().map_err(|reason| bad("ipmitool_path", &reason))?;
    rest.insert("ipmitool_path", wrapper.to_string_lossy().into_owned())?;
    let mut env = vec![(
        "HAPLAN_IPMITOOL",
        OsString::from(ipmitool.unwrap_or(DEFAULT_IPMITOOL)),
    )];
    if let Some(p) = password {
        env.push(("IPMITOOL_PASSWORD", OsString::from(p)));
    }
    if let Some(k) = kg {
        env.push(("HAPLAN_IPMITOOL_KG", OsString::from("1")));
        env.push(("IPMI_KGKEY", OsString::from_vec(k)));
    }
    Ok(Invocation {
        stdin: rest.stdin_text(action),
        env,
    })
}

/// A hexadecimal Kg key as the bytes ipmitool's `-K` takes: at most 20,
/// trailing zero bytes dropped (the key is padded with zeros anyway); a zero
/// byte inside cannot be passed in the environment.
fn kg_bytes(key: &str, hex: &str) -> Result<Vec<u8>, FenceError> {
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(key, "expected an even number of hexadecimal digits"));
    }
    let mut bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hexadecimal digits"))
        .collect();
    if bytes.len() > 20 {
        return Err(bad(key, "a Kg key is at most 20 bytes"));
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    if bytes.contains(&0) {
        return Err(bad(
            key,
            "a Kg key with a zero byte before its end cannot be passed to ipmitool off the command line",
        ));
    }
    Ok(bytes)
}

/// The wrapper's path, written on first use.
pub fn wrapper() -> Result<PathBuf, String> {
    static WRAPPER_PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    WRAPPER_PATH.get_or_init(install).clone()
}

fn install() -> Result<PathBuf, String> {
    let mut bases: Vec<PathBuf> = ["STATE_DIRECTORY", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"]
        .iter()
        .filter_map(std::env::var_os)
        // systemd may list several directories, separated by ':'.
        .filter_map(|v| std::env::split_paths(&v).next())
        .filter(|p| p.is_absolute())
        .collect();
    bases.push(std::env::temp_dir());
    let mut tried = Vec::new();
    for base in bases {
        match install_in(&base) {
            Ok(path) => return Ok(path),
            Err(e) => tried.push(format!("{}: {e}", base.display())),
        }
    }
    Err(format!(
        "no directory to keep the ipmitool wrapper in ({})",
        tried.join("; ")
    ))
}

fn install_in(base: &Path) -> io::Result<PathBuf> {
    // SAFETY: geteuid has no failure mode and no memory effects.
    let uid = unsafe { libc::geteuid() };
    let dir = base.join(format!("haplan-{uid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    // Ours alone (not a link, owned by us, no one else may write or enter),
    // or someone else could change the program we run.
    let meta = std::fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(io::Error::other(format!(
            "{} is not a directory private to user {uid}",
            dir.display()
        )));
    }
    let path = dir.join("ipmitool-env");
    let tmp = dir.join(format!("ipmitool-env.{}", std::process::id()));
    std::fs::write(&tmp, WRAPPER)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700))?;
    std::fs::rename(&tmp, &path)?;
    // It must run there (a noexec mount would refuse it).
    let ran = Command::new(&path)
        .env("HAPLAN_IPMITOOL", "true")
        .env_remove("HAPLAN_IPMITOOL_KG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !ran.success() {
        return Err(io::Error::other(format!(
            "{} does not run ({ran})",
            path.display()
        )));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> FenceParams {
        let mut p = FenceParams::new();
        for (k, v) in pairs {
            p.insert(*k, *v).unwrap();
        }
        p
    }

    fn env_of<'a>(inv: &'a Invocation, name: &str) -> Option<&'a OsString> {
        inv.env.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    #[test]
    fn other_agents_get_every_option_on_stdin() {
        let p = params(&[("ip", "10.0.0.1"), ("password", "s3cret")]);
        let inv = invocation("fence_apc", &p, Action::Off).unwrap();
        assert_eq!(inv.stdin, p.stdin_text(Action::Off));
        assert!(inv.env.is_empty());
    }

    #[test]
    fn ipmilan_gets_the_wrapper_and_the_password_goes_to_the_environment() {
        for agent in IPMITOOL_AGENTS {
            for key in ["password", "passwd"] {
                let p = params(&[("ip", "10.0.0.1"), (key, "s3cret"), ("lanplus", "1")]);
                let inv = invocation(agent, &p, Action::Status).unwrap();
                assert!(!inv.stdin.contains("s3cret"), "{}", inv.stdin);
                assert!(inv.stdin.starts_with("action=status\n"), "{}", inv.stdin);
                assert!(inv.stdin.contains("ip=10.0.0.1\n"), "{}", inv.stdin);
                let wrapper = wrapper().unwrap();
                assert!(
                    inv.stdin
                        .contains(&format!("ipmitool_path={}\n", wrapper.display())),
                    "{}",
                    inv.stdin
                );
                assert_eq!(
                    env_of(&inv, "IPMITOOL_PASSWORD"),
                    Some(&OsString::from("s3cret"))
                );
                assert_eq!(
                    env_of(&inv, "HAPLAN_IPMITOOL"),
                    Some(&OsString::from(DEFAULT_IPMITOOL))
                );
                assert_eq!(env_of(&inv, "IPMI_KGKEY"), None);
            }
        }
    }

    #[test]
    fn a_given_ipmitool_path_is_the_one_the_wrapper_runs() {
        let p = params(&[("password", "pw"), ("ipmitool-path", "/opt/bin/ipmitool")]);
        let inv = invocation("fence_ipmilan", &p, Action::Off).unwrap();
        assert_eq!(
            env_of(&inv, "HAPLAN_IPMITOOL"),
            Some(&OsString::from("/opt/bin/ipmitool"))
        );
        assert!(!inv.stdin.contains("/opt/bin/ipmitool"), "{}", inv.stdin);
        assert_eq!(inv.stdin.matches("ipmitool_path=").count(), 1);
    }

    #[test]
    fn the_kg_key_goes_to_the_environment_as_bytes() {
        let p = params(&[("password", "pw"), ("hexadecimal_kg", "41424300")]);
        let inv = invocation("fence_ipmilan", &p, Action::Off).unwrap();
        assert!(!inv.stdin.contains("4142"), "{}", inv.stdin);
        assert_eq!(env_of(&inv, "IPMI_KGKEY"), Some(&OsString::from("ABC")));
        assert_eq!(
            env_of(&inv, "HAPLAN_IPMITOOL_KG"),
            Some(&OsString::from("1"))
        );
        for bad_key in ["414", "zz", "4100ff", &"41".repeat(21)] {
            let p = params(&[("hexadecimal_kg", bad_key)]);
            let e = invocation("fence_ipmilan", &p, Action::Off).unwrap_err();
            assert!(
                matches!(e, FenceError::InvalidParam { .. }),
                "{bad_key}: {e}"
            );
        }
    }

    #[test]
    fn what_would_reach_a_command_line_is_refused() {
        for p in [
            params(&[("password_script", "/root/pw")]),
            params(&[("passwd-script", "/root/pw")]),
            params(&[("password", "a"), ("passwd", "b")]),
            params(&[("password", "a"), ("use_sudo", "1")]),
        ] {
            let e = invocation("fence_ipmilan", &p, Action::Off).unwrap_err();
            assert!(matches!(e, FenceError::InvalidParam { .. }), "{p:?}: {e}");
            assert!(!e.to_string().contains("/root/pw"), "{e}");
            assert!(check("fence_ipmilan", &p).is_err(), "{p:?}");
            assert!(check("fence_apc", &p).is_ok(), "{p:?}");
        }
    }

    #[test]
    fn without_credentials_nothing_changes() {
        let p = params(&[("ip", "10.0.0.1"), ("password", "")]);
        let inv = invocation("fence_ipmilan", &p, Action::Off).unwrap();
        assert_eq!(inv.stdin, p.stdin_text(Action::Off));
        assert!(inv.env.is_empty());
    }

    #[test]
    fn the_wrapper_appends_the_environment_options_and_is_private() {
        let path = wrapper().unwrap();
        let meta = std::fs::metadata(path.parent().unwrap()).unwrap();
        assert_eq!(meta.mode() & 0o077, 0);
        let out = |kg: bool| {
            let mut c = Command::new(&path);
            c.env("HAPLAN_IPMITOOL", "echo")
                .args(["-I", "lanplus", "-P", "", "chassis", "power", "off"]);
            if kg {
                c.env("HAPLAN_IPMITOOL_KG", "1");
            } else {
                c.env_remove("HAPLAN_IPMITOOL_KG");
            }
            String::from_utf8(c.output().unwrap().stdout).unwrap()
        };
        assert_eq!(out(false), "-I lanplus -P  chassis power off -E\n");
        assert_eq!(out(true), "-I lanplus -P  chassis power off -E -K\n");
    }
}
