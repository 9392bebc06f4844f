//! The bundled `Melwave.clap` in a real CLAP host (clack-host), headless.

use melwave::contract::ModelBytes;
use melwave::engine::{self, EngineConfig};
use melwave_tests::clap::{descriptor, load, load_id, Cue, NoteExpressionType, AUDIO_PLUGIN_ID, PLUGIN_ID};
use melwave_tests::{passthrough_model, repo_root, rms, run_ignored_in_child};

fn bundle() -> std::path::PathBuf {
    repo_root().join("target/bundled/Melwave.clap")
}

/// A C-major chord at 0.1 s, a morph at 0.5 s, release at 1.0 s, in seconds → samples.
fn chord(rate: f64) -> Vec<(u64, Cue)> {
    let s = |t: f64| (t * rate) as u64;
    let mut cues = vec![];
    for k in [60u8, 64, 67] {
        cues.push((s(0.1), Cue::NoteOn(k, 0.8)));
    }
    cues.push((s(0.5), Cue::Param("Timbre X", 0.9)));
    cues.push((s(0.5), Cue::Param("Timbre Y", 0.1)));
    for k in [60u8, 64, 67] {
        cues.push((s(1.0), Cue::NoteOff(k)));
    }
    cues
}

#[test]
fn descriptor_is_an_instrument() {
    let p = load(&bundle());
    let (id, name, vendor, features) = descriptor(&p.entry);
    assert_eq!(id, PLUGIN_ID);
    assert_eq!(name, "Melwave");
    assert_eq!(vendor, "Melwave");
    assert!(features.iter().any(|f| f == "instrument"), "{features:?}");
    for param in ["Timbre X", "Timbre Y", "Gain"] {
        assert!(p.params.contains_key(param), "parameter {param} in {:?}", p.params.keys());
    }
    // The bundle's second plugin: Melwave Audio, an effect.
    let factory = p.entry.get_plugin_factory().unwrap();
    let all: Vec<(String, Vec<String>)> =
        factory.plugin_descriptors().map(|d| (d.id().unwrap().to_string_lossy().into_owned(), d.features().map(|f| f.to_string_lossy().into_owned()).collect())).collect();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1].0, AUDIO_PLUGIN_ID);
    assert!(all[1].1.iter().any(|f| f == "audio-effect"), "{all:?}");
}

/// Melwave Audio in the host: a sine melody on its input comes out as the instrument
/// at the melody's pitches, its reported latency (the engine's plus the front end's)
/// lines it up with the input, silence stays silence, and the transposition moves it.
#[test]
fn melwave_audio_plays_the_pitches_of_its_input() {
    let rate = 48_000.0;
    let s = |t: f64| (t * rate) as usize;
    let melody = [57u8, 64, 60];
    let hz = |k: f64| 440.0 * 2f64.powf((k - 69.0) / 12.0);
    let mut input = vec![0.0f32; s(3.0)];
    for (i, &k) in melody.iter().enumerate() {
        let start = s(0.2 + 0.8 * i as f64);
        for j in 0..s(0.6) {
            let env = (j.min(s(0.6) - j) as f32 / 480.0).min(1.0);
            input[start + j] = 0.3 * env * (std::f64::consts::TAU * hz(k as f64) * j as f64 / rate).sin() as f32;
        }
    }
    // On the organ, whose held notes keep their partials clear.
    let model = ModelBytes::embedded().unwrap();
    let (x, y) = melwave::contract::TimbrePlane::new(&model.manifest.instruments).to_pad(&model.manifest.instrument("Church Organ").unwrap().point);
    let play = |transpose: f64, input: &[f32]| {
        let mut p = load_id(&bundle(), AUDIO_PLUGIN_ID);
        p.set_offline(true);
        p.input = input.to_vec();
        // nice-plug gives CLAP an integer parameter's steps from its minimum: the
        // transposition's -24..24 is 0..48 on the wire.
        let cues = [(0, Cue::Param("Transpose", transpose + 24.0)), (0, Cue::Param("Timbre X", x as f64)), (0, Cue::Param("Timbre Y", y as f64))];
        let (audio, latency) = p.render(rate, 128, &cues, input.len() + s(0.5));
        (audio, latency as usize)
    };
    let (audio, latency) = play(0.0, &input);
    let offline = EngineConfig { margin: engine::Margin::Fixed(0.0), ..EngineConfig::new(rate as u32, 128) };
    let engine_latency = engine::start(&ModelBytes::embedded().unwrap(), &offline).unwrap().1.latency().total();
    let front = melwave::features::audio_in::AudioToNotes::latency_at(rate as u32);
    assert_eq!(latency, engine_latency + front, "reported latency: the engine's {engine_latency} and the front end's {front}");
    // The strongest spectral peak within a semitone of `f`, 0.2 s into the note: its
    // offset from `f` in cents, and its height against the window's strongest peak;
    // and the strongest below f·0.8 against it too (a note an octave low would sound
    // there: its partials alone would pass the first check).
    let near = |audio: &[f32], from: f64, f: f64| {
        let n = 16_384;
        let seg = &audio[latency + s(from)..latency + s(from) + n];
        let spec = melwave_tests::spectrum(seg);
        let bin = |f: f64| (f * n as f64 / rate).round() as usize;
        let (lo, hi) = (bin(f * 2f64.powf(-1.0 / 12.0)), bin(f * 2f64.powf(1.0 / 12.0)));
        let (b, &v) = spec[lo..=hi].iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
        let top = spec.iter().fold(0.0f32, |m, &x| m.max(x));
        let below = spec[bin(30.0)..bin(0.8 * f)].iter().fold(0.0f32, |m, &x| m.max(x));
        (1200.0 * ((lo + b) as f64 * rate / n as f64 / f).log2(), v / top, below / top)
    };
    for (i, &k) in melody.iter().enumerate() {
        let (cents, share, below) = near(&audio, 0.2 + 0.8 * i as f64 + 0.2, hz(k as f64));
        assert!(cents.abs() < 20.0 && share > 0.1 && below < 0.1, "sung key {k}: the nearest peak {cents:+.1} cents off, {share:.2} of the strongest; {below:.2} below it");
    }
    let (up, _) = play(12.0, &input);
    let (cents, share, below) = near(&up, 0.4, hz(69.0));
    assert!(cents.abs() < 20.0 && share > 0.1 && below < 0.1, "transposed an octave up: A4's peak {cents:+.1} cents off, {share:.2} of the strongest; {below:.2} below it");
    let (silent, _) = play(0.0, &vec![0.0; s(1.0)]);
    assert!(silent.iter().all(|v| *v == 0.0), "silence in, silence out");
}

/// A machine that cannot keep up (here a host that asks for real-time blocks as fast as
/// it can, far faster than real time) makes underruns grow the latency. The plugin
/// tells the host, and once the host restarts processing, the latency it reads
/// includes that growth: the margin this machine was found to need is kept, not
/// calibrated away again.
#[test]
fn grown_latency_reaches_the_host_and_survives_its_restart() {
    let (rate, block) = (48_000.0, 128usize);
    let mut p = load(&bundle());
    p.set_offline(false);
    let held = [(0u64, Cue::NoteOn(60, 0.8))];
    let first = p.stream(rate, block, &held, (3.0 * rate) as usize, false, |_, _| {});
    let grown = p.reported_latency().saturating_sub(first);
    assert!(grown > 0, "the underruns grew the latency (reported {first} at activation)");
    // Processing was active: the plugin asks for a restart, or, if its task runs after
    // deactivation, says the latency changed.
    let (restarts, changes) = p.host_requests();
    assert!(restarts + changes >= 1, "the host was told: {restarts} restarts requested, {changes} latency changes");
    let second = p.stream(rate, block, &held, 4 * block, true, |_, _| {});
    let offline = EngineConfig { margin: engine::Margin::Fixed(0.0), ..EngineConfig::new(rate as u32, block) };
    let minimum = engine::start(&ModelBytes::embedded().unwrap(), &offline).unwrap().1.latency().total() as u32;
    let floor = (engine::calibrate::FLOOR.as_secs_f64() * rate).ceil() as u32;
    assert!(second >= minimum + floor + grown, "after the restart: {second} samples, not the minimum {minimum} + the margin's floor {floor} + the growth {grown}");
    // A bounce waits for inference and takes no margin, carried or not; playing live
    // again, the growth is still there.
    p.set_offline(true);
    let bounce = p.stream(rate, block, &held, 4 * block, false, |_, _| {});
    assert_eq!(bounce, minimum, "an offline bounce's latency is the machine-independent minimum");
    p.set_offline(false);
    let live = p.stream(rate, block, &held, 4 * block, true, |_, _| {});
    assert!(live >= minimum + floor + grown, "live again: {live}");
}

#[test]
fn plays_morphs_and_releases_at_several_rates_and_blocks() {
    let model = ModelBytes::embedded().unwrap();
    let mut p = load(&bundle());
    p.set_offline(true);
    for (rate, block) in [(44_100.0, 32usize), (96_000.0, 1024), (48_000.0, 128)] {
        let len = (2.5 * rate) as usize;
        let (audio, latency) = p.render(rate, block, &chord(rate), len);
        // Offline, the engine takes no margin: the latency is the machine-independent minimum.
        let offline = EngineConfig { margin: engine::Margin::Fixed(0.0), ..EngineConfig::new(rate as u32, block) };
        let expected = engine::start(&model, &offline).unwrap().1.latency().total() as u32;
        assert_eq!(latency, expected, "{rate}/{block}: reported latency");
        assert!(audio.iter().all(|v| v.is_finite()), "{rate}/{block}: finite");
        let at = |t: f64| (t * rate) as usize + latency as usize;
        let sounding = rms(&audio[at(0.2)..at(0.95)]);
        let tail = rms(&audio[at(2.0)..]);
        let before = rms(&audio[..at(0.09)]);
        assert!(sounding > 1e-3, "{rate}/{block}: non-silent while the chord sounds (rms {sounding})");
        assert!(tail < sounding * 0.25, "{rate}/{block}: decays after release ({sounding} → {tail})");
        assert!(before < sounding * 0.25, "{rate}/{block}: quiet before the chord ({before} vs {sounding})");
    }
    assert!((p.param_value("Timbre X") - 0.9).abs() < 1e-6, "the morph reached the plugin's parameters");
}

/// A host that sends blocks four times longer than it announced: played in pieces,
/// the same samples as when it keeps its word.
#[test]
fn blocks_longer_than_announced_keep_the_clock() {
    let mut p = load(&bundle());
    p.set_offline(true);
    let rate = 48_000.0;
    let len = (1.2 * rate) as usize;
    // The parameters end where the chord leaves them: a first render sets them.
    p.render(rate, 128, &chord(rate), len);
    let (kept, latency) = p.render(rate, 128, &chord(rate), len);
    p.announced_max = Some(128);
    let (broken, broken_latency) = p.render(rate, 512, &chord(rate), len);
    assert_eq!(latency, broken_latency);
    let worst = kept.iter().zip(&broken).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-6 && rms(&kept) > 1e-3, "oversized blocks changed the output by {worst}");
}

/// A host that announces blocks beyond the engine's largest (here 100 000 samples)
/// still hears the instrument: the engine takes blocks of its own largest size, and
/// process() plays the host's in pieces.
#[test]
fn a_host_announcing_huge_blocks_still_hears_the_notes() {
    let mut p = load(&bundle());
    p.set_offline(true);
    let rate = 48_000.0;
    p.announced_max = Some(100_000);
    // The latency covers the largest block the engine takes (65 536 samples, 1.37 s).
    let (out, latency) = p.render(rate, 512, &chord(rate), (3.0 * rate) as usize);
    assert!(latency >= 65_536, "the latency covers the engine's largest block: {latency}");
    let heard = &out[(latency as usize).min(out.len())..];
    assert!(rms(heard) > 1e-3, "silent with a 100 000-sample announced block (rms {})", rms(heard));
}

/// A bounce with timbre automation: the same samples every time, and the morph is
/// heard from its frame on, not before.
#[test]
fn automated_bounces_are_bit_identical_and_the_morph_lands_on_its_frame() {
    let mut p = load(&bundle());
    p.set_offline(true);
    let rate = 48_000.0;
    let len = (1.2 * rate) as usize;
    // The project starts with the pad at one place and moves it at 0.5 s.
    let mut morph = vec![(0, Cue::Param("Timbre X", 0.2)), (0, Cue::Param("Timbre Y", 0.6))];
    morph.extend(chord(rate));
    let still: Vec<(u64, Cue)> = morph.iter().filter(|(t, c)| *t == 0 || !matches!(c, Cue::Param(..))).cloned().collect();
    // Parameters persist between bounces, as in a host: a first bounce leaves them
    // where every later one starts.
    p.render(rate, 512, &morph, len);
    let (a, latency) = p.render(rate, 512, &morph, len);
    let (b, _) = p.render(rate, 512, &morph, len);
    assert!(a == b, "two bounces of the same automated project differ");
    p.render(rate, 512, &morph, len);
    let (c, _) = p.render(rate, 512, &still, len);
    let first = (0..len).find(|&i| (a[i] - c[i]).abs() > 1e-6).expect("the morph changes the sound");
    // At most one model frame early (the cue applies from the start of the frame it
    // falls in: 256 samples at 48 kHz) and the resampler's filter reach (its delay);
    // the pad's smoothing ramp starts at once.
    let cue = (0.5 * rate) as usize + latency as usize;
    let model = ModelBytes::embedded().unwrap();
    let offline = EngineConfig { margin: engine::Margin::Fixed(0.0), ..EngineConfig::new(rate as u32, 512) };
    let reach = engine::start(&model, &offline).unwrap().1.latency().resampler_delay;
    assert!(first + 256 + reach >= cue && first <= cue + 256, "the morph was heard at {first}, its cue is at {cue}");
}

#[test]
fn state_round_trip_restores_the_exact_sound() {
    let rate = 48_000.0;
    let mut a = load(&bundle());
    a.set_offline(true);
    // CLAP carries nice-plug's continuous parameters normalised: gain −6 dB on −36…+12 dB is 0.625.
    let set = [(0, Cue::Param("Timbre X", 0.2)), (0, Cue::Param("Timbre Y", 0.8)), (0, Cue::Param("Gain", 0.625))];
    a.render(rate, 256, &set, 256);
    // A model folder chosen by the user, in the persisted `model-dir` field the editor
    // writes (a JSON string inside the JSON state), with the parameters just set (the
    // chord below morphs the pad).
    let folder = tempfile::tempdir().unwrap();
    passthrough_model().write_dir(folder.path()).unwrap();
    let edited = a.edited_state(|j| j["fields"]["model-dir"] = serde_json::Value::String(serde_json::to_string(&Some(folder.path().display().to_string())).unwrap()));
    let embedded_sound = a.render(rate, 256, &chord(rate), rate as usize).0;
    a.load_state(&edited).expect("state with a model folder loads");
    let state = a.save_state();
    let reference = a.render(rate, 256, &chord(rate), rate as usize).0;

    let mut b = load(&bundle());
    b.set_offline(true);
    b.load_state(&state).expect("state loads");
    assert!((b.param_value("Timbre X") - 0.2).abs() < 1e-6);
    assert!((b.param_value("Gain") - 0.625).abs() < 1e-4);
    let restored = b.render(rate, 256, &chord(rate), rate as usize).0;
    let worst = reference.iter().zip(&restored).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    assert!(worst <= 1e-5, "restored instance differs by {worst}");
    assert!(rms(&restored) > 1e-4);
    // And the sound really is the chosen model's, not the embedded one's.
    let change = rms(&reference.iter().zip(&embedded_sound).map(|(x, y)| x - y).collect::<Vec<_>>());
    assert!(change > 0.1 * rms(&reference), "the model folder in the state was not used (difference rms {change})");
}

#[test]
fn corrupt_state_is_refused_without_crashing() {
    let mut p = load(&bundle());
    p.set_offline(true);
    assert!(p.load_state(b"{ this is not a state").is_err());
    // Still alive and playing.
    let (audio, _) = p.render(48_000.0, 512, &chord(48_000.0), 48_000);
    assert!(audio.iter().all(|v| v.is_finite()));
    assert!(rms(&audio) > 1e-4, "plays after the refused state");
}

#[test]
fn state_written_by_this_version_reads_back_identically() {
    let mut a = load(&bundle());
    a.set_offline(true);
    a.render(48_000.0, 256, &[(0, Cue::Param("Timbre X", 0.3)), (0, Cue::Param("Timbre Y", 0.7)), (0, Cue::Param("Gain", 0.4))], 256);
    let first = a.save_state();
    let mut b = load(&bundle());
    b.load_state(&first).expect("loads");
    assert_eq!(b.save_state(), first, "save → load → save is the identity");
}

/// Old, hand-edited or damaged states: each loads (or is refused) without a crash, and
/// the plugin then plays.
#[test]
fn damaged_and_old_states_never_crash_the_plugin() {
    let missing = tempfile::tempdir().unwrap();
    let broken = tempfile::tempdir().unwrap();
    passthrough_model().write_dir(broken.path()).unwrap();
    let onnx = broken.path().join("vocoder.onnx");
    let bytes = std::fs::read(&onnx).unwrap();
    std::fs::write(&onnx, &bytes[..bytes.len() / 3]).unwrap();
    let missing_dir = missing.path().join("gone").display().to_string();
    let broken_dir = broken.path().display().to_string();
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("a model folder that no longer exists", Box::new(move |j| j["fields"]["model-dir"] = serde_json::to_string(&Some(missing_dir)).unwrap().into())),
        ("a model folder with a truncated ONNX", Box::new(move |j| j["fields"]["model-dir"] = serde_json::to_string(&Some(broken_dir)).unwrap().into())),
        ("an unknown execution provider", Box::new(|j| j["fields"]["provider"] = "\"Quantum\"".into())),
        ("an unknown latency mode", Box::new(|j| j["fields"]["latency-mode"] = "\"instant\"".into())),
        ("a field that is not JSON", Box::new(|j| j["fields"]["model-dir"] = "{{{".into())),
        (
            "parameter values far out of range",
            Box::new(|j| {
                j["params"]["timbre_x"] = serde_json::json!({ "f32": 7.5 });
                j["params"]["timbre_y"] = serde_json::json!({ "f32": -40.0 });
                j["params"]["gain"] = serde_json::json!({ "f32": 500.0 });
            }),
        ),
        (
            "parameter values of the wrong type",
            Box::new(|j| {
                j["params"]["timbre_x"] = serde_json::json!({ "bool": true });
                j["params"]["gain"] = serde_json::json!({ "i32": 3 });
            }),
        ),
        (
            "an older version with fields this one does not know",
            Box::new(|j| {
                j["version"] = "0.0.1".into();
                j["fields"]["release-tail"] = "\"long\"".into();
                j["params"]["old_param"] = serde_json::json!({ "f32": 0.5 });
            }),
        ),
        (
            "no fields and no params at all",
            Box::new(|j| {
                j["fields"] = serde_json::json!({});
                j["params"] = serde_json::json!({});
            }),
        ),
    ];
    for (what, edit) in cases {
        let mut p = load(&bundle());
        p.set_offline(true);
        let state = p.edited_state(edit);
        let loaded = p.load_state(&state);
        let (audio, _) = p.render(48_000.0, 512, &chord(48_000.0), 48_000);
        assert!(audio.iter().all(|v| v.is_finite() && v.abs() < 4.0), "{what}: finite, bounded output ({loaded:?})");
        assert!(rms(&audio) > 1e-4, "{what}: the plugin plays afterwards ({loaded:?})");
        let (x, y, g) = (p.param_value("Timbre X"), p.param_value("Timbre Y"), p.param_value("Gain"));
        assert!([x, y, g].iter().all(|v| (0.0..=1.0).contains(v)), "{what}: parameters in range afterwards ({x}, {y}, {g})");
        println!("{what}: load {}", if loaded.is_ok() { "accepted" } else { "refused" });
    }
    let mut p = load(&bundle());
    p.set_offline(true);
    for junk in [&b""[..], b"\x05\0\0\0\0\0\0\0{\"a\"", &[0xff; 64], b"\xff\xff\xff\xff\xff\xff\xff\x7f{}"] {
        assert!(p.load_state(junk).is_err(), "junk state refused");
    }
    let (audio, _) = p.render(48_000.0, 512, &chord(48_000.0), 48_000);
    assert!(rms(&audio) > 1e-4, "plays after junk states");
}

/// Hosts the debug build, whose `process()` aborts on any allocation
/// (`assert_process_allocs`), in a child process so an abort fails this test
/// instead of killing the test runner.
/// A model folder with an instrument added by `melwave-train add-instrument` (with a
/// local FiLM offset in Mel2Mel's graph, as the tool writes when one helps) loads
/// like any other, plays, and the pad lists the new instrument, marked (the plugin's
/// log line at activation, which the editor's list is built from).
#[test]
fn a_model_folder_with_an_added_instrument_loads_plays_and_lists_it() {
    let (ok, log) = run_ignored_in_child("added_instrument_child", "MELWAVE_ADDED_CHILD");
    assert!(ok, "{log}");
    assert!(log.contains("1 passed"), "{log}");
}

#[test]
#[ignore = "run by a_model_folder_with_an_added_instrument_loads_plays_and_lists_it in a child process"]
fn added_instrument_child() {
    use melwave::contract::Instrument;
    if std::env::var_os("MELWAVE_ADDED_CHILD").is_none() {
        return;
    }
    // nice-plug opens the file NICE_LOG names once, when the plugin first loads.
    let log = tempfile::NamedTempFile::new().unwrap();
    // SAFETY: this child process runs this one test on one thread, before any plugin loads.
    unsafe { std::env::set_var("NICE_LOG", log.path()) };
    let mut model = ModelBytes::embedded().unwrap();
    let (p, q) = (model.manifest.instruments[0].point.clone(), model.manifest.instruments[1].point.clone());
    let mid = vec![(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0];
    let cfg = model.manifest.mel2mel.config.clone();
    let mut w = cfg.weights_of_graph(&model.mel2mel).unwrap();
    w.insert("local.center", vec![1, 2], mid.clone());
    w.insert("local.radius", vec![1], vec![0.2]);
    for name in ["film_in", "film_out"] {
        w.insert(&format!("{name}.local"), vec![1, 2 * cfg.hidden], (0..2 * cfg.hidden).map(|i| 0.2 * (i as f32 * 0.7).sin()).collect());
    }
    model.mel2mel = std::borrow::Cow::Owned(cfg.build(&w).unwrap());
    model.manifest.instruments.push(Instrument { added: Some("a test: FluidR3 program 73".into()), ..Instrument::trained("Test Flute", 73, mid) });
    let folder = tempfile::tempdir().unwrap();
    model.write_dir(folder.path()).unwrap();

    let mut plugin = load(&bundle());
    plugin.set_offline(true);
    let state = plugin.edited_state(|j| j["fields"]["model-dir"] = serde_json::to_string(&Some(folder.path().display().to_string())).unwrap().into());
    plugin.load_state(&state).expect("state with the folder loads");
    let rate = 48_000.0;
    let (audio, _) = plugin.render(rate, 256, &chord(rate), rate as usize * 2);
    assert!(audio.iter().all(|v| v.is_finite()) && rms(&audio) > 1e-3, "it plays (rms {})", rms(&audio));
    let text = std::fs::read_to_string(log.path()).unwrap();
    let line = text.lines().rfind(|l| l.contains("the pad's instruments:")).unwrap_or_else(|| panic!("no instrument line in the log:\n{text}"));
    assert!(line.contains(&folder.path().display().to_string()), "the folder is what plays: {line}");
    assert!(line.contains("Test Flute (added)") && line.contains("Grand Piano,"), "{line}");
}

#[test]
fn process_never_allocates() {
    let (ok, log) = run_ignored_in_child("alloc_child", "MELWAVE_ALLOC_CHILD");
    assert!(ok, "allocation (or crash) in process():\n{log}");
    assert!(log.contains("1 passed"), "{log}");
}

#[test]
#[ignore = "run by process_never_allocates in a child process"]
fn alloc_child() {
    if std::env::var_os("MELWAVE_ALLOC_CHILD").is_none() {
        return;
    }
    let lib = repo_root().join("target/debug/libmelwave.so");
    // Melwave Audio: a melody on its input, with the pad and the transposition moving.
    let mut fx = load_id(&lib, AUDIO_PLUGIN_ID);
    fx.input = (0..96_000).map(|i| if (i / 12_000) % 2 == 0 { 0.3 * (i as f32 * 0.03 * (1.0 + (i / 12_000) as f32 * 0.1)).sin() } else { 0.0 }).collect();
    let cues: Vec<(u64, Cue)> =
        (0..200u64).map(|i| (i * 400, if i % 2 == 0 { Cue::Param("Timbre X", (i % 10) as f64 / 10.0) } else { Cue::Param("Transpose", (i % 49) as f64) })).collect();
    let (audio, _) = fx.render(48_000.0, 128, &cues, 96_000);
    assert!(audio.iter().all(|v| v.is_finite()));
    let mut p = load(&lib);
    // Note storm, automation on every block and then on every sample, at two rates
    // (each render deactivates and reactivates: the sample-rate change path).
    for (rate, block) in [(48_000.0, 64usize), (44_100.0, 333)] {
        let mut cues = vec![];
        for i in 0..400u64 {
            let t = i * 200;
            cues.push((t, Cue::NoteOn((30 + i % 60) as u8, 0.7)));
            cues.push((t, Cue::Param("Timbre X", (i % 10) as f64 / 10.0)));
            cues.push((t + 150, Cue::NoteOff((30 + i % 60) as u8)));
        }
        // Per-note expression: an MPE zone, member-channel bends, pressure and
        // CC74 on held notes, polyphonic aftertouch and CLAP note expressions.
        for (i, m) in [[0xB0, 101, 0], [0xB0, 100, 6], [0xB0, 6, 15], [0x91, 50, 90], [0x92, 57, 90]].into_iter().enumerate() {
            cues.push((30_000 + i as u64, Cue::Midi(m)));
        }
        for t in (30_100..34_000u64).step_by(7) {
            let v = (t % 128) as u8;
            cues.push((t, Cue::Midi([0xE1, v, v])));
            cues.push((t, Cue::Midi([0xD2, v, 0])));
            cues.push((t, Cue::Midi([0xB1, 74, v])));
            cues.push((t, Cue::Midi([0xA0, 50, v])));
            cues.push((t, Cue::Expression(57, NoteExpressionType::Tuning, v as f64 / 64.0 - 1.0)));
            cues.push((t, Cue::Expression(57, NoteExpressionType::Volume, v as f64 / 32.0)));
            cues.push((t, Cue::Expression(50, NoteExpressionType::Brightness, v as f64 / 127.0)));
            cues.push((t, Cue::Expression(50, NoteExpressionType::Pressure, v as f64 / 127.0)));
        }
        // Controllers moving the pad, more moves in a block than it keeps.
        cues.push((35_000, Cue::Param("Pad from controllers", 1.0)));
        for t in 35_001..36_000u64 {
            cues.push((t, Cue::Midi([0xB0, if t % 2 == 0 { 1 } else { 11 }, (t % 128) as u8])));
        }
        cues.push((36_000, Cue::Param("Pad from controllers", 0.0)));
        cues.push((34_000, Cue::Midi([0x81, 50, 0])));
        cues.push((34_000, Cue::Midi([0x82, 57, 0])));
        // Automation on every sample for a stretch, and 2 000 notes in one block.
        for t in 10_000..14_000u64 {
            cues.push((t, Cue::Param(if t % 2 == 0 { "Timbre X" } else { "Timbre Y" }, (t % 97) as f64 / 97.0)));
            cues.push((t, Cue::Param("Gain", (t % 13) as f64 / 13.0)));
        }
        for i in 0..1000u64 {
            cues.push((40_000 + i % 60, Cue::NoteOn((i % 128) as u8, 1.0)));
            cues.push((40_000 + i % 60, Cue::NoteOff((i % 128) as u8)));
        }
        cues.sort_by_key(|c| c.0);
        let (audio, _) = p.render(rate, block, &cues, 80_000);
        assert!(audio.iter().all(|v| v.is_finite()));
    }
}

/// Live, a chosen model folder is read and loaded off the host's thread: the instance
/// is silent until it is swapped in, then plays it. The chosen model is the
/// passthrough, whose held A4 is a steady 440 Hz sine at RMS 0.0707; the default
/// model's A4 is a piano note that strikes and decays (RMS about 0.003 after a second).
#[test]
fn live_a_chosen_folder_loads_in_the_background_and_then_plays() {
    let folder = tempfile::tempdir().unwrap();
    passthrough_model().write_dir(folder.path()).unwrap();
    let mut p = load(&bundle());
    p.set_offline(false);
    let state = p.edited_state(|j| j["fields"]["model-dir"] = serde_json::to_string(&Some(folder.path().display().to_string())).unwrap().into());
    p.load_state(&state).unwrap();
    let rate = 48_000.0;
    // A note held for 3 s, played in real time.
    let cues = [(0, Cue::NoteOn(69, 0.8)), ((2.9 * rate) as u64, Cue::NoteOff(69))];
    let (out, _, _) = p.render_timed(rate, 256, &cues, (3.0 * rate) as usize, true);
    let steady = |x: &[f32]| (0.05..0.09).contains(&rms(x));
    let tail = &out[(2.0 * rate) as usize..(2.8 * rate) as usize];
    assert!((melwave_tests::peak_frequency(tail, rate as f32) - 440.0).abs() < 5.0 && steady(tail), "the chosen model plays once loaded (rms {})", rms(tail));
    // Before that, every 100 ms is silence or the chosen model's steady sine, but for
    // the one in which the swap landed: never the default model's struck note.
    let windows: Vec<f32> = out[..(2.0 * rate) as usize].chunks((0.1 * rate) as usize).map(rms).collect();
    let neither = windows.iter().filter(|&&r| r >= 1e-4 && !(0.05..0.09).contains(&r)).count();
    assert!(neither <= 1, "only silence, then the chosen model: window RMS {windows:?}");
}

/// Live, a chosen folder that is missing, or whose graph is a FIFO, neither hangs the
/// host nor loses the user's choice: the default model plays, and the saved state
/// still names the folder.
#[test]
fn live_a_missing_or_unreadable_folder_plays_the_default_and_keeps_the_path() {
    let fifo_folder = tempfile::tempdir().unwrap();
    passthrough_model().write_dir(fifo_folder.path()).unwrap();
    let graph = fifo_folder.path().join("mel2mel.onnx");
    std::fs::remove_file(&graph).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&graph).status().unwrap().success());
    for dir in ["/nonexistent/melwave-model".to_string(), fifo_folder.path().display().to_string()] {
        let mut p = load(&bundle());
        p.set_offline(false);
        let state = p.edited_state(|j| j["fields"]["model-dir"] = serde_json::to_string(&Some(dir.clone())).unwrap().into());
        p.load_state(&state).unwrap();
        let rate = 48_000.0;
        let cues = [(0, Cue::NoteOn(60, 0.8)), ((0.9 * rate) as u64, Cue::NoteOff(60))];
        let (out, _, _) = p.render_timed(rate, 256, &cues, rate as usize, true);
        assert!(rms(&out[(0.3 * rate) as usize..(0.9 * rate) as usize]) > 1e-3, "{dir}: the default model plays");
        let saved = String::from_utf8_lossy(&p.save_state()).into_owned();
        assert!(saved.contains(&dir), "{dir}: the saved state keeps the folder: {saved}");
    }
}

/// CLAP note expressions and MPE reach the note they name through the real plugin:
/// two held notes on the organ, one retuned a semitone (by the host's tuning
/// expression, then by an MPE member channel's bend), and the output's spectrum has
/// that note's fundamental moved and the other's in place.
#[test]
fn note_expressions_and_mpe_retune_their_own_note_in_the_plugin() {
    let model = ModelBytes::embedded().unwrap();
    let organ = model.manifest.instrument("Church Organ").unwrap();
    let (x, y) = melwave::contract::TimbrePlane::new(&model.manifest.instruments).to_pad(&organ.point);
    let rate = 48_000.0;
    let s = |t: f64| (t * rate) as u64;
    let (low, high) = (60u8, 66u8);
    let hz = |k: f64| 440.0 * 2f64.powf((k - 69.0) / 12.0);
    let up = 8192 + 8192 / 48;
    let ways: [(&str, Vec<(u64, Cue)>); 2] = [
        ("CLAP tuning expression", vec![(s(0.1), Cue::NoteOn(low, 0.7)), (s(0.1), Cue::NoteOn(high, 0.7)), (s(0.8), Cue::Expression(low, NoteExpressionType::Tuning, 1.0))]),
        (
            "MPE member-channel bend",
            vec![
                (0, Cue::Midi([0xB0, 101, 0])),
                (0, Cue::Midi([0xB0, 100, 6])),
                (0, Cue::Midi([0xB0, 6, 15])),
                (s(0.1), Cue::Midi([0x91, low, 90])),
                (s(0.1), Cue::Midi([0x92, high, 90])),
                (s(0.8), Cue::Midi([0xE1, (up & 0x7f) as u8, (up >> 7) as u8])),
            ],
        ),
    ];
    for (name, mut cues) in ways {
        let mut p = load(&bundle());
        p.set_offline(true);
        cues.insert(0, (0, Cue::Param("Timbre X", x as f64)));
        cues.insert(1, (0, Cue::Param("Timbre Y", y as f64)));
        let (audio, latency) = p.render(rate, 256, &cues, s(1.6) as usize);
        let at = |t: f64| s(t) as usize + latency as usize;
        let n = 1 << 14;
        let spec = melwave_tests::spectrum(&audio[at(1.1)..at(1.1) + n]);
        let level = |f: f64| {
            let bin = |f: f64| (f * n as f64 / rate).round() as usize;
            20.0 * spec[bin(f * 2f64.powf(-0.2 / 12.0))..=bin(f * 2f64.powf(0.2 / 12.0))].iter().fold(1e-9f32, |m, &v| m.max(v)).log10()
        };
        let (moved, left) = (level(hz(low as f64 + 1.0)), level(hz(low as f64)));
        let (stayed, strayed) = (level(hz(high as f64)), level(hz(high as f64 + 1.0)));
        assert!(moved > left + 12.0, "{name}: the retuned note's fundamental {moved:.1} dB at its new pitch, {left:.1} dB at the old");
        assert!(stayed > strayed + 12.0, "{name}: the other note {stayed:.1} dB in place, {strayed:.1} dB a semitone up");
    }
}

/// With "Pad from controllers" on, the mod wheel moves Timbre X exactly as automating
/// the parameter to the same place does (the same glide); off, it changes nothing.
/// The choice and the Y controller's number are saved with the project.
#[test]
fn the_mod_wheel_moves_the_pad_when_chosen_and_the_choice_is_saved() {
    let rate = 48_000.0;
    let s = |t: f64| (t * rate) as u64;
    let play = |extra: &[(u64, Cue)]| {
        let mut p = load(&bundle());
        p.set_offline(true);
        let mut cues = vec![(0, Cue::Param("Timbre X", 0.2)), (0, Cue::Param("Timbre Y", 0.5)), (s(0.1), Cue::NoteOn(57, 0.8)), (s(1.4), Cue::NoteOff(57))];
        cues.extend_from_slice(extra);
        cues.sort_by_key(|c| c.0);
        p.render(rate, 256, &cues, s(1.5) as usize).0
    };
    let automated = play(&[(s(0.6), Cue::Param("Timbre X", 1.0))]);
    let wheel = play(&[(0, Cue::Param("Pad from controllers", 1.0)), (s(0.6), Cue::Midi([0xB0, 1, 127]))]);
    let ignored = play(&[(s(0.6), Cue::Midi([0xB0, 1, 127]))]);
    let still = play(&[]);
    let diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(diff(&automated, &still) > 1e-3, "the morph is audible");
    assert!(diff(&wheel, &automated) < 1e-4, "the wheel glides as the automation does: {}", diff(&wheel, &automated));
    assert_eq!(diff(&ignored, &still), 0.0, "off, the wheel does nothing");

    let mut p = load(&bundle());
    p.render(rate, 256, &[(0, Cue::Param("Pad from controllers", 1.0)), (0, Cue::Param("Timbre Y controller", 2.0))], 256);
    let saved = p.save_state();
    let mut q = load(&bundle());
    q.load_state(&saved).unwrap();
    // CLAP carries parameter values as doubles: an integer's comes back within rounding.
    assert_eq!((q.param_value("Pad from controllers"), q.param_value("Timbre Y controller").round()), (1.0, 2.0));
}
