//! The dataset is deterministic, split by source, and fails clearly on bad inputs.

use std::collections::HashMap;
use std::path::PathBuf;

use melwave_train::dataset::{self, phrases, sources, split_of, synth, DatasetConfig};

fn tiny(font: PathBuf) -> DatasetConfig {
    DatasetConfig {
        procedural: 3,
        procedural_seconds: 3.0,
        real_files: 3,
        excerpts_per_file: 2,
        excerpt_seconds: 3.0,
        programs: vec![0, 56],
        names: vec![],
        ..DatasetConfig::quick(font)
    }
}

fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = walk(dir).into_iter().map(|p| (p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap())).collect();
    out.sort();
    out
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p))
        } else {
            v.push(p)
        }
    }
    v
}

#[test]
fn same_seed_same_bytes_and_split_by_source() {
    let font = PathBuf::from(synth::DEFAULT_FONT);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ma = dataset::build(&tiny(font.clone()), a.path()).unwrap();
    dataset::build(&tiny(font.clone()), b.path()).unwrap();
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert_eq!(fa.len(), fb.len());
    for ((na, ba), (nb, bb)) in fa.iter().zip(&fb) {
        assert_eq!(na, nb);
        assert!(ba == bb, "{na} differs between two builds with the same seed");
    }
    let mut seen: HashMap<&str, dataset::Split> = HashMap::new();
    for p in &ma.pieces {
        let s = *seen.entry(&p.source).or_insert(p.split);
        assert_eq!(s, p.split, "{} is in two splits", p.source);
        assert_eq!(p.split, split_of(&p.source));
    }
    for i in &ma.items {
        assert_eq!(i.split, ma.pieces[i.piece].split);
    }
    let c = tempfile::tempdir().unwrap();
    let mut other = tiny(font);
    other.seed = 2;
    dataset::build(&other, c.path()).unwrap();
    assert_ne!(files(c.path()).iter().find(|f| f.0.ends_with("00000_000.safetensors")).unwrap().1, fa.iter().find(|f| f.0.ends_with("00000_000.safetensors")).unwrap().1);
}

#[test]
fn fluid_r3_has_the_ten_presets_under_their_names() {
    let sf = synth::load_font(std::path::Path::new(synth::DEFAULT_FONT)).unwrap();
    let programs: Vec<u8> = melwave::contract::manifest::TRAINING_INSTRUMENTS.iter().map(|i| i.0).collect();
    let names = synth::preset_names(&sf, 0, &programs).unwrap();
    assert_eq!(names[0], "Yamaha Grand Piano");
    assert_eq!(names[8], "Trumpet");
}

#[test]
fn a_missing_preset_or_bank_is_refused_with_the_list_of_presets() {
    let sf = synth::load_font(std::path::Path::new(synth::DEFAULT_FONT)).unwrap();
    let err = synth::preset_names(&sf, 0, &[73, 130]).unwrap_err().to_string();
    assert!(err.contains("no preset for program 130 in bank 0"), "{err}");
    // The listing names real presets, so the user can choose one.
    assert!(err.contains("0:73 Flute") && err.contains("0:42 Cello"), "{err}");
    let err = synth::preset_names(&sf, 99, &[73]).unwrap_err().to_string();
    assert!(err.contains("no preset for program 73 in bank 99") && err.contains("its banks: 0"), "{err}");
    let err = dataset::build(&tiny(synth::DEFAULT_FONT.into()).with_programs(synth::DEFAULT_FONT.into(), 99, vec![73], vec![]).unwrap(), tempfile::tempdir().unwrap().path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bank 99"), "{err}");
    assert!(tiny(synth::DEFAULT_FONT.into()).with_programs(synth::DEFAULT_FONT.into(), 0, vec![73, 73], vec![]).is_err());
    assert!(tiny(synth::DEFAULT_FONT.into()).with_programs(synth::DEFAULT_FONT.into(), 0, vec![73, 42], vec!["Flute".into()]).is_err());
}

#[test]
fn programs_outside_the_ten_render_under_their_preset_or_given_names() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DatasetConfig { procedural: 2, real_files: 0, ..tiny(synth::DEFAULT_FONT.into()) }.with_programs(synth::DEFAULT_FONT.into(), 0, vec![73, 42], vec![]).unwrap();
    let m = dataset::build(&cfg, dir.path()).unwrap();
    assert_eq!(m.presets, vec![(73, "Flute".to_string()), (42, "Cello".to_string())]);
    assert!(m.hours_per_instrument.contains_key("073 Flute"), "{:?}", m.hours_per_instrument);
    let items = dataset::load(dir.path(), &m, dataset::Split::Train).unwrap();
    let items: Vec<_> =
        items.into_iter().chain(dataset::load(dir.path(), &m, dataset::Split::Validation).unwrap()).chain(dataset::load(dir.path(), &m, dataset::Split::Test).unwrap()).collect();
    // Both programs rendered real sound, and they differ: the flute is not the cello.
    let rms = |a: &[f32]| (a.iter().map(|x| x * x).sum::<f32>() / a.len() as f32).sqrt();
    let flute: Vec<_> = items.iter().filter(|i| i.instrument == 0).collect();
    let cello: Vec<_> = items.iter().filter(|i| i.instrument == 1).collect();
    assert_eq!(flute.len(), cello.len());
    assert!(flute.iter().chain(&cello).all(|i| rms(&i.audio) > 1e-3));
    assert!(flute.iter().zip(&cello).any(|(f, c)| f.mel != c.mel));
    let named = cfg.clone().with_programs(synth::DEFAULT_FONT.into(), 0, vec![73, 42], vec!["My Flute".into(), "My Cello".into()]).unwrap();
    let m = dataset::build(&named, tempfile::tempdir().unwrap().path()).unwrap();
    assert_eq!(m.presets[0].1, "My Flute");
}

#[test]
fn missing_soundfont_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = dataset::build(&tiny("/nonexistent/font.sf2".into()), dir.path()).unwrap_err().to_string();
    assert!(err.contains("cannot open SoundFont /nonexistent/font.sf2"), "{err}");
    let bad = dir.path().join("bad.sf2");
    std::fs::write(&bad, b"RIFF\0\0\0\0not a soundfont").unwrap();
    let err = dataset::build(&tiny(bad), dir.path()).unwrap_err().to_string();
    assert!(err.contains("not a readable SF2"), "{err}");
}

#[test]
fn renders_are_real_audio_at_the_model_rate() {
    let sf = synth::load_font(std::path::Path::new(synth::DEFAULT_FONT)).unwrap();
    let song = phrases::generate(4, 2.0);
    let audio = synth::render(&sf, &song.timed_events(24_000), 0, 0, song.duration + 0.5).unwrap();
    assert_eq!(audio.len(), ((song.duration + 0.5) * 24_000.0).ceil() as usize);
    let peak = audio.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(peak > 0.01 && peak < 1.5, "peak {peak}");
}

/// RMS of `x[from..to]`.
fn rms(x: &[f32], from: usize, to: usize) -> f32 {
    (x[from..to].iter().map(|v| v * v).sum::<f32>() / (to - from) as f32).sqrt()
}

#[test]
fn renders_follow_the_merged_features_not_the_channels() {
    use melwave::features::{Event, TimedEvent};
    let sf = synth::load_font(std::path::Path::new(synth::DEFAULT_FONT)).unwrap();
    let s = 24_000u64;
    // Two channels doubled key 60; the first channel's note-off came at 0.5 s and the
    // second's at 1.5 s. In the features the key sounds until 1.5 s, so the render
    // must too: it is played from the merged events, not per channel.
    let doubled = [
        TimedEvent { time: 0, event: Event::NoteOn { key: 60, velocity: 100 } },
        TimedEvent { time: 0, event: Event::NoteOn { key: 60, velocity: 100 } },
        TimedEvent { time: s / 2, event: Event::NoteOff { key: 60 } },
        TimedEvent { time: 3 * s / 2, event: Event::NoteOff { key: 60 } },
    ];
    let single = [TimedEvent { time: 0, event: Event::NoteOn { key: 60, velocity: 100 } }, TimedEvent { time: s / 2, event: Event::NoteOff { key: 60 } }];
    // Organ: no decay while held, silence soon after release.
    let (a, b) = (synth::render(&sf, &doubled, 0, 19, 2.0).unwrap(), synth::render(&sf, &single, 0, 19, 2.0).unwrap());
    let window = (s as usize + 2_000, s as usize + 10_000);
    assert!(rms(&b, window.0, window.1) < 0.1 * rms(&b, 2_000, 10_000), "the single note has ended by 1 s");
    assert!(rms(&a, window.0, window.1) > 0.5 * rms(&a, 2_000, 10_000), "the doubled key still sounds at 1 s");
    // A channel-volume or pan message in the file never reaches the synth: the merged
    // events have no such event, so the level follows the velocity alone.
    let soft = [TimedEvent { time: 0, event: Event::NoteOn { key: 60, velocity: 40 } }];
    let loud = [TimedEvent { time: 0, event: Event::NoteOn { key: 60, velocity: 120 } }];
    let (p, f) = (synth::render(&sf, &soft, 0, 19, 0.5).unwrap(), synth::render(&sf, &loud, 0, 19, 0.5).unwrap());
    assert!(rms(&f, 2_000, 10_000) > 2.0 * rms(&p, 2_000, 10_000), "velocity sets the level");
}

#[test]
fn an_old_dataset_is_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let m = dataset::build(&tiny(synth::DEFAULT_FONT.into()), dir.path()).unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&m).unwrap();
    json["format"] = "melwave-dataset-1".into();
    std::fs::write(dir.path().join(dataset::MANIFEST), json.to_string()).unwrap();
    let err = dataset::read_manifest(dir.path()).unwrap_err().to_string();
    assert!(err.contains("melwave-dataset-1") && err.contains("render it again"), "{err}");
}

#[test]
fn procedural_phrases_cover_range_polyphony_pedal_and_bend() {
    let mut keys = std::collections::BTreeSet::new();
    let (mut pedal, mut bend, mut max_poly) = (false, false, 0);
    for seed in 0..40 {
        let song = phrases::generate(seed, 20.0);
        let mut held = 0i32;
        for e in &song.events {
            match e.event {
                melwave::features::Event::NoteOn { key, .. } => {
                    keys.insert(key);
                    held += 1;
                    max_poly = max_poly.max(held);
                }
                melwave::features::Event::NoteOff { .. } => held -= 1,
                melwave::features::Event::Sustain(true) => pedal = true,
                melwave::features::Event::PitchBend(b) if b != 0.0 => bend = true,
                _ => {}
            }
        }
    }
    assert!(pedal && bend);
    assert!(max_poly >= 8, "polyphony up to 8, saw {max_poly}");
    assert!(*keys.first().unwrap() <= 30 && *keys.last().unwrap() >= 100, "range {keys:?}");
}

#[test]
fn extremes_pieces_reach_both_ends_of_the_keyboard_and_every_dynamic_and_only_train() {
    let mut keys = std::collections::BTreeSet::new();
    let mut velocities = std::collections::BTreeSet::new();
    for seed in 0..20 {
        for e in &phrases::generate_with(seed, 20.0, phrases::Emphasis::Extremes).events {
            if let melwave::features::Event::NoteOn { key, velocity } = e.event {
                keys.insert(key as i32);
                velocities.insert(velocity);
            }
        }
    }
    let (low, high) = (*keys.first().unwrap(), *keys.last().unwrap());
    assert!(low <= 24 && (112..=phrases::EXTREME_TOP).contains(&high), "keys {low}–{high}");
    // Both ends are covered, not touched once: most of the keys played lie outside the
    // middle octaves.
    let outside = keys.iter().filter(|&&k| !(40..84).contains(&k)).count();
    assert!(outside * 2 > keys.len(), "{outside} of {} keys outside 40–83", keys.len());
    assert!(*velocities.first().unwrap() <= 15 && *velocities.last().unwrap() >= 120, "velocities {velocities:?}");
    // Even pieces are untouched by the emphasis.
    assert_eq!(phrases::generate(3, 20.0).events, phrases::generate_with(3, 20.0, phrases::Emphasis::Even).events);

    let font = PathBuf::from(synth::DEFAULT_FONT);
    let dir = tempfile::tempdir().unwrap();
    let cfg = DatasetConfig { extreme_pieces: 2, real_files: 1, ..tiny(font) };
    let m = dataset::build(&cfg, dir.path()).unwrap();
    let tail: Vec<_> = m.pieces.iter().rev().take(2).collect();
    for (p, i) in tail.iter().rev().zip(0..) {
        assert_eq!(p.source, dataset::extremes_source(i));
        assert_eq!(p.split, dataset::Split::Train);
    }
    // The pieces before them are those of a dataset without extremes, ids included.
    let without = dataset::pieces(&DatasetConfig { extreme_pieces: 0, ..cfg.clone() }).unwrap();
    assert_eq!(without.len() + 2, m.pieces.len());
    for ((p, _), q) in without.iter().zip(&m.pieces) {
        assert_eq!(p, q);
    }
}

#[test]
fn corrupt_midi_sources_are_skipped_with_a_warning_not_a_crash() {
    // The Debian files parse; a corrupt one is refused by the shared reader.
    let err = melwave::midi_file::parse(b"MThd\0\0\0\x06\0\x01\0\x05\0\x60MTrk\0\0\x10\0\x00\x90").unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    for f in sources::debian_midi_files().iter().take(20) {
        melwave::midi_file::load(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}
