//! What the engine and `cargo xtask` must agree on: the ONNX Runtime release and where
//! the download cache lives. xtask compiles this very file (`#[path]`), so there is one
//! definition; it uses nothing beyond `std` for that reason.

use std::path::PathBuf;

/// The ONNX Runtime release the project is built and tested against; `cargo xtask ort`
/// fetches this one.
pub const ORT_VERSION: &str = "1.31.1";

/// Root of Melwave's download cache: `$MELWAVE_CACHE`, else `~/.cache/melwave`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MELWAVE_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache").join("melwave")
}
