//! The sans-IO director (placeholder).
