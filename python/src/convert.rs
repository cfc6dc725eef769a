//! JSON values between Python and Rust, both ways.
//!
//! Python to JSON follows `json.dumps` (dicts with string keys, lists and
//! tuples, strings, ints, floats, booleans, `None`), except that a value
//! JSON cannot hold is a problem at its path, in the pool format's path
//! syntax (`hosts[1].capacity.memory_mib`), not an exception from deep
//! inside a serializer.

use haplan::Problem;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Python containers nested deeper than this are rejected (a pool file is
/// five levels deep; this only stops a self-referencing structure).
const MAX_DEPTH: usize = 64;

/// A JSON value as Python objects: dicts (in the JSON object's order),
/// lists, strings, ints, floats, booleans and `None`.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// A Python object as a JSON value, or every place where it holds something
/// JSON cannot.
pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Result<Value, Vec<Problem>>> {
    let mut problems = Vec::new();
    let mut path = String::new();
    let value = walk(obj, &mut path, 0, &mut problems)?;
    Ok(if problems.is_empty() {
        Ok(value)
    } else {
        Err(problems)
    })
}

fn problem(path: &str, message: String) -> Problem {
    Problem {
        path: path.to_string(),
        message,
        line: None,
        column: None,
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string())
}

fn walk(
    obj: &Bound<'_, PyAny>,
    path: &mut String,
    depth: usize,
    problems: &mut Vec<Problem>,
) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        problems.push(problem(
            path,
            format!("nested more than {MAX_DEPTH} levels deep"),
        ));
        return Ok(Value::Null);
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: True is an int in Python.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        // Beyond 64 bits: what a JSON parser reads such a number as (a
        // float), which the pool format then rejects with its own message.
        let f: f64 = obj.extract().unwrap_or(f64::INFINITY);
        return Ok(float(f, path, problems));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f: f64 = obj.extract()?;
        return Ok(float(f, path, problems));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        return object(dict.iter(), path, depth, problems);
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            out.push(walk(&item?, path, depth + 1, problems)?);
            path.truncate(len);
        }
        return Ok(Value::Array(out));
    }
    if let Ok(mapping) = obj.cast::<PyMapping>() {
        let items = mapping.items()?;
        let pairs = items
            .iter()
            .map(|kv| kv.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>())
            .collect::<PyResult<Vec<_>>>()?;
        return object(pairs.into_iter(), path, depth, problems);
    }
    problems.push(problem(
        path,
        format!("not a JSON value: found a {}", type_name(obj)),
    ));
    Ok(Value::Null)
}

fn float(f: f64, path: &str, problems: &mut Vec<Problem>) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None => {
            problems.push(problem(path, format!("not a finite number: {f}")));
            Value::Null
        }
    }
}

fn object<'py>(
    items: impl Iterator<Item = (Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    path: &mut String,
    depth: usize,
    problems: &mut Vec<Problem>,
) -> PyResult<Value> {
    let mut map = Map::new();
    for (k, v) in items {
        let Ok(key) = k.cast::<PyString>() else {
            problems.push(problem(
                path,
                format!(
                    "keys must be strings, found {} {}",
                    type_name(&k),
                    k.repr().map(|r| r.to_string()).unwrap_or_default()
                ),
            ));
            continue;
        };
        let key = key.to_cow()?.into_owned();
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&key);
        let value = walk(&v, path, depth + 1, problems)?;
        path.truncate(len);
        map.insert(key, value);
    }
    Ok(Value::Object(map))
}
