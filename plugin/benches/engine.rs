//! Speed figures for the default model, printed (no timed assertions anywhere):
//! streamed real-time factor at 48 kHz with 128- and 512-sample host blocks, ONNX
//! Runtime time per call for each model, latency, and the cost of held notes.
//! Run with `cargo xtask bench`.

use std::time::Instant;

use melwave::contract::{Mel2MelConfig, ModelBytes, VocoderConfig, EMBED_DIM, HOP, ROLL_DIM, SOURCE_CHANNELS};
use melwave::engine::{self, EngineConfig};
use melwave::features::{Event, TimedEvent};
use melwave::midi_file;
use melwave::render::render;
use melwave::runtime::{ModelRunner, Provider};

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

fn describe(v: &VocoderConfig) -> String {
    let filters = format!("filter net {} wide, {}-tap filters", v.filter_hidden, v.filter_taps);
    if v.layers == 0 {
        filters
    } else {
        format!("{filters}, then WaveNet {} layers × {} channels", v.layers, v.channels)
    }
}

/// Microseconds per one-frame vocoder call (the live engine's call size), the median
/// of `rounds` rounds of 200 calls.
fn vocoder_call_us(model: &ModelBytes, rounds: usize) -> f64 {
    let mut runner = ModelRunner::new(model, Provider::Cpu).expect("model loads");
    let roll = vec![0.0f32; ROLL_DIM];
    runner.predict_mel(&roll, [0.0; EMBED_DIM]).unwrap();
    let mel = runner.mel().to_vec();
    let source = vec![0.01f32; SOURCE_CHANNELS * HOP];
    let mut audio = Vec::new();
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..200 {
                runner.vocode(&mel, &source, [0.0; EMBED_DIM], &mut audio).unwrap();
            }
            t.elapsed().as_secs_f64() * 1e6 / 200.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[rounds / 2]
}

fn main() {
    let model = match std::env::var_os("MELWAVE_BENCH_MODEL") {
        Some(dir) => ModelBytes::from_dir(std::path::Path::new(&dir)).expect("model folder"),
        None => ModelBytes::embedded().expect("embedded model"),
    };
    let v = &model.manifest.vocoder.config;
    let m = &model.manifest.mel2mel.config;
    println!(
        "melwave engine benchmark — model: {} (Mel2Mel LSTM {}×{}, vocoder: {}, receptive field {} samples)",
        model.origin,
        m.layers,
        m.hidden,
        describe(v),
        v.receptive_field()
    );
    println!("machine: {} cores, load average before: {}", std::thread::available_parallelism().map_or(0, |n| n.get()), loadavg());

    // ORT time per call.
    let mut runner = ModelRunner::new(&model, Provider::Cpu).expect("model loads");
    println!("provider: {}", runner.provider);
    println!("\nONNX Runtime time per call (1 intra-op thread):");
    for frames in [1usize, 2, 4, 8] {
        let roll = vec![0.0f32; frames * ROLL_DIM];
        let source = vec![0.01f32; frames * SOURCE_CHANNELS * HOP];
        let mut audio = Vec::new();
        let iters = 400 / frames;
        let t = Instant::now();
        for _ in 0..iters {
            runner.predict_mel(&roll, [0.0; EMBED_DIM]).unwrap();
        }
        let mel_us = t.elapsed().as_secs_f64() * 1e6 / iters as f64;
        let mel = runner.mel().to_vec();
        let t = Instant::now();
        for _ in 0..iters {
            runner.vocode(&mel, &source, [0.0; EMBED_DIM], &mut audio).unwrap();
        }
        let voc_us = t.elapsed().as_secs_f64() * 1e6 / iters as f64;
        let budget_us = frames as f64 * HOP as f64 / 24_000.0 * 1e6;
        println!("  {frames} frame(s): mel2mel {mel_us:8.1} µs, vocoder {voc_us:8.1} µs, total {:8.1} µs = {:.3} of real time", mel_us + voc_us, (mel_us + voc_us) / budget_us);
    }

    // The vocoder's cost next to the WaveNet the v1 and v2 models had (12 layers × 32
    // channels, kernel 3), which is the budget's reference: that WaveNet is timed here
    // behind the same filters, so its row is v1's cost plus the filters'.
    println!("\nVocoder sizes, one-frame calls (median of 5 × 200), interleaved in this run:");
    let mel_cfg = Mel2MelConfig::default();
    let sizes: [(&str, VocoderConfig); 4] = [
        ("this model", v.clone()),
        ("filters only (default size)", VocoderConfig::default()),
        ("filters + WaveNet 6 × 16", VocoderConfig { layers: 6, channels: 16, skip_channels: 16, dilation_cycle: 6, ..VocoderConfig::default() }),
        ("filters + WaveNet 12 × 32 (v1/v2's)", VocoderConfig { layers: 12, channels: 32, skip_channels: 32, dilation_cycle: 6, ..VocoderConfig::default() }),
    ];
    let timed: Vec<(String, f64)> =
        sizes.iter().map(|(name, cfg)| (format!("{name}: {}", describe(cfg)), vocoder_call_us(&ModelBytes::random(1, mel_cfg.clone(), cfg.clone()), 5))).collect();
    let reference = timed[3].1;
    for (name, us) in &timed {
        println!("  {name:80} {us:8.1} µs/frame = {:.3} of real time, {:.2}× the 12 × 32 WaveNet row", us / (HOP as f64 / 24_000.0 * 1e6), us / reference);
    }

    // Streamed RTF through the engine, the demo MIDI, at 48 kHz.
    let song = midi_file::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo.mid"))).expect("demo MIDI");
    println!("\nStreamed through the engine at 48 kHz (demo.mid, {:.1} s):", song.duration);
    for block in [128usize, 512] {
        let events = song.timed_events(48_000);
        let len = (song.duration * 48_000.0) as usize + 48_000;
        let r = render(&model, &EngineConfig::new(48_000, block), (0.5, 0.5), &events, len, block, |_, _| {}).unwrap();
        println!(
            "  block {block:4}: real-time factor {:.4} (inference thread busy {:.4} of real time, longest step {:.2} ms), latency {:.2} ms",
            r.real_time_factor(),
            r.stats.busy_seconds / r.duration_seconds(),
            r.stats.max_step_seconds * 1e3,
            r.latency.total() as f64 / 48.0
        );
    }

    println!("\nReported latency:");
    for rate in [44_100u32, 48_000, 96_000] {
        let mut line = format!("  {rate:6} Hz:");
        for block in [64usize, 128, 256, 512, 1024] {
            let (_, h) = engine::start(&model, &EngineConfig::new(rate, block)).unwrap();
            line += &format!("  block {block}: {:.2} ms", h.latency().total() as f64 * 1e3 / rate as f64);
        }
        println!("{line}");
    }

    println!("\nCost of held notes (48 kHz, block 128, 5 s):");
    for notes in [1usize, 8, 64] {
        let events: Vec<TimedEvent> = (0..notes).map(|i| TimedEvent { time: 0, event: Event::NoteOn { key: (30 + i) as u8, velocity: 100 } }).collect();
        let r = render(&model, &EngineConfig::new(48_000, 128), (0.5, 0.5), &events, 5 * 48_000, 128, |_, _| {}).unwrap();
        println!("  {notes:2} note(s): real-time factor {:.4}", r.real_time_factor());
    }
    println!("\nAudio in (48 kHz, 128-sample blocks, 10 s of a sung-like line):");
    {
        use melwave::features::audio_in::{AudioInSettings, AudioToNotes};
        let rate = 48_000.0f32;
        let mut phase = 0.0f32;
        let line: Vec<f32> = (0..480_000)
            .map(|i| {
                let t = i as f32 / rate;
                phase += std::f32::consts::TAU * 220.0 * (1.0 + 0.01 * (std::f32::consts::TAU * 5.0 * t).sin()) / rate;
                if (t % 1.0) < 0.8 {
                    0.3 * phase.sin()
                } else {
                    0.0
                }
            })
            .collect();
        let mut front = AudioToNotes::new(48_000, AudioInSettings::default());
        let mut events = 0usize;
        let start = std::time::Instant::now();
        for block in line.chunks(128) {
            front.process(block, |_, _| events += 1);
        }
        let wall = start.elapsed().as_secs_f64();
        println!("  the pitch tracker alone: {:.1} ms for 10 s, {:.4} of real time ({events} events)", wall * 1e3, wall / 10.0);
        let events = melwave::render::events_from_audio(&line, 48_000, AudioInSettings::default());
        let r = render(&model, &EngineConfig::new(48_000, 128), (0.5, 0.5), &events, line.len(), 128, |_, _| {}).unwrap();
        println!("  the engine playing what it heard: real-time factor {:.4}", r.real_time_factor());
    }
    println!("\nload average after: {}", loadavg());
}
