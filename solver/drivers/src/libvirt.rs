//! libvirt hosts, through the `virt` crate (the C library's own bindings).
//!
//! A [`LibvirtHost`] is one long-lived connection to one host's libvirt
//! daemon. Every call runs on a short-lived worker thread and the caller
//! waits for it at most a time limit ([`ConnectOptions::call_timeout`], or
//! the probe's own): a host that stops answering can make the caller wait no
//! longer than that, whatever libvirt does. A call that timed out may still
//! complete later on the host (its outcome is unknown: a timed-out `start`
//! may have started the domain).
//!
//! Dead connections are noticed by libvirt's keepalive (the first
//! [`LibvirtHost::open`] starts libvirt's event loop on a background thread
//! of its own for that, once per process), which also ends any call still
//! stuck on it. The next call after a connection died opens a new one; only
//! one reopening runs at a time, and calls meanwhile fail with
//! [`LibvirtError::Reconnecting`].
//!
//! **Thread safety.** `LibvirtHost` is `Send + Sync` and cheap to clone (the
//! clones share the connection); libvirt connections accept concurrent calls
//! from several threads, so calls on one host may overlap.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use virt::connect::Connect;
use virt::domain::{Domain, DomainState as VirtState};
use virt::error::ErrorNumber;

/// How a host is talked to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The longest any call but [`LibvirtHost::probe`] may take, opening a
    /// connection included.
    pub call_timeout: Duration,
    /// libvirt keepalive: a message every `interval` seconds; the connection
    /// is declared dead after `count` unanswered ones. `None`: no keepalive.
    pub keepalive: Option<(u32, u32)>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            call_timeout: Duration::from_secs(30),
            keepalive: Some((5, 3)),
        }
    }
}

/// Why a libvirt call did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LibvirtError {
    #[error("{uri}: cannot connect: {message}")]
    Connect { uri: String, message: String },
    #[error("{uri}: {op} did not answer within {after:?}")]
    Timeout {
        uri: String,
        op: &'static str,
        after: Duration,
    },
    #[error("{uri}: connection lost: {message}")]
    Disconnected { uri: String, message: String },
    #[error("{uri}: the connection is being reopened")]
    Reconnecting { uri: String },
    #[error("{uri}: no domain {name:?}")]
    NoDomain { uri: String, name: String },
    #[error("{uri}: {op}: {message}")]
    Libvirt {
        uri: String,
        op: &'static str,
        /// libvirt's error number (`virErrorNumber`), as its name.
        code: String,
        message: String,
    },
    #[error("{what} may not contain a NUL character")]
    InvalidText { what: &'static str },
    #[error("cannot start a worker thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("{uri}: {op}: the call failed unexpectedly")]
    Internal { uri: String, op: &'static str },
}

impl LibvirtError {
    /// Whether the error says the host could not be reached or did not
    /// answer, as opposed to refusing or failing a request it received.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            LibvirtError::Connect { .. }
                | LibvirtError::Timeout { .. }
                | LibvirtError::Disconnected { .. }
                | LibvirtError::Reconnecting { .. }
        )
    }
}

/// A domain's state as libvirt reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DomainState {
    Running,
    /// Running, blocked on a resource.
    Blocked,
    Paused,
    /// Running, shutting down.
    ShuttingDown,
    Shutoff,
    Crashed,
    /// Suspended by guest power management.
    PmSuspended,
    NoState,
}

impl DomainState {
    fn from_virt(s: virt::domain::DomainStateEnum) -> Self {
        match s.unwrap_or(VirtState::NoState) {
            VirtState::Running => DomainState::Running,
            VirtState::Blocked => DomainState::Blocked,
            VirtState::Paused => DomainState::Paused,
            VirtState::Shutdown => DomainState::ShuttingDown,
            VirtState::Shutoff => DomainState::Shutoff,
            VirtState::Crashed => DomainState::Crashed,
            VirtState::PMSuspended => DomainState::PmSuspended,
            VirtState::NoState => DomainState::NoState,
        }
    }

    /// The pool file's `power` for a domain in this state: `"running"`,
    /// `"paused"` (both hold resources) or `"halted"`. A domain whose state
    /// libvirt does not know counts as running: it may hold its resources.
    pub fn pool_power(self) -> &'static str {
        match self {
            DomainState::Running
            | DomainState::Blocked
            | DomainState::ShuttingDown
            | DomainState::NoState => "running",
            DomainState::Paused | DomainState::PmSuspended => "paused",
            DomainState::Shutoff | DomainState::Crashed => "halted",
        }
    }

    /// Whether the domain is running or paused (it holds its resources).
    pub fn is_active(self) -> bool {
        self.pool_power() != "halted"
    }
}

/// One domain, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainInfo {
    pub name: String,
    pub uuid: String,
    pub state: DomainState,
    /// The domain's maximum memory, rounded up to whole MiB: what it gets
    /// when it starts.
    pub memory_mib: u64,
    pub vcpus: u32,
    /// Defined (kept when stopped), as opposed to transient.
    pub persistent: bool,
}

/// A host's size, from libvirt's node info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub memory_mib: u64,
    pub cpus: u32,
    pub cpu_model: String,
}

/// A storage pool of a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoragePoolInfo {
    pub name: String,
    pub active: bool,
    /// `<target><path>`, when the pool has one.
    pub target_path: Option<String>,
    /// The paths of its volumes (active pools only).
    pub volume_paths: Vec<String>,
}

/// Everything the importer reads from a host, read in one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    pub node: NodeInfo,
    /// Every domain with its persistent XML (its live XML if transient).
    pub domains: Vec<(DomainInfo, String)>,
    pub storage_pools: Vec<StoragePoolInfo>,
    /// Active virtual networks.
    pub networks: Vec<String>,
    /// Active host interfaces (bridges among them).
    pub interfaces: Vec<String>,
}

/// One connection to one host's libvirt daemon. See the module docs.
#[derive(Clone)]
pub struct LibvirtHost {
    inner: Arc<Inner>,
}

struct Inner {
    uri: String,
    options: ConnectOptions,
    conn: Mutex<Option<Connect>>,
    reconnecting: AtomicBool,
}

impl fmt::Debug for LibvirtHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LibvirtHost")
            .field("uri", &self.inner.uri)
            .finish_non_exhaustive()
    }
}

static INIT: Once = Once::new();

/// libvirt's event loop (needed by keepalive), and no printing of errors on
/// stderr: they are returned.
fn init_libvirt() {
    INIT.call_once(|| {
        virt::error::clear_error_callback();
        if virt::event::event_register_default_impl().is_ok() {
            let _ = thread::Builder::new()
                .name("libvirt-events".into())
                .spawn(|| {
                    loop {
                        if virt::event::event_run_default_impl().is_err() {
                            thread::sleep(Duration::from_millis(50));
                        }
                    }
                });
        }
    });
}

fn no_nul(what: &'static str, s: &str) -> Result<(), LibvirtError> {
    if s.contains('\0') {
        Err(LibvirtError::InvalidText { what })
    } else {
        Ok(())
    }
}

impl Inner {
    fn error(&self, op: &'static str, e: virt::error::Error) -> LibvirtError {
        let code = e.code();
        let message = e.message().to_string();
        if code.is(ErrorNumber::NoConnect) {
            return LibvirtError::Disconnected {
                uri: self.uri.clone(),
                message,
            };
        }
        LibvirtError::Libvirt {
            uri: self.uri.clone(),
            op,
            code: format!("{code:?}"),
            message,
        }
    }

    fn domain_error(&self, op: &'static str, name: &str, e: virt::error::Error) -> LibvirtError {
        if e.code().is(ErrorNumber::NoDomain) {
            LibvirtError::NoDomain {
                uri: self.uri.clone(),
                name: name.to_string(),
            }
        } else {
            self.error(op, e)
        }
    }

    /// The live connection, reopened if it died.
    fn connection(&self) -> Result<Connect, LibvirtError> {
        {
            let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = guard.as_ref() {
                if c.is_alive().unwrap_or(false) {
                    return Ok(c.clone());
                }
                // Dead: let it go (closing a dead connection does not block).
                guard.take();
            }
        }
        if self.reconnecting.swap(true, Ordering::AcqRel) {
            return Err(LibvirtError::Reconnecting {
                uri: self.uri.clone(),
            });
        }
        let opened = self.open_now();
        self.reconnecting.store(false, Ordering::Release);
        let conn = opened?;
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        *guard = Some(conn.clone());
        Ok(conn)
    }

    fn open_now(&self) -> Result<Connect, LibvirtError> {
        let conn = Connect::open(Some(&self.uri)).map_err(|e| LibvirtError::Connect {
            uri: self.uri.clone(),
            message: e.message().to_string(),
        })?;
        if let Some((interval, count)) = self.options.keepalive {
            // Without keepalive only dead-peer detection is lost; the call
            // time limits still hold.
            let _ = conn.set_keep_alive(interval.min(i32::MAX as u32) as i32, count);
        }
        Ok(conn)
    }
}

impl LibvirtHost {
    /// Connects to `uri` (e.g. `qemu+ssh://root@h1/system`,
    /// `test+unix:///default?socket=/run/h1/libvirt-sock`) with the default
    /// options.
    pub fn open(uri: &str) -> Result<Self, LibvirtError> {
        Self::open_with(uri, ConnectOptions::default())
    }

    /// Connects to `uri`, within `options.call_timeout`.
    pub fn open_with(uri: &str, options: ConnectOptions) -> Result<Self, LibvirtError> {
        let host = Self::new(uri, options)?;
        host.call("open", host.inner.options.call_timeout, |_, _| Ok(()))?;
        Ok(host)
    }

    /// A handle to `uri` that connects on its first call: for a host that
    /// may be down when the handle is made (its probes then fail until it
    /// answers). Fails only for a URI with a NUL character.
    pub fn new(uri: &str, options: ConnectOptions) -> Result<Self, LibvirtError> {
        no_nul("a URI", uri)?;
        init_libvirt();
        Ok(LibvirtHost {
            inner: Arc::new(Inner {
                uri: uri.to_string(),
                options,
                conn: Mutex::new(None),
                reconnecting: AtomicBool::new(false),
            }),
        })
    }

    pub fn uri(&self) -> &str {
        &self.inner.uri
    }

    pub fn options(&self) -> &ConnectOptions {
        &self.inner.options
    }

    /// Runs `f` on a worker thread with the live connection, waiting at most
    /// `timeout` for it.
    fn call<T, F>(&self, op: &'static str, timeout: Duration, f: F) -> Result<T, LibvirtError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &Connect) -> Result<T, LibvirtError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let (tx, rx) = mpsc::sync_channel(1);
        thread::Builder::new()
            .name("libvirt-call".into())
            .spawn(move || {
                let result = inner.connection().and_then(|conn| {
                    match f(&inner, &conn) {
                        // Failed because the connection died on the way.
                        Err(LibvirtError::Libvirt { message, .. })
                            if !conn.is_alive().unwrap_or(false) =>
                        {
                            Err(LibvirtError::Disconnected {
                                uri: inner.uri.clone(),
                                message,
                            })
                        }
                        result => result,
                    }
                });
                let _ = tx.send(result);
            })
            .map_err(LibvirtError::Thread)?;
        match rx.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(LibvirtError::Timeout {
                uri: self.inner.uri.clone(),
                op,
                after: timeout,
            }),
            Err(RecvTimeoutError::Disconnected) => Err(LibvirtError::Internal {
                uri: self.inner.uri.clone(),
                op,
            }),
        }
    }

    fn timeout(&self) -> Duration {
        self.inner.options.call_timeout
    }

    /// The health check: one round trip to the daemon within `timeout`
    /// (reopening the connection first if it died). `Ok` is the round
    /// trip's duration; an error for which
    /// [`is_unreachable`](LibvirtError::is_unreachable) holds means the host
    /// did not answer.
    pub fn probe(&self, timeout: Duration) -> Result<Duration, LibvirtError> {
        let started = Instant::now();
        self.call("probe", timeout, |inner, conn| {
            conn.lib_version().map_err(|e| inner.error("probe", e))
        })?;
        Ok(started.elapsed())
    }

    /// The host's memory and CPUs.
    pub fn node_info(&self) -> Result<NodeInfo, LibvirtError> {
        self.call("node info", self.timeout(), |inner, conn| {
            node_info(inner, conn)
        })
    }

    /// Every domain: running, paused, and defined but shut off.
    pub fn domains(&self) -> Result<Vec<DomainInfo>, LibvirtError> {
        self.call("list domains", self.timeout(), |inner, conn| {
            let all = conn
                .list_all_domains(0)
                .map_err(|e| inner.error("list domains", e))?;
            Ok(all.iter().filter_map(|d| domain_info(d).ok()).collect())
        })
    }

    /// The domains that hold resources: running or paused.
    pub fn active_domains(&self) -> Result<Vec<DomainInfo>, LibvirtError> {
        Ok(self
            .domains()?
            .into_iter()
            .filter(|d| d.state.is_active())
            .collect())
    }

    /// One domain, by name.
    pub fn domain(&self, name: &str) -> Result<DomainInfo, LibvirtError> {
        no_nul("a domain name", name)?;
        let name = name.to_string();
        self.call("look up domain", self.timeout(), move |inner, conn| {
            let d = lookup(inner, conn, &name)?;
            domain_info(&d).map_err(|e| inner.domain_error("domain info", &name, e))
        })
    }

    /// Defines (or redefines) a persistent domain from its XML, without
    /// starting it.
    pub fn define(&self, xml: &str) -> Result<DomainInfo, LibvirtError> {
        no_nul("domain XML", xml)?;
        let xml = xml.to_string();
        self.call("define domain", self.timeout(), move |inner, conn| {
            let d = conn
                .define_domain_xml(&xml)
                .map_err(|e| inner.error("define domain", e))?;
            domain_info(&d).map_err(|e| inner.error("domain info", e))
        })
    }

    /// Defines a domain from its XML and starts it. If the start fails the
    /// definition stays (an error says which step failed).
    pub fn define_and_start(&self, xml: &str) -> Result<DomainInfo, LibvirtError> {
        no_nul("domain XML", xml)?;
        let xml = xml.to_string();
        self.call(
            "define and start domain",
            self.timeout(),
            move |inner, conn| {
                let d = conn
                    .define_domain_xml(&xml)
                    .map_err(|e| inner.error("define domain", e))?;
                d.create().map_err(|e| inner.error("start domain", e))?;
                domain_info(&d).map_err(|e| inner.error("domain info", e))
            },
        )
    }

    /// Starts a defined domain. Starting one already running is an error.
    pub fn start(&self, name: &str) -> Result<(), LibvirtError> {
        no_nul("a domain name", name)?;
        let name = name.to_string();
        self.call("start domain", self.timeout(), move |inner, conn| {
            let d = lookup(inner, conn, &name)?;
            d.create()
                .map_err(|e| inner.domain_error("start domain", &name, e))
        })
    }

    /// Stops a domain at once (`virDomainDestroy`: power pulled, no guest
    /// shutdown). A domain that is not running is left as it is.
    pub fn destroy(&self, name: &str) -> Result<(), LibvirtError> {
        no_nul("a domain name", name)?;
        let name = name.to_string();
        self.call("stop domain", self.timeout(), move |inner, conn| {
            let d = lookup(inner, conn, &name)?;
            match d.is_active() {
                Ok(false) => Ok(()),
                _ => d
                    .destroy()
                    .map_err(|e| inner.domain_error("stop domain", &name, e)),
            }
        })
    }

    /// Removes a domain's persistent definition (a running domain keeps
    /// running, transient).
    pub fn undefine(&self, name: &str) -> Result<(), LibvirtError> {
        no_nul("a domain name", name)?;
        let name = name.to_string();
        self.call("undefine domain", self.timeout(), move |inner, conn| {
            let d = lookup(inner, conn, &name)?;
            d.undefine()
                .map_err(|e| inner.domain_error("undefine domain", &name, e))
        })
    }

    /// A domain's XML: its persistent definition (what to define on another
    /// host to restart it there), or the live one for a transient domain.
    pub fn domain_xml(&self, name: &str) -> Result<String, LibvirtError> {
        no_nul("a domain name", name)?;
        let name = name.to_string();
        self.call("get domain XML", self.timeout(), move |inner, conn| {
            let d = lookup(inner, conn, &name)?;
            domain_xml(&d).map_err(|e| inner.domain_error("get domain XML", &name, e))
        })
    }

    /// Node, domains with their XML, storage pools with their volumes,
    /// networks and interfaces: what the importer needs, in one call.
    pub fn inventory(&self) -> Result<Inventory, LibvirtError> {
        self.call("inventory", self.timeout(), |inner, conn| {
            let node = node_info(inner, conn)?;
            let all = conn
                .list_all_domains(0)
                .map_err(|e| inner.error("list domains", e))?;
            let mut domains = Vec::new();
            for d in &all {
                // A domain that vanished meanwhile is simply not listed.
                if let (Ok(info), Ok(xml)) = (domain_info(d), domain_xml(d)) {
                    domains.push((info, xml));
                }
            }
            let mut storage_pools = Vec::new();
            let pools = conn
                .list_all_storage_pools(0)
                .map_err(|e| inner.error("list storage pools", e))?;
            for p in &pools {
                let Ok(name) = p.name() else { continue };
                let active = p.is_active().unwrap_or(false);
                let target_path = p
                    .xml_desc(0)
                    .ok()
                    .and_then(|x| crate::import::pool_target_path(&x));
                let volume_paths = if active {
                    p.list_all_volumes(0)
                        .map(|vols| vols.iter().filter_map(|v| v.path().ok()).collect())
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                storage_pools.push(StoragePoolInfo {
                    name,
                    active,
                    target_path,
                    volume_paths,
                });
            }
            let networks = conn
                .list_all_networks(virt::sys::VIR_CONNECT_LIST_NETWORKS_ACTIVE)
                .map_err(|e| inner.error("list networks", e))?
                .iter()
                .filter_map(|n| n.name().ok())
                .collect();
            // Not every driver manages host interfaces: none then.
            let interfaces = conn
                .list_all_interfaces(virt::sys::VIR_CONNECT_LIST_INTERFACES_ACTIVE)
                .map(|v| v.iter().filter_map(|i| i.name().ok()).collect())
                .unwrap_or_default();
            Ok(Inventory {
                node,
                domains,
                storage_pools,
                networks,
                interfaces,
            })
        })
    }
}

fn lookup(inner: &Inner, conn: &Connect, name: &str) -> Result<Domain, LibvirtError> {
    conn.lookup_domain_by_name(name)
        .map_err(|e| inner.domain_error("look up domain", name, e))
}

fn node_info(inner: &Inner, conn: &Connect) -> Result<NodeInfo, LibvirtError> {
    let n = conn.node_info().map_err(|e| inner.error("node info", e))?;
    Ok(NodeInfo {
        memory_mib: n.memory / 1024,
        cpus: n.cpus,
        cpu_model: n.model,
    })
}

fn domain_info(d: &Domain) -> Result<DomainInfo, virt::error::Error> {
    let info = d.info()?;
    Ok(DomainInfo {
        name: d.name()?,
        uuid: d.uuid_string()?,
        state: DomainState::from_virt(info.state),
        memory_mib: info.max_mem.div_ceil(1024),
        vcpus: info.nr_virt_cpu,
        persistent: d.is_persistent().unwrap_or(true),
    })
}

fn domain_xml(d: &Domain) -> Result<String, virt::error::Error> {
    d.xml_desc(virt::sys::VIR_DOMAIN_XML_INACTIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync + Clone>() {}
        send_sync::<LibvirtHost>();
    }

    #[test]
    fn states_map_to_pool_power() {
        use DomainState::*;
        for (s, p) in [
            (Running, "running"),
            (Blocked, "running"),
            (ShuttingDown, "running"),
            (NoState, "running"),
            (Paused, "paused"),
            (PmSuspended, "paused"),
            (Shutoff, "halted"),
            (Crashed, "halted"),
        ] {
            assert_eq!(s.pool_power(), p, "{s:?}");
            assert_eq!(s.is_active(), p != "halted");
        }
    }

    #[test]
    fn text_with_nul_is_refused_before_libvirt() {
        let e = LibvirtHost::open("test:///default\0").unwrap_err();
        assert!(matches!(e, LibvirtError::InvalidText { .. }), "{e}");
    }

    #[test]
    fn a_missing_socket_is_a_connect_error() {
        let e =
            LibvirtHost::open("test+unix:///default?socket=/nonexistent/haplan-sock").unwrap_err();
        assert!(matches!(e, LibvirtError::Connect { .. }), "{e}");
        assert!(e.is_unreachable());
    }

    #[test]
    fn the_in_process_test_driver_works_without_a_daemon() {
        let host = LibvirtHost::open("test:///default").unwrap();
        host.probe(Duration::from_secs(5)).unwrap();
        let node = host.node_info().unwrap();
        assert!(node.memory_mib > 0 && node.cpus > 0);
        // The driver's own domain.
        let d = host.domain("test").unwrap();
        assert_eq!(d.state, DomainState::Running);
        let inv = host.inventory().unwrap();
        assert_eq!(inv.domains.len(), 1);
        assert!(inv.networks.contains(&"default".to_string()));
    }
}
