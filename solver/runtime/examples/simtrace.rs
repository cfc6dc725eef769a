//! Prints the steps of one seeded simulation scenario (for debugging).
fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (out, steps) = haplan_runtime::sim::scenario_steps(seed);
    for s in steps {
        let routine = matches!(
            s.input.event,
            haplan_runtime::Event::HealthCheck { ping: true, .. } | haplan_runtime::Event::Tick
        ) && s.output.alerts.is_empty()
            && s.output.notes.is_empty()
            && s.output
                .actions
                .iter()
                .all(|a| matches!(a, haplan_runtime::Action::Probe { .. }));
        if routine {
            continue;
        }
        println!(
            "{} {}",
            serde_json::to_string(&s.input).unwrap(),
            serde_json::to_string(&s.output).unwrap()
        );
    }
    println!("{:#?}", out);
}
