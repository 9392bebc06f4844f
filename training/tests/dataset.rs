//! The dataset is deterministic, split by source, and fails clearly on bad inputs.

use std::collections::HashMap;
use std::path::PathBuf;

use melwave_train::dataset::{self, phrases, split_of, sources, synth, DatasetConfig};

fn tiny(font: PathBuf) -> DatasetConfig {
    DatasetConfig { procedural: 3, procedural_seconds: 3.0, real_files: 3, excerpts_per_file: 2, excerpt_seconds: 3.0, programs: vec![0, 56], ..DatasetConfig::quick(font) }
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
        if p.is_dir() { v.extend(walk(&p)) } else { v.push(p) }
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
    let names = synth::preset_names(&sf, &programs).unwrap();
    assert_eq!(names[0], "Yamaha Grand Piano");
    assert_eq!(names[8], "Trumpet");
    // Program 100 exists in FluidR3, bank 0 program 130 cannot exist at all.
    let err = synth::preset_names(&sf, &[130]).unwrap_err().to_string();
    assert!(err.contains("no bank-0 preset for GM program 130"), "{err}");
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
    let audio = synth::render(&sf, &song, 0, song.duration + 0.5).unwrap();
    assert_eq!(audio.len(), ((song.duration + 0.5) * 24_000.0).ceil() as usize);
    let peak = audio.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(peak > 0.01 && peak < 1.5, "peak {peak}");
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
fn corrupt_midi_sources_are_skipped_with_a_warning_not_a_crash() {
    // The Debian files parse; a corrupt one is refused by the shared reader.
    let err = melwave::midi_file::parse(b"MThd\0\0\0\x06\0\x01\0\x05\0\x60MTrk\0\0\x10\0\x00\x90").unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    for f in sources::debian_midi_files().iter().take(20) {
        melwave::midi_file::load(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}
