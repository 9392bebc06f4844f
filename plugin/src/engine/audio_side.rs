//! The half of the engine that lives on the host's audio thread. It only moves
//! events in and samples out through lock-free SPSC rings and atomics: no
//! allocation, no lock, no syscall, and every loop is bounded by the block length.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer, Producer};
use ringbuf::{HeapCons, HeapProd};

use super::cue::{Cue, TimedCue};
use super::shared::Shared;
use crate::contract::HOP;
use crate::features::Event;

/// Samples over which audio fades out at an underrun and back in afterwards, so that
/// a stall is a short dip rather than a click.
pub const FADE: usize = 64;

/// The ceiling on what reaches the host. The models' output is far below it (the
/// training data peaks near −10 dBFS); a finite but runaway output is cut here, so
/// it can never reach the speakers at full scale plus.
pub const CEILING: f32 = 1.0;

/// How far underruns may grow the latency in all, in seconds: a slow or busy machine
/// gets the latency it can play without dropouts, but a wedged one does not drift
/// the stream out of time without end (past this, underruns are made up for by
/// dropping the late samples, as before).
pub const GROWTH_LIMIT_SECONDS: f64 = 0.020;

/// Headroom added on top of an underrun's shortfall when the latency grows, in
/// seconds: without it, the next step a little later than the last would underrun
/// again.
pub const GROWTH_HEADROOM_SECONDS: f64 = 0.001;

/// How long an offline bounce waits for the inference thread, by default, before it
/// gives up on a block. A model step takes milliseconds; an inference thread that
/// takes this long is stuck, and the bounce must end rather than hang the host.
pub const OFFLINE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

pub struct AudioSide {
    pub(super) events: HeapProd<TimedCue>,
    pub(super) samples: HeapCons<f32>,
    pub(super) shared: Arc<Shared>,
    pub(super) inference: std::thread::Thread,
    /// Host samples processed so far.
    pub(super) clock: u64,
    /// Samples left in the fade-in after an underrun.
    pub(super) fade_in: usize,
    /// The last sample handed to the host, for a fade-out that starts from it when an
    /// underrun begins right at a block boundary.
    pub(super) last: f32,
    /// Samples the host went without in underruns and that have not yet been
    /// dropped from the ring when they arrived late. Only this side touches it, so
    /// there is no window in which a late group can slip in uncounted.
    pub(super) debt: u64,
    /// Samples the latency may still grow by ([`GROWTH_LIMIT_SECONDS`]; 0 offline,
    /// where nothing underruns).
    pub(super) growth_left: u64,
    /// [`GROWTH_HEADROOM_SECONDS`] in host samples.
    pub(super) headroom: u64,
    /// Samples of silence still to play before the ring's audio: the headroom of the
    /// last growth.
    pub(super) hold: u64,
    /// How much the latency has grown since the engine started, in host samples.
    pub(super) grown: u64,
    /// The last block underran: the stall it belongs to already got its headroom.
    pub(super) underrunning: bool,
    /// How long an offline wait may take ([`OFFLINE_PATIENCE`] unless configured).
    pub(super) patience: std::time::Duration,
    /// Whether an offline wait may still take `patience`: lost after one wait gave
    /// up, regained once the inference thread catches up again.
    pub(super) patient: bool,
    /// While the engine is idle with a note waiting, the host sample up to which the
    /// output is silence whatever the inference thread does: the note cannot sound
    /// before it. A block short of samples that ends by then is an idle underrun;
    /// one past it may be short of the note itself, and counts in full. `u64::MAX`
    /// with no note waiting.
    pub(super) quiet_until: u64,
    /// The earliest a note sounds after its event: the prefill less one frame (its
    /// event is quantised to its frame's start), in host samples.
    pub(super) quiet_lead: u64,
    /// The host's rate and the frames the inference thread renders at a time: which
    /// group of frames a host sample falls in.
    pub(super) host_rate: u32,
    pub(super) frames_per_step: u64,
    /// Events pushed (as counted in `Timeline::events_pushed`), and the time of the
    /// last one.
    pub(super) events_pushed: u64,
    pub(super) last_event_at: u64,
}

impl AudioSide {
    /// Queues an event at `offset` samples into the block about to be processed.
    /// Returns false (and counts it) if the event ring is full.
    pub fn push_event(&mut self, offset: usize, event: Event) -> bool {
        self.push(offset, Cue::Event(event))
    }

    /// Moves the pad (0..1 on each axis) at `offset` samples into the block about to
    /// be processed. Returns false (and counts it) if the event ring is full.
    pub fn set_timbre(&mut self, offset: usize, x: f32, y: f32) -> bool {
        self.push(offset, Cue::Timbre { x, y })
    }

    fn push(&mut self, offset: usize, cue: Cue) -> bool {
        let event = matches!(cue, Cue::Event(_));
        let time = self.clock + offset as u64;
        if self.events.try_push(TimedCue { time, cue }).is_err() {
            self.shared.counters.dropped_events.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if event {
            self.events_pushed += 1;
            self.shared.timeline.events_pushed.store(self.events_pushed, Ordering::Release);
            self.last_event_at = self.last_event_at.max(time);
            if self.shared.timeline.idle.load(Ordering::Relaxed) {
                self.quiet_until = self.quiet_until.min(time + self.quiet_lead);
            }
        }
        true
    }

    /// Whether a block short of samples now would be short of silence only: the
    /// engine is idle and no note it has been given can sound yet.
    fn silent_if_short(&mut self, len: usize) -> bool {
        let timeline = &self.shared.timeline;
        let idle = timeline.idle.load(Ordering::Acquire);
        // A note the inference thread has taken and rendered past without leaving
        // idle (a release, a controller) makes nothing sound: forget it.
        let group = |t: u64| super::latency::model_sample(t, self.host_rate) / (HOP as u64 * self.frames_per_step);
        let settled = timeline.events_taken.load(Ordering::Acquire) == self.events_pushed && group(timeline.caught_up.load(Ordering::Acquire)) > group(self.last_event_at);
        if !idle || settled {
            self.quiet_until = u64::MAX;
        }
        idle && self.last == 0.0 && self.clock + len as u64 <= self.quiet_until
    }

    /// Fills `out` with the next block of audio and advances the clock. Events for
    /// this block must have been pushed before the call.
    pub fn process(&mut self, out: &mut [f32]) {
        if self.debt > 0 {
            // Audio the host already went without arrived late: drop it rather than
            // play it late, so the stream stays in time.
            let stale = (self.debt as usize).min(self.samples.occupied_len());
            let dropped = self.samples.skip(stale);
            self.debt -= dropped as u64;
            self.shared.counters.stale_dropped.fetch_add(dropped as u64, Ordering::Relaxed);
        }
        // Growth headroom: silence first (we are inside an underrun's dip anyway), so
        // the ring's audio comes that much later from now on.
        let held = (self.hold as usize).min(out.len());
        out[..held].fill(0.0);
        self.hold -= held as u64;
        let got = held + self.samples.pop_slice(&mut out[held..]);
        for s in &mut out[held..got] {
            *s = if s.is_finite() { s.clamp(-CEILING, CEILING) } else { 0.0 };
        }
        if self.fade_in > 0 {
            for s in out[held..got].iter_mut() {
                if self.fade_in == 0 {
                    break;
                }
                *s *= 1.0 - self.fade_in as f32 / FADE as f32;
                self.fade_in -= 1;
            }
        }
        if got < out.len() {
            out[got..].fill(0.0);
            if got >= FADE {
                for (i, s) in out[got - FADE..got].iter_mut().enumerate() {
                    *s *= 1.0 - (i + 1) as f32 / FADE as f32;
                }
            } else {
                // Too few fresh samples to fade within: continue from the last sample
                // heard (from this block, or else the previous one) down to zero over
                // FADE samples, so the stall never starts with a step.
                let from = if got > 0 { out[got - 1] } else { self.last };
                let n = FADE.min(out.len() - got);
                for (i, s) in out[got..got + n].iter_mut().enumerate() {
                    *s = from * (1.0 - (i + 1) as f32 / FADE as f32);
                }
            }
            // The samples this block lacked arrive late. While the growth budget
            // lasts, the stream keeps them and plays that much later from now on, plus
            // some headroom: the latency grows to what this machine can hold, and the
            // plugin tells the host. Past the budget they are owed instead, and
            // dropped when they arrive, so the stream stays in time.
            let missing = (out.len() - got) as u64;
            // An idle engine's late samples are zeros: owing them costs nothing
            // audible, so a stall while idle does not grow the latency (many idle
            // instances on few cores stall often, and each would grow for nothing).
            let idle = self.silent_if_short(out.len());
            let absorbed = if idle { 0 } else { missing.min(self.growth_left) };
            // Headroom once per stall, not once per block of it.
            let headroom = if self.underrunning || idle { 0 } else { self.headroom.min(self.growth_left - absorbed) };
            let new_dropout = !self.underrunning && !idle;
            self.underrunning = true;
            self.growth_left -= absorbed + headroom;
            self.hold += headroom;
            self.grown += absorbed + headroom;
            self.shared.counters.latency_grown.store(self.grown, Ordering::Relaxed);
            self.debt += missing - absorbed;
            self.fade_in = FADE;
            if idle {
                // Silence late is silence: nothing was heard, so it is no dropout.
                self.shared.counters.idle_underruns.fetch_add(1, Ordering::Relaxed);
            } else {
                self.shared.counters.underruns.fetch_add(1, Ordering::Relaxed);
                if new_dropout {
                    self.shared.counters.dropouts.fetch_add(1, Ordering::Relaxed);
                }
                self.shared.counters.underrun_samples.fetch_add(missing, Ordering::Relaxed);
                self.shared.counters.last_underrun_at.store(self.clock + out.len() as u64, Ordering::Relaxed);
            }
        } else {
            self.underrunning = false;
        }
        self.last = out.last().copied().unwrap_or(self.last);
        self.shared.timeline.owed.store(self.debt, Ordering::Relaxed);
        self.clock += out.len() as u64;
        self.shared.timeline.clock.store(self.clock, Ordering::Release);
    }

    /// Whether the engine is idle (no voice, tails rung out): what comes out is exact
    /// silence, so a host may stop calling until the next event.
    pub fn idle(&self) -> bool {
        self.shared.timeline.idle.load(Ordering::Relaxed) && self.debt == 0 && self.hold == 0
    }

    /// How many host samples underruns have added to the latency since the start
    /// (at most [`GROWTH_LIMIT_SECONDS`]); the host is to be told.
    pub fn latency_grown(&self) -> u64 {
        self.grown
    }

    /// Asks the inference thread to reset its model state and, if it had failed (a
    /// panic), to resume. One atomic store: safe on the audio thread (plugin `reset()`).
    pub fn request_restart(&self) {
        self.shared.control.restart.store(true, Ordering::Release);
    }

    /// Offline rendering only: blocks until the inference thread has rendered all it
    /// can for the events so far, or the ring already holds `block` samples. Never
    /// call this on a real-time thread. A stuck inference thread is waited for at
    /// most the configured patience, once: the bounce then goes on in silence (counted in
    /// `offline_timeouts`, reported as an error) instead of hanging the host, and
    /// waits again in full once the thread has caught up. Returns whether the audio
    /// was ready.
    pub fn wait_for_inference(&mut self, block: usize) -> bool {
        let ready = |s: &Self| s.samples.occupied_len() >= block || s.shared.timeline.caught_up.load(Ordering::Acquire) >= s.clock;
        if ready(self) {
            self.patient = true;
            return true;
        }
        if !self.patient {
            return false;
        }
        let deadline = std::time::Instant::now() + self.patience;
        let mut spins = 0u32;
        while !ready(self) {
            if self.shared.control.stop.load(Ordering::Relaxed) {
                return false;
            }
            if std::time::Instant::now() >= deadline {
                self.patient = false;
                self.shared.counters.offline_timeouts.fetch_add(1, Ordering::Relaxed);
                self.shared.messages.report_error(format!("the inference thread did not answer within {:.1} s; the bounce goes on in silence", self.patience.as_secs_f64()));
                return false;
            }
            self.inference.unpark();
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
        true
    }
}
