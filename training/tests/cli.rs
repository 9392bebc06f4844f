//! `melwave-train`'s size flags: a flag the stage would ignore is refused, saying why,
//! before any data is read.

use std::process::Command;

fn train(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_melwave-train")).arg("train").args(args).args(["--data", "/nonexistent/data", "--run", "/nonexistent/run"]).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn size_flags_a_stage_would_ignore_are_refused() {
    let (ok, err) = train(&["finetune", "--filter-taps", "512"]);
    assert!(!ok && err.contains("--filter-taps cannot be used here") && err.contains("fine-tune keeps the size"), "{err}");
    let (ok, err) = train(&["vocoder", "--hidden", "128", "--lstm-layers", "2"]);
    assert!(!ok && err.contains("--hidden, --lstm-layers cannot be used here"), "{err}");
    let (ok, err) = train(&["mel2mel", "--vocoder-layers", "4"]);
    assert!(!ok && err.contains("--vocoder-layers cannot be used here"), "{err}");
    // A flag the stage uses gets past the check, to the missing dataset.
    let (ok, err) = train(&["mel2mel", "--hidden", "128"]);
    assert!(!ok && !err.contains("cannot be used here"), "{err}");
    let (ok, err) = train(&["mel2mel", "--hidden", "0"]);
    assert!(!ok && err.contains("must be positive"), "{err}");
}
