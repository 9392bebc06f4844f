// torch-sys links libtorch dynamically from the torch wheel in the venv that
// `cargo xtask` manages. Recording that folder as an rpath means the training
// binaries and tests run without anyone setting LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    // Nothing in the binary calls into libtorch_cuda by name (CUDA kernels register
    // themselves when the library loads), so the linker's --as-needed drops it and
    // torch then sees no GPU. Linking it again without --as-needed keeps the
    // CUDA half of a CUDA build loaded (tch-rs issue 980); a CPU-only build has none.
    if std::path::Path::new(&dir).join("libtorch_cuda.so").is_file() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        // For the test that checks it stays linked.
        println!("cargo:rustc-env=MELWAVE_TORCH_CUDA=1");
    }
}
