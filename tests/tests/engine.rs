//! The engine through a model with a known output: timing, pitch, latency,
//! resampling, NaN handling and execution-provider fallback.

use melwave::contract::{ModelBytes, Weights, HOP, SAMPLE_RATE};
use melwave::engine::resample::StreamResampler;
use melwave::engine::{self, EngineConfig, Latency, LatencyMode, Stats};
use melwave::features::excitation::key_frequency;
use melwave::features::{Event, TimedEvent};
use melwave::render::render;
use melwave::runtime::{ModelRunner, Provider};
use melwave_tests::{passthrough_model, peak_frequency, random_model, rms, spectrum};

#[test]
fn the_played_pitch_comes_out_at_every_rate() {
    let model = passthrough_model();
    for rate in [22_050, 44_100, 48_000, 96_000] {
        let events = [TimedEvent { time: 0, event: Event::NoteOn { key: 69, velocity: 100 } }];
        let len = rate as usize;
        let r = render(&model, &EngineConfig::new(rate, 512), (0.5, 0.5), &events, len, 512, |_, _| {}).unwrap();
        let f = peak_frequency(&r.audio[rate as usize / 4..], rate as f32);
        assert!((f - 440.0).abs() < 1.0, "{rate} Hz: A4 came out at {f} Hz");
        let level = rms(&r.audio[rate as usize / 4..]);
        assert!((level - 0.1 / 2f32.sqrt()).abs() < 0.01, "{rate} Hz: level {level}");
    }
}

#[test]
fn reported_latency_is_exact() {
    // A note starting exactly on a frame boundary starts a sine at phase 0 there. After
    // trimming the reported latency, the sound must start at that very sample.
    let model = passthrough_model();
    for (rate, block) in [(48_000u32, 128usize), (48_000, 1000), (44_100, 64), (24_000, 77), (96_000, 4096)] {
        let frame = 100u64;
        let onset = (frame * HOP as u64 * rate as u64).div_ceil(SAMPLE_RATE as u64);
        let events = [TimedEvent { time: onset, event: Event::NoteOn { key: 81, velocity: 100 } }];
        let len = onset as usize + rate as usize / 10;
        let r = render(&model, &EngineConfig::new(rate, block), (0.5, 0.5), &events, len, block, |_, _| {}).unwrap();
        let before = &r.audio[onset as usize - rate as usize / 100..onset as usize - 20];
        let after = &r.audio[onset as usize + 20..onset as usize + rate as usize / 100];
        // Before: only the faint excitation noise (std 0.003) and resampler ringing.
        assert!(rms(before) < 0.01, "{rate}/{block}: sound before the note: {}", rms(before));
        assert!(rms(after) > 0.05, "{rate}/{block}: no sound after the note: {}", rms(after));
        // The sine starts at phase 0 on the onset, so it first crosses the threshold
        // a known fraction of a period later: asin(threshold / amplitude) / 2πf.
        let amplitude = after.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        let threshold = 0.03;
        let first = r.audio.iter().position(|v| v.abs() as f64 > threshold).unwrap();
        let expected = onset as f64 + (threshold / amplitude).asin() / (std::f64::consts::TAU * key_frequency(81, 0.0)) * rate as f64;
        // Two samples of slack: the resampler's sinc delay is a fraction of a sample
        // off the whole number reported at 44.1 kHz, and it rings before a step.
        assert!((first as f64 - expected).abs() <= 2.0, "{rate}/{block}: the sound should cross {threshold} at {expected:.1}, it does at {first} (latency {:?})", r.latency);
    }
}

#[test]
fn resampler_hits_the_frequency_with_images_80_db_down() {
    for rate in [44_100u32, 48_000] {
        let mut r = StreamResampler::new(rate).unwrap();
        let frames = 2 * SAMPLE_RATE as usize / HOP;
        let mut out = Vec::new();
        for f in 0..frames {
            let frame: Vec<f32> = (0..HOP).map(|i| (std::f64::consts::TAU * 1000.0 * (f * HOP + i) as f64 / SAMPLE_RATE as f64).sin() as f32 * 0.5).collect();
            r.process(&frame, &mut out);
        }
        let x = &out[rate as usize / 2..rate as usize / 2 + 65_536];
        let f = peak_frequency(x, rate as f32);
        assert!((f - 1000.0).abs() < 0.2, "{rate}: 1 kHz came out at {f}");
        let s = spectrum(x);
        let bin = |hz: f32| (hz * x.len() as f32 / rate as f32) as usize;
        let peak = s.iter().cloned().fold(0.0, f32::max);
        // Everything above the 24 kHz source's Nyquist is image (or its alias at 44.1 kHz).
        let images = s[bin(12_500.0)..].iter().cloned().fold(0.0, f32::max);
        let db = 20.0 * (images / peak).log10();
        assert!(db <= -80.0, "{rate}: images at {db:.1} dB");
    }
}

#[test]
fn a_model_that_outputs_nan_gives_silence_and_is_counted() {
    let base = random_model(1);
    let mel = Weights::random(&base.manifest.mel2mel.config.weight_specs(), 1, |_| 1.0);
    let mut voc = Weights::random(&base.manifest.vocoder.config.weight_specs(), 2, |_| 1.0);
    voc.0.get_mut("post2.bias").unwrap().data[0] = f32::NAN;
    let model = ModelBytes::from_weights(base.manifest.clone(), &mel, &voc).unwrap();
    let events = [TimedEvent { time: 0, event: Event::NoteOn { key: 60, velocity: 100 } }];
    let r = render(&model, &EngineConfig::new(48_000, 256), (0.5, 0.5), &events, 24_000, 256, |_, _| {}).unwrap();
    assert!(r.audio.iter().all(|&v| v == 0.0), "NaN output is replaced by silence");
    assert!(r.stats.nan_resets > 0);
    assert_eq!(r.stats.underruns, 0);
}

#[test]
fn a_gpu_provider_is_used_where_it_runs_and_otherwise_falls_back_to_cpu_saying_why() {
    for requested in [Provider::Cuda, Provider::TensorRt] {
        let runner = ModelRunner::new(&random_model(2), requested).expect("loads on the GPU or the CPU");
        assert_eq!(runner.provider.requested, requested);
        if runner.provider.active == requested {
            // A GPU build of ONNX Runtime on a machine with a GPU: no fallback to explain.
            assert!(runner.provider.fallback_reason.is_none(), "{}", runner.provider);
        } else {
            assert_eq!(runner.provider.active, Provider::Cpu, "a failed request falls back to the CPU, nothing else");
            let why = runner.provider.fallback_reason.clone().expect("a reason is given");
            assert!(!why.is_empty());
            assert!(runner.provider.to_string().contains("requested but unavailable"), "{}", runner.provider);
        }
    }
    let cpu = ModelRunner::new(&random_model(2), Provider::Cpu).unwrap();
    assert_eq!(cpu.provider.to_string(), "CPU");
}

#[test]
fn bad_sample_rates_and_blocks_are_refused_with_a_message() {
    let model = random_model(1);
    for (rate, block) in [(0u32, 128usize), (1_000, 128), (1_000_000, 128), (48_000, 0), (48_000, 1 << 20)] {
        let err = engine::start(&model, &EngineConfig::new(rate, block)).err().expect("refused");
        let msg = err.to_string();
        assert!(msg.contains("not supported"), "{msg}");
    }
}

#[test]
fn latency_grows_with_block_size_and_is_reported_per_rate() {
    let model = random_model(1);
    let fixed = |rate, block| EngineConfig { margin: engine::Margin::Fixed(0.0), ..EngineConfig::new(rate, block) };
    let lat = |rate, block| engine::start(&model, &fixed(rate, block)).unwrap().1.latency();
    assert!(lat(48_000, 1024).total() > lat(48_000, 128).total());
    assert_eq!(lat(48_000, 512).total() - lat(48_000, 128).total(), 384, "block size adds exactly its own length");
    // At 48 kHz a frame is exactly 256 host samples: a block must wait for the whole
    // frame its first sample falls in, so the ring needs one frame plus one block,
    // less the one sample the frame's completion is seen on, plus what the resampler
    // holds back at its start (its first frame gives fewer than 256 samples, every
    // later one exactly 256).
    let mut r = StreamResampler::new(48_000).unwrap();
    let mut out = Vec::new();
    r.process(&[0.0; HOP], &mut out);
    let shortfall = 256 - out.len();
    for _ in 0..50 {
        out.clear();
        r.process(&[0.0; HOP], &mut out);
        assert_eq!(out.len(), 256, "a steady frame at 48 kHz is 256 samples");
    }
    let l = lat(48_000, 128);
    assert_eq!(l.prefill, 256 + 128 - 1 + shortfall, "{l:?}");
    assert_eq!(l.margin, 0);
    // The resampler's delay is half its 64-point sinc, at the host rate.
    assert_eq!(l.resampler_delay, 64, "{l:?}");
    // What the design costs before any margin for compute: within the 10 ms (48 kHz)
    // and 11 ms (44.1 kHz) a player does not notice, at 128-sample blocks. The margin
    // comes on top (below); docs/architecture.md has the figures.
    let ms = |l: engine::latency::Latency, rate: u32| l.total() as f64 * 1000.0 / rate as f64;
    assert!(ms(l, 48_000) <= 10.0, "{:.2} ms at 48 kHz", ms(l, 48_000));
    let l441 = lat(44_100, 128);
    assert!(ms(l441, 44_100) <= 11.0, "{:.2} ms at 44.1 kHz ({l441:?})", ms(l441, 44_100));
    // A calibrated margin is what the calibration measured, added on top.
    let (_, handle) = engine::start(&model, &EngineConfig::new(48_000, 128)).unwrap();
    let c = handle.calibration().expect("calibrated by default");
    assert!(c.worst_step >= c.second_worst_step && c.second_worst_step >= c.mean_step && c.margin >= engine::calibrate::FLOOR, "{c:?}");
    assert_eq!(handle.latency().margin, c.margin_samples(48_000));
    assert_eq!(handle.latency().total(), l.total() + c.margin_samples(48_000));
}

/// Plays `blocks` (cycled) through an engine with no margin, in lockstep with an
/// infinitely quick machine: after every block the inference thread renders all it
/// can before the next one comes. Whatever underruns then is the latency's structure
/// alone. A note starts at 0.1 s.
fn lockstep(model: &ModelBytes, rate: u32, blocks: &[usize], mode: LatencyMode, length: usize) -> (Vec<f32>, Latency, Stats) {
    let max = *blocks.iter().max().unwrap();
    let config = EngineConfig { margin: engine::Margin::Fixed(0.0), latency_mode: mode, ..EngineConfig::new(rate, max) };
    let (mut audio, handle) = engine::start(model, &config).unwrap();
    let onset = rate as usize / 10;
    let mut out = vec![0.0f32; length];
    let (mut pos, mut i) = (0, 0);
    while pos < length {
        let b = blocks[i % blocks.len()].min(length - pos);
        if (pos..pos + b).contains(&onset) {
            audio.push_event(onset - pos, Event::NoteOn { key: 81, velocity: 100 });
        }
        audio.process(&mut out[pos..pos + b]);
        audio.wait_for_inference(usize::MAX);
        pos += b;
        i += 1;
    }
    (out, handle.latency(), handle.monitor().stats())
}

#[test]
fn low_latency_counts_on_a_steady_block_grid_and_plays_the_same_stream_earlier() {
    let model = passthrough_model();
    let ms = |l: Latency, rate: u32| l.total() as f64 * 1000.0 / rate as f64;
    let dropouts = |s: &Stats| s.underruns + s.idle_underruns;
    for (rate, block) in [(48_000u32, 128usize), (48_000, 64), (44_100, 128), (96_000, 512)] {
        let len = rate as usize / 2;
        let (safe, ls, s) = lockstep(&model, rate, &[block], LatencyMode::Safe, len);
        let (low, ll, l) = lockstep(&model, rate, &[block], LatencyMode::Low, len);
        assert_eq!((dropouts(&s), dropouts(&l)), (0, 0), "{rate}/{block}: safe {s:?}, low {l:?}");
        assert!(ll.total() <= ls.total(), "{rate}/{block}: {ll:?} against {ls:?}");
        // The same stream, earlier by exactly the difference in reported latency.
        let d = ls.total() - ll.total();
        assert!(low.iter().any(|v| v.abs() > 0.05), "{rate}/{block}: the note is not there");
        assert_eq!(&low[..len - d], &safe[d..], "{rate}/{block}: low latency changed the sound");
        if rate % 48_000 == 0 {
            // A frame is a whole number of blocks (or a block of whole frames): no block
            // waits on the frame after the one it ends in, which saves a block less one
            // sample (a frame less one at 512-sample blocks and 96 kHz, where the frame
            // is the smaller).
            let frame = 256 * rate as usize / 48_000;
            assert_eq!(ls.prefill - ll.prefill, block.min(frame) - 1, "{rate}/{block}");
        }
    }
    // The margin's floor fits within 10 ms at 48 kHz / 128 in low latency.
    let l = lockstep(&model, 48_000, &[128], LatencyMode::Low, 4800).1;
    let floor_ms = engine::calibrate::FLOOR.as_secs_f64() * 1e3;
    assert!(ms(l, 48_000) + floor_ms <= 10.0, "{:.2} ms before the margin ({l:?})", ms(l, 48_000));
    // Off the grid the assumption fails: blocks that straddle a frame's end underrun
    // in low latency, never in safe (the host then hears of the grown latency).
    let ragged = [100, 128, 77];
    let (_, _, s) = lockstep(&model, 48_000, &ragged, LatencyMode::Safe, 24_000);
    let (_, _, l) = lockstep(&model, 48_000, &ragged, LatencyMode::Low, 24_000);
    assert_eq!(dropouts(&s), 0, "{s:?}");
    assert!(l.underruns > 0, "{l:?}");
    // A calibrated low-latency engine keeps the floor, as safe does: the grid saves
    // the block, not the machine's stalls.
    let (_, handle) = engine::start(&model, &EngineConfig { latency_mode: LatencyMode::Low, ..EngineConfig::new(48_000, 128) }).unwrap();
    let c = handle.calibration().expect("calibrated by default");
    assert_eq!(c.floor, engine::calibrate::FLOOR, "{c:?}");
    assert!(c.margin >= c.floor, "{c:?}");
    assert!(c.margin >= c.second_worst_step.mul_f64(engine::calibrate::SAFETY), "{c:?}");
}
