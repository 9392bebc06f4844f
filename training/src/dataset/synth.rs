//! SoundFont rendering with rustysynth at the model rate, reverb and chorus off,
//! every melodic channel forced onto one GM program.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use melwave::contract::SAMPLE_RATE;
use melwave::midi_file::{Song, DRUM_CHANNEL};
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

/// Renders `song` on `program`, mono, at 24 kHz, for `length` seconds.
pub fn render(sf: &Arc<SoundFont>, song: &Song, program: u8, length: f64) -> Result<Vec<f32>> {
    let mut settings = SynthesizerSettings::new(SAMPLE_RATE as i32);
    settings.enable_reverb_and_chorus = false;
    let mut synth = Synthesizer::new(sf, &settings).map_err(|e| anyhow::anyhow!("cannot start the synthesizer: {e:?}"))?;
    for ch in 0..16 {
        if ch != DRUM_CHANNEL as i32 {
            synth.process_midi_message(ch, 0xC0, program as i32, 0);
        }
    }
    let total = (length * SAMPLE_RATE as f64).ceil() as usize;
    if total == 0 {
        bail!("nothing to render");
    }
    let (mut left, mut right) = (vec![0.0f32; total], vec![0.0f32; total]);
    let mut pos = 0usize;
    for e in &song.events {
        if e.channel == DRUM_CHANNEL {
            continue;
        }
        let at = ((e.seconds * SAMPLE_RATE as f64).floor().max(0.0) as usize).min(total);
        if at > pos {
            synth.render(&mut left[pos..at], &mut right[pos..at]);
            pos = at;
        }
        let [status, d1, d2] = e.raw;
        synth.process_midi_message((status & 0x0f) as i32, (status & 0xf0) as i32, d1 as i32, d2 as i32);
    }
    if pos < total {
        synth.render(&mut left[pos..], &mut right[pos..]);
    }
    Ok(left.iter().zip(&right).map(|(l, r)| 0.5 * (l + r)).collect())
}
