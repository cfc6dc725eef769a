//! `haplan headroom`: how many more protected VMs of one shape can start with the pool still tolerating K.

use crate::cli::*;

// The arguments of `haplan headroom` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool file (haplan/v1 JSON), or - for standard input.
    pub(crate) file: String,
    /// The VM's demand: a JSON object of resource amounts, e.g. '{"memory_mib": 32768, "vcpus": 8}'.
    #[arg(long, value_name = "JSON", required = true)]
    pub(crate) vm: String,
    /// Storage the VM's disks need (comma-separated).
    #[arg(long, value_name = "SR1,SR2,...", value_delimiter = ',')]
    pub(crate) storage: Vec<String>,
    /// Networks the VM's NICs need (comma-separated).
    #[arg(long, value_name = "NET1,NET2,...", value_delimiter = ',')]
    pub(crate) networks: Vec<String>,
    /// K the pool must still tolerate (default: the file's ha.host_failures_to_tolerate).
    #[arg(long, value_name = "K", value_parser = parse_tolerate)]
    pub(crate) tolerate: Option<u32>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) budget: BudgetArgs,
    /// How to close the gap between the bounds (for comparisons):
    /// `auto` (default), `search` (every placement), `master` (an
    /// integer program over the failure sets seen).
    #[arg(long, value_enum, default_value = "auto", hide_short_help = true)]
    pub(crate) method: MethodArg,
}

/// Runs `haplan headroom`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    let Args {
        file,
        vm,
        storage,
        networks,
        tolerate,
        format,
        budget: _,
        method,
    } = args;
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
