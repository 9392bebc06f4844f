//! What the engine and `cargo xtask` must agree on: the ONNX Runtime release and where
//! the download cache lives. xtask compiles this very file (`#[path]`), so there is one
//! definition; it uses nothing beyond `std` for that reason.

use std::path::PathBuf;

/// The ONNX Runtime release the project is built and tested against; `cargo xtask ort`
/// fetches this one.
pub const ORT_VERSION: &str = "1.31.1";

/// Root of Melwave's download cache: `$MELWAVE_CACHE`, else `~/.cache/melwave`; none
/// when neither names an absolute folder. The engine loads a library from here, so
/// it must be the user's own folder: a shared fallback such as `/tmp` would let any
/// local user plant one, and a relative path would depend on the host's working folder.
pub fn cache_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(dir) = std::env::var_os("MELWAVE_CACHE") {
        return absolute(dir);
    }
    std::env::var_os("HOME").and_then(absolute).map(|home| home.join(".cache").join("melwave"))
}
