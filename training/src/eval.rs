//! A first evaluation: held-out pieces rendered through the real streaming engine and
//! compared with their SoundFont renders, next to the vocoder alone on the true mel
//! (the chain's upper bound). Metrics: log-mel L1 and log-mel Pearson correlation
//! (Mel2Mel's reconstruction measures). Writes report.md, metrics.json, spectrogram
//! PNGs and WAVs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use melwave::contract::{ModelBytes, TimbrePlane, HOP, N_MELS, SAMPLE_RATE, SOURCE_CHANNELS};
use melwave::engine::EngineConfig;
use melwave::features::{featurize, LogMel};
use melwave::render::{render, write_wav};
use melwave::runtime::{ModelRunner, Provider};
use serde::Serialize;

use crate::dataset::{self, Split};
use crate::plot;

#[derive(Clone, Debug)]
pub struct EvalOptions {
    pub model: PathBuf,
    pub data: PathBuf,
    pub out: PathBuf,
    pub items_per_instrument: usize,
    pub max_seconds: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Scores {
    pub log_mel_l1: f64,
    pub log_mel_corr: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct InstrumentScores {
    pub items: usize,
    /// The full chain streamed through the engine.
    pub melwave: Scores,
    /// The vocoder alone on the ground-truth mel.
    pub vocoder_on_true_mel: Scores,
}

pub fn log_mel_l1(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).sum::<f64>() / a.len().max(1) as f64
}

pub fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().map(|&v| v as f64).sum::<f64>() / n, b.iter().map(|&v| v as f64).sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (*x as f64 - ma, *y as f64 - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 || sbb == 0.0 {
        return 0.0;
    }
    sab / (saa * sbb).sqrt()
}

fn scores(truth: &[f32], audio: &[f32]) -> Scores {
    let mut lm = LogMel::new();
    let (t, p) = (lm.compute(truth), lm.compute(audio));
    let n = t.len().min(p.len());
    Scores { log_mel_l1: log_mel_l1(&t[..n], &p[..n]), log_mel_corr: pearson(&t[..n], &p[..n]) }
}

pub fn run(opts: &EvalOptions) -> Result<BTreeMap<String, InstrumentScores>> {
    let ds = dataset::read_manifest(&opts.data)?;
    let model = ModelBytes::from_dir(&opts.model)?;
    let plane = TimbrePlane::new(&model.manifest.instruments);
    std::fs::create_dir_all(&opts.out).with_context(|| format!("cannot create {}", opts.out.display()))?;
    let split = [Split::Test, Split::Validation, Split::Train]
        .into_iter()
        .find(|s| ds.items.iter().any(|i| i.split == *s))
        .context("the dataset has no items")?;
    let mut runner = ModelRunner::new(&model, Provider::Cpu)?;
    let mut results = BTreeMap::new();
    let max_len = (opts.max_seconds * SAMPLE_RATE as f64) as usize / HOP * HOP;
    for inst in &model.manifest.instruments {
        let items: Vec<_> = ds.items.iter().filter(|i| i.split == split && i.program == inst.program).take(opts.items_per_instrument).collect();
        let mut acc = InstrumentScores::default();
        for (n, info) in items.iter().enumerate() {
            let item = dataset::store::read(&opts.data.join(&info.file))?;
            let len = item.audio.len().min(max_len);
            let truth = &item.audio[..len];
            let events: Vec<_> = item.events.iter().copied().filter(|e| (e.time as usize) < len).collect();
            let pad = plane.to_pad(&inst.point);
            let r = render(&model, &EngineConfig::new(SAMPLE_RATE, 512), pad, &events, len, 512, |_, _| {})?;
            let chain = scores(truth, &r.audio);
            // Vocoder alone on the true mel, with the same excitation.
            let frames = len / HOP;
            let (_, source) = featurize(&events, frames, 0);
            let mut voc = Vec::new();
            runner.reset();
            runner.vocode(&item.mel[..frames * N_MELS], &source[..SOURCE_CHANNELS * frames * HOP], inst.point[..2].try_into()?, &mut voc).map_err(anyhow::Error::msg)?;
            let upper = scores(truth, &voc);
            acc.items += 1;
            acc.melwave.log_mel_l1 += chain.log_mel_l1;
            acc.melwave.log_mel_corr += chain.log_mel_corr;
            acc.vocoder_on_true_mel.log_mel_l1 += upper.log_mel_l1;
            acc.vocoder_on_true_mel.log_mel_corr += upper.log_mel_corr;
            if n == 0 {
                let stem = inst.name.to_lowercase().replace(' ', "_");
                let mut lm = LogMel::new();
                let (mt, mp) = (lm.compute(truth), lm.compute(&r.audio));
                let diff: Vec<f32> = mt.iter().zip(&mp).map(|(a, b)| (a - b).abs() - 11.5).collect();
                let frames = mt.len() / N_MELS;
                let show = frames.min(800) * N_MELS;
                plot::spectrograms(
                    &[
                        (&format!("{}: ground truth (FluidR3)", inst.name), &mt[..show]),
                        ("Melwave (streamed)", &mp[..show]),
                        ("|difference|", &diff[..show]),
                    ],
                    N_MELS,
                    &opts.out.join(format!("{stem}.png")),
                )?;
                write_wav(&opts.out.join(format!("{stem}_truth.wav")), truth, SAMPLE_RATE).map_err(anyhow::Error::msg)?;
                write_wav(&opts.out.join(format!("{stem}_melwave.wav")), &r.audio, SAMPLE_RATE).map_err(anyhow::Error::msg)?;
            }
        }
        let k = acc.items.max(1) as f64;
        for s in [&mut acc.melwave, &mut acc.vocoder_on_true_mel] {
            s.log_mel_l1 /= k;
            s.log_mel_corr /= k;
        }
        results.insert(inst.name.clone(), acc);
    }
    let mut md = format!(
        "# Evaluation of {}\n\nSplit: {split:?}, up to {} items per instrument, up to {:.0} s each, rendered at 24 kHz through the streaming engine.\n\n| instrument | items | Melwave log-mel L1 | Melwave log-mel r | vocoder on true mel L1 | vocoder on true mel r |\n|---|---|---|---|---|---|\n",
        opts.model.display(),
        opts.items_per_instrument,
        opts.max_seconds
    );
    for (name, s) in &results {
        md += &format!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            s.items, s.melwave.log_mel_l1, s.melwave.log_mel_corr, s.vocoder_on_true_mel.log_mel_l1, s.vocoder_on_true_mel.log_mel_corr
        );
    }
    std::fs::write(opts.out.join("report.md"), &md)?;
    std::fs::write(opts.out.join("metrics.json"), serde_json::to_string_pretty(&results)?)?;
    println!("{md}");
    Ok(results)
}
