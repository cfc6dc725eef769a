//! Helpers shared by the platform suites: one place to read fixtures and
//! look into pools, so a change of API touches one file.

#![allow(dead_code)]

use std::path::PathBuf;

use haplan_import::{File, ImportError, Imported, Options, Platform};
use serde_json::Value;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/import")
}

/// The files `names` of `fixtures/import/<dir>/`, as (name, bytes).
pub fn read(dir: &str, names: &[&str]) -> Vec<(String, Vec<u8>)> {
    names
        .iter()
        .map(|n| {
            let p = fixtures().join(dir).join(n);
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (format!("{dir}/{n}"), bytes)
        })
        .collect()
}

pub fn as_files(files: &[(String, Vec<u8>)]) -> Vec<File<'_>> {
    files.iter().map(|(n, b)| File::new(n, b)).collect()
}

/// The mapping alone (no loader): for pools with extension fields.
pub fn convert(
    p: Platform,
    files: &[(String, Vec<u8>)],
    o: &Options,
) -> Result<Imported, ImportError> {
    haplan_import::convert(p, &as_files(files), o)
}

/// The whole import, validated by haplan's loader.
pub fn import(
    p: Platform,
    files: &[(String, Vec<u8>)],
    o: &Options,
) -> Result<Imported, ImportError> {
    import_with_loader(p, &as_files(files), o)
}

pub fn import_str(p: Platform, name: &str, text: &str) -> Result<Imported, ImportError> {
    import_with_loader(p, &[File::new(name, text.as_bytes())], &Options::default())
}

pub fn convert_str(p: Platform, name: &str, text: &str) -> Result<Imported, ImportError> {
    haplan_import::convert(p, &[File::new(name, text.as_bytes())], &Options::default())
}

pub fn codes(i: &Imported) -> Vec<&'static str> {
    i.warnings.iter().map(|w| w.code).collect()
}

pub fn has_warning(i: &Imported, code: &str, text: &str) -> bool {
    i.warnings
        .iter()
        .any(|w| w.code == code && w.message.contains(text))
}

pub fn vm<'a>(pool: &'a Value, name: &str) -> &'a Value {
    pool["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no VM {name} in {pool:#}"))
}

pub fn has_vm(pool: &Value, name: &str) -> bool {
    pool["vms"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == name)
}

pub fn host<'a>(pool: &'a Value, name: &str) -> &'a Value {
    pool["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no host {name} in {pool:#}"))
}

pub fn group<'a>(pool: &'a Value, name: &str) -> &'a Value {
    pool["vm_groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no vm_groups in {pool:#}"))
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no group {name} in {pool:#}"))
}

/// The VMs whose `anti_affinity` is `group`: a strict group of at most
/// one per host, which the importers write in the format's own field.
pub fn anti_affinity<'a>(pool: &'a Value, group: &str) -> Vec<&'a str> {
    pool["vms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["anti_affinity"] == group)
        .map(|v| v["name"].as_str().unwrap())
        .collect()
}

pub fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

/// haplan's loader on an imported pool.
pub fn load(pool: &Value) -> haplan::Pool {
    haplan::pool_from_value(pool)
        .unwrap_or_else(|e| panic!("haplan rejects the import: {e}\n{pool:#}"))
}

/// The exact tolerance of a pool.
pub fn max_tolerable(pool: &haplan::Pool) -> u32 {
    let r = haplan::check(pool, &haplan::CheckOptions::default());
    assert!(r.exact);
    r.max_tolerable as u32
}

/// The placements of the plan for `failed`: (VM, host).
pub fn plan(pool: &haplan::Pool, failed: &[&str]) -> (Vec<(String, String)>, Vec<String>) {
    let f = haplan::failure_set(pool, failed).unwrap();
    let p = haplan::plan(pool, &f, &haplan::Budget::unlimited());
    let placed = p
        .placements
        .iter()
        .map(|pl| {
            (
                pool.vms[pl.vm].name.clone(),
                pool.hosts[pl.host].name.clone(),
            )
        })
        .collect();
    let unplaced = p
        .unplaced
        .iter()
        .map(|u| pool.vms[u.vm].name.clone())
        .collect();
    (placed, unplaced)
}

/// haplan's loader, as the importers take it.
pub fn loader(pool: &Value) -> Result<(), String> {
    haplan::pool_from_value(pool)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The whole import, validated by haplan's loader.
pub fn import_with_loader(
    p: Platform,
    files: &[File<'_>],
    o: &Options,
) -> Result<Imported, ImportError> {
    haplan_import::import(p, files, o, &loader)
}
