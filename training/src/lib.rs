//! Melwave's training crate: General MIDI SoundFont renders → a 10-instrument model
//! through the model contract of `melwave`.
//!
//! - [`dataset`]: procedural phrases and real MIDI, rendered with rustysynth, stored
//!   with the shared featurization's inputs;
//! - [`nets`]: Mel2Mel and the vocoder in tch, exactly as the contract defines them;
//! - [`train`], [`losses`], [`optim`], [`checkpoint`], [`balance`]: the training loops;
//! - [`export`]: tch weights → ONNX through the contract, with parity checks;
//! - [`instrument`]: a new instrument on a trained model's pad, from a preset or from
//!   recordings, with the model frozen.

pub mod balance;
pub mod checkpoint;
pub mod dataset;
pub mod eval;
pub mod export;
pub mod instrument;
pub mod losses;
pub mod nets;
pub mod optim;
pub mod plot;
pub mod train;
