//! The control interface: operator input while the runtime runs.
//!
//! A Unix stream socket (mode 0600; put it in a directory only root can
//! enter, such as systemd's `RuntimeDirectory`). A client writes one JSON
//! request on one line and reads one JSON answer line:
//!
//! ```text
//! {"event": {"type": "fence_confirmed", "host": "h1"}}
//! {"ok": true, "output": {"actions": [...], "alerts": [...], "notes": [...]}}
//! {"ok": false, "error": "the runtime refused ...: unknown host \"h9\""}
//! ```
//!
//! The event goes through the runtime's loop like any other, so it is in
//! the log. Only operator events are taken (`vm_started`, `vm_stopped`,
//! `vm_crashed`, `vm_migrated`, `vm_resized`, `vm_priority_changed`,
//! `host_removed`, `host_up`, `host_down`, `host_maintenance`,
//! `fence_confirmed`, `config_changed`, `operation_proceeded`); answers to
//! the runtime's actions come only from its drivers, and `host_added` needs
//! the host in the pool file (restart `haplan run` with it: the resumed
//! runtime adds it). A request is at most 64 KiB and must arrive within
//! 5 s. `haplan control SOCKET JSON` is a client.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use haplan_runtime::{Event, Output};

/// The longest request line.
pub const MAX_REQUEST: u64 = 64 * 1024;

/// One operator event, and where its answer goes.
pub struct Request {
    /// The operator's event (`fence_confirmed`, `host_maintenance`, ...).
    pub event: Event,
    /// Where the runtime's answer goes: its output, or why the event was
    /// refused.
    pub reply: mpsc::Sender<Result<Output, String>>,
}

/// Whether `event` may come from an operator.
pub fn operator_event(event: &Event) -> bool {
    matches!(
        event,
        Event::VmStarted { .. }
            | Event::VmStopped { .. }
            | Event::VmCrashed { .. }
            | Event::VmMigrated { .. }
            | Event::VmResized { .. }
            | Event::VmPriorityChanged { .. }
            | Event::HostRemoved { .. }
            | Event::HostUp { .. }
            | Event::HostDown { .. }
            | Event::HostMaintenance { .. }
            | Event::FenceConfirmed { .. }
            | Event::ConfigChanged { .. }
            | Event::OperationProceeded { .. }
    )
}

/// The socket, listening; removed when dropped.
pub struct Control {
    path: PathBuf,
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listens on `path` (a stale socket there is replaced) and hands each
/// request to `tx`, one connection at a time.
pub fn listen(path: &Path, tx: mpsc::Sender<Request>) -> Result<Control, String> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(format!("{} is in use by another runtime", path.display()));
        }
        std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answer = serve(&stream, &tx);
            let mut stream = stream;
            let _ = writeln!(stream, "{answer}");
        }
    });
    Ok(Control {
        path: path.to_path_buf(),
    })
}

fn serve(stream: &UnixStream, tx: &mpsc::Sender<Request>) -> Value {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    let mut r = BufReader::new(stream.take(MAX_REQUEST));
    if let Err(e) = r.read_line(&mut line) {
        return json!({"ok": false, "error": format!("reading the request: {e}")});
    }
    let req: Value = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(e) => return json!({"ok": false, "error": format!("not a JSON request: {e}")}),
    };
    let event: Event = match req.get("event").cloned().map(serde_json::from_value) {
        Some(Ok(e)) => e,
        Some(Err(e)) => return json!({"ok": false, "error": format!("event: {e}")}),
        None => return json!({"ok": false, "error": "a request is {\"event\": {...}}"}),
    };
    if !operator_event(&event) {
        return json!({"ok": false, "error": "not an operator event (see docs/runtime.md, the control interface)"});
    }
    let (reply, answer) = mpsc::channel();
    if tx.send(Request { event, reply }).is_err() {
        return json!({"ok": false, "error": "the runtime is stopping"});
    }
    match answer.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(out)) => json!({"ok": true, "output": out}),
        Ok(Err(e)) => json!({"ok": false, "error": e}),
        Err(_) => json!({"ok": false, "error": "the runtime did not answer"}),
    }
}

/// Sends one request line to the socket at `path`; returns the answer line.
pub fn request(path: &Path, line: &str) -> Result<String, String> {
    let mut s = UnixStream::connect(path).map_err(|e| format!("{}: {e}", path.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(40)))
        .map_err(|e| e.to_string())?;
    writeln!(s, "{}", line.trim()).map_err(|e| e.to_string())?;
    let mut answer = String::new();
    BufReader::new(s)
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(answer.trim_end().to_string())
}
