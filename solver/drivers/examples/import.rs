//! Prints a haplan pool file read from live libvirt hosts.
//!
//!     cargo run --release -p haplan-drivers --example import -- POOL NAME=URI...
//!
//! e.g. `... -- rack-a h1=qemu+ssh://root@h1/system h2=qemu+ssh://root@h2/system`.
//! What the importer had to decide goes to stderr.

use haplan_drivers::import::{import, parse_host_spec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: import POOL NAME=URI...");
        std::process::exit(2);
    }
    let hosts: Vec<(String, String)> = match args[1..].iter().map(|s| parse_host_spec(s)).collect()
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("import: {e}");
            std::process::exit(2);
        }
    };
    match import(&args[0], &hosts) {
        Ok(imported) => {
            for w in &imported.warnings {
                eprintln!("import: warning: {w}");
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&imported.pool).expect("JSON")
            );
        }
        Err(e) => {
            eprintln!("import: {e}");
            std::process::exit(1);
        }
    }
}
