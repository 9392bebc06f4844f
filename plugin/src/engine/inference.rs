//! The inference thread: events → roll frames + excitation → Mel2Mel → vocoder →
//! resampler → output ring. It owns the ONNX Runtime sessions and all model state;
//! ONNX Runtime allocates inside every run, which is why none of this may happen on
//! the audio thread.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Observer, Producer};
use ringbuf::{HeapCons, HeapProd};

use super::cue::{Cue, TimedCue};
use super::latency::model_sample;
use super::resample::StreamResampler;
use super::safety::OutputStage;
use super::shared::{PendingModel, Shared};
use crate::contract::{TimbrePlane, HOP, ROLL_DIM, SAMPLE_RATE, SOURCE_CHANNELS};
use crate::features::{layout, Featurizer};
use crate::runtime::ModelRunner;

/// How long the models keep running after the last voice has stopped, so that the
/// vocoder's and the LSTM's own tails ring out: then the engine goes idle.
pub const IDLE_TAIL_SECONDS: f32 = 0.25;
const IDLE_TAIL_FRAMES: u32 = (IDLE_TAIL_SECONDS * SAMPLE_RATE as f32 / HOP as f32) as u32;
/// −100 dBFS: a silent frame's peak below this ends the tail early.
const SILENT_PEAK: f32 = 1e-5;
/// A model output beyond this is not sound but a diverging state (the training data
/// peaks near 0.3): it is treated like NaN.
pub const RUNAWAY: f32 = 4.0;

/// Whether the models are running. With no voice in the excitation and the tail
/// rung out, the engine stops calling ONNX Runtime and emits exact zeros; the model
/// state and the excitation noise are reset, so the next note sounds exactly as it
/// does from a fresh start.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Idle {
    /// True while idle.
    pub idle: bool,
    /// Frames since the excitation last had a voice.
    pub quiet_frames: u32,
    /// Groups of exact silence rendered since going idle. The group that goes idle
    /// fades to zero, but the resampler's tail of it does not end on an exact zero;
    /// the thread sleeps long only once a silent group is behind it, so a ring that
    /// then runs dry runs dry on silence.
    pub silent_groups: u32,
}

/// How long the thread sleeps when it has nothing to do. The audio side never wakes
/// it (that would be a syscall on the audio thread), so this bounds the reaction time
/// and is part of the latency margin.
pub const POLL: Duration = Duration::from_micros(500);

pub(super) struct Inference {
    pub runner: ModelRunner,
    pub featurizer: Featurizer,
    /// The excitation noise's seed, re-used when the engine leaves idle.
    pub seed: u64,
    /// Pad position of the frame being rendered, from the cues.
    pub timbre: (f32, f32),
    pub idle: Idle,
    pub resampler: StreamResampler,
    pub output_stage: OutputStage,
    pub plane: TimbrePlane,
    pub events: HeapCons<TimedCue>,
    pub samples: HeapProd<f32>,
    pub shared: Arc<Shared>,
    pub host_rate: u32,
    pub frames_per_step: usize,
    /// A round whose wake-up lateness (beyond the poll) plus its first group's time
    /// exceeds this is counted in `stalls`: it used up the margin but for one poll.
    /// `None` without a margin (offline, where nothing underruns).
    pub stall_limit: Option<Duration>,
    /// The process's idle watch, where it looks in on this thread (see
    /// [`super::idle_watch`]): the thread then sleeps long while idle.
    pub watch: Option<Arc<super::idle_watch::Watch>>,
    /// Events taken from the ring (see `Timeline::events_taken`).
    pub events_taken: u64,
    /// The thread holds real-time priority while it plays, and gives it up while
    /// idle: a real-time wake-up costs a virtual machine three times an ordinary
    /// one, and an idle instance wakes hundreds of times a second for nothing.
    pub scheduling: Scheduling,
    pub pending: VecDeque<TimedCue>,
    pub frames_done: u64,
    pub roll: Vec<f32>,
    pub source: Vec<f32>,
    pub audio: Vec<f32>,
    /// The last group's output at the host rate; `out[unpushed..]` is not yet in the ring.
    pub out: Vec<f32>,
    pub unpushed: usize,
}

/// The inference thread's scheduling, as it goes idle and back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scheduling {
    /// Never real-time (offline, tests, or the OS refused).
    #[default]
    Normal,
    /// Real-time while playing; `relaxed` while idle at normal priority.
    RealTime { relaxed: bool },
}

impl Inference {
    pub fn run(mut self) {
        flush_denormals();
        // When the thread last went to sleep: how late it got going again is the
        // machine's doing (see `stall_limit`).
        let mut asleep: Option<(Instant, Duration)> = None;
        let mut was_idle = false;
        while !self.shared.control.stop.load(Ordering::Relaxed) {
            // A panic anywhere in a round (a bug, or inside ONNX Runtime's bindings)
            // must neither take the host down nor end the thread: the stream goes on,
            // silent, until a restart, which this loop still answers.
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.round(&mut asleep))) {
                self.report_panic(p.as_ref());
            }
            let idle = self.idle.idle && self.idle.silent_groups > 0 && self.pending.is_empty();
            if let (true, false, Some(watch)) = (idle, was_idle, &self.watch) {
                watch.went_idle();
            }
            was_idle = idle;
            if idle && self.scheduling == (Scheduling::RealTime { relaxed: false }) {
                super::priority::relax();
                self.scheduling = Scheduling::RealTime { relaxed: true };
            }
            let poll = if idle && self.watch.is_some() { super::idle_watch::IDLE_SLEEP } else { POLL };
            asleep = Some((Instant::now(), poll));
            std::thread::park_timeout(poll);
        }
    }

    /// Back to real-time priority once there is something to play.
    fn wake_up(&mut self) {
        if self.scheduling == (Scheduling::RealTime { relaxed: true }) && self.pending.iter().any(|c| matches!(c.cue, Cue::Event(_))) {
            super::priority::promote(super::priority::REALTIME_PRIORITY);
            self.scheduling = Scheduling::RealTime { relaxed: false };
        }
    }

    fn report_panic(&self, payload: &(dyn std::any::Any + Send)) {
        let msg = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_default();
        self.shared.counters.panics.fetch_add(1, Ordering::Relaxed);
        self.shared.control.failed.store(true, Ordering::Release);
        self.shared.messages.report_error(format!("the inference thread panicked ({msg}); silent until restarted (editor) or the plugin is reset"));
    }

    /// One wake-up: take the events, answer the requests, render every complete group.
    fn round(&mut self, asleep: &mut Option<(Instant, Duration)>) {
        // Read the clock before draining: every event stamped before it is then
        // guaranteed to be in the ring.
        let known = self.shared.timeline.clock.load(Ordering::Acquire);
        while let Some(ev) = self.events.try_pop() {
            self.events_taken += matches!(ev.cue, Cue::Event(_)) as u64;
            self.pending.push_back(ev);
        }
        self.shared.timeline.events_taken.store(self.events_taken, Ordering::Release);
        self.wake_up();
        self.take_pending_model();
        if self.shared.control.restart.swap(false, Ordering::AcqRel) {
            self.runner.reset();
            if self.shared.control.failed.swap(false, Ordering::AcqRel) {
                self.shared.messages.clear_error();
                self.shared.messages.report_notice("inference restarted after a panic".into());
            }
        }
        // An injected stall holds the thread as a machine that does not run it would.
        #[cfg(feature = "fault-injection")]
        while self.shared.faults.stall.load(Ordering::Acquire) && !self.shared.control.stop.load(Ordering::Relaxed) {
            std::thread::sleep(POLL);
        }
        // An injected hang holds it as a model run that never returns would: deaf
        // even to `stop`, for as long as it was asked.
        #[cfg(feature = "fault-injection")]
        {
            let ms = self.shared.faults.hang_ms.swap(0, Ordering::AcqRel);
            if ms > 0 {
                std::thread::sleep(Duration::from_millis(ms));
            }
            if self.shared.faults.panic_in_round.swap(false, Ordering::AcqRel) {
                panic!("injected fault outside a step");
            }
        }
        let complete = model_sample(known, self.host_rate) / HOP as u64;
        let k = self.frames_per_step as u64;
        let target = complete - complete % k;
        let woke_late = asleep.map_or(Duration::ZERO, |(t, poll)| t.elapsed().saturating_sub(poll));
        self.shared.counters.max_wake_late_ns.fetch_max(woke_late.as_nanos() as u64, Ordering::Relaxed);
        let mut first_step = None;
        while self.frames_done < target && !self.shared.control.stop.load(Ordering::Relaxed) {
            if !self.flush() {
                // The ring is full (catching up after a stall): the audio side
                // drains the stale part first.
                break;
            }
            let began = Instant::now();
            let frames_before = self.frames_done;
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step())) {
                self.report_panic(p.as_ref());
                // The group is lost, but its frames count: a step that panics before
                // it advances would otherwise be retried for ever, spinning at
                // real-time priority. It is played as silence, so the stream keeps
                // its time.
                self.frames_done = frames_before + k;
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.silent_group())).is_err() {
                    self.out.clear();
                    self.unpushed = 0;
                }
            }
            first_step.get_or_insert(began.elapsed());
        }
        if let (Some(limit), Some(step)) = (self.stall_limit, first_step) {
            // A group's work is the same whatever is played (ONNX Runtime's step
            // has fixed shapes; the excitation and resampler cost microseconds
            // even with every key down), so a group far beyond the calibrated
            // step is, like a late wake-up, the machine not running this thread.
            // The margin grows with the latency after underruns.
            let grown = Duration::from_secs_f64(self.shared.counters.latency_grown.load(Ordering::Relaxed) as f64 / self.host_rate as f64);
            if woke_late + step > limit + grown {
                self.shared.counters.stalls.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.shared.timeline.caught_up.store(known, Ordering::Release);
    }

    /// A group of exact silence at the host rate, in place of one that failed.
    fn silent_group(&mut self) {
        let n = self.frames_per_step * HOP;
        self.audio.clear();
        self.audio.resize(n, 0.0);
        self.out.clear();
        for j in 0..self.frames_per_step {
            self.resampler.process(&self.audio[j * HOP..(j + 1) * HOP], &mut self.out);
        }
        self.out.fill(0.0);
        self.output_stage.reset();
        self.unpushed = 0;
        self.flush();
    }

    /// Pushes what the last group left unpushed; true once all of it is in the ring.
    /// Nothing is ever dropped here: after a stall the ring may fill while the audio
    /// side drops the stale samples, and the rest waits its turn.
    fn flush(&mut self) -> bool {
        if self.unpushed < self.out.len() {
            self.unpushed += self.samples.push_slice(&self.out[self.unpushed..]);
        }
        self.unpushed == self.out.len()
    }

    fn frame_of(&self, cue: &TimedCue) -> u64 {
        model_sample(cue.time, self.host_rate) / HOP as u64
    }

    /// Swaps in a model that finished loading in the background. The old one played
    /// until now; it goes back to the loader's thread, which tears it down there.
    fn take_pending_model(&mut self) {
        let Ok(mut slot) = self.shared.pending_model.try_lock() else { return };
        let Some(PendingModel { runner, plane, origin, retired }) = slot.take() else { return };
        drop(slot);
        let old = std::mem::replace(&mut self.runner, runner);
        self.plane = plane;
        self.runner.reset();
        // If the loader is gone, the old model is dropped here after all.
        let _ = retired.send(old);
        self.shared.control.hold_for_model.store(false, Ordering::Release);
        self.shared.counters.model_swaps.fetch_add(1, Ordering::Relaxed);
        self.shared.messages.report_notice(format!("now playing {origin}"));
    }

    /// Runs both models on the group's features into `self.audio` (silence while
    /// failed, or after a NaN, a runaway output or a failed run, which also reset
    /// the model state).
    fn run_models(&mut self, timbre: [f32; 2], n: usize) -> bool {
        let failed = self.shared.control.failed.load(Ordering::Acquire) || self.shared.control.hold_for_model.load(Ordering::Acquire);
        let start = Instant::now();
        let result = if failed { Err(String::new()) } else { self.runner.step(&self.roll, &self.source, timbre, &mut self.audio) };
        let ns = start.elapsed().as_nanos() as u64;
        self.shared.counters.busy_ns.fetch_add(ns, Ordering::Relaxed);
        self.shared.counters.max_step_ns.fetch_max(ns, Ordering::Relaxed);
        self.shared.counters.steps.fetch_add(1, Ordering::Relaxed);
        self.shared.counters.frames.fetch_add(self.frames_per_step as u64, Ordering::Relaxed);

        let ok = match result {
            Ok(()) if self.audio.len() == n && self.audio.iter().all(|s| s.is_finite() && s.abs() <= RUNAWAY) => true,
            Ok(()) => {
                self.shared.counters.nan_resets.fetch_add(1, Ordering::Relaxed);
                self.shared.messages.report_error(format!("the model produced NaN, Inf or a runaway output (beyond ±{RUNAWAY}): output silenced and state reset"));
                false
            }
            Err(_) if failed => false,
            Err(e) => {
                self.shared.counters.model_errors.fetch_add(1, Ordering::Relaxed);
                self.shared.messages.report_error(format!("model run failed: {e}"));
                false
            }
        };
        if !ok {
            self.audio.clear();
            self.audio.resize(n, 0.0);
            // The resampler only ever saw finite samples and keeps running, so the
            // stream keeps its timing.
            self.runner.reset();
        }
        ok
    }

    /// Renders one group of `frames_per_step` frames: the models' audio, or exact
    /// silence while idle.
    fn step(&mut self) {
        let k = self.frames_per_step;
        let n = k * HOP;
        self.roll.resize(k * ROLL_DIM, 0.0);
        self.source.resize(SOURCE_CHANNELS * n, 0.0);
        let mut sounding = false;
        let mut leaving_idle = false;
        // Only a note can end idle: a group with none in it is silence throughout,
        // and its excitation is not worth rendering.
        let end = self.frames_done + k as u64;
        let unheard = self.idle.idle && !self.pending.iter().any(|c| matches!(c.cue, Cue::Event(_)) && self.frame_of(c) < end);
        for j in 0..k {
            let frame = self.frames_done + j as u64;
            while let Some(cue) = self.pending.front() {
                if self.frame_of(cue) > frame {
                    break;
                }
                match self.pending.pop_front().expect("front exists").cue {
                    Cue::Event(event) => self.featurizer.apply(&event),
                    Cue::Timbre { x, y } => self.timbre = (x, y),
                }
            }
            if self.idle.idle && self.featurizer.roll.active() {
                // Leaving idle: the noise starts over as from a fresh start (the
                // model state was reset on entering idle).
                self.featurizer.excitation.reseed(self.seed);
                self.idle = Idle::default();
                leaving_idle = true;
            }
            if unheard {
                self.featurizer.end_unheard_frame();
                continue;
            }
            let f = self.featurizer.end_frame();
            self.roll[j * ROLL_DIM..(j + 1) * ROLL_DIM].copy_from_slice(f.roll);
            layout::put_frame(&mut self.source, k, j, f.source);
            sounding |= self.featurizer.excitation.voices() > 0;
        }
        let (x, y) = self.timbre;
        let timbre = self.plane.to_embedding(x, y);

        #[cfg(feature = "fault-injection")]
        if self.shared.faults.panics.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok() {
            panic!("injected fault");
        }
        let mut silent = self.idle.idle;
        if silent {
            self.idle.silent_groups = self.idle.silent_groups.saturating_add(1);
            self.audio.clear();
            self.audio.resize(n, 0.0);
            self.shared.counters.idle_frames.fetch_add(k as u64, Ordering::Relaxed);
        } else {
            silent = !self.run_models(timbre, n);
            self.idle.quiet_frames = if sounding { 0 } else { self.idle.quiet_frames.saturating_add(k as u32) };
            // The peak is only looked at once no voice runs.
            let quiet = || self.idle.quiet_frames >= IDLE_TAIL_FRAMES || self.audio.iter().all(|s| s.abs() < SILENT_PEAK);
            if !sounding && quiet() {
                // The last frame fades to exact zero, so going idle never clicks.
                for (i, s) in self.audio.iter_mut().enumerate() {
                    *s *= 1.0 - (i + 1) as f32 / n as f32;
                }
                self.runner.reset();
                self.idle.idle = true;
            }
        }

        self.out.clear();
        for j in 0..k {
            // `audio` is all zeros when silent.
            if silent {
                self.resampler.process_silence(&mut self.out);
            } else {
                self.resampler.process(&self.audio[j * HOP..(j + 1) * HOP], &mut self.out);
            }
        }
        if silent {
            // Exact zeros, not the DC blocker's decay toward them.
            self.out.fill(0.0);
            self.output_stage.reset();
        } else {
            self.output_stage.process(&mut self.out);
        }
        self.shared.timeline.idle.store(self.idle.idle, Ordering::Relaxed);
        if leaving_idle {
            // What the audio side still had to play when the first group after idle
            // arrived: the time it was early by.
            let fresh = (self.samples.occupied_len() as u64).saturating_sub(self.shared.timeline.owed.load(Ordering::Relaxed));
            let lead_ns = fresh * 1_000_000_000 / self.host_rate as u64;
            let c = &self.shared.counters;
            if c.idle_exits.fetch_add(1, Ordering::Relaxed) == 0 {
                c.idle_exit_min_lead_ns.store(lead_ns, Ordering::Relaxed);
            } else {
                c.idle_exit_min_lead_ns.fetch_min(lead_ns, Ordering::Relaxed);
            }
        }
        self.unpushed = 0;
        self.flush();
        self.frames_done += k as u64;
    }
}

/// Sets flush-to-zero and denormals-are-zero for this thread. A decaying recurrent
/// state or a reverb-like tail in the vocoder can reach subnormal floats, which cost
/// x86 cores up to 100× per operation: a CPU spike exactly when notes fade out.
/// (The audio thread gets the same from nice-plug around `process()`.)
pub fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads and writes this thread's MXCSR only; FTZ (bit 15) and DAZ (bit 6)
    // change rounding of subnormals, nothing else.
    unsafe {
        let mut csr: u32 = 0;
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack));
        csr |= (1 << 15) | (1 << 6);
        std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn subnormals_are_flushed_on_the_inference_thread() {
        let tiny = std::hint::black_box(1e-39f32);
        assert!(tiny * std::hint::black_box(1.0f32) != 0.0, "a plain thread keeps subnormals");
        let flushed = std::thread::spawn(move || {
            super::flush_denormals();
            tiny * std::hint::black_box(1.0f32)
        })
        .join()
        .unwrap();
        assert_eq!(flushed, 0.0);
    }
}
