//! Where `libonnxruntime` comes from. ort is built with `load-dynamic`, so the
//! library is found at run time, in this order:
//! 1. `ORT_DYLIB_PATH`;
//! 2. next to the binary or plugin that contains this code (found with `dladdr`, so
//!    that a plugin looks beside itself, never beside the host or in its working dir);
//! 3. the cache that `cargo xtask ort` fills (`$MELWAVE_CACHE`, else `~/.cache/melwave`;
//!    skipped when neither is an absolute path).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::pins::{cache_dir, ORT_VERSION};
use crate::sync::LockExt;

/// The file names the library may have beside a binary: the pinned release's, then
/// the unversioned link.
fn lib_names() -> [String; 2] {
    [format!("libonnxruntime.so.{ORT_VERSION}"), "libonnxruntime.so".to_string()]
}

/// The folder `cargo xtask ort` writes the library into, if there is a cache (see
/// [`cache_dir`]).
pub fn cached_library_dir(gpu: bool) -> Option<PathBuf> {
    cache_dir().map(|c| c.join("ort").join(format!("{ORT_VERSION}-{}", if gpu { "gpu" } else { "cpu" })))
}

/// The folder holding the shared object (plugin or executable) this code is in.
pub fn own_dir() -> Option<PathBuf> {
    // SAFETY: dladdr only reads the loader's tables for an address inside this object.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let addr = own_dir as *const libc::c_void;
        if libc::dladdr(addr, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        let path = std::ffi::CStr::from_ptr(info.dli_fname).to_string_lossy().into_owned();
        let path = PathBuf::from(path);
        let path = if path.is_absolute() { path } else { std::fs::canonicalize(&path).ok()? };
        path.parent().map(Path::to_path_buf)
    }
}

/// Every place looked at, in order, with the first existing one last checked.
pub fn locate() -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        tried.push(format!("ORT_DYLIB_PATH={}", p.display()));
    }
    let mut dirs = Vec::new();
    if let Some(d) = own_dir() {
        dirs.push(d);
    }
    dirs.extend(cached_library_dir(cfg!(any(feature = "cuda", feature = "tensorrt"))));
    dirs.extend(cached_library_dir(false));
    for d in dirs {
        for name in lib_names() {
            let p = d.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
        tried.push(d.display().to_string());
    }
    Err(format!("ONNX Runtime {ORT_VERSION} was not found (looked in: {}). Run `cargo xtask ort`, or set ORT_DYLIB_PATH.", tried.join(", ")))
}

struct Loaded {
    env: ort::environment::Environment,
    path: PathBuf,
}

static ENVIRONMENT: OnceLock<Loaded> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

/// The process-wide ONNX Runtime environment, loaded on first success. ONNX Runtime
/// allows one environment per process, so it lives for the whole process. A failure
/// is not kept: a user who installs the library (`cargo xtask ort`) and reloads the
/// plugin gets it without restarting the host.
pub fn environment() -> Result<(&'static ort::environment::Environment, &'static Path), String> {
    if let Some(l) = ENVIRONMENT.get() {
        return Ok((&l.env, &l.path));
    }
    let _one_at_a_time = LOADING.locked();
    if let Some(l) = ENVIRONMENT.get() {
        return Ok((&l.env, &l.path));
    }
    let path = locate()?;
    let builder = ort::init_from(&path).map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?;
    let env = builder.with_name("melwave").build().map_err(|e| format!("cannot start ONNX Runtime: {e}"))?;
    let l = ENVIRONMENT.get_or_init(|| Loaded { env, path });
    Ok((&l.env, &l.path))
}
