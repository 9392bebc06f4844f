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
        "render",
        demo().to_str().unwrap(),
        "-o",
        wav.to_str().unwrap(),
        "--timbre",
        "0.25,0.75",
        "--model",
        model.to_str().unwrap(),
        "--block",
        "64",
        "--sample-rate",
        "24000",
        "--tail",
        "0",
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

/// A type-0 file of one track holding `events` (delta-timed bytes), `tpq` ticks per
/// quarter.
fn smf(tpq: u16, events: &[u8]) -> Vec<u8> {
    let mut f = b"MThd\0\0\0\x06\0\0\0\x01".to_vec();
    f.extend(tpq.to_be_bytes());
    f.extend(b"MTrk");
    f.extend((events.len() as u32).to_be_bytes());
    f.extend(events);
    f
}

#[test]
fn a_damaged_event_is_named_by_track_and_byte_and_the_exit_is_not_clean() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("damaged.mid");
    let wav = dir.path().join("out.wav");
    // Note on, a tempo meta event (which ends running status), then a data byte that
    // would need running status: the event at byte 33 is damaged, and the note off
    // after it cannot be read.
    let events = [
        0x00, 0x90, 60, 100, // bytes 22–25
        0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, // 26–32
        0x60, 0x40, 0x40, // 33: running status after a meta event
        0x00, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00,
    ];
    std::fs::write(&f, smf(96, &events)).unwrap();
    let out = melwave(&["render", f.to_str().unwrap(), "-o", wav.to_str().unwrap(), "--tail", "0.2", "--sample-rate", "24000"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "damaged input is not a clean exit: {stderr}");
    assert!(stderr.contains("warning:") && stderr.contains("track 0") && stderr.contains("byte 33"), "{stderr}");
    assert!(wav.is_file(), "what could be read is still rendered");
    let clean = dir.path().join("clean.mid");
    std::fs::write(&clean, smf(96, &[0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00])).unwrap();
    let out = melwave(&["render", clean.to_str().unwrap(), "-o", wav.to_str().unwrap(), "--tail", "0.2", "--sample-rate", "24000"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}

#[test]
fn a_song_longer_than_the_bound_is_refused_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("years.mid");
    // One tick per quarter at the slowest tempo, and an end of track 2^28 − 1 ticks
    // later: about 143 years.
    let events = [0x00, 0xFF, 0x51, 0x03, 0xFF, 0xFF, 0xFF, 0x00, 0x90, 60, 100, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0x2F, 0x00];
    std::fs::write(&f, smf(1, &events)).unwrap();
    assert_clean_failure(&melwave(&["render", f.to_str().unwrap(), "-o", dir.path().join("x.wav").to_str().unwrap()]), "longer than the 3600 s");
}

#[test]
fn the_render_does_not_print_a_latency_it_has_already_removed() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("out.wav");
    let out = melwave(&["render", demo().to_str().unwrap(), "-o", wav.to_str().unwrap(), "--tail", "0", "--sample-rate", "24000"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("latency"), "{stderr}");
}

/// A write that fails part way (here the file-size limit, as a full disk would) leaves
/// the file that was there before as it was.
#[test]
fn a_failed_write_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("song.wav");
    std::fs::write(&wav, b"the user's earlier bounce").unwrap();
    // 64 KiB: the WAV header goes out, the samples (1.3 MB) do not all fit.
    // SIGXFSZ is ignored so that the write fails with an error instead of a kill.
    let script = format!("trap '' XFSZ; ulimit -f 64; exec '{}' render '{}' -o '{}' --tail 0 --sample-rate 24000", env!("CARGO_BIN_EXE_melwave"), demo().display(), wav.display());
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert_clean_failure(&out, "cannot write");
    assert_eq!(std::fs::read(&wav).unwrap(), b"the user's earlier bounce");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
}

/// Without HOME (a service, a sandbox) the library search has no cache to look in,
/// rather than a shared folder such as /tmp where any local user could plant one.
#[test]
fn without_home_no_shared_folder_is_searched_for_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_melwave"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["render", demo().to_str().unwrap(), "-o", dir.path().join("x.wav").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_clean_failure(&out, "ONNX Runtime");
    assert!(stderr.contains("looked in"), "{stderr}");
    // Beside the binary is searched (wherever the checkout is); nothing else.
    let own = Path::new(env!("CARGO_BIN_EXE_melwave")).parent().unwrap().display().to_string();
    let elsewhere = stderr.replace(&own, "");
    assert!(!elsewhere.contains("/tmp") && !elsewhere.contains(".cache"), "searched a folder that is not the user's: {stderr}");
}

fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[f32]) {
    let spec = hound::WavSpec { channels, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample((s * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// `melwave transfer` on a stereo 16-bit recording of a sung-like line (a sine
/// sliding into a held note with vibrato), as a trumpet: the output has the input's
/// rate and length plus the tail, and sounds; a file with no pitch says so and is
/// silent; a file that is not a WAV is a one-line error.
#[test]
fn transfers_a_recording_to_an_instrument() {
    let dir = tempfile::tempdir().unwrap();
    let rate = 44_100;
    let mut phase = 0.0f32;
    let mut line = Vec::new();
    for i in 0..rate as usize * 2 {
        let t = i as f32 / rate as f32;
        let key = if t < 0.3 { 55.0 + 2.0 * t / 0.3 } else { 57.0 + 0.3 * (std::f32::consts::TAU * 5.0 * t).sin() };
        phase += std::f32::consts::TAU * 440.0 * 2f32.powf((key - 69.0) / 12.0) / rate as f32;
        let s = 0.3 * phase.sin();
        line.extend([s, s]);
    }
    let input = dir.path().join("voice.wav");
    write_wav(&input, rate, 2, &line);
    let wav = dir.path().join("trumpet.wav");
    let out = melwave(&["transfer", input.to_str().unwrap(), "-o", wav.to_str().unwrap(), "--instrument", "Trumpet", "--transpose", "-12", "--tail", "0.5"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The slide bends the note it starts on; where it settles the next note takes
    // over, and the vibrato bends that one.
    assert!(stderr.contains("heard 2 notes"), "a slide into a held note with vibrato: {stderr}");
    let mut reader = hound::WavReader::open(&wav).unwrap();
    assert_eq!(reader.spec().sample_rate, rate);
    let samples: Vec<f32> = reader.samples::<f32>().map(Result::unwrap).collect();
    assert_eq!(samples.len(), rate as usize * 2 + rate as usize / 2);
    assert!(samples.iter().any(|v| v.abs() > 1e-3), "non-silent");

    let hum = dir.path().join("hum.wav");
    write_wav(&hum, rate, 1, &vec![0.0; rate as usize]);
    let out = melwave(&["transfer", hum.to_str().unwrap(), "-o", dir.path().join("hum-out.wav").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("no pitched note"), "{stderr}");

    let bogus = dir.path().join("bogus.wav");
    std::fs::write(&bogus, b"RIFF not really").unwrap();
    assert_clean_failure(&melwave(&["transfer", bogus.to_str().unwrap(), "-o", dir.path().join("x.wav").to_str().unwrap()]), "cannot read");
}
