//! Melwave: a real-time neural instrument.
//!
//! MIDI → piano roll → Mel2Mel (causal LSTM with FiLM timbre conditioning) → log-mel
//! → streaming source-filter vocoder driven by a note excitation → 24 kHz audio → host rate.
//!
//! This library holds everything both the plugin and the training crate need, defined
//! once: the featurization ([`features`]), the model contract ([`contract`]), the ONNX
//! Runtime glue ([`runtime`]) and the streaming engine ([`engine`]).

pub mod contract;
pub mod engine;
pub mod features;
pub mod files;
pub mod midi_file;
#[cfg(feature = "plugin")]
pub mod plugin;
pub mod render;
pub mod runtime;
pub mod stable_hash;
pub mod sync;
