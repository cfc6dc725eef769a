//! The ROADEF/EURO 2012 challenge's machine reassignment instances (Google's
//! data, published with the challenge and in several public repositories,
//! e.g. wjaskowski/roadef-challange-2012-public, `data/A` and `data/B`) as
//! haplan pools.
//!
//! A model file lists resources, machines (with capacities), services and
//! processes (with requirements); an assignment file gives each process's
//! machine. The pool: one host per machine, its capacity the machine's
//! scaled by a factor (floor), resources `r0`, `r1`, …; one protected VM
//! per process on its assigned machine, its demand the requirements; each
//! service of two or more processes one anti-affinity group (the
//! challenge's conflict constraint: a service's processes run on distinct
//! machines). Neighbourhoods, locations, spread, dependencies, transient
//! resources and costs are left out.

use serde_json::{Value, json};

/// A problem in an instance file: what was expected, and where.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

struct Numbers<'a> {
    it: std::str::SplitAsciiWhitespace<'a>,
    what: &'static str,
    read: usize,
}

impl Numbers<'_> {
    fn next(&mut self, field: &str) -> Result<i64, Error> {
        let tok = self.it.next().ok_or_else(|| {
            Error(format!(
                "{}: ends after {} numbers, before {field}",
                self.what, self.read
            ))
        })?;
        self.read += 1;
        tok.parse().map_err(|_| {
            Error(format!(
                "{}: number {} ({field}) is {tok:?}",
                self.what, self.read
            ))
        })
    }

    fn count(&mut self, field: &str, most: i64) -> Result<usize, Error> {
        let n = self.next(field)?;
        if !(0..=most).contains(&n) {
            return Err(Error(format!(
                "{}: {field} is {n}, not in 0..={most}",
                self.what
            )));
        }
        Ok(n as usize)
    }
}

/// The pool for one instance: `model` and `assignment` are the files' text,
/// `scale` multiplies every capacity (1.0: as published).
pub fn pool(name: &str, model: &str, assignment: &str, scale: f64) -> Result<Value, Error> {
    let mut m = Numbers {
        it: model.split_ascii_whitespace(),
        what: "model",
        read: 0,
    };
    let nres = m.count("the number of resources", 64)?;
    for _ in 0..nres {
        m.next("a resource's transient flag")?;
        m.next("a resource's load cost weight")?;
    }
    let nmach = m.count("the number of machines", 100_000)?;
    let mut caps = Vec::with_capacity(nmach);
    for _ in 0..nmach {
        m.next("a machine's neighbourhood")?;
        m.next("a machine's location")?;
        let cap: Vec<i64> = (0..nres)
            .map(|_| m.next("a machine's capacity"))
            .collect::<Result<_, _>>()?;
        for _ in 0..nres {
            m.next("a machine's safety capacity")?;
        }
        for _ in 0..nmach {
            m.next("a machine move cost")?;
        }
        caps.push(cap);
    }
    let nserv = m.count("the number of services", 10_000_000)?;
    for _ in 0..nserv {
        m.next("a service's spread")?;
        let deps = m.count("a service's number of dependencies", nserv as i64)?;
        for _ in 0..deps {
            m.next("a service dependency")?;
        }
    }
    let nproc = m.count("the number of processes", 10_000_000)?;
    let mut procs = Vec::with_capacity(nproc);
    let mut members = vec![0usize; nserv];
    for _ in 0..nproc {
        let s = m.count("a process's service", nserv as i64 - 1)?;
        let req: Vec<i64> = (0..nres)
            .map(|_| m.next("a process's requirement"))
            .collect::<Result<_, _>>()?;
        m.next("a process move cost")?;
        members[s] += 1;
        procs.push((s, req));
    }
    let mut a = Numbers {
        it: assignment.split_ascii_whitespace(),
        what: "assignment",
        read: 0,
    };
    let placed: Vec<usize> = (0..nproc)
        .map(|_| a.count("a process's machine", nmach as i64 - 1))
        .collect::<Result<_, _>>()?;
    let res = |r: usize| format!("r{r}");
    let hosts: Vec<Value> = caps
        .iter()
        .enumerate()
        .map(|(h, cap)| {
            let c: serde_json::Map<String, Value> = cap
                .iter()
                .enumerate()
                .map(|(r, &x)| (res(r), json!((x as f64 * scale).floor() as i64)))
                .collect();
            json!({"name": format!("m{h:04}"), "capacity": c})
        })
        .collect();
    let vms: Vec<Value> = procs
        .iter()
        .zip(&placed)
        .enumerate()
        .map(|(p, ((s, req), &h))| {
            let d: serde_json::Map<String, Value> = req
                .iter()
                .enumerate()
                .map(|(r, &x)| (res(r), json!(x)))
                .collect();
            let mut vm =
                json!({"name": format!("p{p:05}"), "host": format!("m{h:04}"), "demand": d});
            if members[*s] >= 2 {
                vm["anti_affinity"] = json!(format!("s{s}"));
            }
            vm
        })
        .collect();
    Ok(json!({"format": "haplan/v1", "name": name,
              "ha": {"host_failures_to_tolerate": 2}, "hosts": hosts, "vms": vms}))
}
