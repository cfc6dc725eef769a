//! The C documentation covers every field of every answer: the section
//! "Answer fields" of `README.md` lists, per object type of the answers'
//! JSON Schemas (`haplan_wire::schema`, what `haplan schema ANSWER`
//! prints), each field with its JSON type, and this test compares the two
//! both ways. A field added to an answer and not documented for C callers,
//! one documented that no answer has, or a type that changed fails here.

use std::collections::BTreeMap;

use haplan_wire::schema::Answer;
use serde_json::Value;

/// Per object type, its fields with their JSON types, in schema order.
type Fields = BTreeMap<String, Vec<(String, String)>>;

/// The object types of one answer's schema: the answer itself (named by
/// the command) and every object in `$defs` (an `anyOf` of objects, such as
/// one side of diff's headroom, has the fields of all of them).
fn schema_types(answer: Answer) -> Fields {
    let schema = answer.schema();
    let defs = schema["$defs"].as_object().cloned().unwrap_or_default();
    let mut out = Fields::new();
    out.insert(answer.name().to_string(), fields(&schema, &defs));
    for (name, def) in &defs {
        if is_object(def) {
            out.insert(name.clone(), fields(def, &defs));
        }
    }
    out
}

fn is_object(schema: &Value) -> bool {
    schema.get("properties").is_some()
        || schema["anyOf"]
            .as_array()
            .is_some_and(|alts| alts.iter().any(|a| a.get("properties").is_some()))
}

fn fields(schema: &Value, defs: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let objects: Vec<&Value> = match schema["anyOf"].as_array() {
        Some(alts) if schema.get("properties").is_none() => alts.iter().collect(),
        _ => vec![schema],
    };
    for object in objects {
        for (name, sub) in object["properties"].as_object().into_iter().flatten() {
            out.push((name.clone(), type_name(sub, defs)));
        }
    }
    out
}

/// A field's JSON type in words: `string`, `integer`, `boolean`, `list of
/// T`, `map of T` (an object with any keys), an object type's name,
/// `verdict`, `priority`, `T or null`.
fn type_name(schema: &Value, defs: &serde_json::Map<String, Value>) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return match name {
            "Verdict" | "DrainVerdict" => "verdict".into(),
            "Priority" => "priority".into(),
            _ if is_object(&defs[name]) => name.into(),
            _ => panic!("{name}: a $ref this test does not know how to name"),
        };
    }
    if let Some(alts) = schema["anyOf"].as_array() {
        let null = alts.iter().any(|a| a["type"] == "null");
        let mut words: Vec<String> = alts
            .iter()
            .filter(|a| a["type"] != "null")
            .map(|a| type_name(a, defs))
            .collect();
        if null {
            words.push("null".into());
        }
        return words.join(" or ");
    }
    let one = |t: &str| -> String {
        match t {
            "array" => format!("list of {}", type_name(&schema["items"], defs)),
            "object" => match schema.get("additionalProperties") {
                Some(v) if v.is_object() => format!("map of {}", type_name(v, defs)),
                _ => panic!("an inline object: name it in the wire types"),
            },
            "string" | "integer" | "number" | "boolean" | "null" => t.into(),
            _ => panic!("type {t}: this test does not know how to name it"),
        }
    };
    match &schema["type"] {
        Value::String(t) => one(t),
        Value::Array(ts) => ts
            .iter()
            .map(|t| one(t.as_str().unwrap()))
            .collect::<Vec<_>>()
            .join(" or "),
        _ => panic!("a schema with no type: {schema}"),
    }
}

/// The object types `README.md` documents: under "## Answer fields", each
/// `#### ` heading names one or more types in backticks (types with the
/// same fields share one list), and each `- \`field\` (type): ...` bullet
/// below it is a field.
fn documented(readme: &str) -> Fields {
    let mut out = Fields::new();
    let mut current: Vec<String> = Vec::new();
    let mut lines = readme
        .lines()
        .skip_while(|l| l.trim_end() != "## Answer fields");
    assert!(
        lines.next().is_some(),
        "README.md has a section \"## Answer fields\""
    );
    for line in lines.take_while(|l| !l.starts_with("## ")) {
        if let Some(heading) = line.strip_prefix("#### ") {
            current = heading
                .split('`')
                .skip(1)
                .step_by(2)
                .map(String::from)
                .collect();
            for t in &current {
                assert!(
                    out.insert(t.clone(), Vec::new()).is_none(),
                    "README.md documents {t} twice"
                );
            }
        } else if let Some(bullet) = line.strip_prefix("- `") {
            let (name, rest) = bullet
                .split_once('`')
                .expect("a bullet's field in backticks");
            let ty = rest
                .strip_prefix(" (")
                .and_then(|r| r.split_once("):"))
                .map(|(t, _)| t.to_string())
                .unwrap_or_else(|| panic!("{name}: write `- `{name}` (type): what it is`"));
            assert!(
                !current.is_empty(),
                "{name}: a field before any #### heading"
            );
            for t in &current {
                out.get_mut(t).unwrap().push((name.to_string(), ty.clone()));
            }
        }
    }
    out
}

/// Every answer's types, merged: a type several answers share must have
/// the same fields in each.
fn all_schema_types() -> Fields {
    let mut all = Fields::new();
    for answer in Answer::ALL {
        for (name, fields) in schema_types(answer) {
            if let Some(seen) = all.get(&name) {
                assert_eq!(seen, &fields, "{name} differs between answers");
            }
            all.insert(name, fields);
        }
    }
    all
}

/// What the section should say for `types`, for a failure message.
fn listing(types: &Fields) -> String {
    let mut s = String::new();
    for (name, fields) in types {
        s.push_str(&format!("#### `{name}`\n"));
        for (f, t) in fields {
            s.push_str(&format!("- `{f}` ({t}):\n"));
        }
    }
    s
}

/// The differences between the schemas and the documentation, in words.
fn differences(schema: &Fields, docs: &Fields) -> Vec<String> {
    let mut out = Vec::new();
    for (name, fields) in schema {
        let Some(doc) = docs.get(name) else {
            out.push(format!("{name}: not documented"));
            continue;
        };
        for (f, t) in fields {
            match doc.iter().find(|(d, _)| d == f) {
                None => out.push(format!("{name}.{f}: not documented")),
                Some((_, dt)) if dt != t => out.push(format!(
                    "{name}.{f}: documented as ({dt}), the schema says ({t})"
                )),
                Some(_) => {}
            }
        }
        for (f, _) in doc {
            if !fields.iter().any(|(s, _)| s == f) {
                out.push(format!("{name}.{f}: documented, not in the schema"));
            }
        }
    }
    for name in docs.keys() {
        if !schema.contains_key(name) {
            out.push(format!("{name}: documented, no answer has it"));
        }
    }
    out
}

#[test]
fn the_c_documentation_lists_every_answer_field() {
    let readme = include_str!("../README.md");
    let schema = all_schema_types();
    let problems = differences(&schema, &documented(readme));
    assert!(
        problems.is_empty(),
        "README.md's \"Answer fields\" and the answers' schemas differ:\n{}\n\nThe schemas' types:\n{}",
        problems.join("\n"),
        listing(&schema)
    );
}

#[test]
fn a_missing_or_extra_field_is_found() {
    let readme = "intro\n## Answer fields\ntext\n#### `Move`\n- `vm` (string): the VM.\n  more words\n- `to` (string): where.\n- `via` (string): made up.\n## Next\n- `x` (string): not in the section.\n";
    let docs = documented(readme);
    let schema = schema_types(Answer::Drain);
    let move_only: Fields = schema.into_iter().filter(|(n, _)| n == "Move").collect();
    assert_eq!(
        differences(&move_only, &docs),
        [
            "Move.from: not documented",
            "Move.via: documented, not in the schema"
        ]
    );
    let wrong_type = readme.replace("`to` (string)", "`to` (integer)");
    assert_eq!(
        differences(&move_only, &documented(&wrong_type))[1],
        "Move.to: documented as (integer), the schema says (string)"
    );
}

#[test]
fn shared_headings_and_types_in_words() {
    let readme = "## Answer fields\n#### `check`, `Check`\n- `pool` (string): its name.\n";
    let docs = documented(readme);
    assert_eq!(docs["check"], docs["Check"]);
    let timing = schema_types(Answer::Timing);
    let top: BTreeMap<_, _> = timing["timing"].iter().cloned().collect();
    assert_eq!(top["witness"], "Witness or null");
    assert_eq!(top["vms"], "list of VmTiming");
    assert_eq!(top["verdict"], "verdict");
    assert_eq!(top["concurrency"], "integer or null");
    let diff = schema_types(Answer::Diff);
    let side: Vec<&str> = diff["HeadroomSide"]
        .iter()
        .map(|(f, _)| f.as_str())
        .collect();
    assert!(
        side.contains(&"max_additional") && side.contains(&"error"),
        "{side:?}"
    );
}
