//! The page's browser glue, apart from the components: the address bar (the link that
//! restores the page, the teacher's token taken out of it), what the browser remembers (the
//! language and the theme chosen last, the system's colour scheme) and `<html>`'s attributes
//! the CSS reads. The decisions are in [`crate::link`] and [`crate::screen`]; here is only
//! where they meet `window`.

use yew::prelude::*;

use crate::i18n::Lang;
use crate::link::{lang_from_id, lang_id, Link, Remembered};
use crate::screen::Theme;

/// Where the page remembers the language chosen last (`localStorage`).
const LANG_STORAGE_KEY: &str = "kettle.lang";
/// Where the page remembers the theme chosen last (`localStorage`).
const THEME_STORAGE_KEY: &str = "kettle.theme";

/// Keeps the browser in step with the page: `<html lang>` and `<html data-theme>`, the address
/// (rewritten in place on every change the link carries: no reload, no history entry per
/// click) and, on a real page, the language and theme chosen here for the next visit (what a
/// page started with, from a link say, is not a choice).
#[hook]
pub fn use_page_in_browser(lang: Lang, theme: Theme, link: Link, real_page: bool) {
    use_effect_with(lang, move |lang| set_root_attribute("lang", lang.code()));
    use_effect_with(theme, move |theme| set_root_attribute("data-theme", theme.id()));
    use_effect_with(link, move |link| {
        if real_page {
            replace_query(&link.to_query());
        }
    });
    use_remembered_choice(LANG_STORAGE_KEY, lang_id(lang), real_page);
    use_remembered_choice(THEME_STORAGE_KEY, theme.id(), real_page);
}

/// Remembers `value` under `key` whenever it changes after the first render.
#[hook]
fn use_remembered_choice(key: &'static str, value: &'static str, real_page: bool) {
    let first = use_mut_ref(|| true);
    use_effect_with(value, move |value| {
        if std::mem::replace(&mut *first.borrow_mut(), false) || !real_page {
            return;
        }
        remember(key, value);
    });
}

/// The teacher token of this tab: taken from the address (`?token=…`) into `sessionStorage`
/// (this tab only; a reload keeps it) and out of the address bar at once, so it is never
/// projected, bookmarked or passed on in a shared link. A link without one keeps the token
/// the tab already has.
pub fn teacher_token() -> Option<String> {
    use crate::classroom::{is_token, token_in, TOKEN_STORAGE_KEY};
    let window = web_sys::window()?;
    let storage = window.session_storage().ok().flatten();
    let query = address_query();
    if let Some(token) = token_in(&query) {
        if let Some(storage) = &storage {
            let _ = storage.set_item(TOKEN_STORAGE_KEY, &token);
        }
        replace_query(&Link::parse(&query).to_query());
        return Some(token);
    }
    if query.contains("token=") {
        // Not a token of Kettle's: still not left in the address.
        replace_query(&Link::parse(&query).to_query());
    }
    storage?.get_item(TOKEN_STORAGE_KEY).ok().flatten().filter(|t| is_token(t))
}

/// The address's query string (`?model=…`), or nothing outside a browser.
pub fn address_query() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

/// What the browser knows before the link is read: the language and theme chosen on an
/// earlier visit, if it kept them, and whether the system prefers dark colours.
pub fn remembered() -> Remembered {
    let window = web_sys::window();
    let stored = |key: &str| window.as_ref()?.local_storage().ok()??.get_item(key).ok()?;
    let prefers_dark = window
        .as_ref()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches());
    Remembered {
        lang: stored(LANG_STORAGE_KEY).as_deref().and_then(lang_from_id),
        theme: stored(THEME_STORAGE_KEY).as_deref().and_then(Theme::from_id),
        prefers_dark,
    }
}

/// Keeps a choice for the next visit (`localStorage`; a browser that refuses keeps nothing).
fn remember(key: &str, value: &str) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(key, value);
    }
}

/// Sets an attribute of `<html>`, which the CSS reads (`lang`, `data-theme`).
fn set_root_attribute(name: &str, value: &str) {
    if let Some(root) =
        web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element())
    {
        let _ = root.set_attribute(name, value);
    }
}

/// Puts `query` in the address bar in place of the current one, keeping path and fragment.
fn replace_query(query: &str) {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    if location.search().ok().as_deref() == Some(query) {
        return;
    }
    let path = location.pathname().unwrap_or_default();
    let hash = location.hash().unwrap_or_default();
    if let Ok(history) = window.history() {
        let url = format!("{path}{query}{hash}");
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}
