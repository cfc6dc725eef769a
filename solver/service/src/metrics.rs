//! The Prometheus endpoint: `GET /metrics` in the OpenMetrics text format
//! (the `prometheus-client` crate), served by `tiny_http` on the address
//! given to `haplan run --metrics`. Names follow the pacemaker
//! `ha_cluster_exporter` (`ha_cluster_<subsystem>_<what>`):
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `ha_cluster_haplan_host_failures_tolerated` | gauge | the exact tolerance now |
//! | `ha_cluster_haplan_host_failures_to_tolerate` | gauge | the configured k |
//! | `ha_cluster_haplan_overcommitted` | gauge | 1 when k is not guaranteed |
//! | `ha_cluster_haplan_isolated` | gauge | 1 while the runtime takes itself for the isolated side |
//! | `ha_cluster_haplan_hosts{host,status}` | gauge | 1 per host, its status |
//! | `ha_cluster_haplan_vms{vm,host,phase}` | gauge | 1 per VM, where the record has it and its phase |
//! | `ha_cluster_haplan_alerts_total{type}` | counter | alerts raised |
//! | `ha_cluster_haplan_fences_total{host,result}` | counter | fence results (`off`, `failed`) |
//! | `ha_cluster_haplan_restarts_total{result}` | counter | VM starts (`ok`, `failed`, `in_doubt`) |
//! | `ha_cluster_haplan_fence_duration_seconds` | histogram | host declared down to confirmed off |
//! | `ha_cluster_haplan_recovery_duration_seconds` | histogram | host declared down to all its protected VMs running elsewhere |

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use haplan::model::Restart;
use haplan_runtime::{Alert, Event, Input, Millis, Note, Output, Runtime};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabels {
    host: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VmLabels {
    vm: String,
    host: String,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FenceLabels {
    host: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

/// The runtime's metrics, updated after every step.
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    tolerated: Gauge,
    configured: Gauge,
    overcommitted: Gauge,
    isolated: Gauge,
    hosts: Family<HostLabels, Gauge>,
    vms: Family<VmLabels, Gauge>,
    alerts: Family<TypeLabel, Counter>,
    fences: Family<FenceLabels, Counter>,
    restarts: Family<ResultLabel, Counter>,
    fence_time: Histogram,
    recovery_time: Histogram,
    /// Hosts declared down: when, and their protected VMs not running yet.
    down: BTreeMap<String, (Millis, BTreeSet<String>)>,
    fencing_since: BTreeMap<String, Millis>,
}

fn buckets() -> impl Iterator<Item = f64> {
    [
        0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    ]
    .into_iter()
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric registered, at zero.
    pub fn new() -> Metrics {
        let mut r = Registry::default();
        let m = Metrics {
            registry: Arc::new(Mutex::new(Registry::default())),
            tolerated: Gauge::default(),
            configured: Gauge::default(),
            overcommitted: Gauge::default(),
            isolated: Gauge::default(),
            hosts: Family::default(),
            vms: Family::default(),
            alerts: Family::default(),
            fences: Family::default(),
            restarts: Family::default(),
            fence_time: Histogram::new(buckets()),
            recovery_time: Histogram::new(buckets()),
            down: BTreeMap::new(),
            fencing_since: BTreeMap::new(),
        };
        let p = "ha_cluster_haplan_";
        r.register(
            format!("{p}host_failures_tolerated"),
            "Host failures the pool tolerates now (exact)",
            m.tolerated.clone(),
        );
        r.register(
            format!("{p}host_failures_to_tolerate"),
            "Host failures the pool is configured to tolerate (k)",
            m.configured.clone(),
        );
        r.register(
            format!("{p}overcommitted"),
            "1 when the configured k is not guaranteed",
            m.overcommitted.clone(),
        );
        r.register(
            format!("{p}isolated"),
            "1 while fewer than half of the hosts not known off answer the runtime",
            m.isolated.clone(),
        );
        r.register(format!("{p}hosts"), "Hosts by status", m.hosts.clone());
        r.register(format!("{p}vms"), "VMs by host and phase", m.vms.clone());
        r.register(format!("{p}alerts"), "Alerts raised", m.alerts.clone());
        r.register(format!("{p}fences"), "Fence results", m.fences.clone());
        r.register(format!("{p}restarts"), "VM starts", m.restarts.clone());
        r.register(
            format!("{p}fence_duration_seconds"),
            "From a host declared down to confirmed off",
            m.fence_time.clone(),
        );
        r.register(
            format!("{p}recovery_duration_seconds"),
            "From a host declared down to all its protected VMs running elsewhere",
            m.recovery_time.clone(),
        );
        *m.registry.lock().expect("not poisoned") = r;
        m
    }

    /// The text a scrape gets.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        let r = self.registry.lock().expect("not poisoned");
        let _ = prometheus_client::encoding::text::encode(&mut s, &r);
        s
    }

    /// Takes one step of the runtime (`rt` as it is after it).
    pub fn observe(&mut self, input: &Input, out: &Output, rt: &Runtime) {
        let now = input.at;
        if let Some((k, max)) = rt.tolerance() {
            self.configured.set(i64::from(k));
            self.tolerated.set(i64::from(max));
            self.overcommitted.set(i64::from(max < k));
        }
        self.isolated.set(i64::from(rt.isolated()));
        self.hosts.clear();
        for (host, status) in rt.host_statuses() {
            self.hosts
                .get_or_create(&HostLabels {
                    host,
                    status: status.to_string(),
                })
                .set(1);
        }
        self.vms.clear();
        let phases = rt.vm_phases();
        for vm in &rt.pool().vms {
            self.vms
                .get_or_create(&VmLabels {
                    vm: vm.name.clone(),
                    host: rt.pool().hosts[vm.host].name.clone(),
                    phase: phases
                        .get(&vm.name)
                        .copied()
                        .unwrap_or("steady")
                        .to_string(),
                })
                .set(1);
        }
        for a in &out.alerts {
            let t = serde_json::to_value(a)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                .unwrap_or_default();
            self.alerts.get_or_create(&TypeLabel { r#type: t }).inc();
            if let Alert::FencingFailed { host, .. } = a {
                self.fences
                    .get_or_create(&FenceLabels {
                        host: host.clone(),
                        result: "failed".into(),
                    })
                    .inc();
            }
        }
        if let Event::VmStartResult { ok, in_doubt, .. } = &input.event {
            let result = match (ok, in_doubt) {
                (true, _) => "ok",
                (false, true) => "in_doubt",
                (false, false) => "failed",
            };
            self.restarts
                .get_or_create(&ResultLabel {
                    result: result.into(),
                })
                .inc();
        }
        for n in &out.notes {
            match n {
                Note::HostDeclaredDown { host, .. } => {
                    let h = rt.pool().host_by_name(host);
                    let vms = rt
                        .pool()
                        .vms
                        .iter()
                        .filter(|v| Some(v.host) == h && v.restart == Restart::Protected)
                        .filter(|v| v.power.is_active())
                        .map(|v| v.name.clone())
                        .collect();
                    self.down.insert(host.clone(), (now, vms));
                    self.fencing_since.insert(host.clone(), now);
                }
                Note::HostFenced { host, .. } => {
                    self.fences
                        .get_or_create(&FenceLabels {
                            host: host.clone(),
                            result: "off".into(),
                        })
                        .inc();
                    if let Some(t) = self.fencing_since.remove(host) {
                        self.fence_time
                            .observe(now.saturating_sub(t) as f64 / 1000.0);
                    }
                }
                Note::HostUp { host } => {
                    self.down.remove(host);
                    self.fencing_since.remove(host);
                }
                _ => {}
            }
        }
        if !self.down.is_empty() {
            let running = rt.placement();
            let done: Vec<String> = self
                .down
                .iter()
                .filter(|(_, (_, vms))| vms.iter().all(|v| running.contains_key(v)))
                .map(|(h, _)| h.clone())
                .collect();
            for h in done {
                if let Some((t, vms)) = self.down.remove(&h)
                    && !vms.is_empty()
                {
                    self.recovery_time
                        .observe(now.saturating_sub(t) as f64 / 1000.0);
                }
            }
        }
    }
}

/// Serves `metrics` at `http://ADDR/metrics` on a thread of its own.
pub fn serve(addr: &str, metrics: Arc<Mutex<Metrics>>) -> Result<(), String> {
    let server = tiny_http::Server::http(addr).map_err(|e| format!("--metrics {addr}: {e}"))?;
    std::thread::spawn(move || {
        for req in server.incoming_requests() {
            let response = if req.url() == "/metrics" {
                let body = metrics.lock().map(|m| m.encode()).unwrap_or_default();
                let ct = tiny_http::Header::from_bytes(
                    &b"Content-Type"[..],
                    &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
                )
                .expect("a valid header");
                tiny_http::Response::from_string(body).with_header(ct)
            } else {
                tiny_http::Response::from_string("see /metrics\n").with_status_code(404)
            };
            let _ = req.respond(response);
        }
    });
    Ok(())
}
