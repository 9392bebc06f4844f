//! The instrument's input vocabulary, and its one MIDI codec. Every source (host,
//! MIDI file, fuzzer, training data) is reduced to these events before it reaches the
//! featurizer, and training's SoundFont renders are fed these same events encoded
//! back to MIDI, so the audio a model learns from and the features it sees agree.

/// Pitch-bend range in semitones for a full-scale MIDI bend (the GM default).
pub const BEND_RANGE_SEMITONES: f32 = 2.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// Velocity 1..=127. A MIDI note-on with velocity 0 is decoded as
    /// [`Event::NoteOff`].
    NoteOn { key: u8, velocity: u8 },
    /// Releases one of the notes held on the key; the key sounds until the last one
    /// is released (notes are counted per key across channels).
    NoteOff { key: u8 },
    /// Ends a key at once, even under the pedal, with every note held on it.
    Choke { key: u8 },
    /// Sustain pedal (CC64 ≥ 64 is down).
    Sustain(bool),
    /// Bend in semitones, already scaled by the bend range.
    PitchBend(f32),
    /// CC123: releases every held key as note-offs would; the pedal stays as it is.
    AllNotesOff,
    /// CC120, transport stop, reset: every key, the pedal and every release tail stop
    /// at once.
    AllSoundOff,
    /// CC121: the bend returns to centre and the pedal lifts.
    ResetControllers,
    /// Per-note expression for the note on `key` (MPE, polyphonic aftertouch, CLAP
    /// note expressions). A note-on resets its key to [`NoteExpression::NEUTRAL`].
    Expression { key: u8, expression: Expression },
}

/// One dimension of a note's expression, as hosts and MPE controllers send it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Expression {
    /// Semitones added to this note's pitch, on top of the channel-wide bend.
    Tuning(f32),
    /// 0..1: pressing harder makes the note louder (see [`NoteExpression::gain`]).
    Pressure(f32),
    /// Linear gain 0..4 (1 unchanged), CLAP's volume expression.
    Volume(f32),
    /// 0..1, centre 0.5: below the centre the note's source loses its upper partials
    /// (see [`NoteExpression::partial_ceiling`]).
    Brightness(f32),
}

/// A note's expression state: what [`Expression`] events have set on its key since
/// its note-on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoteExpression {
    pub tuning: f32,
    pub pressure: f32,
    pub volume: f32,
    pub brightness: f32,
}

/// Largest per-note tuning accepted, in semitones (MPE's widest bend range is 96, but
/// past this the source's partials leave the vocoder's learned range).
pub const MAX_TUNING: f32 = 48.0;
/// How much louder full pressure plays a note, in dB.
pub const PRESSURE_GAIN_DB: f32 = 12.0;

impl NoteExpression {
    pub const NEUTRAL: Self = Self { tuning: 0.0, pressure: 0.0, volume: 1.0, brightness: 0.5 };

    /// Applies one expression, clamped to its range; a non-finite value returns that
    /// dimension to neutral.
    pub fn set(&mut self, e: Expression) {
        let sane = |v: f32, lo: f32, hi: f32, neutral: f32| if v.is_finite() { v.clamp(lo, hi) } else { neutral };
        let n = Self::NEUTRAL;
        match e {
            Expression::Tuning(v) => self.tuning = sane(v, -MAX_TUNING, MAX_TUNING, n.tuning),
            Expression::Pressure(v) => self.pressure = sane(v, 0.0, 1.0, n.pressure),
            Expression::Volume(v) => self.volume = sane(v, 0.0, 4.0, n.volume),
            Expression::Brightness(v) => self.brightness = sane(v, 0.0, 1.0, n.brightness),
        }
    }

    /// The gain on the note's source, from its volume and pressure: volume as is,
    /// pressure up to [`PRESSURE_GAIN_DB`], the product held to ×4 (+12 dB). The
    /// vocoder sets its harmonic gain against the source's `level` channel, which
    /// leaves this gain out: so the pressed note alone gets louder, by this gain.
    /// (Moving the roll's velocity feature instead lets Mel2Mel's mel follow, and with
    /// it the filter every note shares, so the neighbours get louder too;
    /// docs/architecture.md has the figures.)
    pub fn gain(&self) -> f64 {
        let pressure = 10f64.powf(PRESSURE_GAIN_DB as f64 * self.pressure as f64 / 20.0);
        (self.volume as f64 * pressure).min(4.0)
    }

    /// The highest frequency the note's source carries, in Hz, for a note whose
    /// pitch is `f0` and an upper limit `nyquist`: every partial from the centre up;
    /// below it the ceiling falls geometrically, to the fundamental alone at 0.
    pub fn partial_ceiling(&self, f0: f64, nyquist: f64) -> f64 {
        if self.brightness >= 0.5 || f0 >= nyquist {
            return nyquist;
        }
        f0 * (nyquist / f0).powf(2.0 * self.brightness as f64)
    }
}

impl Default for NoteExpression {
    fn default() -> Self {
        Self::NEUTRAL
    }
}

impl Event {
    /// Converts a raw 14-bit MIDI pitch-bend value (0..16383, centre 8192) to semitones.
    pub fn pitch_bend_from_midi(value: u16) -> Event {
        let v = (value.min(16383) as f32 - 8192.0) / 8192.0;
        Event::PitchBend(v * BEND_RANGE_SEMITONES)
    }

    /// The 14-bit MIDI value nearest a bend in semitones.
    pub fn pitch_bend_to_midi(semitones: f32) -> u16 {
        let s = if semitones.is_finite() { semitones } else { 0.0 };
        (s / BEND_RANGE_SEMITONES * 8192.0 + 8192.0).round().clamp(0.0, 16383.0) as u16
    }

    /// Decodes a channel-voice message (`status`, `data1`, `data2`) on its own, channel
    /// by channel merged; `None` for the messages the instrument ignores. Returns the
    /// message's channel with the event. Messages whose meaning depends on what came
    /// before (channel pressure, MPE, bend ranges) need [`super::MidiDecoder`].
    pub fn from_midi(status: u8, d1: u8, d2: u8) -> Option<(u8, Event)> {
        let channel = status & 0x0f;
        let (d1, d2) = (d1 & 0x7f, d2 & 0x7f);
        let event = match status & 0xf0 {
            0x90 if d2 > 0 => Event::NoteOn { key: d1, velocity: d2 },
            0x80 | 0x90 => Event::NoteOff { key: d1 },
            0xB0 => match d1 {
                64 => Event::Sustain(d2 >= 64),
                120 => Event::AllSoundOff,
                121 => Event::ResetControllers,
                123 => Event::AllNotesOff,
                _ => return None,
            },
            0xA0 => Event::Expression { key: d1, expression: Expression::Pressure(d2 as f32 / 127.0) },
            0xE0 => Event::pitch_bend_from_midi(d1 as u16 | (d2 as u16) << 7),
            _ => return None,
        };
        Some((channel, event))
    }

    /// Encodes the event as one MIDI message on `channel`. A choke has no MIDI
    /// message of its own and becomes a note-off; pressure becomes polyphonic
    /// aftertouch. Tuning, volume and brightness have no one-message form (MPE says
    /// them with a channel per note): `None`.
    pub fn to_midi(&self, channel: u8) -> Option<[u8; 3]> {
        let ch = channel & 0x0f;
        Some(match *self {
            Event::NoteOn { key, velocity } => [0x90 | ch, key & 0x7f, velocity.clamp(1, 127)],
            Event::NoteOff { key } | Event::Choke { key } => [0x80 | ch, key & 0x7f, 0],
            Event::Sustain(down) => [0xB0 | ch, 64, if down { 127 } else { 0 }],
            Event::PitchBend(s) => {
                let v = Self::pitch_bend_to_midi(s);
                [0xE0 | ch, (v & 0x7f) as u8, (v >> 7) as u8]
            }
            Event::AllNotesOff => [0xB0 | ch, 123, 0],
            Event::AllSoundOff => [0xB0 | ch, 120, 0],
            Event::ResetControllers => [0xB0 | ch, 121, 0],
            Event::Expression { key, expression: Expression::Pressure(p) } => [0xA0 | ch, key & 0x7f, (p.clamp(0.0, 1.0) * 127.0).round() as u8],
            Event::Expression { .. } => return None,
        })
    }
}

/// An event stamped with a sample position. Whose clock the position is on (host
/// samples or model samples) is up to the owner; the featurizer uses model samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimedEvent {
    pub time: u64,
    pub event: Event,
}

/// How many notes are held on each key, counted across channels: a key is released
/// by the note-off of its last note, not its first.
#[derive(Clone, Copy, Debug)]
pub struct HeldKeys([u8; 128]);

impl Default for HeldKeys {
    fn default() -> Self {
        Self([0; 128])
    }
}

impl HeldKeys {
    pub fn is_held(&self, key: usize) -> bool {
        self.0[key & 127] > 0
    }

    /// A note starts on `key`; returns whether the key was already held.
    pub fn press(&mut self, key: usize) -> bool {
        let c = &mut self.0[key & 127];
        let was = *c > 0;
        *c = c.saturating_add(1);
        was
    }

    /// A note on `key` ends; returns whether that released the key.
    pub fn release(&mut self, key: usize) -> bool {
        let c = &mut self.0[key & 127];
        if *c == 0 {
            return false;
        }
        *c -= 1;
        *c == 0
    }

    /// Clears one key; returns whether it was held.
    pub fn clear(&mut self, key: usize) -> bool {
        std::mem::take(&mut self.0[key & 127]) > 0
    }

    pub fn clear_all(&mut self) {
        self.0 = [0; 128];
    }
}
