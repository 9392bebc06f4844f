//! The bundled `Melwave.vst3` in pedalboard, a JUCE-based VST3 host from PyPI: it
//! loads as an instrument, shows settable parameters, and renders a MIDI phrase with
//! spectral peaks at the played pitches (see tests/hosts/pedalboard_vst3.py).

use melwave_tests::repo_root;

#[test]
fn pedalboard_loads_and_plays_the_vst3() {
    let python = std::env::var("MELWAVE_HOST_PYTHON").expect("MELWAVE_HOST_PYTHON names a Python with pedalboard; `cargo xtask test` sets it up");
    let bundle = repo_root().join("target/bundled/Melwave.vst3");
    assert!(bundle.is_dir(), "{} is missing: `cargo xtask test` builds it", bundle.display());
    let out = std::process::Command::new(python)
        .arg(repo_root().join("tests/hosts/pedalboard_vst3.py"))
        .arg(&bundle)
        // The plugin must find ONNX Runtime beside itself, not through the environment.
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .expect("python runs");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pedalboard failed:\n{log}");
    assert!(log.contains("pedalboard: ok"), "{log}");
}
