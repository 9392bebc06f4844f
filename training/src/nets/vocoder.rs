//! The causal WaveNet vocoder, as the contract's graph computes it from zero state.

use melwave::contract::vocoder::KERNEL;
use melwave::contract::{VocoderConfig, HOP, N_MELS, SOURCE_CHANNELS};
use tch::nn::{self, Module};
use tch::Tensor;

pub struct Vocoder {
    input: nn::Conv1D,
    cond: nn::Linear,
    film: nn::Linear,
    layers: Vec<(nn::Conv1D, nn::Conv1D, i64)>,
    post1: nn::Conv1D,
    post2: nn::Conv1D,
    c: i64,
    s: i64,
    pub embedding: Tensor,
}

impl Vocoder {
    pub fn new(vs: &nn::Path, cfg: &VocoderConfig, instruments: usize) -> Self {
        let (c, s, l) = (cfg.channels as i64, cfg.skip_channels as i64, cfg.layers as i64);
        let layers = (0..cfg.layers)
            .map(|i| {
                let d = cfg.dilation(i) as i64;
                let p = vs / "layers" / i;
                let conv = nn::conv1d(&p / "conv", c, 2 * c, KERNEL as i64, nn::ConvConfig { dilation: d, ..Default::default() });
                let rs = nn::conv1d(&p / "res_skip", c, c + s, 1, Default::default());
                (conv, rs, d)
            })
            .collect();
        let small = nn::ConvConfig { ws_init: nn::Init::Randn { mean: 0.0, stdev: 0.01 }, ..Default::default() };
        Self {
            input: nn::conv1d(vs / "input", SOURCE_CHANNELS as i64, c, 1, Default::default()),
            cond: nn::linear(vs / "cond", N_MELS as i64, l * 2 * c, Default::default()),
            film: super::film_layer(vs / "film", l * 2 * c),
            layers,
            post1: nn::conv1d(vs / "post1", s, s, 1, Default::default()),
            post2: nn::conv1d(vs / "post2", s, 1, 1, small),
            c,
            s,
            embedding: super::embedding(vs, instruments),
        }
    }

    /// `source [B,2,N]`, `mel [B,n,80]`, `e [B,2]` → audio `[B,N]`, `N = n·HOP`.
    pub fn forward(&self, source: &Tensor, mel: &Tensor, e: &Tensor) -> Tensor {
        let (c, s) = (self.c, self.s);
        let l = self.layers.len() as i64;
        let lc = l * 2 * c;
        let mut x = self.input.forward(source);
        let cond = self.cond.forward(mel);
        let gb = self.film.forward(e);
        let (gamma, beta) = super::film_scale_and_shift(&gb, lc);
        let cb = cond * gamma.unsqueeze(1) + beta.unsqueeze(1); // [B,n,LC]
        let (b, n) = (cb.size()[0], cb.size()[1]);
        let cb = cb.unsqueeze(2).expand([b, n, HOP as i64, lc], false).reshape([b, n * HOP as i64, lc]).transpose(1, 2);
        let gamma = gamma.unsqueeze(2);
        let mut skip: Option<Tensor> = None;
        for (i, (conv, rs, d)) in self.layers.iter().enumerate() {
            let i = i as i64;
            let z = conv.forward(&x.constant_pad_nd([(KERNEL as i64 - 1) * d, 0]));
            let z = z * gamma.narrow(1, i * 2 * c, 2 * c) + cb.narrow(1, i * 2 * c, 2 * c);
            let g = z.narrow(1, 0, c).tanh() * z.narrow(1, c, c).sigmoid();
            let out = rs.forward(&g);
            if i + 1 < l {
                // A new tensor, not `+=`: tch's `+=` adds in place, and autograd still
                // needs the old `x`, which this layer's convolution saved.
                #[allow(clippy::assign_op_pattern)]
                {
                    x = x + out.narrow(1, 0, c);
                }
            }
            let sk = out.narrow(1, c, s);
            skip = Some(match skip {
                None => sk,
                Some(acc) => acc + sk,
            });
        }
        let y = self.post1.forward(&skip.expect("at least one layer").relu()).relu();
        self.post2.forward(&y).squeeze_dim(1)
    }
}
