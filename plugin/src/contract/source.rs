//! The excitation's constants: what the vocoder's source channels are and how loud,
//! and how long a released key keeps sounding. A model is trained against them, so
//! they belong to the contract and every manifest records them; `features::excitation`
//! generates the source from them.

use super::SOURCE_CHANNELS;

/// The channels, in the order the vocoder takes them.
pub const CHANNELS: [&str; 4] = ["sine", "sawtooth", "noise", "level"];
const _: () = assert!(CHANNELS.len() == SOURCE_CHANNELS);

/// Amplitude of each key's fundamental sine.
pub const SINE_AMPLITUDE: f32 = 0.1;
/// Amplitude of each key's sawtooth fundamental (partial `h` has `1/h` of it).
pub const SAW_AMPLITUDE: f32 = 0.1;
/// Standard deviation of the noise channel.
pub const NOISE_STD: f32 = 0.033;
/// How long a released key's voice keeps running before it fades.
pub const RELEASE_SECONDS: f32 = 2.0;
/// Time constant of a released key's exponential decay (−35 dB a second at 0.25 s).
pub const RELEASE_DECAY_SECONDS: f32 = 0.25;
/// The fade at the end of a release.
pub const RELEASE_FADE_SECONDS: f32 = 0.05;
