//! `haplan import`: a pool file from a platform's own exports, or from live libvirt hosts.

use crate::cli::*;

// The arguments of `haplan import` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The pool's name (default: the cluster's name in the exports, else
    /// the platform's; for libvirt, "imported").
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The output: a haplan/v1 pool file.
    #[arg(long, value_enum, default_value = "json")]
    pub(crate) format: ImportFormat,
    /// vSphere: size VMs by their configured memory (default) or by their
    /// reservations (memory MiB and CPU MHz, as the slot policy counts).
    #[arg(long, value_enum, value_name = "SIZING")]
    pub(crate) vsphere_sizing: Option<SizingArg>,
    /// Also model vCPUs, with this many vCPUs per host CPU (platforms that
    /// put no limit on vCPU overcommit: Proxmox VE, vSphere, XenServer,
    /// Nova without Placement).
    #[arg(long, value_name = "RATIO")]
    pub(crate) cpu_overcommit: Option<f64>,
    /// PLATFORM, then its files (or, for libvirt, its hosts as NAME=URI).
    #[arg(required = true, value_name = "PLATFORM FILE")]
    pub(crate) args: Vec<String>,
}

/// `haplan import`: a pool file from live libvirt hosts.
pub(crate) fn import(
    name: &str,
    hosts: &[String],
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
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
pub(crate) fn import_exports(
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
