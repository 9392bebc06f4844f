//! The inference thread: events → roll frames + excitation → Mel2Mel → vocoder →
//! resampler → output ring. It owns the ONNX Runtime sessions and all model state;
//! ONNX Runtime allocates inside every run, which is why none of this may happen on
//! the audio thread.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Producer};
use ringbuf::{HeapCons, HeapProd};

use super::latency::model_sample;
use super::resample::StreamResampler;
use super::shared::Shared;
use crate::contract::{TimbrePlane, HOP, ROLL_DIM, SOURCE_CHANNELS};
use crate::features::{Featurizer, TimedEvent};
use crate::runtime::ModelRunner;

/// How long the thread sleeps when it has nothing to do. The audio side never wakes
/// it (that would be a syscall on the audio thread), so this bounds the reaction time
/// and is part of the latency margin.
pub const POLL: Duration = Duration::from_micros(500);

pub(super) struct Inference {
    pub runner: ModelRunner,
    pub featurizer: Featurizer,
    pub resampler: StreamResampler,
    pub plane: TimbrePlane,
    pub events: HeapCons<TimedEvent>,
    pub samples: HeapProd<f32>,
    pub shared: Arc<Shared>,
    pub host_rate: u32,
    pub frames_per_step: usize,
    pub pending: VecDeque<TimedEvent>,
    pub frames_done: u64,
    pub roll: Vec<f32>,
    pub source: Vec<f32>,
    pub audio: Vec<f32>,
    pub out: Vec<f32>,
}

impl Inference {
    pub fn run(mut self) {
        flush_denormals();
        while !self.shared.stop.load(Ordering::Relaxed) {
            // Read the clock before draining: every event stamped before it is then
            // guaranteed to be in the ring.
            let known = self.shared.clock.load(Ordering::Acquire);
            while let Some(ev) = self.events.try_pop() {
                self.pending.push_back(ev);
            }
            self.take_pending_model();
            if self.shared.restart.swap(false, Ordering::AcqRel) {
                self.runner.reset();
                if self.shared.failed.swap(false, Ordering::AcqRel) {
                    self.report("inference restarted after a panic".into());
                }
            }
            while self.shared.fault_stall.load(Ordering::Acquire) && !self.shared.stop.load(Ordering::Relaxed) {
                std::thread::sleep(POLL);
            }
            let complete = model_sample(known, self.host_rate) / HOP as u64;
            let k = self.frames_per_step as u64;
            let target = complete - complete % k;
            while self.frames_done < target && !self.shared.stop.load(Ordering::Relaxed) {
                // A panic (a bug, or one inside ONNX Runtime's bindings) must not take
                // the host down or leave the stream without a producer: the thread
                // goes on rendering silence, in time, until the plugin is reset.
                if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step())) {
                    let msg = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default();
                    self.shared.panics.fetch_add(1, Ordering::Relaxed);
                    self.shared.failed.store(true, Ordering::Release);
                    self.report(format!("the inference thread panicked ({msg}); silent until the plugin is reset"));
                }
            }
            self.shared.caught_up.store(known, Ordering::Release);
            std::thread::park_timeout(POLL);
        }
    }

    fn frame_of(&self, ev: &TimedEvent) -> u64 {
        model_sample(ev.time, self.host_rate) / HOP as u64
    }

    /// Swaps in a model that finished loading in the background. The old one played
    /// until now; its sessions are dropped here, off the audio thread.
    fn take_pending_model(&mut self) {
        let Ok(mut slot) = self.shared.pending_model.try_lock() else { return };
        let Some((runner, plane, origin)) = slot.take() else { return };
        drop(slot);
        let old = std::mem::replace(&mut self.runner, runner);
        self.plane = plane;
        self.runner.reset();
        drop(old);
        self.shared.model_swaps.fetch_add(1, Ordering::Relaxed);
        self.report(format!("now playing {origin}"));
    }

    fn report(&self, message: String) {
        *self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
    }

    /// Renders one group of `frames_per_step` frames (silence while failed).
    fn step(&mut self) {
        let k = self.frames_per_step;
        let n = k * HOP;
        self.roll.resize(k * ROLL_DIM, 0.0);
        self.source.resize(SOURCE_CHANNELS * n, 0.0);
        for j in 0..k {
            let frame = self.frames_done + j as u64;
            while let Some(ev) = self.pending.front() {
                if self.frame_of(ev) > frame {
                    break;
                }
                let ev = self.pending.pop_front().expect("front exists");
                self.featurizer.apply(&ev.event);
            }
            let f = self.featurizer.end_frame();
            self.roll[j * ROLL_DIM..(j + 1) * ROLL_DIM].copy_from_slice(f.roll);
            for c in 0..SOURCE_CHANNELS {
                self.source[c * n + j * HOP..c * n + (j + 1) * HOP].copy_from_slice(&f.source[c * HOP..(c + 1) * HOP]);
            }
        }
        let (x, y) = self.shared.timbre();
        let timbre = self.plane.to_embedding(x, y);

        if self.shared.fault_panic.swap(false, Ordering::AcqRel) {
            panic!("injected fault");
        }
        let failed = self.shared.failed.load(Ordering::Acquire);
        let start = Instant::now();
        let result = if failed { Err(String::new()) } else { self.runner.step(&self.roll, &self.source, timbre, &mut self.audio) };
        let ns = start.elapsed().as_nanos() as u64;
        self.shared.busy_ns.fetch_add(ns, Ordering::Relaxed);
        self.shared.max_step_ns.fetch_max(ns, Ordering::Relaxed);
        self.shared.steps.fetch_add(1, Ordering::Relaxed);
        self.shared.frames.fetch_add(k as u64, Ordering::Relaxed);

        let ok = match result {
            Ok(()) if self.audio.len() == n && self.audio.iter().all(|s| s.is_finite()) => true,
            Ok(()) => {
                self.shared.nan_resets.fetch_add(1, Ordering::Relaxed);
                self.report("the model produced NaN/Inf: output silenced and state reset".into());
                false
            }
            Err(_) if failed => false,
            Err(e) => {
                self.shared.model_errors.fetch_add(1, Ordering::Relaxed);
                self.report(format!("model run failed: {e}"));
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

        self.out.clear();
        for j in 0..k {
            self.resampler.process(&self.audio[j * HOP..(j + 1) * HOP], &mut self.out);
        }
        // Audio the host already went without is stale: drop it rather than play it late.
        let owed = self.shared.debt.load(Ordering::Acquire);
        let skip = (owed as usize).min(self.out.len());
        if skip > 0 {
            self.shared.debt.fetch_sub(skip as u64, Ordering::AcqRel);
            self.shared.stale_dropped.fetch_add(skip as u64, Ordering::Relaxed);
        }
        let fresh = &self.out[skip..];
        let pushed = self.samples.push_slice(fresh);
        if pushed < fresh.len() {
            self.shared.overflow_samples.fetch_add((fresh.len() - pushed) as u64, Ordering::Relaxed);
        }
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
