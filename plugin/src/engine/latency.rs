//! The engine's latency, computed exactly.
//!
//! The inference thread may render frame group `g` (frames `[gK, (g+1)K)`) once the
//! host clock `T` has passed the group's last model sample, i.e. once
//! `T ≥ T_g = ⌈(g+1)·K·HOP·rate/24000⌉`. Just before that, only `P_g` host samples have
//! come out of the resampler. A host block `[T, T+B)` needs its `B` samples already in
//! the ring, which starts with `L` samples of silence, so `L ≥ (T_g − 1) + B − P_g` for
//! every `g`. The engine runs the real resampler on silence for two seconds (every
//! pattern repeats well within that) and takes the maximum, then adds a margin for the
//! inference thread's own compute and wake-up time.
//!
//! [`LatencyMode::Low`] assumes the host keeps a steady block grid: blocks of at most
//! `B` samples that never straddle a multiple of `B` (fixed-size blocks, or smaller
//! pieces of them, as sample-accurate automation cuts them). A block then never starts
//! later than the last multiple of `B` before `T_g`, so `T_g − 1` above becomes
//! `B·⌊(T_g − 1)/B⌋`. Where frames and blocks divide one another (48 kHz and its
//! multiples at power-of-two blocks) that saves `min(B, frame) − 1` samples; at 44.1 kHz
//! frames and blocks drift against each other and it saves one sample.
//!
//! A model sample at time `t` then leaves the engine at host sample `L + D + t·rate/24000`,
//! where `D` is the resampler's delay; `L + D` is the latency reported to the host.
//! (An event is quantised to the start of its frame, so a note can sound up to one
//! hop *earlier* than perfectly compensated, never later.)

use serde::{Deserialize, Serialize};

use super::resample::StreamResampler;
use crate::contract::{HOP, SAMPLE_RATE};

/// What the latency is built to survive: the player's choice, since no one setting
/// serves both a host with a steady block grid and one whose blocks wander.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatencyMode {
    /// Any block pattern.
    #[default]
    Safe,
    /// A steady block grid: 6.75 ms plus the margin at 48 kHz / 128, 9.75 ms with the
    /// margin at its 3 ms floor ([`super::calibrate::FLOOR`], kept in both modes). Off
    /// the grid, underruns grow the latency as in every mode (and the host is told).
    Low,
}

impl std::fmt::Display for LatencyMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LatencyMode::Safe => "safe",
            LatencyMode::Low => "low",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    /// Silence pre-filled into the output ring, in host samples.
    pub prefill: usize,
    /// Resampler delay, in host samples.
    pub resampler_delay: usize,
    /// The part of `prefill` that is margin for compute time.
    pub margin: usize,
}

impl Latency {
    /// Host samples from an event to its sound: what the host is told.
    pub fn total(&self) -> usize {
        self.prefill + self.resampler_delay
    }
}

/// Host sample → the model sample it falls in.
pub fn model_sample(host_sample: u64, host_rate: u32) -> u64 {
    ((host_sample as u128 * SAMPLE_RATE as u128) / host_rate as u128) as u64
}

pub fn compute(host_rate: u32, max_block: usize, frames_per_step: usize, margin: usize, mode: LatencyMode) -> Result<Latency, String> {
    let mut r = StreamResampler::new(host_rate)?;
    let group_samples = (frames_per_step * HOP) as u128;
    let groups = (2 * SAMPLE_RATE as usize) / (frames_per_step * HOP) + 1;
    let frame = [0.0f32; HOP];
    let mut out = Vec::with_capacity(r.max_output() * 2);
    let mut produced: i64 = 0;
    let mut need: i64 = 0;
    for g in 0..groups as u128 {
        // First host sample at which group g is complete.
        let t_g = ((g + 1) * group_samples * host_rate as u128).div_ceil(SAMPLE_RATE as u128) as i64;
        // The latest a block can start and still miss group g.
        let start = match mode {
            LatencyMode::Safe => t_g - 1,
            LatencyMode::Low => (t_g - 1) / max_block as i64 * max_block as i64,
        };
        need = need.max(start + max_block as i64 - produced);
        for _ in 0..frames_per_step {
            out.clear();
            r.process(&frame, &mut out);
            produced += out.len() as i64;
        }
    }
    Ok(Latency { prefill: need.max(0) as usize + margin, resampler_delay: r.delay(), margin })
}
