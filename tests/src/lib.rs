//! Warden integration tests live in `tests/`.
