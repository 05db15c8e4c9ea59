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

    /// The projection's state for a snapshot (may be empty). Called on the matcher thread,
    /// `save` should only take what it needs in O(1) or close to it (a copy of shared
    /// pointers, say). The snapshot thread runs the returned [`Capture`] at once, at normal
    /// priority: it copies the state out of anything still shared with the matcher thread
    /// and returns the [`Encode`] step, which runs at the lowest priority.
    fn save(&self) -> Capture;

    /// Restores the state saved by [`Projection::save`]. An error makes recovery fall back to
    /// [`Projection::seed`].
    fn load(&mut self, bytes: &[u8]) -> Result<(), String>;
}

/// Encodes a projection's captured state (on the snapshot thread, at the lowest priority).
pub type Encode = Box<dyn FnOnce() -> Vec<u8> + Send>;

/// Captures a projection's state for a snapshot (on the snapshot thread, at once, at normal
/// priority) and returns its encoder. See [`Projection::save`].
pub type Capture = Box<dyn FnOnce() -> Encode + Send>;

/// A projection that keeps nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProjection;

impl Projection for NoProjection {
    fn apply(&mut self, _batch: &CommandEvents) {}
    fn seed(&mut self, _engine: &Engine) {}
    fn save(&self) -> Capture {
        Box::new(|| Box::new(Vec::new))
    }
    fn load(&mut self, _bytes: &[u8]) -> Result<(), String> {
        Ok(())
    }
}
