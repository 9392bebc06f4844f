//! The inference thread misbehaving on purpose (stalls, panics), and every host rate
//! and block size: the audio side must stay finite, bounded, click-free and in time.

use melwave::contract::SAMPLE_RATE;
use melwave::engine::{self, AudioSide, EngineConfig, EngineHandle, Margin};
use melwave::features::{Event, TimedEvent};
use melwave::render::render;
use melwave_tests::{passthrough_model, peak_frequency, rms};

const RATE: u32 = 48_000;
const BLOCK: usize = 128;

/// Plays a held A4 for `blocks` blocks; `during(i, handle)` runs before block `i`, and
/// blocks for which it returns false are taken without waiting for inference, as a
/// real-time host would.
fn play(blocks: usize, mut during: impl FnMut(usize, &EngineHandle) -> bool) -> (Vec<f32>, EngineHandle) {
    // A fixed margin: a calibrated one follows the machine's load, and the stalled run
    // is compared sample for sample with a reference run of the same latency.
    let config = EngineConfig { margin: Margin::Fixed(6.0), ..EngineConfig::new(RATE, BLOCK) };
    let (mut audio, handle): (AudioSide, EngineHandle) = engine::start(&passthrough_model(), &config).unwrap();
    audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
    let mut out = vec![0.0f32; blocks * BLOCK];
    for i in 0..blocks {
        if during(i, &handle) {
            audio.wait_for_inference(BLOCK);
        }
        audio.process(&mut out[i * BLOCK..(i + 1) * BLOCK]);
    }
    (out, handle)
}

/// `blocks` blocks, each taken after waiting for inference as an offline host would;
/// returns what came out.
fn waited(audio: &mut AudioSide, blocks: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; blocks * BLOCK];
    for chunk in out.chunks_mut(BLOCK) {
        audio.wait_for_inference(BLOCK);
        audio.process(chunk);
    }
    out
}

fn max_step(x: &[f32]) -> f32 {
    x.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max)
}

#[test]
fn a_stalled_inference_thread_gives_a_faded_gap_then_audio_in_time() {
    let blocks = 400;
    let (reference, _) = play(blocks, |_, _| true);
    // Stall for 40 blocks (107 ms) while the host keeps pulling audio.
    let (stalled, handle) = play(blocks, |i, h| {
        if i == 150 {
            h.inject_stall(true);
        }
        if i == 190 {
            h.inject_stall(false);
        }
        !(150..190).contains(&i)
    });
    let stats = handle.monitor().stats();
    assert!(stats.underruns >= 1 && stats.underrun_samples > 0, "the stall is counted: {stats:?}");
    assert_eq!(stats.dropouts, 1, "one stall, one gap heard, however many blocks it spans: {stats:?}");
    assert!(stats.stale_dropped > 0, "late audio was dropped, not played: {stats:?}");
    assert!(stalled.iter().all(|v| v.is_finite()));
    let peak = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(stalled.iter().all(|v| v.abs() <= peak * 1.01), "no burst after the stall");
    // No click: the largest sample-to-sample step stays that of the sine plus the fade's.
    let allowed = max_step(&reference) + peak / engine::audio_side::FADE as f32 * 1.5;
    assert!(max_step(&stalled) <= allowed, "a click: step {} > {allowed}", max_step(&stalled));
    // Silence in the gap, not a repeated buffer.
    let gap = &stalled[170 * BLOCK..185 * BLOCK];
    assert!(gap.iter().all(|&v| v == 0.0), "the stall is silent");
    // After the fade-in, the stream is exactly where it would have been without the stall.
    let first_diff = (0..stalled.len()).find(|&i| (stalled[i] - reference[i]).abs() > 1e-6).expect("the stall changed the output");
    let back = (first_diff..stalled.len()).rev().find(|&i| (stalled[i] - reference[i]).abs() > 1e-6).unwrap() + 1;
    assert!(back < 260 * BLOCK, "the output rejoined the reference at sample {back}, long after the stall ended (first difference at {first_diff}; {stats:?})");
    assert!(rms(&stalled[back..]) > 0.05, "and it is the note, not silence");
}

/// A thread the machine does not run for 50 ms (an injected stall while the host
/// takes four blocks, released after a sleep, which lasts at least that long) is
/// counted as a stall in the stats line: how the soak tells such underruns from the
/// plugin's own.
#[test]
fn a_held_inference_thread_is_counted_as_a_stall() {
    let (_, handle) = play(200, |i, h| match i {
        100 => {
            h.inject_stall(true);
            false
        }
        101..=103 => false,
        104 => {
            std::thread::sleep(std::time::Duration::from_millis(50));
            h.inject_stall(false);
            true
        }
        _ => true,
    });
    let stats = handle.monitor().stats();
    assert!(stats.stalls >= 1, "the held round is counted: {stats:?}");
    assert!(stats.max_wake_late_seconds >= 0.040, "with how late it got going: {stats:?}");
    assert!(stats.to_string().contains(&format!("stalls={} ", stats.stalls)), "the log line carries it: {stats}");
}

/// Real-time playing (a calibrated margin): an underrun grows the latency by what was
/// missing plus headroom, keeping the late audio instead of dropping it, and the
/// growth stops at its limit, after which late audio is dropped as before.
#[test]
fn underruns_grow_the_latency_up_to_its_limit() {
    use engine::audio_side::{GROWTH_HEADROOM_SECONDS, GROWTH_LIMIT_SECONDS};
    let (mut audio, handle) = engine::start(&passthrough_model(), &EngineConfig::new(RATE, BLOCK)).unwrap();
    audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
    waited(&mut audio, 100);
    assert_eq!(audio.latency_grown(), 0);
    let stall = |audio: &mut AudioSide, blocks: usize| {
        let mut out = vec![0.0f32; BLOCK];
        handle.inject_stall(true);
        for _ in 0..blocks {
            audio.process(&mut out);
        }
        handle.inject_stall(false);
    };
    // The ring holds the latency's worth (about 12 ms, under 5 blocks): a stall of
    // 7 blocks (18.7 ms) underruns by less than the limit.
    stall(&mut audio, 7);
    waited(&mut audio, 100);
    let s = handle.monitor().stats();
    let headroom = (GROWTH_HEADROOM_SECONDS * RATE as f64).ceil() as u64;
    assert!(s.underruns >= 1 && s.underrun_samples > 0, "{s:?}");
    assert_eq!(s.latency_grown, s.underrun_samples + headroom, "grown by the shortfall plus headroom: {s:?}");
    assert_eq!(audio.latency_grown(), s.latency_grown);
    assert_eq!(s.stale_dropped, 0, "the late audio was kept, not dropped: {s:?}");
    // A long stall (40 blocks, 107 ms) uses up the rest of the budget; the rest of
    // the shortfall is made up by dropping late audio, so the stream stays in time.
    stall(&mut audio, 40);
    waited(&mut audio, 100);
    let s = handle.monitor().stats();
    let limit = (GROWTH_LIMIT_SECONDS * RATE as f64) as u64;
    assert_eq!(s.latency_grown, limit, "{s:?}");
    assert!(s.stale_dropped > 0, "{s:?}");
    assert!(s.to_string().contains(&format!("latency_grown={limit} ")), "the log line carries it: {s}");
    // And the note still plays.
    let tail = waited(&mut audio, 50);
    assert!(rms(&tail) > 0.05 && tail.iter().all(|v| v.is_finite()));
}

/// The growth an earlier engine of the instance needed is carried into the next (the
/// plugin does so at the host's restart of processing, when the host applies the
/// grown latency): it is part of the new margin from the start, and only the rest of
/// the limit is left to grow by.
#[test]
fn carried_growth_starts_in_the_margin_and_counts_against_the_limit() {
    use engine::audio_side::GROWTH_LIMIT_SECONDS;
    let carried = std::time::Duration::from_millis(15);
    let cfg = EngineConfig { carried_growth: carried, ..EngineConfig::new(RATE, BLOCK) };
    let (mut audio, handle) = engine::start(&passthrough_model(), &cfg).unwrap();
    let samples = |d: std::time::Duration| (d.as_secs_f64() * RATE as f64).ceil() as usize;
    let calibrated = handle.calibration().expect("a calibrated margin").margin_samples(RATE);
    assert_eq!(handle.latency().margin, calibrated + samples(carried), "{:?}", handle.latency());
    audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
    waited(&mut audio, 100);
    let mut out = vec![0.0f32; BLOCK];
    handle.inject_stall(true);
    for _ in 0..40 {
        audio.process(&mut out);
    }
    handle.inject_stall(false);
    waited(&mut audio, 100);
    let s = handle.monitor().stats();
    let left = (GROWTH_LIMIT_SECONDS * RATE as f64) as u64 - samples(carried) as u64;
    assert_eq!(s.latency_grown, left, "only the rest of the limit: {s:?}");
}

/// While idle the late samples are zeros: a stall is counted as an idle underrun, not
/// a dropout, the latency does not grow for it, and the output stays exact silence.
#[test]
fn a_stall_while_idle_does_not_grow_the_latency() {
    let (mut audio, handle) = engine::start(&passthrough_model(), &EngineConfig::new(RATE, BLOCK)).unwrap();
    waited(&mut audio, 50);
    handle.inject_stall(true);
    let mut heard = vec![0.0f32; 20 * BLOCK];
    for chunk in heard.chunks_mut(BLOCK) {
        audio.process(chunk);
    }
    handle.inject_stall(false);
    let s = handle.monitor().stats();
    // Counted apart: nothing was heard, so the editor's underrun count stays 0.
    assert!(s.idle_underruns >= 1 && s.underruns == 0 && !s.troubled(), "{s:?}");
    assert_eq!(s.latency_grown, 0, "{s:?}");
    assert!(heard.iter().all(|&v| v == 0.0));
}

#[test]
fn a_panic_on_the_inference_thread_is_survived_reported_and_restarted() {
    let (mut audio, handle) = engine::start(&passthrough_model(), &EngineConfig::new(RATE, BLOCK)).unwrap();
    audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
    let mut out = vec![0.0f32; BLOCK];
    let mut block = |audio: &mut AudioSide| {
        audio.wait_for_inference(BLOCK);
        audio.process(&mut out);
        out.clone()
    };
    for _ in 0..100 {
        block(&mut audio);
    }
    handle.inject_panic();
    let mut after = Vec::new();
    for _ in 0..100 {
        after.extend(block(&mut audio));
    }
    let stats = handle.monitor().stats();
    assert_eq!(stats.panics, 1);
    assert!(stats.failed, "failed until reset");
    assert!(handle.monitor().last_error().unwrap().contains("panicked"), "{:?}", handle.monitor().last_error());
    assert!(after.iter().all(|v| v.is_finite()));
    assert!(rms(&after[after.len() / 2..]) == 0.0, "silent while failed");
    // The plugin's reset() asks for a restart; the note is played again.
    audio.request_restart();
    audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
    let mut revived = Vec::new();
    for _ in 0..200 {
        revived.extend(block(&mut audio));
    }
    assert!(!handle.monitor().stats().failed);
    let tail = &revived[revived.len() / 2..];
    assert!(rms(tail) > 0.05, "inference resumed after the restart");
    assert!((peak_frequency(tail, RATE as f32) - 440.0).abs() < 5.0);
    let notice = handle.monitor().last_notice().unwrap_or_default();
    assert!(notice.contains("restarted"), "{notice:?}");
    assert_eq!(handle.monitor().last_error(), None, "a restart clears the fault");
}

/// Every supported host rate × block size, and variable blocks: finite, bounded, the
/// right pitch, and the onset exactly where the reported latency says.
#[test]
fn every_rate_and_block_size_keeps_pitch_level_and_latency() {
    let model = passthrough_model();
    for rate in [22_050u32, 44_100, 48_000, 88_200, 96_000, 192_000] {
        for block in [1usize, 2, 3, 64, 511, 4096, 8192] {
            let onset = rate as u64 / 10;
            let events = [TimedEvent { time: onset, event: Event::NoteOn { key: 69, velocity: 100 } }];
            let len = (rate as usize) * 6 / 10;
            let r = render(&model, &EngineConfig::new(rate, block), (0.5, 0.5), &events, len, block, |_, _| {}).unwrap();
            check(&r.audio, rate, onset, &format!("{rate} Hz, block {block}"));
        }
    }
}

fn check(audio: &[f32], rate: u32, onset: u64, what: &str) {
    assert!(audio.iter().all(|v| v.is_finite() && v.abs() < 0.5), "{what}: finite and bounded");
    let sound = &audio[onset as usize + rate as usize / 20..];
    let f = peak_frequency(sound, rate as f32);
    assert!((f - 440.0).abs() < 2.0, "{what}: A4 came out at {f} Hz");
    assert!((rms(sound) - 0.1 / 2f32.sqrt()).abs() < 0.01, "{what}: level {}", rms(sound));
    let first = audio.iter().position(|v| v.abs() > 0.03).unwrap() as i64;
    // Within one period of A4 after the onset, never before it (events are quantised to
    // the 24 kHz frame grid: up to one hop early is the documented behaviour).
    let hop = (128 * rate as u64).div_ceil(SAMPLE_RATE as u64) as i64;
    assert!(first >= onset as i64 - hop && first <= onset as i64 + (rate as i64) / 440 + 2, "{what}: onset at {first}, expected near {onset}");
}

#[test]
fn variable_block_sizes_within_one_run() {
    let model = passthrough_model();
    for rate in [44_100u32, 48_000] {
        let (mut audio, handle) = engine::start(&model, &EngineConfig::new(rate, 4096)).unwrap();
        let latency = handle.latency().total();
        let onset = rate as u64 / 10;
        let len = rate as usize * 6 / 10 + latency;
        let mut out = vec![0.0f32; len];
        let sizes = [1usize, 7, 128, 4096, 3, 511, 64, 2, 1000, 4095];
        let (mut pos, mut i, mut sent) = (0usize, 0usize, false);
        while pos < len {
            let b = sizes[i % sizes.len()].min(len - pos);
            i += 1;
            if !sent && (pos + b) as u64 > onset {
                audio.push_event((onset as usize) - pos, Event::NoteOn { key: 69, velocity: 100 });
                sent = true;
            }
            audio.wait_for_inference(b);
            audio.process(&mut out[pos..pos + b]);
            pos += b;
        }
        assert_eq!(handle.monitor().stats().underruns, 0, "{rate}: waiting for inference never underruns");
        check(&out[latency..], rate, onset, &format!("{rate} Hz, variable blocks"));
    }
}

#[test]
fn a_model_loads_in_the_background_while_the_old_one_plays() {
    let (mut audio, handle) = engine::start(&passthrough_model(), &EngineConfig::new(RATE, BLOCK)).unwrap();
    audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
    let before = waited(&mut audio, 200);
    // A broken model (its two graphs swapped) is refused by the loader; the old one plays on.
    let mut broken = melwave_tests::random_model(5);
    std::mem::swap(&mut broken.mel2mel, &mut broken.vocoder);
    let refused = handle.monitor().load_model(broken, melwave::runtime::Provider::Cpu);
    let during = waited(&mut audio, 100);
    assert!(refused.join().unwrap().is_err(), "a broken model is refused with a reason");
    // A good one: the host keeps being served while the sessions are created.
    let loader = handle.monitor().load_model(melwave_tests::random_model(3), melwave::runtime::Provider::Cpu);
    let while_loading = waited(&mut audio, 100);
    assert!(loader.join().unwrap().is_ok());
    let after = waited(&mut audio, 300);
    let stats = handle.monitor().stats();
    assert_eq!(stats.model_swaps, 1, "{stats:?}");
    assert_eq!(stats.underruns, 0);
    let notice = handle.monitor().last_notice().unwrap_or_default();
    assert!(notice.starts_with("now playing"), "{notice:?}");
    assert_eq!(handle.monitor().last_error(), None, "a model swap is news, not a fault");
    // (While the good model loads, the swap may land at any block: a small model loads
    // in a few milliseconds, so that stretch is only checked for being finite.)
    assert!(while_loading.iter().all(|v| v.is_finite()));
    for (what, x) in [("before", &before[100 * BLOCK..]), ("during a refused load", &during[..])] {
        assert!((peak_frequency(x, RATE as f32) - 440.0).abs() < 5.0 && (rms(x) - 0.0707).abs() < 0.01, "{what}: the old model plays");
    }
    let tail = &after[100 * BLOCK..];
    assert!(tail.iter().all(|v| v.is_finite()));
    assert!((rms(tail) - 0.0707).abs() > 0.01 || (peak_frequency(tail, RATE as f32) - 440.0).abs() > 5.0, "the new model is the one playing");
}

/// Runs `f` on another thread and gives its result, or panics if it takes longer than
/// `bound`: for code whose defect is that it never returns.
fn within<T: Send + 'static>(bound: std::time::Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(bound).unwrap_or_else(|_| panic!("{what} did not return within {bound:?}: it hangs"))
}

/// The host restarts the plugin (a latency change, say) while a model loads: the
/// loader ends, saying so, instead of waiting for ever on an engine that is gone.
#[test]
fn a_model_load_ends_when_the_engine_stops_before_the_swap() {
    let (audio, handle) = engine::start(&passthrough_model(), &EngineConfig::new(RATE, BLOCK)).unwrap();
    // Held, the inference thread cannot take the new model before it stops.
    handle.inject_stall(true);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let loader = handle.monitor().load_model(melwave_tests::random_model(3), melwave::runtime::Provider::Cpu);
    // Whether the loader offers the model before or after the engine stops, nothing
    // takes it.
    std::thread::sleep(std::time::Duration::from_millis(200));
    drop(audio);
    drop(handle);
    let result = within(std::time::Duration::from_secs(30), "the model loader", move || loader.join().unwrap());
    assert!(matches!(result, Err(engine::LoadError::EngineStopped)), "{result:?}");
}

/// A step that panics every time, before it renders: the stream goes on in time, in
/// silence, instead of the thread retrying the same group for ever.
#[test]
fn a_step_that_always_panics_keeps_the_stream_in_time_and_silent() {
    let config = EngineConfig { margin: Margin::Fixed(6.0), offline_patience: std::time::Duration::from_millis(500), ..EngineConfig::new(RATE, BLOCK) };
    let (mut audio, handle) = engine::start(&passthrough_model(), &config).unwrap();
    audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
    waited(&mut audio, 50);
    handle.inject_panics(u64::MAX);
    let out = waited(&mut audio, 200);
    let stats = handle.monitor().stats();
    assert!(stats.panics >= 100, "every group panicked: {stats:?}");
    assert_eq!(stats.offline_timeouts, 0, "the thread kept up: {stats:?}");
    assert!(out.iter().all(|v| v.is_finite()));
    assert_eq!(rms(&out[out.len() / 2..]), 0.0, "silent while failing");
    handle.inject_panics(0);
    audio.request_restart();
    audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
    let revived = waited(&mut audio, 200);
    assert!(rms(&revived[revived.len() / 2..]) > 0.05, "a restart brings the sound back");
}

/// A panic outside any step (in the round around them) is survived like one inside:
/// reported, silent, and answered by a restart.
#[test]
fn a_panic_outside_a_step_is_survived_and_restarted() {
    let config = EngineConfig { margin: Margin::Fixed(6.0), ..EngineConfig::new(RATE, BLOCK) };
    let (mut audio, handle) = engine::start(&passthrough_model(), &config).unwrap();
    audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
    waited(&mut audio, 50);
    handle.inject_panic_outside_step();
    waited(&mut audio, 50);
    let stats = handle.monitor().stats();
    assert_eq!(stats.panics, 1, "{stats:?}");
    assert!(stats.failed);
    audio.request_restart();
    audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
    let revived = waited(&mut audio, 200);
    assert!(!handle.monitor().stats().failed, "the thread still answers a restart");
    assert!(rms(&revived[revived.len() / 2..]) > 0.05);
}

/// An inference thread stuck in a model run does not hang the host that stops the
/// engine: the handle gives up on it after its patience.
#[test]
fn stopping_an_engine_whose_model_run_hangs_returns() {
    let (audio, handle) = engine::start(&passthrough_model(), &EngineConfig::new(RATE, BLOCK)).unwrap();
    handle.inject_hang(60_000);
    std::thread::sleep(std::time::Duration::from_millis(100));
    within(engine::JOIN_PATIENCE * 5, "dropping the engine", move || {
        drop(audio);
        drop(handle);
    });
}

/// The real-time priority of each of this process's threads named `name` that runs
/// under a real-time policy, from /proc (fields 40 and 41 of its stat line). Linux
/// keeps the first 15 bytes of a thread's name.
#[cfg(target_os = "linux")]
fn realtime_threads(name: &str) -> Vec<u32> {
    let name = &name[..name.len().min(15)];
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        // Fields after the command name, which is in parentheses and may hold spaces;
        // rest[0] is field 3, so rt_priority (40) is rest[37] and policy (41) rest[38].
        let Some(close) = stat.rfind(')') else { continue };
        let rest: Vec<&str> = stat[close + 2..].split(' ').collect();
        let (Some(Ok(priority)), Some(Ok(policy))) = (rest.get(37).map(|v| v.parse::<u32>()), rest.get(38).map(|v| v.parse::<u32>())) else { continue };
        if policy != 0 {
            found.push(priority);
        }
    }
    found
}

/// Under JACK2's default (`-P 10`) the host's audio thread runs at SCHED_FIFO 10; the
/// inference thread, started from such a thread, must run below it while it plays,
/// and so must the idle watch. Idle, the inference thread gives real-time up.
#[cfg(target_os = "linux")]
#[test]
fn the_inference_thread_runs_below_a_jack_default_audio_thread() {
    let host = std::thread::spawn(|| {
        if !matches!(engine::priority::promote(10), engine::priority::Priority::RealTime(_)) {
            return None;
        }
        let config = EngineConfig { realtime_priority: true, margin: Margin::Fixed(6.0), ..EngineConfig::new(RATE, BLOCK) };
        let (mut audio, handle) = engine::start(&passthrough_model(), &config).unwrap();
        let granted = matches!(handle.priority(), engine::priority::Priority::RealTime(_));
        let mut out = vec![0.0f32; BLOCK];
        let mut blocks = |audio: &mut AudioSide, n: usize| {
            for _ in 0..n {
                audio.wait_for_inference(BLOCK);
                audio.process(&mut out);
            }
        };
        // Idle: rendered silence for a while, nothing to play.
        blocks(&mut audio, 40);
        let idle = realtime_threads("melwave-inference");
        audio.push_event(0, Event::NoteOn { key: 69, velocity: 100 });
        blocks(&mut audio, 40);
        let found = (granted, idle, realtime_threads("melwave-inference"), realtime_threads("melwave-idle-watch"));
        drop((audio, handle));
        Some((found, threads_named("melwave-idle-watch")))
    })
    .join()
    .unwrap();
    let Some(((granted, idle, playing, watch), watch_after)) = host else {
        eprintln!("skipped: this machine grants no real-time priority to stand in for the host's audio thread");
        return;
    };
    assert!(granted, "granted to the stand-in host thread, so granted to the engine");
    // Other tests' engines run at normal priority: the real-time one is this test's.
    assert!(idle.is_empty(), "idle, the inference thread runs at normal priority, not {idle:?}");
    assert!(!playing.is_empty(), "playing, the inference thread runs under a real-time policy");
    assert!(playing.iter().chain(&watch).all(|&p| p < 10), "the inference thread runs at {playing:?} and the idle watch at {watch:?}, not below the host's 10");
    assert!(!watch.is_empty(), "the idle watch is as punctual as the inference thread it stands in for");
    // No thread of the plugin's outlives its last engine: a host may unload it then.
    assert_eq!(watch_after, 0, "the idle watch stops with the last engine it watched");
}

/// How many of this process's threads are named `name` (its first 15 bytes).
#[cfg(target_os = "linux")]
fn threads_named(name: &str) -> usize {
    let name = &name[..name.len().min(15)];
    std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten().filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name)).count()
}
