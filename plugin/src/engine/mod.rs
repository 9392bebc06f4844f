//! The streaming engine: the same path for the plugin, the standalone app and the
//! offline renderer.
//!
//! ```text
//! audio thread                         inference thread
//! ────────────                         ────────────────
//! push_event ──► event ring (SPSC) ──► featurizer → Mel2Mel → vocoder → resampler
//! process   ◄── sample ring (SPSC) ◄──────────────────────────────────────┘
//! ```

pub mod audio_side;
mod inference;
pub mod latency;
pub mod resample;
pub mod shared;

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use ringbuf::traits::{Producer, Split};
use ringbuf::HeapRb;

pub use audio_side::AudioSide;
pub use latency::Latency;
pub use shared::Stats;

use crate::contract::{ModelBytes, ModelError, TimbrePlane, SAMPLE_RATE};
use crate::features::{Featurizer, TimedEvent};
use crate::runtime::{ModelRunner, Provider, ProviderReport};
use shared::Shared;

/// Capacity of the event ring: a whole block of dense MIDI (all 128 keys on and off
/// many times over) fits.
pub const EVENT_CAPACITY: usize = 32_768;
pub const MIN_SAMPLE_RATE: u32 = 8_000;
pub const MAX_SAMPLE_RATE: u32 = 384_000;
pub const MAX_BLOCK: usize = 65_536;

#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Host sample rate in Hz.
    pub sample_rate: u32,
    /// Largest block the host will ask for.
    pub max_block: usize,
    /// Frames per model call. More frames amortise ONNX Runtime's per-call cost and
    /// add `(frames − 1)·HOP` samples of latency.
    pub frames_per_step: usize,
    pub provider: Provider,
    /// Seed of the excitation noise.
    pub seed: u64,
    /// Latency margin for inference compute and wake-up time, in milliseconds.
    pub margin_ms: f32,
}

impl EngineConfig {
    pub fn new(sample_rate: u32, max_block: usize) -> Self {
        Self { sample_rate, max_block, frames_per_step: 2, provider: Provider::Cpu, seed: 0, margin_ms: 5.0 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("sample rate {0} Hz is not supported (supported: {MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz)")]
    SampleRate(u32),
    #[error("block size {0} is not supported (supported: 1–{MAX_BLOCK})")]
    BlockSize(usize),
    #[error("frames per step must be 1–64, not {0}")]
    FramesPerStep(usize),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{0}")]
    Resampler(String),
    #[error("cannot start the inference thread: {0}")]
    Thread(String),
}

/// The non-real-time handle: owns the inference thread, reports latency and stats.
pub struct EngineHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    latency: Latency,
    provider: ProviderReport,
    sample_rate: u32,
    plane: TimbrePlane,
}

impl EngineHandle {
    pub fn latency(&self) -> Latency {
        self.latency
    }

    /// The execution provider in use, and why it differs from the one asked for.
    pub fn provider(&self) -> &ProviderReport {
        &self.provider
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn timbre_plane(&self) -> TimbrePlane {
        self.plane
    }

    /// The last error the inference thread reported, if any.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_timbre(&self, x: f32, y: f32) {
        self.shared.set_timbre(x, y);
    }

    /// Fault injection for reliability tests: while `stall` is set the inference
    /// thread stops rendering, as if descheduled or stuck in a slow model call.
    #[doc(hidden)]
    pub fn inject_stall(&self, stall: bool) {
        self.shared.fault_stall.store(stall, Ordering::Release);
    }

    /// Fault injection for reliability tests: the inference thread panics at its next step.
    #[doc(hidden)]
    pub fn inject_panic(&self) {
        self.shared.fault_panic.store(true, Ordering::Release);
    }

    /// A handle on the engine's counters that a UI thread can keep.
    pub fn monitor(&self) -> Monitor {
        Monitor { shared: self.shared.clone() }
    }
}

/// Read-only access to a running engine's counters, for the editor.
#[derive(Clone)]
pub struct Monitor {
    shared: Arc<Shared>,
}

impl Monitor {
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Loads `model` on a new background thread (creating ONNX Runtime sessions can
    /// take long for a big model) while the current model keeps playing; the inference
    /// thread swaps it in at its next group of frames. The thread's result is the
    /// provider report, or why the model could not be loaded (the old one then simply
    /// goes on playing).
    pub fn load_model(&self, model: ModelBytes, provider: Provider) -> std::thread::JoinHandle<Result<String, String>> {
        let shared = self.shared.clone();
        std::thread::spawn(move || {
            let runner = ModelRunner::new(&model, provider).map_err(|e| e.to_string())?;
            let report = runner.provider.to_string();
            let plane = TimbrePlane::new(&model.manifest.instruments);
            *shared.pending_model.lock().unwrap_or_else(|p| p.into_inner()) = Some((runner, plane, model.origin.clone()));
            Ok(report)
        })
    }

    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Loads the model, computes the latency, pre-fills the output ring and starts the
/// inference thread.
pub fn start(model: &ModelBytes, config: &EngineConfig) -> Result<(AudioSide, EngineHandle), EngineError> {
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&config.sample_rate) {
        return Err(EngineError::SampleRate(config.sample_rate));
    }
    if config.max_block == 0 || config.max_block > MAX_BLOCK {
        return Err(EngineError::BlockSize(config.max_block));
    }
    if config.frames_per_step == 0 || config.frames_per_step > 64 {
        return Err(EngineError::FramesPerStep(config.frames_per_step));
    }
    let runner = ModelRunner::new(model, config.provider)?;
    let provider = runner.provider.clone();
    let margin = (config.margin_ms.max(0.0) * 1e-3 * config.sample_rate as f32).ceil() as usize;
    let latency = latency::compute(config.sample_rate, config.max_block, config.frames_per_step, margin).map_err(EngineError::Resampler)?;
    let resampler = resample::StreamResampler::new(config.sample_rate).map_err(EngineError::Resampler)?;

    let capacity = latency.prefill + 2 * config.max_block + 2 * config.frames_per_step * resampler.max_output() + 1024;
    let (mut sample_prod, sample_cons) = HeapRb::<f32>::new(capacity).split();
    let zeros = vec![0.0; latency.prefill];
    sample_prod.push_slice(&zeros);
    let (event_prod, event_cons) = HeapRb::<TimedEvent>::new(EVENT_CAPACITY).split();

    let plane = TimbrePlane::new(&model.manifest.instruments);
    let shared = Arc::new(Shared::default());
    // Start at the first instrument's point.
    let (x0, y0) = plane.to_pad(&model.manifest.instruments[0].point);
    shared.set_timbre(x0, y0);

    let ratio = config.sample_rate as f64 / SAMPLE_RATE as f64;
    let inference = inference::Inference {
        runner,
        featurizer: Featurizer::new(config.seed),
        resampler,
        plane,
        events: event_cons,
        samples: sample_prod,
        shared: shared.clone(),
        host_rate: config.sample_rate,
        frames_per_step: config.frames_per_step,
        pending: VecDeque::with_capacity(EVENT_CAPACITY),
        frames_done: 0,
        roll: Vec::new(),
        source: Vec::new(),
        audio: Vec::new(),
        out: Vec::with_capacity((config.frames_per_step as f64 * 128.0 * ratio) as usize + 64),
    };
    let thread_shared = shared.clone();
    let thread = std::thread::Builder::new()
        .name("melwave-inference".into())
        .spawn(move || {
            // Whatever happens in there, the audio side must learn that nobody is
            // producing any more: it then plays silence and offline waits end.
            struct Exit(Arc<Shared>);
            impl Drop for Exit {
                fn drop(&mut self) {
                    self.0.stop.store(true, Ordering::Relaxed);
                }
            }
            let _exit = Exit(thread_shared);
            inference.run();
        })
        .map_err(|e| EngineError::Thread(e.to_string()))?;
    let audio = AudioSide {
        events: event_prod,
        samples: sample_cons,
        shared: shared.clone(),
        inference: thread.thread().clone(),
        clock: 0,
        fade_in: 0,
        last: 0.0,
    };
    let handle = EngineHandle { shared, thread: Some(thread), latency, provider, sample_rate: config.sample_rate, plane };
    Ok((audio, handle))
}
