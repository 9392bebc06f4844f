//! The latency margin, measured on the machine the engine runs on. Machines of the
//! same kind differ threefold in how long a model step takes, so a guessed margin is
//! either wasted latency on a quick one or dropouts on a slow one. At start the
//! engine times its own model steps on silence and keeps a margin that covers the
//! worst of them with room for scheduling jitter.

use std::time::{Duration, Instant};

use super::inference::POLL;
use crate::contract::{EMBED_DIM, HOP, ROLL_DIM, SOURCE_CHANNELS};
use crate::features::{layout, Featurizer};
use crate::runtime::ModelRunner;
use crate::sync::LockExt;

/// Untimed calls first: ONNX Runtime's first runs allocate and warm its caches.
const WARM_UP: usize = 8;
const TIMED: usize = 48;
/// The worst timed step is multiplied by this. A soak on a 2-core machine with a
/// build running beside it saw steps 3.4 × calibration's worst, and 6 underruns at
/// 1.5 ×; alone, the machine's worst steps stay within 2 × of it.
pub const SAFETY: f64 = 2.0;
/// No margin below this. Calibration sees the steady state, but small virtual
/// machines now and then take the CPU away for milliseconds (steps several times the
/// calibrated worst, late wake-ups), more than any multiple of a fast step covers; an
/// underrun beyond it still grows the latency by what was missing (the audio side, up
/// to 20 ms, and the host is told). Both latency modes keep it: the block grid that
/// low latency counts on saves a block's worth of waiting, not the machine's stalls.
/// The soaks that set it are in docs/architecture.md.
pub const FLOOR: Duration = Duration::from_millis(3);

/// The longest the idle watch waits between looks, however much margin there is
/// (a margin grown by underruns is not spare time to spend on waking up).
pub const MAX_IDLE_POLL: Duration = Duration::from_millis(2);

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    /// The longest, the second longest and the mean of the timed steps.
    pub worst_step: Duration,
    pub second_worst_step: Duration,
    pub mean_step: Duration,
    /// The least margin allowed ([`FLOOR`]).
    pub floor: Duration,
    /// The margin chosen from them.
    pub margin: Duration,
}

impl Calibration {
    /// How often the idle watch may look for a note while this engine is idle: the
    /// part of the margin that the safety factor's steps do not need, so the first
    /// group after idle still has `SAFETY` times the timed step to render in, as every
    /// other group has. Never shorter than the playing thread's [`POLL`], never longer
    /// than [`MAX_IDLE_POLL`].
    pub fn idle_poll(&self) -> Duration {
        self.margin.saturating_sub(self.second_worst_step.mul_f64(SAFETY)).clamp(POLL, MAX_IDLE_POLL)
    }

    /// The margin in host samples.
    pub fn margin_samples(&self, rate: u32) -> usize {
        (self.margin.as_secs_f64() * rate as f64).ceil() as usize
    }
}

impl std::fmt::Display for Calibration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "margin {:.1} ms = max({SAFETY} × second-worst model step {:.2} ms (worst {:.2}, mean {:.2} ms) + {:.1} ms wake-up, floor {:.0} ms), measured at start",
            self.margin.as_secs_f64() * 1e3,
            self.second_worst_step.as_secs_f64() * 1e3,
            self.worst_step.as_secs_f64() * 1e3,
            self.mean_step.as_secs_f64() * 1e3,
            POLL.as_secs_f64() * 1e3,
            self.floor.as_secs_f64() * 1e3
        )
    }
}

/// Held while an engine loads its models and times them, so that instances start one
/// at a time: a host that activates a dozen at once (a project opening) would otherwise
/// time each against the others on the same cores. Measured with 16 instances
/// activated together on 2 cores: with nothing held, steps of 29 ms instead of 1.1 and
/// margins of 59 ms; with only the timing held, one instance still timed its steps
/// while the others loaded their sessions (second-worst 20 ms, a 41 ms margin).
/// Activation is not real-time, so waiting here costs only the others' start-ups.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.locked()
}

/// Times `frames_per_step`-frame steps of `runner` on silence (the excitation's noise,
/// no keys) and derives the margin; the runner is left reset.
pub fn calibrate(runner: &mut ModelRunner, frames_per_step: usize) -> Result<Calibration, String> {
    let mut featurizer = Featurizer::new(0);
    let n = frames_per_step * HOP;
    let roll = vec![0.0f32; frames_per_step * ROLL_DIM];
    let mut source = vec![0.0f32; SOURCE_CHANNELS * n];
    for j in 0..frames_per_step {
        layout::put_frame(&mut source, frames_per_step, j, featurizer.end_frame().source);
    }
    let mut audio = Vec::new();
    let mut times = Vec::with_capacity(TIMED);
    for i in 0..WARM_UP + TIMED {
        let start = Instant::now();
        runner.step(&roll, &source, [0.0; EMBED_DIM], &mut audio)?;
        if i >= WARM_UP {
            times.push(start.elapsed());
        }
    }
    runner.reset();
    times.sort();
    // The second-worst, not the worst: one stall of the machine during the second
    // of calibration (seen: 15.6 ms among steps of 1 ms) would otherwise set a
    // 30 ms margin for the whole session; the floor covers such stalls while playing.
    let typical_worst = times[TIMED - 2];
    let floor = FLOOR;
    let margin = typical_worst.mul_f64(SAFETY).saturating_add(POLL).max(floor);
    let mean = times.iter().sum::<Duration>() / TIMED as u32;
    Ok(Calibration { worst_step: times[TIMED - 1], second_worst_step: typical_worst, mean_step: mean, floor, margin })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(margin_ms: f64, second_worst_ms: f64) -> Calibration {
        let ms = |v: f64| Duration::from_secs_f64(v * 1e-3);
        Calibration { worst_step: ms(second_worst_ms), second_worst_step: ms(second_worst_ms), mean_step: ms(second_worst_ms), floor: FLOOR, margin: ms(margin_ms) }
    }

    /// Idle, the watch may look as seldom as the margin leaves after `SAFETY` steps.
    #[test]
    fn the_idle_poll_is_the_margin_the_steps_do_not_need() {
        assert_eq!(with(3.0, 0.6).idle_poll(), Duration::from_micros(1800));
        // A margin all spent on steps leaves the playing thread's poll.
        assert_eq!(with(3.0, 1.4).idle_poll(), POLL);
        // A margin grown by underruns is not spent on sleeping.
        assert_eq!(with(40.0, 0.5).idle_poll(), MAX_IDLE_POLL);
    }
}
