// torch-sys links libtorch dynamically from the torch wheel in the venv that
// `cargo xtask` manages. Recording that folder as an rpath means the training
// binaries and tests run without anyone setting LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
