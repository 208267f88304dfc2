//! The page's errors as data: what went wrong, with the command it answers. Kept as data, not
//! text, so they are worded when drawn ([`crate::reasons::error_note`]) and a change of
//! language rewords them. Below both the reducer and the words.

use kettle_shared::{Command, ErrorCode, Reason};

/// An error shown in `#errors` until dismissed. Kept as data, not text: it is worded when
/// drawn (`crate::reasons::error_note`), so switching the language re-words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorNote {
    /// Stable key for dismissing it.
    pub key: u64,
    /// The command that failed, when the error answers one.
    pub command: Option<Command>,
    /// What went wrong.
    pub problem: Problem,
}

/// What went wrong, for an [`ErrorNote`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The backend answered with an `error`.
    Backend {
        /// The kind of failure (`data-code`).
        code: ErrorCode,
        /// What exactly failed.
        reason: Reason,
    },
    /// The command could not be sent: the WebSocket is not open.
    NotConnected,
    /// Something on the WebSocket this page could not use.
    Garbled(Garble),
    /// A recording could not be opened, fetched or saved.
    Recording(RecordingProblem),
}

/// Why a recording could not be opened, fetched or saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingProblem {
    /// The file was read but is not a recording this page can replay (cut short, another
    /// version…): the shared reader's own refusal.
    Unreadable(kettle_shared::recording::RecordingError),
    /// `?recording=` names another site.
    OtherOrigin {
        /// What the address said.
        url: String,
    },
    /// Fetching it failed: `status` is the HTTP status, 0 when nothing answered.
    Fetch {
        /// The address.
        url: String,
        /// The HTTP status (0: no answer).
        status: u16,
    },
    /// The browser would not read the chosen file.
    FileUnread,
    /// There was nothing to save yet (no events of the chosen models).
    NothingToSave,
    /// The link needs the recording's address, and this recording was opened from a file.
    NoAddress,
}

/// A WebSocket problem that is not a protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Garble {
    /// The WebSocket to this URL could not even be created (a malformed URL).
    CannotOpen {
        /// The URL.
        url: String,
    },
    /// A binary frame came; the protocol is text.
    Binary,
    /// A text frame that is not a message of this protocol.
    Unreadable {
        /// The JSON parser's words, for `data-detail`.
        detail: String,
    },
    /// The browser would not send a command on the open socket.
    SendRefused,
}
