//! The `haplan` command line (`docs/cli.md`). `run` takes its streams as
//! arguments so that tests drive exactly what the binary does.

mod cmd;
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
    Check(cmd::check::Args),
    /// The restart plan if exactly the given hosts fail now.
    Plan(cmd::plan::Args),
    /// For every protected VM, the hosts it could restart on, and why none when so.
    Agility(cmd::agility::Args),
    /// What the pool would tolerate after a list of changes (the file is not edited).
    ///
    /// CHANGES is a JSON list of changes (docs/whatif.md): add_host, remove_host,
    /// resize_host, maintenance, set_host_state, add_vm, remove_vm, resize_vm,
    /// set_priority, set_restart, set_tolerance. Exit code as for check, on the
    /// changed pool.
    Whatif(cmd::whatif::Args),
    /// Compare two versions of a pool for CI: exit 1 when NEW is worse than the policy allows.
    ///
    /// NEW fails when it tolerates fewer than K failures, a protected VM in it is
    /// not agile, or (with --no-regress) it tolerates fewer failures than OLD.
    Diff(cmd::diff::Args),
    /// How many more protected VMs of one shape can start with the pool still tolerating K.
    ///
    /// Exact: a placement that achieves the count (verified by a tolerance
    /// check) and why one more does not fit; per host, how many fit there
    /// alone. Exit code as for check, on the pool as it is; 3 when a time
    /// limit left the count open.
    Headroom(cmd::headroom::Args),
    /// Whether a host can go into maintenance with the pool still tolerating K.
    ///
    /// Its running and paused VMs are live-migrated to other hosts they may
    /// run on (nothing else moves; halted VMs stay). Exact: a migration plan
    /// whose end state passes a tolerance check against K (exit 0), or a
    /// proof that none exists (exit 1): a VM with no target, the pool failing
    /// K even without the host's VMs, or every assignment of them tried.
    /// Exit 3 when a time limit or the search's limit left it open.
    Drain(cmd::drain::Args),
    /// Tolerance per restart-priority tier, and what is lost beyond it.
    ///
    /// For each priority present (critical first), the failures under which
    /// every protected VM of that priority or higher still restarts; then,
    /// for each k past the pool's tolerance, the tiers still safe, the VMs at
    /// risk and a failing set with what its restart plan strands. Exit code
    /// as for check (the lowest tier is the whole pool).
    Tiers(cmd::tiers::Args),
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
    Fleet(cmd::fleet::Args),
    /// How long until every protected VM runs again after the worst tolerated failure.
    ///
    /// Detection (ha.failure_threshold x ha.check_interval_s) + fencing
    /// (--fence-time) + the restart schedule: order groups as the HA runtime
    /// starts them, start delays, per-VM boot times (vms[].boot_time_s, else
    /// --boot-time), at most --concurrency starts at once. The worst case is
    /// over every set of at most K up hosts (exact up to 200,000 sets, else a
    /// greedy lower bound with a warning). Exit 1 when the pool does not
    /// tolerate K (the witness is shown) or a protected VM would not restart.
    Timing(cmd::timing::Args),
    /// A report to look at: one self-contained HTML page (no script, no network).
    ///
    /// The verdict, per host the used, reserved and spare amount of every
    /// resource, the worst failure set and what it strands, the protected
    /// VMs that are not agile, the tolerance of each restart-priority tier,
    /// the restart timeline after the worst tolerated failure, and the
    /// headroom for each --vm shape. One --time-limit covers every part; the
    /// page says which parts are bounds. Exit code as for check; 3 when the
    /// pool meets K but the time limit left a part open.
    Report(cmd::report::Args),
    /// Print the JSON Schema of the pool format, or of one command's JSON answer.
    ///
    /// `haplan schema` prints the pool format's; `haplan schema check` (plan,
    /// agility, whatif, diff, headroom, drain, tiers, timing) that of the
    /// answer `haplan check --format json` prints.
    Schema(cmd::schema::Args),
    /// Print a shell completion script (bash, elvish, fish, powershell, zsh).
    ///
    /// For example `haplan completions bash > /usr/share/bash-completion/completions/haplan`.
    Completions(cmd::completions::Args),
    /// Print the manual page (roff), e.g. `haplan man > haplan.1`, or that
    /// of one command (`haplan man check > haplan-check.1`).
    Man(cmd::man::Args),
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
    Import(cmd::import::Args),
    /// Watch the HA runtime keep the pool: a simulated failover, step by step.
    ///
    /// The runtime runs against simulated hosts (docs/runtime.md): health
    /// checks, peer confirmation, fencing, ordered restarts with retries. Faults
    /// are injected at simulated times in seconds; the run prints every step
    /// that is not routine, then how long each crashed host's protected VMs
    /// took to run again. Exit 1 if a safety invariant broke (a VM on two hosts,
    /// a restart before a fence), which would be a bug.
    Run(cmd::run::Args),
    /// Send one operator event to a running `haplan run --control SOCKET`
    /// and print its answer, e.g. `haplan control /run/haplan/pool.sock
    /// '{"type": "fence_confirmed", "host": "h1"}'`. Exit 1 if the runtime
    /// refused it.
    Control(cmd::control::Args),
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
    if let Command::Import(cmd::import::Args {
        name,
        format: ImportFormat::Json,
        vsphere_sizing,
        cpu_overcommit,
        args,
    }) = &cli.command
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
            return cmd::import::import(
                name.as_deref().unwrap_or("imported"),
                hosts,
                stdout,
                stderr,
            );
        }
        let options = haplan_import::Options {
            name: name.clone(),
            vsphere_sizing: match vsphere_sizing {
                Some(SizingArg::Reservation) => haplan_import::VsphereSizing::Reservation,
                _ => haplan_import::VsphereSizing::Configured,
            },
            cpu_overcommit: *cpu_overcommit,
        };
        return cmd::import::import_exports(first, &args[1..], &options, stdin, stdout, stderr);
    }
    if let Command::Completions(cmd::completions::Args { shell }) = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "haplan", stdout);
        return EXIT_OK;
    }
    if let Command::Fleet(cmd::fleet::Args {
        paths,
        tolerate,
        format,
        time_limit,
        max_time,
    }) = &cli.command
    {
        let request = cmd::fleet::FleetRequest {
            paths,
            tolerate: *tolerate,
            time_limit: time_limit.0,
            max_time: max_time.0,
            format: *format,
            threads: cli.threads,
        };
        return cmd::fleet::run_fleet(&request, stdin, stdout, stderr);
    }
    #[cfg(feature = "drivers")]
    if let Command::Control(cmd::control::Args { socket, event }) = &cli.command {
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
    if let Command::Run(cmd::run::Args {
        driver: DriverArg::Libvirt,
        ..
    }) = &cli.command
    {
        return match cmd::run::run_live(cli.command, stdin, stdout) {
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
    answer(&text, code, stdout, stderr)
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
            Command::Check(cmd::check::Args { budget, .. })
            | Command::Whatif(cmd::whatif::Args { budget, .. })
            | Command::Diff(cmd::diff::Args { budget, .. })
            | Command::Headroom(cmd::headroom::Args { budget, .. })
            | Command::Drain(cmd::drain::Args { budget, .. })
            | Command::Tiers(cmd::tiers::Args { budget, .. }) => full(budget),
            Command::Plan(cmd::plan::Args { limit, .. })
            | Command::Agility(cmd::agility::Args { limit, .. })
            | Command::Timing(cmd::timing::Args { limit, .. })
            | Command::Report(cmd::report::Args { limit, .. }) => only(limit),
            _ => None,
        }
    }

    /// The files a command reads (`-`: standard input), in order.
    fn inputs(&self) -> Vec<String> {
        match self {
            Command::Check(cmd::check::Args { file, .. })
            | Command::Plan(cmd::plan::Args { file, .. })
            | Command::Agility(cmd::agility::Args { file, .. })
            | Command::Headroom(cmd::headroom::Args { file, .. })
            | Command::Drain(cmd::drain::Args { file, .. })
            | Command::Tiers(cmd::tiers::Args { file, .. })
            | Command::Timing(cmd::timing::Args { file, .. })
            | Command::Report(cmd::report::Args { file, .. })
            | Command::Run(cmd::run::Args { file, .. }) => vec![file.clone()],
            Command::Whatif(cmd::whatif::Args { file, changes, .. }) => {
                vec![file.clone(), changes.clone()]
            }
            Command::Diff(cmd::diff::Args { old, new, .. }) => vec![old.clone(), new.clone()],
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
    /// The command has its answer and is writing it out (what a time
    /// limit that runs out then says).
    pub(crate) answering: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Ctx {
    /// The answer is known: what follows is writing it.
    fn answering(&self) {
        self.answering
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

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

/// Writes the answer `text` and returns the exit code `code` (exit 2 when
/// it cannot be written; a reader that went away is no error).
fn answer(text: &str, code: i32, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
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
            Command::Plan(cmd::plan::Args { format, .. })
            | Command::Agility(cmd::agility::Args { format, .. })
            | Command::Whatif(cmd::whatif::Args { format, .. })
            | Command::Headroom(cmd::headroom::Args { format, .. })
            | Command::Drain(cmd::drain::Args { format, .. })
            | Command::Tiers(cmd::tiers::Args { format, .. })
            | Command::Timing(cmd::timing::Args { format, .. })
            | Command::Run(cmd::run::Args { format, .. }) => Some(format),
            Command::Check(_)
            | Command::Diff(_)
            | Command::Report(_)
            | Command::Schema(_)
            | Command::Fleet(_)
            | Command::Import(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Control(_) => None,
        }
    }

    /// The file the answer is about (for `diff`, NEW), for annotations.
    fn input_file(&self) -> Option<String> {
        match self {
            Command::Check(cmd::check::Args { file, .. })
            | Command::Plan(cmd::plan::Args { file, .. })
            | Command::Agility(cmd::agility::Args { file, .. })
            | Command::Whatif(cmd::whatif::Args { file, .. })
            | Command::Headroom(cmd::headroom::Args { file, .. })
            | Command::Drain(cmd::drain::Args { file, .. })
            | Command::Tiers(cmd::tiers::Args { file, .. })
            | Command::Timing(cmd::timing::Args { file, .. })
            | Command::Run(cmd::run::Args { file, .. }) => Some(file.clone()),
            Command::Diff(cmd::diff::Args { new, .. }) => Some(new.clone()),
            _ => None,
        }
    }

    fn format(&mut self) -> Option<Format> {
        match self {
            Command::Check(cmd::check::Args { format, .. }) => Some(format.base()),
            Command::Diff(cmd::diff::Args { format, .. }) => Some(format.base()),
            Command::Report(cmd::report::Args { format, .. }) => Some(match format {
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
            Command::Check(cmd::check::Args { format, .. }) if *format == CheckFormat::Github => {
                *format = CheckFormat::Text
            }
            Command::Diff(cmd::diff::Args { format, .. }) if *format == DiffFormat::Github => {
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
    report::json_text(&value)
}

fn execute(cli: Cli, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    match cli.command {
        Command::Import(_) | Command::Completions(_) | Command::Fleet(_) => {
            unreachable!("handled before")
        }
        Command::Control(_) => Err(String::from(WITHOUT_DRIVERS).into()),
        Command::Man(args) => cmd::man::run(args),
        Command::Run(args) => cmd::run::run(args, read),
        Command::Check(args) => cmd::check::run(args, read, ctx),
        Command::Plan(args) => cmd::plan::run(args, read, ctx),
        Command::Agility(args) => cmd::agility::run(args, read, ctx),
        Command::Whatif(args) => cmd::whatif::run(args, read, ctx),
        Command::Diff(args) => cmd::diff::run(args, read, ctx),
        Command::Headroom(args) => cmd::headroom::run(args, read, ctx),
        Command::Drain(args) => cmd::drain::run(args, read, ctx),
        Command::Tiers(args) => cmd::tiers::run(args, read, ctx),
        Command::Timing(args) => cmd::timing::run(args, read, ctx),
        Command::Report(args) => cmd::report::run(args, read, ctx),
        Command::Schema(args) => Ok(cmd::schema::run(args)),
    }
}

/// With `--verbose`, how many routine steps (probes answered, quiet ticks)
/// `haplan run --driver sim` shows at most; the later ones are counted, not
/// kept, so that memory and output stay bounded however long the run.
pub const VERBOSE_ROUTINE_STEPS_MAX: u64 = 20_000;

/// What `haplan run --driver libvirt` and `haplan control` answer (exit 2)
/// in a build without the `drivers` feature.
pub const WITHOUT_DRIVERS: &str =
    "this haplan was built without the libvirt driver (feature \"drivers\")";
