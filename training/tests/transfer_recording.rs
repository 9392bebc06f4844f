//! `melwave transfer` on a real instrument's recording: a flute phrase rendered by a
//! SoundFont that training never used (TimGM6mb), re-synthesised as the shipped
//! model's trumpet. The output's pitch presence against the phrase's MIDI is at least
//! 0.9 of the recording's own.

use std::path::Path;

use melwave::contract::{ModelBytes, TimbrePlane, SAMPLE_RATE};
use melwave::engine::EngineConfig;
use melwave::features::audio_in::AudioInSettings;
use melwave::features::{Event, TimedEvent};
use melwave_train::dataset::synth;
use melwave_train::eval::metrics::{onsets, PitchCheck};

/// Debian's `timgm6mb-soundfont`, which `cargo xtask test` installs.
const OTHER_FONT: &str = "/usr/share/sounds/sf2/TimGM6mb.sf2";
/// GM flute.
const FLUTE: u8 = 73;

#[test]
fn a_flute_recording_comes_out_as_a_trumpet_with_its_pitches() {
    let rate = SAMPLE_RATE;
    let at = |s: f64| (s * rate as f64) as u64;
    let melody = [67u8, 69, 71, 72, 74, 72, 71, 69, 67, 64, 65, 67, 72, 71, 74, 79];
    let mut events = Vec::new();
    for (i, &key) in melody.iter().enumerate() {
        let t = 0.2 + 0.35 * i as f64;
        events.push(TimedEvent { time: at(t), event: Event::NoteOn { key, velocity: 90 } });
        events.push(TimedEvent { time: at(t + 0.3), event: Event::NoteOff { key } });
    }
    let seconds = 0.2 + 0.35 * melody.len() as f64 + 0.5;
    let font = synth::load_font(Path::new(OTHER_FONT)).unwrap_or_else(|e| panic!("{e:#}: install timgm6mb-soundfont (cargo xtask test does)"));
    let recording = synth::render(&font, &events, 0, FLUTE, seconds).unwrap();

    let model = ModelBytes::embedded().unwrap();
    let trumpet = model.manifest.instrument("Trumpet").unwrap();
    let pad = TimbrePlane::new(&model.manifest.instruments).to_pad(&trumpet.point);
    let out = melwave::render::transfer(&model, &EngineConfig::offline(rate, 512), pad, &recording, AudioInSettings::default(), 0.5, 512).unwrap().0.audio;

    let notes = onsets(&events);
    let mut check = PitchCheck::new(rate as f64);
    let mut presence = |audio: &[f32]| notes.iter().filter(|o| check.note_present(audio, o.sample, o.frequency) == Some(true)).count() as f64 / notes.len() as f64;
    let (own, transferred) = (presence(&recording), presence(&out));
    eprintln!("pitch presence: the flute recording {own:.3}, as a trumpet {transferred:.3}");
    assert!(own > 0.8, "the recording has its own pitches ({own:.3})");
    assert!(transferred >= 0.9 * own, "transferred {transferred:.3} against the recording's {own:.3}");
}
