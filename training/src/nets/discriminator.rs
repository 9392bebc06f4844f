//! The adversarial critics of the vocoder's optional GAN loss: HiFi-GAN's multi-period
//! discriminator (periods 2, 3, 5, 7, 11) beside UnivNet's multi-resolution one, with
//! least-squares losses and feature matching.
//!
//! Both are cut to a CPU's budget: 16–128 channels instead of HiFi-GAN's 32–1024, so a
//! discriminator step costs about what a generator step does. They exist in training
//! only; nothing of them reaches the model folder.

use std::path::Path;

use anyhow::{Context, Result};
use tch::{nn, nn::Module, Kind, Tensor};

use crate::optim::Adam;

const PERIODS: [i64; 5] = [2, 3, 5, 7, 11];
/// (n_fft, hop) of the spectrogram critics.
const RESOLUTIONS: [(i64, i64); 3] = [(256, 64), (1024, 256), (2048, 512)];
const PERIOD_CHANNELS: [i64; 5] = [16, 32, 64, 128, 128];
const RESOLUTION_CHANNELS: i64 = 16;
const SLOPE: f64 = 0.1;
/// HiFi-GAN's feature-matching weight next to the adversarial term.
const FEATURE_MATCHING: f64 = 2.0;
/// Discriminator steps taken before the generator hears from it: a fresh critic's
/// verdicts are noise, and would only shake a pretrained vocoder.
pub const WARMUP: u64 = 100;
/// Their weights in a run folder, saved with every checkpoint.
pub const FILE: &str = "discriminators.safetensors";

fn leaky(x: &Tensor) -> Tensor {
    x.maximum(&(x * SLOPE))
}

/// One critic: logits and the feature maps feature matching compares.
trait Critic {
    fn judge(&self, x: &Tensor) -> (Tensor, Vec<Tensor>);
}

/// A critic's layers: convolutions with leaky ReLUs, then one to the logits.
struct ConvStack {
    convs: Vec<nn::Conv2D>,
    post: nn::Conv2D,
}

impl ConvStack {
    /// Logits and the feature maps feature matching compares, for `h` `[B, 1, H, W]`.
    fn judge(&self, mut h: Tensor) -> (Tensor, Vec<Tensor>) {
        let mut features = Vec::new();
        for c in &self.convs {
            h = leaky(&c.forward(&h));
            features.push(h.shallow_clone());
        }
        let logits = self.post.forward(&h);
        features.push(logits.shallow_clone());
        (logits.flatten(1, -1), features)
    }
}

/// Looks at the waveform folded by its period, so each column holds every p-th sample.
struct PeriodCritic {
    period: i64,
    layers: ConvStack,
}

impl PeriodCritic {
    fn new(vs: nn::Path, period: i64) -> Self {
        let mut convs = Vec::new();
        let mut inp = 1;
        for (i, &out) in PERIOD_CHANNELS.iter().enumerate() {
            let last = i + 1 == PERIOD_CHANNELS.len();
            let cfg = nn::ConvConfigND::<[i64; 2]> { stride: [if last { 1 } else { 3 }, 1], padding: [2, 0], ..Default::default() };
            convs.push(nn::conv(&vs / format!("conv{i}"), inp, out, [5, 1], cfg));
            inp = out;
        }
        let post = nn::conv(&vs / "post", inp, 1, [3, 1], nn::ConvConfigND::<[i64; 2]> { padding: [1, 0], ..Default::default() });
        Self { period, layers: ConvStack { convs, post } }
    }
}

impl Critic for PeriodCritic {
    fn judge(&self, x: &Tensor) -> (Tensor, Vec<Tensor>) {
        let (b, n) = x.size2().expect("[B, N] audio");
        let pad = (self.period - n % self.period) % self.period;
        let x = if pad > 0 { x.unsqueeze(1).reflection_pad1d([0, pad]).squeeze_dim(1) } else { x.shallow_clone() };
        self.layers.judge(x.view([b, 1, (n + pad) / self.period, self.period]))
    }
}

/// Looks at a log-magnitude spectrogram at one resolution.
struct ResolutionCritic {
    n_fft: i64,
    hop: i64,
    window: Tensor,
    layers: ConvStack,
}

impl ResolutionCritic {
    fn new(vs: nn::Path, (n_fft, hop): (i64, i64)) -> Self {
        let c = RESOLUTION_CHANNELS;
        let wide = |stride| nn::ConvConfigND::<[i64; 2]> { stride: [1, stride], padding: [1, 4], ..Default::default() };
        let square = nn::ConvConfigND::<[i64; 2]> { padding: [1, 1], ..Default::default() };
        let convs = vec![
            nn::conv(&vs / "conv0", 1, c, [3, 9], wide(1)),
            nn::conv(&vs / "conv1", c, c, [3, 9], wide(2)),
            nn::conv(&vs / "conv2", c, c, [3, 9], wide(2)),
            nn::conv(&vs / "conv3", c, c, [3, 9], wide(2)),
            nn::conv(&vs / "conv4", c, c, [3, 3], square),
        ];
        let post = nn::conv(&vs / "post", c, 1, [3, 3], square);
        Self { n_fft, hop, window: Tensor::hann_window(n_fft, (Kind::Float, vs.device())), layers: ConvStack { convs, post } }
    }
}

impl Critic for ResolutionCritic {
    fn judge(&self, x: &Tensor) -> (Tensor, Vec<Tensor>) {
        let spec = x.stft(self.n_fft, self.hop, self.n_fft, Some(&self.window), false, true, true, false).abs();
        // [B, 1, time, frequency]: the wide kernels run along frequency.
        self.layers.judge((spec + 1e-5).log().transpose(1, 2).unsqueeze(1))
    }
}

/// The critics, their optimiser, and the generator's loss from them.
pub struct Discriminators {
    vs: nn::VarStore,
    critics: Vec<Box<dyn Critic>>,
    adam: Adam,
    clip: f64,
    /// Discriminator updates taken in this process.
    pub steps: u64,
}

impl Discriminators {
    pub fn new(lr: f64, clip: f64, device: tch::Device) -> Self {
        let vs = nn::VarStore::new(device);
        let mut critics: Vec<Box<dyn Critic>> = Vec::new();
        for p in PERIODS {
            critics.push(Box::new(PeriodCritic::new(vs.root() / format!("period{p}"), p)));
        }
        for r in RESOLUTIONS {
            critics.push(Box::new(ResolutionCritic::new(vs.root() / format!("resolution{}", r.0), r)));
        }
        let adam = Adam::new(&vs, lr);
        Self { vs, critics, adam, clip, steps: 0 }
    }

    /// Loads the critics' weights saved by an earlier slice of the run, if any.
    pub fn resume(&mut self, path: &Path) -> Result<bool> {
        if !path.is_file() {
            return Ok(false);
        }
        self.vs.load(path).with_context(|| format!("loading the discriminators from {}", path.display()))?;
        Ok(true)
    }

    /// Written to a temporary file and renamed, like the checkpoint beside it, as host
    /// tensors whatever the device.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tensors: Vec<(String, Tensor)> = self.vs.variables().into_iter().map(|(n, t)| (n, t.to_device(tch::Device::Cpu))).collect();
        melwave::files::replace_with(path, |tmp| Tensor::write_safetensors(&tensors, tmp).map_err(std::io::Error::other))
            .with_context(|| format!("saving the discriminators to {}", path.display()))
    }

    /// One least-squares update of the critics on `real` against the detached `fake`
    /// (both `[B, N]`); returns the loss.
    pub fn train_step(&mut self, real: &Tensor, fake: &Tensor) -> f64 {
        self.vs.unfreeze();
        let fake = fake.detach();
        let mut loss = Tensor::zeros([], (Kind::Float, real.device()));
        for c in &self.critics {
            let (r, _) = c.judge(real);
            let (f, _) = c.judge(&fake);
            loss = loss + (r.ones_like() - &r).square().mean(Kind::Float) + f.square().mean(Kind::Float);
        }
        self.adam.zero_grad();
        loss.backward();
        self.adam.step(self.clip);
        self.steps += 1;
        loss.double_value(&[])
    }

    /// The generator's adversarial loss plus feature matching, differentiable in `fake`
    /// only: the critics are frozen while the generator learns from them.
    // New tensors, not `+=`: tch's `+=` adds in place, which autograd must not see.
    #[allow(clippy::assign_op_pattern)]
    pub fn generator_loss(&mut self, real: &Tensor, fake: &Tensor) -> Tensor {
        self.vs.freeze();
        let mut adversarial = Tensor::zeros([], (Kind::Float, real.device()));
        let mut matching = Tensor::zeros([], (Kind::Float, real.device()));
        for c in &self.critics {
            let (_, real_features) = tch::no_grad(|| c.judge(real));
            let (f, fake_features) = c.judge(fake);
            adversarial = adversarial + (f.ones_like() - &f).square().mean(Kind::Float);
            for (a, b) in real_features.iter().zip(&fake_features) {
                matching = matching + (a - b).abs().mean(Kind::Float);
            }
        }
        adversarial + matching * FEATURE_MATCHING
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The critics learn to tell a sine from noise, and the generator's loss is lower
    /// for the signal they were taught is real.
    #[test]
    fn critics_learn_to_tell_real_from_fake() {
        tch::manual_seed(3);
        let n = 4096;
        let t = Tensor::arange(n, (Kind::Float, tch::Device::Cpu)) * (2.0 * std::f64::consts::PI * 440.0 / 24_000.0);
        let real = (t.sin() * 0.3).unsqueeze(0).repeat([2, 1]);
        let fake = Tensor::randn([2, n], (Kind::Float, tch::Device::Cpu)) * 0.1;
        let mut d = Discriminators::new(2e-3, 10.0, tch::Device::Cpu);
        let first = d.train_step(&real, &fake);
        let mut last = first;
        for _ in 0..30 {
            last = d.train_step(&real, &fake);
        }
        assert!(last < first * 0.5, "discriminator loss {first:.3} → {last:.3}");
        let on_fake = d.generator_loss(&real, &fake).double_value(&[]);
        let on_real = d.generator_loss(&real, &real).double_value(&[]);
        assert!(on_real < on_fake, "generator loss on the real signal {on_real:.3}, on noise {on_fake:.3}");
        assert_eq!(d.steps, 31);
    }
}
