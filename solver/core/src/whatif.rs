//! What-if: a list of changes applied to a pool without editing its file,
//! and the tolerance before and after (`haplan whatif`; the change format is
//! `docs/whatif.md`).
//!
//! Changes apply in list order to the pool file's JSON value, and the result
//! is validated as a whole pool by [`crate::pool_from_value`], so every rule
//! of the format holds for the changed pool. Each change is checked where it
//! is written (`changes[2].name: unknown VM "x"`): its own fields with the
//! pool file's rules and messages, and the names it refers to against the
//! pool as the changes before it left it. Nothing is half-applied: either
//! every change applies and the changed pool is valid, or the answer is every
//! problem found.
//!
//! ```
//! let file: serde_json::Value = serde_json::from_str(r#"{
//!   "name": "demo",
//!   "hosts": [{"name": "h1", "capacity": {"memory_mib": 100}},
//!             {"name": "h2", "capacity": {"memory_mib": 100}}],
//!   "vms": [{"name": "a", "host": "h1", "demand": {"memory_mib": 60}},
//!           {"name": "b", "host": "h2", "demand": {"memory_mib": 60}}]
//! }"#).unwrap();
//! let changed = haplan::whatif::apply_text(&file, r#"[
//!   {"op": "add_host", "host": {"name": "h3", "capacity": {"memory_mib": 100}}}
//! ]"#).unwrap();
//! let before = haplan::pool_from_value(&file).unwrap();
//! let report = haplan::what_if(&before, &changed.pool, &haplan::CheckOptions::default());
//! assert_eq!((report.before.max_tolerable, report.after.max_tolerable), (0, 1));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::error::{ChangesError, Problem};
use crate::load::{self, Cx};
use crate::model::{HostState, Pool, Priority, Restart};
use crate::strict::quoted;
use crate::tolerance::{CheckOptions, CheckReport, Verdict};

/// One change to a pool. Names refer to the pool as the changes before this
/// one left it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// A new host: an object exactly as in the pool file's `hosts`.
    AddHost {
        /// The host's entry.
        host: Value,
    },
    /// The host leaves the pool, and with it every `allowed_hosts` and
    /// `preferred_hosts` entry that names it.
    RemoveHost {
        /// The host.
        name: String,
        /// What happens to its VMs.
        vms: HostVms,
    },
    /// New amounts for the resources named; the others keep theirs.
    ResizeHost {
        /// The host.
        name: String,
        /// New capacity per resource named.
        capacity: BTreeMap<String, i64>,
        /// New reservation per resource named.
        reserved: BTreeMap<String, i64>,
    },
    /// A new `state` (`maintenance` in the change file is this with
    /// [`HostState::Maintenance`]).
    SetHostState {
        /// The host.
        name: String,
        /// Its new state.
        state: HostState,
    },
    /// A new VM: an object exactly as in the pool file's `vms`.
    AddVm {
        /// The VM's entry.
        vm: Value,
    },
    /// The VM leaves the pool, and with it every `vm_groups` entry's
    /// mention of it.
    RemoveVm {
        /// The VM.
        name: String,
    },
    /// New demand for the resources named; the others keep theirs.
    ResizeVm {
        /// The VM.
        name: String,
        /// New demand per resource named.
        demand: BTreeMap<String, i64>,
    },
    /// A new restart priority for a VM.
    SetPriority {
        /// The VM.
        name: String,
        /// Its new priority.
        priority: Priority,
    },
    /// A new restart class for a VM.
    SetRestart {
        /// The VM.
        name: String,
        /// Its new restart class.
        restart: Restart,
    },
    /// A new `ha.host_failures_to_tolerate`.
    SetTolerance {
        /// The new K.
        k: u32,
    },
}

/// What happens to the VMs of a removed host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostVms {
    /// The removal is refused when the host has any VM, halted ones
    /// included (the default: a VM must not vanish by accident).
    Refuse,
    /// They leave the pool with the host.
    Remove,
    /// They move to this host, as a live migration would put them there.
    MoveTo(String),
}

/// A pool after its changes.
#[derive(Clone, Debug)]
pub struct Changed {
    /// The changed pool file, as JSON (a valid pool).
    pub value: Value,
    /// The changed pool, read from `value`.
    pub pool: Pool,
    /// The changes, as read.
    pub changes: Vec<Change>,
}

/// The tolerance before and after the changes.
#[derive(Clone, Debug)]
pub struct WhatIfReport {
    /// The check of the pool as it is.
    pub before: CheckReport,
    /// The check of the pool as the changes leave it.
    pub after: CheckReport,
}

impl WhatIfReport {
    /// The verdict (and the exit code) is that of the changed pool.
    pub fn verdict(&self) -> Verdict {
        self.after.verdict()
    }
}

/// Checks the pool before and after its changes with the same options
/// (`opts.tolerate`, when given, is K for both; otherwise each pool's own
/// `host_failures_to_tolerate`). A time limit covers both checks together.
pub fn what_if(before: &Pool, after: &Pool, opts: &CheckOptions) -> WhatIfReport {
    let (before, after) = crate::diff::check_both(before, after, opts);
    WhatIfReport { before, after }
}

/// Reads a change file: a JSON list of change objects (`docs/whatif.md`).
pub fn parse_changes(text: &str) -> Result<Vec<Change>, ChangesError> {
    changes_from_value(&parse_json(text)?)
}

/// Reads an already parsed change list.
pub fn changes_from_value(v: &Value) -> Result<Vec<Change>, ChangesError> {
    let mut cx = Cx::default();
    let mut out = Vec::new();
    if let Some(items) = list(&mut cx, v) {
        for (i, item) in items.iter().enumerate() {
            if let Some(c) = read_change(&mut cx, &format!("changes[{i}]"), item) {
                out.push(c);
            }
        }
    }
    if cx.is_empty() {
        Ok(out)
    } else {
        let (problems, omitted) = cx.finish();
        Err(ChangesError::with_omitted(problems, omitted))
    }
}

/// Applies `changes` to `pool`, the JSON value of a valid pool file (if it
/// is not valid, its own problems are the error, with their paths in it).
pub fn apply(pool: &Value, changes: &[Change]) -> Result<Changed, ChangesError> {
    let mut draft = Draft::new(pool)?;
    let mut problems = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        draft.apply(&format!("changes[{i}]"), c, &mut problems);
    }
    draft.finish(problems, changes.to_vec())
}

/// Reads a change file and applies it to `pool` in one pass, so that every
/// problem of every change is reported at once: what a change says, and
/// what it refers to.
pub fn apply_text(pool: &Value, changes: &str) -> Result<Changed, ChangesError> {
    let mut draft = Draft::new(pool)?;
    let v = parse_json(changes)?;
    let mut cx = Cx::default();
    let mut problems = Vec::new();
    let mut read = Vec::new();
    if let Some(items) = list(&mut cx, &v) {
        for (i, item) in items.iter().enumerate() {
            let path = format!("changes[{i}]");
            if let Some(c) = read_change(&mut cx, &path, item) {
                problems.append(&mut cx.problems);
                draft.apply(&path, &c, &mut problems);
                read.push(c);
            } else {
                problems.append(&mut cx.problems);
            }
        }
    }
    problems.append(&mut cx.problems);
    draft.finish(problems, read)
}

/// Duplicate keys are an error, as in a pool file ([`crate::strict`]).
fn parse_json(text: &str) -> Result<Value, ChangesError> {
    crate::strict::parse_json(text, "").map_err(ChangesError::new)
}

fn list<'a>(cx: &mut Cx, v: &'a Value) -> Option<&'a Vec<Value>> {
    let items = v.as_array();
    if items.is_none() {
        cx.err(
            "",
            format!("expected a list of changes, found {}", load::kind(v)),
        );
    }
    items
}

// ---------------------------------------------------------------------------
// Reading one change

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    AddHost,
    RemoveHost,
    ResizeHost,
    Maintenance,
    SetHostState,
    AddVm,
    RemoveVm,
    ResizeVm,
    SetPriority,
    SetRestart,
    SetTolerance,
}

const OPS: &[(&str, Op)] = &[
    ("add_host", Op::AddHost),
    ("remove_host", Op::RemoveHost),
    ("resize_host", Op::ResizeHost),
    ("maintenance", Op::Maintenance),
    ("set_host_state", Op::SetHostState),
    ("add_vm", Op::AddVm),
    ("remove_vm", Op::RemoveVm),
    ("resize_vm", Op::ResizeVm),
    ("set_priority", Op::SetPriority),
    ("set_restart", Op::SetRestart),
    ("set_tolerance", Op::SetTolerance),
];

impl Op {
    /// The fields a change of this kind may have.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Op::AddHost => &["op", "host"],
            Op::RemoveHost => &["op", "name", "vms", "to"],
            Op::ResizeHost => &["op", "name", "capacity", "reserved"],
            Op::Maintenance | Op::RemoveVm => &["op", "name"],
            Op::SetHostState => &["op", "name", "state"],
            Op::AddVm => &["op", "vm"],
            Op::ResizeVm => &["op", "name", "demand"],
            Op::SetPriority => &["op", "name", "priority"],
            Op::SetRestart => &["op", "name", "restart"],
            Op::SetTolerance => &["op", "k"],
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum VmsMode {
    Remove,
    Move,
}

fn required<'a>(
    cx: &mut Cx,
    map: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Option<&'a Value> {
    let v = map.get(key);
    if v.is_none() {
        cx.err(
            &format!("{path}.{key}"),
            format!("missing required field \"{key}\""),
        );
    }
    v
}

/// One change object, or `None` with its problems in `cx`.
fn read_change(cx: &mut Cx, path: &str, v: &Value) -> Option<Change> {
    let Some(map) = v.as_object() else {
        cx.err(
            path,
            format!("expected a change object, found {}", load::kind(v)),
        );
        return None;
    };
    let op = required(cx, map, path, "op")?;
    let op = cx.enumeration(&format!("{path}.op"), op, OPS)?;
    let before = cx.count();
    cx.object(path, v, op.fields());
    let p = |key: &str| format!("{path}.{key}");
    let name = |cx: &mut Cx| -> Option<String> {
        let v = required(cx, map, path, "name")?;
        cx.name(&p("name"), v)
    };
    let change = match op {
        Op::AddHost => {
            let host = required(cx, map, path, "host");
            if let Some(h) = host {
                load::check_host(cx, &p("host"), h);
            }
            Change::AddHost {
                host: host?.clone(),
            }
        }
        Op::AddVm => {
            let vm = required(cx, map, path, "vm");
            if let Some(v) = vm {
                load::check_vm(cx, &p("vm"), v);
            }
            Change::AddVm { vm: vm?.clone() }
        }
        Op::RemoveHost => {
            let name = name(cx);
            let mode = match map.get("vms") {
                None => None,
                Some(x) => Some(cx.enumeration(
                    &p("vms"),
                    x,
                    &[("remove", VmsMode::Remove), ("move", VmsMode::Move)],
                )?),
            };
            let vms = match (mode, map.get("to")) {
                (None, None) => HostVms::Refuse,
                (Some(VmsMode::Remove), None) => HostVms::Remove,
                (Some(VmsMode::Move), Some(to)) => HostVms::MoveTo(cx.name(&p("to"), to)?),
                (Some(VmsMode::Move), None) => {
                    cx.err(
                        &p("to"),
                        "missing required field \"to\" (the host the VMs move to)",
                    );
                    return None;
                }
                (_, Some(_)) => {
                    cx.err(&p("to"), "only with \"vms\": \"move\"");
                    return None;
                }
            };
            Change::RemoveHost { name: name?, vms }
        }
        Op::ResizeHost => {
            let name = name(cx);
            let capacity = map.get("capacity").map(|x| cx.amounts(&p("capacity"), x));
            let reserved = map.get("reserved").map(|x| cx.amounts(&p("reserved"), x));
            if capacity.is_none() && reserved.is_none() {
                cx.err(
                    path,
                    "a resize_host needs \"capacity\", \"reserved\" or both",
                );
            }
            Change::ResizeHost {
                name: name?,
                capacity: capacity.flatten().unwrap_or_default(),
                reserved: reserved.flatten().unwrap_or_default(),
            }
        }
        Op::Maintenance => Change::SetHostState {
            name: name(cx)?,
            state: HostState::Maintenance,
        },
        Op::SetHostState => {
            let name = name(cx);
            let state = required(cx, map, path, "state")
                .and_then(|x| cx.enumeration(&p("state"), x, load::HOST_STATES));
            Change::SetHostState {
                name: name?,
                state: state?,
            }
        }
        Op::RemoveVm => Change::RemoveVm { name: name(cx)? },
        Op::ResizeVm => {
            let name = name(cx);
            let demand =
                required(cx, map, path, "demand").and_then(|x| cx.amounts(&p("demand"), x));
            Change::ResizeVm {
                name: name?,
                demand: demand?,
            }
        }
        Op::SetPriority => {
            let name = name(cx);
            let priority = required(cx, map, path, "priority")
                .and_then(|x| load::read_priority(cx, &p("priority"), x));
            Change::SetPriority {
                name: name?,
                priority: priority?,
            }
        }
        Op::SetRestart => {
            let name = name(cx);
            let restart = required(cx, map, path, "restart")
                .and_then(|x| cx.enumeration(&p("restart"), x, load::RESTARTS));
            Change::SetRestart {
                name: name?,
                restart: restart?,
            }
        }
        Op::SetTolerance => {
            let k = required(cx, map, path, "k")
                .and_then(|x| cx.integer(&p("k"), x, load::MAX_SETTING));
            Change::SetTolerance { k: k? as u32 }
        }
    };
    (cx.count() == before).then_some(change)
}

// ---------------------------------------------------------------------------
// Applying changes

/// The pool file being changed.
struct Draft {
    root: Map<String, Value>,
}

fn name_of(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

fn problem(path: String, message: String) -> Problem {
    Problem {
        path,
        message,
        line: None,
        column: None,
    }
}

/// Sets the amounts of `amounts` in the object `key` of `obj`, creating it.
fn merge_amounts(obj: &mut Value, key: &str, amounts: &BTreeMap<String, i64>) {
    if amounts.is_empty() {
        return;
    }
    let Some(obj) = obj.as_object_mut() else {
        return;
    };
    let slot = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    let map = slot.as_object_mut().expect("an object");
    for (r, &n) in amounts {
        map.insert(r.clone(), Value::from(n));
    }
}

impl Draft {
    fn new(pool: &Value) -> Result<Draft, ChangesError> {
        if let Err(e) = crate::load::pool_from_value(pool) {
            return Err(ChangesError::new(e.problems));
        }
        let root = pool.as_object().expect("a valid pool is an object").clone();
        Ok(Draft { root })
    }

    fn list(&mut self, key: &str) -> &mut Vec<Value> {
        match self.root.get_mut(key) {
            Some(Value::Array(a)) => a,
            _ => unreachable!("a valid pool has a {key} list"),
        }
    }

    fn host(&mut self, name: &str) -> Option<usize> {
        self.list("hosts")
            .iter()
            .position(|h| name_of(h) == Some(name))
    }

    fn vm(&mut self, name: &str) -> Option<usize> {
        self.list("vms")
            .iter()
            .position(|v| name_of(v) == Some(name))
    }

    /// Removes `vms[v]`, and its name from every `vm_groups` entry.
    fn remove_vm(&mut self, v: usize) {
        let vm = self.list("vms").remove(v);
        let Some(name) = name_of(&vm) else { return };
        if let Some(Value::Array(groups)) = self.root.get_mut("vm_groups") {
            for g in groups {
                if let Some(Value::Array(members)) = g.get_mut("vms") {
                    members.retain(|m| m.as_str() != Some(name));
                }
            }
        }
    }

    /// Applies one change at `path`, or records why it cannot apply.
    fn apply(&mut self, path: &str, change: &Change, problems: &mut Vec<Problem>) {
        let mut err = |field: &str, message: String| {
            let p = if field.is_empty() {
                path.to_string()
            } else {
                format!("{path}.{field}")
            };
            problems.push(problem(p, message));
        };
        let unknown_host = |n: &str| format!("unknown host {}", quoted(n));
        let unknown_vm = |n: &str| format!("unknown VM {}", quoted(n));
        match change {
            Change::AddHost { host } => {
                let name = name_of(host).unwrap_or_default().to_string();
                if self.host(&name).is_some() {
                    err(
                        "host.name",
                        format!(
                            "duplicate host name {}: the pool already has it",
                            quoted(&name)
                        ),
                    );
                } else {
                    self.list("hosts").push(host.clone());
                }
            }
            Change::RemoveHost { name, vms } => {
                let Some(h) = self.host(name) else {
                    return err("name", unknown_host(name));
                };
                let on: Vec<usize> = (0..self.list("vms").len())
                    .filter(|&v| {
                        self.list("vms")[v].get("host").and_then(Value::as_str) == Some(name)
                    })
                    .collect();
                match vms {
                    HostVms::Refuse if !on.is_empty() => {
                        let names: Vec<String> = on
                            .iter()
                            .map(|&v| {
                                name_of(&self.list("vms")[v])
                                    .unwrap_or_default()
                                    .to_string()
                            })
                            .collect();
                        return err(
                            "name",
                            format!(
                                "host {} has {} VM{} ({}); say what happens to them: \
                                 \"vms\": \"remove\", or \"vms\": \"move\" with \"to\"",
                                quoted(name),
                                on.len(),
                                if on.len() == 1 { "" } else { "s" },
                                names.join(", ")
                            ),
                        );
                    }
                    HostVms::Refuse => {}
                    HostVms::Remove => {
                        for &v in on.iter().rev() {
                            self.remove_vm(v);
                        }
                    }
                    HostVms::MoveTo(to) => {
                        if to == name {
                            return err("to", format!("{} is the host being removed", quoted(to)));
                        }
                        if self.host(to).is_none() {
                            return err("to", unknown_host(to));
                        }
                        let vms = self.list("vms");
                        for &v in &on {
                            vms[v]["host"] = Value::from(to.as_str());
                        }
                    }
                }
                self.list("hosts").remove(h);
                for vm in self.list("vms") {
                    for key in ["allowed_hosts", "preferred_hosts"] {
                        if let Some(Value::Array(hosts)) = vm.get_mut(key) {
                            hosts.retain(|a| a.as_str() != Some(name));
                        }
                    }
                }
            }
            Change::ResizeHost {
                name,
                capacity,
                reserved,
            } => {
                let Some(h) = self.host(name) else {
                    return err("name", unknown_host(name));
                };
                let host = &mut self.list("hosts")[h];
                merge_amounts(host, "capacity", capacity);
                merge_amounts(host, "reserved", reserved);
            }
            Change::SetHostState { name, state } => {
                let Some(h) = self.host(name) else {
                    return err("name", unknown_host(name));
                };
                self.list("hosts")[h]["state"] = Value::from(state.as_str());
            }
            Change::AddVm { vm } => {
                let name = name_of(vm).unwrap_or_default().to_string();
                let mut ok = true;
                if self.vm(&name).is_some() {
                    err(
                        "vm.name",
                        format!(
                            "duplicate VM name {}: the pool already has it",
                            quoted(&name)
                        ),
                    );
                    ok = false;
                }
                let host = vm.get("host").and_then(Value::as_str).unwrap_or_default();
                if self.host(host).is_none() {
                    err("vm.host", unknown_host(host));
                    ok = false;
                }
                for key in ["allowed_hosts", "preferred_hosts"] {
                    let hosts = vm.get(key).and_then(Value::as_array);
                    for (j, a) in hosts.into_iter().flatten().enumerate() {
                        let a = a.as_str().unwrap_or_default();
                        if self.host(a).is_none() {
                            err(&format!("vm.{key}[{j}]"), unknown_host(a));
                            ok = false;
                        }
                    }
                }
                if ok {
                    self.list("vms").push(vm.clone());
                }
            }
            Change::RemoveVm { name } => match self.vm(name) {
                Some(v) => self.remove_vm(v),
                None => err("name", unknown_vm(name)),
            },
            Change::ResizeVm { name, demand } => match self.vm(name) {
                Some(v) => merge_amounts(&mut self.list("vms")[v], "demand", demand),
                None => err("name", unknown_vm(name)),
            },
            Change::SetPriority { name, priority } => match self.vm(name) {
                Some(v) => {
                    self.list("vms")[v]["priority"] =
                        serde_json::to_value(priority).expect("a priority serializes")
                }
                None => err("name", unknown_vm(name)),
            },
            Change::SetRestart { name, restart } => match self.vm(name) {
                Some(v) => self.list("vms")[v]["restart"] = Value::from(restart.as_str()),
                None => err("name", unknown_vm(name)),
            },
            Change::SetTolerance { k } => {
                let ha = self
                    .root
                    .entry("ha")
                    .or_insert_with(|| Value::Object(Map::new()));
                ha["host_failures_to_tolerate"] = Value::from(*k);
            }
        }
    }

    /// The changed pool, validated as a whole; problems only the whole pool
    /// shows (per-resource totals) say "after the changes".
    fn finish(self, problems: Vec<Problem>, changes: Vec<Change>) -> Result<Changed, ChangesError> {
        if !problems.is_empty() {
            return Err(ChangesError::new(problems));
        }
        let value = Value::Object(self.root);
        match crate::load::pool_from_value(&value) {
            Ok(pool) => Ok(Changed {
                value,
                pool,
                changes,
            }),
            Err(e) => Err(ChangesError::with_omitted(
                e.problems
                    .into_iter()
                    .map(|p| Problem {
                        message: format!("after the changes: {}", p.message),
                        ..p
                    })
                    .collect(),
                e.omitted,
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Describing changes

fn amounts(m: &BTreeMap<String, i64>) -> String {
    let parts: Vec<String> = m.iter().map(|(r, n)| format!("{r} {n}")).collect();
    parts.join(", ")
}

/// A change in words, for the text report: `remove host h4 (its VMs move to h3)`.
impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AddHost { host } => {
                write!(f, "add host {}", name_of(host).unwrap_or_default())
            }
            Change::RemoveHost { name, vms } => {
                write!(f, "remove host {name}")?;
                match vms {
                    HostVms::Refuse => Ok(()),
                    HostVms::Remove => write!(f, " and its VMs"),
                    HostVms::MoveTo(to) => write!(f, " (its VMs move to {to})"),
                }
            }
            Change::ResizeHost {
                name,
                capacity,
                reserved,
            } => {
                write!(f, "resize host {name}:")?;
                if !capacity.is_empty() {
                    write!(f, " capacity {}", amounts(capacity))?;
                }
                if !capacity.is_empty() && !reserved.is_empty() {
                    write!(f, ";")?;
                }
                if !reserved.is_empty() {
                    write!(f, " reserved {}", amounts(reserved))?;
                }
                Ok(())
            }
            Change::SetHostState {
                name,
                state: HostState::Maintenance,
            } => write!(f, "put host {name} in maintenance"),
            Change::SetHostState { name, state } => {
                write!(f, "set host {name} {}", state.as_str())
            }
            Change::AddVm { vm } => write!(
                f,
                "add VM {} on {}",
                name_of(vm).unwrap_or_default(),
                vm.get("host").and_then(Value::as_str).unwrap_or_default()
            ),
            Change::RemoveVm { name } => write!(f, "remove VM {name}"),
            Change::ResizeVm { name, demand } => {
                write!(f, "resize VM {name}: demand {}", amounts(demand))
            }
            Change::SetPriority { name, priority } => {
                write!(f, "set VM {name} priority {}", priority.as_str())
            }
            Change::SetRestart { name, restart } => {
                write!(f, "set VM {name} restart {}", restart.as_str())
            }
            Change::SetTolerance { k } => write!(f, "set host_failures_to_tolerate {k}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pool() -> Value {
        json!({
            "name": "t",
            "ha": { "host_failures_to_tolerate": 1 },
            "hosts": [
                { "name": "h1", "capacity": { "memory_mib": 100 } },
                { "name": "h2", "capacity": { "memory_mib": 100 } },
                { "name": "h3", "capacity": { "memory_mib": 100 } }
            ],
            "vms": [
                { "name": "a", "host": "h1", "demand": { "memory_mib": 40 } },
                { "name": "b", "host": "h2", "demand": { "memory_mib": 40 } },
                { "name": "c", "host": "h3", "demand": { "memory_mib": 40 },
                  "allowed_hosts": ["h1", "h2"] }
            ]
        })
    }

    fn problems(changes: Value) -> Vec<String> {
        match apply_text(&pool(), &changes.to_string()) {
            Ok(_) => panic!("the changes were accepted"),
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn changed(changes: Value) -> Changed {
        apply_text(&pool(), &changes.to_string())
            .unwrap_or_else(|e| panic!("the changes were rejected: {e}"))
    }

    /// `pool()` edited by hand with `edit`, parsed.
    fn edited(edit: impl FnOnce(&mut Value)) -> Pool {
        let mut v = pool();
        edit(&mut v);
        crate::pool_from_value(&v).expect("the hand-edited pool is valid")
    }

    #[test]
    fn every_op_gives_the_pool_a_hand_edit_gives() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Value, Edit)> = vec![
            (
                json!({"op": "add_host", "host": {"name": "h4", "capacity": {"memory_mib": 7}}}),
                Box::new(|v| {
                    v["hosts"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"name": "h4", "capacity": {"memory_mib": 7}}))
                }),
            ),
            (
                json!({"op": "resize_host", "name": "h2", "capacity": {"memory_mib": 150, "vcpus": 8}}),
                Box::new(|v| v["hosts"][1]["capacity"] = json!({"memory_mib": 150, "vcpus": 8})),
            ),
            (
                json!({"op": "resize_host", "name": "h2", "reserved": {"memory_mib": 5}}),
                Box::new(|v| v["hosts"][1]["reserved"] = json!({"memory_mib": 5})),
            ),
            (
                json!({"op": "maintenance", "name": "h3"}),
                Box::new(|v| v["hosts"][2]["state"] = json!("maintenance")),
            ),
            (
                json!({"op": "set_host_state", "name": "h3", "state": "down"}),
                Box::new(|v| v["hosts"][2]["state"] = json!("down")),
            ),
            (
                json!({"op": "add_vm", "vm": {"name": "d", "host": "h3", "demand": {"memory_mib": 1}}}),
                Box::new(|v| {
                    v["vms"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"name": "d", "host": "h3", "demand": {"memory_mib": 1}}))
                }),
            ),
            (
                json!({"op": "remove_vm", "name": "b"}),
                Box::new(|v| {
                    v["vms"].as_array_mut().unwrap().remove(1);
                }),
            ),
            (
                json!({"op": "resize_vm", "name": "a", "demand": {"memory_mib": 55}}),
                Box::new(|v| v["vms"][0]["demand"]["memory_mib"] = json!(55)),
            ),
            (
                json!({"op": "set_priority", "name": "a", "priority": "critical"}),
                Box::new(|v| v["vms"][0]["priority"] = json!("critical")),
            ),
            (
                json!({"op": "set_restart", "name": "c", "restart": "best_effort"}),
                Box::new(|v| v["vms"][2]["restart"] = json!("best_effort")),
            ),
            (
                json!({"op": "set_tolerance", "k": 2}),
                Box::new(|v| v["ha"]["host_failures_to_tolerate"] = json!(2)),
            ),
            (
                json!({"op": "remove_host", "name": "h2", "vms": "remove"}),
                Box::new(|v| {
                    v["hosts"].as_array_mut().unwrap().remove(1);
                    v["vms"].as_array_mut().unwrap().remove(1);
                    v["vms"][1]["allowed_hosts"] = json!(["h1"]);
                }),
            ),
            (
                json!({"op": "remove_host", "name": "h2", "vms": "move", "to": "h3"}),
                Box::new(|v| {
                    v["hosts"].as_array_mut().unwrap().remove(1);
                    v["vms"][1]["host"] = json!("h3");
                    v["vms"][2]["allowed_hosts"] = json!(["h1"]);
                }),
            ),
        ];
        for (change, edit) in cases {
            let got = changed(json!([change.clone()]));
            assert_eq!(got.pool, edited(edit), "{change}");
            assert_eq!(got.changes.len(), 1);
        }
    }

    #[test]
    fn changes_apply_in_order() {
        let got = changed(json!([
            {"op": "add_host", "host": {"name": "h4", "capacity": {"memory_mib": 100}}},
            {"op": "add_vm", "vm": {"name": "d", "host": "h4", "demand": {"memory_mib": 10}}},
            {"op": "resize_vm", "name": "d", "demand": {"memory_mib": 20}},
        ]));
        let d = got.pool.vm_by_name("d").unwrap();
        assert_eq!(got.pool.vms[d].host, got.pool.host_by_name("h4").unwrap());
        assert_eq!(got.pool.vms[d].demand, vec![20]);
        assert_eq!(
            problems(json!([
                {"op": "remove_vm", "name": "a"},
                {"op": "set_priority", "name": "a", "priority": "low"},
            ])),
            vec!["changes[1].name: unknown VM \"a\""]
        );
    }

    #[test]
    fn removing_a_host_with_vms_needs_to_say_where_they_go() {
        assert_eq!(
            problems(json!([{"op": "remove_host", "name": "h1"}])),
            vec![
                "changes[0].name: host \"h1\" has 1 VM (a); say what happens to them: \
                 \"vms\": \"remove\", or \"vms\": \"move\" with \"to\""
            ]
        );
        assert_eq!(
            problems(json!([
                {"op": "remove_host", "name": "h1", "vms": "move", "to": "h1"},
                {"op": "remove_host", "name": "h2", "vms": "move", "to": "h9"},
                {"op": "remove_host", "name": "h3", "vms": "move"},
                {"op": "remove_host", "name": "h3", "to": "h1"},
            ])),
            vec![
                "changes[0].to: \"h1\" is the host being removed",
                "changes[1].to: unknown host \"h9\"",
                "changes[2].to: missing required field \"to\" (the host the VMs move to)",
                "changes[3].to: only with \"vms\": \"move\"",
            ]
        );
        // An empty host needs nothing.
        let got = changed(json!([
            {"op": "remove_vm", "name": "a"},
            {"op": "remove_host", "name": "h1"},
        ]));
        assert_eq!(got.pool.hosts.len(), 2);
        // c was allowed on h1 and h2: now on h2 only.
        let c = got.pool.vm_by_name("c").unwrap();
        assert_eq!(
            got.pool.vms[c].allowed_hosts,
            Some(vec![got.pool.host_by_name("h2").unwrap()])
        );
    }

    #[test]
    fn every_problem_is_reported_where_it_is_written() {
        let got = problems(json!([
            {"op": "explode"},
            {"op": "remove_vm", "name": "a", "force": true},
            {"name": "a"},
            {"op": "resize_host", "name": "h1", "capacity": {"memory_mib": -1}},
            {"op": "set_priority", "name": "zz", "priority": "urgent"},
            {"op": "add_host", "host": {"name": "h1", "capacity": {"memory_mib": 1}}},
            {"op": "add_vm", "vm": {"name": "a", "host": "h9", "demand": {}, "allowed_hosts": ["h2", "h8"]}},
            {"op": "resize_host", "name": "h1"},
            {"op": "set_tolerance", "k": 1.5},
            {"op": "add_host", "host": {"capacity": {}}},
            "remove everything",
            {"op": "remove_vm", "name": "nope"},
        ]));
        assert_eq!(
            got,
            vec![
                "changes[0].op: unknown value \"explode\"; expected one of: \"add_host\", \
                 \"remove_host\", \"resize_host\", \"maintenance\", \"set_host_state\", \
                 \"add_vm\", \"remove_vm\", \"resize_vm\", \"set_priority\", \"set_restart\", \
                 \"set_tolerance\"",
                "changes[1].force: unknown field \"force\"; expected one of: op, name",
                "changes[2].op: missing required field \"op\"",
                "changes[3].capacity.memory_mib: must not be negative, found -1",
                "changes[4].priority: unknown value \"urgent\"; expected one of: \"critical\", \
                 \"high\", \"medium\", \"low\", or an integer",
                "changes[5].host.name: duplicate host name \"h1\": the pool already has it",
                "changes[6].vm.name: duplicate VM name \"a\": the pool already has it",
                "changes[6].vm.host: unknown host \"h9\"",
                "changes[6].vm.allowed_hosts[1]: unknown host \"h8\"",
                "changes[7]: a resize_host needs \"capacity\", \"reserved\" or both",
                "changes[8].k: must be an integer, found 1.5",
                "changes[9].host.name: missing required field \"name\"",
                "changes[10]: expected a change object, found a string",
                "changes[11].name: unknown VM \"nope\"",
            ]
        );
    }

    #[test]
    fn nothing_is_half_applied_and_whole_pool_rules_still_hold() {
        // One bad change among good ones: an error, no pool.
        assert!(
            apply_text(
                &pool(),
                r#"[{"op": "set_tolerance", "k": 2}, {"op": "remove_vm", "name": "x"}]"#
            )
            .is_err()
        );
        // A total no single amount shows.
        let big = 1i64 << 40;
        let hosts: Vec<Value> = (0..4100)
            .map(|i| {
                json!({"op": "add_host", "host": {"name": format!("x{i}"), "capacity": {"memory_mib": big}}})
            })
            .collect();
        let got = problems(Value::Array(hosts));
        assert_eq!(
            got,
            vec![
                "hosts: after the changes: the hosts' total memory_mib (after overcommit) \
                 exceeds 4503599627370496, the most this version handles"
            ]
        );
    }

    #[test]
    fn syntax_errors_and_non_lists() {
        let e = apply_text(&pool(), "[{\"op\": }]").unwrap_err();
        assert_eq!(e.problems.len(), 1);
        assert_eq!(e.problems[0].line, Some(1));
        assert!(e.problems[0].message.starts_with("invalid JSON: "));
        assert_eq!(
            problems(json!({"op": "remove_vm", "name": "a"})),
            vec!["expected a list of changes, found an object"]
        );
        assert_eq!(apply_text(&pool(), "[]").unwrap().pool, edited(|_| {}));
    }

    #[test]
    fn typed_changes_read_and_apply_like_the_text() {
        let text = r#"[{"op": "maintenance", "name": "h2"}, {"op": "set_tolerance", "k": 0}]"#;
        let changes = parse_changes(text).unwrap();
        assert_eq!(
            changes,
            vec![
                Change::SetHostState {
                    name: "h2".into(),
                    state: HostState::Maintenance
                },
                Change::SetTolerance { k: 0 },
            ]
        );
        let a = apply(&pool(), &changes).unwrap();
        let b = apply_text(&pool(), text).unwrap();
        assert_eq!(a.pool, b.pool);
        assert_eq!(a.value, b.value);
        assert_eq!(
            changes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            vec![
                "put host h2 in maintenance",
                "set host_failures_to_tolerate 0"
            ]
        );
        // A bad pool is its own error.
        let e = apply(&json!({"name": "x", "hosts": 3, "vms": []}), &changes).unwrap_err();
        assert_eq!(e.problems[0].path, "hosts");
    }

    #[test]
    fn what_if_checks_both_pools() {
        // Three 100 MiB hosts with a 40 MiB VM each, 60 spare each: one
        // failure puts 40 on a survivor (ok); two put 80 on the last one
        // (not). At 200 MiB each host has 160 spare, so two failures fit
        // (c, allowed on h1 and h2, then goes to whichever survives).
        let before = crate::pool_from_value(&pool()).unwrap();
        let after = changed(json!([
            {"op": "resize_host", "name": "h1", "capacity": {"memory_mib": 200}},
            {"op": "resize_host", "name": "h2", "capacity": {"memory_mib": 200}},
            {"op": "resize_host", "name": "h3", "capacity": {"memory_mib": 200}},
            {"op": "set_tolerance", "k": 2},
        ]));
        let r = what_if(&before, &after.pool, &CheckOptions::default());
        assert_eq!((r.before.max_tolerable, r.before.configured), (1, 1));
        assert_eq!((r.after.max_tolerable, r.after.configured), (2, 2));
        assert_eq!(r.verdict(), Verdict::Ok);
        // --tolerate applies to both.
        let opts = CheckOptions {
            tolerate: Some(3),
            ..CheckOptions::default()
        };
        let r = what_if(&before, &after.pool, &opts);
        assert_eq!((r.before.configured, r.after.configured), (3, 3));
        assert_eq!(r.verdict(), Verdict::NotOk);
    }
}
