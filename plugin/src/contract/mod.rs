//! The model contract: the one definition of what a Melwave model is, used by
//! training's export and by the engine.
//!
//! A model is a folder with `manifest.json`, `mel2mel.onnx` and `vocoder.onnx`. Each
//! ONNX file is a *streaming step* over a block of `n` frames (the vocoder over
//! `n·HOP` samples), `n` being a dynamic axis; all recurrent and convolutional
//! history is passed in and out as explicit state tensors, so that running a
//! sequence block by block equals running it whole.

pub mod film;
pub mod filter;
// The ONNX graph writers: export, add-instrument and the tests build models; the
// plugin and the offline renderer only load them, so a release build leaves them out.
#[cfg(feature = "graph-writer")]
pub mod graph;
pub mod manifest;
pub mod mel2mel;
pub mod model_dir;
pub mod source;
pub mod state;
pub mod timbre;
pub mod vocoder;
pub mod weights;

pub use manifest::{Instrument, Manifest, ManifestError};
pub use mel2mel::Mel2MelConfig;
pub use model_dir::{ModelBytes, ModelError};
pub use timbre::TimbrePlane;
pub use vocoder::VocoderConfig;
pub use weights::Weights;

/// Model sample rate in Hz.
pub const SAMPLE_RATE: u32 = 24_000;
/// Samples per frame (5.33 ms at 24 kHz).
pub const HOP: usize = 128;
/// STFT size of the log-mel.
pub const N_FFT: usize = 1024;
/// Mel bands, 0 Hz to Nyquist.
pub const N_MELS: usize = 80;
/// MIDI keys in the roll.
pub const KEYS: usize = 128;
/// Roll features per frame: `onset[128]`, `frame[128]`, `velocity[128]`.
pub const ROLL_DIM: usize = 3 * KEYS;
/// Log floor: natural log of magnitude clipped at −100 dB.
pub const LOG_FLOOR: f32 = -11.512925; // ln(1e-5)
/// Floor in dB, as written in the manifest.
pub const LOG_FLOOR_DB: f32 = -100.0;
/// Dimension of the timbre embedding: 2, so that the XY pad *is* the embedding plane.
pub const EMBED_DIM: usize = 2;
/// Excitation channels fed to the vocoder: fundamental sine, band-limited sawtooth,
/// noise, and the sawtooth's expected mean square (see `features::excitation`).
pub const SOURCE_CHANNELS: usize = 4;
/// ONNX opset of the exported graphs.
pub const OPSET: i64 = 17;
/// Version of the model contract. 2: the harmonic excitation (sine, sawtooth, noise,
/// with release tails) replaced v1's sines-plus-noise. 3: the vocoder filters that
/// source with per-frame filters designed from the mel (`vocoder`), its WaveNet became
/// optional, and the source gained a `level` channel; a v2 vocoder's graph and state
/// do not fit. 4: the piano roll gained a `velocity` channel (each sounding key's
/// velocity in every frame, not only at its onset), so Mel2Mel's input is wider.
pub const FORMAT_VERSION: u32 = 4;

/// The embedded default model (`models/default`).
pub mod default_model {
    pub const MANIFEST: &[u8] = include_bytes!("../../../models/default/manifest.json");
    pub const MEL2MEL: &[u8] = include_bytes!("../../../models/default/mel2mel.onnx");
    pub const VOCODER: &[u8] = include_bytes!("../../../models/default/vocoder.onnx");
}
