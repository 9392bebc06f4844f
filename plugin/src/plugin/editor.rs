//! The editor: the XY pad over the learned timbre plane, the instrument list, model
//! and provider selection, and a status line.

use std::sync::Arc;
use std::time::Instant;

use egui::{Align2, Color32, CornerRadius, FontId, Pos2, Sense, Stroke, Vec2};
use nice_plug::context::gui::GuiContext;
use nice_plug_egui::{create_egui_editor, widgets, EguiEditor, EguiNiceSettings, NiceEguiApp, RepaintNotifier};

use super::params::MelwaveParams;
use super::status::{self, InstrumentMark, Status};
use crate::contract::ModelBytes;
use crate::engine::LatencyMode;
use crate::runtime::Provider;

pub fn create(params: Arc<MelwaveParams>, status: Arc<Status>) -> Option<EguiEditor<MelwaveEditor>> {
    let settings = EguiNiceSettings::new().with_tile("Melwave");
    let app = MelwaveEditor { params: params.clone(), status, gui: None, folder: String::new(), note: None, load: (Instant::now(), 0.0, 0.0), loading: None };
    create_egui_editor(params.editor_state.clone(), RepaintNotifier::new(), settings, app)
}

pub struct MelwaveEditor {
    params: Arc<MelwaveParams>,
    status: Arc<Status>,
    gui: Option<GuiContext>,
    /// The folder typed into the model field.
    folder: String,
    /// The answer to the last model or provider change.
    note: Option<String>,
    /// (when, busy seconds then, load) for the inference-load readout.
    load: (Instant, f64, f64),
    /// A model folder being read, validated and loaded in the background while the
    /// current model keeps playing: (folder, its origin and instrument marks, or why not).
    loading: Option<(String, std::thread::JoinHandle<LoadResult>)>,
}

/// The model's origin and instruments, and whether the running engine swapped it in
/// (false: no engine, or it stopped first; the next engine starts with it).
type LoadResult = Result<(String, Vec<InstrumentMark>, bool), String>;

const PAD_BG: Color32 = Color32::from_rgb(24, 28, 38);
const ACCENT: Color32 = Color32::from_rgb(255, 176, 64);
/// Marks of instruments added to the trained model.
const ADDED: Color32 = Color32::from_rgb(120, 230, 160);
/// How close (in pad units) the handle must be to an instrument for the preset menu to
/// name it.
const SNAP: f32 = 0.02;

impl MelwaveEditor {
    /// Reads and validates the folder, and creates its ONNX Runtime sessions, on a
    /// background thread: a big or slow model never blocks the GUI or the host, and
    /// the current model plays until the engine swaps the new one in.
    fn start_loading(&mut self, folder: String) {
        let monitor = self.status.snapshot(|s| s.monitor.clone());
        let provider = *self.params.provider.lock().unwrap_or_else(|p| p.into_inner());
        let dir = folder.clone();
        self.note = Some(format!("loading {folder}…"));
        self.loading = Some((
            folder,
            std::thread::spawn(move || {
                let model = ModelBytes::from_dir(std::path::Path::new(&dir)).map_err(|e| e.to_string())?;
                let marks = status::instrument_marks(&model);
                let origin = model.origin.clone();
                let swapped = match monitor {
                    Some(m) => match m.load_model(model, provider).join().map_err(|_| "the model loader crashed".to_string())? {
                        Ok(_) => true,
                        Err(crate::engine::LoadError::EngineStopped) => false,
                        Err(e) => return Err(e.to_string()),
                    },
                    None => false,
                };
                Ok((origin, marks, swapped))
            }),
        ));
    }

    fn poll_loading(&mut self, gui: &GuiContext) {
        if !self.loading.as_ref().is_some_and(|(_, h)| h.is_finished()) {
            return;
        }
        let (folder, handle) = self.loading.take().expect("checked above");
        match handle.join().unwrap_or_else(|_| Err("the model loader crashed".into())) {
            Ok((origin, marks, swapped)) => {
                *self.params.model_dir.lock().unwrap_or_else(|p| p.into_inner()) = Some(folder);
                self.note = Some(format!("playing {origin} ({} instruments)", marks.len()));
                self.status.update(|s| {
                    s.model = origin;
                    s.instruments = marks;
                    s.problem = None;
                });
                if !swapped {
                    // No engine took it (none was running, or the host restarted the
                    // plugin while it loaded): the next start reads the saved folder.
                    gui.request_restart();
                }
            }
            Err(e) => {
                nice_plug::nice_log!("Melwave: model {folder} not loaded: {e}");
                self.note = Some(format!("not loaded: {e}; the current model goes on playing"));
            }
        }
    }

    fn set_timbre(&self, x: f32, y: f32) {
        let Some(gui) = &self.gui else { return };
        let setter = gui.param_setter();
        setter.begin_set_parameter(&self.params.timbre_x);
        setter.begin_set_parameter(&self.params.timbre_y);
        setter.set_parameter(&self.params.timbre_x, x.clamp(0.0, 1.0));
        setter.set_parameter(&self.params.timbre_y, y.clamp(0.0, 1.0));
        setter.end_set_parameter(&self.params.timbre_x);
        setter.end_set_parameter(&self.params.timbre_y);
    }

    fn pad(&mut self, ui: &mut egui::Ui, side: f32) {
        let (rect, response) = ui.allocate_exact_size(Vec2::splat(side), Sense::click_and_drag());
        let to_screen = |x: f32, y: f32| Pos2::new(rect.left() + x * rect.width(), rect.bottom() - y * rect.height());
        let from_screen = |p: Pos2| ((p.x - rect.left()) / rect.width(), (rect.bottom() - p.y) / rect.height());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, CornerRadius::same(6), PAD_BG);
        for i in 1..4 {
            let t = i as f32 / 4.0;
            let faint = Stroke::new(1.0, Color32::from_gray(50));
            painter.line_segment([to_screen(t, 0.0), to_screen(t, 1.0)], faint);
            painter.line_segment([to_screen(0.0, t), to_screen(1.0, t)], faint);
        }
        let marks = self.status.snapshot(|s| s.instruments.clone());
        for m in &marks {
            let p = to_screen(m.pad.0, m.pad.1);
            if m.added {
                // Added instruments: a ring, so the trained ones stay recognisable.
                painter.circle_stroke(p, 5.0, Stroke::new(2.0, ADDED));
            } else {
                painter.circle_filled(p, 4.0, Color32::from_rgb(120, 170, 255));
            }
            painter.text(p + Vec2::new(0.0, -8.0), Align2::CENTER_BOTTOM, &m.name, FontId::proportional(12.0), Color32::from_gray(220));
        }
        let gui = self.gui.clone();
        if let (Some(gui), Some(pos)) = (gui, response.interact_pointer_pos()) {
            let (x, y) = from_screen(pos);
            let setter = gui.param_setter();
            // Begin/set/end gestures, so that hosts record the drag as automation.
            if response.drag_started() {
                setter.begin_set_parameter(&self.params.timbre_x);
                setter.begin_set_parameter(&self.params.timbre_y);
            }
            if response.dragged() {
                setter.set_parameter(&self.params.timbre_x, x.clamp(0.0, 1.0));
                setter.set_parameter(&self.params.timbre_y, y.clamp(0.0, 1.0));
            }
            if response.drag_stopped() {
                setter.end_set_parameter(&self.params.timbre_x);
                setter.end_set_parameter(&self.params.timbre_y);
                nice_plug::nice_log!("timbre moved to x={:.3} y={:.3}", self.params.timbre_x.value(), self.params.timbre_y.value());
            }
            if response.double_clicked() {
                // Snap to the nearest instrument.
                if let Some((m, _)) = super::status::nearest(&marks, x, y) {
                    self.set_timbre(m.pad.0, m.pad.1);
                }
            } else if response.clicked() {
                self.set_timbre(x, y);
            }
        }
        // Where the controllers have put the pad, on the axes they have moved.
        let driven = |axis: usize, param: f32| {
            let v = self.params.controller_pad[axis].load(std::sync::atomic::Ordering::Relaxed);
            if v.is_finite() {
                v
            } else {
                param
            }
        };
        let handle = to_screen(driven(0, self.params.timbre_x.value()), driven(1, self.params.timbre_y.value()));
        painter.circle_stroke(handle, 9.0, Stroke::new(2.5, ACCENT));
        painter.circle_filled(handle, 3.0, ACCENT);
    }

    fn side_panel(&mut self, ui: &mut egui::Ui) {
        let Some(gui) = self.gui.clone() else { return };
        ui.label(egui::RichText::new("Instruments").strong());
        let marks = self.status.snapshot(|s| s.instruments.clone());
        // The preset menu: every instrument of the model, the one under the handle shown.
        let (x, y) = (self.params.timbre_x.value(), self.params.timbre_y.value());
        let here = super::status::nearest(&marks, x, y).filter(|(_, d)| *d < SNAP).map_or("(between instruments)".to_string(), |(m, _)| m.name.clone());
        let mut chosen = None;
        egui::ComboBox::from_id_salt("preset").selected_text(here).width(180.0).show_ui(ui, |ui| {
            for m in &marks {
                let label = if m.added { format!("{} (added)", m.name) } else { m.name.clone() };
                if ui.selectable_label(false, label).clicked() {
                    chosen = Some(m.pad);
                }
            }
        });
        if let Some(pad) = chosen {
            self.set_timbre(pad.0, pad.1);
        }
        egui::Grid::new("instruments").num_columns(2).spacing([6.0, 4.0]).show(ui, |ui| {
            for (i, m) in marks.iter().enumerate() {
                if ui.button(&m.name).clicked() {
                    self.set_timbre(m.pad.0, m.pad.1);
                }
                if i % 2 == 1 {
                    ui.end_row();
                }
            }
        });
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Gain");
            ui.add(widgets::ParamSlider::for_param(&self.params.gain, &gui.param_setter()));
        });
        self.controllers(ui, &gui);
        ui.separator();
        ui.label(egui::RichText::new("Model").strong());
        let current = self.params.model_dir.lock().unwrap_or_else(|p| p.into_inner()).clone();
        ui.label(current.as_deref().unwrap_or("default (embedded)"));
        ui.horizontal(|ui| {
            ui.add(egui::TextEdit::singleline(&mut self.folder).hint_text("model folder").desired_width(170.0));
            if ui.add_enabled(self.loading.is_none(), egui::Button::new("Load")).clicked() {
                self.start_loading(self.folder.trim().to_string());
            }
            if ui.button("Default").clicked() {
                *self.params.model_dir.lock().unwrap_or_else(|p| p.into_inner()) = None;
                self.note = None;
                gui.request_restart();
            }
        });
        let mut provider = *self.params.provider.lock().unwrap_or_else(|p| p.into_inner());
        let before = provider;
        egui::ComboBox::from_label("Execution provider").selected_text(provider.to_string()).show_ui(ui, |ui| {
            for p in [Provider::Cpu, Provider::Cuda, Provider::TensorRt] {
                ui.selectable_value(&mut provider, p, p.to_string());
            }
        });
        if provider != before {
            *self.params.provider.lock().unwrap_or_else(|p| p.into_inner()) = provider;
            gui.request_restart();
        }
        let mut mode = *self.params.latency_mode.lock().unwrap_or_else(|p| p.into_inner());
        let before = mode;
        egui::ComboBox::from_label("Latency").selected_text(mode.to_string()).show_ui(ui, |ui| {
            ui.selectable_value(&mut mode, LatencyMode::Safe, "safe: any host");
            ui.selectable_value(&mut mode, LatencyMode::Low, "low: a host with steady blocks");
        });
        if mode != before {
            *self.params.latency_mode.lock().unwrap_or_else(|p| p.into_inner()) = mode;
            gui.request_restart();
        }
        self.poll_loading(&gui);
        if let Some(note) = &self.note {
            ui.colored_label(Color32::from_rgb(255, 200, 120), note);
        }
    }

    /// The choice of controllers moving the pad: the mod wheel for X and a CC of the
    /// player's choosing for Y.
    fn controllers(&mut self, ui: &mut egui::Ui, gui: &GuiContext) {
        let setter = gui.param_setter();
        ui.horizontal(|ui| {
            let mut on = self.params.pad_from_controllers.value();
            if ui.checkbox(&mut on, "Pad from CC1 (X) and CC").changed() {
                setter.begin_set_parameter(&self.params.pad_from_controllers);
                setter.set_parameter(&self.params.pad_from_controllers, on);
                setter.end_set_parameter(&self.params.pad_from_controllers);
            }
            let mut cc = self.params.pad_cc_y.value();
            if ui.add(egui::DragValue::new(&mut cc).range(0..=127)).changed() {
                setter.begin_set_parameter(&self.params.pad_cc_y);
                setter.set_parameter(&self.params.pad_cc_y, cc);
                setter.end_set_parameter(&self.params.pad_cc_y);
            }
            ui.label("(Y)");
        });
    }

    fn status_line(&mut self, ui: &mut egui::Ui) {
        let (model, provider, latency, rate, timing, problem, monitor) =
            self.status.snapshot(|s| (s.model.clone(), s.provider.clone(), s.latency_ms, s.sample_rate, s.timing.clone(), s.problem.clone(), s.monitor.clone()));
        let (underruns, grown, failed, error, notice) = match &monitor {
            Some(m) => {
                let stats = m.stats();
                let (then, busy, load) = self.load;
                let dt = then.elapsed().as_secs_f64();
                if dt > 0.5 {
                    self.load = (Instant::now(), stats.busy_seconds, ((stats.busy_seconds - busy) / dt).clamp(0.0, 9.99));
                } else {
                    self.load.2 = load;
                }
                (stats.underruns, stats.latency_grown, stats.failed, m.last_error(), m.last_notice())
            }
            None => (0, 0, false, None, None),
        };
        let latency = if grown > 0 && rate > 0.0 {
            format!("latency {:.1} ms (grown {:.1} ms after underruns)", latency + grown as f32 * 1000.0 / rate, grown as f32 * 1000.0 / rate)
        } else {
            format!("latency {latency:.1} ms")
        };
        ui.label(format!("{model} · {provider} · {latency} · inference load {:.0} % · underruns {underruns}", self.load.2 * 100.0));
        ui.label(egui::RichText::new(&timing).color(Color32::from_gray(170)).small());
        if let Some(n) = notice {
            ui.label(egui::RichText::new(n).color(Color32::from_gray(170)));
        }
        if let Some(p) = problem.or(error) {
            ui.horizontal(|ui| {
                ui.colored_label(Color32::from_rgb(255, 120, 100), p);
                // A failed inference thread plays silence until restarted: here, or
                // by the host's reset.
                if let (true, Some(m)) = (failed, &monitor) {
                    if ui.button("Restart").clicked() {
                        m.request_restart();
                    }
                }
            });
        }
    }
}

impl NiceEguiApp for MelwaveEditor {
    fn build(&mut self, _egui_ctx: egui::Context, gui: GuiContext, _frame: &mut nice_plug_egui::Frame) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        egui::Frame::new().inner_margin(egui::Margin::same(10)).show(ui, |ui| {
            ui.heading("Melwave");
            let avail = ui.available_size();
            let side = (avail.y - 50.0).min(avail.x * 0.55).max(160.0);
            ui.horizontal_top(|ui| {
                self.pad(ui, side);
                ui.vertical(|ui| self.side_panel(ui));
            });
            ui.separator();
            self.status_line(ui);
        });
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}
