//! Mel2Mel and the vocoder in tch, computing exactly what the contract's ONNX graphs
//! compute, with variables named as the contract's weight specs name them.

pub mod discriminator;
pub mod mel2mel;
pub mod vocoder;

use melwave::contract::{Weights, EMBED_DIM};
use tch::nn;

/// The timbre embedding: one learned 2-D point per instrument, starting where the
/// contract says (`timbre::initial_points`).
pub fn embedding(vs: &nn::Path, instruments: usize) -> tch::Tensor {
    let init: Vec<f32> = melwave::contract::timbre::initial_points(instruments).concat();
    let mut t = vs.zeros("embedding", &[instruments as i64, EMBED_DIM as i64]);
    tch::no_grad(|| t.copy_(&tch::Tensor::from_slice(&init).reshape([instruments as i64, EMBED_DIM as i64])));
    t
}

/// A FiLM layer producing `[γ, β]` for `width` channels, zero-initialised so that it
/// starts as the identity (see `melwave::contract::film`).
pub fn film_layer(vs: nn::Path, width: i64) -> nn::Linear {
    let zero = nn::LinearConfig { ws_init: nn::Init::Const(0.0), bs_init: Some(nn::Init::Const(0.0)), bias: true };
    nn::linear(vs, EMBED_DIM as i64, 2 * width, zero)
}

/// The scale `1+γ` and shift `β` from a FiLM layer's output `[.., 2·width]`.
pub fn film_scale_and_shift(gb: &tch::Tensor, width: i64) -> (tch::Tensor, tch::Tensor) {
    (gb.narrow(-1, 0, width) + melwave::contract::film::GAMMA_OFFSET as f64, gb.narrow(-1, width, width))
}

/// Every variable except the embedding, as the contract's weights (Mel2Mel's
/// training-only partials path folded into its input layer).
pub fn weights(vs: &nn::VarStore) -> Weights {
    let mut w = Weights::default();
    for (name, t) in vs.variables() {
        if name == "embedding" {
            continue;
        }
        let dims: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let data: Vec<f32> = Vec::<f32>::try_from(t.to_kind(tch::Kind::Float).contiguous().view(-1)).expect("float tensor");
        w.insert(&name, dims, data);
    }
    mel2mel::fold_partials(&mut w).expect("the partials path has the shape Mel2Mel gave it");
    w
}

/// The embedding's points.
pub fn points(vs: &nn::VarStore) -> Vec<Vec<f32>> {
    let e = vs.variables().remove("embedding").expect("model has an embedding");
    let flat: Vec<f32> = Vec::<f32>::try_from(e.contiguous().view(-1)).expect("float tensor");
    flat.chunks(EMBED_DIM).map(|c| c.to_vec()).collect()
}

/// Fills `vs` from the contract's weights (the inverse of [`weights`]): a model read
/// back from its graph, to train further. The graph's input layer already holds
/// Mel2Mel's partials path, which therefore stays at zero.
pub fn load_weights(vs: &nn::VarStore, w: &Weights) -> anyhow::Result<()> {
    tch::no_grad(|| {
        for (name, mut var) in vs.variables() {
            if name == "embedding" || name == mel2mel::PARTIALS {
                continue;
            }
            let dims: Vec<usize> = var.size().iter().map(|&d| d as usize).collect();
            let data = w.get(&name, &dims).map_err(anyhow::Error::msg)?;
            var.copy_(&tch::Tensor::from_slice(data).reshape(var.size()));
        }
        Ok(())
    })
}
