//! Gives the shared library a SONAME, as a C library installed system-wide
//! needs: `libhaplan.so.0.1` while the version is 0.x (a minor release may
//! change the ABI), `libhaplan.so.MAJOR` from 1.0 on. `ffi/install.sh`
//! installs it under that name.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("set by cargo");
    let soname = if major == "0" {
        format!("libhaplan.so.0.{minor}")
    } else {
        format!("libhaplan.so.{major}")
    };
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
