//! The experiments of this server, run for every viewer: one at a time, each table it
//! produces broadcast to all of them.

use std::sync::Arc;

use kettle_shared::{ErrorCode, ExperimentTable, Reason};
use tokio::sync::broadcast;

/// ports of their own: the class's models are not touched), on a blocking thread; every
/// table it produces goes to every viewer.
#[derive(Clone)]
pub(super) struct Experiments {
    /// The id of the one running.
    running: Arc<std::sync::Mutex<Option<String>>>,
    /// The latest table (of the one running, or the last one run).
    last: Arc<std::sync::Mutex<Option<ExperimentTable>>>,
    pub(super) tables: broadcast::Sender<ExperimentTable>,
}

impl Experiments {
    pub(super) fn new() -> Experiments {
        let (tables, _) = broadcast::channel(16);
        Experiments { running: Arc::default(), last: Arc::default(), tables }
    }

    pub(super) fn last(&self) -> Option<ExperimentTable> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Starts experiment `name`, unless it does not exist or another one runs.
    pub(super) fn start(&self, name: &str, short: bool) -> Result<(), (ErrorCode, Reason)> {
        if crate::tools::experiments::find(name).is_none() {
            let known = crate::tools::experiments::ids();
            return Err((
                ErrorCode::BadRequest,
                Reason::NoSuchExperiment { name: name.into(), known },
            ));
        }
        {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(other) = running.as_ref() {
                return Err((ErrorCode::Limit, Reason::ExperimentRunning { name: other.clone() }));
            }
            *running = Some(name.to_owned());
        }
        let this = self.clone();
        let name = name.to_owned();
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            // Cleared however the run ends (a panic included), so the next one can start.
            struct Done(Experiments);
            impl Drop for Done {
                fn drop(&mut self) {
                    *self.0.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
            }
            let done = Done(this);
            crate::tools::experiments::run(&name, short, &handle, &mut |table| {
                *done.0.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(table.clone());
                if table.finished {
                    // A viewer told it finished may start the next one at once.
                    *done.0.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
                let _ = done.0.tables.send(table.clone());
            });
        });
        Ok(())
    }
}
