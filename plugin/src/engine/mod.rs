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
pub mod calibrate;
pub mod cue;
mod idle_watch;
mod inference;
pub mod latency;
pub mod priority;
pub mod resample;
pub mod safety;
pub mod shared;

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use ringbuf::traits::{Producer, Split};
use ringbuf::HeapRb;

pub use audio_side::AudioSide;
pub use cue::{Cue, TimedCue};
pub use inference::{IDLE_TAIL_SECONDS, RUNAWAY};
pub use latency::{Latency, LatencyMode};
pub use shared::Stats;

use crate::contract::{ModelBytes, ModelError, TimbrePlane, HOP, SAMPLE_RATE};
use crate::features::Featurizer;
use crate::runtime::{ModelRunner, Provider, ProviderReport};
use crate::sync::LockExt;
use shared::{PendingModel, Shared};

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
    /// Latency margin for inference compute and wake-up time.
    pub margin: Margin,
    /// Whether the latency may count on a steady block grid (see [`LatencyMode`]).
    pub latency_mode: LatencyMode,
    /// How long an offline wait gives a stuck inference thread before the bounce
    /// goes on in silence.
    pub offline_patience: std::time::Duration,
    /// Ask the OS for real-time priority for the inference thread (live playing; a
    /// bounce or a test has no deadline to keep).
    pub realtime_priority: bool,
    /// What underruns grew an earlier engine's latency by (the plugin keeps it across
    /// the host's restarts of processing): added to a calibrated margin and taken from
    /// its growth allowance, so the latency the host applies at the restart is the one
    /// this machine was found to need, not the calibration's guess again.
    pub carried_growth: std::time::Duration,
}

/// How much latency the inference thread gets beyond the exact minimum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Margin {
    /// Measured at start on this machine (see [`calibrate`]): real-time playing.
    Calibrated,
    /// A fixed margin in milliseconds. An offline bounce, which waits for inference,
    /// needs none, and its latency then never depends on the machine.
    Fixed(f32),
}

impl EngineConfig {
    pub fn new(sample_rate: u32, max_block: usize) -> Self {
        Self {
            sample_rate,
            max_block,
            frames_per_step: 1,
            provider: Provider::Cpu,
            seed: 0,
            margin: Margin::Calibrated,
            latency_mode: LatencyMode::Safe,
            offline_patience: audio_side::OFFLINE_PATIENCE,
            realtime_priority: false,
            carried_growth: std::time::Duration::ZERO,
        }
    }

    /// For rendering a file, where nobody waits for the sound: no margin, and four
    /// frames per model call, which amortises ONNX Runtime's per-call cost (the output
    /// is the same sample for sample: the streaming contract makes it independent of
    /// how frames are grouped).
    pub fn offline(sample_rate: u32, max_block: usize) -> Self {
        Self { frames_per_step: 4, margin: Margin::Fixed(0.0), ..Self::new(sample_rate, max_block) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("sample rate {0} Hz is not supported (supported: {MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz)")]
    SampleRate(u32),
    #[error("block size {0} is not supported (supported: 1–{MAX_BLOCK})")]
    BlockSize(usize),
    #[error("a render of {0} samples is longer than this machine can address")]
    RenderLength(usize),
    #[error("frames per step must be 1–64, not {0}")]
    FramesPerStep(usize),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{0}")]
    Resampler(String),
    #[error("cannot start the inference thread: {0}")]
    Thread(String),
}

/// Why [`Monitor::load_model`] did not swap a model in.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The model was refused; the old one goes on playing.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The model loaded, but the engine stopped (the host restarted the plugin)
    /// before it could be swapped in: the next engine can start with it.
    #[error("the engine stopped before the new model could be swapped in")]
    EngineStopped,
}

/// The non-real-time handle: owns the inference thread, reports latency and stats.
pub struct EngineHandle {
    monitor: Monitor,
    thread: Option<JoinHandle<()>>,
    latency: Latency,
    provider: ProviderReport,
    calibration: Option<calibrate::Calibration>,
    priority: priority::Priority,
}

impl EngineHandle {
    pub fn latency(&self) -> Latency {
        self.latency
    }

    /// How the latency margin was measured, when it was ([`Margin::Calibrated`]).
    pub fn calibration(&self) -> Option<calibrate::Calibration> {
        self.calibration
    }

    /// The inference thread's scheduling: real-time if asked for and granted.
    pub fn priority(&self) -> &priority::Priority {
        &self.priority
    }

    /// The execution provider in use, and why it differs from the one asked for.
    pub fn provider(&self) -> &ProviderReport {
        &self.provider
    }

    /// The engine's counters, messages and model loading, for any non-real-time thread.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Fault injection for reliability tests: while `stall` is set the inference
    /// thread stops rendering, as if descheduled or stuck in a slow model call.
    #[cfg(feature = "fault-injection")]
    pub fn inject_stall(&self, stall: bool) {
        self.monitor.shared.faults.stall.store(stall, Ordering::Release);
    }

    /// Fault injection for reliability tests: the inference thread panics at its next step.
    #[cfg(feature = "fault-injection")]
    pub fn inject_panic(&self) {
        self.inject_panics(1);
    }

    /// Fault injection for reliability tests: the next `n` steps panic.
    #[cfg(feature = "fault-injection")]
    pub fn inject_panics(&self, n: u64) {
        self.monitor.shared.faults.panics.store(n, Ordering::Release);
    }

    /// Fault injection for reliability tests: the inference thread panics in its next
    /// round, outside any step.
    #[cfg(feature = "fault-injection")]
    pub fn inject_panic_outside_step(&self) {
        self.monitor.shared.faults.panic_in_round.store(true, Ordering::Release);
    }

    /// Fault injection for reliability tests: the inference thread's next round hangs
    /// for `ms` milliseconds, deaf to a stop, as a model run that does not return.
    #[cfg(feature = "fault-injection")]
    pub fn inject_hang(&self, ms: u64) {
        self.monitor.shared.faults.hang_ms.store(ms, Ordering::Release);
    }
}

/// A running engine's counters and messages, and model loading, for the editor, the
/// log and the renderer. It can be cloned and kept; it never blocks the engine.
#[derive(Clone)]
pub struct Monitor {
    shared: Arc<Shared>,
}

impl Monitor {
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The last fault the inference thread reported, if any (cleared by a restart).
    pub fn last_error(&self) -> Option<String> {
        self.shared.messages.last_error()
    }

    /// The last ordinary message: which model is playing, a restart.
    pub fn last_notice(&self) -> Option<String> {
        self.shared.messages.last_notice()
    }

    /// Asks the inference thread to reset its model state and, after a panic, to
    /// resume: the editor's way out of a failed state without a host reset.
    pub fn request_restart(&self) {
        self.shared.control.restart.store(true, Ordering::Release);
    }

    /// Plays silence instead of the current model until a model loaded with
    /// [`Self::load_model`] is swapped in, or [`Self::release_hold`].
    pub fn hold_for_model(&self) {
        self.shared.control.hold_for_model.store(true, Ordering::Release);
    }

    /// Lets the current model play again (the awaited model failed or is slow).
    pub fn release_hold(&self) {
        self.shared.control.hold_for_model.store(false, Ordering::Release);
    }

    /// Loads `model` on a new background thread (creating ONNX Runtime sessions can
    /// take long for a big model) while the current model keeps playing; the inference
    /// thread swaps it in at its next group of frames and hands the old one back to
    /// this thread, which tears it down. The thread's result is the provider report,
    /// or why the model could not be loaded (the old one then simply goes on playing),
    /// or that the engine stopped before the swap (the new model is then dropped here).
    pub fn load_model(&self, model: ModelBytes, provider: Provider) -> std::thread::JoinHandle<Result<String, LoadError>> {
        let shared = self.shared.clone();
        std::thread::spawn(move || {
            let runner = ModelRunner::new(&model, provider)?;
            let report = runner.provider.to_string();
            let plane = TimbrePlane::new(&model.manifest.instruments);
            let (retired, old) = std::sync::mpsc::channel();
            *shared.pending_model.locked() = Some(PendingModel { runner, plane, origin: model.origin.clone(), retired });
            // The old sessions arrive once swapped out. The sender lives in `shared`,
            // which this thread holds too, so a stopped engine never closes the
            // channel: the wait also ends when the inference thread has exited.
            loop {
                match old.recv_timeout(LOADER_POLL) {
                    Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(report),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                }
                if shared.control.exited.load(Ordering::Acquire) {
                    let unused = shared.pending_model.locked().take();
                    // Taken by the inference thread just before it stopped: swapped.
                    if unused.is_none() {
                        return Ok(report);
                    }
                    return Err(LoadError::EngineStopped);
                }
            }
        })
    }
}

/// How often a model loader checks whether the engine it waits for has stopped.
const LOADER_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// How long dropping an engine waits for its inference thread to finish. A thread
/// stuck in a model run past this is left to end on its own, so that the host's
/// thread (deactivating, closing a project) never hangs on it.
pub const JOIN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.monitor.shared.control.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let start = std::time::Instant::now();
            while !self.monitor.shared.control.exited.load(Ordering::Acquire) && start.elapsed() < JOIN_PATIENCE {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            if self.monitor.shared.control.exited.load(Ordering::Acquire) {
                let _ = t.join();
            }
            // Otherwise the handle is dropped: the thread is detached and ends, with
            // its sessions, when its model run returns and it sees `stop`.
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
    let turn = calibrate::one_at_a_time();
    let mut runner = ModelRunner::new(model, config.provider)?;
    let provider = runner.provider.clone();
    let growth_limit = (audio_side::GROWTH_LIMIT_SECONDS * config.sample_rate as f64) as u64;
    let carried = ((config.carried_growth.as_secs_f64() * config.sample_rate as f64).ceil() as u64).min(growth_limit);
    let (margin, calibration) = match config.margin {
        Margin::Fixed(ms) => ((ms.max(0.0) * 1e-3 * config.sample_rate as f32).ceil() as usize, None),
        Margin::Calibrated => {
            let c =
                calibrate::calibrate(&mut runner, config.frames_per_step).map_err(|e| EngineError::Model(ModelError::Runtime(format!("the model failed while timing it: {e}"))))?;
            (c.margin_samples(config.sample_rate) + carried as usize, Some(c))
        }
    };
    drop(turn);
    let latency = latency::compute(config.sample_rate, config.max_block, config.frames_per_step, margin, config.latency_mode).map_err(EngineError::Resampler)?;
    let resampler = resample::StreamResampler::new(config.sample_rate).map_err(EngineError::Resampler)?;

    // Room for a second of catch-up besides: after a stall the inference thread pushes
    // everything it renders at once and the audio side drops the stale part in one
    // skip. With a ring that only just held the prefill, the two took turns (the audio
    // side dropping all it saw, then underrunning again on what the producer still
    // held), and a long stall could keep the stream late.
    let capacity = latency.prefill + 2 * config.max_block + 2 * config.frames_per_step * resampler.max_output() + 1024 + config.sample_rate as usize;
    let (mut sample_prod, sample_cons) = HeapRb::<f32>::new(capacity).split();
    let zeros = vec![0.0; latency.prefill];
    sample_prod.push_slice(&zeros);
    let (event_prod, event_cons) = HeapRb::<TimedCue>::new(EVENT_CAPACITY).split();

    let plane = TimbrePlane::new(&model.manifest.instruments);
    let shared = Arc::new(Shared::default());
    // The engine starts idle (below), and says so from the start: the idle watch
    // looks in on idle engines only, and the first note may come in the first block.
    shared.timeline.idle.store(true, Ordering::Relaxed);
    // Until the first timbre cue: the first instrument's point.
    let timbre = plane.to_pad(&model.manifest.instruments[0].point);

    let ratio = config.sample_rate as f64 / SAMPLE_RATE as f64;
    let mut inference = inference::Inference {
        runner,
        featurizer: Featurizer::new(config.seed),
        seed: config.seed,
        timbre,
        // A fresh engine is in its silent state: it starts idle, so nothing runs and
        // exact zeros come out until the first note (16 idle instances started
        // otherwise ran 10 model steps each and let out noise up to −83 dBFS).
        idle: inference::Idle { idle: true, ..Default::default() },
        resampler,
        output_stage: safety::OutputStage::new(config.sample_rate),
        plane,
        events: event_cons,
        samples: sample_prod,
        shared: shared.clone(),
        host_rate: config.sample_rate,
        frames_per_step: config.frames_per_step,
        stall_limit: (margin > 0).then(|| std::time::Duration::from_secs_f64(margin as f64 / config.sample_rate as f64).saturating_sub(inference::POLL)),
        watch: None,
        events_taken: 0,
        scheduling: inference::Scheduling::Normal,
        pending: VecDeque::with_capacity(EVENT_CAPACITY),
        frames_done: 0,
        roll: Vec::new(),
        source: Vec::new(),
        audio: Vec::new(),
        unpushed: 0,
        out: Vec::with_capacity((config.frames_per_step as f64 * 128.0 * ratio) as usize + 64),
    };
    let thread_shared = shared.clone();
    let (priority_tx, priority_rx) = std::sync::mpsc::channel();
    let realtime = config.realtime_priority;
    let idle_poll = calibration.map_or(inference::POLL, |c| c.idle_poll());
    let thread = std::thread::Builder::new()
        .name("melwave-inference".into())
        .spawn(move || {
            let granted = if realtime { priority::promote(priority::REALTIME_PRIORITY) } else { priority::Priority::NotAsked };
            if matches!(granted, priority::Priority::RealTime(_)) {
                inference.scheduling = inference::Scheduling::RealTime { relaxed: false };
            }
            // A real-time engine idles under the process's watch; offline, the
            // audio side's waits wake the thread themselves.
            if realtime {
                inference.watch = idle_watch::register(&inference.shared, std::thread::current(), idle_poll);
            }
            let _ = priority_tx.send(granted);
            // Whatever happens in there, the audio side must learn that nobody is
            // producing any more: it then plays silence and offline waits end.
            struct Exit(Arc<Shared>);
            impl Drop for Exit {
                fn drop(&mut self) {
                    self.0.control.stop.store(true, Ordering::Relaxed);
                    self.0.control.exited.store(true, Ordering::Release);
                }
            }
            let _exit = Exit(thread_shared);
            // `run` consumes the sessions: they are gone before `exited` is set.
            inference.run();
        })
        .map_err(|e| EngineError::Thread(e.to_string()))?;
    // One frame in host samples, rounded up.
    let frame_host = (HOP as u64 * config.sample_rate as u64).div_ceil(SAMPLE_RATE as u64);
    let audio = AudioSide {
        events: event_prod,
        samples: sample_cons,
        shared: shared.clone(),
        inference: thread.thread().clone(),
        clock: 0,
        fade_in: 0,
        last: 0.0,
        debt: 0,
        // Offline nothing underruns; a fixed margin (tests) keeps its latency.
        growth_left: if matches!(config.margin, Margin::Calibrated) { growth_limit - carried } else { 0 },
        headroom: (audio_side::GROWTH_HEADROOM_SECONDS * config.sample_rate as f64).ceil() as u64,
        hold: 0,
        grown: 0,
        underrunning: false,
        patience: config.offline_patience,
        patient: true,
        quiet_until: u64::MAX,
        quiet_lead: (latency.prefill as u64).saturating_sub(frame_host),
        host_rate: config.sample_rate,
        frames_per_step: config.frames_per_step as u64,
        events_pushed: 0,
        last_event_at: 0,
    };
    let priority = priority_rx.recv().unwrap_or(priority::Priority::NotAsked);
    let handle = EngineHandle { monitor: Monitor { shared }, thread: Some(thread), latency, provider, calibration, priority };
    Ok((audio, handle))
}
