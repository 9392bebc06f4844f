//! The streaming invariants, with real ONNX Runtime: block sizes change nothing.

use melwave::contract::{ModelBytes, SAMPLE_RATE};
use melwave::engine::EngineConfig;
use melwave::features::{featurize, Event, TimedEvent};
use melwave::midi_file;
use melwave::render::render;
use melwave::runtime::{ModelRunner, Provider};
use melwave_tests::{random_model, repo_root};

fn demo_events(rate: u32) -> (Vec<TimedEvent>, usize) {
    let song = midi_file::load(&repo_root().join("assets/demo.mid")).expect("demo MIDI parses");
    let mut ev = song.timed_events(rate);
    // The first 1.5 s: long enough for notes, pedal and overlaps, short enough for block size 1.
    let len = (1.5 * rate as f64) as usize;
    ev.retain(|e| (e.time as usize) < len);
    (ev, len)
}

fn render_with_block(model: &ModelBytes, rate: u32, block: usize) -> Vec<f32> {
    let (events, len) = demo_events(rate);
    let config = EngineConfig::new(rate, block);
    let r = render(model, &config, (0.3, 0.7), &events, len, block, |_, _| {}).expect("render");
    assert_eq!(r.stats.underruns, 0, "offline rendering never underruns (block {block})");
    assert_eq!(r.stats.nan_resets + r.stats.model_errors, 0);
    r.audio
}

#[test]
fn engine_output_is_independent_of_host_block_size() {
    let model = random_model(11);
    let reference = render_with_block(&model, 48_000, 128);
    assert!(reference.iter().any(|v| v.abs() > 1e-4), "the random model makes sound");
    for block in [1, 64, 1000, 4096] {
        let out = render_with_block(&model, 48_000, block);
        assert_eq!(out.len(), reference.len());
        let worst = out.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst <= 1e-4, "block {block}: max difference {worst}");
    }
}

#[test]
fn default_model_streams_at_44100_with_odd_blocks() {
    let model = ModelBytes::embedded().expect("embedded model is valid");
    let a = render_with_block(&model, 44_100, 333);
    let b = render_with_block(&model, 44_100, 4096);
    let worst = a.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst <= 1e-4, "max difference {worst}");
}

#[test]
fn each_model_in_blocks_of_frames_equals_the_whole_sequence() {
    let frames = 150;
    let (events, _) = demo_events(SAMPLE_RATE);
    let (roll, source) = featurize(&events, frames, 1);
    for model in [random_model(3), ModelBytes::embedded().unwrap()] {
        let mut runner = ModelRunner::new(&model, Provider::Cpu).expect("loads");
        let (mel_whole, audio_whole) = runner.run_in_blocks(&roll, &source, [0.2, -0.4], frames).unwrap();
        for chunk in [1, 7, 64] {
            let (mel, audio) = runner.run_in_blocks(&roll, &source, [0.2, -0.4], chunk).unwrap();
            let dm = mel.iter().zip(&mel_whole).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            let da = audio.iter().zip(&audio_whole).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(dm <= 1e-4, "{}: mel in blocks of {chunk} differs by {dm}", model.origin);
            assert!(da <= 1e-4, "{}: audio in blocks of {chunk} differs by {da}", model.origin);
        }
    }
}

#[test]
fn streaming_is_reproducible_and_seeded() {
    let model = random_model(5);
    let (events, len) = demo_events(48_000);
    let mut cfg = EngineConfig::new(48_000, 256);
    let a = render(&model, &cfg, (0.5, 0.5), &events, len, 256, |_, _| {}).unwrap().audio;
    let b = render(&model, &cfg, (0.5, 0.5), &events, len, 256, |_, _| {}).unwrap().audio;
    assert_eq!(a, b);
    cfg.seed = 99;
    let c = render(&model, &cfg, (0.5, 0.5), &events, len, 256, |_, _| {}).unwrap().audio;
    assert_ne!(a, c, "the seed drives the excitation noise");
}

#[test]
fn a_note_event_plays_the_note_not_before() {
    use melwave::contract::{HOP, KEYS, ROLL_DIM};
    // No events: an empty roll and a silent harmonic source.
    let (roll, _) = featurize(&[], 10, 0);
    assert!(roll.iter().all(|&v| v == 0.0));
    // A note 37 samples into frame 5 belongs to frame 5: nothing of it before, its
    // onset (velocity/127) in frame 5 only, its frame flag from frame 5 on, and only
    // on its own key.
    let at = 5 * HOP as u64 + 37;
    let (roll, source) = featurize(&[TimedEvent { time: at, event: Event::NoteOn { key: 60, velocity: 100 } }], 10, 0);
    for f in 0..10 {
        let row = &roll[f * ROLL_DIM..(f + 1) * ROLL_DIM];
        let (onset, frame) = row.split_at(KEYS);
        assert_eq!(onset[60], if f == 5 { 100.0 / 127.0 } else { 0.0 }, "onset in frame {f}");
        assert_eq!(frame[60], if f >= 5 { 1.0 } else { 0.0 }, "frame flag in frame {f}");
        assert!(row.iter().enumerate().all(|(i, &v)| i % KEYS == 60 || v == 0.0), "frame {f}: another key is set");
    }
    // The sine channel (channel 0, channel-major) is silent before frame 5 and sounds in it.
    let n = 10 * HOP;
    let sine = &source[..n];
    assert!(sine[..5 * HOP].iter().all(|&v| v == 0.0), "the source sounds before its frame");
    assert!(sine[5 * HOP..6 * HOP].iter().any(|&v| v.abs() > 0.01), "the source is silent in the note's frame");
}
