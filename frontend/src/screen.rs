//! The screen a class looks at: its theme, presenter mode, which panel the side column shows
//! under the narration, the model picker on narrow windows, and which echo client sits on the
//! stage.
//!
//! The page is laid out around a *stage*: the figure, the code that made its current step and
//! the sentence that explains it, always on one screen together (the teacher never scrolls
//! while explaining). Everything that is not that moment — the other echo clients, the load and
//! the crowd, the threads, the lesson and the definitions, the event log — is one of the side
//! column's [`Side`] panels in place of the code, chosen by a tab; none of them ever pushes the
//! stage down. Pure: the reducer keeps a [`Screen`] and applies [`ScreenAction`]s to it.

use crate::i18n::Key;

/// The colours of the page: dark for a dim room or a screen, light for a projector in a lit
/// classroom (a dark page washes out there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    /// Light background, dark text.
    Light,
    /// Dark background, light text.
    #[default]
    Dark,
}

impl Theme {
    /// Both themes.
    pub const ALL: [Theme; 2] = [Theme::Light, Theme::Dark];

    /// The word in the link (`theme=`), in storage and in `<html data-theme>`.
    pub fn id(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The theme a word names, if any.
    pub fn from_id(id: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.id().eq_ignore_ascii_case(id.trim()))
    }

    /// The other theme.
    pub fn toggled(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }

    /// The first theme of a page: the link's, else the one chosen on an earlier visit, else
    /// what the system asks for (`prefers-color-scheme: dark`).
    pub fn first(link: Option<Theme>, remembered: Option<Theme>, prefers_dark: bool) -> Theme {
        link.or(remembered).unwrap_or(if prefers_dark { Theme::Dark } else { Theme::Light })
    }

    /// The words of the button that switches to the other theme.
    pub fn switch_label(self) -> Key {
        match self {
            Theme::Light => Key::ThemeToDark,
            Theme::Dark => Key::ThemeToLight,
        }
    }
}

/// What the side column shows under the narration: the code by default, or one of the panels
/// that are not the lesson's moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Side {
    /// The model's serving loop with the current step's line lit.
    #[default]
    Code,
    /// The echo clients besides the one on the stage.
    Clients,
    /// The load generator and the crowd's counts.
    Load,
    /// The model's threads, their CPU share and what the kernel says about each.
    Threads,
    /// The model's lesson and the tutorial's definitions.
    Lesson,
    /// Every recorded event as a table.
    Log,
}

impl Side {
    /// Every panel, in the order of the tabs.
    pub const ALL: [Side; 6] =
        [Side::Code, Side::Clients, Side::Load, Side::Threads, Side::Lesson, Side::Log];

    /// The word in `data-side` and in the tab's id (`#side-tab-code`).
    pub fn id(self) -> &'static str {
        match self {
            Side::Code => "code",
            Side::Clients => "clients",
            Side::Load => "load",
            Side::Threads => "threads",
            Side::Lesson => "lesson",
            Side::Log => "log",
        }
    }

    /// The tab's label.
    pub fn label(self) -> Key {
        match self {
            Side::Code => Key::SideCode,
            Side::Clients => Key::SideClients,
            Side::Load => Key::SideLoad,
            Side::Threads => Key::SideThreads,
            Side::Lesson => Key::Lesson,
            Side::Log => Key::SideLog,
        }
    }
}

/// What changes the screen (and nothing else of the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenAction {
    /// `F` or the presenter button: the stage only, in large type.
    TogglePresenter,
    /// `#theme`: the other theme.
    ToggleTheme,
    /// A side tab: show that panel under the narration.
    ShowSide(Side),
    /// The model picker's button on a narrow window: open or close the list.
    TogglePicker,
    /// Close the model picker (a model was chosen, or `Esc`).
    ClosePicker,
    /// Put this echo client on the stage.
    StageClient(u32),
}

/// The screen's state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Screen {
    /// Presenter mode: the stage only (figure, code, narration, one echo line), larger.
    pub presenter: bool,
    /// The colours.
    pub theme: Theme,
    /// The side column's panel.
    pub side: Side,
    /// The model picker is open (narrow windows, where it is a menu rather than a rail).
    pub picker_open: bool,
    /// The echo client chosen for the stage; the newest fitting one when `None` or gone.
    pub stage_client: Option<u32>,
}

impl Screen {
    /// Applies one action.
    pub fn apply(&mut self, action: ScreenAction) {
        match action {
            ScreenAction::TogglePresenter => {
                self.presenter = !self.presenter;
                self.picker_open = false;
            }
            ScreenAction::ToggleTheme => self.theme = self.theme.toggled(),
            ScreenAction::ShowSide(side) => self.side = side,
            ScreenAction::TogglePicker => self.picker_open = !self.picker_open,
            ScreenAction::ClosePicker => self.picker_open = false,
            ScreenAction::StageClient(id) => self.stage_client = Some(id),
        }
    }

    /// The panel the side column shows now: presenter mode shows the code, always.
    pub fn side_shown(&self) -> Side {
        if self.presenter {
            Side::Code
        } else {
            self.side
        }
    }
}

/// One echo client as the stage sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSeat<'a> {
    /// Its id.
    pub id: u32,
    /// The model it talks to.
    pub model: &'a str,
    /// Still connected.
    pub open: bool,
}

/// Which echo client sits on the stage (its one input line), given the clients oldest first:
/// the one chosen, while it exists; else the newest open client of the model shown; else the
/// newest open client; else the newest client of the model shown (closed, so its last reply
/// and why it closed stay in view).
pub fn stage_client(
    clients: &[ClientSeat<'_>],
    chosen: Option<u32>,
    shown: Option<&str>,
) -> Option<u32> {
    if let Some(id) = chosen.filter(|id| clients.iter().any(|c| c.id == *id)) {
        return Some(id);
    }
    let newest = |keep: &dyn Fn(&ClientSeat<'_>) -> bool| clients.iter().rev().find(|c| keep(c));
    newest(&|c| c.open && Some(c.model) == shown)
        .or_else(|| newest(&|c| c.open))
        .or_else(|| newest(&|c| Some(c.model) == shown))
        .map(|c| c.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_theme_is_named_back_by_its_own_word_and_toggles_to_the_other() {
        for theme in Theme::ALL {
            assert_eq!(Theme::from_id(theme.id()), Some(theme));
            assert_ne!(theme.toggled(), theme);
            assert_eq!(theme.toggled().toggled(), theme);
        }
        assert_eq!(Theme::from_id(" LIGHT "), Some(Theme::Light));
        assert_eq!(Theme::from_id("sepia"), None);
    }

    #[test]
    fn the_first_theme_is_the_links_then_the_remembered_then_the_systems() {
        use Theme::{Dark, Light};
        assert_eq!(Theme::first(Some(Light), Some(Dark), true), Light);
        assert_eq!(Theme::first(None, Some(Light), true), Light);
        assert_eq!(Theme::first(None, None, true), Dark);
        assert_eq!(Theme::first(None, None, false), Light);
    }

    #[test]
    fn presenter_mode_always_shows_the_code_and_remembers_the_chosen_panel() {
        let mut screen = Screen::default();
        screen.apply(ScreenAction::ShowSide(Side::Log));
        assert_eq!(screen.side_shown(), Side::Log);
        screen.apply(ScreenAction::TogglePicker);
        screen.apply(ScreenAction::TogglePresenter);
        assert_eq!(screen.side_shown(), Side::Code);
        assert!(!screen.picker_open, "presenter mode has no picker open over the stage");
        screen.apply(ScreenAction::TogglePresenter);
        assert_eq!(screen.side_shown(), Side::Log);
    }

    #[test]
    fn every_side_panel_has_its_own_word() {
        let mut ids: Vec<&str> = Side::ALL.iter().map(|s| s.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Side::ALL.len());
        assert_eq!(Side::default(), Side::ALL[0], "the code comes first and by default");
    }

    fn seat(id: u32, model: &str, open: bool) -> ClientSeat<'_> {
        ClientSeat { id, model, open }
    }

    #[test]
    fn the_stage_client_is_the_newest_open_one_of_the_shown_model() {
        let clients = [
            seat(1, "blocking", true),
            seat(2, "epoll", true),
            seat(3, "blocking", true),
            seat(4, "select", false),
        ];
        assert_eq!(stage_client(&clients, None, Some("blocking")), Some(3));
        assert_eq!(stage_client(&clients, None, Some("epoll")), Some(2));
        assert_eq!(stage_client(&clients, None, Some("poll")), Some(3), "newest open of any");
        assert_eq!(stage_client(&clients, Some(1), Some("epoll")), Some(1), "the chosen one");
        assert_eq!(stage_client(&clients, Some(9), Some("epoll")), Some(2), "a gone choice");
        let closed = [seat(4, "select", false), seat(5, "epoll", false)];
        assert_eq!(stage_client(&closed, None, Some("select")), Some(4));
        assert_eq!(stage_client(&closed, None, Some("poll")), None);
        assert_eq!(stage_client(&[], None, Some("poll")), None);
    }
}
