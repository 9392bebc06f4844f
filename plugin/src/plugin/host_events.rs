//! Host note events → engine events. Channels are merged, as everywhere in Melwave,
//! except where MIDI or the host says which note a message means: MIDI goes through
//! the instrument's [`MidiDecoder`] (channel pressure, bend ranges, MPE), and CLAP
//! note expressions name their key.

use nice_plug::midi::Key;
use nice_plug::prelude::*;

use crate::features::{Event, Expression, MidiDecoder};

/// The plugin's side of the event stream: the MIDI channel state that persists from
/// block to block. Fixed-size; it runs on the audio thread.
#[derive(Default)]
pub struct HostEvents {
    midi: MidiDecoder,
}

impl HostEvents {
    /// Calls `emit(sample offset in the block, event)` for each engine event that
    /// `event` means, in order; nothing for events the instrument ignores.
    pub fn convert<S>(&mut self, event: &NoteEvent<S>, mut emit: impl FnMut(u32, Event)) {
        let velocity = |v: f32| (v.clamp(0.0, 1.0) * 127.0).round() as u8;
        let channel = |c: nice_plug::midi::Channel| c.number().unwrap_or(0) & 0x0f;
        let unit = |v: f32| if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
        let timing = event.timing();
        let mut midi = |status: u8, d1: u8, d2: u8| self.midi.decode(status, d1, d2, |e| emit(timing, e));
        match *event {
            // A velocity that rounds to 0 would be a note-off in MIDI terms; the host meant a note.
            NoteEvent::NoteOn { key: Key::Number(key), velocity: v, channel: c, .. } => midi(0x90 | channel(c), key.min(127), velocity(v).max(1)),
            NoteEvent::NoteOff { key: Key::Number(key), channel: c, .. } => midi(0x80 | channel(c), key.min(127), 0),
            NoteEvent::Choke { key: Key::Number(key), .. } => emit(timing, Event::Choke { key: key.min(127) }),
            NoteEvent::NoteOff { key: Key::Wildcard, .. } => emit(timing, Event::AllNotesOff),
            NoteEvent::Choke { key: Key::Wildcard, .. } => emit(timing, Event::AllSoundOff),
            NoteEvent::MidiCC { cc, value, channel: c, .. } => midi(0xB0 | (c & 0x0f), cc & 0x7f, velocity(unit(value))),
            NoteEvent::MidiPitchBend { value, channel: c, .. } => {
                let v = if value.is_finite() { value.clamp(0.0, 1.0) } else { 0.5 };
                let v = (v * 16383.0).round() as u16;
                midi(0xE0 | (c & 0x0f), (v & 0x7f) as u8, (v >> 7) as u8)
            }
            NoteEvent::MidiChannelPressure { pressure, channel: c, .. } => midi(0xD0 | (c & 0x0f), velocity(unit(pressure)), 0),
            // CLAP note expressions (and MIDI polyphonic aftertouch, which nice-plug
            // also delivers as PolyPressure) for one key; at full resolution.
            NoteEvent::PolyPressure { key: Key::Number(key), pressure, .. } => emit(timing, Event::Expression { key: key.min(127), expression: Expression::Pressure(pressure) }),
            NoteEvent::PolyTuning { key: Key::Number(key), tuning, .. } => emit(timing, Event::Expression { key: key.min(127), expression: Expression::Tuning(tuning) }),
            NoteEvent::PolyVolume { key: Key::Number(key), gain, .. } => emit(timing, Event::Expression { key: key.min(127), expression: Expression::Volume(gain) }),
            NoteEvent::PolyBrightness { key: Key::Number(key), brightness, .. } => {
                emit(timing, Event::Expression { key: key.min(127), expression: Expression::Brightness(brightness) })
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use nice_plug::midi::{Channel, Key, VoiceID};
    use nice_plug::prelude::NoteEvent;

    use super::HostEvents;
    use crate::features::{Event, Expression};

    type E = NoteEvent<()>;

    fn cc(cc: u8, value: f32) -> E {
        NoteEvent::MidiCC { timing: 3, channel: 0, cc, value }
    }

    #[test]
    fn host_events_map_onto_the_instrument_vocabulary() {
        let (v, c) = (VoiceID::Wildcard, Channel::Number(2));
        let table: Vec<(E, Option<Event>)> = vec![
            (NoteEvent::NoteOn { timing: 3, voice_id: v, channel: c, key: Key::Number(60), velocity: 0.5 }, Some(Event::NoteOn { key: 60, velocity: 64 })),
            // A velocity that rounds to 0 is still a note.
            (NoteEvent::NoteOn { timing: 3, voice_id: v, channel: c, key: Key::Number(60), velocity: 0.001 }, Some(Event::NoteOn { key: 60, velocity: 1 })),
            (NoteEvent::NoteOff { timing: 3, voice_id: v, channel: c, key: Key::Number(61), velocity: 0.0 }, Some(Event::NoteOff { key: 61 })),
            (NoteEvent::NoteOff { timing: 3, voice_id: v, channel: c, key: Key::Wildcard, velocity: 0.0 }, Some(Event::AllNotesOff)),
            (NoteEvent::Choke { timing: 3, voice_id: v, channel: c, key: Key::Number(62) }, Some(Event::Choke { key: 62 })),
            (NoteEvent::Choke { timing: 3, voice_id: v, channel: c, key: Key::Wildcard }, Some(Event::AllSoundOff)),
            (cc(64, 0.5), Some(Event::Sustain(true))),
            (cc(64, 0.49), Some(Event::Sustain(false))),
            (cc(120, 0.0), Some(Event::AllSoundOff)),
            (cc(121, 0.0), Some(Event::ResetControllers)),
            (cc(123, 0.0), Some(Event::AllNotesOff)),
            (cc(7, 1.0), None),
            (NoteEvent::MidiPitchBend { timing: 3, channel: 0, value: 0.5 }, Some(Event::pitch_bend_from_midi(8192))),
            (NoteEvent::MidiPitchBend { timing: 3, channel: 0, value: 1.0 }, Some(Event::pitch_bend_from_midi(16383))),
            (NoteEvent::MidiPitchBend { timing: 3, channel: 0, value: 0.0 }, Some(Event::PitchBend(-2.0))),
            (NoteEvent::MidiPitchBend { timing: 3, channel: 0, value: f32::NAN }, Some(Event::pitch_bend_from_midi(8192))),
            (
                NoteEvent::PolyTuning { timing: 3, voice_id: v, channel: c, key: Key::Number(60), tuning: -0.5 },
                Some(Event::Expression { key: 60, expression: Expression::Tuning(-0.5) }),
            ),
            (
                NoteEvent::PolyPressure { timing: 3, voice_id: v, channel: c, key: Key::Number(60), pressure: 0.25 },
                Some(Event::Expression { key: 60, expression: Expression::Pressure(0.25) }),
            ),
            (
                NoteEvent::PolyVolume { timing: 3, voice_id: v, channel: c, key: Key::Number(60), gain: 2.0 },
                Some(Event::Expression { key: 60, expression: Expression::Volume(2.0) }),
            ),
            (
                NoteEvent::PolyBrightness { timing: 3, voice_id: v, channel: c, key: Key::Number(60), brightness: 0.1 },
                Some(Event::Expression { key: 60, expression: Expression::Brightness(0.1) }),
            ),
            // Channel pressure presses the notes sounding from its channel, no other.
            (NoteEvent::MidiChannelPressure { timing: 3, channel: 2, pressure: 1.0 }, None),
        ];
        for (host, expected) in table {
            let mut got = Vec::new();
            HostEvents::default().convert(&host, |t, e| got.push((t, e)));
            assert_eq!(got, expected.map(|e| (3, e)).into_iter().collect::<Vec<_>>(), "{host:?}");
        }
    }
}
