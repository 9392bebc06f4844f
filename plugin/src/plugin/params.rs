//! The plugin's parameters and persisted state.

use std::sync::{Arc, Mutex};

pub const GAIN_MIN_DB: f32 = -36.0;
pub const GAIN_MAX_DB: f32 = 12.0;
/// The mod wheel, which moves Timbre X when controllers move the pad.
pub const PAD_CC_X: u8 = 1;
/// CC11 (expression), the default controller for Timbre Y.
pub const DEFAULT_PAD_CC_Y: i32 = 11;
/// The controllers' glide, as the timbre parameters' automation smoothing.
pub const PAD_SMOOTHING_MS: f32 = 30.0;

use nice_plug::prelude::*;
use nice_plug_egui::EguiEditorState;

use crate::engine::LatencyMode;
use crate::runtime::Provider;

#[derive(Params)]
pub struct MelwaveParams {
    pub editor_state: Arc<EguiEditorState>,
    /// Pad X, 0..1 across the embedding plane's bounding box.
    #[id = "timbre_x"]
    pub timbre_x: FloatParam,
    /// Pad Y, 0..1 (1 at the top of the pad).
    #[id = "timbre_y"]
    pub timbre_y: FloatParam,
    /// Output gain.
    #[id = "gain"]
    pub gain: FloatParam,
    /// Whether controllers move the pad: the mod wheel (CC1) Timbre X, and
    /// [`MelwaveParams::pad_cc_y`] Timbre Y. Saved with the project; off by default.
    #[id = "pad_cc"]
    pub pad_from_controllers: BoolParam,
    /// The controller (CC number) that moves Timbre Y when controllers move the pad.
    #[id = "pad_cc_y"]
    pub pad_cc_y: IntParam,
    /// Melwave Audio: semitones added to every note it hears (hidden in Melwave).
    #[id = "audio_transpose"]
    pub audio_transpose: IntParam,
    /// Melwave Audio: how much the input's own loudness follows through, 0..1
    /// (hidden in Melwave).
    #[id = "audio_follow"]
    pub audio_follow: FloatParam,
    /// Where controllers have put the pad (NaN on an axis no controller has moved
    /// yet): the audio thread writes it for the editor's handle. Not saved.
    pub controller_pad: [AtomicF32; 2],
    /// The model folder, or `None` for the embedded default model.
    #[persist = "model-dir"]
    pub model_dir: Mutex<Option<String>>,
    #[persist = "provider"]
    pub provider: Mutex<Provider>,
    /// Safe or low latency; applies when the host next restarts processing.
    #[persist = "latency-mode"]
    pub latency_mode: Mutex<LatencyMode>,
}

impl MelwaveParams {
    /// Melwave Audio's front-end settings, from its parameters.
    pub fn audio_in_settings(&self) -> crate::features::audio_in::AudioInSettings {
        crate::features::audio_in::AudioInSettings { transpose: self.audio_transpose.value(), follow: self.audio_follow.value() }
    }

    /// The parameters of Melwave, or with `audio_in` of Melwave Audio (whose input
    /// controls Melwave hides).
    pub fn new(audio_in: bool) -> Self {
        let timbre = |name: &str| {
            FloatParam::new(name, 0.5, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_smoother(SmoothingStyle::Linear(PAD_SMOOTHING_MS))
                .with_value_to_string(formatters::v2s_f32_rounded(3))
        };
        Self {
            editor_state: EguiEditorState::from_size(nice_plug::editor::dpi::LogicalSize::new(super::editor::DEFAULT_SIZE.0 as f64, super::editor::DEFAULT_SIZE.1 as f64), 1.0),
            timbre_x: timbre("Timbre X"),
            timbre_y: timbre("Timbre Y"),
            gain: FloatParam::new("Gain", 0.0, FloatRange::Linear { min: GAIN_MIN_DB, max: GAIN_MAX_DB })
                .with_smoother(SmoothingStyle::Linear(20.0))
                .with_unit(" dB")
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            pad_from_controllers: BoolParam::new("Pad from controllers", false).non_automatable(),
            pad_cc_y: IntParam::new("Timbre Y controller", DEFAULT_PAD_CC_Y, IntRange::Linear { min: 0, max: 127 }).non_automatable(),
            controller_pad: [AtomicF32::new(f32::NAN), AtomicF32::new(f32::NAN)],
            audio_transpose: {
                let p = IntParam::new("Transpose", 0, IntRange::Linear { min: -24, max: 24 }).with_unit(" st");
                if audio_in {
                    p
                } else {
                    p.hide()
                }
            },
            audio_follow: {
                let p = FloatParam::new("Loudness follow", 1.0, FloatRange::Linear { min: 0.0, max: 1.0 })
                    .with_value_to_string(formatters::v2s_f32_percentage(0))
                    .with_string_to_value(formatters::s2v_f32_percentage())
                    .with_unit(" %");
                if audio_in {
                    p
                } else {
                    p.hide()
                }
            },
            model_dir: Mutex::new(None),
            provider: Mutex::new(Provider::Cpu),
            latency_mode: Mutex::new(LatencyMode::Safe),
        }
    }
}
