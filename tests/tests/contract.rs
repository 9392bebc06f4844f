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
    let mut bigger = ModelBytes::random(
        1,
        other.manifest.mel2mel.config.clone(),
        melwave::contract::VocoderConfig { filter_hidden: 64, layers: 6, channels: 24, skip_channels: 24, dilation_cycle: 3, ..Default::default() },
    );
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

/// Mel2Mel weights with every tensor random, biases included, so that reading the
/// graph back has something to get wrong.
fn random_mel2mel_weights(cfg: &melwave::contract::Mel2MelConfig, local: usize, seed: u64) -> melwave::contract::Weights {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut w = melwave::contract::Weights::default();
    for (name, dims) in cfg.weight_specs_with_local(local) {
        let n: usize = dims.iter().product();
        let data = (0..n).map(|_| if name == "local.radius" { rng.random_range(0.2..0.4f32) } else { rng.random_range(-0.3..0.3f32) }).collect();
        w.insert(&name, dims, data);
    }
    w
}

#[test]
fn a_mel2mel_graph_gives_back_the_weights_it_was_built_from() {
    let cfg = random_model(1).manifest.mel2mel.config.clone();
    for local in [0, 2] {
        let w = random_mel2mel_weights(&cfg, local, 3 + local as u64);
        let graph = cfg.build(&w).unwrap();
        let back = cfg.weights_of_graph(&graph).unwrap();
        assert_eq!(back.0.keys().collect::<Vec<_>>(), w.0.keys().collect::<Vec<_>>());
        for (name, t) in &w.0 {
            let b = &back.0[name];
            assert_eq!(b.dims, t.dims, "{name}");
            // FiLM biases pass through `+1` in the graph, so they come back to within its rounding.
            let worst = t.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert!(worst <= 1e-7, "{name} came back {worst} off");
        }
        // And the graph rebuilt from them is the same graph, byte for byte.
        assert_eq!(cfg.build(&back).unwrap(), graph, "local = {local}");
    }
    let wrong = melwave::contract::Mel2MelConfig { hidden: cfg.hidden * 2, ..cfg.clone() };
    let err = wrong.weights_of_graph(&cfg.build(&random_mel2mel_weights(&cfg, 0, 1)).unwrap()).unwrap_err();
    assert!(err.contains("shape"), "{err}");
    assert!(cfg.weights_of_graph(b"not onnx").unwrap_err().contains("not an ONNX model"));
}

#[test]
fn a_local_film_offset_changes_its_own_neighbourhood_and_nothing_beyond_its_radius() {
    use melwave::contract::film::local_weight;
    use melwave::features::{featurize_roll, Event, TimedEvent};
    let base = random_model(1);
    let cfg = base.manifest.mel2mel.config.clone();
    let plain = random_mel2mel_weights(&cfg, 0, 5);
    let mut local = plain.clone();
    let (center, radius) = ([0.3f32, -0.2f32], 0.25f32);
    local.insert("local.center", vec![1, 2], center.to_vec());
    local.insert("local.radius", vec![1], vec![radius]);
    for name in ["film_in", "film_out"] {
        local.insert(&format!("{name}.local"), vec![1, 2 * cfg.hidden], (0..2 * cfg.hidden).map(|i| 0.5 * ((i as f32) * 0.37).sin()).collect());
    }
    let with = |w: &melwave::contract::Weights| ModelBytes { mel2mel: std::borrow::Cow::Owned(cfg.build(w).unwrap()), ..base.clone() };
    let (a, b) = (with(&plain), with(&local));
    let events = [TimedEvent { time: 0, event: Event::NoteOn { key: 60, velocity: 90 } }, TimedEvent { time: 3000, event: Event::NoteOn { key: 67, velocity: 60 } }];
    let roll = featurize_roll(&events, 40);
    let mel = |m: &ModelBytes, e: [f32; 2]| {
        let mut r = ModelRunner::new(m, Provider::Cpu).unwrap();
        r.predict_mel(&roll, e).unwrap();
        r.mel().to_vec()
    };
    let worst = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
    // At and beyond the radius: exactly the plain model.
    for e in [[center[0] + radius, center[1]], [0.9, 0.9], [-0.5, 0.1], [center[0], center[1] - 1.5 * radius]] {
        assert_eq!(local_weight(e, center, radius), 0.0);
        assert_eq!(mel(&a, e), mel(&b, e), "changed at {e:?}");
    }
    // At the centre the offset is felt in full, and halfway out less.
    let at_centre = worst(&mel(&a, center), &mel(&b, center));
    let halfway = worst(&mel(&a, [center[0] + radius / 2.0, center[1]]), &mel(&b, [center[0] + radius / 2.0, center[1]]));
    assert!(at_centre > 1e-2, "{at_centre}");
    assert!(halfway > 0.0 && halfway < at_centre, "halfway {halfway}, centre {at_centre}");
    // A radius that is not positive is refused.
    let mut bad = local.clone();
    bad.insert("local.radius", vec![1], vec![0.0]);
    assert!(cfg.build(&bad).unwrap_err().contains("radius"));
}

#[test]
fn points_far_off_any_trained_plane_and_endless_instrument_lists_are_refused() {
    // Finite but huge: the pad's plane would overflow to infinity and the model fall
    // silent for good.
    let err = edited(|v| v["instruments"][0]["point"] = serde_json::json!([3e38, -3e38])).unwrap_err();
    assert!(err.to_string().contains("beyond"), "{err}");
    let err = edited(|v| {
        let one = v["instruments"][0].clone();
        v["instruments"] = (0..100_000)
            .map(|i| {
                let mut o = one.clone();
                o["name"] = format!("instrument {i}").into();
                o
            })
            .collect();
    })
    .unwrap_err();
    assert!(err.to_string().contains("more than the 1024"), "{err}");
    let err = edited(|v| v["instruments"][1]["name"] = v["instruments"][0]["name"].as_str().unwrap().to_uppercase().into()).unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");
}

/// Every accepted instrument can be found by its own name: look-ups trim what is
/// typed, so a name with a space at one end (the fuzzer's find) would be listed
/// and never found.
#[test]
fn instrument_names_are_non_empty_trimmed_printable_and_short() {
    for (name, why) in
        [("", "empty"), ("   ", "empty"), ("Piano ", "space at one end"), ("\tPiano", "space at one end"), ("Pi\u{7}ano", "control character"), (&"x".repeat(65), "longer than 64")]
    {
        let err = edited(|v| v["instruments"][0]["name"] = name.into()).unwrap_err();
        assert!(err.to_string().contains(why), "{name:?}: {err}");
    }
    let m = edited(|v| v["instruments"][0]["name"] = "Piano à queue".into()).unwrap();
    assert!(m.instruments.iter().all(|i| m.instrument(&i.name).is_some()));
}

/// A model folder is read only from regular files of a bounded size: a link to a
/// device, a FIFO and a huge file are refused, each at once, with the file named.
#[cfg(unix)]
#[test]
fn model_files_that_are_not_bounded_regular_files_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    random_model(1).write_dir(dir.path()).unwrap();
    let mel2mel = dir.path().join("mel2mel.onnx");
    let good = std::fs::read(&mel2mel).unwrap();

    std::fs::remove_file(&mel2mel).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &mel2mel).unwrap();
    let err = ModelBytes::from_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("mel2mel.onnx") && err.contains("not a regular file"), "{err}");

    std::fs::remove_file(&mel2mel).unwrap();
    let status = std::process::Command::new("mkfifo").arg(&mel2mel).status().unwrap();
    assert!(status.success());
    let err = ModelBytes::from_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("mel2mel.onnx") && err.contains("not a regular file"), "{err}");

    std::fs::remove_file(&mel2mel).unwrap();
    let f = std::fs::File::create(&mel2mel).unwrap();
    f.set_len(melwave::contract::model_dir::MAX_GRAPH_BYTES + 1).unwrap(); // sparse: no disk used
    let err = ModelBytes::from_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("mel2mel.onnx") && err.contains("more than"), "{err}");

    // A link to a regular file is fine.
    std::fs::remove_file(&mel2mel).unwrap();
    let real = dir.path().join("real.onnx");
    std::fs::write(&real, &good).unwrap();
    std::os::unix::fs::symlink(&real, &mel2mel).unwrap();
    assert!(ModelBytes::from_dir(dir.path()).is_ok());
}

/// The shapes the docs give for the step graphs' inputs are the contract's constants:
/// a doc that drifts from the code fails here.
#[test]
fn the_docs_state_the_step_graphs_shapes_from_the_contract() {
    use melwave::contract::{N_MELS, ROLL_DIM, SOURCE_CHANNELS};
    let architecture = std::fs::read_to_string(melwave_tests::repo_root().join("docs/architecture.md")).unwrap();
    for shape in [format!("roll [1,n,{ROLL_DIM}]"), format!("source [1,{SOURCE_CHANNELS},N]"), format!("mel [1,n,{N_MELS}]")] {
        assert!(architecture.contains(&shape), "docs/architecture.md should give `{shape}`");
    }
    let mel2mel = std::fs::read_to_string(melwave_tests::repo_root().join("plugin/src/contract/mel2mel.rs")).unwrap();
    assert!(
        mel2mel.contains(&format!("roll [1,n,{ROLL_DIM}]")) && mel2mel.contains(&format!("Linear(ROLL_DIM = {ROLL_DIM} → H)")),
        "contract/mel2mel.rs's doc gives the roll's width"
    );
}
