//! Projections: state derived from the events that lives beside the engine on the matcher
//! thread (for example the gateway's order index for `order.status`).

use crate::{CommandEvents, Engine};

/// State kept on the matcher thread and updated after every command, so a
/// [`crate::NodeHandle::query`] sees it exactly as consistent with the engine as the engine is
/// with itself. It must be a function of the events (and of the engine state it is seeded
/// from), so that recovery rebuilds it.
pub trait Projection: Send + 'static {
    /// Folds one command's events into the projection.
    fn apply(&mut self, batch: &CommandEvents);

    /// Called once after recovery loaded a snapshot whose projection bytes were empty or
    /// could not be decoded, before any replay: rebuild what can be rebuilt from the engine.
    fn seed(&mut self, engine: &Engine);

    /// The projection's state for a snapshot (may be empty), as a closure that the snapshot
    /// thread runs: called on the matcher thread, `save` should only take a copy and leave the
    /// encoding to the closure.
    fn save(&self) -> Box<dyn FnOnce() -> Vec<u8> + Send>;

    /// Restores the state saved by [`Projection::save`]. An error makes recovery fall back to
    /// [`Projection::seed`].
    fn load(&mut self, bytes: &[u8]) -> Result<(), String>;
}

/// A projection that keeps nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProjection;

impl Projection for NoProjection {
    fn apply(&mut self, _batch: &CommandEvents) {}
    fn seed(&mut self, _engine: &Engine) {}
    fn save(&self) -> Box<dyn FnOnce() -> Vec<u8> + Send> {
        Box::new(Vec::new)
    }
    fn load(&mut self, _bytes: &[u8]) -> Result<(), String> {
        Ok(())
    }
}
