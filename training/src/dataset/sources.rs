//! Real MIDI from Debian packages (installed by `cargo xtask train`, never
//! committed), cut into excerpts.

use std::path::PathBuf;
use std::process::Command;

use melwave::features::Event;
use melwave::midi_file::{Song, SongEvent, DRUM_CHANNEL};

/// The Debian packages whose MIDI files the dataset draws on.
pub const MIDI_PACKAGES: [&str; 5] = ["simutrans-data", "openttd-openmsx", "planetblupi-music-midi", "mma", "freedink-data"];

/// Every `.mid` file the installed packages hold, sorted (so the list, and with it the
/// dataset, is the same on every machine with the same packages).
pub fn debian_midi_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for pkg in MIDI_PACKAGES {
        let Ok(out) = Command::new("dpkg").args(["-L", pkg]).output() else { continue };
        if !out.status.success() {
            continue;
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let lower = line.to_ascii_lowercase();
            if (lower.ends_with(".mid") || lower.ends_with(".midi")) && std::path::Path::new(line).is_file() {
                files.push(PathBuf::from(line));
            }
        }
    }
    files.sort();
    files.dedup();
    files
}

/// The part of `song` in `[start, start + length)`, shifted to start at 0, without the
/// drum channel, with every note still held at the end released there.
pub fn excerpt(song: &Song, start: f64, length: f64) -> Song {
    let end = start + length;
    let mut held = [[false; 128]; 16];
    let mut events: Vec<SongEvent> = Vec::new();
    for e in &song.events {
        if e.channel == DRUM_CHANNEL || e.seconds < start || e.seconds >= end {
            continue;
        }
        let ch = e.channel as usize & 15;
        match e.event {
            Event::NoteOn { key, .. } => held[ch][key as usize & 127] = true,
            Event::NoteOff { key } => {
                // A note-off for a note that began before the excerpt has nothing to end.
                if !held[ch][key as usize & 127] {
                    continue;
                }
                held[ch][key as usize & 127] = false;
            }
            _ => {}
        }
        events.push(SongEvent { seconds: e.seconds - start, ..*e });
    }
    for (ch, keys) in held.iter().enumerate() {
        for (k, &on) in keys.iter().enumerate() {
            if on {
                events.push(SongEvent { seconds: length, channel: ch as u8, event: Event::NoteOff { key: k as u8 } });
            }
        }
        events.push(SongEvent { seconds: length, channel: ch as u8, event: Event::Sustain(false) });
    }
    let duration = length.min(song.duration - start).max(0.0);
    Song { events, duration, damage: Vec::new() }
}
