//! Test support for svcc (the cases live in `cases/`).
