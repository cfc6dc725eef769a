//! Fencing parameters (BMC addresses, user names, passwords) kept out of
//! everything the runtime writes down or shows: the log, its snapshots,
//! the state it exports. The runtime itself keeps them, since its drivers
//! need them to fence.

use serde_json::Value;

use crate::{Event, Input};

/// Replaces every fencing parameter's value in a pool file by `"***"`, and
/// in a host object (`hosts[]` entry) when given one.
pub fn redact_pool(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(hosts) = doc.get_mut("hosts").and_then(Value::as_array_mut) {
        for h in hosts {
            redact_host(h);
        }
    }
    doc
}

fn redact_host(h: &mut Value) {
    if let Some(levels) = h.get_mut("fencing").and_then(Value::as_array_mut) {
        for l in levels {
            if let Some(params) = l.get_mut("params").and_then(Value::as_object_mut) {
                for v in params.values_mut() {
                    *v = Value::String("***".into());
                }
            }
        }
    }
}

/// An input as it may be written down: a new host's fencing parameters
/// redacted.
pub fn redact_input(input: &Input) -> Input {
    let mut input = input.clone();
    if let Event::HostAdded { host } = &mut input.event {
        redact_host(host);
    }
    input
}
