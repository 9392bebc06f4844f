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

/// CPU time of this process's threads whose names start with `prefix`, from /proc.
fn threads_cpu_time(prefix: &str) -> Duration {
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some(close) = stat.rfind(')') else { continue };
        ticks += stat[close + 2..].split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<u64>().ok()).sum::<u64>();
    }
    Duration::from_millis(ticks * 10)
}

/// A producer's session: 16 instances on idle tracks, each on its own host thread
/// paced in real time, none playing. The window starts once every instance has
/// activated and played two seconds, so it holds what idling costs, not loading;
/// the plugin's share is its own threads (the inference threads and the idle watch)
/// plus the time inside `process()`, the rest is the host's own pacing.
fn idle_session(bundle: &std::path::Path) {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Arc;
    const INSTANCES: usize = 16;
    const WINDOW: Duration = Duration::from_secs(10);
    let started = Arc::new(AtomicUsize::new(0));
    let in_process_ns = Arc::new(AtomicU64::new(0));
    let (wall0, cpu0) = (Instant::now(), cpu_time());
    // Each instance plays until the window has closed, however long loading took.
    let window_closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = (0..INSTANCES)
        .map(|_| {
            let (bundle, started, in_process_ns, window_closed) = (bundle.to_path_buf(), started.clone(), in_process_ns.clone(), window_closed.clone());
            std::thread::spawn(move || {
                let mut plugin = load(&bundle);
                let mut peak = 0.0f32;
                let mut first = true;
                plugin.stream_while(RATE, BLOCK, &[], usize::MAX, true, |left, t| {
                    if std::mem::take(&mut first) {
                        started.fetch_add(1, Ordering::AcqRel);
                    }
                    in_process_ns.fetch_add(t.as_nanos() as u64, Ordering::Relaxed);
                    peak = left.iter().fold(peak, |m, v| m.max(v.abs()));
                    !window_closed.load(Ordering::Acquire)
                });
                peak
            })
        })
        .collect();
    while started.load(Ordering::Acquire) < INSTANCES {
        std::thread::sleep(Duration::from_millis(50));
    }
    let loading = wall0.elapsed();
    let loading_cpu = cpu_time() - cpu0;
    std::thread::sleep(Duration::from_secs(2));
    let (w0, c0, i0, p0) = (Instant::now(), cpu_time(), threads_cpu_time("melwave-"), in_process_ns.load(Ordering::Relaxed));
    std::thread::sleep(WINDOW);
    let (w1, c1, i1, p1) = (Instant::now(), cpu_time(), threads_cpu_time("melwave-"), in_process_ns.load(Ordering::Relaxed));
    window_closed.store(true, Ordering::Release);
    let peak = threads.into_iter().map(|t| t.join().expect("an instance thread")).fold(0.0f32, f32::max);
    let wall = (w1 - w0).as_secs_f64();
    let share = |d: Duration| 100.0 * d.as_secs_f64() / wall;
    let inference = i1 - i0;
    let process = Duration::from_nanos(p1 - p0);
    let plugin = inference + process;
    println!(
        "{INSTANCES} idle instances, {:.0} s after all activated: the plugin {:.2}% of one core ({:.3}% per instance: the plugin's threads {:.2}%, process() {:.2}%); the whole process {:.1}% (the host's pacing included); output peak {peak} (exact silence: {})",
        WINDOW.as_secs_f64(),
        share(plugin),
        share(plugin) / INSTANCES as f64,
        share(inference),
        share(process),
        share(c1 - c0),
        peak == 0.0
    );
    println!("  loading them: {:.1} s, {:.1} s CPU (one at a time: each builds two ONNX Runtime sessions and times its model)", loading.as_secs_f64(), loading_cpu.as_secs_f64());
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
    idle_session(&bundle);
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
