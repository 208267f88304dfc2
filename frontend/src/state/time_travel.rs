//! Playback and time travel in the reducer: play and pause, a step either way, the speed, the
//! scrub bar, the last echoed line, back to live. Going back in time is for reading: each move
//! but play and live pauses.

use super::*;

impl State {
    /// Applies an action that moves playback (routed here by [`State::apply`]).
    pub(super) fn move_playback(&mut self, action: Action) {
        match action {
            Action::TogglePause => self.playback = self.playback.toggle_pause(),
            Action::Step => {
                let mut p = self.with_playback(|p, track| p.step(track));
                p.paused = true; // stepping is for reading; keep the picture still
                self.playback = p;
            }
            Action::Live => self.playback = self.with_playback(Playback::go_live),
            Action::Faster => self.playback = self.with_playback(|p, t| p.change_speed(t, -1)),
            Action::Slower => self.playback = self.with_playback(|p, t| p.change_speed(t, 1)),
            Action::SetSpeed(i) => self.playback = self.with_playback(|p, t| p.set_speed(t, i)),
            // -- time travel ------------------------------------------------------------------
            // Going back in time is for reading: each of these pauses, like a step forward.
            Action::StepBack => {
                self.playback = Playback { paused: true, ..self.with_playback(Playback::step_back) }
            }
            Action::Seek(index) => {
                let p = self.with_playback(|p, track| p.seek(track, index));
                self.playback = Playback { paused: true, ..p };
            }
            Action::JumpToLastEcho => {
                // A traced program not recognised yet has no figure to find the line's story in.
                let start = self.selected.as_deref().zip(self.selected_store()).and_then(
                    |(model, store)| {
                        crate::playback::last_echo_start(
                            &store.steps().list,
                            self.family_of(model)?,
                        )
                    },
                );
                if let Some(index) = start {
                    let p = self.with_playback(|p, track| p.seek(track, index));
                    self.playback = Playback { paused: true, ..p };
                }
            }
            // Every other action is routed elsewhere by `apply`.
            _ => {}
        }
    }
}
