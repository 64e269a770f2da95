//! Cloudflare Workers adapter.
