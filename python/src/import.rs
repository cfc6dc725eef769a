//! `haplan.import_pool`: a pool from a platform's exports, through
//! `haplan-import`, validated by haplan's loader.

use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::NativePool;

pyo3::import_exception!(haplan._errors, InvalidExportError);

/// The pool and the warnings (code, message) of an import of `files`
/// (name, bytes) of `platform`.
#[pyfunction]
#[pyo3(signature = (platform, files, name = None, vsphere_sizing = "configured", cpu_overcommit = None))]
pub fn import_pool(
    py: Python<'_>,
    platform: &str,
    files: Vec<(String, Vec<u8>)>,
    name: Option<String>,
    vsphere_sizing: &str,
    cpu_overcommit: Option<f64>,
) -> PyResult<(NativePool, Vec<(String, String)>)> {
    let bad = |e: haplan_import::ImportError| PyValueError::new_err(e.to_string());
    let platform: haplan_import::Platform = platform.parse().map_err(bad)?;
    let options = haplan_import::Options {
        name,
        vsphere_sizing: vsphere_sizing.parse().map_err(bad)?,
        cpu_overcommit,
    };
    let done = py.detach(move || {
        let refs: Vec<haplan_import::File<'_>> = files
            .iter()
            .map(|(n, b)| haplan_import::File::new(n, b))
            .collect();
        let loader = |pool: &serde_json::Value| {
            haplan::pool_from_value(pool)
                .map(drop)
                .map_err(|e| e.to_string())
        };
        let imported = haplan_import::import(platform, &refs, &options, &loader)?;
        let pool = haplan::pool_from_value(&imported.pool)
            .map_err(|e| haplan_import::ImportError::Rejected(e.to_string()))?;
        let text = serde_json::to_string(&imported.pool).expect("serializable");
        Ok::<_, haplan_import::ImportError>((pool, text, imported.warnings))
    });
    match done {
        Ok((pool, text, warnings)) => Ok((
            NativePool {
                pool: Arc::new(pool),
                text,
            },
            warnings
                .into_iter()
                .map(|w| (w.code.to_string(), w.message))
                .collect(),
        )),
        Err(e) => {
            let (file, field) = match &e {
                haplan_import::ImportError::Field { file, field, .. } => {
                    (Some(file.clone()), Some(field.clone()))
                }
                haplan_import::ImportError::Syntax { file, .. }
                | haplan_import::ImportError::Unrecognised { file, .. } => {
                    (Some(file.clone()), None)
                }
                _ => (None, None),
            };
            Err(InvalidExportError::new_err((e.to_string(), file, field)))
        }
    }
}
