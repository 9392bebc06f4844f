//! What the editor shows about the running engine. Written on activation (not a
//! real-time thread) and read by the editor; the audio thread never touches it.

use std::sync::Mutex;

use crate::contract::{ModelBytes, TimbrePlane};
use crate::engine::Monitor;
use crate::sync::LockExt;

#[derive(Clone, Debug, Default)]
pub struct InstrumentMark {
    pub name: String,
    /// Position on the pad, 0..1 on each axis.
    pub pad: (f32, f32),
    /// Added to the trained model by `melwave-train add-instrument`.
    pub added: bool,
}

/// The instrument whose mark is nearest to a pad position, with its distance.
pub fn nearest(marks: &[InstrumentMark], x: f32, y: f32) -> Option<(&InstrumentMark, f32)> {
    marks.iter().map(|m| (m, ((m.pad.0 - x).powi(2) + (m.pad.1 - y).powi(2)).sqrt())).min_by(|a, b| a.1.total_cmp(&b.1))
}

/// The instruments the pad position is between: the nearest `n`, each with its share
/// of nearness (inverse square distance, the shares summing to 1). At an
/// instrument's own point it has the whole share.
pub fn between(marks: &[InstrumentMark], x: f32, y: f32, n: usize) -> Vec<(&InstrumentMark, f32)> {
    let mut near: Vec<(&InstrumentMark, f32)> = marks.iter().map(|m| (m, (m.pad.0 - x).powi(2) + (m.pad.1 - y).powi(2))).collect();
    near.sort_by(|a, b| a.1.total_cmp(&b.1));
    near.truncate(n);
    if near.first().is_some_and(|(_, d2)| *d2 < 1e-8) {
        return near.into_iter().take(1).map(|(m, _)| (m, 1.0)).collect();
    }
    let total: f32 = near.iter().map(|(_, d2)| 1.0 / d2).sum();
    near.into_iter().map(|(m, d2)| (m, 1.0 / d2 / total)).collect()
}

#[derive(Default)]
pub struct StatusInner {
    pub model: String,
    pub instruments: Vec<InstrumentMark>,
    pub provider: String,
    /// The latency the engine started with; underruns may add to it (the monitor's
    /// `latency_grown`, in samples at `sample_rate`).
    pub latency_ms: f32,
    pub sample_rate: f32,
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
        f(&mut self.0.locked());
    }

    pub fn snapshot<R>(&self, f: impl FnOnce(&StatusInner) -> R) -> R {
        f(&self.0.locked())
    }
}

pub fn instrument_marks(model: &ModelBytes) -> Vec<InstrumentMark> {
    let plane = TimbrePlane::new(&model.manifest.instruments);
    model.manifest.instruments.iter().map(|i| InstrumentMark { name: i.name.clone(), pad: plane.to_pad(&i.point), added: i.added.is_some() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Instrument;

    #[test]
    fn marks_list_every_instrument_and_flag_the_added_ones() {
        let mut model = ModelBytes::embedded().unwrap();
        let trained = model.manifest.instruments.len();
        let p = model.manifest.instruments[0].point.clone();
        let q = model.manifest.instruments[1].point.clone();
        let mid = vec![(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0];
        model.manifest.instruments.push(Instrument { added: Some("a test".into()), ..Instrument::trained("Flute", 73, mid) });
        let marks = instrument_marks(&model);
        assert_eq!(marks.len(), trained + 1);
        assert_eq!(marks.iter().filter(|m| m.added).map(|m| m.name.as_str()).collect::<Vec<_>>(), ["Flute"]);
        let flute = marks.last().unwrap();
        // The added point sits halfway between the two it was put between, on the pad too.
        let (a, b) = (&marks[0].pad, &marks[1].pad);
        assert!((flute.pad.0 - (a.0 + b.0) / 2.0).abs() < 1e-5 && (flute.pad.1 - (a.1 + b.1) / 2.0).abs() < 1e-5);
        assert_eq!(nearest(&marks, flute.pad.0 + 1e-3, flute.pad.1).unwrap().0.name, "Flute");
    }

    #[test]
    fn the_pad_says_which_instruments_it_is_between_and_how_near() {
        let mark = |name: &str, x: f32, y: f32| InstrumentMark { name: name.into(), pad: (x, y), added: false };
        let marks = [mark("a", 0.0, 0.0), mark("b", 1.0, 0.0), mark("c", 0.0, 1.0), mark("d", 1.0, 1.0)];
        let mid = between(&marks, 0.25, 0.0, 2);
        assert_eq!(mid.iter().map(|(m, _)| m.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        // A quarter of the way: nine times nearer in inverse square distance.
        assert!((mid[0].1 - 0.9).abs() < 1e-5 && (mid[1].1 - 0.1).abs() < 1e-5, "{:?}", mid.iter().map(|m| m.1).collect::<Vec<_>>());
        let centre = between(&marks, 0.5, 0.5, 3);
        assert!(centre.iter().all(|(_, w)| (w - 1.0 / 3.0).abs() < 1e-5));
        assert_eq!(between(&marks, 1.0, 1.0, 3).iter().map(|(m, w)| (m.name.as_str(), *w)).collect::<Vec<_>>(), [("d", 1.0)]);
    }
}
