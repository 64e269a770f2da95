//! The HTTP application, written against the core's ports.
