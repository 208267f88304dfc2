//! The JSON API: list the models, start or stop one. Starting and stopping run on a
//! blocking thread (a stop joins the model's threads) and answer with the model's new state;
//! at most [`Limits::lifecycle_at_once`](super::Limits::lifecycle_at_once) run at once, and one
//! that waits too long for its turn is answered 503. In classroom mode they are the teacher's:
//! `Authorization: Bearer <token>`, or 403.

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use kettle_shared::{Command, ErrorCode};

use super::guard::error_body;
use super::{classroom, roles, AppState};
use crate::registry::{Registry, RegistryError};

fn registry_error(e: RegistryError) -> Response {
    let status = match e {
        RegistryError::UnknownModel(_) => StatusCode::NOT_FOUND,
        RegistryError::Unavailable(_) | RegistryError::Io(_) => StatusCode::CONFLICT,
    };
    (status, Json(error_body(e.code(), e.reason()))).into_response()
}

/// `GET /api/host`: where the events are made (Kettle's version, the kernel, the machine), for
/// a recording's header (`kettle record`, the page's `#save-recording`).
pub(super) async fn host(State(_): State<AppState>) -> Response {
    Json(host_info()).into_response()
}

/// This machine as a recording's header names it: `Linux <release>`, and
/// `<host name> (<CPU model>, <n> CPUs)`. Anything the kernel does not say is left out.
pub fn host_info() -> kettle_shared::recording::HostInfo {
    use crate::proc::process::{cpu_model, kernel_release};
    let name = nix::unistd::gethostname()
        .ok()
        .and_then(|n| n.into_string().ok())
        .unwrap_or_else(|| "unnamed machine".into());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = cpu_model().map(|m| format!("{m}, ")).unwrap_or_default();
    kettle_shared::recording::HostInfo {
        kettle_version: env!("CARGO_PKG_VERSION").into(),
        kernel: format!("Linux {}", kernel_release().unwrap_or_else(|| "(release unknown)".into())),
        machine: format!("{name} ({cpu}{cpus} CPUs)"),
    }
}

pub(super) async fn list_models(State(state): State<AppState>) -> Response {
    Json(state.registry.list()).into_response()
}

pub(super) async fn start_model(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    if let Some(refused) = refusal(&state, &headers, &Command::Start { model: id.clone() }) {
        return refused;
    }
    lifecycle(state, move |r| r.start(&id)).await
}

pub(super) async fn stop_model(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    if let Some(refused) = refusal(&state, &headers, &Command::Stop { model: id.clone() }) {
        return refused;
    }
    lifecycle(state, move |r| r.stop(&id)).await
}

/// The roles table for a request, its role from `Authorization: Bearer`: the 403 to answer
/// when the role may not give the command.
fn refusal(state: &AppState, headers: &HeaderMap, command: &Command) -> Option<Response> {
    let (role, _) = classroom::role_of(state.token.as_ref(), classroom::bearer(headers));
    let reason = roles::allowed(role, command).err()?;
    Some((StatusCode::FORBIDDEN, Json(error_body(ErrorCode::Forbidden, reason))).into_response())
}

/// Runs a start or stop off the async workers (a stop joins threads) and answers with the
/// model's new state.
async fn lifecycle<F>(state: AppState, f: F) -> Response
where
    F: FnOnce(&Registry) -> Result<kettle_shared::ModelInfo, RegistryError> + Send + 'static,
{
    let turn = match state.gates.lifecycle_turn().await {
        Ok(turn) => turn,
        Err((code, reason)) => {
            return (StatusCode::SERVICE_UNAVAILABLE, Json(error_body(code, reason)))
                .into_response()
        }
    };
    let registry = state.registry;
    let work = move || {
        let _turn = turn;
        f(&registry)
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(info)) => Json(info).into_response(),
        Ok(Err(e)) => registry_error(e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
