//! The two streaming models in ONNX Runtime, each with its state carried from call
//! to call. Loading checks every graph input and output against the contract and
//! runs one frame through both models, so a model that loads is a model that runs.

use std::borrow::Cow;

use ort::session::{Session, SessionInputValue};
use ort::value::{TensorElementType, TensorRef};

use super::provider::{self, Provider, ProviderReport};
use crate::contract::state::StateSpec;
use crate::contract::{mel2mel, vocoder, ModelBytes, ModelError, EMBED_DIM, HOP, N_MELS, ROLL_DIM, SOURCE_CHANNELS};

/// An expected graph input or output: name and shape, `-1` for a dynamic axis.
type Port = (String, Vec<i64>);

struct StateBuf {
    spec: StateSpec,
    data: Vec<f32>,
}

struct StepModel {
    session: Session,
    states: Vec<StateBuf>,
}

fn shape_of(spec: &StateSpec) -> Vec<i64> {
    spec.shape.iter().map(|&d| d as i64).collect()
}

fn check_ports(kind: &str, found: &[ort::value::Outlet], expected: &[Port]) -> Result<(), String> {
    for (name, shape) in expected {
        let Some(outlet) = found.iter().find(|o| o.name() == name) else {
            let names: Vec<_> = found.iter().map(|o| o.name().to_string()).collect();
            return Err(format!("it has no {kind} `{name}` (its {kind}s are {names:?})"));
        };
        let ty = outlet.dtype();
        if ty.tensor_type() != Some(TensorElementType::Float32) {
            return Err(format!("{kind} `{name}` is not a float32 tensor"));
        }
        let got: Vec<i64> = ty.tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        let matches = got.len() == shape.len() && got.iter().zip(shape).all(|(g, e)| *e == -1 || g == e);
        if !matches {
            return Err(format!("{kind} `{name}` has shape {got:?}, expected {shape:?} (-1 = any)"));
        }
    }
    if found.len() != expected.len() {
        let extra: Vec<_> = found.iter().map(|o| o.name()).filter(|n| !expected.iter().any(|(e, _)| e == n)).collect();
        return Err(format!("unexpected {kind}s {extra:?}"));
    }
    Ok(())
}

impl StepModel {
    fn load(bytes: &[u8], origin: &str, file: &str, inputs: &[Port], outputs: &[Port], states: &[StateSpec], requested: Provider) -> Result<(Self, ProviderReport), ModelError> {
        let (env, _) = super::environment().map_err(ModelError::Runtime)?;
        let graph_err = |message: String| ModelError::Graph { origin: origin.into(), file: file.into(), message };
        let builder = Session::builder(env).map_err(|e| ModelError::Runtime(e.to_string()))?;
        // One intra-op thread: the models are small and the host needs the other cores.
        let builder = builder.with_intra_threads(1).map_err(|e| ModelError::Runtime(e.to_string()))?;
        let mut builder = builder.with_inter_threads(1).map_err(|e| ModelError::Runtime(e.to_string()))?;
        let report = provider::register(&mut builder, requested);
        let session = builder.commit_from_memory(bytes).map_err(|e| graph_err(format!("ONNX Runtime cannot load it: {e}")))?;
        let mut ins: Vec<Port> = inputs.to_vec();
        let mut outs: Vec<Port> = outputs.to_vec();
        for s in states {
            ins.push((s.input.clone(), shape_of(s)));
            outs.push((s.output.clone(), shape_of(s)));
        }
        check_ports("input", session.inputs(), &ins).map_err(graph_err)?;
        check_ports("output", session.outputs(), &outs).map_err(graph_err)?;
        let states = states.iter().map(|s| StateBuf { spec: s.clone(), data: vec![0.0; s.shape.iter().product()] }).collect();
        Ok((Self { session, states }, report))
    }

    /// One step: `inputs` are (name, shape, data); each output is copied into its buffer;
    /// state outputs replace the state.
    fn run(&mut self, inputs: &[(&str, [i64; 3], &[f32])], outputs: &mut [(&str, &mut Vec<f32>)]) -> Result<(), String> {
        let mut feed: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(inputs.len() + self.states.len());
        for (name, shape, data) in inputs {
            let dims: Vec<i64> = shape.iter().copied().filter(|&d| d >= 0).collect();
            let t = TensorRef::from_array_view((dims, *data)).map_err(|e| e.to_string())?;
            feed.push((Cow::Borrowed(*name), t.into()));
        }
        for s in &self.states {
            let t = TensorRef::from_array_view((shape_of(&s.spec), s.data.as_slice())).map_err(|e| e.to_string())?;
            feed.push((Cow::Borrowed(s.spec.input.as_str()), t.into()));
        }
        let result = self.session.run(feed).map_err(|e| e.to_string())?;
        for (name, buf) in outputs.iter_mut() {
            let (_, data) = result[*name].try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
            buf.clear();
            buf.extend_from_slice(data);
        }
        for s in &mut self.states {
            let (_, data) = result[s.spec.output.as_str()].try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
            if data.len() != s.data.len() {
                return Err(format!("state `{}` came back with {} values, expected {}", s.spec.output, data.len(), s.data.len()));
            }
            s.data.copy_from_slice(data);
        }
        Ok(())
    }

    fn reset(&mut self) {
        for s in &mut self.states {
            s.data.fill(0.0);
        }
    }
}

/// Mel2Mel then the vocoder, block after block.
pub struct ModelRunner {
    mel2mel: StepModel,
    vocoder: StepModel,
    mel: Vec<f32>,
    pub provider: ProviderReport,
}

impl ModelRunner {
    pub fn new(model: &ModelBytes, requested: Provider) -> Result<Self, ModelError> {
        let m = &model.manifest;
        let (mel2mel, report) = StepModel::load(
            &model.mel2mel,
            &model.origin,
            &m.mel2mel.file,
            &[(mel2mel::INPUT_ROLL.into(), vec![1, -1, ROLL_DIM as i64]), (mel2mel::INPUT_TIMBRE.into(), vec![1, EMBED_DIM as i64])],
            &[(mel2mel::OUTPUT_MEL.into(), vec![1, -1, N_MELS as i64])],
            &m.mel2mel.state,
            requested,
        )?;
        let (vocoder, _) = StepModel::load(
            &model.vocoder,
            &model.origin,
            &m.vocoder.file,
            &[
                (vocoder::INPUT_SOURCE.into(), vec![1, SOURCE_CHANNELS as i64, -1]),
                (vocoder::INPUT_MEL.into(), vec![1, -1, N_MELS as i64]),
                (vocoder::INPUT_TIMBRE.into(), vec![1, EMBED_DIM as i64]),
            ],
            &[(vocoder::OUTPUT_AUDIO.into(), vec![1, -1])],
            &m.vocoder.state,
            requested,
        )?;
        let mut runner = Self { mel2mel, vocoder, mel: Vec::new(), provider: report };
        // A frame of silence through both models proves the graphs compute what the
        // contract says, including the hop baked into the vocoder.
        let mut audio = Vec::new();
        let smoke = runner.step(&[0.0; ROLL_DIM], &[0.0; SOURCE_CHANNELS * HOP], [0.0; EMBED_DIM], &mut audio);
        let smoke_err = |message: String| ModelError::Graph { origin: model.origin.clone(), file: "mel2mel.onnx + vocoder.onnx".into(), message };
        smoke.map_err(|e| smoke_err(format!("a one-frame test run failed: {e}")))?;
        if runner.mel.len() != N_MELS {
            return Err(smoke_err(format!("one frame gave {} mel values, expected {N_MELS}", runner.mel.len())));
        }
        if audio.len() != HOP {
            return Err(smoke_err(format!("one frame gave {} samples, expected {HOP}: the graph's hop disagrees with the manifest", audio.len())));
        }
        runner.reset();
        Ok(runner)
    }

    /// Runs `n` frames: `roll` is `n × ROLL_DIM` (384), `source` is `SOURCE_CHANNELS × n·HOP` (4 channels) channel-major.
    /// The log-mel is kept (see [`Self::mel`]) and the audio written to `audio`.
    pub fn step(&mut self, roll: &[f32], source: &[f32], timbre: [f32; EMBED_DIM], audio: &mut Vec<f32>) -> Result<(), String> {
        if source.len() * ROLL_DIM != roll.len() * SOURCE_CHANNELS * HOP {
            return Err(format!("step got {} roll values and {} source samples, which is not the same number of frames", roll.len(), source.len()));
        }
        self.predict_mel(roll, timbre)?;
        let mel = std::mem::take(&mut self.mel);
        let result = self.vocode(&mel, source, timbre, audio);
        self.mel = mel;
        result
    }

    /// Runs Mel2Mel alone on `n × ROLL_DIM` roll frames; the result is in [`Self::mel`].
    pub fn predict_mel(&mut self, roll: &[f32], timbre: [f32; EMBED_DIM]) -> Result<(), String> {
        if !roll.len().is_multiple_of(ROLL_DIM) {
            return Err(format!("{} roll values is not a whole number of frames", roll.len()));
        }
        let n = (roll.len() / ROLL_DIM) as i64;
        self.mel2mel
            .run(&[(mel2mel::INPUT_ROLL, [1, n, ROLL_DIM as i64], roll), (mel2mel::INPUT_TIMBRE, [1, EMBED_DIM as i64, -1], &timbre)], &mut [(mel2mel::OUTPUT_MEL, &mut self.mel)])
    }

    /// Runs the vocoder alone on a given log-mel (`n × 80`): the chain's upper bound,
    /// used by evaluation.
    pub fn vocode(&mut self, mel: &[f32], source: &[f32], timbre: [f32; EMBED_DIM], audio: &mut Vec<f32>) -> Result<(), String> {
        let n = (mel.len() / N_MELS) as i64;
        if !mel.len().is_multiple_of(N_MELS) || source.len() != n as usize * SOURCE_CHANNELS * HOP {
            return Err(format!("vocoder got {} mel values and {} source samples, which is not the same number of frames", mel.len(), source.len()));
        }
        self.vocoder.run(
            &[
                (vocoder::INPUT_SOURCE, [1, SOURCE_CHANNELS as i64, n * HOP as i64], source),
                (vocoder::INPUT_MEL, [1, n, N_MELS as i64], mel),
                (vocoder::INPUT_TIMBRE, [1, EMBED_DIM as i64, -1], &timbre),
            ],
            &mut [(vocoder::OUTPUT_AUDIO, audio)],
        )
    }

    /// The log-mel of the last step, `n × 80`.
    pub fn mel(&self) -> &[f32] {
        &self.mel
    }

    /// Runs a whole sequence from a fresh state in calls of at most `chunk` frames:
    /// `roll` is `frames × ROLL_DIM`, `source` `SOURCE_CHANNELS × frames·HOP` channel-major. Returns the
    /// concatenated (mel, audio). The streaming contract says the result does not depend
    /// on `chunk`; tests and the export's parity check hold it to that.
    pub fn run_in_blocks(&mut self, roll: &[f32], source: &[f32], timbre: [f32; EMBED_DIM], chunk: usize) -> Result<(Vec<f32>, Vec<f32>), String> {
        let frames = roll.len() / ROLL_DIM;
        let n = frames * HOP;
        if chunk == 0 || source.len() != SOURCE_CHANNELS * n {
            return Err(format!("cannot run {frames} frames in blocks of {chunk} with {} source samples", source.len()));
        }
        self.reset();
        let (mut mel, mut audio, mut out, mut src) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut f = 0;
        while f < frames {
            let k = chunk.min(frames - f);
            src.clear();
            crate::features::layout::extend_with_frames(&mut src, source, frames, f, k);
            self.step(&roll[f * ROLL_DIM..(f + k) * ROLL_DIM], &src, timbre, &mut out)?;
            mel.extend_from_slice(&self.mel);
            audio.extend_from_slice(&out);
            f += k;
        }
        Ok((mel, audio))
    }

    /// Zeroes every recurrent and convolutional state, as at the start of a stream.
    pub fn reset(&mut self) {
        self.mel2mel.reset();
        self.vocoder.reset();
    }
}
