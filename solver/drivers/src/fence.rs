//! Fencing by running fence-agent programs, the way Pacemaker does.
//!
//! A [`FenceDevice`] is one fencing level of a host: an agent program
//! (`fence_ipmilan`, or any `fence_*` agent) and its options. Running it
//! means starting the agent with no arguments and writing the options to its
//! standard input as `key=value` lines, `action=` first. Options never appear
//! on a command line (where every local user could read them) and no shell is
//! involved, so no value is ever interpreted.
//!
//! `fence_ipmilan` and its other names would still put the password on
//! `ipmitool`'s command line: for them the password goes to ipmitool through
//! the environment instead (see the `ipmitool` module).
//!
//! Exit codes follow the fence-agent API: for `status`, 0 means the power is
//! on, 2 that it is off, anything else is an error; for every other action, 0
//! is success and anything else an error. Every run has a time limit: an
//! agent still running then is killed with its whole process group (the
//! agent runs in a group of its own, so `ipmitool` and any other helper it
//! started goes too).
//!
//! Options may hold credentials. [`FenceParams`] redacts the values of secret
//! keys (see [`is_secret_key`]) in `Debug` and `Display`, and whatever the
//! agent prints is cleaned of every secret value before it is kept in an
//! error.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub use crate::agent::{Action, FenceError, FenceParams, PowerState, is_secret_key};

/// Where agents are looked for after `PATH`: where the fence-agents package
/// installs them (Pacemaker's own agent directory is `/usr/sbin`).
pub const DEFAULT_AGENT_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// At most this much of an agent's standard output and error is kept.
const OUTPUT_CAP: usize = 64 * 1024;
/// An error quotes at most this much of the agent's standard error (its end).
const STDERR_IN_ERROR: usize = 2000;

/// What one run of an agent gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What the agent was asked to do.
    pub action: Action,
    /// The power state, for [`Action::Status`] only (from the exit code).
    pub state: Option<PowerState>,
    /// From start to exit.
    pub elapsed: Duration,
    /// The agent's standard output, secrets removed.
    pub stdout: String,
}

/// One fencing level: an agent program and its options.
#[derive(Clone, Debug)]
pub struct FenceDevice {
    agent: String,
    path: PathBuf,
    params: FenceParams,
}

impl fmt::Display for FenceDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.agent, self.params)
    }
}

/// Whether `name` is a fence agent's name: `fence_` then lowercase letters,
/// digits and underscores.
pub fn valid_agent_name(name: &str) -> bool {
    name.strip_prefix("fence_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

impl FenceDevice {
    /// The agent named `agent`, looked for in the directories of `PATH` and
    /// then [`DEFAULT_AGENT_DIRS`].
    pub fn new(agent: &str, params: FenceParams) -> Result<Self, FenceError> {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.extend(DEFAULT_AGENT_DIRS.iter().map(PathBuf::from));
        Self::in_dirs(agent, params, &dirs)
    }

    /// The agent named `agent`, looked for in `dirs` only, in order
    /// (relative directories are skipped).
    pub fn in_dirs(
        agent: &str,
        params: FenceParams,
        dirs: &[impl AsRef<Path>],
    ) -> Result<Self, FenceError> {
        if !valid_agent_name(agent) {
            return Err(FenceError::InvalidAgent {
                name: agent.to_string(),
            });
        }
        crate::ipmitool::check(agent, &params)?;
        let mut searched = Vec::new();
        for dir in dirs {
            let dir = dir.as_ref();
            if !dir.is_absolute() || searched.iter().any(|d: &PathBuf| d == dir) {
                continue;
            }
            searched.push(dir.to_path_buf());
            let candidate = dir.join(agent);
            let executable = std::fs::metadata(&candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
            if executable {
                return Ok(FenceDevice {
                    agent: agent.to_string(),
                    path: candidate,
                    params,
                });
            }
        }
        Err(FenceError::AgentNotFound {
            agent: agent.to_string(),
            searched,
        })
    }

    /// The agent's name (`fence_ipmilan`).
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// The program that runs.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The agent's options.
    pub fn params(&self) -> &FenceParams {
        &self.params
    }

    /// Runs the agent once for `action`, killing it (and its process group)
    /// if it is still running after `timeout`.
    pub fn run(&self, action: Action, timeout: Duration) -> Result<Outcome, FenceError> {
        let started = Instant::now();
        let invocation = crate::ipmitool::invocation(&self.agent, &self.params, action)?;
        let mut cmd = Command::new(&self.path);
        for name in crate::ipmitool::ENV_VARS {
            cmd.env_remove(name);
        }
        cmd.envs(invocation.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .current_dir("/")
            .env("LC_ALL", "C")
            // Python agents warn about deprecated modules on every run.
            .env("PYTHONWARNINGS", "ignore")
            // A group of its own: a timeout kills the agent and its helpers.
            .process_group(0);
        let mut child = cmd.spawn().map_err(|source| FenceError::Spawn {
            agent: self.agent.clone(),
            source,
        })?;
        let pid = child.id() as libc::pid_t;

        let input = invocation.stdin;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // A thread, so that an agent that never reads cannot block us.
        thread::spawn(move || {
            // An agent may exit without reading everything: not our problem.
            let _ = stdin.write_all(input.as_bytes());
        });
        let stdout = drain(child.stdout.take().expect("stdout is piped"));
        let stderr = drain(child.stderr.take().expect("stderr is piped"));

        let finished = wait_until(pid, started + timeout);
        // Whatever the agent left behind in its group goes with it; the
        // leader is not reaped yet, so the group id cannot have been reused.
        kill_group(pid);
        let status = reap(&mut child);
        let elapsed = started.elapsed();
        let grace = Duration::from_millis(200);
        let stdout = self.params.redact(&collect(stdout, grace));
        let stderr = self.params.redact(&collect(stderr, grace));

        match finished {
            Ok(true) => {}
            Ok(false) => {
                return Err(FenceError::Timeout {
                    agent: self.agent.clone(),
                    action,
                    after: timeout,
                });
            }
            Err(source) => {
                return Err(FenceError::Spawn {
                    agent: self.agent.clone(),
                    source,
                });
            }
        }
        let status = status.map_err(|source| FenceError::Spawn {
            agent: self.agent.clone(),
            source,
        })?;
        let state = interpret(action, status).map_err(|()| FenceError::Failed {
            agent: self.agent.clone(),
            action,
            code: status.code(),
            signal: status.signal(),
            stderr: tail(stderr.trim(), STDERR_IN_ERROR).to_string(),
        })?;
        Ok(Outcome {
            action,
            state,
            elapsed,
            stdout,
        })
    }

    /// The host's power state (`status`), within `timeout`.
    pub fn status(&self, timeout: Duration) -> Result<PowerState, FenceError> {
        let outcome = self.run(Action::Status, timeout)?;
        Ok(outcome.state.expect("status reports a state"))
    }

    /// Fences the host: runs `off`, then `status`, each within `timeout`,
    /// and succeeds only when status reports the power off. `Ok` is the
    /// proof a runtime needs before restarting the host's VMs elsewhere;
    /// any error means this level did not confirm it.
    pub fn off_and_confirm(&self, timeout: Duration) -> Result<Duration, FenceError> {
        let started = Instant::now();
        self.run(Action::Off, timeout)?;
        match self.status(timeout)? {
            PowerState::Off => Ok(started.elapsed()),
            state => Err(FenceError::NotConfirmed {
                agent: self.agent.clone(),
                state,
            }),
        }
    }
}

/// The fence-agent API's exit codes: the state for `status`, `Err` for a
/// failure.
fn interpret(action: Action, status: ExitStatus) -> Result<Option<PowerState>, ()> {
    match (action, status.code()) {
        (Action::Status, Some(0)) => Ok(Some(PowerState::On)),
        (Action::Status, Some(2)) => Ok(Some(PowerState::Off)),
        (Action::Status, _) => Err(()),
        (_, Some(0)) => Ok(None),
        _ => Err(()),
    }
}

/// Reads a pipe to its end on a thread of its own, keeping the first
/// [`OUTPUT_CAP`] bytes.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = OUTPUT_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.send(kept);
    });
    rx
}

/// What a drained pipe held; empty if a process outside the agent's group
/// still holds it open after `grace`.
fn collect(rx: mpsc::Receiver<Vec<u8>>, grace: Duration) -> String {
    rx.recv_timeout(grace)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Waits until process `pid` has exited (without reaping it) or `deadline`
/// passes: `Ok(true)` if it exited.
fn wait_until(pid: libc::pid_t, deadline: Instant) -> io::Result<bool> {
    let mut pause = Duration::from_millis(1);
    loop {
        if exited(pid)? {
            return Ok(true);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Whether child `pid` has exited, leaving it waitable.
fn exited(pid: libc::pid_t) -> io::Result<bool> {
    loop {
        // SAFETY: waitid writes only into `info`, which is zeroed first (so
        // that si_pid reads 0 when no child changed state).
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if r == 0 {
            // SAFETY: waitid filled `info` for a child event, or left it zeroed.
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn kill_group(pgid: libc::pid_t) {
    // SAFETY: kill has no memory effects; ESRCH (nothing left) is fine.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

fn reap(child: &mut Child) -> io::Result<ExitStatus> {
    child.wait()
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::REDACTED;
    use std::fs;

    fn params(pairs: &[(&str, &str)]) -> FenceParams {
        let mut p = FenceParams::new();
        for (k, v) in pairs {
            p.insert(*k, *v).unwrap();
        }
        p
    }

    /// A directory with fake agents, removed at drop.
    struct Agents {
        dir: PathBuf,
    }

    impl Agents {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("haplan-fence-test-{}-{tag}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Agents { dir }
        }

        fn add(&self, name: &str, script: &str) {
            let path = self.dir.join(name);
            fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }

        fn device(&self, name: &str, p: FenceParams) -> FenceDevice {
            FenceDevice::in_dirs(name, p, &[&self.dir]).unwrap()
        }
    }

    impl Drop for Agents {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn devices_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<FenceDevice>();
        send_sync::<FenceError>();
    }

    #[test]
    fn agent_names_are_checked() {
        for good in ["fence_ipmilan", "fence_a", "fence_ilo5", "fence_aws_v2"] {
            assert!(valid_agent_name(good), "{good}");
        }
        for bad in [
            "fence_",
            "ipmilan",
            "fence_IPMI",
            "fence_x/../y",
            "../fence_x",
            "fence_a b",
            "fence-x",
            "fence_x;rm",
            "",
        ] {
            assert!(!valid_agent_name(bad), "{bad}");
            let e = FenceDevice::new(bad, FenceParams::new()).unwrap_err();
            assert!(matches!(e, FenceError::InvalidAgent { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn missing_agent_names_the_searched_dirs() {
        let agents = Agents::new("missing");
        let e =
            FenceDevice::in_dirs("fence_nothere", FenceParams::new(), &[&agents.dir]).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, FenceError::AgentNotFound { .. }));
        assert!(text.contains(&agents.dir.display().to_string()), "{text}");
    }

    #[test]
    fn a_non_executable_file_is_not_an_agent() {
        let agents = Agents::new("noexec");
        fs::write(agents.dir.join("fence_plain"), "#!/bin/sh\nexit 0\n").unwrap();
        let e =
            FenceDevice::in_dirs("fence_plain", FenceParams::new(), &[&agents.dir]).unwrap_err();
        assert!(matches!(e, FenceError::AgentNotFound { .. }));
    }

    #[test]
    fn stdin_has_the_action_first_then_every_option() {
        let p = params(&[
            ("ip", "10.0.0.5"),
            ("password", "pa ss=word"),
            ("lanplus", "1"),
        ]);
        assert_eq!(
            p.stdin_text(Action::Off),
            "action=off\nip=10.0.0.5\nlanplus=1\npassword=pa ss=word\n"
        );
    }

    #[test]
    fn params_refuse_smuggled_lines_and_the_action() {
        let mut p = FenceParams::new();
        assert!(p.insert("ip", "1.2.3.4\naction=on").is_err());
        assert!(p.insert("ip", "x\ry").is_err());
        assert!(p.insert("ip", "x\0").is_err());
        assert!(p.insert("action", "off").is_err());
        assert!(p.insert("option", "off").is_err());
        assert!(p.insert("a=b", "c").is_err());
        assert!(p.insert("", "c").is_err());
        assert!(p.insert("ip port", "c").is_err());
        assert!(p.insert("login-timeout", "3").is_ok());
        assert!(!p.is_empty() && p.len() == 1);
    }

    #[test]
    fn params_from_json_convert_scalars_and_refuse_the_rest() {
        let v: serde_json::Value = serde_json::json!({
            "ip": "127.0.0.1", "ipport": 9001, "lanplus": true, "verbose": false, "ratio": 1.5
        });
        let p = FenceParams::from_json(v.as_object().unwrap()).unwrap();
        assert_eq!(p.get("ip"), Some("127.0.0.1"));
        assert_eq!(p.get("ipport"), Some("9001"));
        assert_eq!(p.get("lanplus"), Some("1"));
        assert_eq!(p.get("verbose"), Some("0"));
        assert_eq!(p.get("ratio"), Some("1.5"));
        for bad in [
            serde_json::json!({"ip": null}),
            serde_json::json!({"ip": ["a"]}),
            serde_json::json!({"ip": {"a": 1}}),
            serde_json::json!({"action": "off"}),
        ] {
            let e = FenceParams::from_json(bad.as_object().unwrap()).unwrap_err();
            assert!(matches!(e, FenceError::InvalidParam { .. }), "{bad}");
        }
    }

    #[test]
    fn secret_keys() {
        for k in [
            "password",
            "passwd",
            "password_script",
            "passwd_script",
            "PASSWORD",
            "snmp_auth_pass",
            "snmp_priv_passwd",
            "hexadecimal_kg",
            "secret_key",
            "access_key",
            "api_key",
            "token",
            "community",
            "credentials_file",
            "client_secret",
            "ssl_secure_key",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "ip",
            "ipport",
            "username",
            "login",
            "lanplus",
            "cipher",
            "plug",
            "port",
            "method",
            "power_wait",
            "auth",
            "privlvl",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn debug_and_display_redact_secrets() {
        let p = params(&[
            ("ip", "10.1.2.3"),
            ("username", "admin"),
            ("password", "hunter2"),
            ("passwd_script", "/root/get-pw"),
            ("hexadecimal_kg", "deadbeef"),
        ]);
        let agents = Agents::new("redact");
        agents.add("fence_fake", "exit 0");
        let device = agents.device("fence_fake", p.clone());
        for text in [
            format!("{p:?}"),
            format!("{p}"),
            format!("{device:?}"),
            format!("{device}"),
            format!("{device:#?}"),
        ] {
            for secret in ["hunter2", "/root/get-pw", "deadbeef"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            assert!(
                text.contains("10.1.2.3") && text.contains("admin"),
                "{text}"
            );
            assert!(text.contains(REDACTED), "{text}");
        }
    }

    #[test]
    fn redact_removes_every_secret_value_longest_first() {
        let p = params(&[("password", "abc"), ("passwd", "abcdef"), ("ip", "abc")]);
        assert_eq!(p.redact("x abcdef y abc z"), "x <redacted> y <redacted> z");
    }

    #[test]
    fn the_agent_reads_options_on_stdin_not_argv() {
        let agents = Agents::new("stdin");
        let out = agents.dir.join("seen");
        agents.add(
            "fence_record",
            &format!(
                "echo \"argc=$#\" > {o}; cat >> {o}; echo done",
                o = out.display()
            ),
        );
        let device = agents.device(
            "fence_record",
            params(&[("ip", "$(touch /tmp/pwned)"), ("password", "s3cret")]),
        );
        let outcome = device.run(Action::Monitor, 5 * SECOND).unwrap();
        assert_eq!(outcome.state, None);
        assert_eq!(outcome.stdout.trim(), "done");
        let seen = fs::read_to_string(&out).unwrap();
        assert_eq!(
            seen,
            "argc=0\naction=monitor\nip=$(touch /tmp/pwned)\npassword=s3cret\n"
        );
    }

    #[test]
    fn exit_codes_map_to_states_and_errors() {
        let agents = Agents::new("codes");
        // Exit code chosen by the action it reads.
        agents.add(
            "fence_codes",
            "read first; rest=$(cat); \
             case \"$first\" in \
               action=status) case \"$rest\" in *state=off*) exit 2;; *state=bad*) echo boom >&2; exit 1;; *) exit 0;; esac;; \
               action=off) exit 0;; \
               action=on) echo 'cannot power on' >&2; exit 1;; \
               *) exit 3;; esac",
        );
        let on = agents.device("fence_codes", params(&[("state", "on")]));
        let off = agents.device("fence_codes", params(&[("state", "off")]));
        let bad = agents.device("fence_codes", params(&[("state", "bad")]));
        assert_eq!(on.status(5 * SECOND).unwrap(), PowerState::On);
        assert_eq!(off.status(5 * SECOND).unwrap(), PowerState::Off);
        match bad.status(5 * SECOND).unwrap_err() {
            FenceError::Failed {
                code,
                stderr,
                action,
                ..
            } => {
                assert_eq!(code, Some(1));
                assert_eq!(action, Action::Status);
                assert_eq!(stderr, "boom");
            }
            e => panic!("{e}"),
        }
        assert_eq!(on.run(Action::Off, 5 * SECOND).unwrap().state, None);
        let e = on.run(Action::On, 5 * SECOND).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("on failed (exit code 1): cannot power on"),
            "{e}"
        );
        let e = on.run(Action::Reboot, 5 * SECOND).unwrap_err();
        assert!(matches!(e, FenceError::Failed { code: Some(3), .. }), "{e}");
        // Off is confirmed only when status then says off.
        assert!(off.off_and_confirm(5 * SECOND).is_ok());
        match on.off_and_confirm(5 * SECOND).unwrap_err() {
            FenceError::NotConfirmed { state, .. } => assert_eq!(state, PowerState::On),
            e => panic!("{e}"),
        }
        assert!(matches!(
            bad.off_and_confirm(5 * SECOND).unwrap_err(),
            FenceError::Failed { .. }
        ));
    }

    #[test]
    fn a_killed_agent_is_a_failure_with_its_signal() {
        let agents = Agents::new("signal");
        agents.add("fence_suicide", "cat >/dev/null; kill -TERM $$");
        let device = agents.device("fence_suicide", FenceParams::new());
        match device.status(5 * SECOND).unwrap_err() {
            FenceError::Failed { code, signal, .. } => {
                assert_eq!(code, None);
                assert_eq!(signal, Some(libc::SIGTERM));
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn errors_never_show_secrets_the_agent_printed() {
        let agents = Agents::new("leak");
        agents.add(
            "fence_leaky",
            "cat; echo \"ipmitool -P hunter2 failed\" >&2; exit 1",
        );
        let device = agents.device(
            "fence_leaky",
            params(&[("ip", "10.0.0.1"), ("password", "hunter2")]),
        );
        let e = device.run(Action::Off, 5 * SECOND).unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("ipmitool -P <redacted> failed"), "{text}");
    }

    #[test]
    fn a_timeout_kills_the_agent_and_its_helpers() {
        let agents = Agents::new("timeout");
        let pids = agents.dir.join("pids");
        // The agent starts a helper (as fence_ipmilan starts ipmitool) and
        // both hang.
        agents.add(
            "fence_hang",
            &format!(
                "sleep 300 & echo $! > {p}; echo $$ >> {p}; wait",
                p = pids.display()
            ),
        );
        let device = agents.device("fence_hang", FenceParams::new());
        let started = Instant::now();
        let e = device
            .run(Action::Off, Duration::from_millis(300))
            .unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(
                e,
                FenceError::Timeout {
                    action: Action::Off,
                    ..
                }
            ),
            "{e}"
        );
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        let text = fs::read_to_string(&pids).unwrap();
        for pid in text.split_whitespace() {
            let pid: libc::pid_t = pid.parse().unwrap();
            // Gone, or at worst a zombie awaiting its new parent: never
            // running. SIGKILL takes effect asynchronously, so allow a moment.
            let gone = || {
                let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let state = stat
                    .rsplit(')')
                    .next()
                    .and_then(|s| s.split_whitespace().next())
                    .map(str::to_string);
                matches!(state.as_deref(), None | Some("Z") | Some("X"))
            };
            let deadline = Instant::now() + SECOND;
            while !gone() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            assert!(gone(), "process {pid} still running");
        }
    }

    #[test]
    fn an_agent_that_never_reads_stdin_still_finishes() {
        let agents = Agents::new("noread");
        agents.add("fence_deaf", "exit 0");
        let mut p = FenceParams::new();
        p.insert("big", "x".repeat(200_000)).unwrap();
        let device = agents.device("fence_deaf", p);
        assert_eq!(device.status(5 * SECOND).unwrap(), PowerState::On);
    }

    #[test]
    fn tail_keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail("abc", 5), "abc");
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("aéé", 3), "é");
    }
}
