//! The modules of every library crate (the solver core, the answers' wire
//! format, the HA runtime, its drivers and service, the importers, the
//! HTML report and the command line) depend on each other without a cycle,
//! so that each can be read, tested and moved with only what lies below
//! it; and the core is the pure library: no I/O, no command line, no
//! hypervisor.
//!
//! The edges are read from the source: in a module's files (a top-level
//! `src/x.rs` or `src/x/mod.rs` and everything under `src/x/`), every path
//! `crate::y...`, `crate::{y, ...}` and, in a top-level file, `super::y` is
//! an edge from x to y; a name the crate root re-exports (`crate::check`,
//! `pub use tolerance::{check, ...}`) is an edge to the module it comes
//! from. Comments and `#[cfg(test)] mod tests` are left out: a test may
//! look anywhere. The crate root (`lib.rs`) is the facade over all of
//! them and no node.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of a source file without its line comments and without its
/// trailing `#[cfg(test)] mod tests`.
fn code(text: &str) -> String {
    let text = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |i| &text[..i]);
    text.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first identifier of `s` (empty when it starts with none).
fn ident(s: &str) -> &str {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segment of every item `prefix` (`crate::` or `super::`)
/// reaches in `code`: `crate::a::b` gives `a`, `crate::{a::b, c}` gives `a`
/// and `c`.
fn targets(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `foo_crate::`, not a path of this crate
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = 0;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push(ident(&group[start..k]).to_string());
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(&group[start..k]).to_string());
                        start = k + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest).to_string());
        }
    }
    out.retain(|t| !t.is_empty());
    out
}

/// Names the crate root re-exports, with the module each comes from
/// (`pub use tolerance::{check, CheckOptions}`, `pub use machine::Runtime`).
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let lib = code(lib);
    for stmt in lib.split(';') {
        let Some(path) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let module = ident(path).to_string();
        let Some(items) = path[module.len()..].strip_prefix("::") else {
            continue;
        };
        let items = items.trim().trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let name = item.rsplit(" as ").next().unwrap();
            let name = ident(name.rsplit("::").next().unwrap());
            if !name.is_empty() {
                out.insert(name.to_string(), module.clone());
            }
        }
    }
    out
}

/// The module graph of the crate whose sources are in `src`.
fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let module_of = |path: &Path| -> Option<(String, bool)> {
        let rel = path.strip_prefix(src).unwrap();
        let mut parts = rel.iter().map(|p| p.to_str().unwrap());
        let first = parts.next()?;
        let nested = parts.next().is_some();
        let name = first.trim_end_matches(".rs");
        (!matches!(name, "lib" | "main")).then(|| (name.to_string(), nested))
    };
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_of(f).map(|(m, _)| m))
        .collect();
    let names = reexports(&fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for file in &files {
        let Some((module, nested)) = module_of(file) else {
            continue;
        };
        let code = code(&fs::read_to_string(file).unwrap());
        let mut reached = targets(&code, "crate::");
        if !nested {
            reached.extend(targets(&code, "super::"));
        }
        for t in reached {
            let target = if modules.contains(&t) {
                Some(t)
            } else {
                names.get(&t).cloned()
            };
            if let Some(target) = target.filter(|t| *t != module) {
                graph.get_mut(&module).unwrap().insert(target);
            }
        }
    }
    graph
}

/// A cycle of `graph`, as the modules along it (the first repeated at the
/// end), if it has one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit<'g>(
        g: &'g Graph,
        node: &'g str,
        state: &mut BTreeMap<&'g str, bool>,
        path: &mut Vec<&'g str>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => return None, // done: no cycle through it
            Some(false) => {
                let from = path.iter().position(|&n| n == node).unwrap();
                let mut c: Vec<String> = path[from..].iter().map(|s| s.to_string()).collect();
                c.push(node.to_string());
                return Some(c);
            }
            None => {}
        }
        state.insert(node, false);
        path.push(node);
        for next in g.get(node).into_iter().flatten() {
            if let Some(c) = visit(g, next, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(node, true);
        None
    }
    let mut state = BTreeMap::new();
    graph
        .keys()
        .find_map(|n| visit(graph, n, &mut state, &mut Vec::new()))
}

fn check_crate(dir: &str) -> Graph {
    let g = graph(&workspace_root().join(dir).join("src"));
    if let Some(c) = cycle(&g) {
        panic!(
            "{dir}: the modules depend on each other in a cycle: {}\n(move what they share into a module below both)\nthe graph: {g:#?}",
            c.join(" -> ")
        );
    }
    g
}

#[test]
fn the_core_modules_have_no_cycle() {
    let g = check_crate("solver/core");
    // The graph is read at all: a few edges every version has.
    assert!(g["tolerance"].contains("pack"), "{g:#?}");
    assert!(g["load"].contains("model"), "{g:#?}");
    assert!(g["headroom"].contains("tolerance"), "{g:#?}");
}

#[test]
fn the_runtime_modules_have_no_cycle() {
    let g = check_crate("solver/runtime");
    assert!(g["sim"].contains("machine"), "{g:#?}");
    assert!(g["log"].contains("machine"), "{g:#?}");
}

/// The runtime's state machine (`solver/runtime/src/machine/`) split by
/// concern, in layers: a concern may use only the ones in layers below
/// its own, so none of them reaches back up. `mod.rs` (the `Runtime` and
/// its state, `handle` and the dispatch of each event to the concern
/// that takes it) is above them all and is no node.
const MACHINE_LAYERS: &[&[&str]] = &[
    // The model kept in step with the file, action bookkeeping; what
    // restart planning sees.
    &["model", "planning"],
    &["fence"],
    // Detection declares hosts down and fences them; reconciliation holds
    // fences and takes returning hosts back.
    &["detect", "reconcile"],
    // Restarts, maintenance and outside changes look VMs up, in doubt or
    // sighted, through reconciliation.
    &["restart", "maintenance", "changes", "recalc"],
    // Admission asks maintenance for its drain plan; settling runs every
    // timer of every concern.
    &["admission", "settle"],
];

/// The functions `code` defines (every `fn name`).
fn functions(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("fn ") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + 3..];
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.insert(ident(rest).to_string());
        }
    }
    out.retain(|f| !f.is_empty());
    out
}

/// The methods `code` calls on `self` (`self.f(`, `self\n    .f(`,
/// `Self::f(`).
fn self_calls(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for prefix in ["self", "Self::"] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let after = if prefix == "self" {
                match rest.trim_start().strip_prefix('.') {
                    Some(a) => a,
                    None => continue,
                }
            } else {
                rest
            };
            let name = ident(after);
            if after[name.len()..].trim_start().starts_with('(') {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// The graph of the submodules in `dir` (the files beside its `mod.rs`):
/// an edge from x to y for every `super::y` path in x and every method
/// x calls on `self` that y defines.
fn submodule_graph(dir: &Path) -> Graph {
    let mut code_of = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.extension().is_some_and(|e| e == "rs") && name != "mod" {
            code_of.insert(name, code(&fs::read_to_string(&path).unwrap()));
        }
    }
    let defined: BTreeMap<&String, BTreeSet<String>> =
        code_of.iter().map(|(m, c)| (m, functions(c))).collect();
    let mut graph = Graph::new();
    for (module, code) in &code_of {
        let mut edges: BTreeSet<String> = targets(code, "super::")
            .into_iter()
            .filter(|t| code_of.contains_key(t))
            .collect();
        for call in self_calls(code) {
            for (other, fns) in &defined {
                if fns.contains(&call) {
                    edges.insert((*other).clone());
                }
            }
        }
        edges.remove(module);
        graph.insert(module.clone(), edges);
    }
    graph
}

/// The edges of `graph` that do not go to a lower layer of `layers` (and
/// the modules no layer names).
fn against_layers(graph: &Graph, layers: &[&[&str]]) -> Vec<String> {
    let layer = |m: &str| layers.iter().position(|l| l.contains(&m));
    let mut bad = Vec::new();
    for (from, tos) in graph {
        let Some(lf) = layer(from) else {
            bad.push(format!("{from} is in no layer"));
            continue;
        };
        for to in tos {
            if layer(to).is_none_or(|lt| lt >= lf) {
                bad.push(format!("{from} -> {to}"));
            }
        }
    }
    bad
}

#[test]
fn the_runtime_state_machine_is_layered_by_concern() {
    let dir = workspace_root().join("solver/runtime/src/machine");
    let g = submodule_graph(&dir);
    if let Some(c) = cycle(&g) {
        panic!(
            "solver/runtime/src/machine: the concerns depend on each other in a cycle: {}\nthe graph: {g:#?}",
            c.join(" -> ")
        );
    }
    let bad = against_layers(&g, MACHINE_LAYERS);
    assert!(
        bad.is_empty(),
        "solver/runtime/src/machine: a concern uses one in its own layer or above (MACHINE_LAYERS; move what they share down, or change the layers with the reason):\n{}\nthe graph: {g:#?}",
        bad.join("\n")
    );
    // The graph is read at all: edges by call and by path.
    assert!(g["detect"].contains("fence"), "{g:#?}");
    assert!(g["restart"].contains("reconcile"), "{g:#?}");
    assert!(g["changes"].contains("model"), "{g:#?}");
    assert!(g["settle"].contains("restart"), "{g:#?}");
    assert!(g["model"].is_empty(), "{g:#?}");
}

#[test]
fn calls_on_self_and_layers_are_read() {
    let code = "fn a(&mut self) {\n    self.b(1);\n    self\n        .c(2);\n    self.field.d();\n    Self::e();\n    myself.f();\n}\nfn g() {}\n";
    assert_eq!(functions(code).into_iter().collect::<Vec<_>>(), ["a", "g"]);
    assert_eq!(
        self_calls(code).into_iter().collect::<Vec<_>>(),
        ["b", "c", "e"]
    );
    let edge = |a: &str, bs: &[&str]| (a.to_string(), bs.iter().map(|b| b.to_string()).collect());
    let g: Graph = [
        edge("low", &[]),
        edge("mid", &["low"]),
        edge("top", &["mid", "top2"]),
        edge("top2", &[]),
    ]
    .into();
    assert_eq!(
        against_layers(&g, &[&["low"], &["mid"], &["top", "top2"]]),
        ["top -> top2"]
    );
    assert_eq!(
        against_layers(&g, &[&["low"], &["mid"]]),
        ["top is in no layer", "top2 is in no layer"]
    );
}

#[test]
fn the_drivers_modules_have_no_cycle() {
    let g = check_crate("solver/drivers");
    // The runner and the ipmitool wrapper share the fence-agent API's
    // vocabulary from below instead of from each other.
    assert!(g["fence"].contains("ipmitool"), "{g:#?}");
    assert!(g["ipmitool"].contains("agent"), "{g:#?}");
    assert!(g["import"].contains("libvirt"), "{g:#?}");
}

#[test]
fn the_modules_of_the_other_crates_have_no_cycle() {
    let import = check_crate("solver/import");
    assert!(import["proxmox"].contains("draft"), "{import:#?}");
    let service = check_crate("solver/service");
    assert!(service["live"].contains("files"), "{service:#?}");
    // The exit codes lie below the commands that return them.
    let cli = check_crate("solver/cli");
    assert!(cli["cli"].contains("fleet"), "{cli:#?}");
    assert!(cli["fleet"].contains("exit"), "{cli:#?}");
    let wire = check_crate("solver/wire");
    assert!(wire["schema"].contains("report"), "{wire:#?}");
    // Its modules share nothing but the crate root today.
    let html = check_crate("solver/html");
    assert!(html.contains_key("render"), "{html:#?}");
}

#[test]
fn edges_are_read_from_paths_groups_and_reexports() {
    let code = code(
        "use crate::model::*;\nuse crate::{pack::{self, Budget}, scenario};\n// crate::commented\nlet x = crate::plan::and_list(&v);\nuse super::{log, Input};\nlet y = other_crate::z;\n#[cfg(test)]\nmod tests {\n    use crate::testonly;\n}\n",
    );
    assert_eq!(
        targets(&code, "crate::"),
        ["model", "pack", "scenario", "plan"]
    );
    assert_eq!(targets(&code, "super::"), ["log", "Input"]);
    let names = reexports(
        "pub use tolerance::{CheckOptions, check};\npub use plan::{Plan, verify as verify_plan};\npub use machine::Runtime;\n",
    );
    assert_eq!(names["check"], "tolerance");
    assert_eq!(names["verify_plan"], "plan");
    assert_eq!(names["Runtime"], "machine");
}

#[test]
fn a_cycle_is_found_and_named() {
    let edge = |a: &str, bs: &[&str]| (a.to_string(), bs.iter().map(|b| b.to_string()).collect());
    let acyclic: Graph = [edge("a", &["b", "c"]), edge("b", &["c"]), edge("c", &[])].into();
    assert_eq!(cycle(&acyclic), None);
    let cyclic: Graph = [
        edge("pack", &["setbound"]),
        edge("scenario", &["pack"]),
        edge("setbound", &["scenario"]),
    ]
    .into();
    assert_eq!(
        cycle(&cyclic).unwrap(),
        ["pack", "setbound", "scenario", "pack"]
    );
}

/// The library crate's dependencies (`[dependencies]` of its Cargo.toml):
/// every name before a `=` or a `.workspace` key.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            deps.insert(ident(line.split(['=', '.']).next().unwrap_or("")).to_string());
        }
    }
    deps
}

/// What the core may not do: read or write files, the network, the
/// terminal or the environment, or start processes. The callers (the
/// command line, the runtime's service, the bindings) do that.
const IO: &[&str] = &[
    "std::fs",
    "std::net",
    "std::io",
    "std::env",
    "std::process",
    "File::",
    "println!",
    "eprintln!",
    "print!",
    "eprint!",
    "Command::",
];

#[test]
fn the_core_does_no_io_and_knows_no_command_line_or_hypervisor() {
    let core = workspace_root().join("solver/core");
    let deps = dependencies(&fs::read_to_string(core.join("Cargo.toml")).unwrap());
    assert!(deps.contains("rayon") && deps.contains("serde"), "{deps:?}");
    // Only the libraries of the algorithms and of the data: no command
    // line, no hypervisor, no terminal, no network.
    let allowed = [
        "good_lp",
        "rayon",
        "serde",
        "serde_json",
        // The searches' recursion, as deep as the hosts, grows its stack.
        "stacker",
        "strsim",
        "thiserror",
    ];
    let extra: Vec<_> = deps
        .iter()
        .filter(|d| !allowed.contains(&d.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "solver/core depends on {extra:?}: the core is the pure library (ARCHITECTURE.md); put it in the crate that does the I/O, or add it here with the reason"
    );
    let mut files = Vec::new();
    rust_files(&core.join("src"), &mut files);
    assert!(files.len() > 10, "{files:?}");
    let mut found = Vec::new();
    for file in &files {
        let text = code(&fs::read_to_string(file).unwrap());
        for (n, line) in text.lines().enumerate() {
            for what in IO.iter().filter(|w| line.contains(**w)) {
                found.push(format!("{}:{}: {what}", file.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the core does no I/O (ARCHITECTURE.md):\n{}",
        found.join("\n")
    );
}

#[test]
fn dependencies_are_read_from_the_dependencies_table_only() {
    let deps = dependencies(
        "[package]\nname = \"x\"\n\n[dependencies]\n# note\nrayon.workspace = true\nserde = { version = \"1\" }\nclap = \"4\"\n\n[dev-dependencies]\nproptest.workspace = true\n",
    );
    assert_eq!(
        deps.into_iter().collect::<Vec<_>>(),
        ["clap", "rayon", "serde"]
    );
}
