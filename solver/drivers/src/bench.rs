//! The end-to-end bench from Rust: real daemons for tests.
//!
//! [`Bench::start`] runs `scripts/e2e/bench.sh start` in a fresh directory:
//! N simulated hosts on loopback, each a `libvirtd` (libvirt's test driver)
//! powered by its own OpenIPMI `ipmi_sim` BMC, described by a pool file with
//! `fence_ipmilan` fencing. Dropping the [`Bench`] (or [`Bench::stop`]) stops
//! every process it started, by process group; a watchdog does it too if the
//! test process dies without dropping it. Benches are independent (their own
//! directory, ports and sockets), so tests using them may run in parallel.
//!
//! When the daemons are not installed, [`Bench::start`] fails with the
//! script's message naming what is missing: tests that need the bench fail,
//! they never pass silently. `scripts/deps.sh` installs them.
//!
//! This is test support: it finds the script through this crate's source
//! directory, so it works from the repository only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::fence::FenceParams;

/// The bench script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/e2e/bench.sh")
}

/// Why the bench did not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    #[error("cannot run {script}: {source}")]
    /// `bench.sh` could not be started.
    Run {
        /// The script's path.
        script: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    #[error("bench.sh {command} failed ({status}): {stderr}")]
    /// `bench.sh` ran and failed.
    Script {
        /// Its command (`start`, `isolate`, ...).
        command: String,
        /// How it exited.
        status: std::process::ExitStatus,
        /// What it printed on standard error.
        stderr: String,
    },
    #[error("bench state {path}: {message}")]
    /// The bench's state file (`bench.json`) could not be read.
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    #[error("no bench host {0:?}")]
    /// No simulated host has this name.
    NoHost(String),
}

/// One simulated host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchHost {
    /// The host's name in the pool file.
    pub name: String,
    /// The management URI (through the host's relay, which `isolate` cuts).
    pub uri: String,
    /// Straight to the host's libvirtd, not through the relay.
    pub direct_uri: String,
    /// The UDP port of its simulated BMC on loopback.
    pub bmc_port: u16,
    /// The BMC's user name.
    pub bmc_username: String,
    /// The BMC's password.
    pub bmc_password: String,
    /// The pid file of the host's libvirtd, which the BMC kills when it
    /// powers the host off.
    pub libvirtd_pidfile: PathBuf,
}

impl BenchHost {
    /// `fence_ipmilan` options that reach this host's BMC, as in the pool
    /// file.
    pub fn fence_params(&self) -> FenceParams {
        self.fence_params_with_password(&self.bmc_password)
    }

    /// The same with another password (the BMC refuses it).
    pub fn fence_params_with_password(&self, password: &str) -> FenceParams {
        let mut p = FenceParams::new();
        for (k, v) in [
            ("ip", "127.0.0.1"),
            ("ipport", &self.bmc_port.to_string()),
            ("username", &self.bmc_username),
            ("password", password),
            ("lanplus", "1"),
            ("cipher", "3"),
            ("power_wait", "0"),
        ] {
            p.insert(k, v).expect("valid fence parameters");
        }
        p
    }
}

/// What to start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BenchOptions {
    /// How many hosts.
    pub hosts: usize,
    /// Hosts whose only fencing level has a wrong password.
    pub refuse: Vec<String>,
    /// Hosts whose first fencing level has a wrong password, the second the
    /// right one.
    pub refuse_first: Vec<String>,
}

/// A running bench; stopped when dropped.
#[derive(Debug)]
pub struct Bench {
    dir: PathBuf,
    hosts: Vec<BenchHost>,
    stopped: bool,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn run(args: &[&str]) -> Result<String, BenchError> {
    let script = script();
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .output()
        .map_err(|source| BenchError::Run {
            script: script.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(BenchError::Script {
            command: args.join(" "),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A fresh directory for a bench, short enough for unix socket paths.
fn fresh_dir() -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("haplan-bench-{}-{n}", std::process::id());
    let tmp = std::env::temp_dir();
    let dir = tmp.join(&name);
    if dir.as_os_str().len() <= 60 && dir.to_str().is_some() {
        dir
    } else {
        Path::new("/tmp").join(name)
    }
}

impl Bench {
    /// `hosts` simulated hosts, h1..hN, with working fencing.
    pub fn start(hosts: usize) -> Result<Bench, BenchError> {
        Self::start_with(&BenchOptions {
            hosts,
            ..BenchOptions::default()
        })
    }

    /// Starts a bench as `options` say.
    pub fn start_with(options: &BenchOptions) -> Result<Bench, BenchError> {
        let dir = fresh_dir();
        let _ = std::fs::remove_dir_all(&dir);
        let dir_text = dir.to_str().expect("a UTF-8 temp dir").to_string();
        let n = options.hosts.to_string();
        let owner = std::process::id().to_string();
        let mut args = vec!["start", &n, &dir_text, "--owner", &owner];
        for h in &options.refuse {
            args.extend(["--refuse", h]);
        }
        for h in &options.refuse_first {
            args.extend(["--refuse-first", h]);
        }
        run(&args)?;
        let mut bench = Bench {
            dir,
            hosts: Vec::new(),
            stopped: false,
        };
        bench.hosts = bench.read_state()?;
        Ok(bench)
    }

    fn read_state(&self) -> Result<Vec<BenchHost>, BenchError> {
        let path = self.dir.join("bench.json");
        let bad = |message: String| BenchError::State {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let hosts = v["hosts"]
            .as_array()
            .ok_or_else(|| bad("no hosts".into()))?;
        hosts
            .iter()
            .map(|h| {
                let s = |k: &str| {
                    h[k].as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(format!("no {k}")))
                };
                let bmc = &h["bmc"];
                Ok(BenchHost {
                    name: s("name")?,
                    uri: s("uri")?,
                    direct_uri: s("direct_uri")?,
                    bmc_port: bmc["port"]
                        .as_u64()
                        .and_then(|p| u16::try_from(p).ok())
                        .ok_or_else(|| bad("no bmc.port".into()))?,
                    bmc_username: bmc["username"].as_str().unwrap_or_default().to_string(),
                    bmc_password: bmc["password"].as_str().unwrap_or_default().to_string(),
                    libvirtd_pidfile: PathBuf::from(s("libvirtd_pidfile")?),
                })
            })
            .collect()
    }

    /// The bench's directory (its state, logs and pool file).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every simulated host.
    pub fn hosts(&self) -> &[BenchHost] {
        &self.hosts
    }

    /// The simulated host named `name`.
    pub fn host(&self, name: &str) -> Result<&BenchHost, BenchError> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| BenchError::NoHost(name.to_string()))
    }

    /// The pool file describing the hosts.
    pub fn pool_path(&self) -> PathBuf {
        self.dir.join("pool.json")
    }

    /// `(name, uri)` of every host, as the importer takes them.
    pub fn host_uris(&self) -> Vec<(String, String)> {
        self.hosts
            .iter()
            .map(|h| (h.name.clone(), h.uri.clone()))
            .collect()
    }

    fn host_command(&self, command: &str, host: &str) -> Result<(), BenchError> {
        self.host(host)?;
        run(&[command, self.dir.to_str().expect("UTF-8"), host]).map(drop)
    }

    /// The BMC powers the host off (its libvirtd is killed); returns once
    /// it is gone.
    pub fn power_off(&self, host: &str) -> Result<(), BenchError> {
        self.host_command("power-off", host)
    }

    /// The BMC powers the host on; returns once its libvirtd answers (a
    /// fresh one: the host has no domains).
    pub fn power_on(&self, host: &str) -> Result<(), BenchError> {
        self.host_command("power-on", host)
    }

    /// The host dies at once (SIGKILL to its libvirtd); its BMC then
    /// reports it off.
    pub fn crash(&self, host: &str) -> Result<(), BenchError> {
        self.host_command("crash", host)
    }

    /// The management network to the host is lost: it keeps running, its
    /// BMC answers, its libvirtd does not.
    pub fn isolate(&self, host: &str) -> Result<(), BenchError> {
        self.host_command("isolate", host)
    }

    /// Ends [`isolate`](Self::isolate).
    pub fn heal(&self, host: &str) -> Result<(), BenchError> {
        self.host_command("heal", host)
    }

    /// The pid of the host's libvirtd while it runs.
    pub fn libvirtd_pid(&self, host: &str) -> Result<Option<u32>, BenchError> {
        let h = self.host(host)?;
        let Ok(text) = std::fs::read_to_string(&h.libvirtd_pidfile) else {
            return Ok(None);
        };
        let Ok(pid) = text.trim().parse::<u32>() else {
            return Ok(None);
        };
        // Ours and alive (a zombie has an empty command line).
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let ours = String::from_utf8_lossy(&cmdline).contains(self.dir.to_str().unwrap_or("//"));
        Ok(ours.then_some(pid))
    }

    /// Stops every process of the bench and removes its directory.
    pub fn stop(mut self) -> Result<(), BenchError> {
        self.stopped = true;
        run(&["stop", self.dir.to_str().expect("UTF-8")])?;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        let _ = run(&["stop", self.dir.to_str().unwrap_or_default()]);
        if std::thread::panicking() {
            eprintln!("bench logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
