//! The model contract: manifests and graphs that disagree with it are refused with
//! a message that says what is wrong.

use melwave::contract::{Manifest, ManifestError, ModelBytes, ModelError};
use melwave::runtime::{ModelRunner, Provider};
use melwave_tests::{random_model, repo_root};

fn load_err(model: &ModelBytes) -> String {
    match ModelRunner::new(model, Provider::Cpu) {
        Ok(_) => panic!("{} should have been refused", model.origin),
        Err(e) => e.to_string(),
    }
}

fn edited(f: impl FnOnce(&mut serde_json::Value)) -> Result<Manifest, ManifestError> {
    let mut v: serde_json::Value = serde_json::from_str(&random_model(1).manifest.to_json()).unwrap();
    f(&mut v);
    Manifest::parse(v.to_string().as_bytes())
}

#[test]
fn manifest_round_trips() {
    let m = random_model(4).manifest;
    assert_eq!(Manifest::parse(m.to_json().as_bytes()).unwrap(), m);
}

#[test]
fn manifest_mismatches_are_refused_naming_the_field() {
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("sample_rate", Box::new(|v| v["sample_rate"] = 16000.into())),
        ("hop", Box::new(|v| v["hop"] = 256.into())),
        ("n_mels", Box::new(|v| v["n_mels"] = 128.into())),
        ("embedding_dim", Box::new(|v| v["embedding_dim"] = 3.into())),
        ("vocoder.state", Box::new(|v| v["vocoder"]["state"][0]["shape"][1] = 99.into())),
        ("vocoder.state", Box::new(|v| v["vocoder"]["state"][1]["shape"][2] = 99.into())),
        ("mel2mel.state", Box::new(|v| v["mel2mel"]["config"]["hidden"] = 32.into())),
        ("opset", Box::new(|v| v["opset"] = 9.into())),
    ];
    for (field, edit) in cases {
        let err = edited(edit).expect_err(field).to_string();
        assert!(err.contains(field), "error for {field} says: {err}");
    }
}

#[test]
fn inconsistent_manifests_are_refused() {
    let err = edited(|v| v["instruments"][0]["point"] = serde_json::json!([1.0, 2.0, 3.0])).unwrap_err();
    assert!(err.to_string().contains("3-D point"), "{err}");
    let err = edited(|v| v["instruments"] = serde_json::json!([])).unwrap_err();
    assert!(err.to_string().contains("no instruments"), "{err}");
    let err = edited(|v| v["mel2mel"]["file"] = "../../etc/passwd".into()).unwrap_err();
    assert!(err.to_string().contains("plain file name"), "{err}");
    let err = Manifest::parse(b"{not json").unwrap_err();
    assert!(matches!(err, ManifestError::Parse(_)));
    let err = edited(|v| v["surprise"] = 1.into()).unwrap_err();
    assert!(err.to_string().contains("surprise"), "{err}");
}

#[test]
fn model_folders_with_bad_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(1);
    model.write_dir(dir.path()).unwrap();
    assert!(ModelRunner::new(&ModelBytes::from_dir(dir.path()).unwrap(), Provider::Cpu).is_ok());

    // Missing folder.
    let err = ModelBytes::from_dir(&dir.path().join("nope")).unwrap_err();
    assert!(matches!(err, ModelError::MissingFolder(_)), "{err}");

    // Truncated ONNX.
    let mut m = model.clone();
    m.vocoder = m.vocoder[..m.vocoder.len() / 2].to_vec().into();
    let err = load_err(&m);
    assert!(err.contains("vocoder.onnx") && err.contains("cannot load"), "{err}");

    // Random bytes.
    let mut m = model.clone();
    m.mel2mel = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<u8>>().into();
    let err = load_err(&m);
    assert!(err.contains("mel2mel.onnx"), "{err}");

    // A valid ONNX with the wrong tensor names: the two graphs swapped.
    let mut m = model.clone();
    std::mem::swap(&mut m.mel2mel, &mut m.vocoder);
    let err = load_err(&m);
    assert!(err.contains("has no input"), "{err}");

    // Graph and manifest disagree on the state shapes (a bigger vocoder's graph).
    let other = melwave_tests::passthrough_model();
    let mut bigger = ModelBytes::random(1, other.manifest.mel2mel.config.clone(), melwave::contract::VocoderConfig { filter_hidden: 64, layers: 6, channels: 24, skip_channels: 24, dilation_cycle: 3, ..Default::default() });
    bigger.manifest = model.manifest.clone();
    let err = load_err(&bigger);
    assert!(err.contains("shape"), "{err}");

    // Missing ONNX file in a folder.
    std::fs::remove_file(dir.path().join("vocoder.onnx")).unwrap();
    let err = ModelBytes::from_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("vocoder.onnx"), "{err}");
}

#[test]
fn random_export_is_deterministic_and_loads() {
    use melwave::contract::{EMBED_DIM, HOP};
    use melwave::features::{featurize, Event, TimedEvent};
    let a = random_model(9);
    let b = random_model(9);
    assert_eq!(a.mel2mel, b.mel2mel);
    assert_eq!(a.vocoder, b.vocoder);
    assert_ne!(a.vocoder, random_model(10).vocoder);
    // Loads in ONNX Runtime and steps: the first frame of a struck key gives a frame
    // of finite, non-silent audio, the same from both copies.
    let (roll, source) = featurize(&[TimedEvent { time: 0, event: Event::NoteOn { key: 60, velocity: 100 } }], 1, 0);
    let run = |m: &ModelBytes| {
        let mut runner = ModelRunner::new(m, Provider::Cpu).expect("a random export loads");
        let mut audio = Vec::new();
        runner.step(&roll, &source, [0.1; EMBED_DIM], &mut audio).expect("and runs");
        audio
    };
    let (x, y) = (run(&a), run(&b));
    assert_eq!(x.len(), HOP);
    assert!(x.iter().all(|v| v.is_finite()) && x.iter().any(|&v| v != 0.0), "{x:?}");
    assert_eq!(x, y);
}

#[test]
fn the_shipped_default_model_is_valid_and_embedded() {
    let embedded = ModelBytes::embedded().unwrap();
    let on_disk = ModelBytes::from_dir(&repo_root().join("models/default")).unwrap();
    assert_eq!(embedded.manifest, on_disk.manifest);
    assert_eq!(embedded.vocoder, on_disk.vocoder);
    let runner = ModelRunner::new(&embedded, Provider::Cpu).unwrap();
    assert_eq!(runner.provider.active, Provider::Cpu);
}

#[test]
fn a_v1_model_folder_is_refused_naming_its_version() {
    // The v1 default model's own manifest, as it shipped.
    let v1 = std::fs::read(repo_root().join("tests/fixtures/v1-manifest.json")).unwrap();
    let err = Manifest::parse(&v1).unwrap_err();
    assert_eq!(err, ManifestError::Version { found: 1 });
    let msg = err.to_string();
    assert!(msg.contains("version 1") && msg.contains("version 4"), "{msg}");
}

/// The v2.2 (WaveNet-only vocoder) and v3 (a roll without velocity) default models'
/// manifests, as they shipped, are refused naming their version and what changed.
#[test]
fn v2_and_v3_model_folders_are_refused_naming_their_version() {
    for (found, fixture, change) in [(2, "v2-manifest.json", "architecture"), (3, "v3-manifest.json", "velocity")] {
        let bytes = std::fs::read(repo_root().join("tests/fixtures").join(fixture)).unwrap();
        let err = Manifest::parse(&bytes).unwrap_err();
        assert_eq!(err, ManifestError::Version { found });
        let msg = err.to_string();
        assert!(msg.contains(&format!("version {found}")) && msg.contains("plays version 4") && msg.contains(change), "{msg}");
    }
}
