//! The search for a new instrument's point: Mel2Mel's training loss on the new
//! instrument's takes, as a function of the 2-D timbre point alone, with every weight
//! frozen. Two numbers are cheap to search without gradients: a grid over the plane,
//! then a compass search that halves its step. It runs the exported graphs through
//! ONNX Runtime, so it works on any model folder, checkpoints or not.

use anyhow::Result;
use melwave::contract::{ModelBytes, N_MELS};
use melwave::features::{featurize_roll, LogMel};
use melwave::runtime::{ModelRunner, Provider};
use tch::Tensor;

use super::Take;
use crate::losses::{mel2mel_loss, MEL2MEL_LEVEL_WEIGHT};

/// How hard to search.
#[derive(Clone, Copy, Debug)]
pub struct SearchPlan {
    /// Grid points per axis for the first pass.
    pub grid: usize,
    /// The compass search stops when its step is this fraction of the plane's extent.
    pub finest_step: f32,
    /// A bound on the compass search's evaluations, whatever the loss surface does.
    pub max_compass: usize,
}

impl SearchPlan {
    pub const FULL: SearchPlan = SearchPlan { grid: 6, finest_step: 1.0 / 128.0, max_compass: 60 };
    /// For CI and tests: a coarser grid and a shorter refinement.
    pub const QUICK: SearchPlan = SearchPlan { grid: 4, finest_step: 1.0 / 32.0, max_compass: 16 };

    /// The most evaluations a search makes, for the progress bar.
    pub fn max_evaluations(&self) -> usize {
        self.grid * self.grid + self.max_compass
    }
}

/// The takes as Mel2Mel sees them: roll in, target log-mel out.
pub struct FitSet {
    items: Vec<(Vec<f32>, Vec<f32>)>,
    pub frames: usize,
}

impl FitSet {
    pub fn new(takes: &[Take]) -> Self {
        let items: Vec<(Vec<f32>, Vec<f32>)> = takes
            .iter()
            .map(|t| {
                let mel = LogMel::new().compute(&t.audio);
                let frames = mel.len() / N_MELS;
                (featurize_roll(&t.events, frames), mel)
            })
            .collect();
        let frames = items.iter().map(|i| i.1.len() / N_MELS).sum();
        Self { items, frames }
    }
}

/// One Mel2Mel runner per core, each taking its share of the takes.
pub struct Scorer {
    runners: Vec<ModelRunner>,
    pub evaluations: usize,
}

impl Scorer {
    pub fn new(model: &ModelBytes) -> Result<Self> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runners = (0..n).map(|_| ModelRunner::new(model, Provider::Cpu)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { runners, evaluations: 0 })
    }

    /// Mel2Mel's loss at `point`, frame-weighted over the set.
    pub fn loss(&mut self, set: &FitSet, point: [f32; 2]) -> Result<f64> {
        self.evaluations += 1;
        let n = self.runners.len();
        let parts: Vec<Result<(f64, usize)>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .runners
                .iter_mut()
                .enumerate()
                .map(|(k, runner)| {
                    s.spawn(move || -> Result<(f64, usize)> {
                        let (mut sum, mut frames) = (0.0, 0);
                        for (roll, mel) in set.items.iter().skip(k).step_by(n) {
                            runner.reset();
                            runner.predict_mel(roll, point).map_err(anyhow::Error::msg)?;
                            let f = mel.len() / N_MELS;
                            let frames_of = |m: &[f32]| Tensor::from_slice(m).reshape([-1, N_MELS as i64]);
                            let every = Tensor::ones([f as i64, 1], (tch::Kind::Float, tch::Device::Cpu));
                            let l = mel2mel_loss(&frames_of(runner.mel()), &frames_of(mel), &every, MEL2MEL_LEVEL_WEIGHT).double_value(&[]);
                            sum += l * f as f64;
                            frames += f;
                        }
                        Ok((sum, frames))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a scoring thread panicked")).collect()
        });
        let (mut sum, mut frames) = (0.0, 0);
        for p in parts {
            let (s, f) = p?;
            sum += s;
            frames += f;
        }
        Ok(sum / frames.max(1) as f64)
    }
}

/// The rectangle the search stays in: the existing points' bounding box, so that the
/// pad's mapping (which spans that box) does not move and every saved pad position
/// and automation curve keeps the sound it had.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub lo: [f32; 2],
    pub hi: [f32; 2],
}

impl Bounds {
    pub fn of(points: &[[f32; 2]]) -> Self {
        let mut b = Bounds { lo: [f32::INFINITY; 2], hi: [f32::NEG_INFINITY; 2] };
        for p in points {
            for (a, &v) in p.iter().enumerate() {
                b.lo[a] = b.lo[a].min(v);
                b.hi[a] = b.hi[a].max(v);
            }
        }
        b
    }

    fn clamp(&self, p: [f32; 2]) -> [f32; 2] {
        [p[0].clamp(self.lo[0], self.hi[0]), p[1].clamp(self.lo[1], self.hi[1])]
    }

    fn extent(&self) -> [f32; 2] {
        [(self.hi[0] - self.lo[0]).max(1e-3), (self.hi[1] - self.lo[1]).max(1e-3)]
    }
}

#[derive(Clone, Debug)]
pub struct Fit {
    pub point: [f32; 2],
    pub loss: f64,
    /// Every point tried, with its loss, in order.
    pub trace: Vec<([f32; 2], f64)>,
}

/// Searches `bounds` for the point of lowest loss, starting from `starts` (the existing
/// instruments, already scored) and a grid; `tick` is called once per evaluation.
pub fn search(scorer: &mut Scorer, set: &FitSet, bounds: Bounds, starts: &[([f32; 2], f64)], plan: SearchPlan, mut tick: impl FnMut()) -> Result<Fit> {
    let grid = plan.grid.max(1);
    let mut trace: Vec<([f32; 2], f64)> = starts.to_vec();
    let ext = bounds.extent();
    for i in 0..grid {
        for j in 0..grid {
            let p = [bounds.lo[0] + ext[0] * (i as f32 + 0.5) / grid as f32, bounds.lo[1] + ext[1] * (j as f32 + 0.5) / grid as f32];
            trace.push((p, scorer.loss(set, p)?));
            tick();
        }
    }
    let &(mut best, mut best_loss) = trace.iter().min_by(|a, b| a.1.total_cmp(&b.1)).expect("the grid is not empty");
    let mut step = 0.5 / grid as f32;
    let mut compass = 0;
    while step >= plan.finest_step && compass < plan.max_compass {
        let mut moved = false;
        for (dx, dy) in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
            let p = bounds.clamp([best[0] + dx * step * ext[0], best[1] + dy * step * ext[1]]);
            if p == best {
                continue;
            }
            let l = scorer.loss(set, p)?;
            tick();
            compass += 1;
            trace.push((p, l));
            if l < best_loss {
                (best, best_loss, moved) = (p, l, true);
                break;
            }
        }
        if !moved {
            step /= 2.0;
        }
    }
    Ok(Fit { point: best, loss: best_loss, trace })
}
