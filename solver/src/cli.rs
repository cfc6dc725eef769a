//! The `haplan` command line (`docs/cli.md`). `run` takes its streams as
//! arguments so that tests drive exactly what the binary does.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::headroom::{self, HeadroomOptions, Shape};
use crate::model::Pool;
use crate::pack::Budget;
use crate::plan::{self, Scope};
use crate::scenario::Analysis;
use crate::tolerance::{self, CheckOptions, Verdict};
use crate::{agility, diff, load, report, whatif};

/// Exit codes, a contract (docs/cli.md).
pub const EXIT_OK: i32 = 0;
pub const EXIT_NOT_OK: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;
pub const EXIT_UNDECIDED: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "haplan",
    version,
    about = "Exact host-failure tolerance and restart plans for virtualization pools",
    after_help = "Exit codes: 0 the pool meets what was asked; 1 it does not (overcommitted, or a \
protected VM is not agile); 2 bad input or usage; 3 undecided (the time limit ran out)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decide whether the pool tolerates K simultaneous host failures.
    Check {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        /// K to check against (default: the file's ha.host_failures_to_tolerate).
        #[arg(long, value_name = "K")]
        tolerate: Option<u32>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Stop after this many seconds with proved bounds (exit 3 if they do not settle it).
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        time_limit: Option<Duration>,
        /// Show a failing set of size max_tolerable + 1 even when the pool meets K.
        #[arg(long)]
        explain: bool,
        /// Worker threads (default: one per core). The answer never depends on it.
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// How to decide (for comparisons): `full` (default), `enumerate`
        /// (every failure set, no set-level bounds), `ilp-per-set`.
        #[arg(long, value_enum, default_value = "full", hide_short_help = true)]
        strategy: StrategyArg,
    },
    /// The restart plan if exactly the given hosts fail now.
    Plan {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        /// Comma-separated names of the hosts that fail.
        #[arg(long, value_name = "H1,H2,...", value_delimiter = ',', required = true)]
        fail: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        time_limit: Option<Duration>,
    },
    /// For every protected VM, the hosts it could restart on, and why none when so.
    Agility {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// What the pool would tolerate after a list of changes (the file is not edited).
    ///
    /// CHANGES is a JSON list of changes (docs/whatif.md): add_host, remove_host,
    /// resize_host, maintenance, set_host_state, add_vm, remove_vm, resize_vm,
    /// set_priority, set_restart, set_tolerance. Exit code as for check, on the
    /// changed pool.
    Whatif {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        /// Change file (a JSON list of changes), or - for standard input.
        changes: String,
        /// K for both pools (default: each pool's ha.host_failures_to_tolerate,
        /// after the changes that of the changed pool).
        #[arg(long, value_name = "K")]
        tolerate: Option<u32>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Stop after this many seconds (both checks together) with proved bounds.
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        time_limit: Option<Duration>,
        /// Show a failing set of size max_tolerable + 1 even when a pool meets K.
        #[arg(long)]
        explain: bool,
    },
    /// Compare two versions of a pool for CI: exit 1 when NEW is worse than the policy allows.
    ///
    /// NEW fails when it tolerates fewer than K failures, a protected VM in it is
    /// not agile, or (with --no-regress) it tolerates fewer failures than OLD.
    Diff {
        /// The pool as it was (haplan/v1 JSON), or - for standard input.
        old: String,
        /// The pool as it would be, or - for standard input.
        new: String,
        /// K for both pools (default: NEW's ha.host_failures_to_tolerate).
        #[arg(long, value_name = "K")]
        tolerate: Option<u32>,
        /// Also fail when NEW tolerates fewer host failures than OLD.
        #[arg(long)]
        no_regress: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Stop after this many seconds (both checks together) with proved bounds.
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        time_limit: Option<Duration>,
        /// Show a failing set of size max_tolerable + 1 even when a pool meets K.
        #[arg(long)]
        explain: bool,
        /// Also report the headroom of both pools for VMs of this shape (a JSON
        /// object of resource amounts, as for headroom).
        #[arg(long, value_name = "JSON")]
        vm: Option<String>,
        /// With --vm: storage the VM needs (comma-separated).
        #[arg(
            long,
            value_name = "SR1,SR2,...",
            value_delimiter = ',',
            requires = "vm"
        )]
        storage: Vec<String>,
        /// With --vm: networks the VM needs (comma-separated).
        #[arg(
            long,
            value_name = "NET1,NET2,...",
            value_delimiter = ',',
            requires = "vm"
        )]
        networks: Vec<String>,
    },
    /// How many more protected VMs of one shape can start with the pool still tolerating K.
    ///
    /// Exact: a placement that achieves the count (verified by a tolerance
    /// check) and why one more does not fit; per host, how many fit there
    /// alone. Exit code as for check, on the pool as it is; 3 when a time
    /// limit left the count open.
    Headroom {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        /// The VM's demand: a JSON object of resource amounts, e.g. '{"memory_mib": 32768, "vcpus": 8}'.
        #[arg(long, value_name = "JSON", required = true)]
        vm: String,
        /// Storage the VM's disks need (comma-separated).
        #[arg(long, value_name = "SR1,SR2,...", value_delimiter = ',')]
        storage: Vec<String>,
        /// Networks the VM's NICs need (comma-separated).
        #[arg(long, value_name = "NET1,NET2,...", value_delimiter = ',')]
        networks: Vec<String>,
        /// K the pool must still tolerate (default: the file's ha.host_failures_to_tolerate).
        #[arg(long, value_name = "K")]
        tolerate: Option<u32>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Stop after this many seconds with proved bounds (exit 3 if they differ).
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        time_limit: Option<Duration>,
        /// How to close the gap between the bounds (for comparisons):
        /// `auto` (default), `search` (every placement), `master` (an
        /// integer program over the failure sets seen).
        #[arg(long, value_enum, default_value = "auto", hide_short_help = true)]
        method: MethodArg,
    },
    /// Print the JSON Schema of the pool format.
    Schema,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum MethodArg {
    Auto,
    Search,
    Master,
}

impl From<MethodArg> for headroom::Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Auto => headroom::Method::Auto,
            MethodArg::Search => headroom::Method::Search,
            MethodArg::Master => headroom::Method::Master,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum StrategyArg {
    Full,
    Enumerate,
    IlpPerSet,
}

impl From<StrategyArg> for tolerance::Strategy {
    fn from(s: StrategyArg) -> Self {
        match s {
            StrategyArg::Full => tolerance::Strategy::Full,
            StrategyArg::Enumerate => tolerance::Strategy::Enumerate,
            StrategyArg::IlpPerSet => tolerance::Strategy::IlpPerSet,
        }
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("not a number of seconds: {s}"))?;
    if !secs.is_finite() || secs < 0.0 || secs > 1e9 {
        return Err(format!("not a usable number of seconds: {s}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The JSON Schema of the pool format.
pub const POOL_SCHEMA: &str = include_str!("../schema/haplan-v1.schema.json");

/// Runs the command line; returns the exit code.
pub fn run<I, T>(
    args: I,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            };
            let text = e.render().to_string();
            let out: &mut dyn Write = if e.use_stderr() { stderr } else { stdout };
            let _ = out.write_all(text.as_bytes());
            return code;
        }
    };
    let (code, text) = match execute(cli, stdin) {
        Ok(done) => done,
        Err(message) => {
            let _ = writeln!(stderr, "haplan: {message}");
            return EXIT_BAD_INPUT;
        }
    };
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            let _ = writeln!(stderr, "haplan: cannot write output: {e}");
            EXIT_BAD_INPUT
        }
        _ => code,
    }
}

/// The text of `file` (`-`: standard input) and the name to show for it.
fn read_text(file: &str, stdin: &mut dyn Read) -> Result<(String, String), String> {
    let mut text = String::new();
    let shown = if file == "-" { "<stdin>" } else { file };
    let read = if file == "-" {
        stdin.read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    read.map_err(|e| format!("cannot read {shown}: {e}"))?;
    Ok((shown.to_string(), text))
}

fn read_pool(file: &str, stdin: &mut dyn Read) -> Result<Pool, String> {
    let (shown, text) = read_text(file, stdin)?;
    load::parse_pool(&text).map_err(|e| format!("{shown}: {e}"))
}

/// The VM of `--vm`, `--storage` and `--networks`.
fn read_shape(vm: &str, storage: &[String], networks: &[String]) -> Result<Shape, String> {
    Shape::parse(vm, "--vm", storage, networks).map_err(|e| e.to_string())
}

/// Standard input can be read once.
fn one_stdin(a: &str, b: &str, names: &str) -> Result<(), String> {
    if a == "-" && b == "-" {
        Err(format!(
            "{names} cannot both be - (standard input is read once)"
        ))
    } else {
        Ok(())
    }
}

fn exit_code(v: Verdict) -> i32 {
    match v {
        Verdict::Ok => EXIT_OK,
        Verdict::NotOk => EXIT_NOT_OK,
        Verdict::Undecided => EXIT_UNDECIDED,
    }
}

fn json(value: serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(&value).expect("serializable");
    s.push('\n');
    s
}

fn execute(cli: Cli, stdin: &mut dyn Read) -> Result<(i32, String), String> {
    match cli.command {
        Command::Check {
            file,
            tolerate,
            format,
            time_limit,
            explain,
            threads,
            strategy,
        } => {
            let pool = read_pool(&file, stdin)?;
            let opts = CheckOptions {
                tolerate,
                time_limit,
                explain,
                cancel: None,
                strategy: strategy.into(),
            };
            let report = match threads {
                Some(0) => return Err("--threads must be at least 1".to_string()),
                Some(n) => rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| format!("cannot start {n} threads: {e}"))?
                    .install(|| tolerance::check(&pool, &opts)),
                None => tolerance::check(&pool, &opts),
            };
            let code = exit_code(report.verdict());
            let text = match format {
                Format::Json => json(report::check_json(&pool, &report)),
                Format::Text => report::check_text(&pool, &report),
            };
            Ok((code, text))
        }
        Command::Plan {
            file,
            fail,
            format,
            time_limit,
        } => {
            let pool = read_pool(&file, stdin)?;
            let failed = crate::failure_set(&pool, &fail).map_err(|e| e.to_string())?;
            let an = Analysis::new(&pool);
            let budget = Budget {
                deadline: time_limit.map(|d| std::time::Instant::now() + d),
                cancel: None,
            };
            let p = plan::plan(&an, &failed, Scope::All, &budget);
            let code = if !p.exact && !p.all_protected_placed(&pool) {
                EXIT_UNDECIDED
            } else if p.all_protected_placed(&pool) {
                EXIT_OK
            } else {
                EXIT_NOT_OK
            };
            let text = match format {
                Format::Json => json(report::plan_json(&pool, &p)),
                Format::Text => report::plan_text(&pool, &p),
            };
            Ok((code, text))
        }
        Command::Agility { file, format } => {
            let pool = read_pool(&file, stdin)?;
            let ag = agility::Agility::of(&pool);
            let code = if ag.not_agile.is_empty() {
                EXIT_OK
            } else {
                EXIT_NOT_OK
            };
            Ok((code, agility_output(&pool, &ag, format)))
        }
        Command::Whatif {
            file,
            changes,
            tolerate,
            format,
            time_limit,
            explain,
        } => {
            one_stdin(&file, &changes, "FILE and CHANGES")?;
            let (shown, text) = read_text(&file, stdin)?;
            let before = load::parse_pool(&text).map_err(|e| format!("{shown}: {e}"))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).expect("a valid pool is JSON");
            let (shown, text) = read_text(&changes, stdin)?;
            let changed = whatif::apply_text(&value, &text).map_err(|e| format!("{shown}: {e}"))?;
            let opts = CheckOptions {
                tolerate,
                time_limit,
                explain,
                ..CheckOptions::default()
            };
            let r = whatif::what_if(&before, &changed.pool, &opts);
            let text = match format {
                Format::Json => json(report::whatif_json(
                    &before,
                    &changed.pool,
                    &changed.changes,
                    &r,
                )),
                Format::Text => report::whatif_text(&before, &changed.pool, &changed.changes, &r),
            };
            Ok((exit_code(r.verdict()), text))
        }
        Command::Diff {
            old,
            new,
            tolerate,
            no_regress,
            format,
            time_limit,
            explain,
            vm,
            storage,
            networks,
        } => {
            one_stdin(&old, &new, "OLD and NEW")?;
            let old = read_pool(&old, stdin)?;
            let new = read_pool(&new, stdin)?;
            let shape = match &vm {
                Some(vm) => {
                    let shape = read_shape(vm, &storage, &networks)?;
                    // A resource neither pool knows is a typo; one only OLD
                    // or NEW knows is a resource the other has none of.
                    if shape.check_resources(&old, "--vm").is_err() {
                        shape
                            .check_resources(&new, "--vm")
                            .map_err(|e| e.to_string())?;
                    }
                    Some(shape)
                }
                None => None,
            };
            let opts = diff::DiffOptions {
                check: CheckOptions {
                    tolerate,
                    time_limit,
                    explain,
                    ..CheckOptions::default()
                },
                no_regress,
                vm: shape.as_ref(),
            };
            let d = diff::diff(&old, &new, &opts);
            if let Some(h) = &d.headroom {
                for side in [&h.old, &h.new] {
                    if let Err(e) = side {
                        return Err(format!("--vm: {e}"));
                    }
                }
            }
            let text = match format {
                Format::Json => json(report::diff_json(&old, &new, &d)),
                Format::Text => report::diff_text(&old, &new, &d),
            };
            Ok((exit_code(d.verdict()), text))
        }
        Command::Headroom {
            file,
            vm,
            storage,
            networks,
            tolerate,
            format,
            time_limit,
            method,
        } => {
            let pool = read_pool(&file, stdin)?;
            let shape = read_shape(&vm, &storage, &networks)?;
            shape
                .check_resources(&pool, "--vm")
                .map_err(|e| e.to_string())?;
            let opts = HeadroomOptions {
                tolerate,
                time_limit,
                cancel: None,
                method: method.into(),
            };
            let r = headroom::headroom(&pool, &shape, &opts).map_err(|e| format!("--vm: {e}"))?;
            let text = match format {
                Format::Json => json(report::headroom_json(&pool, &r)),
                Format::Text => report::headroom_text(&pool, &r),
            };
            Ok((exit_code(r.verdict()), text))
        }
        Command::Schema => Ok((EXIT_OK, POOL_SCHEMA.to_string())),
    }
}

fn agility_output(pool: &Pool, ag: &agility::Agility, format: Format) -> String {
    match format {
        Format::Json => json(report::agility_json(pool, ag)),
        Format::Text => report::agility_text(pool, ag),
    }
}
