//! Offline rendering through the real streaming engine: the renderer plays host,
//! pushing events block by block and pulling audio exactly as a DAW would, except
//! that it waits for the inference thread instead of counting underruns. The
//! engine's latency is then trimmed from the front, as a host's delay compensation
//! would, so that the result lines up with the MIDI.

use std::time::Instant;

use crate::contract::{ModelBytes, TimbrePlane};
use crate::engine::{self, EngineConfig, EngineError, Latency, Stats};
use crate::features::audio_in::{AudioInSettings, AudioToNotes};
use crate::features::TimedEvent;
use crate::runtime::ProviderReport;

#[derive(Clone, Debug, PartialEq)]
pub enum Timbre {
    /// The first instrument of the model.
    Default,
    /// An instrument by name or GM program number.
    Instrument(String),
    /// A pad position, each axis 0..1.
    Pad(f32, f32),
}

impl Timbre {
    /// Resolves to a pad position, or explains which instruments exist.
    pub fn resolve(&self, model: &ModelBytes) -> Result<(f32, f32), String> {
        let plane = TimbrePlane::new(&model.manifest.instruments);
        match self {
            Timbre::Default => Ok(plane.to_pad(&model.manifest.instruments[0].point)),
            Timbre::Instrument(name) => match model.manifest.instrument(name) {
                Some(i) => Ok(plane.to_pad(&i.point)),
                None => {
                    let names: Vec<_> = model.manifest.instruments.iter().map(|i| i.name.as_str()).collect();
                    Err(format!("unknown instrument `{name}`; this model has: {}", names.join(", ")))
                }
            },
            Timbre::Pad(x, y) => {
                if !(0.0..=1.0).contains(x) || !(0.0..=1.0).contains(y) {
                    return Err(format!("timbre {x},{y} is off the pad: both coordinates must be within 0..1"));
                }
                Ok((*x, *y))
            }
        }
    }
}

/// The longest render the offline renderer takes: an hour of audio. The whole render
/// is held in memory (at 192 kHz an hour is 2.8 GB of samples), and a MIDI file can
/// declare a length of years in a few bytes.
pub const MAX_RENDER_SECONDS: f64 = 3600.0;

/// The number of host samples in `seconds` of output at `rate`, or why it is refused.
pub fn output_length(seconds: f64, rate: u32) -> Result<usize, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("the song's length ({seconds} s) is not a length"));
    }
    if seconds > MAX_RENDER_SECONDS {
        return Err(format!(
            "the song lasts {:.0} s with its tail, longer than the {MAX_RENDER_SECONDS:.0} s the renderer takes (a damaged tempo or timing can make a short file last years)",
            seconds
        ));
    }
    Ok((seconds * rate as f64).ceil() as usize)
}

pub struct Rendered {
    pub audio: Vec<f32>,
    pub sample_rate: u32,
    pub wall_seconds: f64,
    pub provider: ProviderReport,
    pub latency: Latency,
    pub stats: Stats,
}

impl Rendered {
    pub fn duration_seconds(&self) -> f64 {
        self.audio.len() as f64 / self.sample_rate as f64
    }

    /// Wall time over audio time.
    pub fn real_time_factor(&self) -> f64 {
        self.wall_seconds / self.duration_seconds().max(1e-9)
    }
}

/// Renders `events` (stamped in host samples at `config.sample_rate`, sorted) to
/// `length` samples, in host blocks of `block` samples.
pub fn render(
    model: &ModelBytes,
    config: &EngineConfig,
    timbre: (f32, f32),
    events: &[TimedEvent],
    length: usize,
    block: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<Rendered, EngineError> {
    if block == 0 || block > config.max_block {
        return Err(EngineError::BlockSize(block));
    }
    let (mut audio, handle) = engine::start(model, config)?;
    audio.set_timbre(0, timbre.0, timbre.1);
    let latency = handle.latency();
    let total = length.checked_add(latency.total()).ok_or(EngineError::RenderLength(length))?;
    let mut out = vec![0.0f32; total];
    let start = Instant::now();
    let mut next = 0;
    let mut pos = 0;
    while pos < total {
        let b = block.min(total - pos);
        let end = (pos + b) as u64;
        while next < events.len() && events[next].time < end {
            let offset = events[next].time.saturating_sub(pos as u64) as usize;
            audio.push_event(offset, events[next].event);
            next += 1;
        }
        audio.wait_for_inference(b);
        audio.process(&mut out[pos..pos + b]);
        pos += b;
        progress(pos, total);
    }
    let wall_seconds = start.elapsed().as_secs_f64();
    out.drain(..latency.total());
    Ok(Rendered { audio: out, sample_rate: config.sample_rate, wall_seconds, provider: handle.provider().clone(), latency, stats: handle.monitor().stats() })
}

/// The events the audio-in front end hears in `input` (mono, at `rate`), stamped in
/// its samples, with every note ended at the input's end.
pub fn events_from_audio(input: &[f32], rate: u32, settings: AudioInSettings) -> Vec<TimedEvent> {
    let mut front = AudioToNotes::new(rate, settings);
    let mut events = Vec::new();
    // Blocks as a host would hand them: the front end is causal, so the events do not
    // depend on the block size.
    for (b, block) in input.chunks(TRANSFER_BLOCK).enumerate() {
        front.process(block, |i, event| events.push(TimedEvent { time: (b * TRANSFER_BLOCK + i) as u64, event }));
    }
    front.finish(|event| events.push(TimedEvent { time: input.len() as u64, event }));
    events
}

const TRANSFER_BLOCK: usize = 128;

/// Re-synthesises `input` (mono, at `config.sample_rate`) on the pad at `timbre`:
/// the audio-in front end turns it into notes, the streaming engine plays them, and
/// both delays (the engine's and the front end's `latency`) are trimmed, so the
/// result lines up with the input. `tail` seconds follow the input's end. Returns the
/// render and how many notes the front end heard.
pub fn transfer(
    model: &ModelBytes,
    config: &EngineConfig,
    timbre: (f32, f32),
    input: &[f32],
    settings: AudioInSettings,
    tail: f64,
    block: usize,
) -> Result<(Rendered, usize), EngineError> {
    let rate = config.sample_rate;
    let events = events_from_audio(input, rate, settings);
    let notes = events.iter().filter(|e| matches!(e.event, crate::features::Event::NoteOn { .. })).count();
    let lag = AudioToNotes::latency_at(rate);
    let length = input.len() + (tail.clamp(0.0, 60.0) * rate as f64) as usize;
    let mut r = render(model, config, timbre, &events, length + lag, block, |_, _| {})?;
    r.audio.drain(..lag.min(r.audio.len()));
    Ok((r, notes))
}

/// Reads a WAV file as mono (channels averaged) with its sample rate.
#[cfg(feature = "cli")]
pub fn read_wav(path: &std::path::Path) -> Result<(Vec<f32>, u32), String> {
    let why = |e: hound::Error| format!("cannot read {}: {e}", path.display());
    let mut r = hound::WavReader::open(path).map_err(why)?;
    let spec = r.spec();
    let channels = spec.channels.max(1) as usize;
    let seconds = r.duration() as f64 / spec.sample_rate.max(1) as f64;
    if seconds > MAX_RENDER_SECONDS {
        return Err(format!("{} lasts {seconds:.0} s, more than the {MAX_RENDER_SECONDS} s a render may", path.display()));
    }
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>().map_err(why)?,
        hound::SampleFormat::Int => {
            let scale = 2f32.powi(spec.bits_per_sample as i32 - 1);
            r.samples::<i32>().map(|s| s.map(|v| v as f32 / scale)).collect::<Result<_, _>>().map_err(why)?
        }
    };
    if !(8_000..=384_000).contains(&spec.sample_rate) {
        return Err(format!("{}: a sample rate of {} Hz is outside 8 000..384 000", path.display(), spec.sample_rate));
    }
    Ok((samples.chunks(channels).map(|f| f.iter().sum::<f32>() / channels as f32).collect(), spec.sample_rate))
}

/// Writes mono 32-bit float WAV through a temporary file renamed over `path`, so a
/// failure part way leaves the file that was there before untouched.
#[cfg(feature = "cli")]
pub fn write_wav(path: &std::path::Path, audio: &[f32], sample_rate: u32) -> Result<(), String> {
    let spec = hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
    crate::files::replace_with(path, |tmp| {
        let mut w = hound::WavWriter::create(tmp, spec).map_err(std::io::Error::other)?;
        for &s in audio {
            w.write_sample(s).map_err(std::io::Error::other)?;
        }
        w.finalize().map_err(std::io::Error::other)
    })
    .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
