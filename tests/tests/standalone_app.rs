//! The standalone app played through a real MIDI connection: a JACK server on its
//! dummy driver, `jack_midiseq` sending a loop of four notes over JACK MIDI into the
//! app's MIDI input, and the app's audio output recorded from the JACK graph (see
//! tests/hosts/standalone_jack.sh). The recording holds the played pitches.

use melwave_tests::{repo_root, rms, spectrum};

/// The loop's notes: A3, E4, A4, C5.
const PLAYED: [u8; 4] = [57, 64, 69, 72];

fn key_of(f: f32) -> f32 {
    69.0 + 12.0 * (f / 440.0).log2()
}

#[test]
fn the_app_plays_the_notes_a_jack_midi_keyboard_sends() {
    let bin = std::env::var("MELWAVE_STANDALONE_BIN").expect("MELWAVE_STANDALONE_BIN names `melwave` built with the standalone feature; `cargo xtask test` builds it");
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("app.wav");
    let out = std::process::Command::new("bash").arg(repo_root().join("tests/hosts/standalone_jack.sh")).arg(&bin).arg(&wav).arg("6").output().expect("bash runs");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the app did not play through JACK:\n{log}");
    let mut reader = hound::WavReader::open(&wav).unwrap();
    let rate = reader.spec().sample_rate as f32;
    let scale = 2f32.powi(reader.spec().bits_per_sample as i32 - 1);
    let audio: Vec<f32> = reader.samples::<i32>().map(|s| s.unwrap() as f32 / scale).collect();
    assert!(audio.len() as f32 >= 5.0 * rate, "{} samples recorded", audio.len());
    assert!(rms(&audio) > 1e-3, "the app is audible (rms {})", rms(&audio));

    // Each 85 ms window that sounds: which of the played notes has the strongest
    // fundamental or octave, against every other key from A2 to C6.
    let n = 4096;
    let bin = |f: f32| (f * n as f32 / rate).round() as usize;
    let mut found = [0usize; 4];
    let mut windows = 0;
    for w in audio.chunks_exact(n) {
        if rms(w) < 0.1 * rms(&audio) {
            continue;
        }
        windows += 1;
        let s = spectrum(w);
        let strength = |key: u8| {
            let f = 440.0 * 2f32.powf((key as f32 - 69.0) / 12.0);
            [f, 2.0 * f].iter().map(|&f| s[bin(f * 0.985)..=bin(f * 1.015)].iter().fold(0.0f32, |m, &v| m.max(v))).sum::<f32>()
        };
        let best = (45..=84u8).max_by(|a, b| strength(*a).total_cmp(&strength(*b))).unwrap();
        if let Some(i) = PLAYED.iter().position(|&k| k == best) {
            found[i] += 1;
        }
    }
    let heard: usize = found.iter().sum();
    eprintln!("{windows} sounding windows; played notes found {found:?}; peak of the whole recording at key {:.1}", key_of(melwave_tests::peak_frequency(&audio, rate)));
    assert!(found.iter().all(|&c| c > 0), "every played note is heard: {found:?} in {windows} windows\n{log}");
    assert!(heard * 10 >= windows * 8, "the sounding windows are the played notes: {heard} of {windows}");
}
