//! The registry's state and its one entry point, [`Registry::apply`], with the status
//! transitions and conflict rules. Like the org ledger, the state lives in memory (in the
//! Durable Object, loaded once from its SQLite rows) and every command reports the rows it
//! changed ([`Registry::take_changes`]), to be stored before the answer goes out.

use super::{new_txt_value, txt_name, DnsCheck, MAX_CLAIMS_PER_ORG, MISSES_TO_UNVERIFY};
use crate::core::clock::UnixTime;
use crate::core::email::EmailDomain;
use crate::core::org::OrgSlug;
use crate::core::random::{Random, RandomError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Claimed, never proven: routes nowhere, blocks nobody.
    Pending,
    /// Proven by DNS: routes and admits.
    Verified,
    /// Was verified, then missed [`MISSES_TO_UNVERIFY`] checks in a row: routes nowhere until
    /// verified again.
    Unverified,
}

/// One org's claim on one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The domain (normalised as the lookup does).
    pub domain: EmailDomain,
    /// The claiming org.
    pub org: OrgSlug,
    /// Where it stands.
    pub status: ClaimStatus,
    /// The challenge to publish at [`txt_name`]; fixed for the life of the claim.
    pub txt_value: String,
    /// When it was claimed.
    pub claimed_at: UnixTime,
    /// When it last became verified.
    pub verified_at: Option<UnixTime>,
    /// When DNS was last asked (whatever the answer).
    pub last_checked: Option<UnixTime>,
    /// The last answer.
    pub last_check: Option<DnsCheck>,
    /// Consecutive definite misses while verified.
    pub misses: u32,
}

impl Claim {
    /// The claim as the admin API shows it.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "domain": self.domain,
            "status": self.status,
            "txt_name": txt_name(&self.domain),
            "txt_value": self.txt_value,
            "verified_at": self.verified_at,
            "last_checked": self.last_checked,
            "last_check": self.last_check,
            "misses": self.misses,
        })
    }
    /// Whether the claim routes and admits.
    pub fn is_verified(&self) -> bool {
        self.status == ClaimStatus::Verified
    }
}

/// A registry command (the Durable Object's wire format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Claims `domain` for `org` (`pending`, fresh challenge); an existing claim of the same
    /// org is returned as it is.
    Claim {
        /// The org.
        org: OrgSlug,
        /// The domain.
        domain: EmailDomain,
    },
    /// Every claim of `org`, by domain.
    List {
        /// The org.
        org: OrgSlug,
    },
    /// One claim.
    Get {
        /// The org.
        org: OrgSlug,
        /// The domain.
        domain: EmailDomain,
    },
    /// Records the answer of a DNS check of `org`'s claim on `domain`.
    Record {
        /// The org.
        org: OrgSlug,
        /// The domain.
        domain: EmailDomain,
        /// What DNS said.
        check: DnsCheck,
    },
    /// Releases one claim.
    Release {
        /// The org.
        org: OrgSlug,
        /// The domain.
        domain: EmailDomain,
    },
    /// Releases every claim of `org` (the org is being deleted).
    ReleaseOrg {
        /// The org.
        org: OrgSlug,
    },
    /// Up to `limit` verified claims, least recently checked first (the cron's work list).
    Due {
        /// Most claims returned.
        limit: usize,
    },
}

/// What a status change means for routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Routing stays as it was (the claim may have been checked).
    None,
    /// The claim became verified: add it to routing.
    Verified,
    /// The claim became unverified: take it out of routing.
    Unverified,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The org has no claim on the domain.
    NoClaim,
    /// Another org holds the domain verified (named for the operator only).
    VerifiedElsewhere {
        /// The org that holds it.
        org: OrgSlug,
    },
    /// The org already holds [`MAX_CLAIMS_PER_ORG`] claims.
    TooManyClaims,
}

/// A registry reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// [`Command::Claim`]: the claim, and whether it is new.
    Claimed {
        /// The claim.
        claim: Claim,
        /// `false` when the org had claimed the domain before.
        created: bool,
    },
    /// [`Command::List`], [`Command::Due`].
    Claims {
        /// The claims.
        claims: Vec<Claim>,
    },
    /// [`Command::Get`].
    Found {
        /// The claim, if there is one.
        claim: Option<Claim>,
    },
    /// [`Command::Record`]: the claim after the check, and what changed.
    Recorded {
        /// The claim.
        claim: Claim,
        /// The routing consequence.
        change: Change,
    },
    /// [`Command::Release`], [`Command::ReleaseOrg`]: the claims removed.
    Released {
        /// The removed claims.
        claims: Vec<Claim>,
    },
    /// The command was refused (nothing changed).
    Refused {
        /// Why.
        refusal: Refusal,
    },
}

/// Why a command could not run at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// The CSPRNG failed (a challenge could not be made).
    Random,
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Random => RandomError.fmt(f),
        }
    }
}

impl std::error::Error for RegistryError {}

/// The id of a claim's row: domain and org, which contain no space.
fn row_id(domain: &EmailDomain, org: &OrgSlug) -> String {
    format!("{domain} {org}")
}

/// Every claim, by (domain, org).
#[derive(Debug, Default)]
pub struct Registry {
    claims: BTreeMap<(EmailDomain, OrgSlug), Claim>,
    dirty: BTreeSet<(EmailDomain, OrgSlug)>,
    /// Rows that could not be read back at load (skipped, counted for the log).
    pub unreadable_rows: usize,
}

impl Registry {
    /// The registry stored as `(id, json)` rows.
    pub fn load(rows: impl IntoIterator<Item = (String, String)>) -> Registry {
        let mut r = Registry::default();
        for (id, json) in rows {
            match crate::core::json::from_str::<Claim>(&json) {
                Ok(c) if row_id(&c.domain, &c.org) == id => {
                    r.claims.insert((c.domain.clone(), c.org.clone()), c);
                }
                _ => r.unreadable_rows += 1,
            }
        }
        r
    }

    /// The rows changed since the last call: `(id, Some(json))` to write, `(id, None)` to
    /// delete.
    pub fn take_changes(&mut self) -> Vec<(String, Option<String>)> {
        std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|key| {
                let json = self
                    .claims
                    .get(&key)
                    .and_then(|c| serde_json::to_string(c).ok());
                (row_id(&key.0, &key.1), json)
            })
            .collect()
    }

    fn touch(&mut self, key: &(EmailDomain, OrgSlug)) {
        self.dirty.insert(key.clone());
    }

    /// The org (other than `org`) holding `domain` verified, if any.
    fn verified_elsewhere(&self, domain: &EmailDomain, org: &OrgSlug) -> Option<OrgSlug> {
        self.claims
            .iter()
            .find(|((d, o), c)| d == domain && o != org && c.is_verified())
            .map(|((_, o), _)| o.clone())
    }

    /// Applies one command at `now`.
    pub fn apply(
        &mut self,
        cmd: Command,
        now: UnixTime,
        random: &dyn Random,
    ) -> Result<Reply, RegistryError> {
        Ok(match cmd {
            Command::Claim { org, domain } => {
                let key = (domain, org);
                if let Some(c) = self.claims.get(&key) {
                    return Ok(Reply::Claimed {
                        claim: c.clone(),
                        created: false,
                    });
                }
                if self.claims.keys().filter(|(_, o)| *o == key.1).count() >= MAX_CLAIMS_PER_ORG {
                    return Ok(Reply::Refused {
                        refusal: Refusal::TooManyClaims,
                    });
                }
                let claim = Claim {
                    domain: key.0.clone(),
                    org: key.1.clone(),
                    status: ClaimStatus::Pending,
                    txt_value: new_txt_value(random).map_err(|_| RegistryError::Random)?,
                    claimed_at: now,
                    verified_at: None,
                    last_checked: None,
                    last_check: None,
                    misses: 0,
                };
                self.claims.insert(key.clone(), claim.clone());
                self.touch(&key);
                Reply::Claimed {
                    claim,
                    created: true,
                }
            }
            Command::List { org } => Reply::Claims {
                claims: self
                    .claims
                    .values()
                    .filter(|c| c.org == org)
                    .cloned()
                    .collect(),
            },
            Command::Get { org, domain } => Reply::Found {
                claim: self.claims.get(&(domain, org)).cloned(),
            },
            Command::Record { org, domain, check } => self.record(domain, org, check, now),
            Command::Release { org, domain } => {
                let key = (domain, org);
                let removed = self.claims.remove(&key);
                if removed.is_some() {
                    self.touch(&key);
                }
                Reply::Released {
                    claims: removed.into_iter().collect(),
                }
            }
            Command::ReleaseOrg { org } => {
                let keys: Vec<_> = self
                    .claims
                    .keys()
                    .filter(|(_, o)| *o == org)
                    .cloned()
                    .collect();
                let mut claims = Vec::new();
                for key in keys {
                    if let Some(c) = self.claims.remove(&key) {
                        claims.push(c);
                    }
                    self.touch(&key);
                }
                Reply::Released { claims }
            }
            Command::Due { limit } => {
                let mut due: Vec<&Claim> =
                    self.claims.values().filter(|c| c.is_verified()).collect();
                // Never checked first, then the oldest check; ties by domain (the map order).
                due.sort_by_key(|c| c.last_checked);
                Reply::Claims {
                    claims: due.into_iter().take(limit).cloned().collect(),
                }
            }
        })
    }

    /// The status transitions:
    ///
    /// | status     | check                          | becomes                              |
    /// |------------|--------------------------------|--------------------------------------|
    /// | any        | `verified`, held elsewhere      | refused, unchanged                    |
    /// | pending / unverified | `verified`           | verified, misses 0 ([`Change::Verified`]) |
    /// | verified   | `verified`                     | verified, misses 0                   |
    /// | verified   | a miss, misses+1 < N           | verified, misses+1                   |
    /// | verified   | a miss, misses+1 = N           | unverified ([`Change::Unverified`])  |
    /// | pending / unverified | a miss               | unchanged                            |
    /// | any        | `servfail` / `doh_failure`     | unchanged (only `last_checked`)       |
    fn record(
        &mut self,
        domain: EmailDomain,
        org: OrgSlug,
        check: DnsCheck,
        now: UnixTime,
    ) -> Reply {
        let other = (check == DnsCheck::Verified)
            .then(|| self.verified_elsewhere(&domain, &org))
            .flatten();
        let key = (domain, org);
        let Some(claim) = self.claims.get_mut(&key) else {
            return Reply::Refused {
                refusal: Refusal::NoClaim,
            };
        };
        if let Some(org) = other {
            return Reply::Refused {
                refusal: Refusal::VerifiedElsewhere { org },
            };
        }
        claim.last_checked = Some(now);
        claim.last_check = Some(check);
        let mut change = Change::None;
        match (claim.status, check) {
            (ClaimStatus::Verified, DnsCheck::Verified) => claim.misses = 0,
            (_, DnsCheck::Verified) => {
                claim.status = ClaimStatus::Verified;
                claim.verified_at = Some(now);
                claim.misses = 0;
                change = Change::Verified;
            }
            (ClaimStatus::Verified, c) if c.is_miss() => {
                claim.misses = claim.misses.saturating_add(1);
                if claim.misses >= MISSES_TO_UNVERIFY {
                    claim.status = ClaimStatus::Unverified;
                    change = Change::Unverified;
                }
            }
            _ => {}
        }
        let claim = claim.clone();
        self.touch(&key);
        Reply::Recorded { claim, change }
    }
}
