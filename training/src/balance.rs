//! Balanced crops for Mel2Mel: a share of each batch drawn key first, and a share
//! drawn velocity group first.
//!
//! Uniform crops see each key as often as the music plays it, and the keyboard's ends
//! are rare: keys above 96 are 7.9 % of `full-v4`'s training notes. Each key has its
//! own input columns, so those stay under-trained, and uniformly drawn crops leave a
//! held-out run up to key 104 tens of dB too soft on the struck instruments. A share of
//! each batch is therefore
//! drawn key first: a key uniformly among those the training data plays, then one of
//! its onsets, then a crop whose counted frames hold it.
//!
//! Velocities are as uneven: of `full-v4`'s training onsets 14.8 % are soft (the
//! evaluation's 1–47) and 28.1 % loud, and a model trained on uniform crops plays soft
//! notes further off in level than medium ones. The velocity-first draw picks a
//! group uniformly (the evaluation's groups,
//! [`crate::eval::metrics::VELOCITY_GROUPS`]), then a key uniformly among those the
//! group plays, so the soft notes of the rare keys are drawn most of all (what it
//! bought: docs/training.md §2).

use melwave::contract::HOP;
use melwave::features::Event;
use rand::rngs::Xoshiro256PlusPlus;
use rand::RngExt;

use crate::dataset::Item;
use crate::eval::metrics::{velocity_group, VELOCITY_GROUPS};
use crate::train::BURN_IN;

/// The share of crops drawn key first unless the run says otherwise: half, which paid
/// more than a quarter on the rare keys and cost the softest notes a little
/// (docs/training.md §2).
pub const KEY_BALANCE: f64 = 0.5;

/// The share of crops drawn velocity group first unless the run says otherwise: none,
/// so a run that does not ask for it draws crops as the key balance alone decides.
pub const VELOCITY_BALANCE: f64 = 0.0;

/// Onsets of one key: (item, frame).
type Onsets = Vec<(usize, usize)>;

/// Every onset of the training items, by key, and by velocity group then key.
pub struct BalancedOnsets {
    by_key: Vec<Onsets>,
    by_group: Vec<Vec<Onsets>>,
}

/// Keeps the keys that have onsets.
fn played(by_key: Vec<Onsets>) -> Vec<Onsets> {
    by_key.into_iter().filter(|onsets| !onsets.is_empty()).collect()
}

impl BalancedOnsets {
    /// The onsets of `items` that a crop of `frames` can hold.
    pub fn new(items: &[Item], frames: usize) -> Self {
        let mut by_key = vec![Vec::new(); 128];
        let mut by_group = vec![vec![Vec::new(); 128]; VELOCITY_GROUPS.len()];
        for (i, item) in items.iter().enumerate().filter(|(_, item)| item.frames() >= frames) {
            for e in &item.events {
                let frame = e.time as usize / HOP;
                if let Event::NoteOn { key, velocity } = e.event {
                    if frame < item.frames() {
                        by_key[key as usize].push((i, frame));
                        by_group[velocity_group(velocity)][key as usize].push((i, frame));
                    }
                }
            }
        }
        let by_group = by_group.into_iter().map(played).filter(|keys| !keys.is_empty()).collect();
        Self { by_key: played(by_key), by_group }
    }

    /// How many keys the crops are balanced over.
    pub fn keys(&self) -> usize {
        self.by_key.len()
    }

    /// A mid-item crop of `frames` (`(item, first frame, false)`, as
    /// [`crate::train::mel2mel_crops`] gives) holding an onset of a key drawn uniformly
    /// from `keys`, with the onset after the burn-in, unless it is so near the item's
    /// start that no crop can put it there.
    fn crop_from(keys: &[Onsets], rng: &mut Xoshiro256PlusPlus, items: &[Item], frames: usize) -> (usize, usize, bool) {
        let onsets = &keys[rng.random_range(0..keys.len())];
        let (i, frame) = onsets[rng.random_range(0..onsets.len())];
        let before = rng.random_range(BURN_IN.min(frames - 1)..frames);
        (i, frame.saturating_sub(before).min(items[i].frames() - frames), false)
    }

    /// A crop drawn key first.
    pub fn crop(&self, rng: &mut Xoshiro256PlusPlus, items: &[Item], frames: usize) -> (usize, usize, bool) {
        Self::crop_from(&self.by_key, rng, items, frames)
    }

    /// A crop drawn velocity group first, then key.
    pub fn velocity_crop(&self, rng: &mut Xoshiro256PlusPlus, items: &[Item], frames: usize) -> (usize, usize, bool) {
        let group = &self.by_group[rng.random_range(0..self.by_group.len())];
        Self::crop_from(group, rng, items, frames)
    }

    /// Replaces each of `crops` by a velocity-balanced one with probability `velocity`,
    /// else by a key-balanced one with probability `key`. At `velocity` 0 it draws
    /// exactly what it drew before the velocity draw existed, so older runs resume
    /// as they were trained.
    pub fn mix_into(&self, crops: &mut [(usize, usize, bool)], key: f64, velocity: f64, rng: &mut Xoshiro256PlusPlus, items: &[Item], frames: usize) {
        if self.by_key.is_empty() {
            return;
        }
        for c in crops {
            if velocity > 0.0 && rng.random_bool(velocity.min(1.0)) {
                *c = self.velocity_crop(rng, items, frames);
            } else if key > 0.0 && rng.random_bool(key.min(1.0)) {
                *c = self.crop(rng, items, frames);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use melwave::features::TimedEvent;
    use rand::SeedableRng;

    use super::*;

    fn item(frames: usize, onsets: &[(u8, usize)]) -> Item {
        item_at(frames, &onsets.iter().map(|&(key, f)| (key, 100, f)).collect::<Vec<_>>())
    }

    /// An item of (key, velocity, frame) onsets.
    fn item_at(frames: usize, onsets: &[(u8, u8, usize)]) -> Item {
        let events = onsets.iter().map(|&(key, velocity, f)| TimedEvent { time: (f * HOP) as u64, event: Event::NoteOn { key, velocity } }).collect();
        Item { piece: 0, instrument: 0, audio: vec![0.0; frames * HOP], mel: Vec::new(), events }
    }

    #[test]
    fn a_rare_key_is_drawn_as_often_as_a_common_one_and_its_onset_is_counted() {
        // Key 60 is struck 200 times, key 100 once, late in a long item.
        let common: Vec<(u8, usize)> = (0..200).map(|n| (60, 10 + n * 4)).collect();
        let items = [item(1000, &common), item(2000, &[(100, 1500)])];
        let frames = 384;
        let k = BalancedOnsets::new(&items, frames);
        assert_eq!(k.keys(), 2);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let crops: Vec<_> = (0..4000).map(|_| k.crop(&mut rng, &items, frames)).collect();
        let rare = crops.iter().filter(|c| c.0 == 1).count() as f64 / crops.len() as f64;
        assert!((0.45..0.55).contains(&rare), "share of crops on the rare key: {rare}");
        for &(i, s, fresh) in &crops {
            assert!(!fresh && s + frames <= items[i].frames());
            if i == 1 {
                assert!((s + BURN_IN..s + frames).contains(&1500), "crop at {s} misses the onset or leaves it in the burn-in");
            }
        }
    }

    #[test]
    fn mixing_replaces_about_the_share_asked_for_and_none_at_zero() {
        let items = [item(1000, &[(60, 100)]), item(1000, &[(100, 500)])];
        let k = BalancedOnsets::new(&items, 384);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let uniform = vec![(0, 1, true); 2000];
        let mut crops = uniform.clone();
        k.mix_into(&mut crops, 0.0, 0.0, &mut rng, &items, 384);
        assert_eq!(crops, uniform);
        k.mix_into(&mut crops, 0.25, 0.0, &mut rng, &items, 384);
        let replaced = crops.iter().filter(|c| **c != (0, 1, true)).count() as f64 / 2000.0;
        assert!((0.2..0.3).contains(&replaced), "replaced {replaced}");
    }

    #[test]
    fn a_rare_soft_note_is_drawn_as_often_as_its_group_and_the_draw_is_off_at_zero() {
        // 300 loud and 100 medium onsets on two keys, one soft onset late in an item.
        let loud: Vec<(u8, u8, usize)> = (0..300).map(|n| (60 + (n % 2) as u8, 110, 10 + n * 3)).collect();
        let medium: Vec<(u8, u8, usize)> = (0..100).map(|n| (62, 70, 10 + n * 9)).collect();
        let items = [item_at(1000, &loud), item_at(1000, &medium), item_at(2000, &[(40, 20, 1500)])];
        let frames = 384;
        let k = BalancedOnsets::new(&items, frames);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let crops: Vec<_> = (0..6000).map(|_| k.velocity_crop(&mut rng, &items, frames)).collect();
        let share = |i: usize| crops.iter().filter(|c| c.0 == i).count() as f64 / crops.len() as f64;
        for i in 0..3 {
            assert!((0.30..0.37).contains(&share(i)), "item {i}'s group drawn {:.3} of the time, not a third", share(i));
        }
        for &(_, s, _) in crops.iter().filter(|c| c.0 == 2) {
            assert!((s + BURN_IN..s + frames).contains(&1500), "crop at {s} misses the soft onset");
        }
        // Key-balanced, the soft key is one of four keys; uniform, one onset in 401.
        let key: Vec<_> = (0..6000).map(|_| k.crop(&mut rng, &items, frames)).collect();
        let soft = key.iter().filter(|c| c.0 == 2).count() as f64 / key.len() as f64;
        assert!((0.22..0.28).contains(&soft), "key-balanced share of the soft key {soft}");
        // At a velocity share of 0 the stream is the key balance's alone.
        let uniform = vec![(0, 1, true); 500];
        let (mut a, mut b) = (uniform.clone(), uniform.clone());
        let (mut ra, mut rb) = (Xoshiro256PlusPlus::seed_from_u64(5), Xoshiro256PlusPlus::seed_from_u64(5));
        k.mix_into(&mut a, 0.5, 0.0, &mut ra, &items, frames);
        for c in b.iter_mut() {
            if rb.random_bool(0.5) {
                *c = k.crop(&mut rb, &items, frames);
            }
        }
        assert_eq!(a, b);
        let mut v = uniform.clone();
        k.mix_into(&mut v, 0.0, 1.0, &mut ra, &items, frames);
        let soft = v.iter().filter(|c| c.0 == 2).count() as f64 / v.len() as f64;
        assert!((0.27..0.40).contains(&soft), "velocity share 1: soft group drawn {soft}");
    }
}
