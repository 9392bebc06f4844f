//! `melwave-train`: turns General MIDI SoundFont renders into a Melwave model.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use melwave::contract::{Manifest, Mel2MelConfig, ModelBytes, VocoderConfig};
use melwave_train::dataset::{self, DatasetConfig, Split};
use melwave_train::train::{self, Options};
use melwave_train::{export, instrument};

#[derive(Parser)]
#[command(name = "melwave-train", version, about = "Train and export Melwave models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Init {
    /// Deterministic random weights: a contract-conforming model for tests.
    Random,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Stage {
    /// Mel2Mel on the tanh-log-abs MSE.
    Mel2mel,
    /// The vocoder on ground-truth mels, multi-resolution STFT loss.
    Vocoder,
    /// A vocoder run continued on Mel2Mel's predicted mels.
    Finetune,
}

#[derive(Args)]
struct TrainArgs {
    /// Dataset folder (from `melwave-train dataset`).
    #[arg(long)]
    data: PathBuf,
    /// Run folder: checkpoints, state.json, loss.png. An existing run resumes.
    #[arg(long)]
    run: PathBuf,
    /// Total steps (a resumed run continues up to this).
    #[arg(long)]
    steps: Option<u64>,
    #[arg(long)]
    batch: Option<usize>,
    /// Crop length in frames.
    #[arg(long)]
    frames: Option<usize>,
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    #[arg(long, default_value_t = 100)]
    checkpoint_every: u64,
    #[arg(long, default_value_t = 50)]
    validate_every: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Torch threads.
    #[arg(long, default_value_t = 2)]
    threads: i32,
    /// A tiny run for CI.
    #[arg(long)]
    quick: bool,
    /// Stop with a checkpoint after this step (the schedule still spans --steps).
    #[arg(long)]
    until: Option<u64>,
    /// Mel2Mel run (vocoder: not needed; finetune: its predicted mels and embedding).
    #[arg(long)]
    mel2mel: Option<PathBuf>,
    /// Vocoder run to fine-tune.
    #[arg(long)]
    vocoder: Option<PathBuf>,
    /// Start a new run (mel2mel or vocoder) from another run's weights, even one of
    /// an older contract: tensors of the same name and shape are copied, the rest
    /// start fresh. A run that resumes from its own checkpoint ignores this.
    #[arg(long)]
    warm_start: Option<PathBuf>,
    /// Vocoder loss: weight of the MR-STFT spectral-convergence term.
    #[arg(long, default_value_t = train::VocoderLoss::default().sc)]
    sc_weight: f64,
    /// Vocoder loss: weight of the log-mel L1 term.
    #[arg(long, default_value_t = train::VocoderLoss::default().mel)]
    mel_weight: f64,
    /// Vocoder loss: weight of the frame-level L1 term.
    #[arg(long, default_value_t = train::VocoderLoss::default().level)]
    level_weight: f64,
    /// Where to train: `auto` takes a CUDA GPU when torch sees one, else the CPU.
    #[arg(long, value_enum, default_value_t = train::DeviceChoice::Cpu)]
    device: train::DeviceChoice,
    /// Vocoder loss: weight of the adversarial and feature-matching terms from the
    /// multi-period and multi-resolution discriminators (0: none).
    #[arg(long, default_value_t = 0.0)]
    adversarial_weight: f64,
    /// Fine-tune: the share of each batch vocoded from the true mel rather than
    /// Mel2Mel's (0–1; 0: Mel2Mel's mels only).
    #[arg(long, default_value_t = 0.0)]
    true_mel_share: f64,
    /// Vocoder and fine-tune: train only the WaveNet, the filter net held as it
    /// starts (warm-started or resumed).
    #[arg(long)]
    freeze_filters: bool,
    /// Vocoder and fine-tune: the WaveNet output layer's multiple of the learning
    /// rate (it starts at zero, and the WaveNet behind it learns only as it grows).
    #[arg(long, default_value_t = 1.0)]
    wavenet_output_lr_scale: f64,
    /// Mel2Mel loss: weight of the frame-level L1 on the log-mel (0: tanh-log-abs MSE
    /// alone, as in Kim et al.).
    #[arg(long, default_value_t = melwave_train::losses::MEL2MEL_LEVEL_WEIGHT)]
    mel2mel_level_weight: f64,
    /// Mel2Mel loss: weight of the band-by-band L1 on the log-mel, floored at −80 dB
    /// (0: none).
    #[arg(long, default_value_t = melwave_train::losses::MEL2MEL_BAND_WEIGHT)]
    mel2mel_band_weight: f64,
    /// Mel2Mel loss: weight of the band L1 weighted by each band's share of the true
    /// frame's power, so the few bands a high note's energy lies in count in full
    /// (0: none).
    #[arg(long, default_value_t = melwave_train::losses::MEL2MEL_LOUD_BAND_WEIGHT)]
    mel2mel_loud_band_weight: f64,
    /// Mel2Mel: share of each batch drawn key first, so the keyboard's rare ends train
    /// as often as its middle (0: crops as the music plays the keys).
    #[arg(long, default_value_t = melwave_train::balance::KEY_BALANCE)]
    key_balance: f64,
    /// Mel2Mel: share of each batch drawn velocity group first (soft, medium, loud
    /// alike), then key, so soft notes train as often as loud ones; the rest follow
    /// --key-balance (0: none).
    #[arg(long, default_value_t = melwave_train::balance::VELOCITY_BALANCE)]
    velocity_balance: f64,
    /// Mel2Mel: the LSTM's width [default: 256]. A new mel2mel run only.
    #[arg(long)]
    hidden: Option<usize>,
    /// Mel2Mel: stacked LSTM layers [default: 1]. A new mel2mel run only.
    #[arg(long)]
    lstm_layers: Option<usize>,
    /// Vocoder: taps of each frame's filters, a multiple of 128 [default: 256]. A new
    /// vocoder run only (a fine-tune keeps its run's size).
    #[arg(long)]
    filter_taps: Option<usize>,
    /// Vocoder: width of the filter net [default: 256]. A new vocoder run only.
    #[arg(long)]
    filter_hidden: Option<usize>,
    /// Vocoder: WaveNet layers after the filters, 0 for none [default: 0]. A new
    /// vocoder run only.
    #[arg(long)]
    vocoder_layers: Option<usize>,
    /// Vocoder: the WaveNet's channels [default: 16]. A new vocoder run only.
    #[arg(long)]
    channels: Option<usize>,
}

impl TrainArgs {
    fn mel2mel_config(&self) -> Result<Mel2MelConfig> {
        let d = Mel2MelConfig::default();
        let cfg = Mel2MelConfig { hidden: self.hidden.unwrap_or(d.hidden), layers: self.lstm_layers.unwrap_or(d.layers) };
        if cfg.hidden == 0 || cfg.layers == 0 {
            bail!("Mel2Mel's --hidden and --lstm-layers must be positive");
        }
        Ok(cfg)
    }

    fn vocoder_config(&self) -> Result<VocoderConfig> {
        let d = VocoderConfig::default();
        let channels = self.channels.unwrap_or(d.channels);
        let cfg = VocoderConfig {
            filter_taps: self.filter_taps.unwrap_or(d.filter_taps),
            filter_hidden: self.filter_hidden.unwrap_or(d.filter_hidden),
            layers: self.vocoder_layers.unwrap_or(d.layers),
            channels,
            skip_channels: channels,
            ..d
        };
        if !cfg.is_valid() {
            bail!("vocoder size {cfg:?} is out of range (filter taps: a multiple of 128 up to 1024)");
        }
        Ok(cfg)
    }

    /// A size flag the stage would not use is an error, not silently ignored.
    fn refuse_sizes_for(&self, stage: Stage) -> Result<()> {
        let mel = [("--hidden", self.hidden), ("--lstm-layers", self.lstm_layers)];
        let voc = [("--filter-taps", self.filter_taps), ("--filter-hidden", self.filter_hidden), ("--vocoder-layers", self.vocoder_layers), ("--channels", self.channels)];
        let unused: Vec<&str> = match stage {
            Stage::Mel2mel => voc.iter().filter(|f| f.1.is_some()).map(|f| f.0).collect(),
            Stage::Vocoder => mel.iter().filter(|f| f.1.is_some()).map(|f| f.0).collect(),
            Stage::Finetune => mel.iter().chain(&voc).filter(|f| f.1.is_some()).map(|f| f.0).collect(),
        };
        if !(0.0..=1.0).contains(&self.true_mel_share) {
            bail!("--true-mel-share is a share of the batch, 0 to 1, not {}", self.true_mel_share);
        }
        if self.true_mel_share > 0.0 && stage != Stage::Finetune {
            bail!("--true-mel-share is for a fine-tune: the vocoder stage trains on true mels only");
        }
        if !unused.is_empty() {
            let why = if stage == Stage::Finetune { "a fine-tune keeps the size of the runs it continues" } else { "they size the other stage" };
            bail!("{} cannot be used here: {why}", unused.join(", "));
        }
        Ok(())
    }
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Render the training dataset from procedural phrases and Debian MIDI.
    Dataset {
        #[arg(long, short)]
        out: PathBuf,
        /// A tiny dataset for CI.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = dataset::synth::DEFAULT_FONT)]
        font: PathBuf,
        /// General MIDI programs to render, comma-separated (default: the ten
        /// instruments of the shipped model).
        #[arg(long, value_delimiter = ',')]
        programs: Vec<u8>,
        /// The font's bank the programs come from.
        #[arg(long, default_value_t = 0, requires = "programs")]
        bank: u8,
        /// The instruments' names, comma-separated, one per program (default: the
        /// presets' names).
        #[arg(long, value_delimiter = ',', requires = "programs")]
        names: Vec<String>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Train one stage.
    Train {
        #[arg(value_enum)]
        stage: Stage,
        #[command(flatten)]
        args: TrainArgs,
    },
    /// Score held-out pieces and fixed probes, streamed through the engine, against
    /// their SoundFont renders, next to the baselines (docs/evaluation.md).
    Eval {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        data: PathBuf,
        #[arg(long, short)]
        out: PathBuf,
        /// One short item per instrument, fewer probes and morph pairs (CI).
        #[arg(long)]
        quick: bool,
    },
    /// Add an instrument to a trained model: fit a new point on its timbre plane to a
    /// SoundFont preset or to recordings, then a local FiLM offset around it (kept if
    /// it scores better on held-out material), with every weight frozen, and write a
    /// new model folder that has it on the pad.
    AddInstrument {
        /// The model folder to start from (only read).
        #[arg(long)]
        model: PathBuf,
        /// The SoundFont the preset comes from.
        #[arg(long, default_value = dataset::synth::DEFAULT_FONT, conflicts_with = "audio")]
        font: PathBuf,
        /// The preset's General MIDI program.
        #[arg(long, required_unless_present = "audio", conflicts_with = "audio")]
        program: Option<u8>,
        #[arg(long, default_value_t = 0, conflicts_with = "audio")]
        bank: u8,
        /// A folder of recordings: pairs NAME.wav + NAME.mid (the MIDI performance of
        /// the recording), any sample rate, aligned within 20 ms.
        #[arg(long)]
        audio: Option<PathBuf>,
        /// The name on the pad (default: the preset's name, or the folder's).
        #[arg(long)]
        name: Option<String>,
        /// The new model folder.
        #[arg(long, short)]
        out: PathBuf,
        /// Less material (CI).
        #[arg(long)]
        quick: bool,
        /// Fit the point only, without a local FiLM offset: Mel2Mel's graph is kept
        /// byte for byte.
        #[arg(long)]
        point_only: bool,
    },
    /// Write a model folder (manifest.json, mel2mel.onnx, vocoder.onnx).
    Export {
        /// Random weights instead of trained runs.
        #[arg(long, value_enum)]
        init: Option<Init>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, short)]
        out: PathBuf,
        /// Trained runs and their dataset.
        #[arg(long, required_unless_present = "init")]
        mel2mel: Option<PathBuf>,
        #[arg(long, required_unless_present = "init")]
        vocoder: Option<PathBuf>,
        #[arg(long, required_unless_present = "init")]
        data: Option<PathBuf>,
        /// Sizes of a random-weight model (a trained export takes its runs' sizes).
        #[arg(long, requires = "init", default_value_t = Mel2MelConfig::default().hidden)]
        hidden: usize,
        #[arg(long, requires = "init", default_value_t = Mel2MelConfig::default().layers)]
        lstm_layers: usize,
        #[arg(long, requires = "init", default_value_t = VocoderConfig::default().layers)]
        vocoder_layers: usize,
        #[arg(long, requires = "init", default_value_t = VocoderConfig::default().channels)]
        channels: usize,
        /// An ablation: the WaveNet's output layer zeroed, so the vocoder plays its
        /// filters alone with every other weight as trained (docs/evaluation.md).
        #[arg(long, conflicts_with = "init")]
        zero_wavenet: bool,
    },
}

fn options(a: &TrainArgs, stage: Stage) -> Options {
    let (steps, batch, frames, lr) = match (stage, a.quick) {
        (Stage::Mel2mel, false) => (4000, 16, 384, 1e-3),
        (Stage::Mel2mel, true) => (60, 4, 128, 3e-3),
        (Stage::Vocoder, false) => (6000, 6, 48, 1e-3),
        (Stage::Vocoder, true) => (30, 2, 16, 2e-3),
        (Stage::Finetune, false) => (1000, 6, 48, 3e-4),
        (Stage::Finetune, true) => (10, 2, 16, 5e-4),
    };
    Options {
        data: a.data.clone(),
        run: a.run.clone(),
        steps: a.steps.unwrap_or(steps),
        batch: a.batch.unwrap_or(batch),
        frames: a.frames.unwrap_or(frames),
        lr: a.lr.unwrap_or(lr),
        clip: a.clip,
        checkpoint_every: if a.quick { 10 } else { a.checkpoint_every },
        validate_every: if a.quick { 10 } else { a.validate_every },
        seed: a.seed,
        threads: a.threads,
        until: a.until,
        warm_start: a.warm_start.clone(),
        loss: train::VocoderLoss { sc: a.sc_weight, mel: a.mel_weight, level: a.level_weight },
        mel2mel_level: a.mel2mel_level_weight,
        mel2mel_band: a.mel2mel_band_weight,
        mel2mel_loud_band: a.mel2mel_loud_band_weight,
        key_balance: a.key_balance,
        velocity_balance: a.velocity_balance,
        adversarial: a.adversarial_weight,
        critic_warmup: melwave_train::nets::discriminator::WARMUP,
        true_mel_share: a.true_mel_share,
        freeze_filters: a.freeze_filters,
        output_lr_scale: a.wavenet_output_lr_scale,
        // Set from `--device` by the caller, where an unusable device is an error.
        device: tch::Device::Cpu,
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Dataset { out, quick, font, programs, bank, names, seed } => {
            let mut cfg = if quick { DatasetConfig::quick(font.clone()) } else { DatasetConfig::full(font.clone()) };
            if !programs.is_empty() {
                cfg = cfg.with_programs(font, bank, programs, names)?;
            }
            cfg.seed = seed;
            let m = dataset::build(&cfg, &out)?;
            eprintln!("dataset in {}: {} pieces, {} items", out.display(), m.pieces.len(), m.items.len());
            for (name, h) in &m.hours_per_instrument {
                eprintln!("  {name}: {:.2} h", h);
            }
            Ok(())
        }
        Command::Train { stage, args } => {
            let mut opts = options(&args, stage);
            opts.device = train::device(args.device)?;
            args.refuse_sizes_for(stage)?;
            let state = match stage {
                Stage::Mel2mel => train::train_mel2mel(&opts, &args.mel2mel_config()?)?,
                Stage::Vocoder => train::train_vocoder(&opts, &args.vocoder_config()?)?,
                Stage::Finetune => {
                    let voc = args.vocoder.as_deref().context("finetune needs --vocoder RUN")?;
                    let m2m = args.mel2mel.as_deref().context("finetune needs --mel2mel RUN")?;
                    train::finetune_vocoder(&opts, voc, m2m)?
                }
            };
            let last = state.history.last();
            eprintln!(
                "{}: step {}, {:.0} CPU s, train {:.4}, validation {:.4}",
                state.kind,
                state.step,
                state.cpu_seconds,
                last.map_or(f64::NAN, |p| p.train),
                last.and_then(|p| p.validation).unwrap_or(f64::NAN)
            );
            Ok(())
        }
        Command::AddInstrument { model, font, program, bank, audio, name, out, quick, point_only } => {
            let source = match (audio, program) {
                (Some(dir), _) => instrument::Source::Recordings(dir),
                (None, Some(program)) => instrument::Source::Preset { font, bank, program },
                (None, None) => {
                    bail!("give --program (a SoundFont preset) or --audio (a folder of recordings)")
                }
            };
            let report = instrument::add(&instrument::AddOptions { model, source, name, out: out.clone(), quick, local_film: !point_only })?;
            print!("{}", instrument::summary(&report));
            eprintln!("wrote {}", out.display());
            Ok(())
        }
        Command::Eval { model, data, out, quick } => {
            let opts = melwave_train::eval::EvalOptions::new(model, data, out, quick);
            melwave_train::eval::run(&opts)?;
            Ok(())
        }
        Command::Export { init: Some(Init::Random), seed, out, hidden, lstm_layers, vocoder_layers, channels, .. } => {
            let mel = Mel2MelConfig { hidden, layers: lstm_layers };
            let voc = VocoderConfig { layers: vocoder_layers, channels, skip_channels: channels, ..VocoderConfig::default() };
            if hidden == 0 || lstm_layers == 0 || !voc.is_valid() {
                bail!("model sizes must be positive (and the vocoder's within range)");
            }
            let model = ModelBytes::random(seed, mel, voc);
            model.write_dir(&out).with_context(|| format!("exporting to {}", out.display()))?;
            eprintln!("wrote a random-weight model (seed {seed}) to {}", out.display());
            Ok(())
        }
        Command::Export { init: None, out, mel2mel, vocoder, data, zero_wavenet, .. } => {
            let (m2m_run, voc_run, data) = (mel2mel.expect("clap requires it"), vocoder.expect("clap requires it"), data.expect("clap requires it"));
            let ds = dataset::read_manifest(&data)?;
            let (mvs, m2m, mstate) = train::load_mel2mel(&m2m_run, tch::Device::Cpu)?;
            let (vvs, voc, vstate) = train::load_vocoder(&voc_run, tch::Device::Cpu)?;
            if zero_wavenet {
                melwave_train::nets::vocoder::zero_wavenet(&vvs)?;
            }
            let instruments = export::instruments(&ds.presets, &melwave_train::nets::points(&mvs));
            let summary = |s: &melwave_train::checkpoint::TrainState| {
                let last = s.history.last();
                serde_json::json!({
                    "kind": s.kind, "steps": s.step, "cpu_seconds": s.cpu_seconds,
                    "train_loss": last.map(|p| p.train), "validation_loss": last.and_then(|p| p.validation),
                })
            };
            let provenance = serde_json::json!({
                "trained": true,
                "dataset": { "font": ds.config.font, "presets": ds.presets, "pieces": ds.pieces.len(), "items": ds.items.len(), "hours_per_instrument": ds.hours_per_instrument },
                "mel2mel": summary(&mstate),
                "vocoder": summary(&vstate),
            });
            let mut provenance = provenance;
            if zero_wavenet {
                provenance["ablation"] = "the WaveNet's output layer zeroed".into();
            }
            let manifest = Manifest::new(serde_json::from_value(mstate.config.clone())?, serde_json::from_value(vstate.config.clone())?, instruments, provenance);
            // Real features for the parity check: the first validation item.
            let item = ds.items.iter().find(|i| i.split == Split::Validation).or(ds.items.first());
            let events = match item {
                Some(i) => Some(dataset::store::read(&data.join(&i.file))?.events),
                None => None,
            };
            let p = export::export(manifest, &mvs, &m2m, &vvs, &voc, events.as_deref(), &out)?;
            eprintln!("exported to {} (parity: worst |tch − ONNX Runtime| = {:.2e})", out.display(), p.worst());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
