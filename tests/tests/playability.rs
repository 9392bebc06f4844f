//! What a musician and a producer rely on besides the sound: an idle instance is
//! silent and runs no model, automation lands on its frame whatever the host's block
//! size, the output can never blast the speakers, and a bounce never hangs.

use melwave::contract::{HOP, SAMPLE_RATE};
use melwave::engine::{self, audio_side::CEILING, EngineConfig, EngineHandle, Stats, IDLE_TAIL_SECONDS};
use melwave::features::Event;
use melwave_tests::{passthrough_model, passthrough_model_with_gain, random_model, rms};

const RATE: u32 = 48_000;

/// What the bounce is told to do, at host samples.
#[derive(Clone, Copy)]
enum At {
    Note(Event),
    Pad(f32, f32),
}

/// Bounces `cues` (sorted) for `length` samples in blocks of `block`, waiting for
/// inference as an offline host does, with the latency trimmed. `before(i, handle)`
/// runs before block `i`.
fn bounce(
    model: &melwave::contract::ModelBytes,
    config: &EngineConfig,
    cues: &[(u64, At)],
    length: usize,
    block: usize,
    mut before: impl FnMut(usize, &EngineHandle),
) -> (Vec<f32>, Stats, EngineHandle) {
    let (mut audio, handle) = engine::start(model, config).unwrap();
    let latency = handle.latency().total();
    let total = length + latency;
    let mut out = vec![0.0f32; total];
    let (mut pos, mut next, mut i) = (0usize, 0usize, 0usize);
    while pos < total {
        let b = block.min(total - pos);
        while next < cues.len() && (cues[next].0 as usize) < pos + b {
            let offset = cues[next].0 as usize - pos;
            match cues[next].1 {
                At::Note(e) => assert!(audio.push_event(offset, e)),
                At::Pad(x, y) => assert!(audio.set_timbre(offset, x, y)),
            }
            next += 1;
        }
        before(i, &handle);
        audio.wait_for_inference(b);
        audio.process(&mut out[pos..pos + b]);
        pos += b;
        i += 1;
    }
    out.drain(..latency);
    let stats = handle.monitor().stats();
    (out, stats, handle)
}

fn seconds(s: f64) -> u64 {
    (s * RATE as f64) as u64
}

#[test]
fn an_idle_engine_is_exact_silence_and_runs_no_model() {
    let model = random_model(1);
    let config = EngineConfig::new(RATE, 128);
    let cues = [(0, At::Note(Event::NoteOn { key: 60, velocity: 100 })), (seconds(0.1), At::Note(Event::NoteOff { key: 60 }))];
    let length = seconds(4.0) as usize;
    let (audio, stats, _) = bounce(&model, &config, &cues, length, 128, |_, _| {});
    assert!(rms(&audio[..seconds(0.1) as usize]) > 1e-4, "the note sounds");
    // The release tail (2 s + 50 ms fade), then the models' own tail, then idle.
    let release = melwave::features::excitation::RELEASE_SECONDS + melwave::features::excitation::RELEASE_FADE_SECONDS;
    let idle_by = 0.1 + release as f64 + IDLE_TAIL_SECONDS as f64 + 0.05;
    let silent = &audio[seconds(idle_by) as usize..];
    assert!(silent.iter().all(|&s| s == 0.0), "exact zeros once idle; the largest is {}", silent.iter().fold(0.0f32, |m, s| m.max(s.abs())));
    let frames_total = length as u64 * SAMPLE_RATE as u64 / RATE as u64 / HOP as u64;
    assert!(stats.idle_frames > 0, "{stats:?}");
    let idle_frames_expected = ((4.0 - idle_by) * SAMPLE_RATE as f64 / HOP as f64) as u64;
    assert!(stats.idle_frames >= idle_frames_expected, "idle for the silent stretch: {stats:?}");
    assert!(stats.frames + stats.idle_frames >= frames_total, "every frame is accounted for: {stats:?}");
    assert!(stats.frames < frames_total - idle_frames_expected + 8, "no model runs while idle: {stats:?}");
}

#[test]
fn the_first_note_after_idle_sounds_as_from_a_fresh_start() {
    let model = random_model(2);
    let config = EngineConfig::new(RATE, 128);
    let note = |t| [(t, At::Note(Event::NoteOn { key: 64, velocity: 90 }))];
    let length = seconds(0.5) as usize;
    let (fresh, _, _) = bounce(&model, &config, &note(0), length, 128, |_, _| {});
    // A group boundary (two frames of 256 host samples at 48 kHz), 10 s in: long
    // after the models' tail has rung out into idle.
    let t = 512 * 938;
    let (later, stats, _) = bounce(&model, &config, &note(t), t as usize + length, 128, |_, _| {});
    assert!(stats.idle_frames > 0, "the engine was idle before the note: {stats:?}");
    assert_eq!(stats.idle_exits, 1, "one note left idle once: {stats:?}");
    // Exact silence up to the note, but for the resampler's linear-phase sinc, which
    // reaches back by its delay (64 samples at 48 kHz) before an onset.
    assert!(later[..t as usize - 128].iter().skip(seconds(0.3) as usize).all(|&s| s == 0.0), "exact silence up to the note");
    let after = &later[t as usize..];
    let worst = fresh.iter().zip(after).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(rms(&fresh) > 1e-4, "the note sounds");
    assert!(worst < 1e-5, "the note after a pause differs from a fresh start by {worst}");
    // No click at the resume: across it, no sample-to-sample step larger than the
    // note's own attack has from a fresh start.
    let step = |x: &[f32]| x.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
    let across = step(&later[t as usize - 256..t as usize + 4096]);
    assert!(across <= step(&fresh[..4096]) + 1e-5, "a step of {across} at the resume");
}

#[test]
fn timbre_automation_lands_on_its_frame_at_any_block_size() {
    let model = random_model(3);
    let config = EngineConfig::new(RATE, 4096);
    let held = (0, At::Note(Event::NoteOn { key: 57, velocity: 100 }));
    let t = seconds(0.3) + 1000;
    let length = seconds(0.6) as usize;
    let (still, _, _) = bounce(&model, &config, &[held, (0, At::Pad(0.1, 0.1))], length, 4096, |_, _| {});
    let (moved, _, handle) = bounce(&model, &config, &[held, (0, At::Pad(0.1, 0.1)), (t, At::Pad(0.9, 0.8))], length, 4096, |_, _| {});
    // The same automation in small blocks: the same samples.
    let (small, _, _) = bounce(&model, &config, &[held, (0, At::Pad(0.1, 0.1)), (t, At::Pad(0.9, 0.8))], length, 128, |_, _| {});
    let worst = moved.iter().zip(&small).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "block size changed the automated render by {worst}");
    let first = (0..length).find(|&i| (moved[i] - still[i]).abs() > 1e-6).expect("the move changes the sound");
    // The cue's frame group starts at most one group early (the group shares one
    // timbre); the resampler's filter reaches back by its delay.
    let frame = t as usize / 256;
    let group_start = (frame - frame % config.frames_per_step) * 256;
    let reach = handle.latency().resampler_delay + 4;
    assert!(first + reach >= group_start, "the move was heard at {first}, before its frame group at {group_start}");
    assert!(first <= t as usize + 2 * 256, "the move was heard at {first}, long after its cue at {t}");
}

#[test]
fn a_loud_model_is_capped_and_a_runaway_one_silenced() {
    let config = EngineConfig::new(RATE, 128);
    let a4 = [(0, At::Note(Event::NoteOn { key: 69, velocity: 100 }))];
    // 0.1 × 20 = 2: finite, audible, above full scale: soft-clipped below it.
    let (loud, stats, _) = bounce(&passthrough_model_with_gain(20.0), &config, &a4, seconds(0.3) as usize, 128, |_, _| {});
    let peak = loud.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak < CEILING && peak > 0.95, "clipped below 0 dBFS: {peak}");
    assert_eq!(stats.nan_resets, 0, "{stats:?}");
    // 0.1 × 500 = ±50: beyond any sound the models make, a diverging state.
    let (runaway, stats, handle) = bounce(&passthrough_model_with_gain(500.0), &config, &a4, seconds(0.3) as usize, 128, |_, _| {});
    assert!(runaway.iter().all(|&s| s == 0.0), "silenced");
    assert!(stats.nan_resets > 0, "{stats:?}");
    let error = handle.monitor().last_error().unwrap_or_default();
    assert!(error.contains("runaway"), "{error:?}");
    // The ordinary model is untouched by either guard.
    let (normal, stats, _) = bounce(&passthrough_model(), &config, &a4, seconds(0.3) as usize, 128, |_, _| {});
    assert!((rms(&normal[seconds(0.1) as usize..]) - 0.1 / 2f32.sqrt()).abs() < 0.01 && stats.nan_resets == 0);
}

#[test]
fn an_offline_bounce_goes_on_past_a_stuck_inference_thread() {
    let mut config = EngineConfig::new(RATE, 128);
    config.offline_patience = std::time::Duration::from_millis(200);
    let a4 = [(0, At::Note(Event::NoteOn { key: 69, velocity: 100 }))];
    // Stuck for good from block 100 on: the bounce still ends, having waited once.
    let (audio, stats, handle) = bounce(&passthrough_model(), &config, &a4, 400 * 128, 128, |i, h| {
        if i == 100 {
            h.inject_stall(true)
        }
    });
    assert_eq!(stats.offline_timeouts, 1, "one wait gave up, and the rest did not wait: {stats:?}");
    let error = handle.monitor().last_error().unwrap_or_default();
    assert!(error.contains("did not answer"), "{error:?}");
    assert!(rms(&audio[seconds(0.1) as usize..seconds(0.2) as usize]) > 0.05, "the note played until the thread stuck");
    assert!(audio.iter().all(|s| s.is_finite() && s.abs() <= CEILING));
}
