//! Named weight tensors in PyTorch layout (`Linear`: `[out, in]`, `Conv1d`:
//! `[out, in, k]`, `LSTM`: gates i, f, g, o). Training fills them from its tch
//! variables; `random` fills them deterministically for contract tests.

use std::collections::BTreeMap;

use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub dims: Vec<usize>,
    pub data: Vec<f32>,
}

/// A tensor's name and shape, as a model config declares it.
pub type Spec = (String, Vec<usize>);

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Weights(pub BTreeMap<String, Tensor>);

impl Weights {
    /// Looks a tensor up and checks its shape; a missing or misshapen tensor is a
    /// bug in whoever filled the map, reported with its name.
    pub fn get(&self, name: &str, dims: &[usize]) -> Result<&[f32], String> {
        let t = self.0.get(name).ok_or_else(|| format!("weight `{name}` is missing"))?;
        if t.dims != dims {
            return Err(format!("weight `{name}` has shape {:?}, expected {:?}", t.dims, dims));
        }
        Ok(&t.data)
    }

    pub fn insert(&mut self, name: &str, dims: Vec<usize>, data: Vec<f32>) {
        assert_eq!(dims.iter().product::<usize>(), data.len());
        self.0.insert(name.to_string(), Tensor { dims, data });
    }

    /// Deterministic random weights for the given specs: N(0, 1/fan_in) for
    /// matrices, zeros for biases (1-D tensors). `gain` scales named tensors,
    /// so that a random model's output stays quiet.
    pub fn random(specs: &[Spec], seed: u64, gain: impl Fn(&str) -> f32) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut w = Weights::default();
        for (name, dims) in specs {
            let n: usize = dims.iter().product();
            let data = if dims.len() == 1 {
                vec![0.0; n]
            } else {
                let fan_in: usize = dims[1..].iter().product();
                let std = gain(name) / (fan_in as f32).sqrt();
                (0..n).map(|_| std * <StandardNormal as Distribution<f32>>::sample(&StandardNormal, &mut rng)).collect()
            };
            w.insert(name, dims.clone(), data);
        }
        w
    }

    /// Checks that the map holds exactly `specs`, with the right shapes.
    pub fn check(&self, specs: &[Spec]) -> Result<(), String> {
        for (name, dims) in specs {
            self.get(name, dims)?;
        }
        if self.0.len() != specs.len() {
            let extra: Vec<_> = self.0.keys().filter(|k| !specs.iter().any(|(n, _)| n == *k)).collect();
            return Err(format!("unexpected weights: {extra:?}"));
        }
        Ok(())
    }
}

/// `[rows, cols]` → `[cols, rows]`, for feeding PyTorch `Linear` weights to `MatMul`.
pub fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}
