//! The last stage before the output ring: a DC blocker and a soft clip. The models
//! never come near full scale on their own (the training data peaks near −10 dBFS),
//! so on ordinary output both are inaudible; they exist for a model that leaves an
//! offset or gets loud, so that neither reaches the speakers. A runaway output is
//! caught before this (silenced and the state reset), and the audio side holds a hard
//! ceiling at 0 dBFS behind it.

/// Corner of the DC blocker: far below any note (the lowest key is 8 Hz, the lowest
/// the models are trained on 27.5 Hz), and a settling time of about 30 ms.
pub const DC_CORNER_HZ: f32 = 5.0;
/// Below this level the soft clip is the identity.
pub const KNEE: f32 = 0.8;
/// What the soft clip approaches: just under full scale (−0.09 dBFS), a level that
/// float rounding of the curve can reach but never pass.
pub const LIMIT: f32 = 0.99;

pub struct OutputStage {
    pole: f32,
    x1: f32,
    y1: f32,
}

impl OutputStage {
    pub fn new(rate: u32) -> Self {
        Self { pole: 1.0 - std::f32::consts::TAU * DC_CORNER_HZ / rate as f32, x1: 0.0, y1: 0.0 }
    }

    /// Back to the state of silence.
    pub fn reset(&mut self) {
        (self.x1, self.y1) = (0.0, 0.0);
    }

    /// Filters `samples` in place, continuing from the previous call.
    pub fn process(&mut self, samples: &mut [f32]) {
        for s in samples {
            let y = *s - self.x1 + self.pole * self.y1;
            self.x1 = *s;
            self.y1 = y;
            *s = soft_clip(y);
        }
    }
}

/// The identity up to [`KNEE`], then a tanh curve whose slope matches at the knee and
/// which approaches ±[`LIMIT`], below full scale.
pub fn soft_clip(x: f32) -> f32 {
    let a = x.abs();
    if a <= KNEE {
        return x;
    }
    let room = LIMIT - KNEE;
    x.signum() * (KNEE + room * ((a - KNEE) / room).tanh())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_clip_is_the_identity_below_the_knee_and_stays_below_full_scale() {
        for x in [-0.8f32, -0.3, 0.0, 0.5, 0.8] {
            assert_eq!(soft_clip(x), x);
        }
        let mut last = 0.0;
        for i in 0..2000 {
            let y = soft_clip(i as f32 * 0.05);
            assert!(y >= last && y <= LIMIT, "monotonic and below 1 at {}: {y}", i as f32 * 0.05);
            last = y;
        }
        assert_eq!(soft_clip(-50.0), -soft_clip(50.0));
        // The slope is continuous at the knee: no kink to hear.
        let slope = (soft_clip(KNEE + 1e-3) - soft_clip(KNEE)) / 1e-3;
        assert!((slope - 1.0).abs() < 0.01, "{slope}");
    }

    #[test]
    fn the_dc_blocker_removes_an_offset_and_keeps_a_low_note() {
        let rate = 48_000;
        let mut stage = OutputStage::new(rate);
        let mut offset = vec![0.25f32; rate as usize];
        stage.process(&mut offset);
        assert!(offset[rate as usize - 1].abs() < 1e-4, "an offset decays: {}", offset[rate as usize - 1]);
        let mut stage = OutputStage::new(rate);
        let f = 27.5f32;
        let mut note: Vec<f32> = (0..rate as usize * 2).map(|i| 0.5 * (std::f32::consts::TAU * f * i as f32 / rate as f32).sin()).collect();
        stage.process(&mut note);
        let peak = note[rate as usize..].iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.01, "A0 keeps its level: {peak}");
    }
}
