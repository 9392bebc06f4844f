//! Recordings as fitting material: `NAME.wav` beside `NAME.mid` (the MIDI performance
//! of the recording), brought to the model rate, and refused when the two do not line
//! up, because a point fitted to misaligned pairs learns the wrong attack.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use melwave::contract::{HOP, SAMPLE_RATE};
use melwave::engine::resample::clip_to_model_rate;
use melwave::features::{Event, TimedEvent};

use super::Take;

/// The most a recording may lead or lag its MIDI file.
pub const MAX_OFFSET_SECONDS: f64 = 0.020;
/// Offsets searched by the onset cross-correlation, in frames either side (±341 ms).
const SEARCH_FRAMES: i64 = 64;
/// Below this peak (−80 dBFS) a recording counts as silent.
const SILENT_PEAK: f32 = 1e-4;
/// Fewer notes than this give no trustworthy alignment.
const MIN_ONSETS: usize = 3;

/// One checked pair.
pub struct Recording {
    pub take: Take,
    /// Audio time minus MIDI time, as measured (positive: the audio is late).
    pub offset_seconds: f64,
    /// The WAV's own rate, before resampling.
    pub source_rate: u32,
}

/// Every `NAME.wav` in `dir` with its `NAME.mid` (or `.midi`), sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Recording>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read the recordings folder {}", dir.display()))?;
    let mut wavs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav"))).collect();
    wavs.sort();
    if wavs.is_empty() {
        bail!("{} holds no .wav files; put pairs NAME.wav + NAME.mid there", dir.display());
    }
    wavs.iter().map(|w| load_pair(w)).collect()
}

fn midi_beside(wav: &Path) -> Result<PathBuf> {
    for ext in ["mid", "midi", "MID", "MIDI"] {
        let p = wav.with_extension(ext);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!("{} has no MIDI file beside it ({} expected)", wav.display(), wav.with_extension("mid").display())
}

/// Reads, checks and aligns one pair.
pub fn load_pair(wav: &Path) -> Result<Recording> {
    let mid = midi_beside(wav)?;
    let (audio, rate) = read_wav(wav)?;
    let mut audio = clip_to_model_rate(&audio, rate).map_err(anyhow::Error::msg).with_context(|| format!("resampling {}", wav.display()))?;
    audio.truncate(audio.len() / HOP * HOP);
    if audio.is_empty() {
        bail!("{} is shorter than one frame ({HOP} samples at {SAMPLE_RATE} Hz)", wav.display());
    }
    let song = melwave::midi_file::load(&mid).with_context(|| format!("cannot use {}", mid.display()))?;
    let events: Vec<TimedEvent> = song.timed_events(SAMPLE_RATE).into_iter().filter(|e| (e.time as usize) < audio.len()).collect();
    let onsets = events.iter().filter(|e| matches!(e.event, Event::NoteOn { .. })).count();
    if onsets < MIN_ONSETS {
        bail!(
            "{} has {onsets} notes inside the recording's {:.1} s; at least {MIN_ONSETS} are needed to check the alignment",
            mid.display(),
            audio.len() as f64 / SAMPLE_RATE as f64
        );
    }
    let offset = onset_offset(&audio, &events).with_context(|| format!("{} against {}", wav.display(), mid.display()))?;
    if offset.abs() > MAX_OFFSET_SECONDS {
        bail!(
            "{} is {:.0} ms {} against {} (onset cross-correlation); the most allowed is {:.0} ms. Align the two (trim the audio or move the MIDI) and try again",
            wav.display(),
            offset.abs() * 1e3,
            if offset > 0.0 { "late" } else { "early" },
            mid.display(),
            MAX_OFFSET_SECONDS * 1e3
        );
    }
    let name = wav.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Recording { take: Take { name, audio, events }, offset_seconds: offset, source_rate: rate })
}

/// Mono samples and the rate; every failure names the file and what is wrong.
fn read_wav(path: &Path) -> Result<(Vec<f32>, u32)> {
    let mut reader = hound::WavReader::open(path).with_context(|| format!("{} is not a readable WAV file", path.display()))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        bail!("{} declares {} channels at {} Hz", path.display(), spec.channels, spec.sample_rate);
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>()
        }
    }
    .with_context(|| format!("{} is corrupt", path.display()))?;
    let ch = spec.channels as usize;
    let mono: Vec<f32> = interleaved.chunks_exact(ch).map(|f| f.iter().sum::<f32>() / ch as f32).collect();
    if mono.is_empty() {
        bail!("{} holds no samples", path.display());
    }
    if mono.iter().any(|v| !v.is_finite()) {
        bail!("{} holds non-finite samples", path.display());
    }
    let peak = mono.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak < SILENT_PEAK {
        bail!("{} is silent (peak {:.0} dBFS)", path.display(), 20.0 * peak.max(1e-12).log10());
    }
    Ok((mono, spec.sample_rate))
}

/// How much later the audio's onsets come than the MIDI's, in seconds: the lag that
/// maximises the cross-correlation of the audio's onset strength with the MIDI's
/// note-ons, refined between frames by a parabola through the peak.
///
/// Onset strength is the rise in log energy of the first difference (which weighs the
/// bright attack over the sustained body) from one hop to the next, over unwindowed
/// hops, so that an onset lands in its own frame or the next and the estimate is not
/// pulled early by a long analysis window.
pub fn onset_offset(audio: &[f32], events: &[TimedEvent]) -> Result<f64> {
    let frames = audio.len() / HOP;
    let energy: Vec<f64> = (0..frames)
        .map(|t| {
            let e: f64 = (t * HOP..(t + 1) * HOP).map(|i| if i == 0 { 0.0 } else { (audio[i] - audio[i - 1]) as f64 }).map(|d| d * d).sum();
            (e / HOP as f64 + 1e-10).ln()
        })
        .collect();
    let flux: Vec<f64> = (0..frames).map(|t| if t == 0 { 0.0 } else { (energy[t] - energy[t - 1]).max(0.0) }).collect();
    let mut notes = vec![0.0f64; frames];
    for e in events {
        if let Event::NoteOn { .. } = e.event {
            let t = e.time as usize / HOP;
            if t < frames {
                notes[t] += 1.0;
            }
        }
    }
    let corr = |lag: i64| -> f64 {
        (0..frames as i64).filter(|&t| notes[t as usize] > 0.0).map(|t| t + lag).filter(|&u| u >= 0 && (u as usize) < frames).map(|u| flux[u as usize]).sum::<f64>()
    };
    let lags: Vec<(i64, f64)> = (-SEARCH_FRAMES..=SEARCH_FRAMES).map(|l| (l, corr(l))).collect();
    let &(best, peak) = lags.iter().max_by(|a, b| a.1.total_cmp(&b.1)).expect("a non-empty search range");
    let mean = lags.iter().map(|l| l.1).sum::<f64>() / lags.len() as f64;
    if peak <= mean * 1.5 || peak <= 0.0 {
        bail!("the recording's onsets do not follow the MIDI file's notes at any offset within ±{} ms", SEARCH_FRAMES as usize * HOP * 1000 / SAMPLE_RATE as usize);
    }
    let at = |l: i64| lags.iter().find(|x| x.0 == l).map_or(peak, |x| x.1);
    let (a, b, c) = (at(best - 1), peak, at(best + 1));
    let denom = a - 2.0 * b + c;
    let frac = if denom < 0.0 { (0.5 * (a - c) / denom).clamp(-0.5, 0.5) } else { 0.0 };
    Ok((best as f64 + frac) * HOP as f64 / SAMPLE_RATE as f64)
}
