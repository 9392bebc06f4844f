//! Featurization shared by training and the engine: MIDI events → piano-roll frames,
//! the note excitation that drives the vocoder, the log-mel spectrogram, and the
//! short-time spectra that it and the evaluation share.

pub mod audio_in;
pub mod events;
pub mod excitation;
pub mod layout;
pub mod mel;
pub mod mpe;
pub mod pitch;
pub mod roll;
pub mod stft;

pub use events::{Event, Expression, HeldKeys, NoteExpression, TimedEvent};
pub use excitation::Excitation;
pub use mel::LogMel;
pub use mpe::MidiDecoder;
pub use roll::{featurize, featurize_roll, Featurizer, FrameFeatures, RollState};
