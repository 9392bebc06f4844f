//! Standard MIDI files → instrument events on a seconds timeline. Type 0 and type 1
//! files are read with midly: every track and channel merged, the tempo map applied.
//! Training and the offline renderer both read MIDI through here.

use std::path::Path;

use midly::live::LiveEvent;
use midly::{MetaMessage, MidiMessage, Timing, TrackEventKind};

use crate::features::{Event, MidiDecoder, TimedEvent};

/// The General MIDI percussion channel (channel 10, zero-based 9).
pub const DRUM_CHANNEL: u8 = 9;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SongEvent {
    pub seconds: f64,
    pub channel: u8,
    pub event: Event,
}

#[derive(Clone, Debug, Default)]
pub struct Song {
    /// Sorted by time; events at the same time keep their file order.
    pub events: Vec<SongEvent>,
    /// Time of the last event (including end-of-track), in seconds.
    pub duration: f64,
    /// Tracks whose reading stopped at a damaged event. The events before the damage
    /// are in `events`; what follows it in that track is lost, so a caller must say so
    /// (the CLI warns and exits non-zero, training warns and keeps the rest).
    pub damage: Vec<Damage>,
}

/// Where a track could not be read on: its events from here on are missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The track's index in the file, from 0.
    pub track: usize,
    /// The damaged event's first byte, from the start of the file.
    pub offset: usize,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "track {} has a damaged event at byte {}; the rest of that track is not read", self.track, self.offset)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MidiError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("not a MIDI file (no MThd header)")]
    NotMidi,
    #[error("truncated MIDI file: {0}")]
    Truncated(String),
    #[error("invalid MIDI file: {0}")]
    Invalid(String),
    #[error("type-2 (sequential) MIDI files are not supported")]
    Type2,
}

/// Walks the chunk headers: midly reads a cut-off track silently as far as it goes,
/// but a file whose chunks run past its end was cut off and is refused. Returns where
/// each track's data starts and how long it is.
fn check_chunks(bytes: &[u8]) -> Result<Vec<(usize, usize)>, MidiError> {
    if bytes.len() < 14 || &bytes[..4] != b"MThd" {
        return Err(MidiError::NotMidi);
    }
    let mut pos = 0usize;
    let mut tracks = Vec::new();
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_be_bytes([bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]]) as usize;
        let end = pos.checked_add(8 + len).ok_or_else(|| MidiError::Invalid("chunk length overflows".into()))?;
        if end > bytes.len() {
            return Err(MidiError::Truncated(format!("{} chunk at byte {pos} declares {len} bytes but only {} remain", String::from_utf8_lossy(id), bytes.len() - pos - 8)));
        }
        if id == b"MTrk" {
            tracks.push((pos + 8, len));
        }
        pos = end;
    }
    let declared = u16::from_be_bytes([bytes[10], bytes[11]]) as usize;
    if tracks.len() < declared {
        return Err(MidiError::Truncated(format!("header declares {declared} tracks, file holds {}", tracks.len())));
    }
    Ok(tracks)
}

/// Reads a standard MIDI file. A damaged event does not fail the parse: its track is
/// read up to it, and [`Song::damage`] says where it is.
pub fn parse(bytes: &[u8]) -> Result<Song, MidiError> {
    let chunks = check_chunks(bytes)?;
    let (header, _) = midly::parse(bytes).map_err(|e| MidiError::Invalid(e.to_string()))?;
    if matches!(header.format, midly::Format::Sequential) {
        return Err(MidiError::Type2);
    }
    // Absolute ticks of every event, then the tempo map over them.
    let mut tempo: Vec<(u64, u32)> = Vec::new();
    let mut raw: Vec<(u64, usize, u8, MidiMessage)> = Vec::new();
    let mut damage = Vec::new();
    let mut last_tick = 0u64;
    let mut order = 0usize;
    for (index, &(start, len)) in chunks.iter().enumerate() {
        let mut tick = 0u64;
        // midly ends a track at a damaged event without a word (its `strict` feature
        // would refuse the whole file instead), so the iterator's unread bytes tell
        // where it stopped.
        let mut events = midly::EventIter::new(&bytes[start..start + len]);
        loop {
            let before = events.unread().len();
            let Some(ev) = events.next() else {
                if before > 0 {
                    damage.push(Damage { track: index, offset: start + len - before });
                }
                break;
            };
            let Ok(ev) = ev else {
                damage.push(Damage { track: index, offset: start + len - before });
                break;
            };
            tick += ev.delta.as_int() as u64;
            match ev.kind {
                TrackEventKind::Midi { channel, message } => {
                    raw.push((tick, order, channel.as_int(), message));
                    order += 1;
                }
                TrackEventKind::Meta(MetaMessage::Tempo(t)) => tempo.push((tick, t.as_int().max(1))),
                // Bytes after a track's end are not part of it.
                TrackEventKind::Meta(MetaMessage::EndOfTrack) => break,
                _ => {}
            }
        }
        last_tick = last_tick.max(tick);
    }
    tempo.sort_by_key(|t| t.0);
    raw.sort_by_key(|r| (r.0, r.1));

    let seconds_at = |tick: u64| -> f64 {
        match header.timing {
            Timing::Metrical(tpq) => {
                let tpq = tpq.as_int().max(1) as f64;
                let mut secs = 0.0;
                let mut at = 0u64;
                let mut us_per_q = 500_000.0;
                for &(t, us) in tempo.iter().take_while(|(t, _)| *t <= tick) {
                    secs += (t - at) as f64 * us_per_q / tpq / 1e6;
                    at = t;
                    us_per_q = us as f64;
                }
                secs + (tick - at) as f64 * us_per_q / tpq / 1e6
            }
            Timing::Timecode(fps, sub) => tick as f64 / (fps.as_f32() as f64 * sub.max(1) as f64),
        }
    };

    let mut events = Vec::with_capacity(raw.len());
    let mut bytes = Vec::with_capacity(3);
    // Channel state (bend ranges, channel pressure, MPE zones) as a live MIDI input keeps it.
    let mut decoder = MidiDecoder::default();
    for (tick, _, channel, message) in raw {
        bytes.clear();
        // One codec for every source: midly's message back to its bytes, then the
        // instrument's own decoder.
        let live = LiveEvent::Midi { channel: channel.into(), message };
        if live.write_std(&mut bytes).is_err() || bytes.is_empty() {
            continue;
        }
        let status = bytes[0];
        let (d1, d2) = (bytes.get(1).copied().unwrap_or(0), bytes.get(2).copied().unwrap_or(0));
        let seconds = seconds_at(tick);
        decoder.decode(status, d1, d2, |event| events.push(SongEvent { seconds, channel, event }));
    }
    let duration = seconds_at(last_tick).max(events.last().map_or(0.0, |e| e.seconds));
    Ok(Song { events, duration, damage })
}

pub fn load(path: &Path) -> Result<Song, MidiError> {
    let bytes = std::fs::read(path).map_err(|source| MidiError::Read { path: path.display().to_string(), source })?;
    parse(&bytes)
}

impl Song {
    /// The events on a sample clock at `rate` Hz, without the drum channel (its notes
    /// are not pitches), sorted by time.
    pub fn timed_events(&self, rate: u32) -> Vec<TimedEvent> {
        self.events.iter().filter(|e| e.channel != DRUM_CHANNEL).map(|e| TimedEvent { time: (e.seconds * rate as f64).floor().max(0.0) as u64, event: e.event }).collect()
    }
}

/// Ticks per quarter note of the files [`Song::to_smf`] writes; with its fixed tempo of
/// 120 bpm that is 1920 ticks per second, a resolution of 0.52 ms.
pub const WRITE_TICKS_PER_QUARTER: u16 = 960;
const WRITE_MICROS_PER_QUARTER: u32 = 500_000;

impl Song {
    /// A type-0 standard MIDI file that [`parse`] reads back as this song (times to
    /// the nearest tick): the other half of the codec, for tools and tests that hand
    /// a performance to another program.
    pub fn to_smf(&self) -> Vec<u8> {
        use midly::num::{u15, u24, u28, u4};
        use midly::{Format, Header, Smf, TrackEvent};
        let ticks_per_second = WRITE_TICKS_PER_QUARTER as f64 * 1e6 / WRITE_MICROS_PER_QUARTER as f64;
        let mut track: Vec<TrackEvent<'static>> = vec![TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new(WRITE_MICROS_PER_QUARTER))) }];
        let mut last = 0u64;
        let mut messages = Vec::new();
        for e in &self.events {
            let Some(bytes) = e.event.to_midi(e.channel & 0x0f) else { continue };
            let Ok(LiveEvent::Midi { channel, message }) = LiveEvent::parse(&bytes) else { continue };
            let tick = (e.seconds.max(0.0) * ticks_per_second).round() as u64;
            messages.push((tick, channel, message));
        }
        for (tick, channel, message) in messages {
            let delta = tick.saturating_sub(last).min(u28::max_value().as_int() as u64);
            last = tick;
            track.push(TrackEvent { delta: u28::new(delta as u32), kind: TrackEventKind::Midi { channel: u4::new(channel.as_int()), message } });
        }
        let end = ((self.duration.max(0.0) * ticks_per_second).round() as u64).saturating_sub(last);
        track.push(TrackEvent { delta: u28::new(end.min(u28::max_value().as_int() as u64) as u32), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
        let smf = Smf { header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(WRITE_TICKS_PER_QUARTER))), tracks: vec![track] };
        let mut out = Vec::new();
        smf.write_std(&mut out).expect("writing to memory cannot fail");
        out
    }
}
