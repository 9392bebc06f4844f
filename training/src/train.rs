//! The training loops: Mel2Mel on the tanh-log-abs MSE; the vocoder on the
//! multi-resolution STFT loss, first from ground-truth mels, then fine-tuned on
//! Mel2Mel's predicted mels so that the chain matches.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use melwave::contract::{Mel2MelConfig, VocoderConfig, HOP, N_MELS, ROLL_DIM, SOURCE_CHANNELS};
use melwave::features::{featurize, featurize_roll, Event};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use tch::{nn, Device, Tensor};

use crate::balance::BalancedOnsets;
use crate::checkpoint::{self, LossPoint, TrainState};
use crate::dataset::{self, Item, Split};
use crate::losses::{band_l1, frame_level_l1, loud_band_l1, mel2mel_loss, MelL1, MultiResStft};
use crate::nets::discriminator::{self, Discriminators};
use crate::nets::mel2mel::Mel2Mel;
use crate::nets::vocoder::Vocoder;
use crate::optim::Adam;
use crate::plot;

static STOP: AtomicBool = AtomicBool::new(false);

/// Ctrl-C asks the loop to save a checkpoint and stop.
pub fn install_ctrlc() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
    });
}

/// CPU time of this process (all threads), in seconds.
pub fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

#[derive(Clone, Debug)]
pub struct Options {
    pub data: PathBuf,
    pub run: PathBuf,
    pub steps: u64,
    pub batch: usize,
    /// Crop length in frames.
    pub frames: usize,
    pub lr: f64,
    pub clip: f64,
    pub checkpoint_every: u64,
    pub validate_every: u64,
    pub seed: u64,
    pub threads: i32,
    /// Stop (with a checkpoint) after this step, keeping the schedule of `steps`: a long
    /// run trained in slices, or a test of resuming.
    pub until: Option<u64>,
    /// A run whose weights a new run starts from (see [`warm_start`]).
    pub warm_start: Option<PathBuf>,
    /// The vocoder loss's weights (see [`VocoderLoss`]).
    pub loss: VocoderLoss,
    /// Mel2Mel's level weight (see [`crate::losses::mel2mel_loss`]).
    pub mel2mel_level: f64,
    /// Mel2Mel's band-L1 weight (see [`crate::losses::band_l1`]).
    pub mel2mel_band: f64,
    /// Mel2Mel's power-weighted band-L1 weight (see [`crate::losses::loud_band_l1`]).
    pub mel2mel_loud_band: f64,
    /// Mel2Mel's share of key-balanced crops (see [`crate::balance`]).
    pub key_balance: f64,
    /// Mel2Mel's share of crops drawn velocity group first (see [`crate::balance`]).
    pub velocity_balance: f64,
    /// The vocoder's adversarial weight: 0 trains without discriminators (see
    /// [`crate::nets::discriminator`]).
    pub adversarial: f64,
    /// Discriminator steps before the generator hears from them (see
    /// [`discriminator::WARMUP`]).
    pub critic_warmup: u64,
    /// A fine-tune's share of each batch vocoded from the true mel instead of Mel2Mel's
    /// prediction, so the vocoder keeps what it knew of real mels while it learns the
    /// predicted ones (0: predicted mels only). Validation scores the chain either way.
    pub true_mel_share: f64,
    /// Vocoder: train the WaveNet alone, the filter net held as it starts (warm-started
    /// or resumed), so that what the WaveNet learns is added to filters that stay as
    /// good as they were.
    pub freeze_filters: bool,
    /// The WaveNet output layer's multiple of the learning rate. The layer starts at
    /// zero, so the rest of the WaveNet hears nothing until it grows; Adam moves it by
    /// at most `lr` a step, which at a vocoder's rate leaves it near zero for
    /// thousands of steps.
    pub output_lr_scale: f64,
    /// Where the nets train (see [`device`]).
    pub device: Device,
}

impl Options {
    /// A run of `steps` on `data` into `run`, with the defaults of every other knob;
    /// tests set what they need on top.
    pub fn new(data: &Path, run: &Path, steps: u64) -> Self {
        Self {
            data: data.into(),
            run: run.into(),
            steps,
            batch: 16,
            frames: 384,
            lr: 1e-3,
            clip: 1.0,
            checkpoint_every: 100,
            validate_every: 50,
            seed: 1,
            threads: 2,
            until: None,
            warm_start: None,
            loss: VocoderLoss::default(),
            mel2mel_level: crate::losses::MEL2MEL_LEVEL_WEIGHT,
            mel2mel_band: crate::losses::MEL2MEL_BAND_WEIGHT,
            mel2mel_loud_band: crate::losses::MEL2MEL_LOUD_BAND_WEIGHT,
            key_balance: crate::balance::KEY_BALANCE,
            velocity_balance: crate::balance::VELOCITY_BALANCE,
            adversarial: 0.0,
            critic_warmup: discriminator::WARMUP,
            true_mel_share: 0.0,
            freeze_filters: false,
            output_lr_scale: 1.0,
            device: Device::Cpu,
        }
    }
}

/// The vocoder's loss: `sc · SC + MR-STFT log-magnitude + mel · log-mel L1 + level ·
/// frame-level L1`.
///
/// Spectral convergence is an L2 on linear magnitudes. Where the net cannot place a
/// partial exactly, L2 is least when the estimate is scaled down, so SC rewards a
/// quiet guess; that is where the soft attacks come from. The log-mel L1 pools the
/// bins of each mel band and compares levels in log, so it holds the level of a band
/// without asking for its exact phase or bin.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VocoderLoss {
    pub sc: f64,
    pub mel: f64,
    /// See [`crate::losses::frame_level_l1`].
    pub level: f64,
}

impl Default for VocoderLoss {
    fn default() -> Self {
        Self { sc: 1.0, mel: MEL_L1_WEIGHT, level: 0.0 }
    }
}

/// Copies another run's weights into a fresh model: every tensor of the same name and
/// shape (a hybrid vocoder can start from a filters-only run's filters, say). The rest
/// keeps its fresh initialisation. Returns what was copied, for the log.
pub fn warm_start(vs: &mut nn::VarStore, from: &Path) -> Result<String> {
    let st = checkpoint::read_state(from)?.with_context(|| format!("{} holds no run to warm-start from", from.display()))?;
    let tensors = checkpoint::read_tensors(from, &st)?;
    let (mut copied, mut fresh) = (0, Vec::new());
    tch::no_grad(|| {
        for (name, mut var) in vs.variables() {
            match tensors.get(&format!("w.{name}")) {
                Some(t) if t.size() == var.size() => {
                    var.copy_(t);
                    copied += 1;
                }
                _ => fresh.push(name),
            }
        }
    });
    fresh.sort();
    Ok(format!("warm start from {} (step {}): {copied} tensors copied, fresh {fresh:?}", from.display(), st.step))
}

/// How far below the harmonic filters a fresh vocoder's noise filters start, in
/// nepers (17 dB): most of what the instruments sound is on their partials.
const NOISE_START_NEPERS: f64 = 2.0;

/// Starts a fresh vocoder's filters at the data's level: the filter net's output bias
/// moves by the log ratio of the target's RMS to the output's on one batch, and the
/// noise starts [`NOISE_START_NEPERS`] below the harmonics. The mel skip already gives
/// each bin the mel's shape; this gives it the level, so the first steps are spent on
/// timbre rather than on finding the volume knob.
fn calibrate_level(model: &Vocoder, b: &VocoderBatch, e: &Tensor) -> String {
    let rms = |x: &Tensor| x.square().mean(tch::Kind::Float).sqrt().double_value(&[]);
    let before = tch::no_grad(|| model.forward(&b.source, &b.mel, e));
    let shift = (rms(&b.audio) / rms(&before).max(1e-9)).ln();
    let bias = model.filter.output.bs.as_ref().expect("the filter output has a bias");
    let k = bias.size()[0] / 2;
    tch::no_grad(|| {
        let _ = bias.narrow(0, 0, k).g_add_scalar_(shift);
        let _ = bias.narrow(0, k, k).g_add_scalar_(shift - NOISE_START_NEPERS);
    });
    let after = tch::no_grad(|| model.forward(&b.source, &b.mel, e));
    format!("level calibration: output rms {:.4} → {:.4}, target {:.4} (bias {shift:+.2})", rms(&before), rms(&after), rms(&b.audio))
}

/// `--device`.
#[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// A CUDA GPU if torch sees one, else the CPU.
    Auto,
    Cpu,
    Cuda,
}

/// The device for `choice`. Asking for CUDA where torch sees no GPU is an error, not a
/// silent fall-back to hours on the CPU.
pub fn device(choice: DeviceChoice) -> Result<Device> {
    let cuda = tch::Cuda::is_available();
    Ok(match choice {
        DeviceChoice::Cpu => Device::Cpu,
        DeviceChoice::Auto if !cuda => Device::Cpu,
        DeviceChoice::Auto | DeviceChoice::Cuda if cuda => Device::Cuda(0),
        _ => bail!("--device cuda: torch sees no CUDA device (no NVIDIA driver, or a CPU-only torch build); use --device cpu or auto"),
    })
}

/// Cosine decay from `lr` to `lr/10`.
fn schedule(lr: f64, step: u64, steps: u64) -> f64 {
    let p = (step as f64 / steps.max(1) as f64).min(1.0);
    lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()))
}

struct Data {
    train: Vec<Item>,
    validation: Vec<Item>,
    instruments: usize,
}

fn load_data(dir: &Path, min_frames: usize) -> Result<Data> {
    let manifest = dataset::read_manifest(dir)?;
    let keep = |v: Vec<Item>| v.into_iter().filter(|i| i.frames() >= min_frames).collect::<Vec<_>>();
    let train = keep(dataset::load(dir, &manifest, Split::Train)?);
    let mut validation = keep(dataset::load(dir, &manifest, Split::Validation)?);
    if train.is_empty() {
        bail!("no training item in {} is {min_frames} frames long", dir.display());
    }
    if validation.is_empty() {
        eprintln!("warning: the validation split is empty; validating on training items");
        validation = keep(dataset::load(dir, &manifest, Split::Train)?);
    }
    Ok(Data { train, validation, instruments: manifest.config.programs.len() })
}

/// A crop: item, first frame.
fn crops(rng: &mut Xoshiro256PlusPlus, items: &[Item], n: usize, frames: usize) -> Vec<(usize, usize)> {
    (0..n)
        .map(|_| {
            let i = rng.random_range(0..items.len());
            (i, rng.random_range(0..=items[i].frames() - frames))
        })
        .collect()
}

/// The instrument of each crop's item, `crops` giving the items' indices.
fn instruments_of(items: &[Item], crops: impl IntoIterator<Item = usize>, device: Device) -> Tensor {
    Tensor::from_slice(&crops.into_iter().map(|i| items[i].instrument as i64).collect::<Vec<_>>()).to_device(device)
}

/// Mel2Mel crops: item, first frame, and whether the crop starts fresh. The engine
/// runs Mel2Mel from its zero state at a fresh start and whenever it leaves idle, so
/// the first frames it sees are a new note's onset after silence; a crop from the
/// middle of an item instead starts from the zero state with notes already sounding
/// whose velocities it never saw. Trained on the second kind alone, the net learned
/// that the first note after a reset is of average loudness, whatever its velocity
/// (a first C4 at velocity 20 came out 25–30 dB too loud). So a quarter of the crops
/// start at an item's first onset (every item is rendered from silence), and the
/// others count no loss over their first [`BURN_IN`] frames, where the net cannot know
/// the sounding notes' levels.
pub(crate) fn mel2mel_crops(rng: &mut Xoshiro256PlusPlus, items: &[Item], n: usize, frames: usize) -> Vec<(usize, usize, bool)> {
    crops(rng, items, n, frames)
        .into_iter()
        .map(|(i, s)| {
            if !rng.random_bool(FRESH_SHARE) {
                return (i, s, false);
            }
            let first = items[i].events.iter().find(|e| matches!(e.event, Event::NoteOn { .. })).map_or(0, |e| e.time as usize / HOP);
            // The onset lands in the first frames, as when the engine leaves idle.
            let start = first.saturating_sub(rng.random_range(0..=FRESH_LEAD)).min(items[i].frames() - frames);
            (i, start, true)
        })
        .collect()
}

const FRESH_SHARE: f64 = 0.25;
/// Frames of silence a fresh crop may have before its first onset.
const FRESH_LEAD: usize = 4;
/// Frames (0.34 s) of a mid-item crop that count no loss.
pub const BURN_IN: usize = 64;

/// A batch assembled on the host, moved to where the nets train.
fn on_device(data: &[f32], shape: &[i64], device: Device) -> Tensor {
    Tensor::from_slice(data).reshape(shape).to_device(device)
}

/// Roll `[B,T,384]`, target mel `[B,T,80]` and loss weights `[B,T,1]` for crops; the
/// roll comes from the engine's own featurizer.
pub(crate) fn mel2mel_batch(items: &[Item], crops: &[(usize, usize, bool)], frames: usize, device: Device) -> (Tensor, Tensor, Tensor) {
    let mut roll = Vec::with_capacity(crops.len() * frames * ROLL_DIM);
    let mut mel = Vec::with_capacity(crops.len() * frames * N_MELS);
    let mut weight = Vec::with_capacity(crops.len() * frames);
    for &(i, s, fresh) in crops {
        let r = featurize_roll(&items[i].events, s + frames);
        roll.extend_from_slice(&r[s * ROLL_DIM..]);
        mel.extend_from_slice(&items[i].mel[s * N_MELS..(s + frames) * N_MELS]);
        let burn_in = if fresh { 0 } else { BURN_IN.min(frames / 2) };
        weight.extend((0..frames).map(|t| if t < burn_in { 0.0f32 } else { 1.0 }));
    }
    let b = crops.len() as i64;
    (
        on_device(&roll, &[b, frames as i64, ROLL_DIM as i64], device),
        on_device(&mel, &[b, frames as i64, N_MELS as i64], device),
        on_device(&weight, &[b, frames as i64, 1], device),
    )
}

/// Source `[B,C,N]`, mel `[B,T,80]` and audio `[B,N]` for vocoder crops, plus the roll
/// over `context` extra frames before the crop (for Mel2Mel's warm-up).
struct VocoderBatch {
    source: Tensor,
    mel: Tensor,
    audio: Tensor,
    roll_with_context: Tensor,
}

fn vocoder_batch(items: &[Item], crops: &[(usize, usize)], frames: usize, context: usize, device: Device) -> VocoderBatch {
    let n = frames * HOP;
    // The excitation is a running process (phases, release tails), so a crop's source
    // is featurized from the item's start; the crops run in parallel. The excitation
    // noise is seeded per item so a crop always sees the same noise.
    let feats: Vec<(Vec<f32>, Vec<f32>)> = crops.par_iter().map(|&(i, s)| featurize(&items[i].events, s + frames, (items[i].piece * 64 + items[i].instrument) as u64)).collect();
    let (mut source, mut mel, mut audio, mut roll) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (&(i, s), (r, src)) in crops.iter().zip(&feats) {
        let item = &items[i];
        let total = s + frames;
        melwave::features::layout::extend_with_frames(&mut source, src, total, s, frames);
        mel.extend_from_slice(&item.mel[s * N_MELS..total * N_MELS]);
        audio.extend_from_slice(&item.audio[s * HOP..total * HOP]);
        // Context before the crop, zero-padded at the item's start.
        let c0 = s as i64 - context as i64;
        if c0 < 0 {
            roll.extend(std::iter::repeat_n(0.0, (-c0) as usize * ROLL_DIM));
        }
        roll.extend_from_slice(&r[c0.max(0) as usize * ROLL_DIM..total * ROLL_DIM]);
    }
    let b = crops.len() as i64;
    VocoderBatch {
        source: on_device(&source, &[b, SOURCE_CHANNELS as i64, n as i64], device),
        mel: on_device(&mel, &[b, frames as i64, N_MELS as i64], device),
        audio: on_device(&audio, &[b, n as i64], device),
        roll_with_context: on_device(&roll, &[b, (frames + context) as i64, ROLL_DIM as i64], device),
    }
}

/// HiFi-GAN's discriminator learning rate.
const DISCRIMINATOR_LR: f64 = 2e-4;

/// Weight of the log-mel L1 term next to the multi-resolution STFT loss.
pub const MEL_L1_WEIGHT: f64 = 1.0;

fn progress(steps: u64, start: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    bar.set_style(ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} {msg} ({eta} left)").expect("static template"));
    bar.set_position(start);
    bar
}

/// Reads a run's state and checks it is one of `kinds`.
fn run_state(run: &Path, kinds: &[&str]) -> Result<TrainState> {
    let state = checkpoint::read_state(run)?.with_context(|| format!("{} holds no {} run", run.display(), kinds[0]))?;
    if !kinds.contains(&state.kind.as_str()) {
        bail!("{} is a {} run, not {}", run.display(), state.kind, kinds.join(" or "));
    }
    Ok(state)
}

/// Loads a finished (or checkpointed) Mel2Mel run onto `device`.
pub fn load_mel2mel(run: &Path, device: Device) -> Result<(nn::VarStore, Mel2Mel, TrainState)> {
    let state = run_state(run, &["mel2mel"])?;
    let mut vs = nn::VarStore::new(device);
    let model = Mel2Mel::new(&vs.root(), &serde_json::from_value(state.config.clone())?, state.instruments);
    let tensors = checkpoint::read_tensors(run, &state)?;
    checkpoint::load_weights(&mut vs, &tensors, checkpoint::added_since(&tensors))?;
    Ok((vs, model, state))
}

/// Loads a vocoder or finetune run onto `device`.
pub fn load_vocoder(run: &Path, device: Device) -> Result<(nn::VarStore, Vocoder, TrainState)> {
    let state = run_state(run, &["vocoder", "finetune"])?;
    let mut vs = nn::VarStore::new(device);
    let model = Vocoder::new(&vs.root(), &serde_json::from_value(state.config.clone())?, state.instruments);
    checkpoint::load_weights(&mut vs, &checkpoint::read_tensors(run, &state)?, &[])?;
    Ok((vs, model, state))
}

/// The part every loop shares: resume, schedule, validation, checkpoints, the bar.
fn run_loop(
    opts: &Options,
    kind: &str,
    vs: &mut nn::VarStore,
    mut state: TrainState,
    mut batch_loss: impl FnMut(&mut Xoshiro256PlusPlus) -> Tensor,
    mut validate: impl FnMut() -> f64,
    // What else a checkpoint writes into the run folder (the discriminators).
    save_extra: &dyn Fn(&Path) -> Result<()>,
) -> Result<TrainState> {
    install_ctrlc();
    tch::set_num_threads(opts.threads);
    let mut adam = Adam::new(vs, opts.lr);
    if opts.output_lr_scale != 1.0 {
        let n = adam.scale_lr(crate::nets::vocoder::WAVENET_OUTPUT, opts.output_lr_scale);
        anyhow::ensure!(n > 0, "--wavenet-output-lr-scale: this run has no WaveNet output layer");
    }
    if let Some(resumed) = checkpoint::resume(&opts.run, kind, vs, &mut adam)? {
        eprintln!("resuming {kind} from step {} in {}", resumed.step, opts.run.display());
        state = resumed;
    }
    let cpu0 = cpu_seconds() - state.cpu_seconds;
    let bar = progress(opts.steps, state.step);
    bar.set_prefix(kind.to_string());
    let started = Instant::now();
    let first = state.step;
    let (mut acc, mut count) = (0.0, 0);
    let save = |state: &mut TrainState, adam: &Adam, vs: &nn::VarStore| -> Result<()> {
        state.cpu_seconds = cpu_seconds() - cpu0;
        checkpoint::save(&opts.run, vs, adam, state)?;
        save_extra(&opts.run)?;
        plot::loss_curves(&state.history, &opts.run.join("loss.png"), kind)
    };
    let end = opts.until.map_or(opts.steps, |u| u.min(opts.steps));
    while state.step < end {
        if STOP.load(Ordering::SeqCst) {
            save(&mut state, &adam, vs)?;
            bar.abandon_with_message(format!("interrupted: checkpoint saved at step {}", state.step));
            return Ok(state);
        }
        adam.lr = schedule(opts.lr, state.step, opts.steps);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed ^ (state.step + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let loss = batch_loss(&mut rng);
        adam.zero_grad();
        loss.backward();
        adam.step(opts.clip);
        let l = loss.double_value(&[]);
        if l.is_finite() {
            acc += l;
            count += 1;
        }
        state.step += 1;
        let rate = (state.step - first) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        bar.set_position(state.step);
        bar.set_message(format!("loss {l:.4}, {rate:.2} steps/s"));
        let last = state.step == end;
        if state.step.is_multiple_of(opts.validate_every) || last {
            let validation = tch::no_grad(&mut validate);
            state.history.push(LossPoint { step: state.step, train: acc / count.max(1) as f64, validation: Some(validation) });
            (acc, count) = (0.0, 0);
            let line = format!("{kind} step {}: train {:.4}, validation {validation:.4}, {rate:.2} steps/s", state.step, state.history.last().expect("just pushed").train);
            // Without a terminal the bar is hidden; the log still gets the line.
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
        if state.step.is_multiple_of(opts.checkpoint_every) || last {
            save(&mut state, &adam, vs)?;
        }
    }
    bar.finish();
    Ok(state)
}

pub fn train_mel2mel(opts: &Options, cfg: &Mel2MelConfig) -> Result<TrainState> {
    let data = load_data(&opts.data, opts.frames)?;
    let dev = opts.device;
    let mut vs = nn::VarStore::new(dev);
    tch::manual_seed(opts.seed as i64);
    let model = Mel2Mel::new(&vs.root(), cfg, data.instruments);
    if let Some(from) = &opts.warm_start {
        eprintln!("{}", warm_start(&mut vs, from)?);
    }
    let state = TrainState { kind: "mel2mel".into(), config: serde_json::to_value(cfg)?, instruments: data.instruments, ..Default::default() };
    let mut vrng = Xoshiro256PlusPlus::seed_from_u64(opts.seed ^ 0xABCD);
    let vcrops = mel2mel_crops(&mut vrng, &data.validation, 16, opts.frames);
    let (vroll, vmel, vweight) = mel2mel_batch(&data.validation, &vcrops, opts.frames, dev);
    let vinst = instruments_of(&data.validation, vcrops.iter().map(|c| c.0), dev);
    let frames = opts.frames;
    let (w, band, loud) = (opts.mel2mel_level, opts.mel2mel_band, opts.mel2mel_loud_band);
    let onsets = BalancedOnsets::new(&data.train, frames);
    run_loop(
        opts,
        "mel2mel",
        &mut vs,
        state,
        |rng| {
            let mut c = mel2mel_crops(rng, &data.train, opts.batch, frames);
            onsets.mix_into(&mut c, opts.key_balance, opts.velocity_balance, rng, &data.train, frames);
            let (roll, mel, weight) = mel2mel_batch(&data.train, &c, frames, dev);
            let e = model.embedding.index_select(0, &instruments_of(&data.train, c.iter().map(|c| c.0), dev));
            let pred = model.forward(&roll, &e);
            let loss = mel2mel_loss(&pred, &mel, &weight, w) + band_l1(&pred, &mel, &weight) * band;
            // Left out at 0, so runs without it compute exactly what they did before it.
            if loud > 0.0 {
                loss + loud_band_l1(&pred, &mel, &weight) * loud
            } else {
                loss
            }
        },
        // Validation keeps the tanh-log-abs and level terms alone, so runs with and
        // without the band terms compare.
        || mel2mel_loss(&model.forward(&vroll, &model.embedding.index_select(0, &vinst)), &vmel, &vweight, w).double_value(&[]),
        &|_| Ok(()),
    )
}

/// Trains a vocoder of size `cfg` on ground-truth mels.
pub fn train_vocoder(opts: &Options, cfg: &VocoderConfig) -> Result<TrainState> {
    vocoder_loop(opts, cfg, None, None)
}

/// Continues the vocoder run `vocoder` (at its own size) on the mels the Mel2Mel run
/// `mel2mel` predicts, so that the chain matches.
pub fn finetune_vocoder(opts: &Options, vocoder: &Path, mel2mel: &Path) -> Result<TrainState> {
    let st = checkpoint::read_state(vocoder)?.with_context(|| format!("{} holds no vocoder run", vocoder.display()))?;
    let cfg: VocoderConfig = serde_json::from_value(st.config)?;
    vocoder_loop(opts, &cfg, Some(vocoder), Some(mel2mel))
}

/// The first `share` of the batch's items take their true mel. Crops are drawn at
/// random, so the first items are a random subset.
fn with_true_mels(predicted: Tensor, truth: &Tensor, share: f64) -> Tensor {
    let n = predicted.size()[0];
    let k = (share.clamp(0.0, 1.0) * n as f64).round() as i64;
    match k {
        0 => predicted,
        k if k == n => truth.shallow_clone(),
        k => Tensor::cat(&[truth.narrow(0, 0, k), predicted.narrow(0, k, n - k)], 0),
    }
}

fn vocoder_loop(opts: &Options, cfg: &VocoderConfig, init: Option<&Path>, finetune_from: Option<&Path>) -> Result<TrainState> {
    const CONTEXT: usize = 128;
    let data = load_data(&opts.data, opts.frames)?;
    tch::manual_seed(opts.seed as i64);
    let dev = opts.device;
    let mut vs = nn::VarStore::new(dev);
    let kind = if init.is_some() { "finetune" } else { "vocoder" };
    let mut model = Vocoder::new(&vs.root(), cfg, data.instruments);
    if let Some(run) = init {
        let st = checkpoint::read_state(run)?.with_context(|| format!("{} holds no vocoder run", run.display()))?;
        checkpoint::load_weights(&mut vs, &checkpoint::read_tensors(run, &st)?, &[])?;
    } else if let Some(from) = &opts.warm_start {
        eprintln!("{}", warm_start(&mut vs, from)?);
    }
    if init.is_none() && opts.warm_start.is_none() && checkpoint::read_state(&opts.run)?.is_none() {
        // A fresh run; a resumed one loads its own weights in `run_loop`.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed ^ 0x5EED);
        let c = crops(&mut rng, &data.train, opts.batch.max(4), opts.frames);
        let b = vocoder_batch(&data.train, &c, opts.frames, CONTEXT, dev);
        let e = model.embedding.index_select(0, &instruments_of(&data.train, c.iter().map(|c| c.0), dev));
        eprintln!("{}", calibrate_level(&model, &b, &e));
    }
    let mel2mel = match finetune_from {
        Some(run) => {
            let (mvs, m, _) = load_mel2mel(run, dev)?;
            // The chain's timbre plane is Mel2Mel's: the vocoder adopts its points.
            tch::no_grad(|| model.embedding.copy_(&m.embedding));
            Some((mvs, m))
        }
        None => None,
    };
    if kind == "finetune" && mel2mel.is_none() {
        bail!("fine-tuning needs the Mel2Mel run (--mel2mel)");
    }
    // The vocoder follows the embedding; it does not move it.
    model.embedding = model.embedding.set_requires_grad(false);
    if opts.freeze_filters {
        anyhow::ensure!(cfg.layers > 0, "--freeze-filters leaves nothing to train in a vocoder without a WaveNet");
        for (name, t) in vs.variables() {
            if name.starts_with("filter.") {
                let _ = t.set_requires_grad(false);
            }
        }
    }
    let state = TrainState { kind: kind.into(), config: serde_json::to_value(cfg)?, instruments: data.instruments, ..Default::default() };
    let stft = MultiResStft::default();
    let mel_l1 = MelL1::default();
    let w = opts.loss;
    let loss = |pred: &Tensor, audio: &Tensor| {
        let (sc, mag) = stft.terms(pred, audio);
        let mut total = sc * w.sc + mag + mel_l1.loss(pred, audio) * w.mel;
        if w.level > 0.0 {
            // A new tensor, not `+=`, which tch runs in place under autograd.
            #[allow(clippy::assign_op_pattern)]
            {
                total = total + frame_level_l1(pred, audio) * w.level;
            }
        }
        total
    };
    let frames = opts.frames;
    let mel_for = |b: &VocoderBatch, e: &Tensor| -> Tensor {
        match &mel2mel {
            Some((_, m)) => tch::no_grad(|| m.forward(&b.roll_with_context, e).narrow(1, CONTEXT as i64, frames as i64)),
            None => b.mel.shallow_clone(),
        }
    };
    let mut critics = (opts.adversarial > 0.0).then(|| Discriminators::new(DISCRIMINATOR_LR, opts.clip, dev));
    if let Some(d) = &mut critics {
        if d.resume(&opts.run.join(discriminator::FILE))? {
            eprintln!("resuming the discriminators from {}", opts.run.display());
            d.steps = opts.critic_warmup;
        }
    }
    // The batch closure trains them, the checkpoint saves them.
    let critics = std::cell::RefCell::new(critics);
    let mut vrng = Xoshiro256PlusPlus::seed_from_u64(opts.seed ^ 0xABCD);
    let vcrops = crops(&mut vrng, &data.validation, 8, frames);
    let vb = vocoder_batch(&data.validation, &vcrops, frames, CONTEXT, dev);
    let ve = model.embedding.index_select(0, &instruments_of(&data.validation, vcrops.iter().map(|c| c.0), dev));
    let vmel = mel_for(&vb, &ve);
    run_loop(
        opts,
        kind,
        &mut vs,
        state,
        |rng| {
            let c = crops(rng, &data.train, opts.batch, frames);
            let b = vocoder_batch(&data.train, &c, frames, CONTEXT, dev);
            let e = model.embedding.index_select(0, &instruments_of(&data.train, c.iter().map(|c| c.0), dev));
            let mel = with_true_mels(mel_for(&b, &e), &b.mel, opts.true_mel_share);
            let pred = model.forward(&b.source, &mel, &e);
            let reconstruction = loss(&pred, &b.audio);
            let mut critics = critics.borrow_mut();
            let Some(d) = critics.as_mut() else {
                return reconstruction;
            };
            d.train_step(&b.audio, &pred);
            if d.steps <= opts.critic_warmup {
                return reconstruction;
            }
            reconstruction + d.generator_loss(&b.audio, &pred) * opts.adversarial
        },
        || loss(&model.forward(&vb.source, &vmel, &ve), &vb.audio).double_value(&[]),
        &|run| match critics.borrow().as_ref() {
            Some(d) => d.save(&run.join(discriminator::FILE)),
            None => Ok(()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    /// A CUDA build of torch must reach the binary whole: without its CUDA half torch
    /// sees no GPU, and `--device auto` would train on the CPU on a machine with one.
    #[test]
    fn a_cuda_build_of_torch_is_linked_with_its_cuda_half() {
        if option_env!("MELWAVE_TORCH_CUDA").is_some() {
            assert!(tch::utils::has_cudart(), "libtorch_cuda is in the torch venv but not loaded: see training/build.rs");
        }
    }

    #[test]
    fn a_true_mel_share_takes_that_many_items_of_the_batch_from_the_truth() {
        let predicted = Tensor::zeros([4, 3, 2], (Kind::Float, Device::Cpu));
        let truth = Tensor::ones([4, 3, 2], (Kind::Float, Device::Cpu));
        let rows = |t: &Tensor| -> Vec<f64> { (0..4).map(|i| t.get(i).mean(Kind::Float).double_value(&[])).collect() };
        assert_eq!(rows(&with_true_mels(predicted.shallow_clone(), &truth, 0.0)), [0.0; 4]);
        assert_eq!(rows(&with_true_mels(predicted.shallow_clone(), &truth, 0.5)), [1.0, 1.0, 0.0, 0.0]);
        assert_eq!(rows(&with_true_mels(predicted.shallow_clone(), &truth, 0.3)), [1.0, 0.0, 0.0, 0.0]);
        assert_eq!(rows(&with_true_mels(predicted, &truth, 1.0)), [1.0; 4]);
    }

    #[test]
    fn device_choice_follows_what_torch_sees() {
        assert_eq!(device(DeviceChoice::Cpu).unwrap(), Device::Cpu);
        if tch::Cuda::is_available() {
            assert_eq!(device(DeviceChoice::Cuda).unwrap(), Device::Cuda(0));
            assert_eq!(device(DeviceChoice::Auto).unwrap(), Device::Cuda(0));
        } else {
            let err = device(DeviceChoice::Cuda).unwrap_err().to_string();
            assert!(err.contains("no CUDA device"), "{err}");
            assert_eq!(device(DeviceChoice::Auto).unwrap(), Device::Cpu);
        }
    }
}
