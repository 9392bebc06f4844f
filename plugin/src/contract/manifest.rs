//! `manifest.json`: what a model folder declares about itself, and the checks that
//! keep the engine from running a model that disagrees with the contract.

use serde::{Deserialize, Serialize};

use super::mel2mel::Mel2MelConfig;
use super::source::{CHANNELS, NOISE_STD, RELEASE_DECAY_SECONDS, RELEASE_FADE_SECONDS, RELEASE_SECONDS, SAW_AMPLITUDE, SINE_AMPLITUDE};
use super::state::StateSpec;
use super::vocoder::VocoderConfig;
use super::{EMBED_DIM, FORMAT_VERSION, HOP, KEYS, LOG_FLOOR_DB, N_FFT, N_MELS, OPSET, SAMPLE_RATE};

pub const FORMAT: &str = "melwave-model";
/// The piano roll's features per key, in order (see `features::roll`).
pub const ROLL_FEATURES: [&str; 3] = ["onset", "frame", "velocity"];
/// The largest coordinate an instrument's point may have. Trained points lie within a
/// few units of the origin; the pad spans the points' bounding box, and a point near
/// `f32::MAX` would make that box infinite and every pad position NaN.
pub const MAX_POINT: f32 = 1e4;
/// The most instruments a model may list (the pad must stay readable, and the
/// editor draws one button each).
pub const MAX_INSTRUMENTS: usize = 1024;
/// The longest instrument name, in characters (it labels a button and a menu entry).
pub const MAX_NAME_CHARS: usize = 64;

/// The ten General MIDI instruments of Mel2Mel: program and preset name.
pub const TRAINING_INSTRUMENTS: [(u8, &str); 10] = [
    (0, "Grand Piano"),
    (4, "Electric Piano"),
    (11, "Vibraphone"),
    (19, "Church Organ"),
    (24, "Nylon Guitar"),
    (45, "Pizzicato Strings"),
    (46, "Harp"),
    (48, "String Ensemble"),
    (56, "Trumpet"),
    (80, "Square Lead"),
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    pub name: String,
    /// The General MIDI program (and bank) it was trained on; for an instrument added
    /// from recordings, 0.
    pub program: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bank: u8,
    /// The instrument's learned point in the timbre embedding.
    pub point: Vec<f32>,
    /// Set for an instrument added to a trained model (`melwave-train add-instrument`):
    /// where it came from. The pad marks these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<String>,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

impl Instrument {
    /// One of the instruments the model was trained on.
    pub fn trained(name: &str, program: u8, point: Vec<f32>) -> Self {
        Self { name: name.into(), program, bank: 0, point, added: None }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollLayout {
    pub keys: usize,
    /// Feature blocks in order; each holds `keys` values.
    pub features: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcitationSpec {
    pub channels: Vec<String>,
    pub sine_amplitude: f32,
    pub saw_amplitude: f32,
    pub noise_std: f32,
    pub release_seconds: f32,
    pub release_decay_seconds: f32,
    pub release_fade_seconds: f32,
}

impl Default for ExcitationSpec {
    fn default() -> Self {
        Self {
            channels: CHANNELS.iter().map(|c| c.to_string()).collect(),
            sine_amplitude: SINE_AMPLITUDE,
            saw_amplitude: SAW_AMPLITUDE,
            noise_std: NOISE_STD,
            release_seconds: RELEASE_SECONDS,
            release_decay_seconds: RELEASE_DECAY_SECONDS,
            release_fade_seconds: RELEASE_FADE_SECONDS,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection<C> {
    pub file: String,
    pub config: C,
    pub state: Vec<StateSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub sample_rate: u32,
    pub hop: usize,
    pub n_fft: usize,
    pub n_mels: usize,
    pub mel_fmin: f32,
    pub mel_fmax: f32,
    pub log_floor_db: f32,
    pub roll: RollLayout,
    pub excitation: ExcitationSpec,
    pub embedding_dim: usize,
    pub instruments: Vec<Instrument>,
    pub mel2mel: ModelSection<Mel2MelConfig>,
    pub vocoder: ModelSection<VocoderConfig>,
    pub opset: i64,
    /// Where the weights came from: data, steps, CPU time, metrics. Free-form.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManifestError {
    #[error("manifest.json is not valid JSON for this schema: {0}")]
    Parse(String),
    #[error("manifest field `{field}` is {found}, but this Melwave needs {expected}")]
    Mismatch { field: String, found: String, expected: String },
    #[error("this model folder is Melwave model format version {found}, but this Melwave plays version {FORMAT_VERSION} only (version 2 changed the vocoder's excitation, version 3 its architecture: filters designed from the mel, version 4 gave the piano roll a velocity channel); retrain it, or use a Melwave release that plays version {found}")]
    Version { found: u32 },
    #[error("manifest is inconsistent: {0}")]
    Invalid(String),
}

/// An instrument's name is how the user, the host's state and the CLI find it, and
/// look-ups trim what is typed: so a name is non-empty, has no space at either end,
/// no control character, and is short enough to label a button.
fn check_name(name: &str) -> Result<(), ManifestError> {
    let why = if name.trim().is_empty() {
        "is empty"
    } else if name.trim() != name {
        "has a space at one end"
    } else if name.chars().any(char::is_control) {
        "has a control character"
    } else if name.chars().count() > MAX_NAME_CHARS {
        "is longer than 64 characters"
    } else {
        return Ok(());
    };
    Err(ManifestError::Invalid(format!("instrument name {name:?} {why}")))
}

fn expect<T: PartialEq + std::fmt::Debug>(field: &str, found: &T, expected: &T) -> Result<(), ManifestError> {
    if found == expected {
        Ok(())
    } else {
        Err(ManifestError::Mismatch { field: field.into(), found: format!("{found:?}"), expected: format!("{expected:?}") })
    }
}

impl Manifest {
    /// A manifest for the given configs and instruments, with every contract constant filled in.
    pub fn new(mel2mel: Mel2MelConfig, vocoder: VocoderConfig, instruments: Vec<Instrument>, provenance: serde_json::Value) -> Self {
        Manifest {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            sample_rate: SAMPLE_RATE,
            hop: HOP,
            n_fft: N_FFT,
            n_mels: N_MELS,
            mel_fmin: 0.0,
            mel_fmax: SAMPLE_RATE as f32 / 2.0,
            log_floor_db: LOG_FLOOR_DB,
            roll: RollLayout { keys: KEYS, features: ROLL_FEATURES.map(String::from).to_vec() },
            excitation: ExcitationSpec::default(),
            embedding_dim: EMBED_DIM,
            instruments,
            mel2mel: ModelSection { file: "mel2mel.onnx".into(), state: mel2mel.state_specs(), config: mel2mel },
            vocoder: ModelSection { file: "vocoder.onnx".into(), state: vocoder.state_specs(), config: vocoder },
            opset: OPSET,
            provenance,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        // The version first: a folder from another contract version fails the schema
        // too, and "this model is version 1" is the message that tells the user why.
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            version: Option<u32>,
        }
        if let Ok(Header { format: Some(f), version: Some(v) }) = serde_json::from_slice::<Header>(bytes) {
            if f == FORMAT && v != FORMAT_VERSION {
                return Err(ManifestError::Version { found: v });
            }
        }
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| ManifestError::Parse(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest always serialises")
    }

    /// Checks every contract constant and the internal consistency of the manifest.
    pub fn validate(&self) -> Result<(), ManifestError> {
        expect("format", &self.format.as_str(), &FORMAT)?;
        expect("version", &self.version, &FORMAT_VERSION)?;
        expect("sample_rate", &self.sample_rate, &SAMPLE_RATE)?;
        expect("hop", &self.hop, &HOP)?;
        expect("n_fft", &self.n_fft, &N_FFT)?;
        expect("n_mels", &self.n_mels, &N_MELS)?;
        expect("mel_fmin", &self.mel_fmin, &0.0)?;
        expect("mel_fmax", &self.mel_fmax, &(SAMPLE_RATE as f32 / 2.0))?;
        expect("log_floor_db", &self.log_floor_db, &LOG_FLOOR_DB)?;
        expect("roll.keys", &self.roll.keys, &KEYS)?;
        expect("roll.features", &self.roll.features, &ROLL_FEATURES.map(String::from).to_vec())?;
        expect("excitation", &self.excitation, &ExcitationSpec::default())?;
        expect("embedding_dim", &self.embedding_dim, &EMBED_DIM)?;
        expect("opset", &self.opset, &OPSET)?;
        if self.instruments.is_empty() {
            return Err(ManifestError::Invalid("no instruments".into()));
        }
        if self.instruments.len() > MAX_INSTRUMENTS {
            return Err(ManifestError::Invalid(format!("{} instruments, more than the {MAX_INSTRUMENTS} a model may have", self.instruments.len())));
        }
        let mut names = std::collections::HashSet::with_capacity(self.instruments.len());
        for inst in &self.instruments {
            check_name(&inst.name)?;
            if inst.point.len() != self.embedding_dim {
                return Err(ManifestError::Invalid(format!("instrument `{}` has a {}-D point, but embedding_dim is {}", inst.name, inst.point.len(), self.embedding_dim)));
            }
            if inst.point.iter().any(|v| !v.is_finite()) {
                return Err(ManifestError::Invalid(format!("instrument `{}` has a non-finite point", inst.name)));
            }
            if inst.point.iter().any(|v| v.abs() > MAX_POINT) {
                return Err(ManifestError::Invalid(format!("instrument `{}` has a point beyond ±{MAX_POINT}, far off any trained plane", inst.name)));
            }
            if !names.insert(inst.name.to_ascii_lowercase()) {
                return Err(ManifestError::Invalid(format!("instrument `{}` is listed twice", inst.name)));
            }
        }
        let c = &self.mel2mel.config;
        if c.hidden == 0 || c.layers == 0 || c.hidden > 4096 || c.layers > 8 {
            return Err(ManifestError::Invalid(format!("mel2mel config {c:?} is out of range")));
        }
        expect("mel2mel.state", &self.mel2mel.state, &c.state_specs())?;
        let v = &self.vocoder.config;
        if !v.is_valid() {
            return Err(ManifestError::Invalid(format!("vocoder config {v:?} is out of range")));
        }
        expect("vocoder.state", &self.vocoder.state, &v.state_specs())?;
        for f in [&self.mel2mel.file, &self.vocoder.file] {
            if f.contains('/') || f.contains('\\') || f.starts_with('.') {
                return Err(ManifestError::Invalid(format!("model file name `{f}` must be a plain file name in the model folder")));
            }
        }
        Ok(())
    }

    /// Finds an instrument by name (case-insensitive) or by GM program number.
    pub fn instrument(&self, name: &str) -> Option<&Instrument> {
        let name = name.trim();
        self.instruments.iter().find(|i| i.name.eq_ignore_ascii_case(name)).or_else(|| name.parse::<u8>().ok().and_then(|p| self.instruments.iter().find(|i| i.program == p)))
    }
}
