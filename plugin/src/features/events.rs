//! The instrument's input vocabulary. Every source (host, MIDI file, fuzzer,
//! training data) is reduced to these events before it reaches the featurizer.

/// Pitch-bend range in semitones for a full-scale MIDI bend (the GM default).
pub const BEND_RANGE_SEMITONES: f32 = 2.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// Velocity 1..=127. A MIDI note-on with velocity 0 must be turned into
    /// [`Event::NoteOff`] by whoever parses MIDI.
    NoteOn { key: u8, velocity: u8 },
    NoteOff { key: u8 },
    /// Sustain pedal (CC64 ≥ 64 is down).
    Sustain(bool),
    /// Bend in semitones, already scaled by the bend range.
    PitchBend(f32),
    /// Releases every key and lifts the pedal (CC120/CC123, transport stop).
    AllNotesOff,
}

impl Event {
    /// Converts a raw 14-bit MIDI pitch-bend value (0..16383, centre 8192) to semitones.
    pub fn pitch_bend_from_midi(value: u16) -> Event {
        let v = (value.min(16383) as f32 - 8192.0) / 8192.0;
        Event::PitchBend(v * BEND_RANGE_SEMITONES)
    }
}

/// An event stamped with a sample position. Whose clock the position is on (host
/// samples or model samples) is up to the owner; the featurizer uses model samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimedEvent {
    pub time: u64,
    pub event: Event,
}
