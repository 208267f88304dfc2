//! Classroom mode in the reducer: a leading teacher's page sends its view; a following
//! student's page shows the teacher's until the student looks elsewhere.

use super::*;

impl State {
    /// What this page shows, as "follow me" sends it.
    pub fn teacher_view(&self) -> kettle_shared::TeacherView {
        crate::classroom::view_of(self.selected.as_deref(), self.view, &self.playback)
    }

    /// A following student's page shows what the teacher's shows.
    pub(super) fn follow_teacher(&mut self) {
        if !self.classroom.follows_now() {
            return;
        }
        let Some(view) = self.classroom.leading.clone() else { return };
        if let Some(model) = view.model {
            if self.models.is_empty() || self.models.iter().any(|m| m.id == model) {
                self.selected = Some(model);
            }
        }
        self.view = view.panel;
        // The tour would move the page on its own.
        self.tour = None;
        self.playback = crate::classroom::playback_of(&view.playback);
    }

    /// A leading teacher's page sends its view when it changed (after every action but the
    /// playback clock's ticks).
    pub(super) fn lead_class(&mut self) {
        if !self.classroom.leads() {
            return;
        }
        let now = self.teacher_view();
        if crate::classroom::needs_sending(&now, self.classroom.sent.as_ref()) {
            self.classroom.sent = Some(now.clone());
            self.send_later(vec![Command::FollowMe { view: Some(now) }]);
        }
    }

    /// A student's own choice of what to look at ends following until they ask again (a
    /// click on the model already shown is no such choice).
    pub(super) fn looks_elsewhere(&self, action: &Action) -> bool {
        match action {
            Action::Select(id) => self.selected.as_ref() != Some(id),
            Action::SetView(view) => self.view != *view,
            other => State::moves_playback(other),
        }
    }

    /// The actions that move playback or start the tour.
    pub(super) fn moves_playback(action: &Action) -> bool {
        matches!(
            action,
            Action::TogglePause
                | Action::Step
                | Action::StepBack
                | Action::Seek(_)
                | Action::JumpToLastEcho
                | Action::Live
                | Action::Faster
                | Action::Slower
                | Action::SetSpeed(_)
                | Action::TourGo(_)
                | Action::TourNext
        )
    }
}

impl State {
    /// Applies the teacher's "follow me" or a student's choice to follow (routed here by
    /// [`State::apply`]). Shown at once; the server's `follow` message confirms it to every
    /// page. A teacher page that does not lead (reloaded, or another tab turned it on) takes
    /// the lead.
    pub(super) fn classroom_action(&mut self, action: Action) {
        match action {
            Action::FollowMeToggle if self.classroom.leads() => {
                self.classroom.leader = false;
                self.classroom.leading = None;
                self.classroom.sent = None;
                self.send_later(vec![Command::FollowMe { view: None }]);
            }
            Action::FollowMeToggle => {
                let now = self.teacher_view();
                self.classroom.leader = true;
                self.classroom.leading = Some(now.clone());
                self.classroom.sent = Some(now.clone());
                self.send_later(vec![Command::FollowMe { view: Some(now) }]);
            }
            Action::Follow(on) => {
                self.classroom.following = on;
                self.follow_teacher();
            }
            // Every other action is routed elsewhere by `apply`.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn classroom_hello(role: kettle_shared::Role) -> Action {
        Action::Server(ServerMsg::Hello {
            protocol_version: PROTOCOL_VERSION,
            models: vec![
                model_info("blocking", ModelState::Running),
                model_info("epoll", ModelState::Running),
            ],
            clock: Clock { start_unix_ms: 0, now_ns: 0 },
            role,
            classroom: true,
        })
    }

    fn follow_me_sent(s: &State) -> Vec<Option<kettle_shared::TeacherView>> {
        s.outbox
            .iter()
            .filter_map(|c| match c {
                Command::FollowMe { view } => Some(view.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn test_student_follows_the_teachers_model_panel_and_step_until_looking_elsewhere() {
        use kettle_shared::{PlaybackAt, Role, TeacherView, View};
        let s = reduce(Rc::default(), [classroom_hello(Role::Student)]);
        assert_eq!(s.classroom.role, Role::Student);
        assert_eq!(s.selected.as_deref(), Some("blocking"));
        let view = TeacherView {
            model: Some("epoll".into()),
            panel: View::Figure,
            playback: PlaybackAt {
                anchor: Some((5, 9)),
                elapsed_ms: 0,
                paused: true,
                speed_index: 2,
            },
        };
        let s = reduce(s, [Action::Server(ServerMsg::Follow { view: Some(view.clone()) })]);
        assert!(s.classroom.follows_now());
        assert_eq!(s.selected.as_deref(), Some("epoll"));
        assert_eq!(s.playback.anchor, Some((5, 9)));
        assert!(s.playback.paused);
        assert_eq!(s.playback.speed_index, 2);
        assert!(follow_me_sent(&s).is_empty(), "a student never leads");

        let s = reduce(s, [Action::Select("epoll".into())]);
        assert!(s.classroom.following, "clicking the model shown is not looking elsewhere");
        // Picking something else is looking on one's own: the next teacher move is not applied.
        let s = reduce(s, [Action::Select("blocking".into())]);
        assert!(!s.classroom.following);
        let story = TeacherView { panel: View::Story, ..view.clone() };
        let s = reduce(s, [Action::Server(ServerMsg::Follow { view: Some(story) })]);
        assert_eq!(s.selected.as_deref(), Some("blocking"));
        assert_eq!(s.view, View::Figure);
        // Following again shows the teacher's view at once.
        let s = reduce(s, [Action::Follow(true)]);
        assert_eq!(s.selected.as_deref(), Some("epoll"));
        assert_eq!(s.view, View::Story);
        // Off: the student's page stays where it is.
        let s = reduce(s, [Action::Server(ServerMsg::Follow { view: None })]);
        assert!(!s.classroom.follows_now());
        assert_eq!(s.view, View::Story);
    }

    #[test]
    fn test_teacher_follow_me_sends_the_view_on_each_move_and_never_on_ticks() {
        use kettle_shared::{Role, View};
        let s = reduce(Rc::default(), [classroom_hello(Role::Teacher)]);
        assert!(s.classroom.on);
        assert!(follow_me_sent(&s).is_empty(), "nothing until the teacher leads");
        let s = reduce(s, [Action::FollowMeToggle]);
        let sent = follow_me_sent(&s);
        assert_eq!(sent.len(), 1);
        let view = sent[0].clone().expect("on");
        assert_eq!(view.model.as_deref(), Some("blocking"));
        assert_eq!(view.panel, View::Figure);
        assert!(s.classroom.leads());

        let gen = s.outbox_gen;
        let s = reduce(s, [Action::OutboxSent(gen)]);
        let s = reduce(s, (0..10).map(|_| Action::Tick { dt_ms: 40.0 }));
        assert!(follow_me_sent(&s).is_empty(), "the playback clock is not a move");
        // The server's echo of the view changes nothing either.
        let s = reduce(s, [Action::Server(ServerMsg::Follow { view: Some(view.clone()) })]);
        assert!(follow_me_sent(&s).is_empty());

        let s = reduce(s, [Action::Select("epoll".into()), Action::SetView(View::Story)]);
        let sent = follow_me_sent(&s);
        let last = sent.last().cloned().flatten().expect("still on");
        assert_eq!(last.model.as_deref(), Some("epoll"));
        assert_eq!(last.panel, View::Story);

        let gen = s.outbox_gen;
        let s = reduce(s, [Action::OutboxSent(gen), Action::FollowMeToggle]);
        assert_eq!(follow_me_sent(&s), vec![None], "turned off");
        assert!(!s.classroom.leads());
        let gen = s.outbox_gen;
        let s = reduce(s, [Action::OutboxSent(gen), Action::Select("blocking".into())]);
        assert!(follow_me_sent(&s).is_empty(), "not leading any more");

        // A reloaded teacher page: the class still follows, but this page does not lead until
        // its button is pressed, which takes the lead with this page's view.
        let s = reduce(Rc::default(), [classroom_hello(Role::Teacher)]);
        let s = reduce(s, [Action::Server(ServerMsg::Follow { view: Some(view) })]);
        assert!(!s.classroom.leads());
        let s = reduce(s, [Action::Select("epoll".into())]);
        assert!(follow_me_sent(&s).is_empty(), "another page leads");
        let s = reduce(s, [Action::FollowMeToggle]);
        let taken = follow_me_sent(&s).pop().flatten().expect("on, with this page's view");
        assert_eq!(taken.model.as_deref(), Some("epoll"));
        assert!(s.classroom.leads());
    }
}
