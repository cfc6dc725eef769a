//! haplan's HA runtime against real hosts: the driver traits of
//! `haplan-runtime` over libvirt connections and fence agents, and a loop
//! that runs the state machine in real time with its journal on disk.

pub mod live;
