//! The files of a running runtime: its log (appended to, resumed from,
//! compacted into a snapshot and its tail), a lock that keeps a second
//! runtime of the same pool out, and the VM definitions the driver keeps.
//!
//! For a log `L`: `L.lock` (held with an exclusive `flock` while the runtime
//! runs; the kernel drops it when the process dies, even by SIGKILL) and
//! `L.definitions.json`. Compaction writes `L.tmp`, syncs it, renames it
//! over `L` and syncs the directory: at every instant `L` is a whole log.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use haplan_runtime::log::{self, Journal};
use haplan_runtime::{Input, Millis, Output, Runtime, RuntimeError};

/// Writes `data` to `path` whole or not at all: a new file beside it,
/// synced, renamed over it, the directory synced.
pub fn write_atomically(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = sibling(path, ".tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(path)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// `path` with `suffix` added to its file name.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// A runtime's log on disk, its lock held.
pub struct StateFiles {
    path: PathBuf,
    journal: Journal<File>,
    _lock: File,
    /// Compact once the tail has this many steps.
    pub compact_every: u64,
}

/// How [`StateFiles::open`] began.
pub enum Opened {
    /// A new log for the pool file: the runtime starts from it.
    Started(Runtime, Output),
    /// An existing log, replayed and told the runtime restarted (that step
    /// is already appended).
    Resumed {
        /// The runtime as the log left it, after the restart step.
        runtime: Runtime,
        /// The restart step's input.
        input: Input,
        /// What the runtime answered to it.
        output: Output,
        /// Whether the log's last line was cut short (by a crash) and
        /// dropped.
        truncated: bool,
    },
}

impl StateFiles {
    /// Opens the runtime's log at `path` for the pool file `doc` at time
    /// `now`: takes the lock (refusing if another runtime holds it), then
    /// resumes the log if it exists and is not empty, or starts it with a
    /// runtime whose checks have `budget` from the first one on
    /// ([`Runtime::with_check_budget`]).
    pub fn open(
        path: &Path,
        doc: &Value,
        now: Millis,
        budget: Option<Duration>,
    ) -> Result<(StateFiles, Opened), String> {
        let lock_path = sibling(path, ".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        // flock(2) through rustix: `File::try_lock` needs Rust 1.89.
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(format!(
                    "another haplan run holds {} (one runtime per pool)",
                    lock_path.display()
                ));
            }
            Err(e) => {
                let e = std::io::Error::from(e);
                return Err(format!("cannot lock {}: {e}", lock_path.display()));
            }
        }
        let existing = std::fs::metadata(path)
            .map(|m| m.len() > 0)
            .unwrap_or(false);
        if !existing {
            let (runtime, output) = Runtime::with_check_budget(doc.clone(), now, budget)
                .map_err(|e: RuntimeError| e.to_string())?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            let journal = Journal::begin(file, doc, now, &output.undecided)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .wall_clock(true);
            let files = StateFiles {
                path: path.to_path_buf(),
                journal,
                _lock: lock,
                compact_every: 100_000,
            };
            return Ok((files, Opened::Started(runtime, output)));
        }
        let text =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let complete = text.ends_with(b"\n");
        let (rep, input, output) = log::recover(BufReader::new(&text[..]), now)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let log_name = rep.runtime.pool().name.clone();
        let file_name = doc.get("name").and_then(Value::as_str).unwrap_or_default();
        if log_name != file_name {
            return Err(format!(
                "{} is the log of pool {log_name:?}, not of {file_name:?}",
                path.display()
            ));
        }
        if !complete {
            // The last line was cut short by a crash: it goes.
            let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            f.set_len(keep as u64)
                .and_then(|_| f.sync_all())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let mut journal = Journal::resume(file, rep.steps).wall_clock(true);
        journal
            .append(&input, &output)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let files = StateFiles {
            path: path.to_path_buf(),
            journal,
            _lock: lock,
            compact_every: 100_000,
        };
        Ok((
            files,
            Opened::Resumed {
                runtime: rep.runtime,
                input,
                output,
                truncated: rep.truncated,
            },
        ))
    }

    /// Appends one step (synced); compacts the log when its tail is long.
    pub fn append(&mut self, input: &Input, output: &Output, rt: &Runtime) -> io::Result<()> {
        self.journal.append(input, output)?;
        if self.journal.tail_steps() >= self.compact_every {
            self.compact(rt)?;
        }
        Ok(())
    }

    /// Rewrites the log as a snapshot of `rt` (nothing after it).
    pub fn compact(&mut self, rt: &Runtime) -> io::Result<()> {
        let steps = self.journal.steps();
        let mut buf = Vec::new();
        Journal::snapshot(&mut buf, rt, steps)?;
        write_atomically(&self.path, &buf)?;
        let file = OpenOptions::new().append(true).open(&self.path)?;
        self.journal = Journal::resume(file, steps).wall_clock(true);
        Ok(())
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the VM definitions are kept.
    pub fn definitions_path(&self) -> PathBuf {
        sibling(&self.path, ".definitions.json")
    }
}

/// What the pool file `doc` changes against the runtime's own pool (after
/// a restart, the log is the state; the file may have been edited): HA
/// settings that differ (one `config_changed`), hosts it adds
/// (`host_added`), as events to feed in order. A host the log has and the
/// file no longer does is refused: it must leave through `host_removed`.
pub fn pool_changes(rt: &Runtime, doc: &Value) -> Result<Vec<haplan_runtime::Event>, String> {
    use haplan_runtime::Event;
    let mut events = Vec::new();
    let ours = rt.document();
    if let (Some(theirs), Some(mine)) = (
        doc.get("ha").and_then(Value::as_object),
        ours.get("ha").and_then(Value::as_object),
    ) {
        let changed: serde_json::Map<String, Value> = theirs
            .iter()
            .filter(|(k, v)| mine.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !changed.is_empty() {
            events.push(Event::ConfigChanged { ha: changed });
        }
    }
    let names = |d: &Value| -> Vec<String> {
        d.get("hosts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| h.get("name").and_then(Value::as_str).map(str::to_string))
            .collect()
    };
    let (file_hosts, log_hosts) = (names(doc), names(ours));
    if let Some(gone) = log_hosts.iter().find(|h| !file_hosts.contains(h)) {
        return Err(format!(
            "the log's pool has host {gone}, the pool file does not: send host_removed through the control interface first, or start a new log"
        ));
    }
    for h in doc
        .get("hosts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = h.get("name").and_then(Value::as_str).unwrap_or_default();
        if !log_hosts.iter().any(|n| n == name) {
            events.push(Event::HostAdded { host: h.clone() });
        }
    }
    events.reverse(); // popped from the end
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory of this test's own under the system's temporary one.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("haplan-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    }

    #[test]
    fn a_second_runtime_of_the_same_log_is_kept_out_until_the_first_ends() {
        const DEFAULT: Option<Duration> = Some(haplan_runtime::DEFAULT_CHECK_BUDGET);
        let dir = scratch("lock");
        let log = dir.join("pool.log");
        let doc = serde_json::json!({
            "name": "p",
            "hosts": [{"name": "h1", "capacity": {"memory_mib": 8}}],
            "vms": []
        });
        let first = StateFiles::open(&log, &doc, 0, DEFAULT).expect("the first runtime starts");
        let Err(refused) = StateFiles::open(&log, &doc, 1, DEFAULT) else {
            panic!("a second runtime opened a log whose lock is held");
        };
        assert!(refused.contains("another haplan run holds"), "{refused}");
        assert!(refused.contains("pool.log.lock"), "{refused}");
        drop(first);
        let (_, opened) = StateFiles::open(&log, &doc, 2, DEFAULT).expect("the lock was released");
        assert!(
            matches!(opened, Opened::Resumed { .. }),
            "the log is resumed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
