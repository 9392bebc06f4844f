//! `Linear(384→H) → FiLM(e) → LSTM → FiLM(e) → Linear(H→80)`, batch-first.

use melwave::contract::{film, Mel2MelConfig, Weights, N_MELS, ROLL_DIM};
use tch::nn::{self, Module, RNN};
use tch::{Kind, Tensor};

pub struct Mel2Mel {
    input: nn::Linear,
    film_in: nn::Linear,
    lstm: nn::LSTM,
    film_out: nn::Linear,
    output: nn::Linear,
    hidden: i64,
    pub embedding: Tensor,
}

pub fn apply_film(x: &Tensor, gb: &Tensor, width: i64) -> Tensor {
    let (gamma, beta) = super::film_scale_and_shift(gb, width);
    x * gamma.unsqueeze(1) + beta.unsqueeze(1)
}

/// Local FiLM offsets, as `melwave::contract::film` defines them: `[γ, β] += w(e)·Δ`,
/// with `w(e) = max(0, 1 − |e − c|²/r²)²`.
pub struct LocalFilm {
    /// `[K, 2]`
    pub center: Tensor,
    /// `[K]`
    pub radius: Tensor,
    /// `[K, 2H]` each.
    pub film_in: Tensor,
    pub film_out: Tensor,
}

impl LocalFilm {
    /// The offsets a model's weights carry, if any.
    pub fn of(w: &Weights, hidden: usize) -> Option<Self> {
        let k = film::local_count(w);
        let t = |name: &str, dims: &[usize]| -> Tensor {
            let data = w.get(name, dims).expect("weights checked against the contract");
            Tensor::from_slice(data).reshape(dims.iter().map(|&d| d as i64).collect::<Vec<_>>())
        };
        (k > 0).then(|| LocalFilm {
            center: t(film::LOCAL_CENTER, &[k, 2]),
            radius: t(film::LOCAL_RADIUS, &[k]),
            film_in: t("film_in.local", &[k, 2 * hidden]),
            film_out: t("film_out.local", &[k, 2 * hidden]),
        })
    }

    /// The bumps' weights at `e [B,2]`: `[B,K]`.
    pub fn bumps(&self, e: &Tensor) -> Tensor {
        let d2 = (e.unsqueeze(1) - self.center.unsqueeze(0)).square().sum_dim_intlist([-1i64].as_slice(), false, Kind::Float);
        ((d2 / self.radius.square().unsqueeze(0)).neg() + 1.0).relu().square()
    }
}

impl Mel2Mel {
    pub fn new(vs: &nn::Path, cfg: &Mel2MelConfig, instruments: usize) -> Self {
        let h = cfg.hidden as i64;
        let rnn = nn::RNNConfig { num_layers: cfg.layers as i64, batch_first: true, ..Default::default() };
        let out_cfg = nn::LinearConfig { bs_init: Some(nn::Init::Const(-7.0)), ..Default::default() };
        Self {
            input: nn::linear(vs / "input", ROLL_DIM as i64, h, Default::default()),
            film_in: super::film_layer(vs / "film_in", h),
            lstm: nn::lstm(vs / "lstm", h, h, rnn),
            film_out: super::film_layer(vs / "film_out", h),
            output: nn::linear(vs / "output", h, N_MELS as i64, out_cfg),
            hidden: h,
            embedding: super::embedding(vs, instruments),
        }
    }

    /// `roll [B,T,384]`, `e [B,2]` → log-mel `[B,T,80]`, from zero state.
    pub fn forward(&self, roll: &Tensor, e: &Tensor) -> Tensor {
        self.forward_local(roll, e, None)
    }

    /// [`Self::forward`] with local FiLM offsets.
    pub fn forward_local(&self, roll: &Tensor, e: &Tensor, local: Option<&LocalFilm>) -> Tensor {
        let bumps = local.map(|l| (l, l.bumps(e)));
        let film = |layer: &nn::Linear, delta: fn(&LocalFilm) -> &Tensor| match &bumps {
            Some((l, b)) => layer.forward(e) + b.matmul(delta(l)),
            None => layer.forward(e),
        };
        let x = apply_film(&self.input.forward(roll), &film(&self.film_in, |l| &l.film_in), self.hidden);
        let (y, _) = self.lstm.seq(&x);
        let y = apply_film(&y, &film(&self.film_out, |l| &l.film_out), self.hidden);
        self.output.forward(&y)
    }
}
