//! Reading the files: text, JSON (one document or a stream of them, as
//! `govc` prints), and values by path, so that every error names the file
//! and the field.

use serde_json::{Map, Value};

use crate::{File, ImportError};

/// The text of a file (UTF-8, a byte-order mark dropped).
pub(crate) fn text<'a>(file: &File<'a>) -> Result<&'a str, ImportError> {
    let s = std::str::from_utf8(file.bytes).map_err(|e| {
        ImportError::syntax(
            file.name,
            format!("not UTF-8 text (byte {})", e.valid_up_to()),
        )
    })?;
    Ok(s.strip_prefix('\u{feff}').unwrap_or(s))
}

/// Whether the text looks like JSON (starts with `{` or `[`).
pub(crate) fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

fn json_error(file: &str, e: &serde_json::Error) -> ImportError {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => &msg,
    };
    ImportError::syntax(
        file,
        format!(
            "invalid JSON at line {}, column {}: {msg}",
            e.line(),
            e.column().max(1)
        ),
    )
}

/// Every JSON value in the text: one document, or several one after the
/// other (a stream).
pub(crate) fn json_values(file: &File<'_>) -> Result<Vec<Value>, ImportError> {
    let t = text(file)?;
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(t).into_iter::<Value>() {
        out.push(v.map_err(|e| json_error(file.name, &e))?);
    }
    if out.is_empty() {
        return Err(ImportError::syntax(file.name, "empty file"));
    }
    Ok(out)
}

/// The file's one JSON document.
pub(crate) fn json(file: &File<'_>) -> Result<Value, ImportError> {
    let t = text(file)?;
    serde_json::from_str(t).map_err(|e| json_error(file.name, &e))
}

/// A value in a file, with its path for messages.
#[derive(Clone)]
pub(crate) struct At<'a> {
    pub file: &'a str,
    pub path: String,
    pub v: &'a Value,
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl<'a> At<'a> {
    pub fn root(file: &'a str, v: &'a Value) -> Self {
        At {
            file,
            path: String::new(),
            v,
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn err(&self, message: impl Into<String>) -> ImportError {
        let path = if self.path.is_empty() {
            "(document)".to_string()
        } else {
            self.path.clone()
        };
        ImportError::field(self.file, path, message)
    }

    /// A member, absent when missing or null.
    pub fn get(&self, key: &str) -> Option<At<'a>> {
        match self.v.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(At {
                file: self.file,
                path: self.child_path(key),
                v,
            }),
        }
    }

    /// A string member, absent when missing or null.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ImportError> {
        self.get(key).map(|x| x.str()).transpose()
    }

    /// A non-negative integer member, absent when missing or null.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, ImportError> {
        self.get(key).map(|x| x.u64()).transpose()
    }

    /// A boolean member, absent when missing or null.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ImportError> {
        self.get(key).map(|x| x.bool()).transpose()
    }

    /// A member that must be there.
    pub fn req(&self, key: &str) -> Result<At<'a>, ImportError> {
        self.get(key).ok_or_else(|| {
            At {
                file: self.file,
                path: self.child_path(key),
                v: &Value::Null,
            }
            .err("missing")
        })
    }

    pub fn str(&self) -> Result<&'a str, ImportError> {
        self.v
            .as_str()
            .ok_or_else(|| self.err(format!("expected a string, found {}", describe(self.v))))
    }

    /// A non-empty string.
    pub fn name(&self) -> Result<&'a str, ImportError> {
        let s = self.str()?;
        if s.is_empty() {
            return Err(self.err("must not be empty"));
        }
        Ok(s)
    }

    /// A non-negative integer, written as a number or as a string of
    /// digits (XenAPI writes 64-bit integers as strings).
    pub fn u64(&self) -> Result<u64, ImportError> {
        match self.v {
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    return Ok(u);
                }
                if let Some(f) = n.as_f64() {
                    if f.fract() == 0.0 && (0.0..1.8e19).contains(&f) {
                        return Ok(f as u64);
                    }
                    if f < 0.0 {
                        return Err(self.err(format!("must not be negative, found {n}")));
                    }
                }
                Err(self.err(format!("expected a whole number, found {n}")))
            }
            Value::String(s) => s.trim().parse::<u64>().map_err(|_| {
                self.err(format!("expected a non-negative whole number, found {s:?}"))
            }),
            other => Err(self.err(format!(
                "expected a non-negative whole number, found {}",
                describe(other)
            ))),
        }
    }

    /// A signed integer (as a number or a string).
    pub fn i64(&self) -> Result<i64, ImportError> {
        match self.v {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| self.err(format!("expected a whole number, found {n}"))),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| self.err(format!("expected a whole number, found {s:?}"))),
            other => Err(self.err(format!(
                "expected a whole number, found {}",
                describe(other)
            ))),
        }
    }

    /// A number (as a number or a string).
    pub fn f64(&self) -> Result<f64, ImportError> {
        let f = match self.v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        f.filter(|f| f.is_finite())
            .ok_or_else(|| self.err(format!("expected a number, found {}", self.v)))
    }

    /// A boolean: true/false, 1/0, or their strings.
    pub fn bool(&self) -> Result<bool, ImportError> {
        match self.v {
            Value::Bool(b) => Ok(*b),
            Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
            Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(self.err(format!("expected true or false, found {s:?}"))),
            },
            other => Err(self.err(format!("expected true or false, found {}", describe(other)))),
        }
    }

    pub fn array(&self) -> Result<Vec<At<'a>>, ImportError> {
        let items = self
            .v
            .as_array()
            .ok_or_else(|| self.err(format!("expected a list, found {}", describe(self.v))))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| At {
                file: self.file,
                path: format!("{}[{i}]", self.path),
                v,
            })
            .collect())
    }

    pub fn object(&self) -> Result<&'a Map<String, Value>, ImportError> {
        self.v
            .as_object()
            .ok_or_else(|| self.err(format!("expected an object, found {}", describe(self.v))))
    }

    /// The members of an object, each with its path.
    pub fn entries(&self) -> Result<Vec<(&'a str, At<'a>)>, ImportError> {
        let obj = self.object()?;
        Ok(obj
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    At {
                        file: self.file,
                        path: if self.path.is_empty() {
                            format!("{:?}", k)
                        } else {
                            format!("{}[{:?}]", self.path, k)
                        },
                        v,
                    },
                )
            })
            .collect())
    }
}
