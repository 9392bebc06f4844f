//! Pictures of training: loss curves and spectrogram comparisons (PNG, plotters).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::checkpoint::LossPoint;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // plotters draws text only with a registered font; bundling one keeps plots
        // readable on machines without system fonts.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Train and validation loss against steps, log scale.
pub fn loss_curves(history: &[LossPoint], path: &Path, title: &str) -> Result<()> {
    if history.is_empty() {
        return Ok(());
    }
    register_font();
    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let max_step = history.last().map_or(1, |p| p.step).max(1);
    let values: Vec<f64> = history.iter().flat_map(|p| [Some(p.train), p.validation]).flatten().filter(|v| v.is_finite() && *v > 0.0).collect();
    let lo = values.iter().cloned().fold(f64::INFINITY, f64::min).max(1e-6);
    let hi = values.iter().cloned().fold(0.0, f64::max).max(lo * 1.01);
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{title} loss"), ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0u64..max_step, (lo * 0.9..hi * 1.1).log_scale())
        .map_err(|e| anyhow!("{e}"))?;
    chart.configure_mesh().x_desc("step").y_desc("loss").draw().map_err(|e| anyhow!("{e}"))?;
    chart
        .draw_series(LineSeries::new(history.iter().map(|p| (p.step, p.train)), &BLUE))
        .map_err(|e| anyhow!("{e}"))?
        .label("train")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(history.iter().filter_map(|p| p.validation.map(|v| (p.step, v))), &RED))
        .map_err(|e| anyhow!("{e}"))?
        .label("validation")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

/// Log-mel spectrograms (`frames × bands`, row-major) stacked top to bottom, one per
/// panel, on a shared colour scale.
pub fn spectrograms(panels: &[(&str, &[f32])], bands: usize, path: &Path) -> Result<()> {
    register_font();
    let frames = panels.iter().map(|p| p.1.len() / bands).max().unwrap_or(0).max(1);
    let height = 40 + panels.len() as u32 * 200;
    let root = BitMapBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let areas = root.split_evenly((panels.len(), 1));
    let (lo, hi) = (-11.5f32, panels.iter().flat_map(|p| p.1.iter().cloned()).fold(-11.5, f32::max));
    for (area, (title, data)) in areas.iter().zip(panels) {
        let mut chart = ChartBuilder::on(area).caption(*title, ("sans-serif", 18)).margin(6).build_cartesian_2d(0..frames, 0..bands).map_err(|e| anyhow!("{e}"))?;
        let n = data.len() / bands;
        chart
            .draw_series((0..n).flat_map(|t| (0..bands).map(move |b| (t, b))).map(|(t, b)| {
                let v = ((data[t * bands + b] - lo) / (hi - lo).max(1e-3)).clamp(0.0, 1.0) as f64;
                Rectangle::new([(t, b), (t + 1, b + 1)], ViridisRGB::get_color(v).filled())
            }))
            .map_err(|e| anyhow!("{e}"))?;
    }
    root.present().map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}
