//! Training's featurization is the engine's: the same MIDI through the training path
//! (`featurize` on model-sample events) and through the streaming engine (with a
//! vocoder that passes the excitation through) gives the same excitation, sample for
//! sample — which covers note timing, pedal, bend and phase. The engine's output stage
//! (DC blocker, soft clip) is applied to training's side too: it is the engine's last
//! step, not featurization.

use melwave::contract::{HOP, SAMPLE_RATE};
use melwave_tests::passthrough_model;
use melwave::engine::EngineConfig;
use melwave::features::featurize;
use melwave::midi_file;
use melwave::render::render;

#[test]
fn engine_and_training_featurize_the_same_midi_identically() {
    let song = midi_file::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo.mid")).unwrap();
    let events = song.timed_events(SAMPLE_RATE);
    let frames = (song.duration * SAMPLE_RATE as f64) as usize / HOP;
    let seed = 42;
    let (_, source) = featurize(&events, frames, seed);
    let mut harmonic = source[..frames * HOP].to_vec();
    melwave::engine::safety::OutputStage::new(SAMPLE_RATE).process(&mut harmonic);

    let mut cfg = EngineConfig::new(SAMPLE_RATE, 100);
    cfg.seed = seed;
    let r = render(&passthrough_model(), &cfg, (0.5, 0.5), &events, frames * HOP, 100, |_, _| {}).unwrap();
    let worst = r.audio.iter().zip(&harmonic).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-4, "engine and training excitation differ by up to {worst}");
    assert!(harmonic.iter().any(|v| v.abs() > 0.05), "the demo plays notes");
}
