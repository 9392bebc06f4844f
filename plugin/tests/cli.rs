//! `melwave render` on real files: it renders, and every bad input ends in a
//! one-line error and a non-zero exit, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn melwave(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_melwave")).args(args).output().expect("runs")
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo.mid")
}

fn assert_clean_failure(out: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit code for `{mentions}`; stderr: {stderr}");
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line of error, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].to_lowercase().contains(&mentions.to_lowercase()), "error should mention `{mentions}`: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn renders_the_demo_to_a_wav() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("out.wav");
    let out = melwave(&["render", demo().to_str().unwrap(), "-o", wav.to_str().unwrap(), "--instrument", "trumpet", "--sample-rate", "44100"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("real-time factor") && stderr.contains("provider CPU"), "summary: {stderr}");
    let mut reader = hound::WavReader::open(&wav).unwrap();
    assert_eq!(reader.spec().sample_rate, 44_100);
    let samples: Vec<f32> = reader.samples::<f32>().map(Result::unwrap).collect();
    let seconds = samples.len() as f64 / 44_100.0;
    assert!((14.0..16.0).contains(&seconds), "demo is about 14 s plus a 1 s tail, got {seconds}");
    assert!(samples.iter().all(|v| v.is_finite()));
    assert!(samples.iter().any(|v| v.abs() > 1e-4), "non-silent");
}

#[test]
fn renders_at_a_pad_position_from_a_model_folder() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("out.wav");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/default");
    let out = melwave(&[
        "render", demo().to_str().unwrap(), "-o", wav.to_str().unwrap(), "--timbre", "0.25,0.75", "--model", model.to_str().unwrap(),
        "--block", "64", "--sample-rate", "24000", "--tail", "0",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(wav.is_file());
}

#[test]
fn missing_input_file() {
    assert_clean_failure(&melwave(&["render", "/nonexistent/song.mid", "-o", "/tmp/x.wav"]), "cannot read");
}

#[test]
fn non_midi_input() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("song.mid");
    std::fs::write(&f, b"RIFF....WAVEfmt this is not midi at all").unwrap();
    assert_clean_failure(&melwave(&["render", f.to_str().unwrap(), "-o", "/tmp/x.wav"]), "not a MIDI file");
}

#[test]
fn truncated_midi_input() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(demo()).unwrap();
    for cut in [20, bytes.len() / 2, bytes.len() - 1] {
        let f = dir.path().join("cut.mid");
        std::fs::write(&f, &bytes[..cut]).unwrap();
        assert_clean_failure(&melwave(&["render", f.to_str().unwrap(), "-o", "/tmp/x.wav"]), "truncated");
    }
}

#[test]
fn unknown_instrument() {
    let out = melwave(&["render", demo().to_str().unwrap(), "-o", "/tmp/x.wav", "--instrument", "kazoo"]);
    assert_clean_failure(&out, "unknown instrument `kazoo`");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Grand Piano"), "lists the instruments");
}

#[test]
fn bad_model_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.json"), b"{\"format\": \"something else\"}").unwrap();
    let out = melwave(&["render", demo().to_str().unwrap(), "-o", "/tmp/x.wav", "--model", dir.path().to_str().unwrap()]);
    assert_clean_failure(&out, "manifest");
    let out = melwave(&["render", demo().to_str().unwrap(), "-o", "/tmp/x.wav", "--model", "/nonexistent-model"]);
    assert_clean_failure(&out, "does not exist");
}

#[test]
fn bad_options() {
    let d = demo();
    let d = d.to_str().unwrap();
    assert_clean_failure(&melwave(&["render", d, "-o", "/tmp/x.wav", "--sample-rate", "1000"]), "sample rate");
    assert_clean_failure(&melwave(&["render", d, "-o", "/tmp/x.wav", "--timbre", "2,0.5"]), "off the pad");
    assert_clean_failure(&melwave(&["render", d, "-o", "/nonexistent-dir/x.wav", "--tail", "0"]), "cannot write");
    // Usage errors are clap's: exit code 2.
    assert_eq!(melwave(&["render", d, "-o", "/tmp/x.wav", "--timbre", "nonsense"]).status.code(), Some(2));
}
