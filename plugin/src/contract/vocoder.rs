//! The streaming vocoder: a causal, non-autoregressive WaveNet in the neural
//! source-filter style.
//!
//! `in-conv(excitation) → layers × [dilated causal conv (k=3) → FiLM(e) with the
//! frame-repeated mel conditioning → tanh·σ gate → 1×1 residual + 1×1 skip] →
//! Σ skip → ReLU → 1×1 → ReLU → 1×1 → sample`.
//!
//! The mel conditioning and FiLM are computed at frame rate and only then repeated
//! to sample rate: `γ·(conv + cond) + β = γ·conv + (γ·cond + β)`, and the bracket is
//! 128× cheaper per frame than per sample.
//!
//! Step graph inputs: `source [1,2,N]`, `mel [1,n,80]`, `timbre [1,2]`, and per layer
//! `state_i [1,C,2·d_i]` (the layer's last `(k−1)·d_i` inputs), with `N = n·HOP`.
//! Outputs: `audio [1,N]` and `state_i_out`.

use serde::{Deserialize, Serialize};

use super::graph::{Attr, Dim, GraphBuilder};
use super::state::StateSpec;
use super::weights::{transpose, Spec, Weights};
use super::{EMBED_DIM, HOP, N_MELS, SOURCE_CHANNELS};

pub const KERNEL: usize = 3;
pub const INPUT_SOURCE: &str = "source";
pub const INPUT_MEL: &str = "mel";
pub const INPUT_TIMBRE: &str = "timbre";
pub const OUTPUT_AUDIO: &str = "audio";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocoderConfig {
    pub layers: usize,
    pub channels: usize,
    pub skip_channels: usize,
    /// Dilations run 1, 2, 4, … 2^(cycle−1), then repeat.
    pub dilation_cycle: usize,
}

impl Default for VocoderConfig {
    fn default() -> Self {
        Self { layers: 12, channels: 32, skip_channels: 32, dilation_cycle: 6 }
    }
}

impl VocoderConfig {
    pub fn dilation(&self, layer: usize) -> usize {
        1 << (layer % self.dilation_cycle.max(1))
    }

    /// Receptive field in samples.
    pub fn receptive_field(&self) -> usize {
        1 + (0..self.layers).map(|l| (KERNEL - 1) * self.dilation(l)).sum::<usize>()
    }

    pub fn weight_specs(&self) -> Vec<Spec> {
        let (c, s, l) = (self.channels, self.skip_channels, self.layers);
        let mut v = vec![
            ("input.weight".into(), vec![c, SOURCE_CHANNELS, 1]),
            ("input.bias".into(), vec![c]),
            ("cond.weight".into(), vec![l * 2 * c, N_MELS]),
            ("cond.bias".into(), vec![l * 2 * c]),
            // Rows: γ for every layer (layer-major, 2C each), then β likewise.
            ("film.weight".into(), vec![2 * l * 2 * c, EMBED_DIM]),
            ("film.bias".into(), vec![2 * l * 2 * c]),
            ("post1.weight".into(), vec![s, s, 1]),
            ("post1.bias".into(), vec![s]),
            ("post2.weight".into(), vec![1, s, 1]),
            ("post2.bias".into(), vec![1]),
        ];
        for i in 0..l {
            v.push((format!("layers.{i}.conv.weight"), vec![2 * c, c, KERNEL]));
            v.push((format!("layers.{i}.conv.bias"), vec![2 * c]));
            v.push((format!("layers.{i}.res_skip.weight"), vec![c + s, c, 1]));
            v.push((format!("layers.{i}.res_skip.bias"), vec![c + s]));
        }
        v
    }

    pub fn state_specs(&self) -> Vec<StateSpec> {
        (0..self.layers)
            .map(|i| StateSpec {
                input: format!("state_{i}"),
                output: format!("state_{i}_out"),
                shape: vec![1, self.channels, (KERNEL - 1) * self.dilation(i)],
            })
            .collect()
    }

    pub fn build(&self, w: &Weights) -> Result<Vec<u8>, String> {
        w.check(&self.weight_specs())?;
        let (c, s, l) = (self.channels, self.skip_channels, self.layers);
        let lc = (l * 2 * c) as i64;
        let mut g = GraphBuilder::new("vocoder_step");
        let source = g.input(INPUT_SOURCE, &[Dim::Fixed(1), Dim::Fixed(SOURCE_CHANNELS as i64), Dim::Named("samples")]);
        let mel = g.input(INPUT_MEL, &[Dim::Fixed(1), Dim::Named("frames"), Dim::Fixed(N_MELS as i64)]);
        let timbre = g.input(INPUT_TIMBRE, &[Dim::Fixed(1), Dim::Fixed(EMBED_DIM as i64)]);
        let states = self.state_specs();
        let state_in: Vec<String> = states
            .iter()
            .map(|st| g.input(&st.input, &st.shape.iter().map(|&d| Dim::Fixed(d as i64)).collect::<Vec<_>>()))
            .collect();

        let conv = |g: &mut GraphBuilder, x: &str, name: &str, dims: [usize; 3], dilation: usize| -> Result<String, String> {
            let wt = g.constant(&format!("{name}.weight"), &dims, w.get(&format!("{name}.weight"), &dims)?);
            let b = g.constant(&format!("{name}.bias"), &[dims[0]], w.get(&format!("{name}.bias"), &[dims[0]])?);
            Ok(g.op(
                "Conv",
                &[x, &wt, &b],
                &[("dilations", Attr::Ints(vec![dilation as i64])), ("kernel_shape", Attr::Ints(vec![dims[2] as i64]))],
            ))
        };

        let mut x = conv(&mut g, &source, "input", [c, SOURCE_CHANNELS, 1], 1)?;

        // Frame-rate conditioning: cb = γ·(mel·Wc + bc) + β for every layer at once.
        let wc = g.constant("cond.weight_t", &[N_MELS, l * 2 * c], &transpose(w.get("cond.weight", &[l * 2 * c, N_MELS])?, l * 2 * c, N_MELS));
        let bc = g.constant("cond.bias", &[l * 2 * c], w.get("cond.bias", &[l * 2 * c])?);
        let cond = g.op("MatMul", &[&mel, &wc], &[]);
        let cond = g.op("Add", &[&cond, &bc], &[]);
        let [gamma, beta] = super::film::scale_and_shift(&mut g, w, "film", l * 2 * c, &timbre)?;
        let cb = g.op("Mul", &[&cond, &gamma], &[]);
        let cb = g.op("Add", &[&cb, &beta], &[]);
        // Repeat each frame HOP times: [1,n,K] → [1,n,1,K] → [1,n,HOP,K] → [1,N,K] → [1,K,N].
        let ax2 = g.ints("axes_2", &[2]);
        let cb = g.op("Unsqueeze", &[&cb, &ax2], &[]);
        let rep = g.ints("repeat_shape", &[1, 1, HOP as i64, 1]);
        let cb = g.op("Expand", &[&cb, &rep], &[]);
        let flat = g.ints("flat_shape", &[1, -1, lc]);
        let cb = g.op("Reshape", &[&cb, &flat], &[]);
        let cb = g.op("Transpose", &[&cb], &[("perm", Attr::Ints(vec![0, 2, 1]))]);
        let per_layer = g.ints("layer_split", &vec![2 * c as i64; l]);
        let cbs = g.node("Split", &[&cb, &per_layer], &vec![None; l], &[("axis", Attr::Int(1))]);
        let gamma3 = g.op("Unsqueeze", &[&gamma, &ax2], &[]);
        let gammas = g.node("Split", &[&gamma3, &per_layer], &vec![None; l], &[("axis", Attr::Int(1))]);

        let gate_split = g.ints("gate_split", &[c as i64, c as i64]);
        let rs_split = g.ints("res_skip_split", &[c as i64, s as i64]);
        let end = g.ints("slice_end", &[i64::MAX]);
        let mut skip_sum: Option<String> = None;
        for i in 0..l {
            let d = self.dilation(i);
            let xin = g.op("Concat", &[&state_in[i], &x], &[("axis", Attr::Int(2))]);
            let st = g.ints(&format!("layers.{i}.state_start"), &[-(((KERNEL - 1) * d) as i64)]);
            g.node("Slice", &[&xin, &st, &end, &ax2], &[Some(states[i].output.as_str())], &[]);
            let z = conv(&mut g, &xin, &format!("layers.{i}.conv"), [2 * c, c, KERNEL], d)?;
            let z = g.op("Mul", &[&z, &gammas[i]], &[]);
            let z = g.op("Add", &[&z, &cbs[i]], &[]);
            let ab = g.node("Split", &[&z, &gate_split], &[None, None], &[("axis", Attr::Int(1))]);
            let a = g.op("Tanh", &[&ab[0]], &[]);
            let b = g.op("Sigmoid", &[&ab[1]], &[]);
            let gated = g.op("Mul", &[&a, &b], &[]);
            let rs = conv(&mut g, &gated, &format!("layers.{i}.res_skip"), [c + s, c, 1], 1)?;
            let parts = g.node("Split", &[&rs, &rs_split], &[None, None], &[("axis", Attr::Int(1))]);
            if i + 1 < l {
                x = g.op("Add", &[&x, &parts[0]], &[]);
            }
            skip_sum = Some(match skip_sum {
                None => parts[1].clone(),
                Some(acc) => g.op("Add", &[&acc, &parts[1]], &[]),
            });
        }
        let y = g.op("Relu", &[&skip_sum.expect("at least one layer")], &[]);
        let y = conv(&mut g, &y, "post1", [s, s, 1], 1)?;
        let y = g.op("Relu", &[&y], &[]);
        let y = conv(&mut g, &y, "post2", [1, s, 1], 1)?;
        let ax1 = g.ints("axes_1", &[1]);
        g.node("Squeeze", &[&y, &ax1], &[Some(OUTPUT_AUDIO)], &[]);

        g.output(OUTPUT_AUDIO, &[Dim::Fixed(1), Dim::Named("samples")]);
        for st in &states {
            g.output(&st.output, &st.shape.iter().map(|&d| Dim::Fixed(d as i64)).collect::<Vec<_>>());
        }
        Ok(g.finish("Melwave streaming vocoder step"))
    }
}
