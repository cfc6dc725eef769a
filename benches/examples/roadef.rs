//! Converts a ROADEF/EURO 2012 machine reassignment instance to a pool
//! (`haplan_benches::roadef`) on stdout:
//! `roadef MODEL ASSIGNMENT [SCALE]`, e.g.
//! `roadef data/B/model_b_01.txt data/B/assignment_b_01.txt 1.5 > b1-1.5.json`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: roadef MODEL ASSIGNMENT [SCALE]");
        std::process::exit(2);
    }
    let scale: f64 = match args.get(2).map(|s| s.parse::<f64>()) {
        None => 1.0,
        Some(Ok(s)) if s.is_finite() && s > 0.0 => s,
        Some(_) => {
            eprintln!("roadef: SCALE must be a positive number");
            std::process::exit(2);
        }
    };
    let read = |p: &str| {
        std::fs::read_to_string(p).unwrap_or_else(|e| {
            eprintln!("roadef: {p}: {e}");
            std::process::exit(2);
        })
    };
    let name = std::path::Path::new(&args[0])
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("roadef")
        .trim_start_matches("model_");
    let name = format!("roadef-{name}-x{scale}");
    match haplan_benches::roadef::pool(&name, &read(&args[0]), &read(&args[1]), scale) {
        Ok(pool) => println!("{}", serde_json::to_string(&pool).unwrap()),
        Err(e) => {
            eprintln!("roadef: {e}");
            std::process::exit(2);
        }
    }
}
