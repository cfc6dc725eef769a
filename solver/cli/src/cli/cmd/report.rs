//! `haplan report`: a report to look at: one self-contained HTML page (no script, no network).

use crate::cli::*;

// The arguments of `haplan report` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool file (haplan/v1 JSON), or - for standard input.
    pub(crate) file: String,
    /// K (default: the file's ha.host_failures_to_tolerate).
    #[arg(long, value_name = "K")]
    pub(crate) tolerate: Option<u32>,
    /// Also the headroom for VMs of this shape (a JSON object of resource
    /// amounts, as for headroom); may be given several times.
    #[arg(long, value_name = "JSON")]
    pub(crate) vm: Vec<String>,
    /// Storage the --vm shapes need (comma-separated).
    #[arg(
        long,
        value_name = "SR1,SR2,...",
        value_delimiter = ',',
        requires = "vm"
    )]
    pub(crate) storage: Vec<String>,
    /// Networks the --vm shapes need (comma-separated).
    #[arg(
        long,
        value_name = "NET1,NET2,...",
        value_delimiter = ',',
        requires = "vm"
    )]
    pub(crate) networks: Vec<String>,
    /// `html` (the page), `json` (the answers it is rendered from) or `markdown`.
    #[arg(long, value_enum, default_value = "html")]
    pub(crate) format: ReportFormat,
    /// Write the report to this file (whole, or not at all) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub(crate) output: Option<String>,
    #[command(flatten)]
    pub(crate) limit: TimeLimitArg,
}

/// Runs `haplan report`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    let Args {
        file,
        tolerate,
        vm,
        storage,
        networks,
        format,
        output,
        limit,
    } = args;
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
    ctx.answering();
    let text_of = || match format {
        ReportFormat::Json => Ok(r.answer_text()),
        ReportFormat::Html => haplan_html::report_html(&r.page()).map_err(|e| e.to_string()),
        ReportFormat::Markdown => {
            haplan_html::report_markdown(&r.page()).map_err(|e| e.to_string())
        }
    };
    let text = match output {
        // The JSON goes to the file as it is serialized: the text of a
        // large report is never whole in memory.
        Some(path) if format == ReportFormat::Json => {
            write_whole(&path, |f| r.write_answer(f))?;
            String::new()
        }
        Some(path) => {
            let text = text_of()?;
            write_whole(&path, |f| f.write_all(text.as_bytes()))?;
            String::new()
        }
        None => text_of()?,
    };
    Ok((exit_code(r.verdict), text))
}

/// Writes what `write` writes to `path` whole or not at all: into a new
/// file beside it, then renamed over it.
fn write_whole(
    path: &str,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<(), String> {
    let target = std::path::Path::new(path);
    let name = target
        .file_name()
        .ok_or_else(|| format!("-o {path}: not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = target.with_file_name(tmp_name);
    let written = std::fs::File::create(&tmp).and_then(|f| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, &f);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        f.sync_all()
    });
    let done = written.and_then(|_| std::fs::rename(&tmp, target));
    done.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {path}: {e}")
    })
}
