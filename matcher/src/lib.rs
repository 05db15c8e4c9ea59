//! The matcher.
