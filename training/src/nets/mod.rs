//! Mel2Mel and the vocoder in tch, computing exactly what the contract's ONNX graphs
//! compute, with variables named as the contract's weight specs name them.

pub mod mel2mel;
pub mod vocoder;

use melwave::contract::{Weights, EMBED_DIM};
use tch::nn;

/// The timbre embedding: one learned 2-D point per instrument. It starts with the
/// instruments evenly spaced on the unit circle.
pub fn embedding(vs: &nn::Path, instruments: usize) -> tch::Tensor {
    let init: Vec<f32> = (0..instruments)
        .flat_map(|i| {
            let a = std::f32::consts::TAU * i as f32 / instruments as f32;
            [a.cos(), a.sin()]
        })
        .collect();
    let mut t = vs.zeros("embedding", &[instruments as i64, EMBED_DIM as i64]);
    tch::no_grad(|| t.copy_(&tch::Tensor::from_slice(&init).reshape([instruments as i64, EMBED_DIM as i64])));
    t
}

/// Every variable except the embedding, as the contract's weights.
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
    w
}

/// The embedding's points.
pub fn points(vs: &nn::VarStore) -> Vec<Vec<f32>> {
    let e = vs.variables().remove("embedding").expect("model has an embedding");
    let flat: Vec<f32> = Vec::<f32>::try_from(e.contiguous().view(-1)).expect("float tensor");
    flat.chunks(EMBED_DIM).map(|c| c.to_vec()).collect()
}
