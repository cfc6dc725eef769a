//! The C ABI of haplan. Not yet exported: see `ffi/README.md` for what comes.
