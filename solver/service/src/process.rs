//! The process around the loop: SIGTERM and SIGINT end it cleanly, and
//! systemd (`Type=notify`) hears when it is ready, that it is alive
//! (the watchdog) and when it stops.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A flag raised by SIGTERM or SIGINT; the loop ends at its next step (the
/// step under way is logged, the lock released, the control socket removed).
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle signal {sig}: {e}"))?;
    }
    Ok(stop)
}

/// Notifications to systemd; each does nothing when the process was not
/// started by systemd with `NOTIFY_SOCKET` (or without a watchdog).
pub struct Systemd {
    watchdog: Option<Duration>,
    last_ping: Mutex<Instant>,
}

impl Systemd {
    /// Reads the watchdog period systemd gave (`WATCHDOG_USEC`), if any.
    pub fn new() -> Systemd {
        let mut usec = 0u64;
        let watchdog =
            sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec));
        Systemd {
            watchdog,
            last_ping: Mutex::new(Instant::now()),
        }
    }

    /// `READY=1`: the runtime runs (its log resumed, its lock held).
    pub fn ready(&self) {
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    }

    /// `WATCHDOG=1` at most every half period. Called by the loop itself,
    /// so a stuck loop stops feeding the watchdog and systemd restarts the
    /// service.
    pub fn alive(&self) {
        if let Some(period) = self.watchdog {
            let mut last = self.last_ping.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() >= period / 2 {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                *last = Instant::now();
            }
        }
    }

    /// `STOPPING=1`.
    pub fn stopping(&self) {
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    }
}

impl Default for Systemd {
    fn default() -> Systemd {
        Systemd::new()
    }
}
