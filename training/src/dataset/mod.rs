//! The training dataset: procedural phrases and real MIDI rendered on each of the
//! training instruments, with a deterministic train/validation/test split by source
//! piece. `dataset.json` records what went in.

pub mod phrases;
pub mod sources;
pub mod store;
pub mod synth;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use melwave::contract::manifest::TRAINING_INSTRUMENTS;
use melwave::contract::{HOP, SAMPLE_RATE};
use melwave::features::{LogMel, TimedEvent};
use melwave::midi_file::{self, Song};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "dataset.json";
/// 2: rendered from the channel-merged events (one bend, one pedal, notes counted per
/// key), as the features see them.
pub const FORMAT: &str = "melwave-dataset-2";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetConfig {
    pub seed: u64,
    /// Procedural pieces and their length in seconds.
    pub procedural: usize,
    pub procedural_seconds: f64,
    /// At most this many real MIDI files, and excerpts of this length from each.
    pub real_files: usize,
    pub excerpts_per_file: usize,
    pub excerpt_seconds: f64,
    /// Procedural pieces at the keyboard's ends and at every dynamic
    /// ([`phrases::Emphasis::Extremes`]), `procedural_seconds` long, all in the
    /// training split: the held-out pieces stay those of datasets without them.
    #[serde(default)]
    pub extreme_pieces: usize,
    /// Seconds rendered after the last event, so releases are in the data.
    pub tail_seconds: f64,
    pub font: PathBuf,
    /// The font's bank the programs are taken from.
    #[serde(default)]
    pub bank: u8,
    pub programs: Vec<u8>,
    /// The instruments' names, one per program; empty: the presets' own names.
    #[serde(default)]
    pub names: Vec<String>,
}

impl DatasetConfig {
    /// The size the shipped model is trained on.
    pub fn full(font: PathBuf) -> Self {
        Self {
            seed: 1,
            procedural: 60,
            procedural_seconds: 20.0,
            // Extreme pieces (the keyboard's ends, extreme velocities) teach what the
            // real pieces rarely play; docs/training.md §2 has what their share bought.
            extreme_pieces: 90,
            real_files: 200,
            excerpts_per_file: 1,
            excerpt_seconds: 15.0,
            tail_seconds: 0.5,
            font,
            bank: 0,
            programs: TRAINING_INSTRUMENTS.iter().map(|i| i.0).collect(),
            names: TRAINING_INSTRUMENTS.iter().map(|i| i.1.to_string()).collect(),
        }
    }

    /// The same sizes on other programs of another font (or bank). `names` may be
    /// empty (the presets name the instruments) or hold one name per program.
    pub fn with_programs(mut self, font: PathBuf, bank: u8, programs: Vec<u8>, names: Vec<String>) -> Result<Self> {
        if programs.is_empty() {
            bail!("no programs given");
        }
        if let Some(p) = programs.iter().find(|&&p| p > 127) {
            bail!("program {p} is not a MIDI program (0–127)");
        }
        if bank > 127 {
            bail!("bank {bank} is not a melodic MIDI bank (0–127)");
        }
        let mut seen = programs.clone();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            bail!("a program is listed twice in {programs:?}");
        }
        if !names.is_empty() && names.len() != programs.len() {
            bail!("{} names for {} programs: give one name per program, or none", names.len(), programs.len());
        }
        if names.iter().any(|n| n.trim().is_empty()) {
            bail!("an instrument name is empty");
        }
        self.font = font;
        self.bank = bank;
        self.programs = programs;
        self.names = names;
        Ok(self)
    }

    /// A tiny dataset for CI's end-to-end run.
    pub fn quick(font: PathBuf) -> Self {
        Self { procedural: 6, procedural_seconds: 5.0, extreme_pieces: 1, real_files: 4, excerpts_per_file: 1, excerpt_seconds: 5.0, ..Self::full(font) }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
    Test,
}

/// The source names of the extremes pieces start with this.
const EXTREMES_PREFIX: &str = "extremes/";

/// The source name of the `i`th extremes piece.
pub fn extremes_source(i: usize) -> String {
    format!("{EXTREMES_PREFIX}{i}")
}

/// 80 % train, 10 % validation, 10 % test, decided by the source alone: every excerpt
/// of one file lands in the same set. Extremes pieces only train: they exist to fill
/// gaps in the training material, and scoring them would change the held-out set.
pub fn split_of(source: &str) -> Split {
    if source.starts_with(EXTREMES_PREFIX) {
        return Split::Train;
    }
    match melwave::stable_hash::fnv1a(source) % 10 {
        0 => Split::Test,
        1 => Split::Validation,
        _ => Split::Train,
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Piece {
    pub id: usize,
    /// `procedural/<n>` or the MIDI file's path, plus the excerpt's start.
    pub source: String,
    pub start_seconds: f64,
    pub split: Split,
    pub seconds: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemInfo {
    pub file: String,
    pub piece: usize,
    pub program: u8,
    pub split: Split,
    pub seconds: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetManifest {
    pub format: String,
    pub config: DatasetConfig,
    /// (program, instrument name): the name given, or the preset's as the font has it.
    pub presets: Vec<(u8, String)>,
    pub pieces: Vec<Piece>,
    pub items: Vec<ItemInfo>,
    pub hours_per_instrument: BTreeMap<String, f64>,
}

/// The pieces: procedural ones, excerpts of the real files, then the extremes (last, so
/// that adding them moves no other piece's id).
pub fn pieces(cfg: &DatasetConfig) -> Result<Vec<(Piece, Song)>> {
    let mut out = Vec::new();
    for i in 0..cfg.procedural {
        let source = format!("procedural/{i}");
        let song = phrases::generate(cfg.seed.wrapping_mul(1_000_003).wrapping_add(i as u64), cfg.procedural_seconds);
        let split = split_of(&source);
        out.push((Piece { id: out.len(), seconds: song.duration, source, start_seconds: 0.0, split }, song));
    }
    let files = sources::debian_midi_files();
    if cfg.real_files > 0 && files.is_empty() {
        eprintln!("warning: no MIDI files from {:?} are installed; the dataset is procedural only", sources::MIDI_PACKAGES);
    }
    for path in files.into_iter().take(cfg.real_files) {
        let source = path.display().to_string();
        let mut song = match midi_file::load(&path) {
            Ok(s) if s.duration > 1.0 && s.events.iter().any(|e| e.channel != midi_file::DRUM_CHANNEL) => s,
            Ok(_) => continue,
            Err(e) => {
                eprintln!("warning: skipping {source}: {e}");
                continue;
            }
        };
        // What precedes a damaged event is real music and is kept; the rest of that
        // track is lost, and the render says so.
        for d in &song.damage {
            eprintln!("warning: {source}: {d}");
        }
        synth::keep_what_it_plays(&mut song);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed ^ melwave::stable_hash::fnv1a(&source));
        let split = split_of(&source);
        for _ in 0..cfg.excerpts_per_file {
            let room = (song.duration - cfg.excerpt_seconds).max(0.0);
            let start = if room > 0.0 { rng.random_range(0.0..room) } else { 0.0 };
            let ex = sources::excerpt(&song, start, cfg.excerpt_seconds);
            if !ex.events.iter().any(|e| matches!(e.event, melwave::features::Event::NoteOn { .. })) {
                continue;
            }
            out.push((Piece { id: out.len(), source: source.clone(), start_seconds: start, split, seconds: ex.duration }, ex));
        }
    }
    for i in 0..cfg.extreme_pieces {
        let source = extremes_source(i);
        let seed = cfg.seed.wrapping_mul(1_000_003).wrapping_add(0x4558_0000 + i as u64);
        let song = phrases::generate_with(seed, cfg.procedural_seconds, phrases::Emphasis::Extremes);
        let split = split_of(&source);
        out.push((Piece { id: out.len(), seconds: song.duration, source, start_seconds: 0.0, split }, song));
    }
    Ok(out)
}

/// Renders every piece on every program into `dir`, in parallel, and writes the manifest.
pub fn build(cfg: &DatasetConfig, dir: &Path) -> Result<DatasetManifest> {
    if !cfg.names.is_empty() && cfg.names.len() != cfg.programs.len() {
        bail!("{} names for {} programs", cfg.names.len(), cfg.programs.len());
    }
    let font = synth::load_font(&cfg.font)?;
    let presets = synth::preset_names(&font, cfg.bank, &cfg.programs)?;
    let names = if cfg.names.is_empty() { presets } else { cfg.names.clone() };
    let pieces = pieces(cfg)?;
    if pieces.is_empty() {
        bail!("the dataset would be empty");
    }
    std::fs::create_dir_all(dir.join("items")).with_context(|| format!("cannot create {}", dir.display()))?;
    let jobs: Vec<(usize, u8)> = pieces.iter().flat_map(|(p, _)| cfg.programs.iter().map(move |&g| (p.id, g))).collect();
    let bar = ProgressBar::new(jobs.len() as u64);
    bar.set_style(ProgressStyle::with_template("rendering {bar:40} {pos}/{len} items ({eta} left)").expect("static template"));
    let items: Vec<ItemInfo> = jobs
        .par_iter()
        .map(|&(pid, program)| -> Result<ItemInfo> {
            let (piece, song) = &pieces[pid];
            let length = song.duration + cfg.tail_seconds;
            let events: Vec<TimedEvent> = song.timed_events(SAMPLE_RATE);
            let mut audio = synth::render(&font, &events, cfg.bank, program, length)?;
            audio.truncate(audio.len() / HOP * HOP);
            let mel = LogMel::new().compute(&audio);
            let file = format!("items/{pid:05}_{program:03}.safetensors");
            store::write(&dir.join(&file), &store::StoredItem { audio, mel, events })?;
            bar.inc(1);
            Ok(ItemInfo { file, piece: pid, program, split: piece.split, seconds: length })
        })
        .collect::<Result<_>>()?;
    bar.finish_and_clear();
    let mut hours = BTreeMap::new();
    for (program, name) in cfg.programs.iter().zip(&names) {
        let h: f64 = items.iter().filter(|i| i.program == *program).map(|i| i.seconds / 3600.0).sum();
        hours.insert(format!("{program:03} {name}"), h);
    }
    let manifest = DatasetManifest {
        format: FORMAT.into(),
        config: cfg.clone(),
        presets: cfg.programs.iter().copied().zip(names).collect(),
        pieces: pieces.into_iter().map(|(p, _)| p).collect(),
        items,
        hours_per_instrument: hours,
    };
    let json = serde_json::to_string_pretty(&manifest)?;
    std::fs::write(dir.join(MANIFEST), json).with_context(|| format!("cannot write {}", dir.join(MANIFEST).display()))?;
    Ok(manifest)
}

pub fn read_manifest(dir: &Path) -> Result<DatasetManifest> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).with_context(|| format!("no dataset at {} (run `melwave-train dataset` first)", dir.display()))?;
    let m: DatasetManifest = serde_json::from_slice(&bytes).with_context(|| format!("{} is not a dataset manifest", path.display()))?;
    if m.format != FORMAT {
        bail!("{} is a `{}` dataset, but this trainer needs `{FORMAT}`; render it again with `melwave-train dataset`", dir.display(), m.format);
    }
    Ok(m)
}

/// One item in memory. The instrument index is its position in the config's programs.
pub struct Item {
    pub piece: usize,
    pub instrument: usize,
    pub audio: Vec<f32>,
    pub mel: Vec<f32>,
    pub events: Vec<TimedEvent>,
}

impl Item {
    pub fn frames(&self) -> usize {
        self.audio.len() / HOP
    }
}

/// Loads every item of `split`.
pub fn load(dir: &Path, manifest: &DatasetManifest, split: Split) -> Result<Vec<Item>> {
    manifest
        .items
        .par_iter()
        .filter(|i| i.split == split)
        .map(|info| {
            let s = store::read(&dir.join(&info.file))?;
            let instrument = manifest.config.programs.iter().position(|&p| p == info.program).context("item of an unknown program")?;
            Ok(Item { piece: info.piece, instrument, audio: s.audio, mel: s.mel, events: s.events })
        })
        .collect()
}
