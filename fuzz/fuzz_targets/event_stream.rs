//! The engine's event stream, as the inference thread featurizes it: arbitrary
//! sequences of note-ons (velocity 0 to 127), note-offs without note-ons, pedal
//! toggles, extreme bends, chokes, controller resets and all-notes/sound-off, per-note
//! expression of any value, and raw MIDI through the MPE decoder, any number per frame. No panic, no out-of-range index, finite excitation, and after
//! all-sound-off no key stays active.
#![no_main]

use libfuzzer_sys::fuzz_target;
use melwave::contract::KEYS;
use melwave::features::{Event, Expression, Featurizer, MidiDecoder};

fn event(b: &[u8]) -> Event {
    let key = b[1] & 0x7f;
    match b[0] % 10 {
        0 if b[2] & 0x7f == 0 => Event::NoteOff { key },
        0 | 1 => Event::NoteOn { key, velocity: (b[2] & 0x7f).max(1) },
        2 => Event::NoteOff { key },
        3 => Event::Sustain(b[2] & 1 == 1),
        4 => Event::pitch_bend_from_midi(u16::from(b[1]) << 7 | u16::from(b[2] & 0x7f)),
        5 => Event::AllNotesOff,
        6 => Event::Choke { key },
        7 => Event::ResetControllers,
        8 => Event::AllSoundOff,
        _ => {
            // Any value, NaN and the infinities included.
            let v = match b[3] {
                0x80 => f32::NAN,
                0x7f => f32::INFINITY,
                0x81 => f32::NEG_INFINITY,
                x => f32::from(x as i8) / 8.0,
            };
            let expression = [Expression::Tuning(v), Expression::Pressure(v), Expression::Volume(v), Expression::Brightness(v)][usize::from(b[2] % 4)];
            Event::Expression { key, expression }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut f = Featurizer::new(u64::from(data.first().copied().unwrap_or(0)));
    let mut midi = MidiDecoder::default();
    // Each 4-byte record: an event (or a raw MIDI message through the decoder, with
    // its channel state, MPE zones and RPNs), and whether the frame ends after it.
    for rec in data.chunks_exact(4) {
        if rec[0] & 0x80 != 0 {
            midi.decode(rec[1] | 0x80, rec[2], rec[3], |e| f.apply(&e));
        } else {
            f.apply(&event(rec));
        }
        if rec[3] & 3 == 0 {
            let frame = f.end_frame();
            assert!(frame.roll.iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(frame.source.iter().all(|v| v.is_finite() && v.abs() < 64.0));
        }
    }
    f.apply(&Event::AllSoundOff);
    f.end_frame();
    let after = f.end_frame();
    assert!(after.roll.iter().all(|&v| v == 0.0), "a note is stuck after all-notes-off: {:?}", &after.roll[KEYS..]);
});
