//! Python bindings of haplan. Not yet built: see `python/README.md`.
