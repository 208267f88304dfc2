//! Classroom mode on the page: the teacher's token, who this page is, and "follow me".
//!
//! The teacher opens the link `kettle serve --classroom` printed, `/?token=…`. The page keeps
//! the token for this tab only (`sessionStorage`: a reload keeps it, another tab or a student's
//! browser never sees it), takes it out of the address bar at once (so it is not projected,
//! bookmarked or shared with the next link), and brings it on its WebSocket (`/ws?token=…`).
//! The backend then says in `hello` whether this page is the teacher's or a student's.
//!
//! **Follow me.** While the teacher leads, the teacher's page sends what it shows — the
//! model, the panel, where playback is — whenever that changes ([`needs_sending`] decides,
//! so the 25 Hz playback clock never floods the class), and each following student's page
//! shows the same. A student who picks something else stops following (the page says so and
//! offers to follow again). Everything here is pure; the reducer calls it.

use kettle_shared::{PlaybackAt, Role, TeacherView, View};

/// Where the tab keeps the token (`sessionStorage`).
pub const TOKEN_STORAGE_KEY: &str = "kettle.token";

/// Longest token accepted from an address; Kettle's are 43 characters.
const MAX_TOKEN: usize = 128;

/// The teacher token a query string carries (`?token=…`), if it looks like one of Kettle's:
/// URL-safe base64 characters only, at most [`MAX_TOKEN`] of them.
pub fn token_in(query: &str) -> Option<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "token")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| is_token(v))
        .last()
}

/// Whether `text` can be a token (and so needs no escaping in a URL).
pub fn is_token(text: &str) -> bool {
    (1..=MAX_TOKEN).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The WebSocket URL with the token, when this tab has one.
pub fn ws_url_with_token(url: &str, token: Option<&str>) -> String {
    match token.filter(|t| is_token(t)) {
        Some(t) => format!("{url}?token={t}"),
        None => url.to_owned(),
    }
}

/// What this page knows about the classroom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classroom {
    /// The server runs in classroom mode (`hello`).
    pub on: bool,
    /// Who this page is (`hello`); a teacher until told otherwise, as outside classroom mode.
    pub role: Role,
    /// What the teacher shows while "follow me" is on, as the server last said.
    pub leading: Option<TeacherView>,
    /// A student's choice: follow the teacher while "follow me" is on (the default), or look
    /// on their own.
    pub following: bool,
    /// The teacher's page turned "follow me" on (another teacher tab only shows it is on;
    /// two leading tabs would take turns overriding each other).
    pub leader: bool,
    /// The teacher's page: the view it sent last.
    pub sent: Option<TeacherView>,
}

impl Default for Classroom {
    /// A fresh page: nothing known yet, a student would follow.
    fn default() -> Classroom {
        Classroom {
            on: false,
            role: Role::Teacher,
            leading: None,
            following: true,
            leader: false,
            sent: None,
        }
    }
}

impl Classroom {
    /// This page is a student's and follows the teacher now.
    pub fn follows_now(&self) -> bool {
        self.role == Role::Student && self.following && self.leading.is_some()
    }

    /// This page leads the class.
    pub fn leads(&self) -> bool {
        self.role == Role::Teacher && self.leader && self.leading.is_some()
    }
}

/// Whether the teacher's page must send `now`, having sent `sent` last. While playing, the
/// screen time played (`elapsed_ms`) grows with every tick of the playback clock: students
/// play from the same anchor at the same speed, so it is not a change; while paused it is
/// where the teacher stands, so it is.
pub fn needs_sending(now: &TeacherView, sent: Option<&TeacherView>) -> bool {
    let Some(sent) = sent else { return true };
    let key = |v: &TeacherView| {
        let p = &v.playback;
        let elapsed = if p.paused { p.elapsed_ms } else { 0 };
        (v.model.clone(), v.panel, p.anchor, p.paused, p.speed_index, elapsed)
    };
    key(now) != key(sent)
}

/// The view of a page showing `model` in `panel`, its playback as given.
pub fn view_of(
    model: Option<&str>,
    panel: View,
    playback: &crate::playback::Playback,
) -> TeacherView {
    TeacherView {
        model: model.map(str::to_owned),
        panel,
        playback: PlaybackAt {
            anchor: playback.anchor,
            // Whole milliseconds: sub-millisecond screen time is invisible.
            elapsed_ms: playback.elapsed_ms.max(0.0) as u64,
            paused: playback.paused,
            speed_index: playback.speed_index as u32,
        },
    }
}

/// The playback a following page takes from the teacher's (the speed clamped to the page's).
pub fn playback_of(at: &PlaybackAt) -> crate::playback::Playback {
    let speeds = crate::playback::SPEEDS.len();
    crate::playback::Playback {
        speed_index: (at.speed_index as usize).min(speeds - 1),
        paused: at.paused,
        anchor: at.anchor,
        elapsed_ms: at.elapsed_ms as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playback::Playback;

    #[test]
    fn the_token_is_read_from_the_address_and_junk_is_ignored() {
        assert_eq!(token_in("?token=abc_DEF-123").as_deref(), Some("abc_DEF-123"));
        assert_eq!(token_in("model=epoll&token=t0k&lang=zh").as_deref(), Some("t0k"));
        assert_eq!(token_in("?model=epoll"), None);
        for junk in ["?token=", "?token=a%20b", "?token=<script>", "?token=%FF", "?tokens=abc"] {
            assert_eq!(token_in(junk), None, "{junk}");
        }
        assert_eq!(token_in(&format!("?token={}", "a".repeat(MAX_TOKEN + 1))), None);
    }

    #[test]
    fn the_websocket_carries_the_token_only_when_the_tab_has_one() {
        assert_eq!(ws_url_with_token("ws://h:1/ws", Some("t0k")), "ws://h:1/ws?token=t0k");
        assert_eq!(ws_url_with_token("ws://h:1/ws", None), "ws://h:1/ws");
        assert_eq!(ws_url_with_token("ws://h:1/ws", Some("a b")), "ws://h:1/ws");
    }

    fn view(model: &str, paused: bool, elapsed_ms: u64) -> TeacherView {
        TeacherView {
            model: Some(model.into()),
            panel: View::Figure,
            playback: PlaybackAt { anchor: Some((10, 2)), elapsed_ms, paused, speed_index: 2 },
        }
    }

    #[test]
    fn playing_on_is_not_a_change_but_every_move_of_the_teacher_is() {
        let playing = view("epoll", false, 0);
        assert!(needs_sending(&playing, None), "the first view always goes");
        assert!(!needs_sending(&view("epoll", false, 900), Some(&playing)), "the clock ticked");
        assert!(needs_sending(&view("select", false, 0), Some(&playing)), "another model");
        let paused = view("epoll", true, 400);
        assert!(needs_sending(&paused, Some(&playing)), "paused");
        assert!(needs_sending(&view("epoll", true, 410), Some(&paused)), "stepped while paused");
        let mut other_panel = playing.clone();
        other_panel.panel = View::Story;
        assert!(needs_sending(&other_panel, Some(&playing)));
        let mut faster = playing.clone();
        faster.playback.speed_index = 0;
        assert!(needs_sending(&faster, Some(&playing)));
        let mut moved = playing.clone();
        moved.playback.anchor = Some((11, 3));
        assert!(needs_sending(&moved, Some(&playing)), "a seek or a jump");
    }

    #[test]
    fn a_follower_plays_from_the_teachers_step_at_the_teachers_speed() {
        let teacher =
            Playback { speed_index: 3, paused: true, anchor: Some((7, 1)), elapsed_ms: 250.7 };
        let sent = view_of(Some("blocking"), View::Figure, &teacher);
        assert_eq!(sent.playback.elapsed_ms, 250);
        let student = playback_of(&sent.playback);
        assert_eq!((student.speed_index, student.paused, student.anchor), (3, true, Some((7, 1))));
        assert_eq!(student.elapsed_ms, 250.0);
        let absurd = PlaybackAt { speed_index: 99, ..PlaybackAt::default() };
        assert_eq!(playback_of(&absurd).speed_index, crate::playback::SPEEDS.len() - 1);
    }

    #[test]
    fn only_a_student_follows_and_only_while_the_teacher_leads() {
        let mut c = Classroom::default();
        assert!(!c.follows_now() && !c.leads());
        c.leading = Some(TeacherView::default());
        assert!(!c.leads(), "another teacher tab turned it on");
        c.leader = true;
        assert!(c.leads(), "the teacher's page that turned follow me on leads");
        c.role = Role::Student;
        assert!(c.follows_now() && !c.leads());
        c.following = false;
        assert!(!c.follows_now(), "looking on their own");
    }
}
