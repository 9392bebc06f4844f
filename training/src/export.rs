//! Trained weights → the contract's ONNX graphs and manifest. Every export is checked
//! against tch before anything is written: the same inputs through tch and through
//! ONNX Runtime must agree within 1e-4, and ONNX Runtime called in blocks of 1, 7 and
//! 64 frames must equal one whole call.

use std::path::Path;

use anyhow::{bail, Result};
use melwave::contract::{Instrument, Manifest, ModelBytes, HOP, ROLL_DIM, SOURCE_CHANNELS};
use melwave::features::{featurize, TimedEvent};
use melwave::runtime::{ModelRunner, Provider};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use tch::Tensor;

use crate::nets::mel2mel::Mel2Mel;
use crate::nets::vocoder::Vocoder;

pub const TOLERANCE: f32 = 1e-4;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Parity {
    /// Max |tch − ONNX Runtime| per model and input kind.
    pub mel2mel_random: f32,
    pub vocoder_random: f32,
    pub mel2mel_real: Option<f32>,
    pub vocoder_real: Option<f32>,
    /// Max |blocks − whole| over block sizes 1, 7, 64, both models.
    pub streaming: f32,
}

impl Parity {
    pub fn worst(&self) -> f32 {
        [self.mel2mel_random, self.vocoder_random, self.mel2mel_real.unwrap_or(0.0), self.vocoder_real.unwrap_or(0.0), self.streaming].into_iter().fold(0.0, f32::max)
    }
}

/// The largest |a − b|; a NaN on either side counts as an infinite difference
/// (`f32::max` alone would drop it, and two NaN outputs would pass as equal).
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter().zip(b).map(|(x, y)| if x.is_finite() && y.is_finite() { (x - y).abs() } else { f32::INFINITY }).fold(0.0, f32::max)
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.contiguous().view(-1)).expect("float tensor")
}

/// Compares one input through tch and ORT; returns (mel diff, audio diff).
fn compare(runner: &mut ModelRunner, m2m: &Mel2Mel, voc: &Vocoder, roll: &[f32], source: &[f32], e: [f32; 2]) -> Result<(f32, f32)> {
    let t = roll.len() / ROLL_DIM;
    let et = Tensor::from_slice(&e).reshape([1, 2]);
    let (tch_mel, tch_audio) = tch::no_grad(|| {
        let mel = m2m.forward(&Tensor::from_slice(roll).reshape([1, t as i64, ROLL_DIM as i64]), &et);
        let audio = voc.forward(&Tensor::from_slice(source).reshape([1, SOURCE_CHANNELS as i64, (t * HOP) as i64]), &mel, &et);
        (to_vec(&mel), to_vec(&audio))
    });
    runner.reset();
    runner.predict_mel(roll, e).map_err(anyhow::Error::msg)?;
    let ort_mel = runner.mel().to_vec();
    // The vocoder gets tch's mel, so each model is compared on identical input.
    let mut ort_audio = Vec::new();
    runner.vocode(&tch_mel, source, e, &mut ort_audio).map_err(anyhow::Error::msg)?;
    Ok((max_diff(&tch_mel, &ort_mel), max_diff(&tch_audio, &ort_audio)))
}

/// ORT in blocks of 1, 7 and 64 frames against ORT whole.
fn streaming(runner: &mut ModelRunner, roll: &[f32], source: &[f32], e: [f32; 2]) -> Result<f32> {
    let frames = roll.len() / ROLL_DIM;
    let (mel, audio) = runner.run_in_blocks(roll, source, e, frames).map_err(anyhow::Error::msg)?;
    let mut worst = 0.0f32;
    for chunk in [1, 7, 64] {
        let (m, a) = runner.run_in_blocks(roll, source, e, chunk).map_err(anyhow::Error::msg)?;
        worst = worst.max(max_diff(&m, &mel)).max(max_diff(&a, &audio));
    }
    Ok(worst)
}

/// Runs every parity check on `model`, built from `m2m` and `voc`. `real` is a piece's
/// events (model samples) to featurize with the shared featurizer.
pub fn parity(model: &ModelBytes, m2m: &Mel2Mel, voc: &Vocoder, real: Option<&[TimedEvent]>) -> Result<Parity> {
    let mut runner = ModelRunner::new(model, Provider::Cpu)?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
    let frames = 96;
    let roll: Vec<f32> = (0..frames * ROLL_DIM)
        .map(|i| {
            if i % ROLL_DIM < 128 {
                if rng.random_bool(0.02) {
                    rng.random_range(0.0..1.0)
                } else {
                    0.0
                }
            } else {
                rng.random_bool(0.05) as u8 as f32
            }
        })
        .collect();
    // Channel-major, as the graphs take it; the level channel is a power, never negative.
    let level = melwave::contract::vocoder::LEVEL_CHANNEL * frames * HOP;
    let source: Vec<f32> =
        (0..frames * HOP * SOURCE_CHANNELS).map(|i| if (level..level + frames * HOP).contains(&i) { rng.random_range(0.0..0.3) } else { rng.random_range(-0.3..0.3) }).collect();
    let e = [rng.random_range(-1.5..1.5), rng.random_range(-1.5..1.5)];
    let (mel_r, voc_r) = compare(&mut runner, m2m, voc, &roll, &source, e)?;
    let mut p = Parity { mel2mel_random: mel_r, vocoder_random: voc_r, streaming: streaming(&mut runner, &roll, &source, e)?, ..Default::default() };
    if let Some(events) = real {
        let (roll, source) = featurize(events, frames, 3);
        let (m, v) = compare(&mut runner, m2m, voc, &roll, &source, model.manifest.instruments[0].point[..2].try_into().expect("2-D"))?;
        p.mel2mel_real = Some(m);
        p.vocoder_real = Some(v);
        p.streaming = p.streaming.max(streaming(&mut runner, &roll, &source, e)?);
    }
    Ok(p)
}

/// The instruments of a model: the dataset's names for its programs, learned points.
pub fn instruments(presets: &[(u8, String)], points: &[Vec<f32>]) -> Vec<Instrument> {
    presets.iter().zip(points).map(|((program, name), point)| Instrument::trained(name, *program, point.clone())).collect()
}

/// Builds, checks and writes a model folder; refuses to write one that fails parity.
pub fn export(manifest: Manifest, m2m_vs: &tch::nn::VarStore, m2m: &Mel2Mel, voc_vs: &tch::nn::VarStore, voc: &Vocoder, real: Option<&[TimedEvent]>, out: &Path) -> Result<Parity> {
    let model = ModelBytes::from_weights(manifest, &crate::nets::weights(m2m_vs), &crate::nets::weights(voc_vs)).map_err(anyhow::Error::msg)?;
    let p = parity(&model, m2m, voc, real)?;
    if p.worst().is_nan() || p.worst() > TOLERANCE {
        bail!("export refused: tch and ONNX Runtime disagree ({p:?}, tolerance {TOLERANCE})");
    }
    let mut model = model;
    if let serde_json::Value::Object(map) = &mut model.manifest.provenance {
        map.insert("parity".into(), serde_json::to_value(&p)?);
    }
    model.write_dir(out)?;
    Ok(p)
}
