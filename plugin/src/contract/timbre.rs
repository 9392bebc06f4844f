//! The XY pad is the 2-D embedding plane: pad coordinates (0..1 on each axis) map
//! linearly onto the bounding box of the instruments' points, plus a margin, so the
//! whole pad is usable and every instrument sits inside it.

use super::manifest::Instrument;

/// Fraction of the points' extent added on each side.
const MARGIN: f32 = 0.15;
/// Smallest extent per axis, so that coincident points still give a usable pad.
const MIN_EXTENT: f32 = 1e-3;

/// Where `n` instruments' points start before training: evenly spaced on the unit
/// circle, so every pair starts equally far apart (training's embedding init, and a
/// random model's points).
pub fn initial_points(n: usize) -> Vec<[f32; 2]> {
    (0..n)
        .map(|i| {
            let a = std::f32::consts::TAU * i as f32 / n as f32;
            [a.cos(), a.sin()]
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimbrePlane {
    min: [f32; 2],
    size: [f32; 2],
}

impl TimbrePlane {
    pub fn new(instruments: &[Instrument]) -> Self {
        let mut lo = [f32::INFINITY; 2];
        let mut hi = [f32::NEG_INFINITY; 2];
        for inst in instruments {
            for a in 0..2 {
                lo[a] = lo[a].min(inst.point[a]);
                hi[a] = hi[a].max(inst.point[a]);
            }
        }
        let mut min = [0.0; 2];
        let mut size = [1.0; 2];
        for a in 0..2 {
            if !lo[a].is_finite() {
                continue;
            }
            let extent = (hi[a] - lo[a]).max(MIN_EXTENT);
            let centre = (hi[a] + lo[a]) / 2.0;
            size[a] = extent * (1.0 + 2.0 * MARGIN);
            min[a] = centre - size[a] / 2.0;
        }
        Self { min, size }
    }

    /// Pad position (each axis 0..1, clamped; NaN counts as the centre) → embedding point.
    pub fn to_embedding(&self, x: f32, y: f32) -> [f32; 2] {
        let clean = |v: f32| if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.5 };
        [self.min[0] + clean(x) * self.size[0], self.min[1] + clean(y) * self.size[1]]
    }

    /// Embedding point → pad position.
    pub fn to_pad(&self, point: &[f32]) -> (f32, f32) {
        ((point[0] - self.min[0]) / self.size[0], (point[1] - self.min[1]) / self.size[1])
    }
}
