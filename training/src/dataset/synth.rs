//! SoundFont rendering with rustysynth at the model rate, reverb and chorus off, the
//! instrument's own (channel-merged) events played on one GM program.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use melwave::contract::SAMPLE_RATE;
use melwave::features::{Event, HeldKeys, TimedEvent};
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

pub const DEFAULT_FONT: &str = "/usr/share/sounds/sf2/FluidR3_GM.sf2";

pub fn load_font(path: &Path) -> Result<Arc<SoundFont>> {
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open SoundFont {}", path.display()))?;
    let sf = SoundFont::new(&mut file).map_err(|e| anyhow::anyhow!("{} is not a readable SF2 SoundFont: {e:?}", path.display()))?;
    Ok(Arc::new(sf))
}

/// A preset as the font lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preset {
    pub bank: u8,
    pub program: u8,
    pub name: String,
}

/// Every melodic preset of the font (percussion banks, 128 and up, left out), by bank
/// then program.
pub fn presets(sf: &SoundFont) -> Vec<Preset> {
    let mut all: Vec<Preset> = sf
        .get_presets()
        .iter()
        .filter(|p| (0..128).contains(&p.get_bank_number()) && (0..128).contains(&p.get_patch_number()))
        .map(|p| Preset { bank: p.get_bank_number() as u8, program: p.get_patch_number() as u8, name: p.get_name().trim().to_string() })
        .collect();
    all.sort_by_key(|p| (p.bank, p.program));
    all.dedup_by_key(|p| (p.bank, p.program));
    all
}

/// The font's preset name for each program in `bank`. rustysynth silently falls back
/// to another preset when one is missing, so a missing preset is an error here, and
/// the error lists what the font has, so the user can pick one.
pub fn preset_names(sf: &SoundFont, bank: u8, programs: &[u8]) -> Result<Vec<String>> {
    let all = presets(sf);
    let missing: Vec<u8> = programs.iter().copied().filter(|&p| !all.iter().any(|pr| pr.bank == bank && pr.program == p)).collect();
    if !missing.is_empty() {
        let list: Vec<String> = all.iter().map(|p| format!("{}:{} {}", p.bank, p.program, p.name)).collect();
        let what = missing.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
        let banks: std::collections::BTreeSet<u8> = all.iter().map(|p| p.bank).collect();
        let banks: Vec<String> = banks.iter().map(|b| b.to_string()).collect();
        bail!("the SoundFont has no preset for program {what} in bank {bank} (its banks: {}); its presets, as bank:program name: {}", banks.join(", "), list.join(", "));
    }
    Ok(programs.iter().map(|&p| all.iter().find(|pr| pr.bank == bank && pr.program == p).expect("checked above").name.clone()).collect())
}

/// Leaves in `song` only what [`render`] plays as the features see it: per-note
/// expression goes (a file's channel pressure and CC74 would reach the features, and
/// one merged channel cannot give them to the synth note by note), and bends are
/// held to the ±2 semitones a bend message carries to the synth (a file's RPN 0 may
/// widen its range for the features).
pub fn keep_what_it_plays(song: &mut melwave::midi_file::Song) {
    let range = melwave::features::events::BEND_RANGE_SEMITONES;
    song.events.retain(|e| !matches!(e.event, Event::Expression { .. }));
    for e in &mut song.events {
        if let Event::PitchBend(s) = &mut e.event {
            *s = s.clamp(-range, range);
        }
    }
}

/// The MIDI messages a single-channel synth must receive for one engine event so
/// that it plays what the featurizer sees: notes counted per key across the merged
/// channels (a key is released by its last note-off), and a note struck on a key that
/// still sounds re-struck (note-off, then note-on).
fn merged_messages(held: &mut HeldKeys, event: &Event, out: &mut Vec<[u8; 3]>) {
    match *event {
        Event::NoteOn { key, .. } => {
            if held.press(key as usize) {
                out.extend(Event::NoteOff { key }.to_midi(0));
            }
            out.extend(event.to_midi(0));
        }
        Event::NoteOff { key } => {
            if held.release(key as usize) {
                out.extend(event.to_midi(0));
            }
        }
        Event::Choke { key } => {
            held.clear(key as usize);
            out.extend(event.to_midi(0));
        }
        Event::AllNotesOff | Event::AllSoundOff => {
            held.clear_all();
            out.extend(event.to_midi(0));
        }
        Event::Sustain(_) | Event::PitchBend(_) | Event::ResetControllers => out.extend(event.to_midi(0)),
        // Per-note expression never reaches the training material (see
        // `keep_what_it_plays`); pressure would be polyphonic aftertouch.
        Event::Expression { .. } => out.extend(event.to_midi(0)),
    }
}

/// Renders `events` (model samples, sorted, channels already merged as the
/// featurizer merges them) on `program` of `bank`, mono, at 24 kHz, for `length`
/// seconds.
/// Everything plays on one MIDI channel, so there is one bend and one pedal, as in
/// the features; controllers the features do not see (volume, expression, pan)
/// never reach the synth, so the level follows the velocities alone.
pub fn render(sf: &Arc<SoundFont>, events: &[TimedEvent], bank: u8, program: u8, length: f64) -> Result<Vec<f32>> {
    let mut settings = SynthesizerSettings::new(SAMPLE_RATE as i32);
    settings.enable_reverb_and_chorus = false;
    let mut synth = Synthesizer::new(sf, &settings).map_err(|e| anyhow::anyhow!("cannot start the synthesizer: {e:?}"))?;
    // Bank select (CC 0), then the program change that applies it.
    synth.process_midi_message(0, 0xB0, 0, bank as i32);
    synth.process_midi_message(0, 0xC0, program as i32, 0);
    let total = (length * SAMPLE_RATE as f64).ceil() as usize;
    if total == 0 {
        bail!("nothing to render");
    }
    let (mut left, mut right) = (vec![0.0f32; total], vec![0.0f32; total]);
    let mut pos = 0usize;
    let mut held = HeldKeys::default();
    let mut messages = Vec::with_capacity(4);
    for e in events {
        let at = (e.time as usize).min(total);
        if at > pos {
            synth.render(&mut left[pos..at], &mut right[pos..at]);
            pos = at;
        }
        messages.clear();
        merged_messages(&mut held, &e.event, &mut messages);
        for [status, d1, d2] in &messages {
            synth.process_midi_message((status & 0x0f) as i32, (status & 0xf0) as i32, *d1 as i32, *d2 as i32);
        }
    }
    if pos < total {
        synth.render(&mut left[pos..], &mut right[pos..]);
    }
    Ok(left.iter().zip(&right).map(|(l, r)| 0.5 * (l + r)).collect())
}
