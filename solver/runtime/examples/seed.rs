use haplan_runtime::{sim, text};
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args[0] == "range" {
        let a: u64 = args[1].parse().unwrap();
        let b: u64 = args[2].parse().unwrap();
        let t = std::time::Instant::now();
        let bad: Vec<sim::Outcome> = (a..b)
            .map(sim::scenario)
            .filter(|o| !o.violations.is_empty())
            .collect();
        println!("{} bad of {} in {:?}", bad.len(), b - a, t.elapsed());
        for o in bad.iter().take(8) {
            println!("seed {}: {:?}", o.seed, o.violations);
        }
        return;
    }
    for seed in args.iter().map(|a| a.parse::<u64>().unwrap()) {
        let (o, steps) = sim::scenario_steps(seed);
        println!("seed {seed}: {:#?}", o.violations);
        if std::env::var("STEPS").is_ok() {
            for s in &steps {
                for l in text::step_lines(&s.input, &s.output, std::env::var("VERBOSE").is_ok()) {
                    println!("{l}");
                }
            }
        }
    }
}
