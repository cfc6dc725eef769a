//! `haplan diff`: compare two versions of a pool for CI: exit 1 when NEW is worse than the policy allows.

use crate::cli::*;

// The arguments of `haplan diff` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The pool as it was (haplan/v1 JSON), or - for standard input.
    pub(crate) old: String,
    /// The pool as it would be, or - for standard input.
    pub(crate) new: String,
    /// K for both pools (default: NEW's ha.host_failures_to_tolerate).
    #[arg(long, value_name = "K", value_parser = parse_tolerate)]
    pub(crate) tolerate: Option<u32>,
    /// Also fail when NEW tolerates fewer host failures than OLD.
    #[arg(long)]
    pub(crate) no_regress: bool,
    /// `markdown` for a pull-request comment, `html` for a page (with
    /// --explain they show the smallest failure set each pool does not survive).
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: DiffFormat,
    #[command(flatten)]
    pub(crate) budget: BudgetArgs,
    /// Show a failing set of size max_tolerable + 1 even when a pool meets K.
    #[arg(long)]
    pub(crate) explain: bool,
    /// Also report the headroom of both pools for VMs of this shape (a JSON
    /// object of resource amounts, as for headroom).
    #[arg(long, value_name = "JSON")]
    pub(crate) vm: Option<String>,
    /// With --vm: storage the VM needs (comma-separated).
    #[arg(
        long,
        value_name = "SR1,SR2,...",
        value_delimiter = ',',
        requires = "vm"
    )]
    pub(crate) storage: Vec<String>,
    /// With --vm: networks the VM needs (comma-separated).
    #[arg(
        long,
        value_name = "NET1,NET2,...",
        value_delimiter = ',',
        requires = "vm"
    )]
    pub(crate) networks: Vec<String>,
}

/// Runs `haplan diff`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    let Args {
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
    } = args;
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
        DiffFormat::Markdown => haplan_html::diff_markdown(&report::diff_json(&old, &new, &d))
            .map_err(|e| e.to_string())?,
        DiffFormat::Html => {
            haplan_html::diff_html(&report::diff_json(&old, &new, &d)).map_err(|e| e.to_string())?
        }
    };
    Ok((exit_code(d.verdict()), text))
}
