//! `add-instrument` on the shipped model, from a FluidR3 preset and from "recordings"
//! (renders of another font, TimGM6mb, at another sample rate): the new folder passes
//! the contract, the new point sits on the unchanged plane, the existing instruments
//! sound exactly as before (after a local FiLM offset too, and after a second added
//! instrument), the new point fits better than the nearest existing one, and bad
//! recordings are refused without touching the model.

use std::path::{Path, PathBuf};

use melwave::contract::{ModelBytes, TimbrePlane, SAMPLE_RATE};
use melwave::runtime::{ModelRunner, Provider};
use melwave_train::dataset::{phrases, synth};
use melwave_train::instrument::{self, recordings, AddOptions, Source};

/// Debian's `timgm6mb-soundfont`, which `cargo xtask test` installs.
const OTHER_FONT: &str = "/usr/share/sounds/sf2/TimGM6mb.sf2";

/// A scratch folder holding the shipped model, the model's path, and its files' bytes
/// (to prove at the end that nothing touched it).
fn shipped_model() -> (tempfile::TempDir, PathBuf, Vec<(String, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    ModelBytes::embedded().unwrap().write_dir(&path).unwrap();
    let bytes = folder_bytes(&path);
    (dir, path, bytes)
}

fn folder_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())).collect();
    v.sort();
    v
}

fn render_at(model: &ModelBytes, point: &[f32]) -> Vec<f32> {
    let song = phrases::generate(5, 3.0);
    let events = song.timed_events(SAMPLE_RATE);
    let frames = (3.0 * SAMPLE_RATE as f64) as usize / melwave::contract::HOP;
    let (roll, source) = melwave::features::featurize(&events, frames, 0);
    let mut r = ModelRunner::new(model, Provider::Cpu).unwrap();
    r.run_in_blocks(&roll, &source, [point[0], point[1]], 64).unwrap().1
}

#[test]
fn a_preset_outside_the_ten_becomes_a_point_and_a_local_offset_that_leave_the_others_alone() {
    let (dir, model_dir, before) = shipped_model();
    let out = dir.path().join("with-flute");
    let opts = AddOptions {
        model: model_dir.clone(),
        source: Source::Preset { font: synth::DEFAULT_FONT.into(), bank: 0, program: 73 },
        name: None,
        out: out.clone(),
        quick: true,
        local_film: true,
    };
    let report = instrument::add(&opts).unwrap();
    eprintln!("{}", instrument::summary(&report));
    assert_eq!(folder_bytes(&model_dir), before, "the input model was changed");

    // Every contract check: manifest, graphs, a session that runs.
    let old = ModelBytes::from_dir(&model_dir).unwrap();
    let new = ModelBytes::from_dir(&out).unwrap();
    new.manifest.validate().unwrap();
    ModelRunner::new(&new, Provider::Cpu).unwrap();
    assert_eq!(new.manifest.instruments.len(), old.manifest.instruments.len() + 1);
    let flute = new.manifest.instrument("Flute").expect("named after the preset");
    assert!(flute.added.as_deref().is_some_and(|a| a.contains("program 73")), "{:?}", flute.added);
    assert_eq!(&new.manifest.instruments[..old.manifest.instruments.len()], &old.manifest.instruments[..]);

    // On the plane: the pad's mapping did not move, and the point is inside the pad.
    let plane = TimbrePlane::new(&old.manifest.instruments);
    assert_eq!(TimbrePlane::new(&new.manifest.instruments), plane);
    let (x, y) = plane.to_pad(&flute.point);
    assert!((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y), "pad position {x}, {y}");

    // The vocoder is the same bytes; Mel2Mel changed only where an offset was kept,
    // and every existing instrument renders as before.
    assert_eq!(new.vocoder, old.vocoder);
    let local = report.local.as_ref().expect("a local offset was tried");
    eprintln!("local offset: {local:?}");
    assert!(local.last_loss < local.first_loss, "training did not lower the loss: {local:?}");
    assert!(local.fit_loss < report.fit_loss, "with the offset {} against the point alone {}", local.fit_loss, report.fit_loss);
    let others: Vec<[f32; 2]> = old.manifest.instruments.iter().map(|i| [i.point[0], i.point[1]]).collect();
    let nearest = others.iter().map(|o| ((o[0] - local.centre[0]).powi(2) + (o[1] - local.centre[1]).powi(2)).sqrt()).fold(f32::INFINITY, f32::min);
    assert!(local.radius > 0.0 && local.radius < nearest, "radius {} reaches a neighbour {nearest} away", local.radius);
    if local.kept {
        assert_ne!(new.mel2mel, old.mel2mel);
        assert_eq!(flute.point, local.centre.to_vec());
        let w = new.manifest.mel2mel.config.weights_of_graph(&new.mel2mel).unwrap();
        assert_eq!(w.get("local.center", &[1, 2]).unwrap(), &local.centre[..]);
        assert_eq!(w.get("local.radius", &[1]).unwrap(), &[local.radius]);
    } else {
        assert_eq!(new.mel2mel, old.mel2mel);
    }
    for inst in old.manifest.instruments.iter().take(3) {
        let (a, b) = (render_at(&old, &inst.point), render_at(&new, &new.manifest.instrument(&inst.name).unwrap().point));
        let worst = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
        assert!(worst <= 1e-6, "{} changed by {worst}", inst.name);
    }
    assert!(report.existing.iter().all(|e| e.max_difference <= 1e-6 && e.before == e.after), "{:?}", report.existing);

    // The search found a point the model likes better for a flute than any instrument it had.
    assert!(report.fit_loss < report.nearest_fit_loss, "new {} vs nearest ({}) {}", report.fit_loss, report.nearest, report.nearest_fit_loss);
    assert!(report.new_scores.rmse_cqt.is_finite() && report.nearest_scores.rmse_cqt.is_finite());

    // The comparison picture of a held-out take is in the new folder.
    let picture = report.spectrograms.as_deref().expect("a picture was drawn");
    assert!(std::fs::metadata(out.join(picture)).unwrap().len() > 10_000, "{picture}");
    // The folder's provenance names the same picture.
    assert_eq!(new.manifest.provenance.pointer("/added/0/spectrograms").and_then(|v| v.as_str()), Some(picture));

    // A second added instrument leaves the first, and its offset, as they were.
    let both = dir.path().join("with-flute-and-cello");
    let cello = AddOptions { model: out.clone(), out: both.clone(), source: Source::Preset { font: synth::DEFAULT_FONT.into(), bank: 0, program: 42 }, ..opts.clone() };
    let second = instrument::add(&cello).unwrap();
    eprintln!("{}", instrument::summary(&second));
    assert_eq!(second.existing.len(), old.manifest.instruments.len() + 1);
    assert!(second.existing.iter().all(|e| e.max_difference <= 1e-6), "{:?}", second.existing);
    let both_model = ModelBytes::from_dir(&both).unwrap();
    let kept = [report.local.as_ref().is_some_and(|l| l.kept), second.local.as_ref().is_some_and(|l| l.kept)].iter().filter(|k| **k).count();
    let w = both_model.manifest.mel2mel.config.weights_of_graph(&both_model.mel2mel).unwrap();
    assert_eq!(melwave::contract::film::local_count(&w), kept);

    // A second instrument of the same name is refused before any work.
    let again = AddOptions { model: out.clone(), out: dir.path().join("twice"), ..opts };
    let err = instrument::add(&again).unwrap_err().to_string();
    assert!(err.contains("already has an instrument named `Flute`"), "{err}");
    // And the tool never writes over the model it starts from.
    let onto_itself = AddOptions {
        model: out.clone(),
        out: out.clone(),
        name: Some("Other".into()),
        source: Source::Preset { font: synth::DEFAULT_FONT.into(), bank: 0, program: 42 },
        quick: true,
        local_film: true,
    };
    assert!(instrument::add(&onto_itself).unwrap_err().to_string().contains("--out must be a new folder"));
}

/// Renders `song` with another font at `rate`, as a recording would be, and writes the
/// pair `name.wav` + `name.mid` into `dir`; the audio starts `delay` seconds late.
fn write_pair(dir: &Path, name: &str, seed: u64, rate: u32, delay: f64) {
    let song = phrases::generate(seed, 5.0);
    let font = synth::load_font(Path::new(OTHER_FONT)).unwrap_or_else(|e| panic!("{e:#}: install timgm6mb-soundfont (cargo xtask test does)"));
    let mut settings = rustysynth::SynthesizerSettings::new(rate as i32);
    settings.enable_reverb_and_chorus = false;
    let mut synth = rustysynth::Synthesizer::new(&font, &settings).unwrap();
    synth.process_midi_message(0, 0xC0, 71, 0);
    let events = song.timed_events(rate);
    let total = ((song.duration + 0.5) * rate as f64) as usize;
    let (mut l, mut r) = (vec![0.0f32; total], vec![0.0f32; total]);
    let mut pos = 0;
    for e in &events {
        let at = (e.time as usize).min(total);
        if at > pos {
            synth.render(&mut l[pos..at], &mut r[pos..at]);
            pos = at;
        }
        let [s, a, b] = e.event.to_midi(0).expect("the phrase has plain MIDI events only");
        synth.process_midi_message(0, (s & 0xf0) as i32, a as i32, b as i32);
    }
    synth.render(&mut l[pos..], &mut r[pos..]);
    let pad = (delay * rate as f64) as usize;
    let spec = hound::WavSpec { channels: 2, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(dir.join(format!("{name}.wav")), spec).unwrap();
    for i in 0..total + pad {
        let (a, b) = if i < pad { (0.0, 0.0) } else { (l[i - pad], r[i - pad]) };
        w.write_sample((a.clamp(-1.0, 1.0) * 32767.0) as i16).unwrap();
        w.write_sample((b.clamp(-1.0, 1.0) * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    std::fs::write(dir.join(format!("{name}.mid")), song.to_smf()).unwrap();
}

#[test]
fn recordings_at_another_rate_are_resampled_checked_for_alignment_and_fitted() {
    let (dir, model_dir, before) = shipped_model();
    let recs = dir.path().join("Clarinet");
    std::fs::create_dir(&recs).unwrap();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        write_pair(&recs, name, 40 + i as u64, 44_100, 0.0);
    }
    // The pairs as the tool reads them: resampled from 44.1 kHz, aligned within a few ms.
    for (i, r) in recordings::load_dir(&recs).unwrap().into_iter().enumerate() {
        assert_eq!(r.source_rate, 44_100);
        // An aligned pair reads a few ms late: an onset shows in its own hop or the
        // next, and a clarinet's attack takes time to build; far inside the 20 ms limit.
        assert!(r.offset_seconds.abs() < 0.012, "{}: measured offset {} s", r.take.name, r.offset_seconds);
        let expected = ((phrases::generate(40 + i as u64, 5.0).duration + 0.5) * SAMPLE_RATE as f64) as usize;
        assert!(r.take.audio.len().abs_diff(expected) <= 2 * melwave::contract::HOP, "{} samples at 24 kHz", r.take.audio.len());
    }
    let out = dir.path().join("with-clarinet");
    let report =
        instrument::add(&AddOptions { model: model_dir.clone(), source: Source::Recordings(recs.clone()), name: None, out: out.clone(), quick: true, local_film: false }).unwrap();
    eprintln!("{}", instrument::summary(&report));
    let new = ModelBytes::from_dir(&out).unwrap();
    // The point alone: both graphs are the model's own bytes.
    let old = ModelBytes::from_dir(&model_dir).unwrap();
    assert!(report.local.is_none());
    assert_eq!((&new.mel2mel, &new.vocoder), (&old.mel2mel, &old.vocoder));
    let clarinet = new.manifest.instrument("Clarinet").expect("named after the folder");
    assert!(clarinet.added.as_deref().is_some_and(|a| a.contains("recordings")));
    assert!(report.held_out && report.alignment_ms.len() == 3);
    assert!(report.fit_loss < report.nearest_fit_loss);
    assert_eq!(folder_bytes(&model_dir), before);

    // A single recording: nothing is held out to judge an offset on, so none is tried.
    let solo = dir.path().join("Solo");
    std::fs::create_dir(&solo).unwrap();
    write_pair(&solo, "only", 44, 44_100, 0.0);
    let one =
        instrument::add(&AddOptions { model: model_dir.clone(), source: Source::Recordings(solo), name: None, out: dir.path().join("with-solo"), quick: true, local_film: true })
            .unwrap();
    assert!(!one.held_out && one.local.is_none(), "{:?}", one.local);
    assert!(one.local_skipped.as_deref().is_some_and(|w| w.contains("one recording")), "{:?}", one.local_skipped);
    assert_eq!(ModelBytes::from_dir(&dir.path().join("with-solo")).unwrap().mel2mel, old.mel2mel);

    // A pair 100 ms off is refused, by name, and nothing is written.
    write_pair(&recs, "late", 50, 44_100, 0.100);
    let out2 = dir.path().join("never");
    let err = format!(
        "{:#}",
        instrument::add(&AddOptions {
            model: model_dir.clone(),
            source: Source::Recordings(recs.clone()),
            name: Some("Late".into()),
            out: out2.clone(),
            quick: true,
            local_film: false
        })
        .unwrap_err()
    );
    assert!(err.contains("late.wav") && err.contains("late against"), "{err}");
    let ms: f64 = err.split(" is ").nth(1).and_then(|s| s.split(" ms").next()).and_then(|s| s.trim().parse().ok()).unwrap_or_else(|| panic!("no offset in: {err}"));
    // The shift plus the same few ms an aligned pair reads.
    assert!((95.0..=113.0).contains(&ms), "measured {ms} ms for a 100 ms shift");
    assert!(!out2.exists());
    assert_eq!(folder_bytes(&model_dir), before);
}

#[test]
fn empty_silent_and_corrupt_recordings_are_clear_errors_and_leave_the_model_alone() {
    let (dir, model_dir, before) = shipped_model();
    let midi = phrases::generate(3, 3.0).to_smf();
    let spec = hound::WavSpec { channels: 1, sample_rate: 24_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    type WriteWav = Box<dyn Fn(&Path)>;
    let cases: [(&str, WriteWav, &str); 4] = [
        ("empty", Box::new(move |p: &Path| hound::WavWriter::create(p, spec).unwrap().finalize().unwrap()), "holds no samples"),
        (
            "silent",
            Box::new(move |p: &Path| {
                let mut w = hound::WavWriter::create(p, spec).unwrap();
                for _ in 0..48_000 {
                    w.write_sample(0i16).unwrap();
                }
                w.finalize().unwrap()
            }),
            "is silent",
        ),
        ("corrupt", Box::new(|p: &Path| std::fs::write(p, b"RIFF\x10\0\0\0WAVEfmt garbage").unwrap()), "is not a readable WAV file"),
        ("nomidi", Box::new(|p: &Path| std::fs::write(p, b"").unwrap()), "has no MIDI file beside it"),
    ];
    for (name, write, expected) in cases {
        let recs = dir.path().join(name);
        std::fs::create_dir(&recs).unwrap();
        write(&recs.join(format!("{name}.wav")));
        if name != "nomidi" {
            std::fs::write(recs.join(format!("{name}.mid")), &midi).unwrap();
        }
        let out = dir.path().join(format!("out-{name}"));
        let err = format!(
            "{:#}",
            instrument::add(&AddOptions { model: model_dir.clone(), source: Source::Recordings(recs), name: None, out: out.clone(), quick: true, local_film: true }).unwrap_err()
        );
        assert!(err.contains(expected) && err.contains(&format!("{name}.wav")), "{name}: {err}");
        assert!(!out.exists(), "{name}: an output was written");
    }
    assert_eq!(folder_bytes(&model_dir), before);
}

#[test]
fn the_resampler_keeps_pitch_length_and_time() {
    // A click train at 44.1 kHz: after resampling, each click is where it was in time.
    let rate = 44_100u32;
    let mut x = vec![0.0f32; rate as usize];
    for k in 1..10 {
        x[k * rate as usize / 10] = 1.0;
    }
    let y = melwave::engine::resample::clip_to_model_rate(&x, rate).unwrap();
    assert!(y.len().abs_diff(SAMPLE_RATE as usize) <= 1, "{} samples", y.len());
    for k in 1..10 {
        let at = k * SAMPLE_RATE as usize / 10;
        let peak = (at - 20..at + 20).max_by(|&a, &b| y[a].abs().total_cmp(&y[b].abs())).unwrap();
        assert!(peak.abs_diff(at) <= 1, "click {k} moved from {at} to {peak}");
    }
}
