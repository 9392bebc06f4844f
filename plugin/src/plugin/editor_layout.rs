//! The editor's geometry, apart from egui so it can be tested: where the pad's
//! instrument labels go so that none overlaps another, the on-screen keyboard's keys,
//! and the computer keyboard's piano rows.

/// A rectangle: left, top, width, height, in points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Area {
    pub fn overlaps(&self, o: &Area) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }

    fn inside(&self, bounds: &Area) -> bool {
        self.x >= bounds.x && self.y >= bounds.y && self.x + self.w <= bounds.x + bounds.w && self.y + self.h <= bounds.y + bounds.h
    }

    pub fn contains(&self, px: f32, py: f32) -> bool {
        px >= self.x && px < self.x + self.w && py >= self.y && py < self.y + self.h
    }
}

/// Places each label (its `size`, beside its `point`) in `bounds` so that no two
/// overlap and none covers another's point: above the point, below, right, left, then
/// farther out in the same four directions, in that order; a label with no free place
/// (a crowded pad far smaller than the editor allows) is left out (`None`).
pub fn place_labels(points: &[(f32, f32)], sizes: &[(f32, f32)], bounds: Area) -> Vec<Option<Area>> {
    const GAP: f32 = 7.0;
    const DOT: f32 = 5.0;
    let dots: Vec<Area> = points.iter().map(|&(x, y)| Area { x: x - DOT, y: y - DOT, w: 2.0 * DOT, h: 2.0 * DOT }).collect();
    let mut placed: Vec<Area> = Vec::with_capacity(points.len());
    let mut out = Vec::with_capacity(points.len());
    for (i, (&(px, py), &(w, h))) in points.iter().zip(sizes).enumerate() {
        let mut chosen = None;
        'rings: for ring in 0..4 {
            let far = ring as f32 * (h + 2.0);
            let candidates = [
                Area { x: px - w / 2.0, y: py - GAP - h - far, w, h },
                Area { x: px - w / 2.0, y: py + GAP + far, w, h },
                Area { x: px + GAP + far, y: py - h / 2.0, w, h },
                Area { x: px - GAP - w - far, y: py - h / 2.0, w, h },
            ];
            for c in candidates {
                let clear = c.inside(&bounds) && !placed.iter().any(|p| p.overlaps(&c)) && !dots.iter().enumerate().any(|(j, d)| j != i && d.overlaps(&c));
                if clear {
                    chosen = Some(c);
                    break 'rings;
                }
            }
        }
        if let Some(c) = chosen {
            placed.push(c);
        }
        out.push(chosen);
    }
    out
}

/// Whether a key is a black key.
pub fn is_black(key: u8) -> bool {
    matches!(key % 12, 1 | 3 | 6 | 8 | 10)
}

/// The on-screen keyboard's keys from `low` to `high` (whole octaves from C) in
/// `bounds`: white keys side by side, black keys narrower and shorter over their
/// gaps. Black keys come last, so a hit test that takes the last key containing a
/// point finds the black key over the white one.
pub fn keyboard(low: u8, high: u8, bounds: Area) -> Vec<(u8, Area)> {
    let whites: Vec<u8> = (low..=high).filter(|k| !is_black(*k)).collect();
    let w = bounds.w / whites.len().max(1) as f32;
    let mut keys: Vec<(u8, Area)> = whites.iter().enumerate().map(|(i, &k)| (k, Area { x: bounds.x + i as f32 * w, y: bounds.y, w, h: bounds.h })).collect();
    for k in (low..=high).filter(|k| is_black(*k)) {
        let left = whites.iter().position(|&wk| wk == k - 1).expect("a black key follows a white one");
        keys.push((k, Area { x: bounds.x + (left as f32 + 1.0) * w - 0.3 * w, y: bounds.y, w: 0.6 * w, h: 0.6 * bounds.h }));
    }
    keys
}

/// The computer keyboard as a piano, by the key's name: the middle letter row the
/// white keys from C (A S D F G H J K L ;), the row above the black keys (W E, T Y U,
/// O P). Returns semitones above the octave's C.
pub fn computer_key(name: &str) -> Option<u8> {
    let row = ["A", "W", "S", "E", "D", "F", "T", "G", "Y", "H", "U", "J", "K", "O", "L", "P", "Semicolon"];
    row.iter().position(|k| k.eq_ignore_ascii_case(name)).map(|i| i as u8)
}

/// The lowest and highest octave the computer keyboard can shift to (C1 and C7).
pub const OCTAVES: std::ops::RangeInclusive<i32> = 1..=7;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::ModelBytes;
    use crate::plugin::status::instrument_marks;

    /// The shipped model's labels on the pad at the editor's smallest, default and
    /// largest pad sizes: all placed, none overlapping, none over a point, all on the
    /// pad. The label size is estimated from its characters at the 12-point font.
    #[test]
    fn the_shipped_instruments_labels_never_overlap_at_any_editor_size() {
        let marks = instrument_marks(&ModelBytes::embedded().unwrap());
        for side in [super::super::editor::MIN_PAD, 380.0, super::super::editor::MAX_PAD] {
            let bounds = Area { x: 0.0, y: 0.0, w: side, h: side };
            let points: Vec<(f32, f32)> = marks.iter().map(|m| (m.pad.0 * side, (1.0 - m.pad.1) * side)).collect();
            let sizes: Vec<(f32, f32)> = marks.iter().map(|m| (m.name.chars().count() as f32 * 6.6, 14.0)).collect();
            let placed = place_labels(&points, &sizes, bounds);
            for (i, a) in placed.iter().enumerate() {
                let a = a.unwrap_or_else(|| panic!("{side} pt: no place for {}", marks[i].name));
                assert!(a.inside(&bounds), "{side} pt: {} off the pad", marks[i].name);
                for (j, b) in placed.iter().enumerate().skip(i + 1) {
                    assert!(!a.overlaps(&b.unwrap()), "{side} pt: {} overlaps {}", marks[i].name, marks[j].name);
                }
                for (j, &(x, y)) in points.iter().enumerate().filter(|(j, _)| *j != i) {
                    assert!(!a.contains(x, y), "{side} pt: {}'s label covers {}'s point", marks[i].name, marks[j].name);
                }
            }
        }
    }

    #[test]
    fn the_keyboard_has_every_key_once_and_black_keys_hit_first() {
        let keys = keyboard(48, 83, Area { x: 0.0, y: 0.0, w: 630.0, h: 60.0 });
        let mut numbers: Vec<u8> = keys.iter().map(|k| k.0).collect();
        numbers.sort();
        assert_eq!(numbers, (48..=83).collect::<Vec<_>>());
        let hit = |x: f32, y: f32| keys.iter().rev().find(|(_, a)| a.contains(x, y)).map(|k| k.0);
        // 21 white keys, 30 pt each: C#3 sits over the C3/D3 boundary at 30.
        assert_eq!(hit(30.0, 10.0), Some(49));
        assert_eq!(hit(30.0, 50.0), Some(50), "below the black key, the white one");
        assert_eq!(hit(5.0, 50.0), Some(48));
    }

    #[test]
    fn the_computer_keyboard_is_a_piano_octave_and_a_half() {
        assert_eq!(computer_key("A"), Some(0));
        assert_eq!(computer_key("W"), Some(1));
        assert_eq!(computer_key("K"), Some(12));
        assert_eq!(computer_key("Semicolon"), Some(16));
        assert_eq!(computer_key("Q"), None);
        let whites: Vec<u8> = ["A", "S", "D", "F", "G", "H", "J", "K"].iter().map(|k| computer_key(k).unwrap()).collect();
        assert!(whites.iter().all(|&s| !is_black(60 + s)), "the middle row is white keys: {whites:?}");
        assert!(["W", "E", "T", "Y", "U"].iter().all(|k| is_black(60 + computer_key(k).unwrap())));
    }
}
