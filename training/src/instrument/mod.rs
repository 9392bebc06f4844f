//! `melwave-train add-instrument`: a new instrument on a trained model's timbre plane,
//! learned in minutes on a CPU, from renders of a SoundFont preset or from your own
//! recordings. Mel2Mel and the vocoder are frozen. First the new instrument's 2-D
//! point is fitted ([`fit`]); then a local FiLM offset around it is trained
//! ([`local_film`]) and kept if it scores better on held-out material. The existing
//! instruments sound exactly as before either way: the vocoder's graph is kept byte
//! for byte, Mel2Mel's changes only within the new point's radius, and the manifest
//! gains one entry.
//!
//! The report scores the new point against the nearest existing instrument (the one
//! whose point fits the new material best) on held-out material: if the new point does
//! not beat it, the tool says so.

pub mod fit;
pub mod local_film;
pub mod recordings;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use melwave::contract::{Instrument, ModelBytes, TimbrePlane, HOP, N_MELS, SAMPLE_RATE};
use melwave::features::{featurize, LogMel, TimedEvent};
use melwave::runtime::{ModelRunner, Provider};
use serde::Serialize;

use crate::dataset::{self, synth, DatasetConfig};
use crate::eval::{cqt, metrics, probes};
use crate::train::cpu_seconds;
use fit::{Bounds, FitSet, Scorer, SearchPlan};

/// A stretch of audio with the events that produced it, at the model rate.
#[derive(Clone)]
pub struct Take {
    pub name: String,
    pub audio: Vec<f32>,
    pub events: Vec<TimedEvent>,
}

#[derive(Clone, Debug)]
pub enum Source {
    /// A preset of a SoundFont.
    Preset { font: PathBuf, bank: u8, program: u8 },
    /// A folder of `NAME.wav` + `NAME.mid` pairs.
    Recordings(PathBuf),
}

#[derive(Clone, Debug)]
pub struct AddOptions {
    pub model: PathBuf,
    pub source: Source,
    pub name: Option<String>,
    pub out: PathBuf,
    /// Less material, for CI.
    pub quick: bool,
    /// Try a local FiLM offset after the point (see [`local_film`]).
    pub local_film: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Scores {
    pub rmse_cqt: f64,
    pub log_mel_r: f64,
    pub mel_loss: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExistingCheck {
    pub name: String,
    /// RMSE-CQT (dB) on a probe against the model's own font, before and after; `None`
    /// where that font is not on this machine.
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// Largest sample difference between the two models' renders of the probe.
    pub max_difference: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AddReport {
    pub name: String,
    pub source: String,
    /// The new instrument's point: the offset's centre where one is kept, else `search_point`.
    pub point: [f32; 2],
    /// The search's best point, where the point alone was scored.
    pub search_point: [f32; 2],
    pub nearest: String,
    /// Held-out material: the new point and the nearest existing instrument.
    pub new_scores: Scores,
    pub nearest_scores: Scores,
    /// False when there was a single recording, scored on the material it was fitted to.
    pub held_out: bool,
    pub beats_nearest: bool,
    /// Mel2Mel's loss on the fitting material: the new point's and the nearest's.
    pub fit_loss: f64,
    pub nearest_fit_loss: f64,
    pub fit_seconds_of_audio: f64,
    pub held_out_seconds_of_audio: f64,
    pub evaluations: usize,
    pub existing: Vec<ExistingCheck>,
    /// The local FiLM offset, where one was tried.
    pub local: Option<LocalReport>,
    /// Why none was tried, where `local_film` was asked for.
    pub local_skipped: Option<String>,
    /// The comparison picture of a held-out take, relative to the new folder.
    pub spectrograms: Option<String>,
    /// Measured audio-minus-MIDI offset of each recording, in ms.
    pub alignment_ms: Vec<(String, f64)>,
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LocalReport {
    /// The offset's centre, the new instrument's point when it is kept: the search's
    /// best point if it has room, else the best with room (see [`local_film::centre`]).
    pub centre: [f32; 2],
    pub radius: f32,
    pub steps: usize,
    /// Training loss over the first and the last tenth of the steps.
    pub first_loss: f64,
    pub last_loss: f64,
    /// Mel2Mel's loss on the fitting material with the offset (the point alone: `fit_loss`).
    pub fit_loss: f64,
    /// Held-out scores with the offset (the point alone: `new_scores`).
    pub scores: Scores,
    /// Kept when it beats the point alone on held-out material, in RMSE-CQT and in loss.
    pub kept: bool,
    pub wall_seconds: f64,
}

/// Pieces for a preset: the dataset's own phrase generator and MIDI corpus, on another
/// seed than the shipped model's data.
fn preset_config(font: &Path, bank: u8, program: u8, quick: bool) -> Result<DatasetConfig> {
    let base = DatasetConfig {
        seed: 17,
        procedural: 12,
        procedural_seconds: 8.0,
        extreme_pieces: 0,
        real_files: 12,
        excerpts_per_file: 1,
        excerpt_seconds: 8.0,
        ..DatasetConfig::full(font.into())
    };
    let base = if quick { DatasetConfig { procedural: 3, procedural_seconds: 4.0, real_files: 1, excerpt_seconds: 4.0, ..base } } else { base };
    base.with_programs(font.into(), bank, vec![program], vec![])
}

fn preset_takes(font: &Path, bank: u8, program: u8, quick: bool) -> Result<(String, Vec<Take>)> {
    let cfg = preset_config(font, bank, program, quick)?;
    let sf = synth::load_font(font)?;
    let name = synth::preset_names(&sf, bank, &[program])?.remove(0);
    let takes = dataset::pieces(&cfg)?
        .into_iter()
        .map(|(piece, song)| -> Result<Take> {
            let events = song.timed_events(SAMPLE_RATE);
            let mut audio = synth::render(&sf, &events, bank, program, song.duration + cfg.tail_seconds)?;
            audio.truncate(audio.len() / HOP * HOP);
            Ok(Take { name: piece.source, audio, events })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((name, takes))
}

/// Every fourth take is held out (at least one, when there are two or more).
fn split(takes: Vec<Take>) -> (Vec<Take>, Vec<Take>, bool) {
    if takes.len() < 2 {
        return (takes.clone(), takes, false);
    }
    let n = takes.len();
    let held = |i: usize| i % 4 == 3 || (n < 4 && i == n - 1);
    let (mut fit, mut test) = (Vec::new(), Vec::new());
    for (i, t) in takes.into_iter().enumerate() {
        if held(i) {
            test.push(t)
        } else {
            fit.push(t)
        }
    }
    (fit, test, true)
}

/// The chain's output for a take at `point`, whole, from a fresh state.
fn render_take(runner: &mut ModelRunner, take: &Take, point: [f32; 2]) -> Result<Vec<f32>> {
    let frames = take.audio.len() / HOP;
    let (roll, source) = featurize(&take.events, frames, 0);
    let (_, audio) = runner.run_in_blocks(&roll, &source, point, frames.max(1)).map_err(anyhow::Error::msg)?;
    Ok(audio)
}

fn scores(runner: &mut ModelRunner, scorer: &mut Scorer, takes: &[Take], set: &FitSet, point: [f32; 2]) -> Result<Scores> {
    let (mut rmse, mut r, mut weight) = (0.0, 0.0, 0.0);
    let mut q = cqt::Cqt::new(SAMPLE_RATE as f64);
    for t in takes {
        let audio = render_take(runner, t, point)?;
        let w = t.audio.len() as f64;
        rmse += cqt::rmse_cqt(&mut q, &t.audio, &audio) * w;
        r += metrics::log_mel_scores(&t.audio, &audio).1 * w;
        weight += w;
    }
    Ok(Scores { rmse_cqt: rmse / weight, log_mel_r: r / weight, mel_loss: scorer.loss(set, point)? })
}

/// Trains a local FiLM offset at `centre` and scores it on the held-out takes against
/// the point alone's `point_scores`: the report, and the graph with the offset.
#[allow(clippy::too_many_arguments)]
fn try_local(
    model: &ModelBytes,
    name: &str,
    fit: (&[Take], &FitSet),
    test: (&[Take], &FitSet),
    centre: [f32; 2],
    radius: f32,
    point_scores: &Scores,
    quick: bool,
) -> Result<(LocalReport, Vec<u8>)> {
    let t0 = Instant::now();
    let plan = if quick { local_film::Plan::QUICK } else { local_film::Plan::FULL };
    let bar = ProgressBar::new(plan.steps as u64);
    bar.set_style(ProgressStyle::with_template("local FiLM for `{msg}` {bar:40} {pos}/{len} steps ({elapsed})").expect("static template"));
    bar.set_message(name.to_string());
    let trained = local_film::train(model, fit.0, centre, radius, plan, || bar.inc(1));
    bar.finish_and_clear();
    let trained = trained?;
    let candidate = ModelBytes { mel2mel: std::borrow::Cow::Owned(trained.graph.clone()), ..model.clone() };
    let mut scorer = Scorer::new(&candidate)?;
    let mut runner = ModelRunner::new(&candidate, Provider::Cpu)?;
    let scores = scores(&mut runner, &mut scorer, test.0, test.1, centre)?;
    let kept = scores.rmse_cqt < point_scores.rmse_cqt && scores.mel_loss < point_scores.mel_loss;
    let fit_loss = scorer.loss(fit.1, centre)?;
    let report = LocalReport {
        centre,
        radius,
        steps: trained.steps,
        first_loss: trained.first_loss,
        last_loss: trained.last_loss,
        fit_loss,
        scores,
        kept,
        wall_seconds: t0.elapsed().as_secs_f64(),
    };
    Ok((report, trained.graph))
}

/// Log-mel spectrograms of `take` (the truth) and of each candidate model playing it
/// at its point, stacked in one picture.
fn spectrogram_picture(take: &Take, candidates: &[(String, &ModelBytes, [f32; 2])], path: &Path) -> Result<()> {
    let mut panels = vec![(format!("{} (held out, truth)", take.name), LogMel::new().compute(&take.audio))];
    for (title, model, point) in candidates {
        let mut runner = ModelRunner::new(model, Provider::Cpu)?;
        panels.push((title.clone(), LogMel::new().compute(&render_take(&mut runner, take, *point)?)));
    }
    std::fs::create_dir_all(path.parent().expect("a file in the model folder"))?;
    let refs: Vec<(&str, &[f32])> = panels.iter().map(|(t, m)| (t.as_str(), m.as_slice())).collect();
    crate::plot::spectrograms(&refs, N_MELS, path)
}

/// The font the model was trained on, from its provenance, if this machine has it.
fn model_font(model: &ModelBytes) -> Option<PathBuf> {
    let font = model.manifest.provenance.pointer("/dataset/font").and_then(|f| f.as_str()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(synth::DEFAULT_FONT));
    font.is_file().then_some(font)
}

/// How far an existing instrument's output may move: not at all, but for float noise
/// (measured: 0).
const EXISTING_TOLERANCE: f64 = 1e-6;

/// Renders one probe on every existing instrument with the old and the new model.
fn check_existing(old: &ModelBytes, new: &ModelBytes) -> Result<Vec<ExistingCheck>> {
    let probe = probes::morph_phrase();
    let events = probe.timed_events(SAMPLE_RATE);
    let len = ((probe.duration + 0.5) * SAMPLE_RATE as f64) as usize / HOP * HOP;
    let font = model_font(old).map(|f| synth::load_font(&f)).transpose()?;
    let (mut a, mut b) = (ModelRunner::new(old, Provider::Cpu)?, ModelRunner::new(new, Provider::Cpu)?);
    let mut q = cqt::Cqt::new(SAMPLE_RATE as f64);
    let mut out = Vec::new();
    for inst in old.manifest.instruments.iter() {
        let point = [inst.point[0], inst.point[1]];
        let after_point = new.manifest.instrument(&inst.name).context("an existing instrument went missing")?.point.clone();
        let take = Take { name: "probe".into(), audio: vec![0.0; len], events: events.clone() };
        let before = render_take(&mut a, &take, point)?;
        let after = render_take(&mut b, &take, [after_point[0], after_point[1]])?;
        let max_difference = before.iter().zip(&after).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max);
        let truth = match (&font, inst.added.is_none()) {
            (Some(sf), true) => {
                let mut t = synth::render(sf, &events, inst.bank, inst.program, len as f64 / SAMPLE_RATE as f64)?;
                t.truncate(len);
                Some(t)
            }
            _ => None,
        };
        let (before_db, after_db) = match &truth {
            Some(t) => (Some(cqt::rmse_cqt(&mut q, t, &before)), Some(cqt::rmse_cqt(&mut q, t, &after))),
            None => (None, None),
        };
        out.push(ExistingCheck { name: inst.name.clone(), before: before_db, after: after_db, max_difference });
    }
    Ok(out)
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Adds the instrument and writes the new model folder; the input folder is only read.
pub fn add(opts: &AddOptions) -> Result<AddReport> {
    let started = Instant::now();
    let cpu0 = cpu_seconds();
    if same_path(&opts.model, &opts.out) {
        bail!("--out must be a new folder: add-instrument never rewrites the model it starts from ({})", opts.model.display());
    }
    let model = ModelBytes::from_dir(&opts.model).with_context(|| format!("cannot load the model {}", opts.model.display()))?;
    // Everything that can be refused is checked before the minutes of work.
    let (default_name, takes, source, alignment) = match &opts.source {
        Source::Preset { font, bank, program } => {
            let (name, takes) = preset_takes(font, *bank, *program, opts.quick)?;
            (name, takes, format!("{} bank {bank} program {program}", font.display()), Vec::new())
        }
        Source::Recordings(dir) => {
            let recs = recordings::load_dir(dir)?;
            let alignment = recs.iter().map(|r| (r.take.name.clone(), r.offset_seconds * 1e3)).collect();
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "Recording".into());
            let takes = recs.into_iter().map(|r| r.take).collect();
            (name, takes, format!("recordings in {}", dir.display()), alignment)
        }
    };
    let name = opts.name.clone().unwrap_or(default_name).trim().to_string();
    if name.is_empty() {
        bail!("the new instrument needs a name (--name)");
    }
    if model.manifest.instrument(&name).is_some_and(|i| i.name.eq_ignore_ascii_case(&name)) {
        bail!("{} already has an instrument named `{name}`; choose another with --name", opts.model.display());
    }
    let (fit_takes, test_takes, held_out) = split(takes);
    let (fit_set, test_set) = (FitSet::new(&fit_takes), FitSet::new(&test_takes));
    let seconds = |t: &[Take]| t.iter().map(|t| t.audio.len()).sum::<usize>() as f64 / SAMPLE_RATE as f64;

    let mut scorer = Scorer::new(&model)?;
    let existing: Vec<[f32; 2]> = model.manifest.instruments.iter().map(|i| [i.point[0], i.point[1]]).collect();
    let plan = if opts.quick { SearchPlan::QUICK } else { SearchPlan::FULL };
    let bar = ProgressBar::new((existing.len() + plan.max_evaluations()) as u64);
    bar.set_style(ProgressStyle::with_template("fitting `{msg}` {bar:40} {pos} evaluations ({elapsed})").expect("static template"));
    bar.set_message(name.clone());
    let mut starts = Vec::new();
    for &p in &existing {
        starts.push((p, scorer.loss(&fit_set, p)?));
        bar.inc(1);
    }
    let (nearest_index, &(_, nearest_fit_loss)) = starts.iter().enumerate().min_by(|a, b| a.1 .1.total_cmp(&b.1 .1)).expect("a model has instruments");
    let found = fit::search(&mut scorer, &fit_set, Bounds::of(&existing), &starts, plan, || bar.inc(1))?;
    bar.finish_and_clear();

    let mut runner = ModelRunner::new(&model, Provider::Cpu)?;
    let new_scores = scores(&mut runner, &mut scorer, &test_takes, &test_set, found.point)?;
    let nearest_scores = scores(&mut runner, &mut scorer, &test_takes, &test_set, existing[nearest_index])?;

    let (mut local, mut local_skipped, mut local_graph) = (None, None, None);
    if opts.local_film && !held_out {
        // 4·H numbers judged on the takes they were trained on would always look better.
        local_skipped = Some("there is one recording only, so nothing is held out to judge an offset on".into());
    } else if opts.local_film {
        match local_film::centre(&found.trace, &existing) {
            None => local_skipped = Some("the search tried no point with room for one".into()),
            Some((centre, radius)) => match try_local(&model, &name, (&fit_takes, &fit_set), (&test_takes, &test_set), centre, radius, &new_scores, opts.quick) {
                Ok((report, graph)) => {
                    local_graph = Some(graph);
                    local = Some(report);
                }
                // The point is already fitted: an offset that cannot be trained leaves it.
                Err(e) => local_skipped = Some(format!("training it failed: {e:#}")),
            },
        }
    }
    let final_scores = local.as_ref().filter(|l| l.kept).map_or(&new_scores, |l| &l.scores);
    let beats_nearest = final_scores.rmse_cqt < nearest_scores.rmse_cqt;
    let point = local.as_ref().filter(|l| l.kept).map_or(found.point, |l| l.centre);

    let mut manifest = model.manifest.clone();
    let (bank, program) = match &opts.source {
        Source::Preset { bank, program, .. } => (*bank, *program),
        Source::Recordings(_) => (0, 0),
    };
    manifest.instruments.push(Instrument { name: name.clone(), program, bank, point: point.to_vec(), added: Some(source.clone()) });
    manifest.validate().map_err(|e| anyhow::anyhow!("the new manifest is invalid: {e}"))?;
    if TimbrePlane::new(&manifest.instruments) != TimbrePlane::new(&model.manifest.instruments) {
        bail!("internal: the new point moved the pad's plane");
    }
    let mut new_model = ModelBytes { manifest, ..model.clone() };
    let with_offset = local_graph.map(|g| ModelBytes { mel2mel: std::borrow::Cow::Owned(g), ..model.clone() });
    if let Some(m) = with_offset.as_ref().filter(|_| local.as_ref().is_some_and(|l| l.kept)) {
        new_model.mel2mel = m.mel2mel.clone();
    }
    let existing_checks = check_existing(&model, &new_model)?;
    if let Some(e) = existing_checks.iter().find(|e| e.max_difference > EXISTING_TOLERANCE) {
        bail!("internal: {} would change by {:.1e} (at most {EXISTING_TOLERANCE:.0e} is allowed); nothing was written", e.name, e.max_difference);
    }
    // Look, not only count: the held-out take as each candidate plays it, drawn before
    // the report so that the report and the provenance name it only if it exists.
    let nearest = model.manifest.instruments[nearest_index].name.clone();
    let picture = format!("eval/added-{}.png", name.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    let candidates = [(format!("{name}, point alone"), &model, found.point)]
        .into_iter()
        .chain(with_offset.as_ref().zip(local.as_ref()).map(|(m, l)| (format!("{name}, point + local FiLM ({})", if l.kept { "kept" } else { "not kept" }), m, l.centre)))
        .chain([(format!("nearest existing: {nearest}"), &model, existing[nearest_index])])
        .collect::<Vec<_>>();
    let spectrograms = match spectrogram_picture(&test_takes[0], &candidates, &opts.out.join(&picture)) {
        Ok(()) => Some(picture),
        Err(e) => {
            eprintln!("warning: no comparison picture: {e:#}");
            None
        }
    };
    let mut report = AddReport {
        name: name.clone(),
        source,
        point,
        search_point: found.point,
        nearest,
        beats_nearest,
        new_scores,
        nearest_scores,
        fit_loss: found.loss,
        nearest_fit_loss,
        held_out,
        fit_seconds_of_audio: seconds(&fit_takes),
        held_out_seconds_of_audio: seconds(&test_takes),
        evaluations: scorer.evaluations,
        existing: existing_checks,
        local,
        local_skipped,
        alignment_ms: alignment,
        spectrograms,
        wall_seconds: 0.0,
        cpu_seconds: 0.0,
    };
    report.wall_seconds = started.elapsed().as_secs_f64();
    report.cpu_seconds = cpu_seconds() - cpu0;
    if let serde_json::Value::Object(map) = &mut new_model.manifest.provenance {
        let added = map.entry("added").or_insert_with(|| serde_json::json!([]));
        if let Some(list) = added.as_array_mut() {
            list.push(serde_json::to_value(&report)?);
        }
    }
    new_model.write_dir(&opts.out).with_context(|| format!("writing {}", opts.out.display()))?;
    // The written folder must load and run like any other.
    let written = ModelBytes::from_dir(&opts.out)?;
    ModelRunner::new(&written, Provider::Cpu).with_context(|| format!("the written model {} does not load", opts.out.display()))?;
    Ok(report)
}

/// The report as the tool prints it.
pub fn summary(r: &AddReport) -> String {
    let mut s = String::new();
    let held = if r.held_out { "held-out" } else { "the same (one recording only, so not held out)" };
    s += &format!("added `{}` at ({:.3}, {:.3}) from {}\n", r.name, r.point[0], r.point[1], r.source);
    s += &format!("fitted on {:.0} s of audio in {} evaluations; scored on {:.0} s of {held} material\n\n", r.fit_seconds_of_audio, r.evaluations, r.held_out_seconds_of_audio);
    s += "| point | RMSE-CQT (dB) | log-mel r | Mel2Mel loss |\n|---|---|---|---|\n";
    s += &format!(
        "| new: {}, point alone at ({:.3}, {:.3}) | {:.2} | {:.3} | {:.4} |\n",
        r.name, r.search_point[0], r.search_point[1], r.new_scores.rmse_cqt, r.new_scores.log_mel_r, r.new_scores.mel_loss
    );
    if let Some(l) = &r.local {
        let verdict = if l.kept { "kept" } else { "not kept" };
        s += &format!("| new: {}, point + local FiLM ({verdict}) | {:.2} | {:.3} | {:.4} |\n", r.name, l.scores.rmse_cqt, l.scores.log_mel_r, l.scores.mel_loss);
    }
    s += &format!("| nearest existing: {} | {:.2} | {:.3} | {:.4} |\n\n", r.nearest, r.nearest_scores.rmse_cqt, r.nearest_scores.log_mel_r, r.nearest_scores.mel_loss);
    if let Some(l) = &r.local {
        s += &format!(
            "local FiLM at ({:.3}, {:.3}), radius {:.3}: {} steps in {:.0} s, training loss {:.4} → {:.4}, fitting-material loss {:.4} (point alone {:.4}); {}\n",
            l.centre[0],
            l.centre[1],
            l.radius,
            l.steps,
            l.wall_seconds,
            l.first_loss,
            l.last_loss,
            l.fit_loss,
            r.fit_loss,
            if l.kept { "kept: it beats the point alone on held-out material" } else { "not kept: it did not beat the point alone on held-out material" }
        );
    }
    if let Some(why) = &r.local_skipped {
        s += &format!("local FiLM: not tried, {why}\n");
    }
    s += if r.beats_nearest {
        "the new point beats the nearest existing instrument\n"
    } else {
        "the new point did NOT beat the nearest existing instrument: the frozen model cannot place this sound better than an instrument it already has\n"
    };
    s += "\nexisting instruments, RMSE-CQT (dB) on a probe, before → after (largest sample difference):\n";
    for e in &r.existing {
        let f = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
        s += &format!("  {}: {} → {} ({:.1e})\n", e.name, f(e.before), f(e.after), e.max_difference);
    }
    if let Some(p) = &r.spectrograms {
        s += &format!("spectrograms of a held-out take: {p} in the new folder\n");
    }
    for (n, ms) in &r.alignment_ms {
        s += &format!("  recording {n}: audio − MIDI offset {ms:+.1} ms\n");
    }
    s += &format!("took {:.0} s wall, {:.0} s CPU\n", r.wall_seconds, r.cpu_seconds);
    s
}
