//! Zero-copy packet views (placeholder).
