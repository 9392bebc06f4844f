//! One rendered item (a piece on one instrument) on disk, as a safetensors file:
//!
//! | tensor | dtype | shape | what |
//! |---|---|---|---|
//! | `audio` | F32 | `[N]` | the SoundFont render, mono, 24 kHz, `N` a multiple of 128 |
//! | `mel` | F32 | `[N/128, 80]` | its log-mel (the shared `LogMel`) |
//! | `events` | I64 | `[m, 4]` | `(model sample, kind, a, b)`: kind 0 note-on (key, velocity), 1 note-off (key), 2 sustain (down), 3 pitch bend (f32 bits of semitones), 4 all-notes-off, 5 choke (key), 6 all-sound-off, 7 reset-controllers |
//!
//! The roll and the excitation are *not* stored: they are recomputed from the events
//! by the engine's own featurizer whenever training needs them.

use std::path::Path;

use anyhow::{bail, Context, Result};
use melwave::contract::{HOP, N_MELS};
use melwave::features::{Event, Expression, TimedEvent};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

pub struct StoredItem {
    pub audio: Vec<f32>,
    pub mel: Vec<f32>,
    pub events: Vec<TimedEvent>,
}

fn encode(e: &TimedEvent) -> [i64; 4] {
    let t = e.time as i64;
    match e.event {
        Event::NoteOn { key, velocity } => [t, 0, key as i64, velocity as i64],
        Event::NoteOff { key } => [t, 1, key as i64, 0],
        Event::Sustain(down) => [t, 2, down as i64, 0],
        Event::PitchBend(s) => [t, 3, s.to_bits() as i64, 0],
        Event::AllNotesOff => [t, 4, 0, 0],
        Event::Choke { key } => [t, 5, key as i64, 0],
        Event::AllSoundOff => [t, 6, 0, 0],
        Event::ResetControllers => [t, 7, 0, 0],
        Event::Expression { key, expression } => {
            let (kind, v) = match expression {
                Expression::Tuning(v) => (8, v),
                Expression::Pressure(v) => (9, v),
                Expression::Volume(v) => (10, v),
                Expression::Brightness(v) => (11, v),
            };
            [t, kind, key as i64, v.to_bits() as i64]
        }
    }
}

fn decode(v: &[i64]) -> Result<TimedEvent> {
    let key = |x: i64| -> Result<u8> { u8::try_from(x).ok().filter(|k| *k < 128).with_context(|| format!("bad key {x}")) };
    let event = match v[1] {
        0 => Event::NoteOn { key: key(v[2])?, velocity: key(v[3])? },
        1 => Event::NoteOff { key: key(v[2])? },
        2 => Event::Sustain(v[2] != 0),
        3 => Event::PitchBend(f32::from_bits(v[2] as u32)),
        4 => Event::AllNotesOff,
        5 => Event::Choke { key: key(v[2])? },
        6 => Event::AllSoundOff,
        7 => Event::ResetControllers,
        kind @ 8..=11 => {
            let x = f32::from_bits(v[3] as u32);
            let expression = [Expression::Tuning(x), Expression::Pressure(x), Expression::Volume(x), Expression::Brightness(x)][(kind - 8) as usize];
            Event::Expression { key: key(v[2])?, expression }
        }
        k => bail!("unknown event kind {k}"),
    };
    Ok(TimedEvent { time: u64::try_from(v[0]).context("negative event time")?, event })
}

fn bytes_of<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: f32 and i64 are plain old data; the slice covers exactly their bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

pub fn write(path: &Path, item: &StoredItem) -> Result<()> {
    let n = item.audio.len();
    if !n.is_multiple_of(HOP) || item.mel.len() != n / HOP * N_MELS {
        bail!("item shapes disagree: {} samples, {} mel values", n, item.mel.len());
    }
    let events: Vec<i64> = item.events.iter().flat_map(encode).collect();
    let tensors = vec![
        ("audio", TensorView::new(Dtype::F32, vec![n], bytes_of(&item.audio))?),
        ("events", TensorView::new(Dtype::I64, vec![item.events.len(), 4], bytes_of(&events))?),
        ("mel", TensorView::new(Dtype::F32, vec![n / HOP, N_MELS], bytes_of(&item.mel))?),
    ];
    let bytes = safetensors::serialize(tensors, None)?;
    melwave::files::replace(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn floats(st: &SafeTensors, name: &str) -> Result<Vec<f32>> {
    let t = st.tensor(name)?;
    if t.dtype() != Dtype::F32 {
        bail!("`{name}` is not F32");
    }
    Ok(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

pub fn read(path: &Path) -> Result<StoredItem> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let st = SafeTensors::deserialize(&bytes).with_context(|| format!("{} is not a valid item file", path.display()))?;
    let audio = floats(&st, "audio")?;
    let mel = floats(&st, "mel")?;
    let ev = st.tensor("events")?;
    if ev.dtype() != Dtype::I64 {
        bail!("`events` is not I64");
    }
    let raw: Vec<i64> = ev.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))).collect();
    let events = raw.chunks_exact(4).map(decode).collect::<Result<Vec<_>>>()?;
    if audio.len() % HOP != 0 || mel.len() != audio.len() / HOP * N_MELS {
        bail!("{}: shapes disagree", path.display());
    }
    Ok(StoredItem { audio, mel, events })
}
