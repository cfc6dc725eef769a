//! The JSON Schema of every answer, generated from the types `report`
//! serializes, so the schema cannot drift from what is printed.
//! `haplan schema ANSWER` prints them; the fixture tests validate every
//! golden answer against them.

use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::report::{
    AgilityJson, CheckJson, DiffJson, DrainJson, HeadroomJson, PlanJson, TiersJson, TimingJson,
    WhatIfJson,
};

/// An answer with a JSON form: one per command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `haplan check`.
    Check,
    /// `haplan plan`.
    Plan,
    /// `haplan agility`.
    Agility,
    /// `haplan whatif`.
    Whatif,
    /// `haplan diff`.
    Diff,
    /// `haplan headroom`.
    Headroom,
    /// `haplan drain`.
    Drain,
    /// `haplan tiers`.
    Tiers,
    /// `haplan timing`.
    Timing,
}

impl Answer {
    /// Every answer, in the order of `docs/cli.md`.
    pub const ALL: [Answer; 9] = [
        Answer::Check,
        Answer::Plan,
        Answer::Agility,
        Answer::Whatif,
        Answer::Diff,
        Answer::Headroom,
        Answer::Drain,
        Answer::Tiers,
        Answer::Timing,
    ];

    /// The command's name.
    pub fn name(self) -> &'static str {
        match self {
            Answer::Check => "check",
            Answer::Plan => "plan",
            Answer::Agility => "agility",
            Answer::Whatif => "whatif",
            Answer::Diff => "diff",
            Answer::Headroom => "headroom",
            Answer::Drain => "drain",
            Answer::Tiers => "tiers",
            Answer::Timing => "timing",
        }
    }

    /// The answer of the command `name`.
    pub fn from_name(name: &str) -> Option<Answer> {
        Answer::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The JSON Schema (draft 2020-12) of the answer as `--format json`
    /// prints it. Closed: an object has exactly the fields listed (those
    /// not always printed are not `required`), so a field added to an
    /// answer and not to its type is a failing validation.
    pub fn schema(self) -> Value {
        let generator = SchemaSettings::draft2020_12()
            .for_serialize()
            .into_generator();
        let schema = match self {
            Answer::Check => generator.into_root_schema_for::<CheckJson>(),
            Answer::Plan => generator.into_root_schema_for::<PlanJson>(),
            Answer::Agility => generator.into_root_schema_for::<AgilityJson>(),
            Answer::Whatif => generator.into_root_schema_for::<WhatIfJson>(),
            Answer::Diff => generator.into_root_schema_for::<DiffJson>(),
            Answer::Headroom => generator.into_root_schema_for::<HeadroomJson>(),
            Answer::Drain => generator.into_root_schema_for::<DrainJson>(),
            Answer::Tiers => generator.into_root_schema_for::<TiersJson>(),
            Answer::Timing => generator.into_root_schema_for::<TimingJson>(),
        };
        let mut value = schema.to_value();
        close(&mut value);
        // `$schema` and the title first, for people reading it.
        let mut out = serde_json::Map::new();
        if let Value::Object(mut map) = value {
            if let Some(v) = map.remove("$schema") {
                out.insert("$schema".into(), v);
            }
            map.remove("title");
            out.insert(
                "title".into(),
                Value::String(format!("haplan {} --format json", self.name())),
            );
            out.extend(map);
        }
        Value::Object(out)
    }
}

/// `additionalProperties: false` on every object schema that lists its
/// properties.
fn close(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}
