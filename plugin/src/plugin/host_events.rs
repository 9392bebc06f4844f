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
