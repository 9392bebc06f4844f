//! Velocity response: one C4 struck at velocities 20, 60, 100 and 127 from a fresh
//! start, for every instrument, by the SoundFont and by Melwave streamed. The loudness
//! error per velocity group compares levels after onsets in real pieces, whose
//! velocities rarely go below 40; this probe spans the keyboard's whole dynamic range,
//! where a model that compresses dynamics shows it at once.

use std::sync::Arc;

use anyhow::Result;
use melwave::contract::{ModelBytes, TimbrePlane, SAMPLE_RATE};
use melwave::engine::EngineConfig;
use melwave::features::{Event, TimedEvent};
use melwave::render::render;
use rustysynth::SoundFont;
use serde::Serialize;

use super::metrics::rms_db;
use crate::dataset::synth;

pub const VELOCITIES: [u8; 4] = [20, 60, 100, 127];
const KEY: u8 = 60;
/// The struck half second: attack and body.
const SECONDS: f64 = 0.5;

#[derive(Clone, Debug, Serialize)]
pub struct VelocityResponse {
    pub instrument: String,
    /// RMS level (dBFS) over the struck half second at each of [`VELOCITIES`].
    pub truth_db: Vec<f64>,
    pub melwave_db: Vec<f64>,
}

impl VelocityResponse {
    /// Level rise from the softest to the hardest velocity (dB): (truth, Melwave).
    pub fn ranges(&self) -> (f64, f64) {
        let range = |v: &[f64]| v[v.len() - 1] - v[0];
        (range(&self.truth_db), range(&self.melwave_db))
    }

    /// Largest |Melwave − truth| level over the velocities (dB).
    pub fn worst_error(&self) -> f64 {
        self.truth_db.iter().zip(&self.melwave_db).map(|(t, m)| (m - t).abs()).fold(0.0, f64::max)
    }
}

/// The probe for every instrument of `model` that the font can render (added
/// instruments have no ground truth here and are left out).
pub fn measure(model: &ModelBytes, font: &Arc<SoundFont>) -> Result<Vec<VelocityResponse>> {
    let plane = TimbrePlane::new(&model.manifest.instruments);
    let len = (SECONDS * SAMPLE_RATE as f64) as usize;
    let mut out = Vec::new();
    for inst in model.manifest.instruments.iter().filter(|i| i.added.is_none()) {
        let pad = plane.to_pad(&inst.point);
        let (mut truth_db, mut melwave_db) = (Vec::new(), Vec::new());
        for velocity in VELOCITIES {
            let events = [TimedEvent { time: 0, event: Event::NoteOn { key: KEY, velocity } }, TimedEvent { time: len as u64, event: Event::NoteOff { key: KEY } }];
            let truth = synth::render(font, &events, inst.bank, inst.program, SECONDS)?;
            truth_db.push(rms_db(&truth[..len.min(truth.len())]));
            let ours = render(model, &EngineConfig::offline(SAMPLE_RATE, 512), pad, &events, len, 512, |_, _| {})?.audio;
            melwave_db.push(rms_db(&ours));
        }
        out.push(VelocityResponse { instrument: inst.name.clone(), truth_db, melwave_db });
    }
    Ok(out)
}
