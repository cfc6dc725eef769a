//! The `haplan` command line (`docs/cli.md`). `run` takes its streams as
//! arguments so that tests drive exactly what the binary does.

mod supervise;

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use haplan::drain::{self, DrainOptions};
use haplan::headroom::{self, HeadroomOptions, Shape};
use haplan::model::Pool;
use haplan::pack::Budget;
use haplan::plan::{self, Scope};
use haplan::scenario::Analysis;
use haplan::strict::quoted;
use haplan::tolerance::{self, CheckOptions, Progress, Verdict};
use haplan::{agility, diff, limits, load, timing, whatif};
use haplan_wire::report;
use haplan_wire::schema::Answer;

use crate::fleet::{self, FleetFormat};
use crate::github;

pub use crate::exit::{EXIT_BAD_INPUT, EXIT_NOT_OK, EXIT_OK, EXIT_UNDECIDED};

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
    /// Worker threads of the search, 1 to 1024 (default: one per core). The
    /// answer never depends on it.
    #[arg(long, value_name = "N", global = true, value_parser = parse_threads)]
    threads: Option<usize>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    /// The text, then GitHub Actions workflow annotations (`::error
    /// file=...::`): the verdict, or each problem of a bad input.
    Github,
}

/// `check`'s formats: also Markdown, for a pull-request comment.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum CheckFormat {
    Text,
    Json,
    /// The text, then GitHub Actions workflow annotations.
    Github,
    Markdown,
}

/// `diff`'s formats: also Markdown and a self-contained HTML page.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum DiffFormat {
    Text,
    Json,
    /// The text, then GitHub Actions workflow annotations.
    Github,
    Markdown,
    Html,
}

/// `report`'s formats: the page, the JSON it is rendered from, Markdown.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ReportFormat {
    Html,
    Json,
    Markdown,
}

impl CheckFormat {
    /// As `Format`, for errors and annotations (Markdown: as text).
    fn base(self) -> Format {
        match self {
            CheckFormat::Json => Format::Json,
            CheckFormat::Github => Format::Github,
            CheckFormat::Text | CheckFormat::Markdown => Format::Text,
        }
    }
}

impl DiffFormat {
    /// As `Format`, for errors and annotations (Markdown, HTML: as text).
    fn base(self) -> Format {
        match self {
            DiffFormat::Json => Format::Json,
            DiffFormat::Github => Format::Github,
            DiffFormat::Text | DiffFormat::Markdown | DiffFormat::Html => Format::Text,
        }
    }
}

/// A number of seconds, or `none` for no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seconds(Option<Duration>);

/// The budget of the commands that check tolerance.
#[derive(clap::Args, Clone, Copy, Debug)]
struct BudgetArgs {
    /// Wall time for the whole run, from the start of the process: reading
    /// the input, set-up, the search and the answer (`none`: no limit).
    /// When it runs out the answer is what was proved (exit 3 when that
    /// does not settle K).
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_limit)]
    time_limit: Seconds,
    /// Once K is decided, how much longer each check may search for the
    /// exact max_tolerable (0: stop once K is decided; `none`: until the
    /// time limit). It never changes the exit code.
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_limit)]
    max_time: Seconds,
}

/// The time limit of the commands that have no maximum to search.
#[derive(clap::Args, Clone, Copy, Debug)]
struct TimeLimitArg {
    /// Wall time for the whole run, from the start of the process: reading
    /// the input, set-up, the search and the answer (`none`: no limit).
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_limit)]
    time_limit: Seconds,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ImportFormat {
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum SizingArg {
    Configured,
    Reservation,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decide whether the pool tolerates K simultaneous host failures.
    Check {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        /// K to check against (default: the file's ha.host_failures_to_tolerate).
        #[arg(long, value_name = "K", value_parser = parse_tolerate)]
        tolerate: Option<u32>,
        #[arg(long, value_enum, default_value = "text")]
        format: CheckFormat,
        #[command(flatten)]
        budget: BudgetArgs,
        /// Show a failing set of size max_tolerable + 1 even when the pool meets K.
        #[arg(long)]
        explain: bool,
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
        #[command(flatten)]
        limit: TimeLimitArg,
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
        #[arg(long, value_name = "K", value_parser = parse_tolerate)]
        tolerate: Option<u32>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        budget: BudgetArgs,
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
        #[arg(long, value_name = "K", value_parser = parse_tolerate)]
        tolerate: Option<u32>,
        /// Also fail when NEW tolerates fewer host failures than OLD.
        #[arg(long)]
        no_regress: bool,
        /// `markdown` for a pull-request comment, `html` for a page (with
        /// --explain they show the smallest failure set each pool does not survive).
        #[arg(long, value_enum, default_value = "text")]
        format: DiffFormat,
        #[command(flatten)]
        budget: BudgetArgs,
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
        #[arg(long, value_name = "K", value_parser = parse_tolerate)]
        tolerate: Option<u32>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        budget: BudgetArgs,
        /// How to close the gap between the bounds (for comparisons):
        /// `auto` (default), `search` (every placement), `master` (an
        /// integer program over the failure sets seen).
        #[arg(long, value_enum, default_value = "auto", hide_short_help = true)]
        method: MethodArg,
    },
    /// Whether a host can go into maintenance with the pool still tolerating K.
    ///
    /// Its running and paused VMs are live-migrated to other hosts they may
    /// run on (nothing else moves; halted VMs stay). Exact: a migration plan
    /// whose end state passes a tolerance check against K (exit 0), or a
    /// proof that none exists (exit 1): a VM with no target, the pool failing
    /// K even without the host's VMs, or every assignment of them tried.
    /// Exit 3 when a time limit or the search's limit left it open.
    Drain {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        /// The host to drain (it must be up).
        host: String,
        /// K the pool must still tolerate (default: the file's ha.host_failures_to_tolerate).
        #[arg(long, value_name = "K", value_parser = parse_tolerate)]
        tolerate: Option<u32>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        budget: BudgetArgs,
    },
    /// Tolerance per restart-priority tier, and what is lost beyond it.
    ///
    /// For each priority present (critical first), the failures under which
    /// every protected VM of that priority or higher still restarts; then,
    /// for each k past the pool's tolerance, the tiers still safe, the VMs at
    /// risk and a failing set with what its restart plan strands. Exit code
    /// as for check (the lowest tier is the whole pool).
    Tiers {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        /// K for the verdict (default: the file's ha.host_failures_to_tolerate).
        #[arg(long, value_name = "K", value_parser = parse_tolerate)]
        tolerate: Option<u32>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        budget: BudgetArgs,
    },
    /// Check many pools at once: one row per pool file, and a summary.
    ///
    /// Each PATH is a pool file, a directory (its *.json files and those of
    /// its subdirectories), a glob pattern (quoted, so that the shell leaves
    /// it alone) or -, a list of files and directories on standard input,
    /// one per line. Pools are
    /// checked in parallel; a file that cannot be read or is not a valid pool
    /// is a row with its error. Exit code: 1 when any pool misses its policy,
    /// else 2 when any could not be checked, else 3 when any is undecided,
    /// else 0.
    Fleet {
        /// Pool files, directories of pool files, glob patterns, or - (a list
        /// of paths on standard input, one per line).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
        /// K for every pool (default: each file's ha.host_failures_to_tolerate).
        #[arg(long, value_name = "K", value_parser = parse_tolerate)]
        tolerate: Option<u32>,
        #[arg(long, value_enum, default_value = "text")]
        format: FleetFormat,
        /// Stop each pool's check after this many seconds with proved bounds.
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        time_limit: Option<Duration>,
    },
    /// How long until every protected VM runs again after the worst tolerated failure.
    ///
    /// Detection (ha.failure_threshold x ha.check_interval_s) + fencing
    /// (--fence-time) + the restart schedule: order groups as the HA runtime
    /// starts them, start delays, per-VM boot times (vms[].boot_time_s, else
    /// --boot-time), at most --concurrency starts at once. The worst case is
    /// over every set of at most K up hosts (exact up to 200,000 sets, else a
    /// greedy lower bound with a warning). Exit 1 when the pool does not
    /// tolerate K (the witness is shown) or a protected VM would not restart.
    Timing {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        /// K of the worst case (default: the file's ha.host_failures_to_tolerate).
        #[arg(long, value_name = "K", conflicts_with = "fail", value_parser = parse_tolerate)]
        tolerate: Option<u32>,
        /// Boot time of a VM without boot_time_s, in seconds.
        #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_whole_seconds)]
        boot_time: u64,
        /// At most this many VM starts in flight at once (default: no limit, as the runtime).
        #[arg(long, value_name = "N", value_parser = parse_concurrency)]
        concurrency: Option<u32>,
        /// How long your fence agents take to confirm a host off, in seconds.
        #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_whole_seconds)]
        fence_time: u64,
        /// Estimate for exactly these hosts failing (comma-separated), not the worst case.
        #[arg(long, value_name = "H1,H2,...", value_delimiter = ',')]
        fail: Option<Vec<String>>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Enumerate every failure set when there are at most this many
        /// (beyond it, a greedy search gives a lower bound).
        #[arg(
            long,
            value_name = "N",
            default_value = "200000",
            hide_short_help = true,
            value_parser = parse_set_limit
        )]
        set_limit: u64,
        #[command(flatten)]
        limit: TimeLimitArg,
    },
    /// A report to look at: one self-contained HTML page (no script, no network).
    ///
    /// The verdict, per host the used, reserved and spare amount of every
    /// resource, the worst failure set and what it strands, the protected
    /// VMs that are not agile, the tolerance of each restart-priority tier,
    /// the restart timeline after the worst tolerated failure, and the
    /// headroom for each --vm shape. One --time-limit covers every part; the
    /// page says which parts are bounds. Exit code as for check; 3 when the
    /// pool meets K but the time limit left a part open.
    Report {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        /// K (default: the file's ha.host_failures_to_tolerate).
        #[arg(long, value_name = "K")]
        tolerate: Option<u32>,
        /// Also the headroom for VMs of this shape (a JSON object of resource
        /// amounts, as for headroom); may be given several times.
        #[arg(long, value_name = "JSON")]
        vm: Vec<String>,
        /// Storage the --vm shapes need (comma-separated).
        #[arg(
            long,
            value_name = "SR1,SR2,...",
            value_delimiter = ',',
            requires = "vm"
        )]
        storage: Vec<String>,
        /// Networks the --vm shapes need (comma-separated).
        #[arg(
            long,
            value_name = "NET1,NET2,...",
            value_delimiter = ',',
            requires = "vm"
        )]
        networks: Vec<String>,
        /// `html` (the page), `json` (the answers it is rendered from) or `markdown`.
        #[arg(long, value_enum, default_value = "html")]
        format: ReportFormat,
        /// Write the report to this file (whole, or not at all) instead of standard output.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<String>,
        #[command(flatten)]
        limit: TimeLimitArg,
    },
    /// Print the JSON Schema of the pool format, or of one command's JSON answer.
    ///
    /// `haplan schema` prints the pool format's; `haplan schema check` (plan,
    /// agility, whatif, diff, headroom, drain, tiers, timing) that of the
    /// answer `haplan check --format json` prints.
    Schema {
        /// The command whose answer to describe; the pool format without it.
        #[arg(value_parser = answer_parser())]
        answer: Option<Answer>,
    },
    /// Print a shell completion script (bash, elvish, fish, powershell, zsh).
    ///
    /// For example `haplan completions bash > /usr/share/bash-completion/completions/haplan`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `haplan man > haplan.1`, or that
    /// of one command (`haplan man check > haplan-check.1`).
    Man {
        /// The command whose page to print (default: haplan itself).
        command: Option<String>,
    },
    /// Build a pool file from a platform's own exports, or from live libvirt
    /// hosts, printed on standard output.
    ///
    /// PLATFORM is proxmox, vsphere, xen, openstack, kubevirt or ganeti,
    /// followed by its exported files, each recognised by its content (- for
    /// standard input); docs/import.md says what to export and how each field
    /// maps. Or libvirt, followed by hosts as NAME=URI, e.g.
    /// h1=qemu+ssh://root@h1/system (also without the word libvirt): their
    /// URIs are kept in labels.libvirt_uri (what `haplan run --driver libvirt`
    /// uses); HA settings and fencing are left for you to add. Warnings (what
    /// the platform does not say, a VM that is not agile) go to standard
    /// error; nothing is printed unless the whole pool reads.
    Import {
        /// The pool's name (default: the cluster's name in the exports, else
        /// the platform's; for libvirt, "imported").
        #[arg(long)]
        name: Option<String>,
        /// The output: a haplan/v1 pool file.
        #[arg(long, value_enum, default_value = "json")]
        format: ImportFormat,
        /// vSphere: size VMs by their configured memory (default) or by their
        /// reservations (memory MiB and CPU MHz, as the slot policy counts).
        #[arg(long, value_enum, value_name = "SIZING")]
        vsphere_sizing: Option<SizingArg>,
        /// Also model vCPUs, with this many vCPUs per host CPU (platforms that
        /// put no limit on vCPU overcommit: Proxmox VE, vSphere, XenServer,
        /// Nova without Placement).
        #[arg(long, value_name = "RATIO")]
        cpu_overcommit: Option<f64>,
        /// PLATFORM, then its files (or, for libvirt, its hosts as NAME=URI).
        #[arg(required = true, value_name = "PLATFORM FILE")]
        args: Vec<String>,
    },
    /// Watch the HA runtime keep the pool: a simulated failover, step by step.
    ///
    /// The runtime runs against simulated hosts (docs/runtime.md): health
    /// checks, peer confirmation, fencing, ordered restarts with retries. Faults
    /// are injected at simulated times in seconds; the run prints every step
    /// that is not routine, then how long each crashed host's protected VMs
    /// took to run again. Exit 1 if a safety invariant broke (a VM on two hosts,
    /// a restart before a fence), which would be a bug.
    Run {
        /// Pool file (haplan/v1 JSON), or - for standard input.
        file: String,
        /// The host loses power at this time (its VMs die).
        #[arg(long, value_name = "HOST@SECONDS")]
        crash: Vec<String>,
        /// The host loses its network (to the runtime and its peers) but runs on.
        #[arg(long, value_name = "HOST@SECONDS")]
        isolate: Vec<String>,
        /// Only the runtime loses sight of the host; its peers still reach it.
        #[arg(long, value_name = "HOST@SECONDS")]
        unreachable: Vec<String>,
        /// The host's fence devices fail until this time (forever without @).
        #[arg(long, value_name = "HOST[@SECONDS]")]
        fence_fails: Vec<String>,
        /// The VM crashes on its (healthy) host.
        #[arg(long, value_name = "VM@SECONDS")]
        crash_vm: Vec<String>,
        /// The runtime itself dies at this time and recovers from its log 5 s later.
        #[arg(long, value_name = "SECONDS")]
        restart_runtime: Vec<f64>,
        /// How long to run, in seconds (simulated; default 120). With
        /// `--driver libvirt` it runs until stopped (SIGTERM, SIGINT) unless
        /// this is given.
        #[arg(long, value_name = "SECONDS")]
        until: Option<f64>,
        /// Seed of the simulation's latencies.
        #[arg(long, default_value = "1")]
        seed: u64,
        /// Also print routine steps (probes answered, ticks).
        #[arg(long)]
        verbose: bool,
        /// Write the runtime's log (JSON lines) to this file. With
        /// `--driver libvirt` the log is appended to and resumed from: a
        /// runtime started again goes on from its log (one runtime per log:
        /// FILE.lock), and the VM definitions are kept in
        /// FILE.definitions.json.
        #[arg(long, value_name = "FILE")]
        log: Option<String>,
        /// `--driver libvirt`: take operator events on this Unix socket
        /// (docs/runtime.md, the control interface; `haplan control`).
        #[arg(long, value_name = "SOCKET")]
        control: Option<String>,
        /// `--driver libvirt`: serve Prometheus metrics at
        /// http://ADDR/metrics (e.g. 127.0.0.1:9664).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// `sim`: simulated hosts; `libvirt`: the real hosts of the pool file
        /// (labels.libvirt_uri, fence agents), in real time, printing each step
        /// as it happens (faults then come from the real world).
        #[arg(long, value_enum, default_value = "sim")]
        driver: DriverArg,
    },
    /// Send one operator event to a running `haplan run --control SOCKET`
    /// and print its answer, e.g. `haplan control /run/haplan/pool.sock
    /// '{"type": "fence_confirmed", "host": "h1"}'`. Exit 1 if the runtime
    /// refused it.
    Control {
        /// The runtime's control socket.
        socket: String,
        /// The event, as JSON (docs/runtime.md).
        event: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum DriverArg {
    Sim,
    Libvirt,
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
    limits::time_limit(secs)
}

/// Seconds from 0 to 1e9, or `none`.
fn parse_limit(s: &str) -> Result<Seconds, String> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(Seconds(None));
    }
    parse_seconds(s.trim())
        .map(|d| Seconds(Some(d)))
        .map_err(|e| format!("{e} (or none)"))
}

/// A whole number of seconds, as the pool format's settings (at most 2^32 - 1).
fn parse_whole_seconds(s: &str) -> Result<u64, String> {
    limits::WHOLE_SECONDS.parse(s).map_err(|e| {
        format!(
            "not a whole number of seconds from 0 to {}: {}",
            e.max, e.found
        )
    })
}

fn parse_concurrency(s: &str) -> Result<u32, String> {
    limits::CONCURRENCY
        .parse(s)
        .map(|n| n as u32)
        .map_err(|e| e.to_string())
}

fn parse_threads(s: &str) -> Result<usize, String> {
    limits::THREADS
        .parse(s)
        .map(|n| n as usize)
        .map_err(|e| e.to_string())
}

fn parse_tolerate(s: &str) -> Result<u32, String> {
    limits::TOLERATE
        .parse(s)
        .map(|n| n as u32)
        .map_err(|e| e.to_string())
}

fn parse_set_limit(s: &str) -> Result<u64, String> {
    limits::SET_LIMIT.parse(s).map_err(|e| e.to_string())
}

/// The JSON Schema of the pool format.
pub const POOL_SCHEMA: &str = include_str!("../../core/schema/haplan-v1.schema.json");

/// Runs the command line; returns the exit code. The clock of
/// `--time-limit` starts now.
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
    run_from(Instant::now(), false, args, stdin, stdout, stderr)
}

/// [`run`] as the `haplan` process runs it: the clock of `--time-limit`
/// started at `start` (when the process did), and with `show_progress` a
/// run that takes a while shows on stderr what it has proved so far.
pub fn run_from<I, T>(
    start: Instant,
    show_progress: bool,
    args: I,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                let _ = stdout.write_all(e.render().to_string().as_bytes());
                return EXIT_OK;
            }
            // clap's `error: ...`, as every message of haplan: `haplan: ...`.
            let text = e.render().to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            let err = CliError::usage(text.trim_end().to_string());
            return fail(&err, format_in_args(&args), stdout, stderr);
        }
    };
    let format = cli.command.format().unwrap_or(Format::Text);
    // `--format github` renders the text; the annotations are added below.
    if format == Format::Github {
        cli.command.github_as_text();
    }
    if let Command::Import {
        name,
        format: ImportFormat::Json,
        vsphere_sizing,
        cpu_overcommit,
        args,
    } = &cli.command
    {
        let first = args[0].as_str();
        let libvirt = first == "libvirt" || first.contains('=');
        if libvirt {
            let hosts = if first == "libvirt" {
                &args[1..]
            } else {
                &args[..]
            };
            let problem = if hosts.is_empty() {
                Some("libvirt needs hosts as NAME=URI")
            } else if vsphere_sizing.is_some() || cpu_overcommit.is_some() {
                Some("--vsphere-sizing and --cpu-overcommit do not apply to libvirt")
            } else {
                None
            };
            if let Some(p) = problem {
                let _ = writeln!(stderr, "haplan: {p}");
                return EXIT_BAD_INPUT;
            }
            return import(name.as_deref().unwrap_or("imported"), hosts, stdout, stderr);
        }
        let options = haplan_import::Options {
            name: name.clone(),
            vsphere_sizing: match vsphere_sizing {
                Some(SizingArg::Reservation) => haplan_import::VsphereSizing::Reservation,
                _ => haplan_import::VsphereSizing::Configured,
            },
            cpu_overcommit: *cpu_overcommit,
        };
        return import_exports(first, &args[1..], &options, stdin, stdout, stderr);
    }
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "haplan", stdout);
        return EXIT_OK;
    }
    if let Command::Fleet {
        paths,
        tolerate,
        format,
        time_limit,
    } = &cli.command
    {
        let request = FleetRequest {
            paths,
            tolerate: *tolerate,
            time_limit: *time_limit,
            format: *format,
            threads: cli.threads,
        };
        return run_fleet(&request, stdin, stdout, stderr);
    }
    #[cfg(feature = "drivers")]
    if let Command::Control { socket, event } = &cli.command {
        let line = match serde_json::from_str::<serde_json::Value>(event) {
            Ok(e) => serde_json::json!({"event": e}).to_string(),
            Err(e) => {
                let _ = writeln!(stderr, "haplan: the event is not JSON: {e}");
                return EXIT_BAD_INPUT;
            }
        };
        return match haplan_service::control::request(std::path::Path::new(socket), &line) {
            Ok(answer) => {
                let _ = writeln!(stdout, "{answer}");
                let ok = serde_json::from_str::<serde_json::Value>(&answer)
                    .ok()
                    .and_then(|v| v.get("ok").and_then(|o| o.as_bool()))
                    .unwrap_or(false);
                if ok { EXIT_OK } else { EXIT_NOT_OK }
            }
            Err(e) => {
                let _ = writeln!(stderr, "haplan: {e}");
                EXIT_BAD_INPUT
            }
        };
    }
    #[cfg(feature = "drivers")]
    if let Command::Run {
        driver: DriverArg::Libvirt,
        ..
    } = &cli.command
    {
        return match run_live(cli.command, stdin, stdout) {
            Ok(code) => code,
            Err(message) => fail(&CliError::from(message), format, stdout, stderr),
        };
    }
    let file = cli.command.input_file();
    let threads = cli.threads;
    let budget = cli.command.budget().unwrap_or(CommandBudget {
        time_limit: Seconds(None),
        max_time: Seconds(None),
    });
    let inputs = cli.command.inputs();
    let limits = supervise::Limits {
        start,
        time_limit: budget.time_limit.0,
        max_time: budget.max_time.0,
        show_progress,
    };
    let job = move |read: &mut Reader<'_>, ctx: &Ctx| match threads {
        None => execute(cli, read, ctx),
        // The command runs on the pool's threads.
        Some(n) => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
            Err(e) => Err(format!("cannot start {n} threads: {e}").into()),
            Ok(pool) => pool.install(|| execute(cli, read, ctx)),
        },
    };
    let done = match supervise::run(&limits, &inputs, stdin, job) {
        supervise::Ended::Done(done) => done,
        supervise::Ended::TimedOut(message) => {
            let _ = writeln!(stderr, "haplan: {message}");
            return EXIT_UNDECIDED;
        }
    };
    let (code, text) = match done {
        Ok(done) => done,
        Err(err) => return fail(&err, format, stdout, stderr),
    };
    let text = match format {
        Format::Github => github::report(&text, code, file.as_deref()),
        _ => text,
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

/// The budget of a command, as `BudgetArgs` (for the commands with only a
/// time limit, no maximum is searched beyond K).
#[derive(Clone, Copy, Debug)]
struct CommandBudget {
    time_limit: Seconds,
    max_time: Seconds,
}

impl Command {
    /// The budget of a command that has one.
    fn budget(&self) -> Option<CommandBudget> {
        let full = |b: &BudgetArgs| {
            Some(CommandBudget {
                time_limit: b.time_limit,
                max_time: b.max_time,
            })
        };
        let only = |l: &TimeLimitArg| {
            Some(CommandBudget {
                time_limit: l.time_limit,
                max_time: Seconds(Some(Duration::ZERO)),
            })
        };
        match self {
            Command::Check { budget, .. }
            | Command::Whatif { budget, .. }
            | Command::Diff { budget, .. }
            | Command::Headroom { budget, .. }
            | Command::Drain { budget, .. }
            | Command::Tiers { budget, .. } => full(budget),
            Command::Plan { limit, .. }
            | Command::Timing { limit, .. }
            | Command::Report { limit, .. } => only(limit),
            _ => None,
        }
    }

    /// The files a command reads (`-`: standard input), in order.
    fn inputs(&self) -> Vec<String> {
        match self {
            Command::Check { file, .. }
            | Command::Plan { file, .. }
            | Command::Agility { file, .. }
            | Command::Headroom { file, .. }
            | Command::Drain { file, .. }
            | Command::Tiers { file, .. }
            | Command::Timing { file, .. }
            | Command::Report { file, .. }
            | Command::Run { file, .. } => vec![file.clone()],
            Command::Whatif { file, changes, .. } => vec![file.clone(), changes.clone()],
            Command::Diff { old, new, .. } => vec![old.clone(), new.clone()],
            _ => Vec::new(),
        }
    }
}

/// What `execute` needs of the budget: when to stop, and where the checks
/// say what they have proved.
pub(crate) struct Ctx {
    /// When the search stops: the time limit, counted from the start of
    /// the process.
    pub(crate) deadline: Option<Instant>,
    pub(crate) max_time: Option<Duration>,
    pub(crate) cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub(crate) progress: std::sync::Arc<Progress>,
    /// A pool has been read and validated.
    pub(crate) loaded: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Ctx {
    /// The time left until the deadline.
    fn time_limit(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Check options with this budget.
    fn check(&self, tolerate: Option<u32>, explain: bool) -> CheckOptions<'_> {
        CheckOptions {
            tolerate,
            time_limit: self.time_limit(),
            explain,
            cancel: Some(&self.cancel),
            max_time: self.max_time,
            progress: Some(&self.progress),
            ..CheckOptions::default()
        }
    }

    fn budget(&self) -> Budget<'_> {
        Budget {
            deadline: self.deadline,
            cancel: Some(&self.cancel),
        }
    }
}

/// What `haplan fleet` was asked.
struct FleetRequest<'a> {
    paths: &'a [String],
    tolerate: Option<u32>,
    time_limit: Option<Duration>,
    format: FleetFormat,
    threads: Option<usize>,
}

/// `haplan fleet`: the files named, checked on `threads` threads.
fn run_fleet(
    request: &FleetRequest<'_>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let &FleetRequest {
        paths,
        tolerate,
        time_limit,
        format,
        threads,
    } = request;
    let err_format = match format {
        FleetFormat::Json => Format::Json,
        FleetFormat::Text | FleetFormat::Csv => Format::Text,
    };
    let files = match fleet::expand(paths, stdin) {
        Ok(files) => files,
        Err(message) => return fail(&CliError::from(message), err_format, stdout, stderr),
    };
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    let (code, text) = match builder.build() {
        Ok(pool) => pool.install(|| fleet::run(&files, tolerate, time_limit, format)),
        Err(e) => {
            let message = format!("cannot start threads: {e}");
            return fail(&CliError::from(message), err_format, stdout, stderr);
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

/// Why a command could not answer (exit 2): a message, and for a file
/// that was rejected, the file and each problem with its place.
#[derive(Clone, Debug)]
struct CliError {
    /// `usage` (the command line itself), `invalid_input` (a file or a
    /// flag's value), `invalid_argument` (a question that does not fit the
    /// pool: an unknown host, a host in maintenance), or `error` (anything
    /// else: a file that cannot be read).
    kind: &'static str,
    message: String,
    file: Option<String>,
    problems: Vec<haplan::Problem>,
    omitted: usize,
}

impl CliError {
    fn usage(message: String) -> Self {
        CliError {
            kind: "usage",
            message,
            file: None,
            problems: Vec::new(),
            omitted: 0,
        }
    }

    /// A rejected input: `file` (a file's name, or a flag such as `--vm`)
    /// and its problems.
    fn invalid(file: &str, message: String, problems: &[haplan::Problem], omitted: usize) -> Self {
        CliError {
            kind: "invalid_input",
            message,
            file: Some(file.to_string()),
            problems: problems.to_vec(),
            omitted,
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let problems: Vec<serde_json::Value> = self
            .problems
            .iter()
            .map(|p| {
                serde_json::json!({
                    "path": p.path, "message": p.message, "line": p.line, "column": p.column,
                })
            })
            .collect();
        serde_json::json!({
            "error": self.kind,
            "message": self.message,
            "file": self.file,
            "problems": problems,
            "omitted": self.omitted,
        })
    }
}

impl CliError {
    /// A question that does not fit the pool (`haplan::QueryError`).
    fn argument(message: String) -> Self {
        CliError {
            kind: "invalid_argument",
            ..CliError::from(message)
        }
    }
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError {
            kind: "error",
            message,
            file: None,
            problems: Vec::new(),
            omitted: 0,
        }
    }
}

/// Reports `err` (exit 2): `haplan: ...` on standard error always, and
/// with `--format json` a JSON error object on standard output, with
/// `--format github` a workflow annotation per problem.
fn fail(err: &CliError, format: Format, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let _ = writeln!(stderr, "haplan: {}", err.message);
    let out = match format {
        Format::Json => json(err.to_json()),
        Format::Github => github::problems(
            err.file.as_deref(),
            &err.message,
            &err.problems,
            err.omitted,
        ),
        Format::Text => String::new(),
    };
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush());
    EXIT_BAD_INPUT
}

/// The `--format` of a command line clap rejected, as far as it can be
/// read, so that even a usage error comes as the caller asked.
fn format_in_args(args: &[OsString]) -> Format {
    let mut format = Format::Text;
    let mut args = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = args.next() {
        let value = match a.strip_prefix("--format") {
            Some("") => args.next().map(|v| v.to_string()),
            Some(v) => v.strip_prefix('=').map(str::to_string),
            None => None,
        };
        match value.as_deref() {
            Some("json") => format = Format::Json,
            Some("github") => format = Format::Github,
            Some(_) => format = Format::Text,
            None => {}
        }
    }
    format
}

impl Command {
    /// The `--format` flag of the command, if it has one.
    fn format_slot(&mut self) -> Option<&mut Format> {
        match self {
            Command::Plan { format, .. }
            | Command::Agility { format, .. }
            | Command::Whatif { format, .. }
            | Command::Headroom { format, .. }
            | Command::Drain { format, .. }
            | Command::Tiers { format, .. }
            | Command::Timing { format, .. }
            | Command::Run { format, .. } => Some(format),
            Command::Check { .. }
            | Command::Diff { .. }
            | Command::Report { .. }
            | Command::Schema { .. }
            | Command::Fleet { .. }
            | Command::Import { .. }
            | Command::Completions { .. }
            | Command::Man { .. }
            | Command::Control { .. } => None,
        }
    }

    /// The file the answer is about (for `diff`, NEW), for annotations.
    fn input_file(&self) -> Option<String> {
        match self {
            Command::Check { file, .. }
            | Command::Plan { file, .. }
            | Command::Agility { file, .. }
            | Command::Whatif { file, .. }
            | Command::Headroom { file, .. }
            | Command::Drain { file, .. }
            | Command::Tiers { file, .. }
            | Command::Timing { file, .. }
            | Command::Run { file, .. } => Some(file.clone()),
            Command::Diff { new, .. } => Some(new.clone()),
            _ => None,
        }
    }

    fn format(&mut self) -> Option<Format> {
        match self {
            Command::Check { format, .. } => Some(format.base()),
            Command::Diff { format, .. } => Some(format.base()),
            Command::Report { format, .. } => Some(match format {
                ReportFormat::Json => Format::Json,
                ReportFormat::Html | ReportFormat::Markdown => Format::Text,
            }),
            _ => self.format_slot().copied(),
        }
    }

    /// `--format github` as `--format text` (the annotations are added to
    /// the text afterwards).
    fn github_as_text(&mut self) {
        match self {
            Command::Check { format, .. } if *format == CheckFormat::Github => {
                *format = CheckFormat::Text
            }
            Command::Diff { format, .. } if *format == DiffFormat::Github => {
                *format = DiffFormat::Text
            }
            _ => {
                if let Some(slot) = self.format_slot() {
                    if *slot == Format::Github {
                        *slot = Format::Text;
                    }
                }
            }
        }
    }
}

/// The text of `file` (`-`: standard input) and the name to show for it.
fn read_text(file: &str, stdin: &mut dyn Read) -> Result<(String, String), CliError> {
    let mut bytes = Vec::new();
    let shown = if file == "-" { "<stdin>" } else { file };
    let read = if file == "-" {
        stdin.read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(file).map(|b| bytes = b)
    };
    read.map_err(|e| format!("cannot read {shown}: {e}"))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok((shown.to_string(), text)),
        Err(e) => {
            let p = haplan::strict::utf8(e.as_bytes()).expect_err("not UTF-8");
            let message = format!("{shown}: {p}");
            Err(CliError::invalid(shown, message, &[p], 0))
        }
    }
}

/// Reads a file (`-`: standard input): its name to show and its text.
type Reader<'r> = dyn FnMut(&str) -> Result<(String, String), CliError> + Send + 'r;

fn read_pool(file: &str, read: &mut Reader<'_>, ctx: &Ctx) -> Result<Pool, CliError> {
    let (shown, text) = read(file)?;
    let pool = parse_pool(&shown, &text)?;
    ctx.loaded.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(pool)
}

/// The pool in `text`, read from `shown`.
fn parse_pool(shown: &str, text: &str) -> Result<Pool, CliError> {
    load::parse_pool(text).map_err(|e| pool_error(shown, &e))
}

fn pool_error(shown: &str, e: &haplan::PoolError) -> CliError {
    CliError::invalid(shown, format!("{shown}: {e}"), &e.problems, e.omitted)
}

fn shape_error(e: &haplan::ShapeError) -> CliError {
    CliError::invalid("--vm", e.to_string(), &e.problems, e.omitted)
}

/// The VM of `--vm`, `--storage` and `--networks`.
fn read_shape(vm: &str, storage: &[String], networks: &[String]) -> Result<Shape, CliError> {
    Shape::parse(vm, "--vm", storage, networks).map_err(|e| shape_error(&e))
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
    report::exit_code(v)
}

/// The commands with a JSON answer (`haplan schema ANSWER`), by name.
fn answer_parser() -> impl clap::builder::TypedValueParser<Value = Answer> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Answer::ALL.map(Answer::name))
        .map(|name: String| Answer::from_name(&name).expect("a possible value"))
}

fn json(value: serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(&value).expect("serializable");
    s.push('\n');
    s
}

/// `haplan import`: a pool file from live libvirt hosts.
fn import(name: &str, hosts: &[String], stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    #[cfg(feature = "drivers")]
    {
        use haplan_drivers::import;
        let specs: Result<Vec<(String, String)>, _> =
            hosts.iter().map(|h| import::parse_host_spec(h)).collect();
        let done = specs.and_then(|specs| import::import(name, &specs));
        match done {
            Ok(imported) => {
                for w in &imported.warnings {
                    let _ = writeln!(stderr, "haplan: warning: {w}");
                }
                let _ = stdout.write_all(json(imported.pool).as_bytes());
                EXIT_OK
            }
            Err(e) => {
                let _ = writeln!(stderr, "haplan: {e}");
                EXIT_BAD_INPUT
            }
        }
    }
    #[cfg(not(feature = "drivers"))]
    {
        let _ = (name, hosts, stdout);
        let _ = writeln!(
            stderr,
            "haplan: this haplan was built without the libvirt driver"
        );
        EXIT_BAD_INPUT
    }
}

/// A file of an export may be large, but not without end.
const MAX_EXPORT_BYTES: u64 = 1 << 30;

/// `haplan import PLATFORM FILE...`: a pool file from a platform's exports.
fn import_exports(
    platform: &str,
    files: &[String],
    options: &haplan_import::Options,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let done = (|| -> Result<haplan_import::Imported, String> {
        let platform: haplan_import::Platform = platform.parse().map_err(|_| {
            format!(
                "unknown platform \"{platform}\"; expected one of: proxmox, vsphere, xen, openstack, kubevirt, ganeti, libvirt"
            )
        })?;
        if files.is_empty() {
            return Err(format!(
                "{platform} needs the exported files (docs/import.md)"
            ));
        }
        if files.iter().filter(|f| *f == "-").count() > 1 {
            return Err("- can be given once (standard input is read once)".into());
        }
        let mut read = Vec::with_capacity(files.len());
        for f in files {
            let shown = if f == "-" { "<stdin>" } else { f.as_str() };
            let mut bytes = Vec::new();
            let result = if f == "-" {
                stdin.take(MAX_EXPORT_BYTES + 1).read_to_end(&mut bytes)
            } else {
                std::fs::File::open(f)
                    .and_then(|h| h.take(MAX_EXPORT_BYTES + 1).read_to_end(&mut bytes))
            };
            result.map_err(|e| format!("cannot read {shown}: {e}"))?;
            if bytes.len() as u64 > MAX_EXPORT_BYTES {
                return Err(format!("{shown}: larger than {MAX_EXPORT_BYTES} bytes"));
            }
            read.push((shown.to_string(), bytes));
        }
        let files: Vec<haplan_import::File<'_>> = read
            .iter()
            .map(|(n, b)| haplan_import::File::new(n, b))
            .collect();
        let loader = |pool: &serde_json::Value| {
            load::read_pool_value(pool)
                .map(drop)
                .map_err(|e| e.to_string())
        };
        haplan_import::import(platform, &files, options, &loader).map_err(|e| e.to_string())
    })();
    match done {
        Ok(imported) => {
            for w in &imported.warnings {
                let _ = writeln!(stderr, "haplan: warning: {w}");
            }
            match stdout
                .write_all(json(imported.pool).as_bytes())
                .and_then(|_| stdout.flush())
            {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    let _ = writeln!(stderr, "haplan: cannot write output: {e}");
                    EXIT_BAD_INPUT
                }
                _ => EXIT_OK,
            }
        }
        Err(message) => {
            let _ = writeln!(stderr, "haplan: {message}");
            EXIT_BAD_INPUT
        }
    }
}

fn execute(cli: Cli, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    match cli.command {
        Command::Import { .. } | Command::Completions { .. } | Command::Fleet { .. } => {
            unreachable!("handled before")
        }
        Command::Control { .. } => Err(String::from(
            "this haplan was built without the libvirt driver (feature \"drivers\")",
        )
        .into()),
        Command::Man { command } => {
            let mut top = <Cli as clap::CommandFactory>::command();
            top.build();
            let page = match command {
                None => top,
                Some(name) => {
                    let sub = top
                        .find_subcommand(&name)
                        .ok_or_else(|| format!("man: no command {}", quoted(&name)))?;
                    // The page's name; the process ends soon after.
                    let title: &'static str =
                        Box::leak(format!("haplan-{}", sub.get_name()).into_boxed_str());
                    sub.clone().name(title).version(env!("CARGO_PKG_VERSION"))
                }
            };
            let mut out = Vec::new();
            clap_mangen::Man::new(page)
                .render(&mut out)
                .map_err(|e| format!("cannot render the manual page: {e}"))?;
            Ok((EXIT_OK, String::from_utf8_lossy(&out).into_owned()))
        }
        Command::Run {
            file,
            crash,
            isolate,
            unreachable,
            fence_fails,
            crash_vm,
            restart_runtime,
            until,
            seed,
            verbose,
            log,
            format,
            driver,
            ..
        } => {
            let until = until.unwrap_or(120.0);
            if driver == DriverArg::Libvirt {
                return Err(String::from(
                    "this haplan was built without the libvirt driver (feature \"drivers\")",
                )
                .into());
            }
            let faults = RunFaults {
                crash,
                isolate,
                unreachable,
                fence_fails,
                crash_vm,
                restart_runtime,
            };
            run_sim(
                &file,
                read,
                &faults,
                until,
                seed,
                verbose,
                log.as_deref(),
                format,
            )
        }
        Command::Check {
            file,
            tolerate,
            format,
            budget: _,
            explain,
            strategy,
        } => {
            let pool = read_pool(&file, read, ctx)?;
            let opts = CheckOptions {
                strategy: strategy.into(),
                ..ctx.check(tolerate, explain)
            };
            let report = tolerance::check(&pool, &opts);
            let code = exit_code(report.verdict());
            let text = match format {
                CheckFormat::Json => json(report::check_json(&pool, &report)),
                CheckFormat::Text | CheckFormat::Github => report::check_text(&pool, &report),
                CheckFormat::Markdown => {
                    haplan_html::check_markdown(&report::check_json(&pool, &report))
                        .map_err(|e| e.to_string())?
                }
            };
            Ok((code, text))
        }
        Command::Plan {
            file,
            fail,
            format,
            limit: _,
        } => {
            let pool = read_pool(&file, read, ctx)?;
            let failed =
                haplan::failure_set(&pool, &fail).map_err(|e| CliError::argument(e.to_string()))?;
            let an = Analysis::new(&pool);
            let p = plan::plan(&an, &failed, Scope::All, &ctx.budget());
            let code = exit_code(report::plan_verdict(&pool, &p));
            let text = match format {
                Format::Json => json(report::plan_json(&pool, &p)),
                Format::Text | Format::Github => report::plan_text(&pool, &p),
            };
            Ok((code, text))
        }
        Command::Agility { file, format } => {
            let pool = read_pool(&file, read, ctx)?;
            let ag = agility::Agility::of(&pool);
            let code = exit_code(report::agility_verdict(&ag));
            Ok((code, agility_output(&pool, &ag, format)))
        }
        Command::Whatif {
            file,
            changes,
            tolerate,
            format,
            budget: _,
            explain,
        } => {
            one_stdin(&file, &changes, "FILE and CHANGES")?;
            let (shown, text) = read(&file)?;
            let before = parse_pool(&shown, &text)?;
            let value: serde_json::Value =
                serde_json::from_str(&text).expect("a valid pool is JSON");
            let (shown, text) = read(&changes)?;
            let changed = whatif::apply_text(&value, &text).map_err(|e| {
                CliError::invalid(&shown, format!("{shown}: {e}"), &e.problems, e.omitted)
            })?;
            ctx.loaded.store(true, std::sync::atomic::Ordering::Relaxed);
            let opts = ctx.check(tolerate, explain);
            let r = whatif::what_if(&before, &changed.pool, &opts);
            let text = match format {
                Format::Json => json(report::whatif_json(
                    &before,
                    &changed.pool,
                    &changed.changes,
                    &r,
                )),
                Format::Text | Format::Github => {
                    report::whatif_text(&before, &changed.pool, &changed.changes, &r)
                }
            };
            Ok((exit_code(r.verdict()), text))
        }
        Command::Diff {
            old,
            new,
            tolerate,
            no_regress,
            format,
            budget: _,
            explain,
            vm,
            storage,
            networks,
        } => {
            one_stdin(&old, &new, "OLD and NEW")?;
            let old = read_pool(&old, read, ctx)?;
            let new = read_pool(&new, read, ctx)?;
            let shape = match &vm {
                Some(vm) => {
                    let shape = read_shape(vm, &storage, &networks)?;
                    // A resource neither pool knows is a typo; one only OLD
                    // or NEW knows is a resource the other has none of.
                    if shape.check_resources(&old, "--vm").is_err() {
                        shape
                            .check_resources(&new, "--vm")
                            .map_err(|e| shape_error(&e))?;
                    }
                    Some(shape)
                }
                None => None,
            };
            let opts = diff::DiffOptions {
                check: ctx.check(tolerate, explain),
                no_regress,
                vm: shape.as_ref(),
            };
            let d = diff::diff(&old, &new, &opts);
            if let Some(h) = &d.headroom {
                for side in [&h.old, &h.new] {
                    if let Err(e) = side {
                        return Err(format!("--vm: {e}").into());
                    }
                }
            }
            let text = match format {
                DiffFormat::Json => json(report::diff_json(&old, &new, &d)),
                DiffFormat::Text | DiffFormat::Github => report::diff_text(&old, &new, &d),
                DiffFormat::Markdown => {
                    haplan_html::diff_markdown(&report::diff_json(&old, &new, &d))
                        .map_err(|e| e.to_string())?
                }
                DiffFormat::Html => haplan_html::diff_html(&report::diff_json(&old, &new, &d))
                    .map_err(|e| e.to_string())?,
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
            budget: _,
            method,
        } => {
            let pool = read_pool(&file, read, ctx)?;
            let shape = read_shape(&vm, &storage, &networks)?;
            shape
                .check_resources(&pool, "--vm")
                .map_err(|e| shape_error(&e))?;
            let opts = HeadroomOptions {
                tolerate,
                time_limit: ctx.time_limit(),
                cancel: Some(&ctx.cancel),
                method: method.into(),
                max_time: ctx.max_time,
                progress: Some(&ctx.progress),
            };
            let r = headroom::headroom(&pool, &shape, &opts)
                .map_err(|e| CliError::from(format!("--vm: {e}")))?;
            let text = match format {
                Format::Json => json(report::headroom_json(&pool, &r)),
                Format::Text | Format::Github => report::headroom_text(&pool, &r),
            };
            Ok((exit_code(r.verdict()), text))
        }
        Command::Drain {
            file,
            host,
            tolerate,
            format,
            budget: _,
        } => {
            let pool = read_pool(&file, read, ctx)?;
            let h = drain::host_to_drain(&pool, &host)
                .map_err(|e| CliError::argument(e.to_string()))?;
            let opts = DrainOptions {
                tolerate,
                time_limit: ctx.time_limit(),
                cancel: Some(&ctx.cancel),
                max_time: ctx.max_time,
                progress: Some(&ctx.progress),
                ..DrainOptions::default()
            };
            let r = drain::drain(&pool, h, &opts).map_err(|e| CliError::argument(e.to_string()))?;
            let text = match format {
                Format::Json => json(report::drain_json(&pool, &r)),
                Format::Text | Format::Github => report::drain_text(&pool, &r),
            };
            Ok((exit_code(r.verdict()), text))
        }
        Command::Tiers {
            file,
            tolerate,
            format,
            budget: _,
        } => {
            let pool = read_pool(&file, read, ctx)?;
            let opts = haplan::tiers::TiersOptions {
                tolerate,
                time_limit: ctx.time_limit(),
                cancel: Some(&ctx.cancel),
                max_time: ctx.max_time,
                progress: Some(&ctx.progress),
            };
            let r = haplan::tiers::tiers(&pool, &opts);
            let text = match format {
                Format::Json => json(report::tiers_json(&pool, &r)),
                Format::Text | Format::Github => report::tiers_text(&pool, &r),
            };
            let code = exit_code(report::tiers_verdict(&r));
            Ok((code, text))
        }
        Command::Timing {
            file,
            tolerate,
            boot_time,
            concurrency,
            fence_time,
            fail,
            format,
            set_limit,
            limit: _,
        } => {
            let pool = read_pool(&file, read, ctx)?;
            let fail = match fail {
                Some(names) => Some(
                    haplan::failure_set(&pool, &names)
                        .map_err(|e| CliError::argument(format!("--fail: {e}")))?,
                ),
                None => None,
            };
            let opts = timing::TimingOptions {
                tolerate,
                boot_time_s: boot_time,
                concurrency,
                fence_time_s: fence_time,
                fail,
                set_limit,
                cancel: Some(&ctx.cancel),
                time_limit: ctx.time_limit(),
            };
            let r = timing::timing(&pool, &opts);
            let code = exit_code(report::timing_verdict(&r));
            let text = match format {
                Format::Json => json(report::timing_json(&pool, &r)),
                Format::Text | Format::Github => report::timing_text(&pool, &r),
            };
            Ok((code, text))
        }
        Command::Report {
            file,
            tolerate,
            vm,
            storage,
            networks,
            format,
            output,
            limit,
        } => {
            let pool = read_pool(&file, read, ctx)?;
            let mut shapes = Vec::new();
            for v in &vm {
                let shape = read_shape(v, &storage, &networks)?;
                shape
                    .check_resources(&pool, "--vm")
                    .map_err(|e| e.to_string())?;
                shapes.push(shape);
            }
            let opts = haplan_html::ReportOptions {
                tolerate,
                time_limit: limit.time_limit.0,
                deadline: ctx.deadline,
                shapes,
                cancel: Some(&ctx.cancel),
            };
            let r = haplan_html::gather(&pool, &opts).map_err(|e| format!("--vm: {e}"))?;
            let text = match format {
                ReportFormat::Json => json(r.json),
                ReportFormat::Html => {
                    haplan_html::report_html(&r.json).map_err(|e| e.to_string())?
                }
                ReportFormat::Markdown => {
                    haplan_html::report_markdown(&r.json).map_err(|e| e.to_string())?
                }
            };
            let text = match output {
                Some(path) => {
                    write_whole(&path, &text)?;
                    String::new()
                }
                None => text,
            };
            Ok((exit_code(r.verdict), text))
        }
        Command::Schema { answer: None } => Ok((EXIT_OK, POOL_SCHEMA.to_string())),
        Command::Schema {
            answer: Some(answer),
        } => Ok((EXIT_OK, json(answer.schema()))),
    }
}

/// Writes `text` to `path` whole or not at all: into a new file beside
/// it, then renamed over it.
fn write_whole(path: &str, text: &str) -> Result<(), String> {
    let target = std::path::Path::new(path);
    let name = target
        .file_name()
        .ok_or_else(|| format!("-o {path}: not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = target.with_file_name(tmp_name);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    let done = written.and_then(|_| std::fs::rename(&tmp, target));
    done.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {path}: {e}")
    })
}

fn agility_output(pool: &Pool, ag: &agility::Agility, format: Format) -> String {
    match format {
        Format::Json => json(report::agility_json(pool, ag)),
        Format::Text | Format::Github => report::agility_text(pool, ag),
    }
}

struct RunFaults {
    crash: Vec<String>,
    isolate: Vec<String>,
    unreachable: Vec<String>,
    fence_fails: Vec<String>,
    crash_vm: Vec<String>,
    restart_runtime: Vec<f64>,
}

/// `NAME@SECONDS` as (name, milliseconds); the time is optional when `opt`.
fn at_time(flag: &str, s: &str, opt: bool) -> Result<(String, Option<u64>), String> {
    let (name, t) = match s.rsplit_once('@') {
        Some((n, t)) => (n, Some(t)),
        None if opt => (s, None),
        None => return Err(format!("--{flag} {s}: expected NAME@SECONDS")),
    };
    let ms = match t {
        None => None,
        Some(t) => Some(secs_ms(t).map_err(|e| format!("--{flag} {s}: {e}"))?),
    };
    if name.is_empty() {
        return Err(format!("--{flag} {s}: the name is empty"));
    }
    Ok((name.to_string(), ms))
}

fn secs_ms(t: &str) -> Result<u64, String> {
    let secs: f64 = t
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds: {t}"))?;
    if !secs.is_finite() || !(0.0..=1e7).contains(&secs) {
        return Err(format!("not a usable number of seconds: {t}"));
    }
    Ok((secs * 1000.0).round() as u64)
}

/// With `--verbose`, how many routine steps (probes answered, quiet ticks)
/// `haplan run --driver sim` shows at most; the later ones are counted, not
/// kept, so that memory and output stay bounded however long the run.
pub const VERBOSE_ROUTINE_STEPS_MAX: u64 = 20_000;

#[allow(clippy::too_many_arguments)]
fn run_sim(
    file: &str,
    read: &mut Reader<'_>,
    faults: &RunFaults,
    until: f64,
    seed: u64,
    verbose: bool,
    log: Option<&str>,
    format: Format,
) -> Result<(i32, String), CliError> {
    use haplan_runtime::sim::{Fault, FenceDevice, Sim};
    use haplan_runtime::{Event, text};
    let (shown, text) = read(file)?;
    let pool = parse_pool(&shown, &text)?;
    let doc: serde_json::Value = serde_json::from_str(&text).expect("a valid pool is JSON");
    let until = secs_ms(&until.to_string()).map_err(|e| format!("--until: {e}"))?;
    let host = |flag: &str, name: &str| -> Result<(), String> {
        pool.host_by_name(name)
            .map(|_| ())
            .ok_or_else(|| format!("--{flag}: unknown host {}", quoted(name)))
    };
    let mut sim = Sim::new(doc, seed).map_err(|e| format!("{shown}: {e}"))?;
    sim.record = true;
    // Only the steps that will be shown are kept (without --verbose, the
    // routine ones are not; with it, the first VERBOSE_ROUTINE_STEPS_MAX
    // of them), so memory does not grow with the run's length.
    let routine_kept = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let routine_left_out = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let (kept, left_out) = (routine_kept.clone(), routine_left_out.clone());
    sim.keep = Some(Box::new(move |i, o| {
        if !text::step_lines(i, o, false).is_empty() {
            return true;
        }
        if !verbose {
            return false;
        }
        if kept.get() < VERBOSE_ROUTINE_STEPS_MAX {
            kept.set(kept.get() + 1);
            true
        } else {
            left_out.set(left_out.get() + 1);
            false
        }
    }));
    let mut crashes = Vec::new();
    for s in &faults.crash {
        let (h, t) = at_time("crash", s, false)?;
        host("crash", &h)?;
        let t = t.expect("required");
        sim.inject(t, Fault::CrashHost(h.clone()));
        crashes.push((h, t));
    }
    for s in &faults.isolate {
        let (h, t) = at_time("isolate", s, false)?;
        host("isolate", &h)?;
        sim.inject(
            t.expect("required"),
            Fault::Partition {
                host: h,
                from_peers: true,
            },
        );
    }
    for s in &faults.unreachable {
        let (h, t) = at_time("unreachable", s, false)?;
        host("unreachable", &h)?;
        sim.inject(
            t.expect("required"),
            Fault::Partition {
                host: h,
                from_peers: false,
            },
        );
    }
    for s in &faults.fence_fails {
        let (h, t) = at_time("fence-fails", s, true)?;
        host("fence-fails", &h)?;
        let device = FenceDevice::FailsUntil(t.unwrap_or(u64::MAX));
        sim.inject(0, Fault::Device { host: h, device });
    }
    for s in &faults.crash_vm {
        let (v, t) = at_time("crash-vm", s, false)?;
        if pool.vm_by_name(&v).is_none() {
            return Err(format!("--crash-vm: unknown VM {}", quoted(&v)).into());
        }
        sim.inject(t.expect("required"), Fault::CrashVm(v));
    }
    for &t in &faults.restart_runtime {
        let t = secs_ms(&t.to_string()).map_err(|e| format!("--restart-runtime: {e}"))?;
        sim.inject(t, Fault::CrashRuntime { down_for: 5_000 });
    }
    // Who each crash takes down, and when they all run again.
    let protected: Vec<String> = pool
        .vms
        .iter()
        .filter(|v| v.restart == haplan::model::Restart::Protected && v.power.is_active())
        .map(|v| v.name.clone())
        .collect();
    crashes.sort_by_key(|(_, t)| *t);
    let mut waiting: Vec<(String, u64, Vec<String>, Option<u64>)> = Vec::new();
    let mut t = 0;
    let mut next_crash = 0;
    while t < until {
        while next_crash < crashes.len() && crashes[next_crash].1 <= t + 100 {
            let (h, at) = &crashes[next_crash];
            sim.run_until(at.saturating_sub(1));
            let running = sim.world.running();
            let victims = protected
                .iter()
                .filter(|v| running.get(*v).is_some_and(|on| on.contains(h)))
                .cloned()
                .collect();
            waiting.push((h.clone(), *at, victims, None));
            next_crash += 1;
        }
        t = (t + 100).min(until);
        sim.run_until(t);
        let running = sim.world.running();
        for w in waiting.iter_mut().filter(|w| w.3.is_none() && t > w.1) {
            if w.2.iter().all(|v| running.contains_key(v)) {
                w.3 = Some(t - w.1);
            }
        }
    }
    if let Some(path) = log {
        std::fs::write(path, sim.log()).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    let violations = sim.world.violations();
    let running = sim.world.running();
    let mut out = String::new();
    match format {
        Format::Json => {
            for s in &sim.steps {
                let routine = text::step_lines(&s.input, &s.output, false).is_empty();
                if verbose || !routine {
                    let line = serde_json::json!({"input": s.input, "output": s.output});
                    out += &format!("{line}\n");
                }
            }
            let mut summary = serde_json::json!({
                "summary": {
                    "until_ms": until,
                    "recoveries": waiting.iter().map(|(h, at, vms, done)| serde_json::json!({
                        "host": h, "crashed_at_ms": at, "protected_vms": vms, "recovered_after_ms": done,
                    })).collect::<Vec<_>>(),
                    "not_running": protected.iter().filter(|v| !running.contains_key(*v)).collect::<Vec<_>>(),
                    "violations": violations,
                }
            });
            if routine_left_out.get() > 0 {
                summary["summary"]["routine_steps_not_shown"] = routine_left_out.get().into();
            }
            out += &format!("{summary}\n");
        }
        Format::Text | Format::Github => {
            out += &format!(
                "haplan run: {} ({} hosts, {} VMs), simulated for {}s\n",
                pool.name,
                pool.hosts.len(),
                pool.vms.len(),
                until as f64 / 1000.0
            );
            for s in &sim.steps {
                if let Event::Tick = s.input.event {
                    if s.output.notes.is_empty() && s.output.alerts.is_empty() {
                        let quiet = s
                            .output
                            .actions
                            .iter()
                            .all(|a| matches!(a, haplan_runtime::Action::Probe { .. }));
                        if quiet && !verbose {
                            continue;
                        }
                    }
                }
                for line in text::step_lines(&s.input, &s.output, verbose) {
                    out += &line;
                    out.push('\n');
                }
            }
            if routine_left_out.get() > 0 {
                out += &format!(
                    "({} routine steps after the first {VERBOSE_ROUTINE_STEPS_MAX} not shown)\n",
                    routine_left_out.get()
                );
            }
            out += "\nsummary:\n";
            for (h, at, vms, done) in &waiting {
                match done {
                    Some(d) => {
                        out += &format!(
                            "  {h} crashed at {:.1}s: its {} protected VM{} ran again {:.1}s later\n",
                            *at as f64 / 1000.0,
                            vms.len(),
                            if vms.len() == 1 { "" } else { "s" },
                            *d as f64 / 1000.0
                        )
                    }
                    None => {
                        out += &format!(
                            "  {h} crashed at {:.1}s: not all of its protected VMs ({}) run again\n",
                            *at as f64 / 1000.0,
                            vms.join(", ")
                        )
                    }
                }
            }
            let idle: Vec<&String> = protected
                .iter()
                .filter(|v| !running.contains_key(*v))
                .collect();
            if idle.is_empty() {
                out += "  every protected VM runs\n";
            } else {
                out += &format!(
                    "  protected VMs not running: {}\n",
                    idle.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            for v in &violations {
                out += &format!("  INVARIANT BROKEN: {v}\n");
            }
        }
    }
    let code = if violations.is_empty() {
        EXIT_OK
    } else {
        EXIT_NOT_OK
    };
    Ok((code, out))
}

/// `haplan run --driver libvirt`: the runtime on the real hosts, each step
/// printed as it happens.
#[cfg(feature = "drivers")]
fn run_live(command: Command, stdin: &mut dyn Read, stdout: &mut dyn Write) -> Result<i32, String> {
    use haplan_runtime::text;
    use haplan_service::live;
    let Command::Run {
        file,
        crash,
        isolate,
        unreachable,
        fence_fails,
        crash_vm,
        restart_runtime,
        until,
        verbose,
        log,
        format,
        control,
        metrics,
        ..
    } = command
    else {
        unreachable!("only run comes here")
    };
    if !(crash.is_empty()
        && isolate.is_empty()
        && unreachable.is_empty()
        && fence_fails.is_empty()
        && crash_vm.is_empty()
        && restart_runtime.is_empty())
    {
        return Err(
            "faults are injected only with --driver sim; real hosts fail on their own".into(),
        );
    }
    let (shown, text) = read_text(&file, stdin).map_err(|e| e.message)?;
    let pool = load::parse_pool(&text).map_err(|e| format!("{shown}: {e}"))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
    let until = match until {
        Some(u) => Some(Duration::from_millis(
            secs_ms(&u.to_string()).map_err(|e| format!("--until: {e}"))?,
        )),
        None => None,
    };
    let live = std::sync::Arc::new(live::Live::new(&pool).map_err(|e| format!("{shown}: {e}"))?);
    if log.is_none() {
        eprintln!(
            "haplan: warning: without --log the runtime cannot resume after a restart (it would start from the pool file)"
        );
    }
    let log_path = log.map(std::path::PathBuf::from);
    // SIGTERM and SIGINT end the loop cleanly: the step under way is
    // logged, the lock released, the control socket removed.
    let stop = haplan_service::process::stop_on_signals()?;
    let (ctl_tx, ctl_rx) = std::sync::mpsc::channel();
    let _control = match &control {
        Some(path) => Some(haplan_service::control::listen(
            std::path::Path::new(path),
            ctl_tx,
        )?),
        None => None,
    };
    let gauges = std::sync::Arc::new(std::sync::Mutex::new(
        haplan_service::metrics::Metrics::new(),
    ));
    if let Some(addr) = &metrics {
        haplan_service::metrics::serve(addr, std::sync::Arc::clone(&gauges))?;
    }
    // systemd (Type=notify): ready once the runtime runs; the watchdog is
    // fed by the loop itself, so a stuck loop gets the service restarted.
    let systemd = haplan_service::process::Systemd::new();
    let alive = || systemd.alive();
    let options = live::LiveOptions {
        until,
        stop: Some(&stop),
        log: log_path.as_deref(),
        control: control.is_some().then_some(ctl_rx),
        alive: Some(&alive),
    };
    let mut failed = None;
    let mut ready = false;
    live::run(doc, live, options, |input, output, rt| {
        if !ready {
            ready = true;
            systemd.ready();
        }
        if let Ok(mut m) = gauges.lock() {
            m.observe(input, output, rt);
        }
        if failed.is_some() {
            return;
        }
        let lines = match format {
            Format::Json => {
                if verbose || !text::step_lines(input, output, false).is_empty() {
                    vec![serde_json::json!({"input": input, "output": output}).to_string()]
                } else {
                    Vec::new()
                }
            }
            Format::Text | Format::Github => text::step_lines(input, output, verbose),
        };
        for line in lines {
            if let Err(e) = writeln!(stdout, "{line}").and_then(|_| stdout.flush()) {
                failed = Some(e);
                return;
            }
        }
    })?;
    systemd.stopping();
    match failed {
        Some(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write output: {e}"))
        }
        _ => Ok(EXIT_OK),
    }
}
