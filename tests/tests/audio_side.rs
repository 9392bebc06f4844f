//! The engine's audio side under every path it can take — note storms, 10 000 events
//! in one block, the pedal toggled on every sample, extreme bends, events on the last
//! sample, per-sample timbre changes, underruns from a stalled inference thread, a
//! panic on it, a restart, and a model swapped in while playing — with the allocator
//! armed (nice-plug's assert_no_alloc, the same check as `assert_process_allocs`) around
//! every `push_event` and `process` call. Also random event sequences (seeded), after
//! which all-notes-off must leave silence: no stuck note.
//!
//! The armed allocator aborts the process, so the checks run in a child process.

use melwave::engine::{self, AudioSide, EngineConfig, EngineHandle};
use melwave::features::Event;
use melwave::runtime::Provider;
use melwave_tests::{passthrough_model, random_model, rms, run_ignored_in_child};
use nice_assert_no_alloc::assert_no_alloc;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

// The armed allocator is the one nice-plug installs with `assert_process_allocs`,
// which this crate enables: the same check the plugin's `process()` runs under.

const CHILD: &str = "MELWAVE_AUDIO_SIDE_CHILD";

fn in_child(name: &str) {
    let (ok, log) = run_ignored_in_child(name, CHILD);
    assert!(ok, "the audio side allocated, panicked or crashed:\n{log}");
    assert!(log.contains("1 passed"), "{log}");
}

fn child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// `n` event-free blocks of `size`, each after waiting for inference.
fn play(audio: &mut AudioSide, n: usize, out: &mut [f32]) {
    for _ in 0..n {
        audio.wait_for_inference(out.len());
        block(audio, &[], out);
    }
}

/// One block on the audio thread: events, then audio, with allocation forbidden.
fn block(audio: &mut AudioSide, events: &[(usize, Event)], out: &mut [f32]) {
    assert_no_alloc(|| {
        for &(at, e) in events {
            audio.push_event(at, e);
        }
        audio.process(out);
    });
}

/// The check itself is armed: an allocation inside it kills the child.
#[test]
fn the_allocation_check_is_armed() {
    let (ok, log) = run_ignored_in_child("allocating_child", CHILD);
    assert!(!ok, "an allocation under assert_no_alloc went unnoticed");
    // It must be the check that stopped the child (the allocator's failure hook,
    // which assert_no_alloc calls), not some other failure.
    assert!(log.contains("memory allocation of") && !log.contains("test result: ok"), "the child failed for another reason:\n{log}");
}

#[test]
#[ignore = "run by the_allocation_check_is_armed in a child process"]
fn allocating_child() {
    if child() {
        let v = assert_no_alloc(|| vec![1u8; 1000]);
        assert_eq!(v.len(), 1000);
    }
}

#[test]
fn every_audio_side_path_is_allocation_free() {
    in_child("every_path_child");
}

#[test]
#[ignore = "run by every_audio_side_path_is_allocation_free in a child process"]
fn every_path_child() {
    if !child() {
        return;
    }
    let rate = 48_000;
    let b = 512;
    let (mut audio, handle): (AudioSide, EngineHandle) = engine::start(&passthrough_model(), &EngineConfig::new(rate, 8192)).unwrap();
    let mut out = vec![0.0f32; 8192];
    let mut events: Vec<(usize, Event)> = Vec::with_capacity(20_000);
    // Note storm: 10 000 events in one block, every key at velocities 127 and off,
    // the last ones on the block's last sample.
    for i in 0..10_000usize {
        let key = (i % 128) as u8;
        let at = (i * b / 10_000).min(b - 1);
        events.push((at, if i % 3 == 2 { Event::NoteOff { key } } else { Event::NoteOn { key, velocity: 127 } }));
    }
    block(&mut audio, &events, &mut out[..b]);
    // Pedal toggled and the bend swept to both extremes on every sample, and the pad
    // moved as the plugin moves it (a cue every 64 samples), for 8192-sample blocks.
    for n in 0..4 {
        events.clear();
        for s in 0..8192 {
            events.push((s, Event::Sustain(s % 2 == 0)));
            events.push((s, Event::pitch_bend_from_midi(if s % 2 == 0 { 0 } else { 16383 })));
        }
        assert_no_alloc(|| {
            for s in (0..8192).step_by(64) {
                audio.set_timbre(s, (s % 100) as f32 / 100.0, n as f32 / 4.0);
            }
        });
        audio.wait_for_inference(8192);
        block(&mut audio, &events, &mut out);
    }
    // Underruns: the inference thread stalls while the host keeps pulling blocks of
    // every size, including 1.
    handle.inject_stall(true);
    for size in [1usize, 2, 3, 64, 511, 4096, 8192] {
        block(&mut audio, &[(0, Event::NoteOn { key: 60, velocity: 90 })], &mut out[..size]);
    }
    handle.inject_stall(false);
    // A model swapped in while playing, then a panic, then a restart.
    let loader = handle.monitor().load_model(random_model(9), Provider::Cpu);
    play(&mut audio, 50, &mut out[..b]);
    loader.join().unwrap().unwrap();
    handle.inject_panic();
    play(&mut audio, 20, &mut out[..b]);
    assert_no_alloc(|| audio.request_restart());
    play(&mut audio, 20, &mut out[..b]);
    let stats = handle.monitor().stats();
    assert!(stats.underruns > 0 && stats.panics == 1 && stats.model_swaps == 1 && !stats.failed, "every path was taken: {stats:?}");
    assert_eq!(stats.dropped_events, 0, "10 000 events fit the event ring");
    assert!(out.iter().all(|v| v.is_finite()));
}

/// Random event sequences: note-offs without note-ons, repeated note-ons, velocity 0
/// and 127, pedal and bend anywhere, all-notes-off, at any offset in blocks of random
/// size. Output must stay finite and bounded, and all-notes-off must end every note.
#[test]
fn random_event_streams_never_stick_or_blow_up() {
    in_child("random_streams_child");
}

#[test]
#[ignore = "run by random_event_streams_never_stick_or_blow_up in a child process"]
fn random_streams_child() {
    if !child() {
        return;
    }
    let model = passthrough_model();
    for seed in 0..6u64 {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let rate = [22_050u32, 44_100, 48_000, 96_000, 192_000, 8_000][seed as usize];
        let (mut audio, handle) = engine::start(&model, &EngineConfig::new(rate, 4096)).unwrap();
        let mut out = vec![0.0f32; 4096];
        let mut events = Vec::with_capacity(512);
        for _ in 0..150 {
            let size = rng.random_range(1..=4096usize);
            events.clear();
            for _ in 0..rng.random_range(0..200usize) {
                let at = rng.random_range(0..size);
                let key = rng.random_range(0..128u8);
                let e = match rng.random_range(0..10) {
                    0..=3 => Event::NoteOn { key, velocity: [1u8, 64, 127][rng.random_range(0..3usize)] },
                    4..=6 => Event::NoteOff { key },
                    7 => Event::Sustain(rng.random_bool(0.5)),
                    8 => Event::pitch_bend_from_midi(rng.random_range(0..=16383u16)),
                    _ => [Event::AllNotesOff, Event::AllSoundOff, Event::ResetControllers, Event::Choke { key }][rng.random_range(0..4usize)],
                };
                events.push((at, e));
            }
            events.sort_by_key(|e| e.0);
            audio.wait_for_inference(size);
            block(&mut audio, &events, &mut out[..size]);
            assert!(out[..size].iter().all(|v| v.is_finite() && v.abs() < 16.0), "seed {seed}: output out of bounds");
        }
        // All notes off, then a second of audio: the tail must be silent.
        let mut tail = Vec::new();
        audio.wait_for_inference(256);
        block(&mut audio, &[(0, Event::AllSoundOff)], &mut out[..256]);
        // The output lags the events by the latency (half a second at 8 kHz with 4096-sample blocks).
        let latency = handle.latency().total();
        for _ in 0..(rate as usize + latency) / 256 {
            audio.wait_for_inference(256);
            block(&mut audio, &[], &mut out[..256]);
            tail.extend_from_slice(&out[..256]);
        }
        // What is left is the excitation's faint noise floor (std 0.003).
        let last = &tail[latency + rate as usize / 2..];
        assert!(rms(last) < 0.005, "seed {seed} at {rate} Hz: a note is stuck after all-notes-off (rms {})", rms(last));
        let stats = handle.monitor().stats();
        assert_eq!((stats.dropped_events, stats.underruns), (0, 0), "{stats:?}");
    }
}
