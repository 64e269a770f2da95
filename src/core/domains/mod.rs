//! Domain ownership: an organisation's claim on an email domain, proven by a DNS TXT record and
//! re-checked on a schedule. Whoever holds a domain decides where its people sign in and who
//! gets in, so a claim routes (`/sso/start?email=`) and admits members only once `verified`.
//!
//! # Lifecycle
//! * **claim** (`PUT /admin/orgs/{slug}/domains/{domain}`): a `pending` [`Claim`] with a fresh
//!   challenge `edge-sso-verify=<random>`, to be published as a TXT record at
//!   `_edge-sso-challenge.{domain}` ([`txt_name`]). A pending claim never routes and never blocks
//!   another org's claim: several orgs may hold pending claims on one domain.
//! * **verify** (`POST .../verify`): the record is read through DNS over HTTPS ([`doh`]) and
//!   the [`DnsCheck`] recorded ([`Command::Record`]). `verified` needs the exact value; a domain
//!   verified by one org cannot be verified by another ([`Refusal::VerifiedElsewhere`]).
//! * **re-check** (the cron trigger): verified claims are checked again, least recently checked
//!   first, at most a bounded number per run. [`MISSES_TO_UNVERIFY`] consecutive definite misses
//!   (NXDOMAIN, no record, wrong value) make the claim `unverified`: it stops routing until a
//!   successful verify. A SERVFAIL or a DoH failure says nothing about the record and never
//!   changes a status or the miss count.
//! * **release** (`DELETE`): the claim is gone, and with it any routing it gave.
//!
//! # Where the state lives
//! Who claimed and verified what must be strongly consistent (two orgs verifying one domain at
//! the same moment must not both win), so every claim is held by one Durable Object (the
//! `DomainRegistry`, named `registry`) running [`Registry::apply`] one command at a time;
//! [`MemoryRegistry`] runs the same logic natively. The KV index `domain:{name}` stays the
//! routing pointer (one read per `/sso/start`): it is written when a claim becomes verified and
//! removed when it becomes unverified or is released, and the org config's `verified_domains`
//! (maintained by the same writes) is what admission and routing check, next to the operator's
//! `domains` (see `crate::core::directory::OrgDirectory::set_verified`).
//!
//! Public mail domains ([`public`]) can never be claimed.

pub mod doh;
mod hashset;
#[cfg(any(test, feature = "testkit"))]
mod memory;
pub mod public;
mod registry;

#[cfg(any(test, feature = "testkit"))]
pub use memory::MemoryRegistry;
pub use registry::{Change, Claim, ClaimStatus, Command, Refusal, Registry, Reply};

use crate::core::email::EmailDomain;
use crate::core::random::{Random, RandomError};
use crate::core::store::StoreError;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// The label under which the challenge is published.
pub const TXT_LABEL: &str = "_edge-sso-challenge";
/// The prefix of every challenge value.
pub const TXT_VALUE_PREFIX: &str = "edge-sso-verify=";
/// Random bytes in a challenge (192 bits: unguessable, and short enough for one TXT string).
pub const CHALLENGE_BYTES: usize = 24;
/// Consecutive definite misses after which a verified claim becomes `unverified`.
pub const MISSES_TO_UNVERIFY: u32 = 3;
/// Most verified claims one cron run re-checks (each is a DoH request and a registry call; a
/// Worker invocation has a bounded number of subrequests).
pub const RECHECKS_PER_RUN: usize = 20;
/// Most claims (of any status) one org may hold.
pub const MAX_CLAIMS_PER_ORG: usize = 50;

/// Where the challenge of `domain` is published: `_edge-sso-challenge.{domain}`.
pub fn txt_name(domain: &EmailDomain) -> String {
    format!("{TXT_LABEL}.{domain}")
}

/// A fresh challenge value, `edge-sso-verify=<32 base64url characters>`.
pub fn new_txt_value(random: &dyn Random) -> Result<String, RandomError> {
    Ok(format!(
        "{TXT_VALUE_PREFIX}{}",
        random.token(CHALLENGE_BYTES)?
    ))
}

/// The outcome of one look at the challenge record, each with its own wire string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DnsCheck {
    /// The record holds the claim's exact value.
    #[serde(rename = "verified")]
    Verified,
    /// The name does not exist (RCODE 3).
    #[serde(rename = "nxdomain")]
    NxDomain,
    /// The name exists but has no TXT record.
    #[serde(rename = "no_record")]
    NoRecord,
    /// TXT records exist, none with the claim's value.
    #[serde(rename = "wrong_value")]
    WrongValue,
    /// The resolver could not resolve the name (RCODE 2): says nothing about the record.
    #[serde(rename = "servfail")]
    ServFail,
    /// The DoH endpoint failed (unreachable, timeout, non-200, unreadable, other RCODE), or its
    /// answer was truncated (TC, or more records than are looked at): says nothing either.
    #[serde(rename = "doh_failure")]
    DohFailure,
}

impl DnsCheck {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsCheck::Verified => "verified",
            DnsCheck::NxDomain => "nxdomain",
            DnsCheck::NoRecord => "no_record",
            DnsCheck::WrongValue => "wrong_value",
            DnsCheck::ServFail => "servfail",
            DnsCheck::DohFailure => "doh_failure",
        }
    }
    /// A definite answer that the record is not there (counts towards [`MISSES_TO_UNVERIFY`]).
    pub fn is_miss(self) -> bool {
        matches!(
            self,
            DnsCheck::NxDomain | DnsCheck::NoRecord | DnsCheck::WrongValue
        )
    }
    /// What to tell the operator.
    pub fn message(self) -> &'static str {
        match self {
            DnsCheck::Verified => "The TXT record holds the challenge: the domain is verified.",
            DnsCheck::NxDomain => "The name txt_name does not exist in DNS (NXDOMAIN): publish the TXT record.",
            DnsCheck::NoRecord => "The name exists but has no TXT record: publish the TXT record.",
            DnsCheck::WrongValue => "A TXT record exists but none holds this claim's value: check txt_value.",
            DnsCheck::ServFail => "The resolver could not resolve the name (SERVFAIL); nothing was changed: try again later.",
            DnsCheck::DohFailure => "The DNS-over-HTTPS resolver could not be asked; nothing was changed: try again later.",
        }
    }
}

/// The future a [`RegistryPort`] call returns.
pub type RegistryFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, StoreError>> + 'a>>;

/// Runs a [`Command`] against the one domain registry. On the edge: a call to the
/// `DomainRegistry` Durable Object. Natively: [`MemoryRegistry`].
pub trait RegistryPort {
    /// Applies `cmd` and answers once its effects are stored.
    fn call(&self, cmd: Command) -> RegistryFuture<'_>;
}

#[cfg(test)]
mod tests;
