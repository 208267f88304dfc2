//! Classroom mode: who a viewer is, and what the teacher shows when the class follows.
//!
//! `kettle serve --classroom` serves one teacher and a room of students. The teacher's page
//! carries a secret token; every page without it is a student's. The backend decides a
//! viewer's [`Role`] once, when its WebSocket opens, and tells it in
//! [`ServerMsg::Hello`](crate::ServerMsg::Hello). Students watch, choose what to watch and open
//! echo clients; the commands that change the class's server (starting and stopping models,
//! loads, experiments, the lesson's computation, leading the class) are the teacher's, and a
//! student's answer a [`Reason::TeacherOnly`](crate::Reason::TeacherOnly) error that changes
//! nothing. Without `--classroom` every viewer is a teacher, as on one person's laptop.
//!
//! **Follow me.** The teacher turns it on with [`Command::FollowMe`](crate::Command::FollowMe)
//! carrying a [`TeacherView`], and sends it again whenever the view changes; every viewer gets
//! [`ServerMsg::Follow`](crate::ServerMsg::Follow) and a following student's page shows the
//! same model, panel and step.

use serde::{Deserialize, Serialize};

/// Who a viewer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May do everything. Every viewer is one outside classroom mode.
    #[default]
    Teacher,
    /// A classroom viewer without the teacher's token: watches, chooses what to watch, opens
    /// echo clients, follows the teacher.
    Student,
}

/// What the page's stage shows: a model's figure, the comparison, the story or the experiments.
/// One enum for the page's tabs, its link (`view=`), the guided tour's stops and what "follow
/// me" sends; its word (`figure`, `compare`…) is the same in all of them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum View {
    /// The chosen model's Stevens figure.
    #[default]
    Figure,
    /// Fig. 6.6, several models side by side.
    Compare,
    /// The kettle story.
    Story,
    /// The experiments.
    Experiments,
}

impl View {
    /// Every view, in the order of the page's tabs.
    pub const ALL: &'static [View] = <View as strum::VariantArray>::VARIANTS;

    /// The word in the link, in `data-view` and on the wire (`"compare"`).
    pub fn id(self) -> &'static str {
        self.into()
    }

    /// The view a word names, if any (exactly: `"Figure"` names none).
    pub fn from_id(id: &str) -> Option<View> {
        id.parse().ok()
    }
}

/// Where the teacher's playback is. Steps are named by their sort key `(t_ns, seq)`, which is
/// the same on every page: all viewers receive the same events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PlaybackAt {
    /// The step playback (re)started from, `[t_ns, seq]`; `None`: the newest (live).
    pub anchor: Option<(u64, u64)>,
    /// Screen milliseconds played since the anchor.
    pub elapsed_ms: u64,
    /// Paused on a step.
    pub paused: bool,
    /// The speed, as an index into the page's list of speeds (1×, 1/2…).
    pub speed_index: u32,
}

/// What the teacher's page shows, for students to follow.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TeacherView {
    /// The model whose figure is shown (a catalogue id), if any.
    pub model: Option<String>,
    /// The panel shown.
    pub panel: View,
    /// The playback.
    pub playback: PlaybackAt,
}

// Read back through `wire.rs` (objects only, less code than the derive).
crate::wire::deserialize_fields! {
    PlaybackAt { anchor, elapsed_ms, paused, speed_index }
    TeacherView { model, panel, playback }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_teacher_view_is_plain_json() {
        let view = TeacherView {
            model: Some("epoll".into()),
            panel: View::Figure,
            playback: PlaybackAt {
                anchor: Some((5, 7)),
                elapsed_ms: 12,
                paused: true,
                speed_index: 3,
            },
        };
        let json = serde_json::to_string(&view).unwrap();
        assert_eq!(
            json,
            r#"{"model":"epoll","panel":"figure","playback":{"anchor":[5,7],"elapsed_ms":12,"paused":true,"speed_index":3}}"#
        );
        assert_eq!(serde_json::from_str::<TeacherView>(&json).unwrap(), view);
        assert_eq!(serde_json::to_string(&Role::Student).unwrap(), r#""student""#);
    }
}
