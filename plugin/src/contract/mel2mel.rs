//! Mel2Mel, the causal piano-roll → log-mel model:
//! `Linear(ROLL_DIM = 384 → H) → FiLM(e) → LSTM(H) × layers (unidirectional) → FiLM(e) → Linear(H→80)`.
//!
//! Step graph inputs: `roll [1,n,384]`, `timbre [1,2]`, `h_in [L,1,H]`, `c_in [L,1,H]`.
//! Outputs: `mel [1,n,80]`, `h_out`, `c_out`.

use serde::{Deserialize, Serialize};

#[cfg(feature = "graph-writer")]
use super::graph::{Attr, Dim, GraphBuilder};
use super::state::StateSpec;
#[cfg(feature = "graph-writer")]
use super::weights::transpose;
use super::weights::Spec;
#[cfg(feature = "graph-writer")]
use super::weights::Weights;
use super::{EMBED_DIM, N_MELS, ROLL_DIM};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mel2MelConfig {
    pub hidden: usize,
    pub layers: usize,
}

impl Default for Mel2MelConfig {
    fn default() -> Self {
        Self { hidden: 256, layers: 1 }
    }
}

pub const INPUT_ROLL: &str = "roll";
pub const INPUT_TIMBRE: &str = "timbre";
pub const OUTPUT_MEL: &str = "mel";

impl Mel2MelConfig {
    /// Every weight, PyTorch layout and names (`nn.Linear`, `nn.LSTM`).
    pub fn weight_specs(&self) -> Vec<Spec> {
        let h = self.hidden;
        let mut s = vec![
            ("input.weight".into(), vec![h, ROLL_DIM]),
            ("input.bias".into(), vec![h]),
            ("film_in.weight".into(), vec![2 * h, EMBED_DIM]),
            ("film_in.bias".into(), vec![2 * h]),
            ("film_out.weight".into(), vec![2 * h, EMBED_DIM]),
            ("film_out.bias".into(), vec![2 * h]),
            ("output.weight".into(), vec![N_MELS, h]),
            ("output.bias".into(), vec![N_MELS]),
        ];
        for l in 0..self.layers {
            s.push((format!("lstm.weight_ih_l{l}"), vec![4 * h, h]));
            s.push((format!("lstm.weight_hh_l{l}"), vec![4 * h, h]));
            s.push((format!("lstm.bias_ih_l{l}"), vec![4 * h]));
            s.push((format!("lstm.bias_hh_l{l}"), vec![4 * h]));
        }
        s
    }

    pub fn state_specs(&self) -> Vec<StateSpec> {
        let shape = vec![self.layers, 1, self.hidden];
        vec![StateSpec { input: "h_in".into(), output: "h_out".into(), shape: shape.clone() }, StateSpec { input: "c_in".into(), output: "c_out".into(), shape }]
    }

    /// The FiLM layers and their widths, for local FiLM offsets (see [`super::film`]).
    fn film_layers(&self) -> [(&'static str, usize); 2] {
        [("film_in", self.hidden), ("film_out", self.hidden)]
    }

    /// Every weight of a Mel2Mel carrying `local` local FiLM offsets.
    pub fn weight_specs_with_local(&self, local: usize) -> Vec<Spec> {
        let mut s = self.weight_specs();
        s.extend(super::film::local_specs(local, &self.film_layers()));
        s
    }

    /// Builds the streaming step graph from trained (or random) weights, with the
    /// local FiLM offsets they carry, if any.
    #[cfg(feature = "graph-writer")]
    pub fn build(&self, w: &Weights) -> Result<Vec<u8>, String> {
        let local = super::film::local_count(w);
        w.check(&self.weight_specs_with_local(local))?;
        let h = self.hidden;
        let hs = h as i64;
        let mut g = GraphBuilder::new("mel2mel_step");
        let roll = g.input(INPUT_ROLL, &[Dim::Fixed(1), Dim::Named("frames"), Dim::Fixed(ROLL_DIM as i64)]);
        let timbre = g.input(INPUT_TIMBRE, &[Dim::Fixed(1), Dim::Fixed(EMBED_DIM as i64)]);
        let states = self.state_specs();
        let state_dims: Vec<Dim> = states[0].shape.iter().map(|&d| Dim::Fixed(d as i64)).collect();
        let h_in = g.input(&states[0].input, &state_dims);
        let c_in = g.input(&states[1].input, &state_dims);
        let bumps = if local > 0 { Some(super::film::local_bumps(&mut g, w, &timbre)?) } else { None };
        let bumps = bumps.as_deref();

        // roll @ W_in^T + b_in
        let w_in = g.constant("input.weight_t", &[ROLL_DIM, h], &transpose(w.get("input.weight", &[h, ROLL_DIM])?, h, ROLL_DIM));
        let b_in = g.constant("input.bias", &[h], w.get("input.bias", &[h])?);
        let x = g.op("MatMul", &[&roll, &w_in], &[]);
        let x = g.op("Add", &[&x, &b_in], &[]);
        let x = film(&mut g, w, "film_in", h, &timbre, bumps, &x)?;
        // [1,n,H] → [n,1,H]: ONNX LSTM's default layout is (seq, batch, feature).
        let mut seq = g.op("Transpose", &[&x], &[("perm", Attr::Ints(vec![1, 0, 2]))]);

        let mut h_outs = Vec::new();
        let mut c_outs = Vec::new();
        let single = self.layers == 1;
        for l in 0..self.layers {
            let (h0, c0) = if single {
                (h_in.clone(), c_in.clone())
            } else {
                let st = g.ints(&format!("l{l}_start"), &[l as i64]);
                let en = g.ints(&format!("l{l}_end"), &[l as i64 + 1]);
                let ax = g.ints(&format!("l{l}_axis"), &[0]);
                (g.op("Slice", &[&h_in, &st, &en, &ax], &[]), g.op("Slice", &[&c_in, &st, &en, &ax], &[]))
            };
            let (wi, wh, b) = lstm_onnx_weights(w, l, h)?;
            let wi = g.constant(&format!("lstm.W_l{l}"), &[1, 4 * h, h], &wi);
            let wh = g.constant(&format!("lstm.R_l{l}"), &[1, 4 * h, h], &wh);
            let b = g.constant(&format!("lstm.B_l{l}"), &[1, 8 * h], &b);
            let outs = g.node(
                "LSTM",
                &[&seq, &wi, &wh, &b, "", &h0, &c0],
                &[None, if single { Some("h_out") } else { None }, if single { Some("c_out") } else { None }],
                &[("hidden_size", Attr::Int(hs))],
            );
            let axes = g.ints(&format!("l{l}_squeeze"), &[1]);
            seq = g.op("Squeeze", &[&outs[0], &axes], &[]);
            h_outs.push(outs[1].clone());
            c_outs.push(outs[2].clone());
        }
        if !single {
            let hr: Vec<&str> = h_outs.iter().map(String::as_str).collect();
            let cr: Vec<&str> = c_outs.iter().map(String::as_str).collect();
            g.node("Concat", &hr, &[Some("h_out")], &[("axis", Attr::Int(0))]);
            g.node("Concat", &cr, &[Some("c_out")], &[("axis", Attr::Int(0))]);
        }
        let y = g.op("Transpose", &[&seq], &[("perm", Attr::Ints(vec![1, 0, 2]))]);
        let y = film(&mut g, w, "film_out", h, &timbre, bumps, &y)?;
        let w_out = g.constant("output.weight_t", &[h, N_MELS], &transpose(w.get("output.weight", &[N_MELS, h])?, N_MELS, h));
        let b_out = g.constant("output.bias", &[N_MELS], w.get("output.bias", &[N_MELS])?);
        let y = g.op("MatMul", &[&y, &w_out], &[]);
        g.node("Add", &[&y, &b_out], &[Some(OUTPUT_MEL)], &[]);

        g.output(OUTPUT_MEL, &[Dim::Fixed(1), Dim::Named("frames"), Dim::Fixed(N_MELS as i64)]);
        g.output(&states[0].output, &state_dims);
        g.output(&states[1].output, &state_dims);
        Ok(g.finish("Melwave Mel2Mel streaming step"))
    }
}

#[cfg(feature = "graph-writer")]
impl Mel2MelConfig {
    /// The weights a step graph built by [`Self::build`] holds, in PyTorch layout again:
    /// what `add-instrument` starts from when it gives a model a local FiLM offset, so
    /// that any model folder will do, checkpoints or not. `build` of the result gives a
    /// graph with the same constants.
    pub fn weights_of_graph(&self, bytes: &[u8]) -> Result<Weights, String> {
        let mut init = super::graph::float_initializers(bytes)?;
        let centers = init.remove(super::film::LOCAL_CENTER);
        let h = self.hidden;
        let mut take = |name: &str, dims: &[usize]| -> Result<Vec<f32>, String> {
            let t = init.remove(name).ok_or_else(|| format!("the Mel2Mel graph has no `{name}`"))?;
            if t.dims != dims {
                return Err(format!("`{name}` has shape {:?} in the graph, the manifest's config needs {dims:?}", t.dims));
            }
            Ok(t.data)
        };
        let mut w = Weights::default();
        w.insert("input.weight", vec![h, ROLL_DIM], transpose(&take("input.weight_t", &[ROLL_DIM, h])?, ROLL_DIM, h));
        w.insert("input.bias", vec![h], take("input.bias", &[h])?);
        w.insert("output.weight", vec![N_MELS, h], transpose(&take("output.weight_t", &[h, N_MELS])?, h, N_MELS));
        w.insert("output.bias", vec![N_MELS], take("output.bias", &[N_MELS])?);
        for (name, _) in self.film_layers() {
            w.insert(&format!("{name}.weight"), vec![2 * h, EMBED_DIM], take(&format!("{name}.weight"), &[2 * h, EMBED_DIM])?);
            let mut b = take(&format!("{name}.bias_plus_one"), &[2 * h])?;
            b[..h].iter_mut().for_each(|v| *v -= super::film::GAMMA_OFFSET);
            w.insert(&format!("{name}.bias"), vec![2 * h], b);
        }
        // ONNX gates back to PyTorch's: PyTorch gate `p` sits at ONNX slot `k` where ONNX_GATES[k] = p.
        let back: [usize; 4] = std::array::from_fn(|p| ONNX_GATES.iter().position(|&g| g == p).expect("a permutation"));
        let unorder = |m: &[f32], cols: usize| -> Vec<f32> { back.iter().flat_map(|&slot| m[slot * h * cols..(slot + 1) * h * cols].iter().copied()).collect() };
        for l in 0..self.layers {
            w.insert(&format!("lstm.weight_ih_l{l}"), vec![4 * h, h], unorder(&take(&format!("lstm.W_l{l}"), &[1, 4 * h, h])?, h));
            w.insert(&format!("lstm.weight_hh_l{l}"), vec![4 * h, h], unorder(&take(&format!("lstm.R_l{l}"), &[1, 4 * h, h])?, h));
            let b = take(&format!("lstm.B_l{l}"), &[1, 8 * h])?;
            w.insert(&format!("lstm.bias_ih_l{l}"), vec![4 * h], unorder(&b[..4 * h], 1));
            w.insert(&format!("lstm.bias_hh_l{l}"), vec![4 * h], unorder(&b[4 * h..], 1));
        }
        if let Some(centers) = centers {
            let k = centers.dims.first().copied().unwrap_or(0);
            if centers.dims != [k, EMBED_DIM] {
                return Err(format!("`{}` has shape {:?}", super::film::LOCAL_CENTER, centers.dims));
            }
            w.insert(super::film::LOCAL_CENTER, centers.dims, centers.data);
            w.insert(super::film::LOCAL_RADIUS, vec![k], take(super::film::LOCAL_RADIUS, &[k])?);
            for (name, _) in self.film_layers() {
                w.insert(&format!("{name}.local"), vec![k, 2 * h], take(&format!("{name}.local"), &[k, 2 * h])?);
            }
        }
        Ok(w)
    }
}

/// FiLM from the timbre point: `x·(1+γ) + β` (see [`super::film`]).
#[cfg(feature = "graph-writer")]
fn film(g: &mut GraphBuilder, w: &Weights, name: &str, width: usize, timbre: &str, local: Option<&str>, x: &str) -> Result<String, String> {
    let [scale, shift] = super::film::scale_and_shift(g, w, name, width, timbre, local)?;
    let x = g.op("Mul", &[x, &scale], &[]);
    Ok(g.op("Add", &[&x, &shift], &[]))
}

/// ONNX's LSTM gate `k` (i, o, f, c) is PyTorch's gate `ONNX_GATES[k]` (i, f, g, o).
#[cfg(feature = "graph-writer")]
const ONNX_GATES: [usize; 4] = [0, 3, 1, 2];

/// One LSTM layer's ONNX `W`, `R` and `B` tensors.
#[cfg(feature = "graph-writer")]
type LstmTensors = (Vec<f32>, Vec<f32>, Vec<f32>);

/// PyTorch LSTM weights (gates i, f, g, o) → ONNX (gates i, o, f, c), biases concatenated.
#[cfg(feature = "graph-writer")]
fn lstm_onnx_weights(w: &Weights, l: usize, h: usize) -> Result<LstmTensors, String> {
    let reorder = |m: &[f32], cols: usize| -> Vec<f32> { ONNX_GATES.iter().flat_map(|&gate| m[gate * h * cols..(gate + 1) * h * cols].iter().copied()).collect() };
    let wi = reorder(w.get(&format!("lstm.weight_ih_l{l}"), &[4 * h, h])?, h);
    let wh = reorder(w.get(&format!("lstm.weight_hh_l{l}"), &[4 * h, h])?, h);
    let mut b = reorder(w.get(&format!("lstm.bias_ih_l{l}"), &[4 * h])?, 1);
    b.extend(reorder(w.get(&format!("lstm.bias_hh_l{l}"), &[4 * h])?, 1));
    Ok((wi, wh, b))
}
