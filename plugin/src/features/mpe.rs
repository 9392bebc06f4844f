//! MIDI channel messages → instrument events, with the state MIDI keeps per channel:
//! which keys each channel is playing, its bend range (RPN 0), and MPE zones (the
//! MPE Configuration Message, RPN 6).
//!
//! Without MPE every channel is merged, as everywhere in Melwave: a pitch bend moves
//! every note. Two messages act per note even so, because they say which notes they
//! mean: polyphonic aftertouch (its key), and channel pressure and CC74, which act on
//! the notes sounding from their channel (on an ordinary keyboard, all of them).
//!
//! Once an MPE Configuration Message sets up a zone, its member channels each carry
//! one note: a member channel's bend tunes only its notes (range 48 semitones unless
//! RPN 0 says otherwise), its pressure and CC74 press and brighten only them, and a
//! note started on a member channel takes that channel's bend, pressure and
//! brightness at once (MPE controllers send them just before the note-on). The
//! zone's manager channel (1 for the lower zone, 16 for the upper) bends every note.
//!
//! Everything is fixed-size: the decoder runs on the audio thread.

use super::events::{Event, Expression, BEND_RANGE_SEMITONES};
use crate::contract::KEYS;

/// MPE's default bend range on a member channel, in semitones.
pub const MPE_MEMBER_BEND_RANGE: f32 = 48.0;
/// CC74, MPE's third dimension ("timbre"; brightness in General MIDI 2).
pub const CC_BRIGHTNESS: u8 = 74;

const NO_CHANNEL: u8 = 0xff;
/// RPN 127/127: no parameter selected.
const RPN_NULL: u16 = 0x3fff;
const RPN_BEND_RANGE: u16 = 0;
const RPN_MPE_CONFIGURATION: u16 = 6;

#[derive(Clone, Copy, Debug)]
struct ChannelState {
    /// The registered parameter selected by CC101/CC100.
    rpn: u16,
    bend_range: f32,
    /// The last bend, in semitones (already scaled by the range it arrived under).
    bend: f32,
    pressure: f32,
    brightness: Option<f32>,
}

impl Default for ChannelState {
    fn default() -> Self {
        Self { rpn: RPN_NULL, bend_range: BEND_RANGE_SEMITONES, bend: 0.0, pressure: 0.0, brightness: None }
    }
}

/// Decodes raw MIDI channel messages into [`Event`]s, keeping the per-channel state
/// that channel pressure, bend ranges and MPE need.
#[derive(Clone, Debug)]
pub struct MidiDecoder {
    channels: [ChannelState; 16],
    /// The channel of the last note started on each key, or `NO_CHANNEL`.
    key_channel: [u8; KEYS],
    /// Member channels of the lower zone (2..=1+n) and the upper zone (15-n..=15),
    /// 0 when the zone is off.
    lower: u8,
    upper: u8,
}

impl Default for MidiDecoder {
    fn default() -> Self {
        Self { channels: [ChannelState::default(); 16], key_channel: [NO_CHANNEL; KEYS], lower: 0, upper: 0 }
    }
}

impl MidiDecoder {
    /// Whether an MPE zone is set up.
    pub fn mpe(&self) -> bool {
        self.lower > 0 || self.upper > 0
    }

    /// Whether `channel` (0-based) is a member channel of an MPE zone.
    fn is_member(&self, channel: u8) -> bool {
        let c = channel & 0x0f;
        (self.lower > 0 && c >= 1 && c <= self.lower) || (self.upper > 0 && c <= 14 && c >= 15 - self.upper)
    }

    /// The member channels of the zone that `channel` belongs to (itself when none).
    fn zone_of(&self, channel: u8) -> std::ops::RangeInclusive<u8> {
        let c = channel & 0x0f;
        if self.lower > 0 && c <= self.lower {
            1..=self.lower
        } else if self.upper > 0 && c >= 15 - self.upper {
            15 - self.upper..=14
        } else {
            c..=c
        }
    }

    /// Decodes one message (`status`, `data1`, `data2`), calling `emit` for each event
    /// it means, in order. Messages the instrument ignores emit nothing.
    pub fn decode(&mut self, status: u8, d1: u8, d2: u8, mut emit: impl FnMut(Event)) {
        let ch = status & 0x0f;
        let (d1, d2) = (d1 & 0x7f, d2 & 0x7f);
        match status & 0xf0 {
            0x90 if d2 > 0 => {
                let key = d1;
                self.key_channel[key as usize] = ch;
                emit(Event::NoteOn { key, velocity: d2 });
                if self.is_member(ch) {
                    let s = self.channels[ch as usize];
                    if s.bend != 0.0 {
                        emit(Event::Expression { key, expression: Expression::Tuning(s.bend) });
                    }
                    if s.pressure > 0.0 {
                        emit(Event::Expression { key, expression: Expression::Pressure(s.pressure) });
                    }
                    if let Some(b) = s.brightness {
                        emit(Event::Expression { key, expression: Expression::Brightness(b) });
                    }
                }
            }
            0xD0 => {
                let pressure = d1 as f32 / 127.0;
                self.channels[ch as usize].pressure = pressure;
                self.for_keys_on(ch, |key| emit(Event::Expression { key, expression: Expression::Pressure(pressure) }));
            }
            0xE0 => {
                let value = d1 as u16 | (d2 as u16) << 7;
                let state = &mut self.channels[ch as usize];
                let bend = (value as f32 - 8192.0) / 8192.0 * state.bend_range;
                state.bend = bend;
                if self.is_member(ch) {
                    self.for_keys_on(ch, |key| emit(Event::Expression { key, expression: Expression::Tuning(bend) }));
                } else {
                    emit(Event::PitchBend(bend));
                }
            }
            0xB0 => match d1 {
                CC_BRIGHTNESS => {
                    let brightness = d2 as f32 / 127.0;
                    self.channels[ch as usize].brightness = Some(brightness);
                    self.for_keys_on(ch, |key| emit(Event::Expression { key, expression: Expression::Brightness(brightness) }));
                }
                101 => self.channels[ch as usize].rpn = (self.channels[ch as usize].rpn & 0x7f) | (d2 as u16) << 7,
                100 => self.channels[ch as usize].rpn = (self.channels[ch as usize].rpn & !0x7f) | d2 as u16,
                6 => self.data_entry(ch, d2),
                121 => {
                    let rpn = self.channels[ch as usize].rpn;
                    let range = self.channels[ch as usize].bend_range;
                    self.channels[ch as usize] = ChannelState { rpn, bend_range: range, ..ChannelState::default() };
                    if self.is_member(ch) {
                        self.for_keys_on(ch, |key| {
                            emit(Event::Expression { key, expression: Expression::Tuning(0.0) });
                            emit(Event::Expression { key, expression: Expression::Pressure(0.0) });
                        });
                    } else {
                        emit(Event::ResetControllers);
                    }
                }
                _ => {
                    if let Some((_, e)) = Event::from_midi(status, d1, d2) {
                        emit(e);
                    }
                }
            },
            _ => {
                if let Some((_, e)) = Event::from_midi(status, d1, d2) {
                    emit(e);
                }
            }
        }
    }

    /// The keys whose last note came from `channel`.
    fn for_keys_on(&self, channel: u8, mut f: impl FnMut(u8)) {
        for (key, &c) in self.key_channel.iter().enumerate() {
            if c == channel {
                f(key as u8);
            }
        }
    }

    /// CC6 (data entry, coarse) for the selected registered parameter.
    fn data_entry(&mut self, ch: u8, value: u8) {
        match self.channels[ch as usize].rpn {
            RPN_BEND_RANGE => {
                // In a zone the range is the zone's: MPE says a member channel's RPN 0
                // sets every member channel's.
                let range = value as f32;
                if self.is_member(ch) {
                    for c in self.zone_of(ch) {
                        self.channels[c as usize].bend_range = range;
                    }
                } else {
                    self.channels[ch as usize].bend_range = range;
                }
            }
            // The MPE Configuration Message, on a zone's manager channel: `value`
            // member channels (0 turns the zone off). Zones may not overlap: the
            // newer one shrinks the other, as MPE asks.
            RPN_MPE_CONFIGURATION if ch == 0 || ch == 15 => {
                let members = value.min(15);
                let was_member: [bool; 16] = std::array::from_fn(|c| self.is_member(c as u8));
                if ch == 0 {
                    self.lower = members;
                    self.upper = self.upper.min(14 - members.min(14));
                } else {
                    self.upper = members;
                    self.lower = self.lower.min(14 - members.min(14));
                }
                // A new zone starts from MPE's default ranges, and a channel that
                // leaves a zone from the ordinary one.
                for c in 0..16u8 {
                    if self.is_member(c) {
                        self.channels[c as usize].bend_range = MPE_MEMBER_BEND_RANGE;
                    } else if c == 0 || c == 15 || was_member[c as usize] {
                        self.channels[c as usize].bend_range = BEND_RANGE_SEMITONES;
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(d: &mut MidiDecoder, messages: &[[u8; 3]]) -> Vec<Event> {
        let mut out = Vec::new();
        for &[s, a, b] in messages {
            d.decode(s, a, b, |e| out.push(e));
        }
        out
    }

    fn tuning(key: u8, semitones: f32) -> Event {
        Event::Expression { key, expression: Expression::Tuning(semitones) }
    }

    /// RPN `rpn` set to `value` on `channel`.
    fn rpn(channel: u8, rpn: u8, value: u8) -> [[u8; 3]; 3] {
        [[0xB0 | channel, 101, 0], [0xB0 | channel, 100, rpn], [0xB0 | channel, 6, value]]
    }

    #[test]
    fn without_mpe_a_bend_moves_every_note_and_pressure_the_notes_of_its_channel() {
        let mut d = MidiDecoder::default();
        let out = decode(&mut d, &[[0x90, 60, 100], [0x91, 64, 100], [0xE1, 0x7f, 0x7f], [0xD0, 127, 0], [0xB1, 74, 0]]);
        assert!(!d.mpe());
        assert_eq!(out[2], Event::pitch_bend_from_midi(16383));
        assert_eq!(out[3], Event::Expression { key: 60, expression: Expression::Pressure(1.0) });
        assert_eq!(out[4], Event::Expression { key: 64, expression: Expression::Brightness(0.0) });
        assert_eq!(out.len(), 5);
        // RPN 0 widens a channel's range: 12 semitones, full up.
        let out = decode(&mut d, &[rpn(1, 0, 12)[0], rpn(1, 0, 12)[1], rpn(1, 0, 12)[2], [0xE1, 0, 0x40]]);
        assert_eq!(out, vec![Event::PitchBend(0.0)]);
        let out = decode(&mut d, &[[0xE1, 0, 0]]);
        assert_eq!(out, vec![Event::PitchBend(-12.0)]);
    }

    #[test]
    fn an_mpe_zone_gives_each_member_channel_its_own_notes() {
        let mut d = MidiDecoder::default();
        assert!(decode(&mut d, &rpn(0, 6, 3)).is_empty());
        assert!(d.mpe());
        // Bend and pressure sent before the note-on reach it with the note.
        let out = decode(&mut d, &[[0xE1, 0, 0x50], [0xD1, 64, 0], [0x91, 60, 90]]);
        let up = (0x50 << 7) as f32;
        let semitones = (up - 8192.0) / 8192.0 * MPE_MEMBER_BEND_RANGE;
        assert_eq!(out, vec![Event::NoteOn { key: 60, velocity: 90 }, tuning(60, semitones), Event::Expression { key: 60, expression: Expression::Pressure(64.0 / 127.0) }]);
        // Another member's bend tunes its note only; the manager's bends them all.
        let out = decode(&mut d, &[[0x92, 67, 90], [0xE2, 0, 0]]);
        assert_eq!(out, vec![Event::NoteOn { key: 67, velocity: 90 }, tuning(67, -MPE_MEMBER_BEND_RANGE)]);
        assert_eq!(decode(&mut d, &[[0xE0, 0x7f, 0x7f]]), vec![Event::pitch_bend_from_midi(16383)]);
        // Channel 5 is outside the 3-member zone: its bend is the ordinary kind.
        assert_eq!(decode(&mut d, &[[0xE4, 0, 0]]), vec![Event::PitchBend(-BEND_RANGE_SEMITONES)]);
        // RPN 0 on a member sets the whole zone's range.
        decode(&mut d, &rpn(3, 0, 24));
        assert_eq!(decode(&mut d, &[[0xE2, 0, 0]]), vec![tuning(67, -24.0)]);
        assert_eq!(decode(&mut d, &[[0xE1, 0, 0]]), vec![tuning(60, -24.0)]);
        // The zone turned off: bends are global again.
        decode(&mut d, &rpn(0, 6, 0));
        assert!(!d.mpe());
        assert_eq!(decode(&mut d, &[[0xE1, 0, 0]]), vec![Event::PitchBend(-BEND_RANGE_SEMITONES)]);
    }

    #[test]
    fn the_upper_zone_counts_down_from_channel_15_and_zones_never_overlap() {
        let mut d = MidiDecoder::default();
        decode(&mut d, &rpn(15, 6, 4));
        assert!((11..=14).all(|c| d.is_member(c)) && !d.is_member(10) && !d.is_member(15));
        decode(&mut d, &[[0x9E, 70, 90]]);
        assert_eq!(decode(&mut d, &[[0xEE, 0, 0]]), vec![tuning(70, -MPE_MEMBER_BEND_RANGE)]);
        // A lower zone of 12 leaves the upper zone two members.
        decode(&mut d, &rpn(0, 6, 12));
        assert!((1..=12).all(|c| d.is_member(c)) && (13..=14).all(|c| d.is_member(c)));
        assert_eq!(d.upper, 2);
        // Out-of-range bytes are masked, never indexed past the end.
        let mut out = Vec::new();
        d.decode(0xFF, 0xFF, 0xFF, |e| out.push(e));
        d.decode(0xEF, 0xFF, 0xFF, |e| out.push(e));
        assert!(out.iter().all(|e| !matches!(e, Event::PitchBend(b) if !b.is_finite())));
    }
}
