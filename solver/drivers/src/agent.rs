//! The fence-agent API's vocabulary, below both the agent runner
//! ([`fence`](crate::fence)) and the ipmitool credential wrapper: the
//! actions an agent is asked to do, the power states it reports, its
//! options ([`FenceParams`], secrets redacted) and what can go wrong.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// What replaces a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// What an agent is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Power the host off (and wait until it is off, for agents that can tell).
    Off,
    /// Power the host on.
    On,
    /// Power-cycle the host.
    Reboot,
    /// Report the power state: exit code 0 for on, 2 for off.
    Status,
    /// Check that the fence device itself answers.
    Monitor,
}

impl Action {
    /// The action's name in the fence-agent API (`action=off`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Off => "off",
            Action::On => "on",
            Action::Reboot => "reboot",
            Action::Status => "status",
            Action::Monitor => "monitor",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host's power state as its fence device reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PowerState {
    /// Powered on (`status` exited 0).
    On,
    /// Powered off (`status` exited 2).
    Off,
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PowerState::On => "on",
            PowerState::Off => "off",
        })
    }
}

/// Why fencing did not succeed. A variant other than [`FenceError::Failed`]
/// with a status answer never says anything about the host's power: only
/// [`FenceDevice::off_and_confirm`](crate::fence::FenceDevice::off_and_confirm)
/// returning `Ok` proves the host is off.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FenceError {
    #[error(
        "invalid fence agent name {name:?}: expected fence_ followed by lowercase letters, digits or underscores"
    )]
    /// The agent's name is not `fence_` then lowercase letters, digits or
    /// underscores.
    InvalidAgent {
        /// The name given.
        name: String,
    },
    #[error("fence agent {agent} not found in {}", join_paths(searched))]
    /// No executable of that name in any directory looked in.
    AgentNotFound {
        /// The agent's name.
        agent: String,
        /// The directories looked in, in order.
        searched: Vec<PathBuf>,
    },
    #[error("invalid fence parameter {key:?}: {reason}")]
    /// An option that cannot be passed to an agent safely.
    InvalidParam {
        /// The option's name.
        key: String,
        /// Why it is refused.
        reason: String,
    },
    #[error("cannot run fence agent {agent}: {source}")]
    /// The agent could not be started or waited for.
    Spawn {
        /// The agent's name.
        agent: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    #[error(
        "fence agent {agent}: {action} did not finish within {after:?}; its process group was killed"
    )]
    /// The agent was still running at its time limit, and was killed.
    Timeout {
        /// The agent's name.
        agent: String,
        /// What it was asked to do.
        action: Action,
        /// The time limit.
        after: Duration,
    },
    #[error("fence agent {agent}: {action} failed ({}){}", exit_text(*code, *signal), stderr_text(stderr))]
    /// The agent reported a failure (an exit code the fence-agent API
    /// gives no success meaning), or was killed by a signal.
    Failed {
        /// The agent's name.
        agent: String,
        /// What it was asked to do.
        action: Action,
        /// The agent's exit code, when it exited.
        code: Option<i32>,
        /// The signal that killed it, when one did.
        signal: Option<i32>,
        /// The end of its standard error, secrets removed.
        stderr: String,
    },
    #[error("fence agent {agent}: off succeeded but status then reported the host {state}")]
    /// `off` succeeded, but `status` did not then report the power off.
    NotConfirmed {
        /// The agent's name.
        agent: String,
        /// The state `status` reported.
        state: PowerState,
    },
}

fn join_paths(paths: &[PathBuf]) -> String {
    let v: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    v.join(", ")
}

fn exit_text(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => "no exit status".to_string(),
    }
}

fn stderr_text(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

/// Whether the value of option `key` is a secret, never to be shown: any key
/// that names a password, passphrase, secret, token, key, credential, SNMP
/// community or IPMI Kg key (`password`, `passwd`, `password_script`,
/// `passwd_script`, `snmp_priv_passwd`, `hexadecimal_kg`, `secret_key`,
/// `api_key`, `token`, `community`, `credentials_file`, ...). Erring towards
/// hiding: a script or file path that leads to a secret is hidden too.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    const PARTS: &[&str] = &["pass", "secret", "token", "key", "credential", "community"];
    PARTS.iter().any(|p| k.contains(p)) || k == "kg" || k.ends_with("_kg") || k.starts_with("kg_")
}

/// A fence agent's options. Keys are option names as the agent's metadata
/// lists them (`ip`, `ipport`, `username`, `password`, `lanplus`, ...); the
/// action is not one of them, it is given per run.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FenceParams {
    map: BTreeMap<String, String>,
}

impl FenceParams {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces one option. Keys are letters, digits, `_` and `-`;
    /// `action` and its old name `option` are refused (the action is chosen
    /// per run), and so is a value with a line break or NUL, which would let
    /// it smuggle in another option.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<&mut Self, FenceError> {
        let key = key.into();
        let value = value.into();
        let bad = |reason: &str| FenceError::InvalidParam {
            key: key.clone(),
            reason: reason.to_string(),
        };
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad("a key is letters, digits, '_' or '-'"));
        }
        if key == "action" || key == "option" {
            return Err(bad("the action is chosen per run, not in the parameters"));
        }
        if value.contains(['\n', '\r', '\0']) {
            return Err(bad("a value may not hold a line break or NUL"));
        }
        self.map.insert(key, value);
        Ok(self)
    }

    /// From a pool file's `fencing[].params` object: strings as they are,
    /// numbers as written, booleans as `1` or `0`.
    pub fn from_json(params: &serde_json::Map<String, Value>) -> Result<Self, FenceError> {
        let mut out = Self::new();
        for (key, value) in params {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
                _ => {
                    return Err(FenceError::InvalidParam {
                        key: key.clone(),
                        reason: "expected a string, number or boolean".to_string(),
                    });
                }
            };
            out.insert(key.clone(), text)?;
        }
        Ok(out)
    }

    /// One option's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// How many options there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is no option.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The option names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// What the agent reads on its standard input for `action`.
    pub fn stdin_text(&self, action: Action) -> String {
        let mut s = format!("action={}\n", action.as_str());
        for (k, v) in &self.map {
            s.push_str(k);
            s.push('=');
            s.push_str(v);
            s.push('\n');
        }
        s
    }

    /// `text` with every secret value replaced by `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        let mut secrets: Vec<&str> = self
            .map
            .iter()
            .filter(|(k, v)| is_secret_key(k) && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect();
        // Longest first, so that a secret containing another goes whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = text.to_string();
        for s in secrets {
            out = out.replace(s, REDACTED);
        }
        out
    }

    fn shown(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| {
            let v = if is_secret_key(k) {
                REDACTED
            } else {
                v.as_str()
            };
            (k.as_str(), v)
        })
    }
}

impl fmt::Debug for FenceParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.shown()).finish()
    }
}

impl fmt::Display for FenceParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.shown().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}
