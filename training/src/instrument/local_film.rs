//! The second step of `add-instrument`: a local FiLM offset for the new instrument
//! (`melwave::contract::film`). A point on the frozen plane can only reach the timbres
//! the plane already spans; the offset gives the new point its own per-channel scale
//! and shift in both of Mel2Mel's FiLM layers (4·H numbers), felt only within a radius
//! that stops short of every other instrument's point. So the existing instruments
//! sound exactly as before, and the pad still morphs smoothly into the new one.
//!
//! Mel2Mel is read back from its graph, so any model folder will do; its weights stay
//! frozen, and only the new offset is trained, on the same takes and the same loss as
//! the point. Whether it is kept is decided on held-out takes, by the caller.

use anyhow::{bail, Result};
use melwave::contract::{film, ModelBytes, EMBED_DIM, N_MELS, ROLL_DIM};
use melwave::features::{LogMel, TimedEvent};
use melwave::runtime::{ModelRunner, Provider};
use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;
use tch::{nn, Device, Kind, Tensor};

use super::Take;
use crate::dataset::Item;
use crate::export::TOLERANCE;
use crate::losses::{mel2mel_loss, MEL2MEL_LEVEL_WEIGHT};
use crate::nets::mel2mel::{LocalFilm, Mel2Mel};
use crate::optim::Adam;
use crate::train::{mel2mel_batch, mel2mel_crops};

/// The radius as a share of the distance to the nearest other point: the bump is
/// zero a little before it reaches a neighbour.
pub const RADIUS_SHARE: f32 = 0.9;

#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub steps: usize,
    pub batch: usize,
    /// Crop length in frames (shorter takes sit the training out).
    pub frames: usize,
    pub lr: f64,
}

impl Plan {
    pub const FULL: Plan = Plan { steps: 900, batch: 8, frames: 256, lr: 3e-3 };
    pub const QUICK: Plan = Plan { steps: 40, batch: 4, frames: 128, lr: 3e-3 };
}

/// The smallest radius an offset gets, as a share of the plane's larger extent, so
/// that a point the search put next to an existing one does not get a pin-prick.
/// Small on purpose: the vocoder's own FiLM follows the point too and is not adapted,
/// so the offset does best at the search's best point. A cello measured both ways (the
/// default model's plane spans 2.63): at its best point, 0.054 from String Ensemble's
/// (radius 0.049, 1.9 % of the extent), the offset took held-out RMSE-CQT from 12.47
/// to 11.14 dB; moved to the best point with room for at least 8 % (it got 0.255,
/// 9.7 %), it reached only 13.23 dB and was not kept. The preset menu reaches a small
/// instrument's point exactly.
pub const MIN_RADIUS_SHARE: f32 = 0.015;

/// The radius a new offset at `point` may have: [`RADIUS_SHARE`] of the distance to
/// the nearest of `others`, or `None` where the point sits on one of them.
pub fn radius_for(point: [f32; 2], others: &[[f32; 2]]) -> Option<f32> {
    let nearest = others.iter().map(|o| ((o[0] - point[0]).powi(2) + (o[1] - point[1]).powi(2)).sqrt()).fold(f32::INFINITY, f32::min);
    (nearest.is_finite() && nearest > 1e-4).then_some(RADIUS_SHARE * nearest)
}

/// Where the offset goes, and its radius: of the points the search tried (`trace`,
/// with their losses), the best one with room for [`MIN_RADIUS_SHARE`] of the
/// plane's extent; `None` when the search tried none.
pub fn centre(trace: &[([f32; 2], f64)], others: &[[f32; 2]]) -> Option<([f32; 2], f32)> {
    let extent = (0..2).map(|a| others.iter().map(|p| p[a]).fold(f32::NEG_INFINITY, f32::max) - others.iter().map(|p| p[a]).fold(f32::INFINITY, f32::min)).fold(0.0, f32::max);
    let least = MIN_RADIUS_SHARE * extent.max(1e-3);
    trace.iter().filter_map(|&(p, loss)| radius_for(p, others).filter(|&r| r >= least).map(|r| (p, r, loss))).min_by(|a, b| a.2.total_cmp(&b.2)).map(|(p, r, _)| (p, r))
}

/// A trained offset: Mel2Mel's graph with it appended.
pub struct Trained {
    pub graph: Vec<u8>,
    pub radius: f32,
    pub steps: usize,
    /// The training loss over the first and the last tenth of the steps.
    pub first_loss: f64,
    pub last_loss: f64,
}

/// Trains the offset of a new instrument at `point`, with radius `radius`, on `takes`.
/// `tick` is called once per step.
pub fn train(model: &ModelBytes, takes: &[Take], point: [f32; 2], radius: f32, plan: Plan, mut tick: impl FnMut()) -> Result<Trained> {
    let cfg = &model.manifest.mel2mel.config;
    let h = cfg.hidden;
    let mut base = cfg.weights_of_graph(&model.mel2mel).map_err(|e| anyhow::anyhow!("cannot read Mel2Mel back from its graph: {e}"))?;
    let old = film::local_count(&base);

    let mut vs = nn::VarStore::new(Device::Cpu);
    let m2m = Mel2Mel::new(&vs.root(), cfg, 1);
    crate::nets::load_weights(&vs, &base)?;
    // Frozen: backward computes no gradients for Mel2Mel's own weights.
    vs.freeze();
    let existing = LocalFilm::of(&base, h);
    let delta_vs = nn::VarStore::new(Device::Cpu);
    let d_in = delta_vs.root().zeros("film_in", &[1, 2 * h as i64]);
    let d_out = delta_vs.root().zeros("film_out", &[1, 2 * h as i64]);
    let with_old = |new: &Tensor, of: fn(&LocalFilm) -> &Tensor| match &existing {
        Some(l) => Tensor::cat(&[of(l).shallow_clone(), new.shallow_clone()], 0),
        None => new.shallow_clone(),
    };
    // Centres and radii are fixed; only the offsets are rebuilt each step, for autograd.
    let (center, radii) = {
        let (c, r) = (Tensor::from_slice(&point).reshape([1, EMBED_DIM as i64]), Tensor::from_slice(&[radius]));
        match &existing {
            Some(l) => (Tensor::cat(&[l.center.shallow_clone(), c], 0), Tensor::cat(&[l.radius.shallow_clone(), r], 0)),
            None => (c, r),
        }
    };
    let local =
        || LocalFilm { center: center.shallow_clone(), radius: radii.shallow_clone(), film_in: with_old(&d_in, |l| &l.film_in), film_out: with_old(&d_out, |l| &l.film_out) };

    // Takes shorter than a crop would shorten every crop (and its loss, after the
    // burn-in), so they sit this step out.
    let items: Vec<Item> = takes
        .iter()
        .filter(|t| t.audio.len() / melwave::contract::HOP >= plan.frames)
        .map(|t| Item { piece: 0, instrument: 0, audio: t.audio.clone(), mel: LogMel::new().compute(&t.audio), events: t.events.clone() })
        .collect();
    if items.is_empty() {
        bail!("no take is {} frames ({:.1} s) long", plan.frames, (plan.frames * melwave::contract::HOP) as f64 / melwave::contract::SAMPLE_RATE as f64);
    }
    let frames = plan.frames;
    let e = Tensor::from_slice(&point).reshape([1, EMBED_DIM as i64]).repeat([plan.batch as i64, 1]);
    let mut adam = Adam::new(&delta_vs, plan.lr);
    let mut losses = Vec::with_capacity(plan.steps);
    for step in 0..plan.steps {
        // Cosine decay to a tenth.
        adam.lr = plan.lr * (0.1 + 0.45 * (1.0 + (std::f64::consts::PI * step as f64 / plan.steps as f64).cos()));
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x10CA1 ^ step as u64);
        let crops = mel2mel_crops(&mut rng, &items, plan.batch, frames);
        let (roll, mel, weight) = mel2mel_batch(&items, &crops, frames, Device::Cpu);
        let loss = mel2mel_loss(&m2m.forward_local(&roll, &e, Some(&local())), &mel, &weight, MEL2MEL_LEVEL_WEIGHT);
        adam.zero_grad();
        loss.backward();
        adam.step(1.0);
        losses.push(loss.double_value(&[]));
        tick();
    }
    let tenth = (plan.steps / 10).max(1);
    let mean = |l: &[f64]| l.iter().sum::<f64>() / l.len().max(1) as f64;

    let to_vec = |t: &Tensor| Vec::<f32>::try_from(t.to_kind(Kind::Float).contiguous().view(-1)).expect("float tensor");
    let trained = local();
    base.insert(film::LOCAL_CENTER, vec![old + 1, EMBED_DIM], to_vec(&trained.center));
    base.insert(film::LOCAL_RADIUS, vec![old + 1], to_vec(&trained.radius));
    base.insert("film_in.local", vec![old + 1, 2 * h], to_vec(&trained.film_in));
    base.insert("film_out.local", vec![old + 1, 2 * h], to_vec(&trained.film_out));
    let graph = cfg.build(&base).map_err(|e| anyhow::anyhow!("the Mel2Mel graph with the new offset: {e}"))?;

    // The graph must compute what was trained.
    let diff = parity(model, &graph, &m2m, &trained, &items[0].events, items[0].frames().min(400), point)?;
    if diff > TOLERANCE {
        bail!("internal: the Mel2Mel graph with the local offset differs from training by {diff}");
    }
    Ok(Trained { graph, radius, steps: plan.steps, first_loss: mean(&losses[..tenth.min(losses.len())]), last_loss: mean(&losses[losses.len().saturating_sub(tenth)..]) })
}

/// Largest |tch − ONNX Runtime| of Mel2Mel's output over `frames` of `events` at `point`.
fn parity(model: &ModelBytes, graph: &[u8], m2m: &Mel2Mel, local: &LocalFilm, events: &[TimedEvent], frames: usize, point: [f32; 2]) -> Result<f32> {
    let roll = melwave::features::featurize_roll(events, frames);
    let expected: Vec<f32> = tch::no_grad(|| {
        let r = Tensor::from_slice(&roll).reshape([1, frames as i64, ROLL_DIM as i64]);
        let e = Tensor::from_slice(&point).reshape([1, EMBED_DIM as i64]);
        Vec::<f32>::try_from(m2m.forward_local(&r, &e, Some(local)).contiguous().view(-1)).expect("float tensor")
    });
    let candidate = ModelBytes { mel2mel: std::borrow::Cow::Owned(graph.to_vec()), ..model.clone() };
    let mut runner = ModelRunner::new(&candidate, Provider::Cpu)?;
    runner.predict_mel(&roll, point).map_err(anyhow::Error::msg)?;
    let got = runner.mel();
    debug_assert_eq!(got.len(), frames * N_MELS);
    Ok(got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max))
}
