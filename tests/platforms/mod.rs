//! The importers against exports in each platform's format
//! (`fixtures/import/<platform>/`): the mapping of every field, the
//! warnings, the errors, and that haplan's loader and solver accept what
//! comes out (`docs/import.md` is the mapping these tests hold to).
//!
//! Pools that use the pool-model extension (`vm_groups`,
//! `preferred_hosts`, per-host and failover overcommit, numeric
//! priorities) are checked field by field through `convert`, then loaded
//! and solved by haplan.

mod common;

mod ganeti;
mod kubevirt;
mod openstack;
mod proxmox;
mod samples;
mod vsphere;
mod xen;
