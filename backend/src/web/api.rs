//! The JSON API: list the models, start or stop one. Starting and stopping run on a
//! blocking thread (a stop joins the model's threads) and answer with the model's new state.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::guard::error_body;
use super::AppState;
use crate::registry::{Registry, RegistryError};

fn registry_error(e: RegistryError) -> Response {
    let status = match e {
        RegistryError::UnknownModel(_) => StatusCode::NOT_FOUND,
        RegistryError::Unavailable(_) | RegistryError::Io(_) => StatusCode::CONFLICT,
    };
    (status, Json(error_body(e.code(), e.reason()))).into_response()
}

pub(super) async fn list_models(State(state): State<AppState>) -> Response {
    Json(state.registry.list()).into_response()
}

pub(super) async fn start_model(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    lifecycle(state.registry, move |r| r.start(&id)).await
}

pub(super) async fn stop_model(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    lifecycle(state.registry, move |r| r.stop(&id)).await
}

/// Runs a start or stop off the async workers (a stop joins threads) and answers with the
/// model's new state.
async fn lifecycle<F>(registry: Registry, f: F) -> Response
where
    F: FnOnce(&Registry) -> Result<kettle_shared::ModelInfo, RegistryError> + Send + 'static,
{
    match tokio::task::spawn_blocking(move || f(&registry)).await {
        Ok(Ok(info)) => Json(info).into_response(),
        Ok(Err(e)) => registry_error(e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
