//! The access gateway's platform-free decision core: mandatory SSO in front of the hub's
//! origin for every path under `/orgs/{slug}`.
//!
//! The pipeline, each stage a pure function the edge adapter calls in turn:
//! 1. [`path::classify_path`]: is the raw path canonical, and is it gated (which org)?
//! 2. [`decision::decide`]: with the org's config and the member's session, forward, redirect
//!    to sign in, ask for SSO, or refuse for want of a role ([`config`] holds the access rules
//!    and resource groups it applies, [`pattern`] their path patterns).
//! 3. [`headers`]: what the forward may carry each way, and the identity headers.
//! 4. [`assertion`]: the claims of the signed assertion for the origin.

pub mod assertion;
pub mod config;
pub mod decision;
pub mod headers;
pub mod live;
pub mod path;
pub mod pattern;

pub use decision::{decide, is_navigation, Decision, DecisionInput, Identity};
pub use path::{classify_path, GatedPath, PathClass, PathRefusal};
