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

/// The font's bank-0 preset name for each program. rustysynth silently falls back to
/// another preset when one is missing, so a missing preset is an error here.
pub fn preset_names(sf: &SoundFont, programs: &[u8]) -> Result<Vec<String>> {
    programs
        .iter()
        .map(|&p| {
            sf.get_presets()
                .iter()
                .find(|pr| pr.get_bank_number() == 0 && pr.get_patch_number() == p as i32)
                .map(|pr| pr.get_name().trim().to_string())
                .with_context(|| format!("the SoundFont has no bank-0 preset for GM program {p}"))
        })
        .collect()
}

/// The MIDI messages a single-channel synth must receive for one engine event so
/// that it plays what the featurizer sees: notes counted per key across the merged
/// channels (a key is released by its last note-off), and a note struck on a key that
/// still sounds re-struck (note-off, then note-on).
fn merged_messages(held: &mut HeldKeys, event: &Event, out: &mut Vec<[u8; 3]>) {
    match *event {
        Event::NoteOn { key, .. } => {
            if held.press(key as usize) {
                out.push(Event::NoteOff { key }.to_midi(0));
            }
            out.push(event.to_midi(0));
        }
        Event::NoteOff { key } => {
            if held.release(key as usize) {
                out.push(event.to_midi(0));
            }
        }
        Event::Choke { key } => {
            held.clear(key as usize);
            out.push(event.to_midi(0));
        }
        Event::AllNotesOff | Event::AllSoundOff => {
            held.clear_all();
            out.push(event.to_midi(0));
        }
        Event::Sustain(_) | Event::PitchBend(_) | Event::ResetControllers => out.push(event.to_midi(0)),
    }
}

/// Renders `events` (model samples, sorted, channels already merged as the
/// featurizer merges them) on `program`, mono, at 24 kHz, for `length` seconds.
/// Everything plays on one MIDI channel, so there is one bend and one pedal, as in
/// the features; controllers the features do not see (volume, expression, pan)
/// never reach the synth, so the level follows the velocities alone.
pub fn render(sf: &Arc<SoundFont>, events: &[TimedEvent], program: u8, length: f64) -> Result<Vec<f32>> {
    let mut settings = SynthesizerSettings::new(SAMPLE_RATE as i32);
    settings.enable_reverb_and_chorus = false;
    let mut synth = Synthesizer::new(sf, &settings).map_err(|e| anyhow::anyhow!("cannot start the synthesizer: {e:?}"))?;
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
