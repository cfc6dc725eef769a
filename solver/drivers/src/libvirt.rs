//! libvirt hosts, through the `virt` crate (the C library's own bindings).
//!
//! A [`LibvirtHost`] talks to one host's libvirt daemon over two long-lived
//! connections: one for health checks ([`LibvirtHost::probe`]) and one for
//! every other call, so that a slow operation never holds a health check
//! back. Each connection belongs to one thread of its own, which makes the
//! calls on it one at a time, in the order they came; a caller hands its call
//! to that thread and waits for it at most a time limit
//! ([`ConnectOptions::call_timeout`], or the probe's own): a host that stops
//! answering can make the caller wait no longer than that, whatever libvirt
//! does. A call that timed out before its thread took it up is never made
//! ([`LibvirtError::NotSent`]); one that timed out while it ran may still
//! complete later on the host (its outcome is unknown: a timed-out `start`
//! may have started the domain). While a call hangs, the calls behind it
//! wait; at most [`QUEUE`] may wait, further ones fail at once
//! ([`LibvirtError::Busy`]).
//!
//! **Why one call at a time.** libvirt accepts concurrent calls on one
//! connection, but its client (libvirt 9.0, `virNetClientIOEventLoop`) is
//! unsafe once such calls hang: the thread polling the socket for everyone
//! watches it with a pointer into its own stack, and when something else
//! wakes it (another thread queueing a call, a keepalive message) it polls
//! again with a new watch, leaving the old one in place. When keepalive then
//! closes the connection, that thread returns while other callers' calls are
//! still queued; the next one polls the same socket with the old watches
//! still attached, and when the host answers again they run on the stack of
//! a thread that is gone (a segmentation fault in `g_main_loop_quit`). With
//! a single caller no thread ever polls after another one on the same
//! socket: its old watches fire in its own loop, or never.
//!
//! Dead connections are noticed by libvirt's keepalive (the first handle
//! starts libvirt's event loop on a background thread of its own for that,
//! once per process), which also ends a call still hanging on it. The next
//! call after a connection died opens a new one, on the same thread.
//!
//! **Faults.** A call that panics inside the driver fails with
//! [`LibvirtError::DriverFault`] and its connection is dropped (the next call
//! opens a new one). Should a connection's thread end anyway, the call it
//! held fails with [`LibvirtError::DriverFault`] and the next call starts a
//! new thread with a new connection ([`LibvirtHost::thread_restarts`] counts
//! them).
//!
//! **Thread safety.** `LibvirtHost` is `Send + Sync` and cheap to clone (the
//! clones share the connections and their threads, which end once every
//! clone is gone and the call in progress, if any, returns).

use std::collections::BTreeSet;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use virt::connect::Connect;
use virt::domain::{Domain, DomainState as VirtState};
use virt::error::ErrorNumber;

/// How many calls may wait for one connection's thread while it is busy.
pub const QUEUE: usize = 16;

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
    /// The connection could not be opened.
    #[error("{uri}: cannot connect: {message}")]
    Connect {
        /// The host's URI.
        uri: String,
        /// libvirt's message.
        message: String,
    },
    /// The call was made and did not answer in time: its outcome is
    /// unknown (it may still complete on the host).
    #[error("{uri}: {op} did not answer within {after:?}")]
    Timeout {
        /// The host's URI.
        uri: String,
        /// The call (`start`, `list`, ...).
        op: &'static str,
        /// The time limit.
        after: Duration,
    },
    /// The connection was lost during the call.
    #[error("{uri}: connection lost: {message}")]
    Disconnected {
        /// The host's URI.
        uri: String,
        /// libvirt's message.
        message: String,
    },
    /// The call was never made: the connection's thread was still busy
    /// with earlier calls (or with opening the connection) when the time
    /// limit passed.
    #[error("{uri}: {op} was not sent within {after:?}: the host has not answered earlier calls")]
    NotSent {
        /// The host's URI.
        uri: String,
        /// The call.
        op: &'static str,
        /// The time limit.
        after: Duration,
    },
    /// The call was never made: [`QUEUE`] calls already wait for the
    /// connection.
    #[error("{uri}: {op} was not sent: earlier calls are still waiting for the host")]
    Busy {
        /// The host's URI.
        uri: String,
        /// The call.
        op: &'static str,
    },
    /// The host has no domain of that name.
    #[error("{uri}: no domain {name:?}")]
    NoDomain {
        /// The host's URI.
        uri: String,
        /// The domain's name.
        name: String,
    },
    /// libvirt refused or failed the call.
    #[error("{uri}: {op}: {message}")]
    Libvirt {
        /// The host's URI.
        uri: String,
        /// The call.
        op: &'static str,
        /// libvirt's error number (`virErrorNumber`), as its name.
        code: String,
        /// libvirt's message.
        message: String,
    },
    /// A name, URI or XML given holds a NUL character, which libvirt's C
    /// strings cannot carry.
    #[error("{what} may not contain a NUL character")]
    InvalidText {
        /// What held it (`a domain name`, ...).
        what: &'static str,
    },
    /// The connection's thread could not be started.
    #[error("cannot start a connection thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The driver itself failed (a panic in the call, or the connection's
    /// thread ended); the connection is opened again for the next call.
    #[error("{uri}: {op}: the libvirt driver failed: {message}")]
    DriverFault {
        /// The host's URI.
        uri: String,
        /// The call.
        op: &'static str,
        /// The panic's message, or why the thread ended.
        message: String,
    },
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
                | LibvirtError::NotSent { .. }
                | LibvirtError::Busy { .. }
        )
    }
}

/// A domain's state as libvirt reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DomainState {
    /// Running.
    Running,
    /// Running, blocked on a resource.
    Blocked,
    /// Paused by the host (it keeps its memory).
    Paused,
    /// Running, shutting down.
    ShuttingDown,
    /// Shut off.
    Shutoff,
    /// Crashed (not running).
    Crashed,
    /// Suspended by guest power management.
    PmSuspended,
    /// A state libvirt does not know.
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
    /// The domain's name.
    pub name: String,
    /// Its UUID, in libvirt's text form.
    pub uuid: String,
    /// Its state when listed.
    pub state: DomainState,
    /// The domain's maximum memory, rounded up to whole MiB: what it gets
    /// when it starts.
    pub memory_mib: u64,
    /// Its virtual CPUs.
    pub vcpus: u32,
    /// Defined (kept when stopped), as opposed to transient.
    pub persistent: bool,
    /// Started by libvirtd when its host boots (`virsh autostart`).
    pub autostart: bool,
}

/// A host's size, from libvirt's node info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The host's memory in MiB, rounded down.
    pub memory_mib: u64,
    /// Its logical CPUs.
    pub cpus: u32,
    /// Its CPU model (`x86_64`).
    pub cpu_model: String,
}

/// A storage pool of a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoragePoolInfo {
    /// The pool's name.
    pub name: String,
    /// Whether it is active (started).
    pub active: bool,
    /// `<target><path>`, when the pool has one.
    pub target_path: Option<String>,
    /// The paths of its volumes (active pools only).
    pub volume_paths: Vec<String>,
}

/// Everything the importer reads from a host, read in one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    /// The host's size.
    pub node: NodeInfo,
    /// Every domain with its persistent XML (its live XML if transient).
    pub domains: Vec<(DomainInfo, String)>,
    /// Every storage pool.
    pub storage_pools: Vec<StoragePoolInfo>,
    /// Active virtual networks.
    pub networks: Vec<String>,
    /// Active host interfaces (bridges among them).
    pub interfaces: Vec<String>,
}

/// One host's libvirt daemon. See the module docs.
#[derive(Clone)]
pub struct LibvirtHost {
    inner: Arc<Inner>,
}

struct Inner {
    uri: String,
    options: ConnectOptions,
    /// Health checks.
    health: Lane,
    /// Every other call.
    work: Lane,
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
                        // Keepalive of every connection depends on this
                        // loop: it must outlive anything a round does.
                        let round = panic::catch_unwind(virt::event::event_run_default_impl);
                        if !matches!(round, Ok(Ok(()))) {
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

/// A call waiting for its connection's thread: not taken up yet, taken up,
/// or given up by its caller (then it is never made).
const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

struct Job {
    state: Arc<AtomicU8>,
    run: Box<dyn FnOnce(&mut Session) + Send>,
}

/// One connection and the thread that makes every call on it.
struct Lane {
    thread_name: &'static str,
    /// The thread's queue; `None` until the first call.
    queue: Mutex<Option<mpsc::SyncSender<Job>>>,
    restarts: AtomicU64,
}

impl Lane {
    fn new(thread_name: &'static str) -> Lane {
        Lane {
            thread_name,
            queue: Mutex::new(None),
            restarts: AtomicU64::new(0),
        }
    }

    /// Queues `job` for the lane's thread, starting the thread first if
    /// there is none (the first call, or the thread ended).
    fn submit(&self, inner: &Inner, op: &'static str, job: Job) -> Result<(), LibvirtError> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let job = match queue.as_ref() {
            None => job,
            Some(q) => match q.try_send(job) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(_)) => {
                    return Err(LibvirtError::Busy {
                        uri: inner.uri.clone(),
                        op,
                    });
                }
                Err(TrySendError::Disconnected(job)) => {
                    self.restarts.fetch_add(1, Ordering::Relaxed);
                    job
                }
            },
        };
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let session = Session {
            uri: inner.uri.clone(),
            options: inner.options.clone(),
            conn: None,
        };
        thread::Builder::new()
            .name(self.thread_name.into())
            .spawn(move || serve(rx, session))
            .map_err(LibvirtError::Thread)?;
        // The queue is empty; should the thread already be gone, the job is
        // dropped with it and its caller told so.
        let _ = tx.try_send(job);
        *queue = Some(tx);
        Ok(())
    }
}

/// A lane's thread: the calls of its queue, one at a time, until every
/// handle to the host is gone.
fn serve(jobs: mpsc::Receiver<Job>, mut session: Session) {
    for job in jobs {
        let taken =
            job.state
                .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire);
        if taken.is_ok() {
            (job.run)(&mut session);
        }
    }
    session.close();
}

/// A connection, as its lane's thread holds it.
struct Session {
    uri: String,
    options: ConnectOptions,
    conn: Option<Connect>,
}

impl Session {
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

    /// Makes sure the connection is open, opening it again if it died.
    fn connect(&mut self) -> Result<(), LibvirtError> {
        if let Some(c) = &self.conn {
            if c.is_alive().unwrap_or(false) {
                return Ok(());
            }
            // Dead: let it go (closing a dead connection does not block).
            self.close();
        }
        let conn = Connect::open(Some(&self.uri)).map_err(|e| LibvirtError::Connect {
            uri: self.uri.clone(),
            message: e.message().to_string(),
        })?;
        if let Some((interval, count)) = self.options.keepalive {
            // Without keepalive only dead-peer detection is lost; the call
            // time limits still hold.
            let _ = conn.set_keep_alive(interval.min(i32::MAX as u32) as i32, count);
        }
        self.conn = Some(conn);
        Ok(())
    }

    fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            // `virt` panics when libvirt refuses to release a connection:
            // the connection is gone for this side either way.
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(conn)));
        }
    }

    fn call<T>(
        &mut self,
        f: impl FnOnce(&Session, &Connect) -> Result<T, LibvirtError>,
    ) -> Result<T, LibvirtError> {
        self.connect()?;
        let this: &Session = self;
        let conn = this.conn.as_ref().expect("connected just now");
        match f(this, conn) {
            // Failed because the connection died on the way.
            Err(LibvirtError::Libvirt { message, .. }) if !conn.is_alive().unwrap_or(false) => {
                Err(LibvirtError::Disconnected {
                    uri: this.uri.clone(),
                    message,
                })
            }
            result => result,
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".into()
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
        host.call(
            &host.inner.work,
            "open",
            host.inner.options.call_timeout,
            |_, _| Ok(()),
        )?;
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
                health: Lane::new("libvirt-health"),
                work: Lane::new("libvirt-work"),
            }),
        })
    }

    /// The host's libvirt URI.
    pub fn uri(&self) -> &str {
        &self.inner.uri
    }

    /// The time limits and keepalive its connections use.
    pub fn options(&self) -> &ConnectOptions {
        &self.inner.options
    }

    /// How many times a connection's thread ended unexpectedly and was
    /// started again (with a new connection): 0 unless the driver failed.
    pub fn thread_restarts(&self) -> u64 {
        self.inner.health.restarts.load(Ordering::Relaxed)
            + self.inner.work.restarts.load(Ordering::Relaxed)
    }

    /// Hands `f` to `lane`'s thread and waits at most `timeout` for it.
    fn call<T, F>(
        &self,
        lane: &Lane,
        op: &'static str,
        timeout: Duration,
        f: F,
    ) -> Result<T, LibvirtError>
    where
        T: Send + 'static,
        F: FnOnce(&Session, &Connect) -> Result<T, LibvirtError> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let state = Arc::new(AtomicU8::new(QUEUED));
        let run = move |session: &mut Session| {
            let result = match panic::catch_unwind(AssertUnwindSafe(|| session.call(f))) {
                Ok(result) => result,
                Err(payload) => {
                    // Half-way through a call: the connection is not trusted
                    // any more.
                    session.close();
                    Err(LibvirtError::DriverFault {
                        uri: session.uri.clone(),
                        op,
                        message: panic_message(&*payload),
                    })
                }
            };
            let _ = tx.send(result);
        };
        let job = Job {
            state: Arc::clone(&state),
            run: Box::new(run),
        };
        lane.submit(&self.inner, op, job)?;
        match rx.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                let gave_up =
                    state.compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire);
                if gave_up.is_ok() {
                    return Err(LibvirtError::NotSent {
                        uri: self.inner.uri.clone(),
                        op,
                        after: timeout,
                    });
                }
                // It runs: it may finish later, or just did.
                rx.try_recv().unwrap_or_else(|_| {
                    Err(LibvirtError::Timeout {
                        uri: self.inner.uri.clone(),
                        op,
                        after: timeout,
                    })
                })
            }
            Err(RecvTimeoutError::Disconnected) => Err(LibvirtError::DriverFault {
                uri: self.inner.uri.clone(),
                op,
                message: "the connection's thread ended".into(),
            }),
        }
    }

    /// A call on the connection for everything but health checks.
    fn work<T, F>(&self, op: &'static str, f: F) -> Result<T, LibvirtError>
    where
        T: Send + 'static,
        F: FnOnce(&Session, &Connect) -> Result<T, LibvirtError> + Send + 'static,
    {
        self.call(&self.inner.work, op, self.inner.options.call_timeout, f)
    }

    /// The health check: one round trip to the daemon within `timeout`
    /// (reopening the connection first if it died). `Ok` is the round
    /// trip's duration; an error for which
    /// [`is_unreachable`](LibvirtError::is_unreachable) holds means the host
    /// did not answer.
    pub fn probe(&self, timeout: Duration) -> Result<Duration, LibvirtError> {
        let started = Instant::now();
        self.call(&self.inner.health, "probe", timeout, |s, conn| {
            conn.lib_version().map_err(|e| s.error("probe", e))
        })?;
        Ok(started.elapsed())
    }

    /// The host's memory and CPUs.
    pub fn node_info(&self) -> Result<NodeInfo, LibvirtError> {
        self.work("node info", node_info)
    }

    /// Every domain: running, paused, and defined but shut off.
    pub fn domains(&self) -> Result<Vec<DomainInfo>, LibvirtError> {
        self.work("list domains", |s, conn| {
            let all = conn
                .list_all_domains(0)
                .map_err(|e| s.error("list domains", e))?;
            let auto = autostart_names(conn);
            Ok(all
                .iter()
                .filter_map(|d| listed_info(d, &auto).ok())
                .collect())
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
        self.work("look up domain", move |s, conn| {
            let d = lookup(s, conn, &name)?;
            domain_info(&d).map_err(|e| s.domain_error("domain info", &name, e))
        })
    }

    /// Defines (or redefines) a persistent domain from its XML, without
    /// starting it.
    pub fn define(&self, xml: &str) -> Result<DomainInfo, LibvirtError> {
        no_nul("domain XML", xml)?;
        let xml = xml.to_string();
        self.work("define domain", move |s, conn| {
            let d = conn
                .define_domain_xml(&xml)
                .map_err(|e| s.error("define domain", e))?;
            domain_info(&d).map_err(|e| s.error("domain info", e))
        })
    }

    /// Defines a domain from its XML and starts it. If the start fails the
    /// definition stays (an error says which step failed).
    pub fn define_and_start(&self, xml: &str) -> Result<DomainInfo, LibvirtError> {
        no_nul("domain XML", xml)?;
        let xml = xml.to_string();
        self.work("define and start domain", move |s, conn| {
            let d = conn
                .define_domain_xml(&xml)
                .map_err(|e| s.error("define domain", e))?;
            d.create().map_err(|e| s.error("start domain", e))?;
            domain_info(&d).map_err(|e| s.error("domain info", e))
        })
    }

    /// Starts a defined domain. Starting one already running is an error.
    pub fn start(&self, name: &str) -> Result<(), LibvirtError> {
        no_nul("a domain name", name)?;
        let name = name.to_string();
        self.work("start domain", move |s, conn| {
            let d = lookup(s, conn, &name)?;
            d.create()
                .map_err(|e| s.domain_error("start domain", &name, e))
        })
    }

    /// Stops a domain at once (`virDomainDestroy`: power pulled, no guest
    /// shutdown). A domain that is not running is left as it is.
    pub fn destroy(&self, name: &str) -> Result<(), LibvirtError> {
        no_nul("a domain name", name)?;
        let name = name.to_string();
        self.work("stop domain", move |s, conn| {
            let d = lookup(s, conn, &name)?;
            match d.is_active() {
                Ok(false) => Ok(()),
                _ => d
                    .destroy()
                    .map_err(|e| s.domain_error("stop domain", &name, e)),
            }
        })
    }

    /// Whether libvirtd starts a domain when its host boots.
    pub fn set_autostart(&self, name: &str, on: bool) -> Result<(), LibvirtError> {
        no_nul("a domain name", name)?;
        let name = name.to_string();
        self.work("set autostart", move |s, conn| {
            let d = lookup(s, conn, &name)?;
            d.set_autostart(on)
                .map_err(|e| s.domain_error("set autostart", &name, e))
        })
    }

    /// Removes a domain's persistent definition (a running domain keeps
    /// running, transient).
    pub fn undefine(&self, name: &str) -> Result<(), LibvirtError> {
        no_nul("a domain name", name)?;
        let name = name.to_string();
        self.work("undefine domain", move |s, conn| {
            let d = lookup(s, conn, &name)?;
            d.undefine()
                .map_err(|e| s.domain_error("undefine domain", &name, e))
        })
    }

    /// A domain's XML: its persistent definition (what to define on another
    /// host to restart it there), or the live one for a transient domain.
    pub fn domain_xml(&self, name: &str) -> Result<String, LibvirtError> {
        no_nul("a domain name", name)?;
        let name = name.to_string();
        self.work("get domain XML", move |s, conn| {
            let d = lookup(s, conn, &name)?;
            domain_xml(&d).map_err(|e| s.domain_error("get domain XML", &name, e))
        })
    }

    /// Node, domains with their XML, storage pools with their volumes,
    /// networks and interfaces: what the importer needs, in one call.
    pub fn inventory(&self) -> Result<Inventory, LibvirtError> {
        self.work("inventory", |s, conn| {
            let node = node_info(s, conn)?;
            let all = conn
                .list_all_domains(0)
                .map_err(|e| s.error("list domains", e))?;
            let auto = autostart_names(conn);
            let mut domains = Vec::new();
            for d in &all {
                // A domain that vanished meanwhile is simply not listed.
                if let (Ok(info), Ok(xml)) = (listed_info(d, &auto), domain_xml(d)) {
                    domains.push((info, xml));
                }
            }
            let mut storage_pools = Vec::new();
            let pools = conn
                .list_all_storage_pools(0)
                .map_err(|e| s.error("list storage pools", e))?;
            for p in &pools {
                let Ok(name) = p.name() else { continue };
                let active = p.is_active().unwrap_or(false);
                let target_path = p.xml_desc(0).ok().and_then(|x| pool_target_path(&x));
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
                .map_err(|e| s.error("list networks", e))?
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

fn lookup(s: &Session, conn: &Connect, name: &str) -> Result<Domain, LibvirtError> {
    conn.lookup_domain_by_name(name)
        .map_err(|e| s.domain_error("look up domain", name, e))
}

fn node_info(s: &Session, conn: &Connect) -> Result<NodeInfo, LibvirtError> {
    let n = conn.node_info().map_err(|e| s.error("node info", e))?;
    Ok(NodeInfo {
        memory_mib: n.memory / 1024,
        cpus: n.cpus,
        cpu_model: n.model,
    })
}

/// One domain's info, its autostart flag asked of libvirt.
fn domain_info(d: &Domain) -> Result<DomainInfo, virt::error::Error> {
    info_with(d, |_| d.autostart().unwrap_or(false))
}

/// The names of the domains libvirtd starts when the host boots: one call
/// for a whole listing, rather than one per domain (none if it fails).
fn autostart_names(conn: &Connect) -> BTreeSet<String> {
    conn.list_all_domains(virt::sys::VIR_CONNECT_LIST_DOMAINS_AUTOSTART)
        .map(|ds| ds.iter().filter_map(|d| d.name().ok()).collect())
        .unwrap_or_default()
}

/// A domain's info in a listing, its autostart flag from `autostart`
/// ([`autostart_names`]).
fn listed_info(d: &Domain, autostart: &BTreeSet<String>) -> Result<DomainInfo, virt::error::Error> {
    info_with(d, |name| autostart.contains(name))
}

/// A domain's info, its autostart flag from `autostart` (given its name).
fn info_with(
    d: &Domain,
    autostart: impl FnOnce(&str) -> bool,
) -> Result<DomainInfo, virt::error::Error> {
    let info = d.info()?;
    let name = d.name()?;
    Ok(DomainInfo {
        autostart: autostart(&name),
        name,
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

/// `<target><path>` of a storage pool's XML.
pub fn pool_target_path(pool_xml: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(pool_xml).ok()?;
    let target = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("target"))?;
    let path = target.children().find(|n| n.has_tag_name("path"))?;
    path.text()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
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

    /// A handle on libvirt's in-process test driver (no daemon).
    fn test_host() -> LibvirtHost {
        LibvirtHost::new("test:///default", ConnectOptions::default()).unwrap()
    }

    /// Occupies the lane's thread until the returned sender is dropped.
    fn hold(host: &LibvirtHost) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
        let (release, held) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel::<()>();
        let h = host.clone();
        let holder = thread::spawn(move || {
            h.call(
                &h.inner.work,
                "hold",
                Duration::from_secs(600),
                move |_, _| {
                    started.send(()).unwrap();
                    let _ = held.recv();
                    Ok(())
                },
            )
            .unwrap();
        });
        running.recv().unwrap();
        (release, holder)
    }

    #[test]
    fn calls_on_one_connection_are_made_one_at_a_time() {
        let host = test_host();
        let busy = Arc::new(AtomicU8::new(0));
        let overlapped = Arc::new(AtomicU8::new(0));
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let (host, busy, overlapped) =
                    (host.clone(), Arc::clone(&busy), Arc::clone(&overlapped));
                thread::spawn(move || {
                    for _ in 0..5 {
                        let (busy, overlapped) = (Arc::clone(&busy), Arc::clone(&overlapped));
                        host.work("count", move |_, conn| {
                            if busy.fetch_add(1, Ordering::SeqCst) > 0 {
                                overlapped.fetch_add(1, Ordering::SeqCst);
                            }
                            // A real round trip while the others try to get in.
                            let r = conn.lib_version().map(drop);
                            thread::sleep(Duration::from_millis(2));
                            busy.fetch_sub(1, Ordering::SeqCst);
                            r.map_err(|e| panic!("{e}"))
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
        assert_eq!(overlapped.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_call_given_up_before_its_turn_is_never_made_and_the_queue_is_bounded() {
        let host = test_host();
        let (release, holder) = hold(&host);
        let made = Arc::new(AtomicU8::new(0));
        for _ in 0..QUEUE {
            let made = Arc::clone(&made);
            let e = host
                .call(
                    &host.inner.work,
                    "late",
                    Duration::from_millis(1),
                    move |_, _| {
                        made.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    },
                )
                .unwrap_err();
            assert!(matches!(e, LibvirtError::NotSent { .. }), "{e}");
            assert!(e.is_unreachable());
        }
        // Every place is taken (by calls given up, until the thread skips them).
        let e = host.domains().unwrap_err();
        assert!(matches!(e, LibvirtError::Busy { .. }), "{e}");
        assert!(e.is_unreachable());
        // Health checks have a connection of their own.
        host.probe(Duration::from_secs(10)).unwrap();
        drop(release);
        holder.join().unwrap();
        // The places free up as the thread skips the given-up calls: the
        // queue serves again within moments, however loaded the machine.
        let give_up = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match host.domain("test") {
                Err(LibvirtError::Busy { .. }) if std::time::Instant::now() < give_up => {
                    thread::sleep(Duration::from_millis(10));
                }
                r => {
                    r.unwrap();
                    break;
                }
            }
        }
        assert_eq!(made.load(Ordering::SeqCst), 0, "a given-up call was made");
    }

    #[test]
    fn a_call_that_hangs_once_taken_up_is_a_timeout() {
        let host = test_host();
        let (release, held) = mpsc::channel::<()>();
        let e = host
            .call(
                &host.inner.work,
                "hang",
                Duration::from_secs(1),
                move |_, _| {
                    let _ = held.recv();
                    Ok(())
                },
            )
            .unwrap_err();
        assert!(matches!(e, LibvirtError::Timeout { .. }), "{e}");
        drop(release);
        host.domain("test").unwrap();
    }

    #[test]
    fn a_call_that_panics_is_a_driver_fault_and_the_connection_serves_again() {
        let host = test_host();
        host.domain("test").unwrap();
        let e = host
            .work("explode", |_, _| -> Result<(), LibvirtError> {
                panic!("the driver broke")
            })
            .unwrap_err();
        assert!(
            matches!(&e, LibvirtError::DriverFault { message, .. } if message.contains("the driver broke")),
            "{e}"
        );
        assert!(!e.is_unreachable());
        assert_eq!(host.thread_restarts(), 0, "the thread survives a panic");
        assert_eq!(host.domain("test").unwrap().state, DomainState::Running);
    }

    #[test]
    fn a_connection_thread_that_ends_is_started_again() {
        let host = test_host();
        host.domain("test").unwrap();
        let end = Job {
            state: Arc::new(AtomicU8::new(QUEUED)),
            run: Box::new(|_| panic!("the thread ends")),
        };
        host.inner.work.submit(&host.inner, "end", end).unwrap();
        // The call queued while the thread ends fails, naming the fault;
        // the next one gets a new thread and a new connection.
        let mut faults = 0;
        let answer = loop {
            match host.domain("test") {
                Ok(d) => break d,
                Err(LibvirtError::DriverFault { .. }) if faults == 0 => faults += 1,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(answer.state, DomainState::Running);
        assert_eq!(host.thread_restarts(), 1);
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

    #[test]
    fn autostart_is_read_for_one_domain_and_for_a_listing() {
        let host = LibvirtHost::open("test:///default").unwrap();
        for on in [true, false] {
            host.set_autostart("test", on).unwrap();
            assert_eq!(host.domain("test").unwrap().autostart, on);
            let listed = host.domains().unwrap();
            let test = listed.iter().find(|d| d.name == "test").unwrap();
            assert_eq!(test.autostart, on);
            let inv = host.inventory().unwrap();
            assert_eq!(inv.domains[0].0.autostart, on);
        }
    }
}
