//! Host note events → engine events. Channels are merged, as everywhere in Melwave.

use nice_plug::midi::Key;
use nice_plug::prelude::*;

use crate::features::Event;

/// The engine event for a host event, with its sample offset in the block, or `None`
/// for events the instrument ignores.
pub fn convert<S>(event: &NoteEvent<S>) -> Option<(u32, Event)> {
    let velocity = |v: f32| (v.clamp(0.0, 1.0) * 127.0).round() as u8;
    match *event {
        NoteEvent::NoteOn { timing, key: Key::Number(key), velocity: v, .. } => {
            // A velocity that rounds to 0 would be a note-off in MIDI terms; the host meant a note.
            Some((timing, Event::NoteOn { key: key.min(127), velocity: velocity(v).max(1) }))
        }
        NoteEvent::NoteOff { timing, key: Key::Number(key), .. } => Some((timing, Event::NoteOff { key: key.min(127) })),
        NoteEvent::Choke { timing, key: Key::Number(key), .. } => Some((timing, Event::Choke { key: key.min(127) })),
        NoteEvent::NoteOff { timing, key: Key::Wildcard, .. } => Some((timing, Event::AllNotesOff)),
        NoteEvent::Choke { timing, key: Key::Wildcard, .. } => Some((timing, Event::AllSoundOff)),
        NoteEvent::MidiCC { timing, cc: 64, value, .. } => Some((timing, Event::Sustain(value >= 0.5))),
        NoteEvent::MidiCC { timing, cc: 120, .. } => Some((timing, Event::AllSoundOff)),
        NoteEvent::MidiCC { timing, cc: 121, .. } => Some((timing, Event::ResetControllers)),
        NoteEvent::MidiCC { timing, cc: 123, .. } => Some((timing, Event::AllNotesOff)),
        NoteEvent::MidiPitchBend { timing, value, .. } => {
            let v = if value.is_finite() { value.clamp(0.0, 1.0) } else { 0.5 };
            Some((timing, Event::pitch_bend_from_midi((v * 16383.0).round() as u16)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use nice_plug::midi::{Channel, Key, VoiceID};
    use nice_plug::prelude::NoteEvent;

    use super::convert;
    use crate::features::Event;

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
        ];
        for (host, expected) in table {
            assert_eq!(convert(&host), expected.map(|e| (3, e)), "{host:?}");
        }
    }
}
