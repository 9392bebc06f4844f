//! Adam with gradient-norm clipping, whose state can be saved and restored: tch's
//! built-in optimisers keep their moments out of reach, which would make a resumed
//! run diverge from an uninterrupted one.

use tch::{nn, Kind, Tensor};

pub struct Adam {
    pub lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    pub step: i64,
    params: Vec<(String, Tensor)>,
    /// Each variable's multiple of `lr` (1 unless [`Adam::scale_lr`] set it).
    lr_scale: Vec<f64>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl Adam {
    /// Optimises every variable of `vs` that requires a gradient, in name order.
    pub fn new(vs: &nn::VarStore, lr: f64) -> Self {
        let mut params: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let m = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let lr_scale = vec![1.0; params.len()];
        Self { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 0, params, lr_scale, m, v }
    }

    /// Multiplies the learning rate of the variables whose names start with `prefix`
    /// by `factor`; returns how many there are.
    pub fn scale_lr(&mut self, prefix: &str, factor: f64) -> usize {
        let mut n = 0;
        for ((name, _), scale) in self.params.iter().zip(&mut self.lr_scale) {
            if name.starts_with(prefix) {
                *scale = factor;
                n += 1;
            }
        }
        n
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// One update after `backward()`; gradients are scaled so their global norm is at
    /// most `clip`. Returns the norm before clipping.
    pub fn step(&mut self, clip: f64) -> f64 {
        let grads: Vec<Tensor> = self.params.iter().map(|(_, p)| p.grad()).collect();
        let norm = grads.iter().filter(|g| g.defined()).map(|g| g.square().sum(Kind::Float).double_value(&[])).sum::<f64>().sqrt();
        let scale = if norm.is_finite() && norm > clip { clip / norm } else { 1.0 };
        if !norm.is_finite() {
            // A non-finite gradient would poison the moments: skip this update.
            return norm;
        }
        self.step += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(self.step as i32);
        let c2 = 1.0 - b2.powi(self.step as i32);
        tch::no_grad(|| {
            for (i, ((_, p), g)) in self.params.iter_mut().zip(&grads).enumerate() {
                if !g.defined() {
                    continue;
                }
                let g = g * scale;
                self.m[i] = &self.m[i] * b1 + &g * (1.0 - b1);
                self.v[i] = &self.v[i] * b2 + g.square() * (1.0 - b2);
                let update = (&self.m[i] / c1) / ((&self.v[i] / c2).sqrt() + self.eps) * (self.lr * self.lr_scale[i]);
                let _ = p.f_sub_(&update).expect("in-place update of a leaf variable");
            }
        });
        norm
    }

    /// The moments, named `m.<var>` and `v.<var>`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("m.{name}"), self.m[i].shallow_clone()));
            out.push((format!("v.{name}"), self.v[i].shallow_clone()));
        }
        out
    }

    /// Variables in `fresh` may be absent: their moments stay at zero.
    pub fn load_state(&mut self, tensors: &std::collections::HashMap<String, Tensor>, step: i64, fresh: &[&str]) -> anyhow::Result<()> {
        for (i, (name, p)) in self.params.iter().enumerate() {
            if fresh.contains(&name.as_str()) && !tensors.contains_key(&format!("m.{name}")) {
                continue;
            }
            for (prefix, slot) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let t = tensors.get(&format!("{prefix}.{name}")).ok_or_else(|| anyhow::anyhow!("checkpoint lacks optimizer state {prefix}.{name}"))?;
                if t.size() != p.size() {
                    anyhow::bail!("optimizer state {prefix}.{name} has shape {:?}, the model {:?}", t.size(), p.size());
                }
                *slot = t.to_device(p.device());
            }
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adam's first step moves every weight by `lr` against its gradient's sign; a
    /// scaled variable moves by its multiple of that, the others by `lr`.
    #[test]
    fn a_scaled_variable_moves_by_its_multiple_of_the_learning_rate() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let a = (vs.root() / "a").var("w", &[3], nn::Init::Const(1.0));
        let b = (vs.root() / "post2").var("w", &[3], nn::Init::Const(1.0));
        let mut adam = Adam::new(&vs, 1e-3);
        assert_eq!(adam.scale_lr("post2.", 10.0), 1);
        (a.sum(Kind::Float) + b.sum(Kind::Float)).backward();
        adam.step(1e9);
        let moved = |t: &Tensor| 1.0 - t.double_value(&[0]);
        assert!((moved(&a) - 1e-3).abs() < 1e-6, "a moved {}", moved(&a));
        assert!((moved(&b) - 1e-2).abs() < 1e-5, "post2 moved {}", moved(&b));
    }
}
