//! report.md and the stdout summary, from the evaluation's results.

use std::fmt::Write;

use super::metrics::{mean_ci, Harmonicity, NoteTally, AUDIBLE_FLOOR_DB, REGISTERS, VELOCITY_GROUPS};
use super::note_shape::{ShapeTally, DECAY_BANDS};
use super::velocity::VELOCITIES;
use super::{EvalResults, ItemResult, Scores, MELWAVE, SYSTEMS};

fn ci(values: &[f64], digits: usize) -> String {
    let (m, h) = mean_ci(values);
    let mut mean = format!("{m:.digits$}");
    // A small negative mean rounds to "-0.0"; zero has no sign.
    if mean.starts_with('-') && mean[1..].chars().all(|c| c == '0' || c == '.') {
        mean.remove(0);
    }
    if h.is_nan() {
        mean
    } else {
        format!("{mean} ± {h:.digits$}")
    }
}

fn pooled_shape(items: &[&ItemResult], system: &str) -> ShapeTally {
    let mut t = ShapeTally::default();
    for i in items {
        t.add(&i.systems[system].shape);
    }
    t
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

/// The systems the note-shape tables compare with the truth.
const SHAPE_SYSTEMS: [&str; 3] = ["Griffin-Lim (true mel)", "vocoder (true mel)", MELWAVE];

/// Per instrument: attack, texture, overtone profile and decay of the notes that
/// sound alone, each system against the truth.
fn shape_tables(md: &mut String, all: &[&ItemResult], instruments: &[String]) {
    let per = |name: &str, sys: &str| -> ShapeTally { pooled_shape(&all.iter().copied().filter(|i| i.instrument == name).collect::<Vec<_>>(), sys) };
    let cols = SHAPE_SYSTEMS.join(" | ");
    let rule = "---|".repeat(SHAPE_SYSTEMS.len());
    let _ = writeln!(
        md,
        "
## Note shape (notes that sound alone; docs/evaluation.md)

### Attack: energy above 2 kHz in the first 20 ms, estimate − truth (dB: mean |error| / mean error (notes))

| instrument | {cols} |
|---|{rule}"
    );
    let rows = |md: &mut String, cell: &dyn Fn(&ShapeTally) -> String| {
        for name in instruments.iter().map(String::as_str).chain(std::iter::once("all")) {
            let row: Vec<String> = SHAPE_SYSTEMS.iter().map(|s| cell(&if name == "all" { pooled_shape(all, s) } else { per(name, s) })).collect();
            let _ = writeln!(md, "| {name} | {} |", row.join(" | "));
        }
    };
    rows(md, &|t| if t.attack_notes == 0 { "–".into() } else { format!("{} / {:+.1} ({})", opt(t.attack_error(), 1), t.attack_bias().unwrap_or(0.0), t.attack_notes) });
    let _ = writeln!(
        md,
        "
### Texture: power between the partials over power on them, estimate − truth (dB: mean |error| / mean error; the truth's own level)

| instrument | {cols} | truth |
|---|{rule}---|"
    );
    for name in instruments.iter().map(String::as_str).chain(std::iter::once("all")) {
        let tally = |s: &str| if name == "all" { pooled_shape(all, s) } else { per(name, s) };
        let mut row: Vec<String> = SHAPE_SYSTEMS
            .iter()
            .map(|s| tally(s))
            .map(|t| if t.texture_notes == 0 { "–".into() } else { format!("{} / {:+.1}", opt(t.texture_error(), 1), t.texture_bias().unwrap_or(0.0)) })
            .collect();
        row.push(opt(tally(MELWAVE).texture_truth(), 1));
        let _ = writeln!(md, "| {name} | {} |", row.join(" | "));
    }
    let _ = writeln!(
        md,
        "
### Overtone profile: mean |error| of the first 12 partials' levels, C3–C6 (dB)

| instrument | {cols} |
|---|{rule}"
    );
    rows(md, &|t| if t.profile_notes == 0 { "–".into() } else { format!("{} ({})", opt(t.profile_error(), 1), t.profile_notes) });
    let bands = DECAY_BANDS.map(|(lo, hi)| format!("{:.0}–{:.0} kHz", lo / 1000.0, hi / 1000.0)).join(", ");
    let _ = writeln!(
        md,
        "
### Decay: slope of each band over the first 500 ms ({bands}), mean |estimate − truth| (dB/s); the truth's own slopes

| instrument | {cols} | truth |
|---|{rule}---|"
    );
    for name in instruments.iter().map(String::as_str).chain(std::iter::once("all")) {
        let tally = |s: &str| if name == "all" { pooled_shape(all, s) } else { per(name, s) };
        let fmt = |v: Option<[f64; 4]>| v.map_or("–".into(), |b| b.map(|x| format!("{x:.0}")).join(" / "));
        let mut row: Vec<String> = SHAPE_SYSTEMS.iter().map(|s| fmt(tally(s).decay_error())).collect();
        row.push(fmt(tally(MELWAVE).decay_truth()));
        let _ = writeln!(md, "| {name} | {} |", row.join(" | "));
    }
}

fn pooled(items: &[&ItemResult], system: &str) -> NoteTally {
    let mut t = NoteTally::default();
    for i in items {
        t.add(&i.systems[system].notes);
    }
    t
}

/// Each group's mean |error| / mean error (count), or – where it holds no note.
fn tally_cells(groups: &[(usize, f64, f64)]) -> Vec<String> {
    groups.iter().map(|&(n, abs, signed)| if n == 0 { "–".into() } else { format!("{:.1} / {:+.1} ({n})", abs / n as f64, signed / n as f64) }).collect()
}

/// A table of one loudness grouping: a column per group, a row per system.
fn loudness_table(md: &mut String, heading: &str, groups: &[&str], tallies: &[(&str, NoteTally)], pick: impl Fn(&NoteTally) -> &[(usize, f64, f64)]) {
    let _ = writeln!(md, "\n## {heading}\n\n| system | {} |\n|---|{}", groups.join(" | "), "---|".repeat(groups.len()));
    for (sys, t) in tallies {
        let _ = writeln!(md, "| {sys} | {} |", tally_cells(pick(t)).join(" | "));
    }
}

/// Pooled pitch accuracy in percent with a 95 % (normal approximation) interval.
fn accuracy(t: &NoteTally) -> String {
    match t.pitch_accuracy() {
        Some(p) => format!("{:.1} ± {:.1} % ({} notes)", 100.0 * p, 196.0 * (p * (1.0 - p) / t.notes as f64).sqrt(), t.notes),
        None => "–".into(),
    }
}

fn values(items: &[&ItemResult], system: &str, f: impl Fn(&Scores) -> f64) -> Vec<f64> {
    items.iter().map(|i| f(&i.systems[system])).collect()
}

/// Harmonicity (share of note energy on partials) of the items that have notes.
fn harmonicity(items: &[&ItemResult], system: &str) -> Vec<f64> {
    harmonicity_field(items, system, |h| h.on_partials)
}

fn harmonicity_field(items: &[&ItemResult], system: &str, f: impl Fn(&Harmonicity) -> f64) -> Vec<f64> {
    items.iter().filter_map(|i| i.systems[system].harmonicity.as_ref().map(&f)).collect()
}

fn summary_table(items: &[&ItemResult]) -> String {
    let mut s = String::from("| system | RMSE-CQT (dB) ↓ | log-mel L1 ↓ | log-mel r ↑ | pitch accuracy ↑ | loudness error (dB) ↓ | harmonicity (truth's is the target) |\n|---|---|---|---|---|---|---|\n");
    for sys in SYSTEMS {
        let t = pooled(items, sys);
        let _ = writeln!(
            s,
            "| {sys} | {} | {} | {} | {} | {} | {} |",
            ci(&values(items, sys, |x| x.rmse_cqt), 2),
            ci(&values(items, sys, |x| x.log_mel_l1), 3),
            ci(&values(items, sys, |x| x.log_mel_r), 3),
            accuracy(&t),
            t.loudness_error().map_or("–".into(), |e| format!("{e:.1}")),
            ci(&harmonicity(items, sys), 3),
        );
    }
    s
}

/// (markdown report, stdout summary).
pub fn markdown(r: &EvalResults, instruments: &[String]) -> (String, String) {
    let all: Vec<&ItemResult> = r.items.iter().collect();
    let mut md = String::new();
    let pieces = all.iter().filter(|i| i.material.starts_with("piece")).count();
    let seconds: f64 = all.iter().map(|i| i.seconds).sum();
    let _ = writeln!(
        md,
        "# Evaluation of `{}`\n\n{} items ({} held-out pieces from the {} split, the rest fixed probes) on {} instruments, {:.0} s of audio per system, at 24 kHz. Every system is scored against the FluidR3 render of the same events. Means over items with 95 % confidence intervals (1.96·s/√n); pitch accuracy is pooled over notes. Metric definitions: docs/evaluation.md. Took {:.0} s.\n",
        r.model,
        all.len(),
        pieces,
        r.split,
        instruments.len(),
        seconds,
        r.wall_seconds
    );
    let summary = summary_table(&all);
    let _ = writeln!(md, "## All material\n\n{summary}");
    let _ = writeln!(
        md,
        "Streamed vs whole (both through the engine's output stage): the largest sample difference between Melwave streamed through the engine and the same models run on the item at once is {:.2e} over each item's first note, re-rendered both ways from its frame to its first note-off, where the streaming contract allows rounding only; and {:.2e} anywhere over the whole items (full scale 1). The engine is idle until the first note and again in each pause once the tail has rung out, and starts the models' state and the noise afresh each time it leaves idle, so that every note after a silence sounds as from a fresh start; the whole run carries its state through the silence, so the whole items differ by design.\n",
        r.streamed_vs_whole_before_release, r.streamed_vs_whole_max_abs
    );

    let _ = writeln!(md, "## Per instrument\n");
    for (title, f, digits) in
        [("RMSE-CQT (dB)", (|x: &Scores| x.rmse_cqt) as fn(&Scores) -> f64, 2usize), ("log-mel L1", |x: &Scores| x.log_mel_l1, 3), ("log-mel r", |x: &Scores| x.log_mel_r, 3)]
    {
        let _ = writeln!(md, "### {title}\n\n| instrument | {} |\n|---|{}", SYSTEMS[1..].join(" | "), "---|".repeat(SYSTEMS.len() - 1));
        for name in instruments {
            let items: Vec<&ItemResult> = all.iter().copied().filter(|i| &i.instrument == name).collect();
            let row: Vec<String> = SYSTEMS[1..].iter().map(|s| ci(&values(&items, s, f), digits)).collect();
            let _ = writeln!(md, "| {name} | {} |", row.join(" | "));
        }
        md.push('\n');
    }
    let _ = writeln!(md, "### Pitch accuracy (%)\n\n| instrument | {} |\n|---|{}", SYSTEMS.join(" | "), "---|".repeat(SYSTEMS.len()));
    for name in instruments {
        let items: Vec<&ItemResult> = all.iter().copied().filter(|i| &i.instrument == name).collect();
        let row: Vec<String> = SYSTEMS.iter().map(|s| pooled(&items, s).pitch_accuracy().map_or("–".into(), |p| format!("{:.1}", 100.0 * p))).collect();
        let _ = writeln!(md, "| {name} | {} |", row.join(" | "));
    }

    let _ = writeln!(
        md,
        "\n### Harmonicity (share of the band's energy on the sounding notes' partials; white noise scores the chance level)\n\n| instrument | {} | chance |\n|---|{}---|",
        SYSTEMS.join(" | "),
        "---|".repeat(SYSTEMS.len())
    );
    for name in instruments {
        let items: Vec<&ItemResult> = all.iter().copied().filter(|i| &i.instrument == name).collect();
        let mut row: Vec<String> = SYSTEMS.iter().map(|s| ci(&harmonicity(&items, s), 3)).collect();
        let chance: Vec<f64> = items.iter().filter_map(|i| i.systems[SYSTEMS[0]].harmonicity.map(|h| h.chance)).collect();
        row.push(ci(&chance, 3));
        let _ = writeln!(md, "| {name} | {} |", row.join(" | "));
    }

    let _ = writeln!(
        md,
        "\n### Harmonicity's detune search (the same share with every partial at its key's nominal pitch, and the detune each system's partials were found at, cents)\n\n| instrument | ground truth nominal | {MELWAVE} nominal | ground truth detune | {MELWAVE} detune |\n|---|---|---|---|---|"
    );
    for name in instruments {
        let items: Vec<&ItemResult> = all.iter().copied().filter(|i| &i.instrument == name).collect();
        let nominal = |sys: &str| ci(&harmonicity_field(&items, sys, |h| h.on_nominal_partials), 3);
        let detune = |sys: &str| ci(&harmonicity_field(&items, sys, |h| h.detune_cents), 1);
        let _ = writeln!(md, "| {name} | {} | {} | {} | {} |", nominal(SYSTEMS[0]), nominal(MELWAVE), detune(SYSTEMS[0]), detune(MELWAVE));
    }

    let _ = writeln!(md, "\n## {MELWAVE}, per kind of material\n\n| material | items | RMSE-CQT (dB) | log-mel L1 | log-mel r | pitch accuracy |\n|---|---|---|---|---|---|");
    let mut kinds: Vec<&str> = all.iter().map(|i| if i.material.starts_with("piece") { "held-out pieces" } else { i.material.as_str() }).collect();
    kinds.dedup();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        let items: Vec<&ItemResult> = all.iter().copied().filter(|i| i.material == kind || (kind == "held-out pieces" && i.material.starts_with("piece"))).collect();
        let _ = writeln!(
            md,
            "| {kind} | {} | {} | {} | {} | {} |",
            items.len(),
            ci(&values(&items, MELWAVE, |x| x.rmse_cqt), 2),
            ci(&values(&items, MELWAVE, |x| x.log_mel_l1), 3),
            ci(&values(&items, MELWAVE, |x| x.log_mel_r), 3),
            accuracy(&pooled(&items, MELWAVE))
        );
    }

    shape_tables(&mut md, &all, instruments);

    let tallies: Vec<(&str, NoteTally)> = SYSTEMS[1..].iter().map(|&sys| (sys, pooled(&all, sys))).collect();
    loudness_table(
        &mut md,
        &format!(
            "Loudness error per velocity (dB, estimate − truth over the 100 ms after each onset, levels below {floor} dBFS counted as {floor}: mean |error| / mean error)",
            floor = AUDIBLE_FLOOR_DB
        ),
        &VELOCITY_GROUPS.map(|g| g.0),
        &tallies,
        |t| &t.loudness,
    );
    loudness_table(
        &mut md,
        "Onset peak error per velocity (dB, estimate − truth of the loudest 10 ms within the 100 ms after each onset, floored as above: mean |error| / mean error)",
        &VELOCITY_GROUPS.map(|g| g.0),
        &tallies,
        |t| &t.peak,
    );
    loudness_table(&mut md, "Loudness error per register (dB, as above: mean |error| / mean error (notes))", &REGISTERS.map(|g| g.0), &tallies, |t| &t.register);

    let _ = writeln!(
        md,
        "\n## Velocity response (C4, the struck half second from a fresh start, RMS dBFS at velocity {})\n\n| instrument | truth | Melwave | range truth / Melwave (dB) | worst error (dB) |\n|---|---|---|---|---|",
        VELOCITIES.map(|v| v.to_string()).join(" / ")
    );
    let levels = |v: &[f64]| v.iter().map(|x| format!("{x:.1}")).collect::<Vec<_>>().join(" / ");
    for v in &r.velocity {
        let (truth, ours) = v.ranges();
        let _ = writeln!(md, "| {} | {} | {} | {truth:.1} / {ours:.1} | {:.1} |", v.instrument, levels(&v.truth_db), levels(&v.melwave_db), v.worst_error());
    }

    let _ = writeln!(
        md,
        "\n## Morphs (no ground truth)\n\nThe morph phrase rendered at 9 evenly spaced points on the straight line between two instruments' learned points; spectral centroid in Hz. The largest step's share of the path's total variation is 0.125 for a perfectly even path and 1 for a single jump.\n\n| from → to | centroid at 0 / ½ / 1 (Hz) | largest step share | midpoint between ends |\n|---|---|---|---|"
    );
    for m in &r.morphs {
        let c = &m.centroids;
        let _ =
            writeln!(md, "| {} → {} | {:.0} / {:.0} / {:.0} | {:.2} | {} |", m.from, m.to, c[0], c[4], c[8], m.largest_step_share, if m.midpoint_between { "yes" } else { "no" });
    }
    let shares: Vec<f64> = r.morphs.iter().map(|m| m.largest_step_share).collect();
    let _ = writeln!(md, "\nMean largest step share: {}.", ci(&shares, 2));
    let ranges: Vec<(f64, f64)> = r.velocity.iter().map(|v| v.ranges()).collect();
    let mean = |f: fn(&(f64, f64)) -> f64| ranges.iter().map(f).sum::<f64>() / ranges.len().max(1) as f64;
    let velocity =
        format!("velocity {} → {}: level rises {:.1} dB in the truth, {:.1} dB in Melwave (mean over instruments)", VELOCITIES[0], VELOCITIES[3], mean(|r| r.0), mean(|r| r.1));
    (md, format!("{}\n{summary}\n{velocity}", r.model))
}
