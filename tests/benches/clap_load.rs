//! CPU load of the bundled `Melwave.clap` in a real CLAP host (clack-host), paced as a
//! sound card would pace it: 48 kHz, 128-sample blocks, 0 and 8 held notes, and 16
//! idle instances at once (a producer's session). Prints the
//! process's CPU time (audio and inference threads together) as a share of one core,
//! and the audio thread's `process()` time against its 2.67 ms budget.
//! Run with `cargo xtask bench` (which builds the bundle first).

use std::time::{Duration, Instant};

use melwave_tests::clap::{load, Cue};
use melwave_tests::repo_root;

const RATE: f64 = 48_000.0;
const BLOCK: usize = 128;
const SECONDS: f64 = 20.0;

/// User + system CPU time of this process so far, from /proc (10 ms ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<u64> = rest.split_whitespace().skip(11).take(2).map(|v| v.parse().expect("ticks")).collect();
    Duration::from_millis((f[0] + f[1]) * 10)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

fn main() {
    let bundle = repo_root().join("target/bundled/Melwave.clap");
    println!("clack-host, {}: {RATE} Hz, {BLOCK}-sample blocks, {SECONDS} s each, paced in real time; load average before: {}", bundle.display(), loadavg());
    let length = (SECONDS * RATE) as usize;
    let budget = BLOCK as f64 / RATE;
    for held in [0usize, 8] {
        let mut plugin = load(&bundle);
        // An open-voiced chord over three octaves, struck at once and held throughout,
        // with the timbre moving slowly so the morph path is exercised too.
        let mut cues: Vec<(u64, Cue)> = [36u8, 43, 48, 52, 55, 60, 64, 67].iter().take(held).map(|&k| (0, Cue::NoteOn(k, 0.8))).collect();
        for i in 0..20 {
            cues.push(((i as f64 * RATE) as u64, Cue::Param("Timbre X", (i % 10) as f64 / 10.0)));
        }
        cues.sort_by_key(|c| c.0);
        let (cpu0, wall0) = (cpu_time(), Instant::now());
        let (out, _, times) = plugin.render_timed(RATE, BLOCK, &cues, length, true);
        let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
        let mut secs: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
        secs.sort_by(f64::total_cmp);
        let mean = secs.iter().sum::<f64>() / secs.len() as f64;
        let p99 = secs[secs.len() * 99 / 100];
        let max = secs[secs.len() - 1];
        let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        println!(
            "{held} held notes: CPU {:.1}% of one core ({:.2} s CPU over {:.2} s); process() mean {:.1} µs, p99 {:.1} µs, max {:.1} µs ({:.1}% of the {:.2} ms budget at max); output peak {:.3}",
            100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
            cpu.as_secs_f64(),
            wall.as_secs_f64(),
            mean * 1e6,
            p99 * 1e6,
            max * 1e6,
            100.0 * max / budget,
            budget * 1e3,
            peak
        );
    }
    // A producer's session: 16 instances on idle tracks, each on its own host thread
    // paced in real time, none playing. Activation (two ONNX Runtime sessions and the
    // margin's calibration) is inside the measured time.
    const INSTANCES: usize = 16;
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let threads: Vec<_> = (0..INSTANCES)
        .map(|_| {
            let bundle = bundle.clone();
            std::thread::spawn(move || {
                let mut plugin = load(&bundle);
                let (out, _, _) = plugin.render_timed(RATE, BLOCK, &[], length, true);
                out.iter().fold(0.0f32, |m, v| m.max(v.abs()))
            })
        })
        .collect();
    let peak = threads.into_iter().map(|t| t.join().expect("an instance thread")).fold(0.0f32, f32::max);
    let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
    println!(
        "{INSTANCES} idle instances at once: CPU {:.1}% of one core ({:.2} s CPU over {:.2} s, {:.2}% per instance); output peak {peak} (exact silence: {})",
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64() / INSTANCES as f64,
        peak == 0.0
    );
    // The audio thread's worst case: a 1024-sample block carrying the host's whole
    // event capacity (8192: all 128 keys struck and released 32 times) plus automation.
    let mut plugin = load(&bundle);
    let mut cues = Vec::new();
    for b in 0..20u64 {
        for i in 0..4096u64 {
            let key = (i % 128) as u8;
            cues.push((b * 1024 + i / 4, Cue::NoteOn(key, 1.0)));
            cues.push((b * 1024 + i / 4 + 1, Cue::NoteOff(key)));
        }
    }
    cues.sort_by_key(|c| c.0);
    let (_, _, times) = plugin.render_timed(RATE, 1024, &cues, 20 * 1024, true);
    let worst = times.iter().max().copied().unwrap_or_default();
    println!(
        "event storm: 8192 events per 1024-sample block: process() max {:.1} µs ({:.1}% of the {:.2} ms budget)",
        worst.as_secs_f64() * 1e6,
        100.0 * worst.as_secs_f64() / (1024.0 / RATE),
        1024.0 / RATE * 1e3
    );
    println!("load average after: {}", loadavg());
}
