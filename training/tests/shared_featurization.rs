//! Training's featurization is the engine's: the same MIDI through the training path
//! (`featurize` on model-sample events) and through the streaming engine (with a
//! vocoder that passes the excitation through) gives the same excitation, sample for
//! sample — which covers note timing, pedal, bend and phase. The engine's output stage
//! (DC blocker, soft clip) is applied to training's side too: it is the engine's last
//! step, not featurization.

use melwave::contract::{HOP, SAMPLE_RATE};
use melwave::engine::resample::StreamResampler;
use melwave::engine::safety::OutputStage;
use melwave::engine::EngineConfig;
use melwave::features::featurize;
use melwave::midi_file;
use melwave::render::render;
use melwave_tests::passthrough_model;

/// At the host rates too: the engine stamps events in host samples and maps them to
/// model frames itself, so the MIDI is converted at each rate on the engine's side
/// and at 24 kHz on training's. Training's excitation then goes through the engine's
/// own resampler (fed frame by frame, its delay trimmed as `render` trims it).
#[test]
fn engine_and_training_featurize_the_same_midi_identically() {
    let song = midi_file::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo.mid")).unwrap();
    let model_events = song.timed_events(SAMPLE_RATE);
    let frames = (song.duration * SAMPLE_RATE as f64) as usize / HOP;
    let seed = 42;
    let (_, source) = featurize(&model_events, frames, seed);
    let harmonic = &source[..frames * HOP];
    assert!(harmonic.iter().any(|v| v.abs() > 0.05), "the demo plays notes");

    for rate in [SAMPLE_RATE, 44_100, 48_000] {
        let mut resampler = StreamResampler::new(rate).unwrap();
        let mut expected = Vec::new();
        for frame in harmonic.chunks(HOP) {
            resampler.process(frame, &mut expected);
        }
        OutputStage::new(rate).process(&mut expected);
        let expected = &expected[resampler.delay()..];

        let mut cfg = EngineConfig::new(rate, 100);
        cfg.seed = seed;
        let len = expected.len();
        let r = render(&passthrough_model(), &cfg, (0.5, 0.5), &song.timed_events(rate), len, 100, |_, _| {}).unwrap();
        let worst = r.audio.iter().zip(expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "{rate} Hz: engine and training excitation differ by up to {worst}");
    }
}
