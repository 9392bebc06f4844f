//! `Linear(256→H) → FiLM(e) → LSTM → FiLM(e) → Linear(H→80)`, batch-first.

use melwave::contract::{Mel2MelConfig, EMBED_DIM, N_MELS, ROLL_DIM};
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

fn film(vs: nn::Path, width: i64) -> nn::Linear {
    // Zero-initialised: FiLM starts as the identity (the export adds the 1 to γ).
    let c = nn::LinearConfig { ws_init: nn::Init::Const(0.0), bs_init: Some(nn::Init::Const(0.0)), bias: true };
    nn::linear(vs, EMBED_DIM as i64, 2 * width, c)
}

pub fn apply_film(x: &Tensor, gb: &Tensor, width: i64) -> Tensor {
    let gamma = gb.narrow(-1, 0, width) + 1.0;
    let beta = gb.narrow(-1, width, width);
    x * gamma.unsqueeze(1) + beta.unsqueeze(1)
}

impl Mel2Mel {
    pub fn new(vs: &nn::Path, cfg: &Mel2MelConfig, instruments: usize) -> Self {
        let h = cfg.hidden as i64;
        let rnn = nn::RNNConfig { num_layers: cfg.layers as i64, batch_first: true, ..Default::default() };
        let out_cfg = nn::LinearConfig { bs_init: Some(nn::Init::Const(-7.0)), ..Default::default() };
        Self {
            input: nn::linear(vs / "input", ROLL_DIM as i64, h, Default::default()),
            film_in: film(vs / "film_in", h),
            lstm: nn::lstm(vs / "lstm", h, h, rnn),
            film_out: film(vs / "film_out", h),
            output: nn::linear(vs / "output", h, N_MELS as i64, out_cfg),
            hidden: h,
            embedding: super::embedding(vs, instruments),
        }
    }

    /// `roll [B,T,256]`, `e [B,2]` → log-mel `[B,T,80]`, from zero state.
    pub fn forward(&self, roll: &Tensor, e: &Tensor) -> Tensor {
        let x = apply_film(&self.input.forward(roll), &self.film_in.forward(e), self.hidden);
        let (y, _) = self.lstm.seq(&x);
        let y = apply_film(&y, &self.film_out.forward(e), self.hidden);
        self.output.forward(&y)
    }
}
