//! What the editor shows about the running engine. Written on activation (not a
//! real-time thread) and read by the editor; the audio thread never touches it.

use std::sync::Mutex;

use crate::contract::{ModelBytes, TimbrePlane};
use crate::engine::Monitor;

#[derive(Clone, Debug, Default)]
pub struct InstrumentMark {
    pub name: String,
    /// Position on the pad, 0..1 on each axis.
    pub pad: (f32, f32),
}

#[derive(Default)]
pub struct StatusInner {
    pub model: String,
    pub instruments: Vec<InstrumentMark>,
    pub provider: String,
    pub latency_ms: f32,
    /// How the latency's margin was chosen (measured at start, or none offline).
    pub timing: String,
    /// Why the engine or the chosen model is not running, if so.
    pub problem: Option<String>,
    pub monitor: Option<Monitor>,
}

#[derive(Default)]
pub struct Status(pub Mutex<StatusInner>);

impl Status {
    pub fn update(&self, f: impl FnOnce(&mut StatusInner)) {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn snapshot<R>(&self, f: impl FnOnce(&StatusInner) -> R) -> R {
        f(&self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

pub fn instrument_marks(model: &ModelBytes) -> Vec<InstrumentMark> {
    let plane = TimbrePlane::new(&model.manifest.instruments);
    model.manifest.instruments.iter().map(|i| InstrumentMark { name: i.name.clone(), pad: plane.to_pad(&i.point) }).collect()
}
