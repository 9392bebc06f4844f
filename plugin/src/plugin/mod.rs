//! The DAW plugins (CLAP + VST3, and the standalone app) on the streaming engine:
//! **Melwave**, the instrument played from MIDI, and **Melwave Audio**, the same
//! instrument as an effect that plays what its audio input sings or plays (through
//! `features::audio_in`). One bundle holds both. `process()` only talks to the
//! engine's lock-free audio side.

mod editor;
mod editor_layout;
pub mod front_panel;
pub mod host_events;
pub mod params;
pub mod status;

use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use nice_plug::prelude::*;

use crate::contract::ModelBytes;
use crate::engine::{self, AudioSide, EngineConfig, EngineHandle};
use crate::features::audio_in::AudioToNotes;
use crate::features::Event;
use crate::sync::LockExt;
use params::MelwaveParams;
use params::{GAIN_MAX_DB, GAIN_MIN_DB};
use status::Status;

struct Running {
    audio: AudioSide,
    /// Owns the inference thread: dropping it stops the engine.
    handle: EngineHandle,
    /// The latency growth (host samples) last reported to the host.
    reported_growth: u64,
    sample_rate: u32,
}

impl Running {
    /// What underruns grew this engine's latency by.
    fn growth(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.audio.latency_grown() as f64 / self.sample_rate as f64)
    }
}

/// The plugin; `AUDIO_IN` makes it Melwave Audio, the effect played from its input.
pub struct Melwave<const AUDIO_IN: bool = false> {
    params: Arc<MelwaveParams>,
    status: Arc<Status>,
    engine: Option<Running>,
    /// Mono engine output for one block, sized at activation.
    mono: Vec<f32>,
    was_playing: bool,
    /// MIDI channel state (bend ranges, MPE zones) across blocks.
    host_events: host_events::HostEvents,
    /// The editor's meter and keys, and the notes it plays.
    panel: Arc<front_panel::FrontPanel>,
    panel_writer: front_panel::PanelWriter,
    /// The pad as controllers move it (Timbre X, Y), each `None` until its
    /// controller first moves: until then that axis follows its parameter.
    controller_pad: [Option<Smoother<f32>>; 2],
    /// This block's controller moves of the pad: (sample, axis, value), in order.
    pad_moves: [(usize, usize, f32); 64],
    /// The host renders offline (a bounce): it may wait for us, and wants every sample.
    offline: bool,
    /// The pad position last sent to the engine.
    pad: (f32, f32),
    /// What underruns grew the latency by in this instance's earlier engines: the
    /// host applies a grown latency at its next restart of processing, which starts
    /// a new engine, so the new one keeps it (see `EngineConfig::carried_growth`).
    carried_growth: std::time::Duration,
    /// Melwave Audio's front end (built at activation for the host's rate), and its
    /// input mixed to mono, one engine block at a time.
    audio_in: Option<AudioToNotes>,
    input_mono: Vec<f32>,
}

/// How far Melwave Audio's notes trail its input, in host samples (0 for Melwave).
/// A free function, so `process()` can ask while it holds the engine borrowed.
fn input_latency(audio_in: &Option<AudioToNotes>) -> usize {
    audio_in.as_ref().map_or(0, AudioToNotes::latency)
}

/// Samples between two timbre cues while the pad moves: finer than a model frame
/// at any host rate up to 192 kHz.
const TIMBRE_CUE: usize = 64;

/// Melwave Audio: sing, whistle or play into it, hear an instrument of the pad.
pub type MelwaveAudio = Melwave<true>;

impl<const AUDIO_IN: bool> Default for Melwave<AUDIO_IN> {
    fn default() -> Self {
        let (panel, panel_writer) = front_panel::FrontPanel::new();
        Self {
            panel,
            panel_writer,
            params: Arc::new(MelwaveParams::new(AUDIO_IN)),
            status: Arc::new(Status::default()),
            engine: None,
            mono: Vec::new(),
            was_playing: false,
            host_events: host_events::HostEvents::default(),
            controller_pad: [None, None],
            pad_moves: [(0, 0, 0.0); 64],
            offline: false,
            pad: (f32::NAN, f32::NAN),
            carried_growth: std::time::Duration::ZERO,
            audio_in: None,
            input_mono: Vec::new(),
        }
    }
}

impl<const AUDIO_IN: bool> Melwave<AUDIO_IN> {
    /// Stops the engine, keeping what underruns taught it about this machine.
    fn retire_engine(&mut self) {
        if let Some(e) = self.engine.take() {
            let limit = std::time::Duration::from_secs_f64(engine::audio_side::GROWTH_LIMIT_SECONDS);
            if !self.offline {
                self.carried_growth = (self.carried_growth + e.growth()).min(limit);
            }
            // One line per session in the log (NICE_LOG picks where): what a user
            // reporting a glitch, and the soak test, need to know.
            nice_log!("Melwave engine stats: {}", e.handle.monitor().stats());
        }
    }

    /// The model the user chose, or the embedded one if there is none or it fails to
    /// load (with the reason kept for the editor and the log).
    fn model(&self) -> (ModelBytes, Option<String>) {
        let chosen = self.params.model_dir.locked().clone();
        let embedded = || ModelBytes::embedded().expect("the embedded model is validated by the test suite");
        match chosen {
            None => (embedded(), None),
            Some(dir) => match ModelBytes::from_dir(std::path::Path::new(&dir)) {
                Ok(m) => (m, None),
                Err(e) => (embedded(), Some(format!("{e}; playing the default model instead"))),
            },
        }
    }
}

/// How long an instance stays silent for a chosen model that is still loading before
/// it plays the embedded one meanwhile (the swap still happens when the load ends).
pub const LOAD_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the chosen model folder and builds its sessions on a background thread, the
/// engine held silent meanwhile; swaps it in when ready. A folder that fails (missing,
/// not regular files, too large, refused by ONNX Runtime) releases the hold: the
/// embedded model plays, the editor says why, and the folder stays saved in the
/// project. A load slower than [`LOAD_PATIENCE`] is reported and the embedded model
/// plays until it is ready.
fn load_chosen_model(dir: String, provider: crate::runtime::Provider, monitor: engine::Monitor, status: Arc<Status>) {
    monitor.hold_for_model();
    status.update(|s| s.problem = Some(format!("loading {dir}…")));
    let (held, reporter) = (monitor.clone(), status.clone());
    let spawned = std::thread::Builder::new().name("melwave-model-load".into()).spawn(move || {
        let started = std::time::Instant::now();
        let model = match ModelBytes::from_dir(std::path::Path::new(&dir)) {
            Ok(m) => m,
            Err(e) => return play_default_instead(&monitor, &status, &e.to_string()),
        };
        let marks = status::instrument_marks(&model);
        let origin = model.origin.clone();
        let loader = monitor.load_model(model, provider);
        let mut reported_slow = false;
        while !loader.is_finished() {
            if !reported_slow && started.elapsed() > LOAD_PATIENCE {
                reported_slow = true;
                monitor.release_hold();
                status.update(|s| s.problem = Some(format!("{dir} is still loading after {} s; the default model plays until it is ready", LOAD_PATIENCE.as_secs())));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        match loader.join() {
            Ok(Ok(_)) => {
                nice_log!("Melwave: playing {origin}");
                status.update(|s| {
                    s.model = origin;
                    s.instruments = marks;
                    s.problem = None;
                });
            }
            // The engine stopped first: the next activation loads the folder again.
            Ok(Err(engine::LoadError::EngineStopped)) => {}
            Ok(Err(e)) => play_default_instead(&monitor, &status, &e.to_string()),
            Err(_) => play_default_instead(&monitor, &status, "the model loader crashed"),
        }
    });
    if spawned.is_err() {
        // No thread to load it on: the default model plays, and the folder stays saved.
        play_default_instead(&held, &reporter, "cannot start a thread to load the chosen model");
    }
}

/// The chosen model will not play: the engine's hold is released so the embedded model
/// plays, and the log and the editor say why (the folder stays saved in the project).
fn play_default_instead(monitor: &engine::Monitor, status: &Status, why: &str) {
    monitor.release_hold();
    nice_log!("Melwave: {why}; playing the default model instead");
    status.update(|s| s.problem = Some(format!("{why}; playing the default model instead")));
}

impl<const AUDIO_IN: bool> Plugin for Melwave<AUDIO_IN> {
    const NAME: &'static str = if AUDIO_IN { "Melwave Audio" } else { "Melwave" };
    const VENDOR: &'static str = "Melwave";
    const URL: &'static str = "https://melwave.invalid";
    const EMAIL: &'static str = "dev@melwave.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    // Melwave Audio takes stereo or mono in and replaces it with the instrument.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = if AUDIO_IN {
        &[
            AudioIOLayout { main_input_channels: NonZeroU32::new(2), main_output_channels: NonZeroU32::new(2), ..AudioIOLayout::const_default() },
            AudioIOLayout { main_input_channels: NonZeroU32::new(1), main_output_channels: NonZeroU32::new(1), ..AudioIOLayout::const_default() },
        ]
    } else {
        &[AudioIOLayout { main_input_channels: None, main_output_channels: NonZeroU32::new(2), ..AudioIOLayout::const_default() }]
    };
    const MIDI_INPUT: MidiConfig = MidiConfig::MidiCCs;
    // nice-plug splits the block at every parameter change, so a pad move is sent
    // from its own sample, not from the start of the block it arrived in.
    const SAMPLE_ACCURATE_AUTOMATION: bool = true;
    // A block of dense MIDI (chords, pedal, bend) per process call.
    const INPUT_EVENT_CAPACITY: usize = 8192;

    type Editor = nice_plug_egui::EguiEditor<editor::MelwaveEditor>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.params.clone(), self.status.clone(), self.panel.clone(), AUDIO_IN)
    }

    fn activate(&mut self, _layout: &AudioIOLayout, config: &BufferConfig, context: &mut impl ActivateContext<Self>) -> bool {
        // Stop the previous engine before starting the next: one inference thread at a time.
        self.retire_engine();
        self.offline = config.process_mode == ProcessMode::Offline;
        // Live, a chosen folder is read and its sessions built on a background thread
        // (`load_chosen_model`): the host's thread only starts the engine on the
        // embedded model, which is held silent until the chosen one is swapped in.
        // A bounce waits for inference anyway, and its output must not depend on when
        // a load finishes, so it loads here.
        let chosen = self.params.model_dir.locked().clone();
        let in_background = if self.offline { None } else { chosen };
        let (model, problem) = match in_background {
            Some(_) => (ModelBytes::embedded().expect("the embedded model is validated by the test suite"), None),
            None => self.model(),
        };
        // A host may announce blocks longer than the engine takes; process() plays any
        // block in pieces of at most the engine's size, so the engine gets that size.
        let max_block = (config.max_buffer_size as usize).clamp(1, engine::MAX_BLOCK);
        let mut cfg = EngineConfig::new(config.sample_rate.round() as u32, max_block);
        cfg.provider = *self.params.provider.locked();
        self.mono = vec![0.0; cfg.max_block];
        // A bounce waits for inference: it needs no margin, and its latency (hence
        // its output) is then the same on every machine.
        if self.offline {
            cfg.margin = engine::Margin::Fixed(0.0);
        } else {
            cfg.realtime_priority = true;
            cfg.carried_growth = self.carried_growth;
            cfg.latency_mode = *self.params.latency_mode.locked();
        }
        if let Some(p) = &problem {
            nice_log!("Melwave: {p}");
        }
        let (model, problem, started) = match engine::start(&model, &cfg) {
            // A chosen folder whose graphs ONNX Runtime refuses: the default model plays
            // instead, the reason is shown, and the choice stays saved in the project.
            Err(e) if problem.is_none() && model.origin != ModelBytes::embedded().map(|m| m.origin).unwrap_or_default() => {
                let fallback = ModelBytes::embedded().expect("the embedded model is validated by the test suite");
                let why = format!("{e}; playing the default model instead");
                nice_log!("Melwave: {why}");
                let started = engine::start(&fallback, &cfg);
                (fallback, Some(why), started)
            }
            other => (model, problem, other),
        };
        match started {
            Ok((audio, handle)) => {
                // Melwave Audio's notes trail its input by the front end's decision
                // time: the host compensates that too.
                self.audio_in = AUDIO_IN.then(|| AudioToNotes::new(cfg.sample_rate, self.params.audio_in_settings()));
                self.input_mono = vec![0.0; if AUDIO_IN { cfg.max_block } else { 0 }];
                let latency = handle.latency().total() + input_latency(&self.audio_in);
                context.set_latency_samples(latency as u32);
                let timing = match handle.calibration() {
                    Some(c) if !cfg.carried_growth.is_zero() => format!(
                        "{} latency: {c}, plus {:.1} ms that underruns added before the host restarted processing; inference at {}",
                        cfg.latency_mode,
                        cfg.carried_growth.as_secs_f64() * 1e3,
                        handle.priority()
                    ),
                    Some(c) => format!("{} latency: {c}; inference at {}", cfg.latency_mode, handle.priority()),
                    None => "offline: no margin".into(),
                };
                nice_log!("Melwave: latency {:.1} ms at {} Hz, block {}: {timing}", latency as f32 * 1000.0 / config.sample_rate, cfg.sample_rate, cfg.max_block);
                let marks = status::instrument_marks(&model);
                let names: Vec<String> = marks.iter().map(|m| if m.added { format!("{} (added)", m.name) } else { m.name.clone() }).collect();
                nice_log!("Melwave: playing {}; the pad's instruments: {}", model.origin, names.join(", "));
                self.status.update(|s| {
                    s.model = model.origin.clone();
                    s.instruments = marks;
                    s.provider = handle.provider().to_string();
                    s.latency_ms = latency as f32 * 1000.0 / config.sample_rate;
                    s.sample_rate = config.sample_rate;
                    s.timing = timing;
                    s.problem = problem;
                    s.monitor = Some(handle.monitor().clone());
                });
                // A new engine starts at its first instrument: send the pad again.
                self.pad = (f32::NAN, f32::NAN);
                if let Some(dir) = in_background {
                    load_chosen_model(dir, cfg.provider, handle.monitor().clone(), self.status.clone());
                }
                self.engine = Some(Running { audio, handle, reported_growth: 0, sample_rate: cfg.sample_rate });
            }
            Err(e) => {
                // The plugin stays loaded and plays silence; the editor and log say why.
                nice_log!("Melwave cannot start: {e}");
                self.status.update(|s| {
                    s.problem = Some(format!("cannot start: {e}"));
                    s.monitor = None;
                });
            }
        }
        true
    }

    fn reset(&mut self) {
        if let Some(front) = self.audio_in.as_mut() {
            front.clear();
        }
        if let Some(e) = self.engine.as_mut() {
            e.audio.push_event(0, Event::AllSoundOff);
            e.audio.push_event(0, Event::ResetControllers);
            // Clears the model state and revives inference after a panic.
            e.audio.request_restart();
        }
    }

    fn deactivate(&mut self) {
        self.retire_engine();
    }

    fn process(&mut self, buffer: &mut Buffer<'_>, _aux: &mut AuxiliaryBuffers<'_>, context: &mut impl ProcessContext<Self>) -> ProcessStatus {
        let n = buffer.samples();
        let Some(engine) = self.engine.as_mut() else {
            for channel in buffer.as_slice() {
                channel.fill(0.0);
            }
            return ProcessStatus::Normal;
        };
        let playing = context.transport().playing;
        if self.was_playing && !playing {
            // Transport stop: release everything with its natural tail, lift the
            // pedal and centre the bend.
            engine.audio.push_event(0, Event::AllNotesOff);
            engine.audio.push_event(0, Event::ResetControllers);
        }
        self.was_playing = playing;
        let pad_ccs = self.params.pad_from_controllers.value().then(|| [params::PAD_CC_X, self.params.pad_cc_y.value().clamp(0, 127) as u8]);
        let rate = engine.sample_rate as f32;
        let mut moves = 0;
        // Melwave Audio: the input becomes notes, before it is replaced by the output.
        if let Some(front) = self.audio_in.as_mut() {
            front.set_settings(self.params.audio_in_settings());
            let inputs = buffer.as_slice_immutable();
            let scale = 1.0 / inputs.len().max(1) as f32;
            let mut start = 0;
            while start < n && !self.input_mono.is_empty() {
                let len = (n - start).min(self.input_mono.len());
                for (i, m) in self.input_mono[..len].iter_mut().enumerate() {
                    *m = inputs.iter().map(|c| c[start + i]).sum::<f32>() * scale;
                }
                let writer = &mut self.panel_writer;
                front.process(&self.input_mono[..len], |i, e| {
                    writer.saw(&e);
                    engine.audio.push_event(start + i, e);
                });
                start += len;
            }
        }
        let input_latency = input_latency(&self.audio_in);
        while let Some(event) = context.next_event() {
            if let (Some(ccs), NoteEvent::MidiCC { timing, cc, value, .. }) = (pad_ccs, &event) {
                // A controller that moves the pad, kept for its sample (a block with
                // more moves than there is room for keeps the latest).
                for (axis, _) in ccs.iter().enumerate().filter(|(_, c)| **c == *cc) {
                    let slot = moves.min(self.pad_moves.len() - 1);
                    self.pad_moves[slot] = ((*timing as usize).min(n.saturating_sub(1)), axis, if value.is_finite() { value.clamp(0.0, 1.0) } else { 0.5 });
                    moves = slot + 1;
                }
            }
            self.host_events.convert(&event, |timing, ev| {
                self.panel_writer.saw(&ev);
                engine.audio.push_event((timing as usize).min(n.saturating_sub(1)), ev);
            });
        }
        // Notes from the editor's keyboards, at the block's start.
        while let Some(e) = self.panel_writer.next_editor_note() {
            self.panel_writer.saw(&e);
            engine.audio.push_event(0, e);
        }
        if pad_ccs.is_none() {
            self.controller_pad = [None, None];
        }
        // The pad travels with the notes, stamped: a cue whenever the smoothed
        // position moved, at most one per TIMBRE_CUE samples. A damaged or
        // hand-edited project can carry any value: keep the pad on the plane and the
        // gain in its range, whatever the host sends.
        let on_pad = |v: f32| if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.5 };
        let mut next_move = 0;
        // A pad at rest (nothing gliding, no controller move in this block) is where
        // it is for the whole block: one look at its first sample says it all.
        let gliding = self.params.timbre_x.smoothed.is_smoothing()
            || self.params.timbre_y.smoothed.is_smoothing()
            || self.controller_pad.iter().flatten().any(Smoother::is_smoothing)
            || moves > 0;
        for i in 0..if gliding { n } else { n.min(1) } {
            // A controller's move lands on its sample, from where its axis is, and
            // glides as automation does.
            while next_move < moves && self.pad_moves[next_move].0 <= i {
                let (_, axis, target) = self.pad_moves[next_move];
                let param = if axis == 0 { &self.params.timbre_x } else { &self.params.timbre_y };
                let smoother = self.controller_pad[axis].get_or_insert_with(|| {
                    let s = Smoother::new(SmoothingStyle::Linear(params::PAD_SMOOTHING_MS));
                    s.reset(param.smoothed.previous_value());
                    s
                });
                smoother.set_target(rate, target);
                next_move += 1;
            }
            let (x, y) = (self.params.timbre_x.smoothed.next(), self.params.timbre_y.smoothed.next());
            let [cx, cy] = &self.controller_pad;
            let pad = (on_pad(cx.as_ref().map_or(x, |s| s.next())), on_pad(cy.as_ref().map_or(y, |s| s.next())));
            if pad != self.pad && (i % TIMBRE_CUE == 0 || i + 1 == n) {
                engine.audio.set_timbre(i, pad.0, pad.1);
                self.pad = pad;
            }
        }
        for (axis, shown) in self.params.controller_pad.iter().enumerate() {
            shown.store(self.controller_pad[axis].as_ref().map_or(f32::NAN, |_| if axis == 0 { self.pad.0 } else { self.pad.1 }), Ordering::Relaxed);
        }
        // A host may send a block longer than it announced: it is played in pieces
        // of the announced size, so that the engine's clock follows the host's.
        let mut start = 0;
        let channels = buffer.as_slice();
        while start < n {
            let len = (n - start).min(self.mono.len());
            let mono = &mut self.mono[..len];
            if self.offline {
                // Offline the host is not a real-time thread and expects every sample: wait for
                // inference as the offline renderer does, instead of underrunning.
                engine.audio.wait_for_inference(len);
            }
            engine.audio.process(mono);
            let to_gain = |db: f32| util::db_to_gain(if db.is_finite() { db.clamp(GAIN_MIN_DB, GAIN_MAX_DB) } else { 0.0 });
            // A gain at rest is one conversion per piece, not one per sample.
            let steady = (!self.params.gain.smoothed.is_smoothing()).then(|| to_gain(self.params.gain.smoothed.next()));
            for (i, &v) in mono.iter().enumerate() {
                let gain = steady.unwrap_or_else(|| to_gain(self.params.gain.smoothed.next()));
                for channel in channels.iter_mut() {
                    channel[start + i] = v * gain;
                }
            }
            start += len;
        }
        if let Some(first) = channels.first() {
            self.panel_writer.block_done(&first[..n], engine.sample_rate as f32);
        }
        // Underruns grew the latency: tell the host, which applies it at its next
        // restart of processing (CLAP and VST3 latency-changed). One atomic swap and
        // a queued task in nice-plug, no allocation.
        let grown = engine.audio.latency_grown();
        if grown != engine.reported_growth {
            engine.reported_growth = grown;
            context.set_latency_samples((engine.handle.latency().total() as u64 + grown + input_latency as u64) as u32);
        }
        // Idle, the output is exact zeros: the host may let the plugin sleep until
        // its next event. Otherwise the tail (releases, the models' ring-out) needs
        // process() calls even with no input.
        if engine.audio.idle() {
            ProcessStatus::Normal
        } else {
            ProcessStatus::KeepAlive
        }
    }
}

impl<const AUDIO_IN: bool> ClapPlugin for Melwave<AUDIO_IN> {
    const CLAP_ID: &'static str = if AUDIO_IN { "org.melwave.melwave-audio" } else { "org.melwave.melwave" };
    const CLAP_DESCRIPTION: Option<&'static str> = Some(if AUDIO_IN {
        "A neural instrument played from audio: a voice or a monophonic instrument in, any instrument of the XY timbre pad out"
    } else {
        "A real-time neural instrument: Mel2Mel and a streaming source-filter vocoder, with an XY timbre pad"
    });
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = if AUDIO_IN {
        &[ClapFeature::AudioEffect, ClapFeature::PitchShifter, ClapFeature::Stereo, ClapFeature::Mono]
    } else {
        &[ClapFeature::Instrument, ClapFeature::Synthesizer, ClapFeature::Stereo]
    };
}

impl<const AUDIO_IN: bool> Vst3Plugin for Melwave<AUDIO_IN> {
    const VST3_CLASS_ID: [u8; 16] = if AUDIO_IN { *b"MelwaveAudioInFx" } else { *b"MelwaveNeuralIns" };
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        if AUDIO_IN { &[Vst3SubCategory::Fx, Vst3SubCategory::PitchShift] } else { &[Vst3SubCategory::Instrument, Vst3SubCategory::Synth] };
}

nice_export_clap!(Melwave, MelwaveAudio);
nice_export_vst3!(Melwave, MelwaveAudio);
