//! `Linear(384→H) → FiLM(e) → LSTM → FiLM(e) → Linear(H→80)`, batch-first.

use melwave::contract::{Mel2MelConfig, N_MELS, ROLL_DIM};
use tch::nn::{self, Module, RNN};
use tch::Tensor;

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
        let x = apply_film(&self.input.forward(roll), &self.film_in.forward(e), self.hidden);
        let (y, _) = self.lstm.seq(&x);
        let y = apply_film(&y, &self.film_out.forward(e), self.hidden);
        self.output.forward(&y)
    }
}
