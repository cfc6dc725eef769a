//! Failure detection: probe answers, suspicion, peers asked to confirm,
//! the quorum (electorate) and self-isolation, and the decision to declare
//! a host down.

use super::*;

impl Runtime {
    /// An outside monitor says `host` is back: it is inventoried before it
    /// counts as up.
    pub(super) fn host_up(&mut self, host: &str, out: &mut Output) -> Result<(), RuntimeError> {
        self.host_id(host)?;
        match self.hosts[host].status {
            HostStatus::Up
            | HostStatus::Confirming { .. }
            | HostStatus::Maintenance
            | HostStatus::Returning { .. } => {
                out.notes.push(Note::Ignored {
                    reason: format!("host {host} is already up or in maintenance"),
                });
            }
            _ => {
                // Back: inventoried before it counts as up.
                let fenced = self.hosts[host].status == HostStatus::Fenced;
                let rt = self.hosts.get_mut(host).expect("known");
                rt.status = HostStatus::Returning { fenced };
                rt.fails = 0;
                rt.inventory = true;
                rt.inventory_at = 0;
                out.notes.push(Note::HostReturning {
                    host: host.to_string(),
                });
            }
        }
        Ok(())
    }

    /// An outside monitor says `host` is down.
    pub(super) fn host_down(&mut self, host: &str, out: &mut Output) -> Result<(), RuntimeError> {
        self.host_id(host)?;
        match self.hosts[host].status {
            // An outside monitor's word: the host is down, but the
            // fence waits until half of the pool answers the
            // runtime (a runtime cut off from the pool never
            // shoots, whoever says the host is down).
            HostStatus::Up | HostStatus::Confirming { .. } => {
                if self.declare_down(host, None, None, out) {
                    self.hold_fence(host, 0, 0);
                }
            }
            _ => out.notes.push(Note::Ignored {
                reason: format!("host {host} is not up"),
            }),
        }
        Ok(())
    }

    /// The answer to probe `id` of `host`.
    pub(super) fn health_answered(
        &mut self,
        id: ActionId,
        host: &str,
        ping: bool,
        api: bool,
        out: &mut Output,
    ) {
        if self.take(id).is_some() {
            let rt = self.hosts.get_mut(host).expect("checked");
            rt.probe = None;
            let sent = rt.probe_sent;
            self.health(host, ping && api, sent, out);
        }
    }

    /// `host`'s answer to question `id`: whether it reaches `peer` (no
    /// verdict when it could not tell).
    pub(super) fn peer_answered(
        &mut self,
        id: ActionId,
        host: &str,
        peer: &str,
        reachable: bool,
        error: Option<&str>,
        out: &mut Output,
    ) {
        if self.take(id).is_some() {
            let verdict = if error.is_some() {
                None
            } else {
                Some(!reachable)
            };
            self.peer_answer(host, id, peer, verdict, out);
        }
    }

    /// The answer to a probe of `host` sent at `sent`.
    pub(super) fn health(&mut self, host: &str, ok: bool, sent: Millis, out: &mut Output) {
        let threshold = self.pool.ha.failure_threshold.max(1);
        let status = self.hosts[host].status.clone();
        {
            let rt = self.hosts.get_mut(host).expect("known");
            if ok {
                rt.ok_at = Some(rt.ok_at.map_or(sent, |t| t.max(sent)));
            } else {
                rt.fail_at = Some(rt.fail_at.map_or(sent, |t| t.max(sent)));
                if let HostStatus::FenceHold { since, .. } = &status
                    && !self.isolated
                    && sent >= *since
                    && rt.silent_seen.is_none_or(|t| t < *since)
                {
                    rt.silent_seen = Some(self.now);
                }
            }
        }
        match status {
            HostStatus::Up => {
                let rt = self.hosts.get_mut(host).expect("known");
                if ok {
                    let missed = rt.fails > 0 || rt.unreachable_alerted;
                    if missed {
                        rt.inventory = true; // it was out of sight
                    }
                    rt.fails = 0;
                    rt.unreachable_alerted = false;
                    rt.unconfirmed_alerted = false;
                    if missed {
                        self.unstick(); // a target again
                    }
                } else {
                    rt.fails += 1;
                    let fails = rt.fails;
                    out.notes.push(Note::HostSuspect {
                        host: host.to_string(),
                        failures: fails,
                    });
                    if fails == 1 {
                        self.retarget(host);
                    }
                    if fails >= threshold {
                        self.suspect(host, sent, out);
                    }
                }
            }
            HostStatus::Confirming { .. } => {
                let rt = self.hosts.get_mut(host).expect("known");
                if ok {
                    rt.status = HostStatus::Up;
                    rt.fails = 0;
                    rt.inventory = true;
                    self.unstick(); // a target again
                } else {
                    rt.fails += 1;
                }
            }
            HostStatus::Fenced | HostStatus::Lost | HostStatus::FenceWait { .. } if ok => {
                self.returning(host, &status, out);
            }
            HostStatus::FenceHold { .. } if ok && status.held_after_a_failed_fence() => {
                self.returning(host, &status, out);
            }
            HostStatus::Returning { fenced } if !ok => {
                // Gone again before it was inventoried. One never confirmed
                // off, under host failover, still holds VMs that only its
                // fence releases: it is fenced again (after fresh answers).
                let failover = self.pool.ha.enabled && self.pool.ha.mode == HaMode::Host;
                if !fenced && failover {
                    // As after a failed fence (round 1): probed while held,
                    // and back if it answers.
                    self.hold_fence(host, 0, 1);
                } else {
                    self.hosts.get_mut(host).expect("known").status = if fenced {
                        HostStatus::Fenced
                    } else {
                        HostStatus::Lost
                    };
                }
                self.hosts.get_mut(host).expect("known").inventory = false;
            }
            _ => {}
        }
        self.decide_all(out);
    }

    /// `host`, off or waiting for its fence, answers a probe: back, but not
    /// up before its VMs are known (its inventory). A host whose fence
    /// failed and that waits (for its backoff, or for the runtime to hear
    /// from half of the pool again) is not fenced once it answers: its VMs
    /// were never released, and it is listed like any host that returns.
    fn returning(&mut self, host: &str, status: &HostStatus, out: &mut Output) {
        let rt = self.hosts.get_mut(host).expect("known");
        rt.status = HostStatus::Returning {
            fenced: *status == HostStatus::Fenced,
        };
        // It answered after those fences: a late "off" of one of them no
        // longer says it is off now.
        rt.late.clear();
        rt.fails = 0;
        rt.inventory = true;
        rt.inventory_at = 0;
        out.notes.push(Note::HostReturning {
            host: host.to_string(),
        });
    }

    /// `host` missed enough probes (the last one sent at `since`): a peer
    /// that answers is asked, and the other hosts' answers are counted.
    fn suspect(&mut self, host: &str, since: Millis, out: &mut Output) {
        let peer = self
            .hosts
            .iter()
            .find(|(n, h)| *n != host && h.status == HostStatus::Up && h.fails == 0)
            .map(|(n, _)| n.clone());
        let id = peer.as_ref().map(|_| self.id());
        self.hosts.get_mut(host).expect("known").status = HostStatus::Confirming {
            id,
            since,
            peer: peer.clone(),
            peer_down: None,
        };
        if let (Some(id), Some(peer)) = (id, peer) {
            self.emit(
                Action::AskPeer {
                    id,
                    host: host.to_string(),
                    peer,
                },
                out,
            );
        }
    }

    /// A peer's word on `host` (`down`: `Some(true)` it cannot reach it,
    /// `None` it could not tell).
    pub(super) fn peer_answer(
        &mut self,
        host: &str,
        id: ActionId,
        peer: &str,
        down: Option<bool>,
        out: &mut Output,
    ) {
        let now = self.now;
        let rt = self.hosts.get_mut(host).expect("known");
        let HostStatus::Confirming {
            id: asked,
            peer_down,
            since,
            ..
        } = &mut rt.status
        else {
            return;
        };
        if *asked != Some(id) {
            return;
        }
        *asked = None;
        *peer_down = down;
        if down.is_none() {
            // A peer that does not answer may mean that the runtime's own
            // network just failed: a majority counts from now on only.
            *since = now;
        }
        if down == Some(false) {
            rt.status = HostStatus::Up;
            rt.fails = 0;
            if !rt.unreachable_alerted {
                rt.unreachable_alerted = true;
                out.alerts.push(Alert::HostUnreachable {
                    host: host.to_string(),
                    peer: peer.to_string(),
                });
            }
            return;
        }
        self.decide_all(out);
    }

    /// The electorate (hosts not confirmed off and not in maintenance) and
    /// who of it answered its latest probe.
    pub(super) fn electorate(&self) -> (u32, u32, Vec<String>) {
        let mut total = 0;
        let mut reachable = 0;
        let mut unreachable = Vec::new();
        for (name, h) in &self.hosts {
            match h.status {
                HostStatus::Fenced | HostStatus::Maintenance => continue,
                HostStatus::Up | HostStatus::Returning { .. } if h.fails == 0 => {
                    reachable += 1;
                }
                _ => unreachable.push(name.clone()),
            }
            total += 1;
        }
        (reachable, total, unreachable)
    }

    fn isolated_now(&self) -> bool {
        let (r, e, _) = self.electorate();
        2 * r < e
    }

    /// Decides every suspect host whose confirmation is complete.
    pub(super) fn decide_all(&mut self, out: &mut Output) {
        let suspects: Vec<String> = self
            .hosts
            .iter()
            .filter(|(_, h)| matches!(h.status, HostStatus::Confirming { .. }))
            .map(|(n, _)| n.clone())
            .collect();
        for host in suspects {
            self.decide(&host, out);
        }
    }

    /// Declares `host` down when a peer that answers confirms it (with half
    /// of the electorate answering since `host` became suspect) or a strict
    /// majority of the electorate answered since; gives up (one
    /// `host_unconfirmed`) when neither can come any more. Waits otherwise.
    fn decide(&mut self, host: &str, out: &mut Output) {
        let HostStatus::Confirming {
            id,
            since,
            peer,
            peer_down,
        } = self.hosts[host].status.clone()
        else {
            return;
        };
        if id.is_some() || self.reconciling.is_some() {
            return; // the peer has not answered yet, or not acting yet
        }
        let mut total = 0u32;
        let mut fresh = 0u32;
        let mut pending = 0u32;
        for (name, h) in &self.hosts {
            match h.status {
                HostStatus::Fenced | HostStatus::Maintenance => continue,
                _ => total += 1,
            }
            if name == host {
                continue;
            }
            let live = matches!(h.status, HostStatus::Up | HostStatus::Returning { .. });
            if live && h.fails == 0 && h.ok_at.is_some_and(|t| t >= since) {
                fresh += 1;
            } else if live && h.fails == 0 && h.fail_at.is_none_or(|t| t < since) {
                pending += 1; // its answer to this round is still to come
            }
        }
        let isolated = self.isolated_now();
        // Whether the answers still to come could make a confirmation: half
        // of the electorate with a peer's word, a strict majority without.
        let could = 2 * (fresh + pending);
        let hopeless = if peer_down == Some(true) {
            could < total
        } else {
            could <= total
        };
        if !isolated && peer_down == Some(true) && 2 * fresh >= total {
            if self.declare_down(host, peer, None, out) {
                // Decided on answers to probes sent since it became
                // suspect: the first fence goes out with it.
                self.start_fence(host, 0, 0, out);
            }
        } else if !isolated && 2 * fresh > total {
            if self.declare_down(host, None, Some([fresh, total]), out) {
                self.start_fence(host, 0, 0, out);
            }
        } else if hopeless || isolated {
            // No confirmation can come from this round: it stays up.
            let rt = self.hosts.get_mut(host).expect("known");
            rt.status = HostStatus::Up;
            if !rt.unconfirmed_alerted && !isolated {
                rt.unconfirmed_alerted = true;
                let reason = format!(
                    "{host} misses its probes, but {} and only {fresh} of the other {} hosts not known off answer: nothing is fenced",
                    match (&peer, peer_down) {
                        (Some(p), Some(true)) => format!("{p} cannot reach it either"),
                        (Some(p), _) => format!("{p} could not tell whether it reaches it"),
                        (None, _) => "no peer that answers could be asked".to_string(),
                    },
                    total - 1
                );
                out.alerts.push(Alert::HostUnconfirmed {
                    host: host.to_string(),
                    reason,
                });
            }
        }
    }

    /// Whether at least half of the electorate (`host`, the host to fence,
    /// counted but never heard from) answered a probe sent at or after
    /// `since`: the runtime is not cut off from the pool, now.
    pub(super) fn heard_since(&self, host: &str, since: Millis) -> bool {
        let mut total = 0u32;
        let mut fresh = 0u32;
        for (name, h) in &self.hosts {
            match h.status {
                HostStatus::Fenced | HostStatus::Maintenance => continue,
                _ => total += 1,
            }
            let live = matches!(h.status, HostStatus::Up | HostStatus::Returning { .. });
            if name != host && live && h.fails == 0 && h.ok_at.is_some_and(|t| t >= since) {
                fresh += 1;
            }
        }
        2 * fresh >= total
    }

    /// Whether a host other than `host` that could answer has not been
    /// probed since `since` and has no probe in flight.
    pub(super) fn unheard_since(&self, host: &str, since: Millis) -> bool {
        self.hosts.iter().any(|(name, h)| {
            name != host
                && h.probe.is_none()
                && matches!(
                    h.status,
                    HostStatus::Up | HostStatus::Confirming { .. } | HostStatus::Returning { .. }
                )
                && h.ok_at.max(h.fail_at).is_none_or(|t| t < since)
        })
    }
}
