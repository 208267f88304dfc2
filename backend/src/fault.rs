//! Faults on purpose: how `kettle soak` proves that one broken model does not take the others
//! down.
//!
//! A model thread that panics is a bug in Kettle, and bugs happen; what matters is what the
//! rest of the program does then. The registry catches the panic at the top of the model's
//! thread, marks the model `unavailable` with [`Reason::Panicked`](kettle_shared::Reason), and
//! every other model keeps serving. To prove that without shipping a real bug, the soak's
//! fault scenario *arms* a panic here: the next event the model's own server thread records
//! (through its [`Tracer`](crate::recorder::Tracer)) panics instead.
//!
//! Only code in this process can arm it — there is no command, flag or variable for it — so a
//! page or a student cannot. Unarmed, the check is one relaxed atomic load per event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Something is armed: the fast path's only check.
static ARMED: AtomicBool = AtomicBool::new(false);
/// The models whose server thread panics at its next recorded event.
static MODELS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// Makes the server thread of `model` (the thread named `model-<id>`) panic at the next event
/// it records. Disarmed as it fires: one panic per call.
pub fn arm_model_panic(model: &'static str) {
    let mut models = MODELS.lock().unwrap_or_else(|p| p.into_inner());
    if !models.contains(&model) {
        models.push(model);
    }
    ARMED.store(true, Ordering::Release);
}

/// Called by the recorder for each event: panics if a panic is armed for `model` and this is
/// its server thread. Helpers of the model (workers, the listen-queue thread, the relay) never
/// fire it: the point is the model's own thread.
#[inline]
pub fn check_model_panic(model: &'static str) {
    if !ARMED.load(Ordering::Relaxed) {
        return;
    }
    let fire = {
        let mut models = MODELS.lock().unwrap_or_else(|p| p.into_inner());
        let ours = std::thread::current()
            .name()
            .and_then(|n| n.strip_prefix("model-"))
            .is_some_and(|n| n == model);
        match models.iter().position(|m| *m == model) {
            Some(i) if ours => {
                models.swap_remove(i);
                ARMED.store(!models.is_empty(), Ordering::Release);
                true
            }
            _ => false,
        }
    };
    if fire {
        panic!("kettle fault: a panic armed for the {model} model's thread (kettle soak)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_panic_fires_once_and_only_on_the_models_thread() {
        arm_model_panic("select");
        // Not the model's thread: nothing happens, and it stays armed.
        check_model_panic("select");
        let fired = std::thread::Builder::new()
            .name("model-select".into())
            .spawn(|| check_model_panic("select"))
            .unwrap()
            .join();
        assert!(fired.is_err(), "the model's thread panics");
        let again = std::thread::Builder::new()
            .name("model-select".into())
            .spawn(|| check_model_panic("select"))
            .unwrap()
            .join();
        assert!(again.is_ok(), "disarmed once fired");
    }
}
