//! Status transitions and conflict rules of the registry, through [`MemoryRegistry`] (so the
//! wire and row formats are exercised too), on a stopped clock.

use super::*;
use crate::core::clock::{FixedClock, UnixTime};
use crate::core::org::OrgSlug;
use crate::core::random::CountingRandom;

fn org(s: &str) -> OrgSlug {
    OrgSlug::parse(s).unwrap()
}
fn dom(s: &str) -> EmailDomain {
    EmailDomain::parse(s).unwrap()
}

struct T {
    clock: FixedClock,
}

impl T {
    fn new() -> T {
        T {
            clock: FixedClock::at(1_000),
        }
    }
    fn reg(&self) -> MemoryRegistry<&FixedClock> {
        MemoryRegistry::new(&self.clock)
    }
}

fn claim(r: &MemoryRegistry<&FixedClock>, o: &str, d: &str) -> (Claim, bool) {
    match r
        .call_now(Command::Claim {
            org: org(o),
            domain: dom(d),
        })
        .unwrap()
    {
        Reply::Claimed { claim, created } => (claim, created),
        other => panic!("{other:?}"),
    }
}

fn record(r: &MemoryRegistry<&FixedClock>, o: &str, d: &str, check: DnsCheck) -> Reply {
    r.call_now(Command::Record {
        org: org(o),
        domain: dom(d),
        check,
    })
    .unwrap()
}

fn recorded(reply: Reply) -> (Claim, Change) {
    match reply {
        Reply::Recorded { claim, change } => (claim, change),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_challenge_is_fresh_and_well_formed() {
    let random = CountingRandom::default();
    let a = new_txt_value(&random).unwrap();
    let b = new_txt_value(&random).unwrap();
    assert_ne!(a, b);
    assert!(a.starts_with("edge-sso-verify="));
    assert_eq!(a.len(), "edge-sso-verify=".len() + 32);
    assert!(a["edge-sso-verify=".len()..]
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert_eq!(
        txt_name(&dom("Bücher.de")),
        "_edge-sso-challenge.xn--bcher-kva.de"
    );
}

#[test]
fn claim_is_pending_and_idempotent() {
    let t = T::new();
    let r = t.reg();
    let (c, created) = claim(&r, "acme", "acme.com");
    assert!(created);
    assert_eq!(c.status, ClaimStatus::Pending);
    assert_eq!(c.claimed_at, UnixTime(1_000));
    assert_eq!(c.verified_at, None);
    t.clock.advance(10);
    let (again, created) = claim(&r, "acme", "acme.com");
    assert!(!created);
    assert_eq!(
        again, c,
        "the same challenge: a published record stays valid"
    );
    let v = c.view();
    assert_eq!(v["txt_name"], "_edge-sso-challenge.acme.com");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["last_checked"], serde_json::Value::Null);
}

#[test]
fn verify_then_misses_unverify_after_n() {
    let t = T::new();
    let r = t.reg();
    claim(&r, "acme", "acme.com");
    // A miss while pending changes nothing but the last check.
    let (c, ch) = recorded(record(&r, "acme", "acme.com", DnsCheck::NxDomain));
    assert_eq!(
        (c.status, ch, c.misses),
        (ClaimStatus::Pending, Change::None, 0)
    );
    assert_eq!(c.last_check, Some(DnsCheck::NxDomain));
    t.clock.advance(60);
    let (c, ch) = recorded(record(&r, "acme", "acme.com", DnsCheck::Verified));
    assert_eq!((c.status, ch), (ClaimStatus::Verified, Change::Verified));
    assert_eq!(c.verified_at, Some(UnixTime(1_060)));
    // Failures of the resolver never count.
    for check in [DnsCheck::ServFail, DnsCheck::DohFailure, DnsCheck::ServFail] {
        let (c, ch) = recorded(record(&r, "acme", "acme.com", check));
        assert_eq!(
            (c.status, ch, c.misses),
            (ClaimStatus::Verified, Change::None, 0)
        );
    }
    // Misses count; a success in between resets them.
    for check in [DnsCheck::NoRecord, DnsCheck::WrongValue] {
        let (c, ch) = recorded(record(&r, "acme", "acme.com", check));
        assert_eq!((c.status, ch), (ClaimStatus::Verified, Change::None));
    }
    let (c, _) = recorded(record(&r, "acme", "acme.com", DnsCheck::Verified));
    assert_eq!((c.misses, c.verified_at), (0, Some(UnixTime(1_060))));
    for n in 1..MISSES_TO_UNVERIFY {
        let (c, ch) = recorded(record(&r, "acme", "acme.com", DnsCheck::NxDomain));
        assert_eq!(
            (c.status, ch, c.misses),
            (ClaimStatus::Verified, Change::None, n)
        );
        // A resolver failure in between does not break the run of misses either.
        recorded(record(&r, "acme", "acme.com", DnsCheck::DohFailure));
    }
    let (c, ch) = recorded(record(&r, "acme", "acme.com", DnsCheck::NoRecord));
    assert_eq!(
        (c.status, ch),
        (ClaimStatus::Unverified, Change::Unverified)
    );
    // Further misses keep it unverified without another change; a success re-verifies.
    let (c, ch) = recorded(record(&r, "acme", "acme.com", DnsCheck::NoRecord));
    assert_eq!((c.status, ch), (ClaimStatus::Unverified, Change::None));
    t.clock.advance(5);
    let (c, ch) = recorded(record(&r, "acme", "acme.com", DnsCheck::Verified));
    assert_eq!(
        (c.status, ch, c.misses),
        (ClaimStatus::Verified, Change::Verified, 0)
    );
    assert_eq!(c.verified_at, Some(UnixTime(1_065)));
}

#[test]
fn pending_claims_never_block_and_verified_ones_do() {
    let t = T::new();
    let r = t.reg();
    claim(&r, "alpha", "shared.com");
    claim(&r, "beta", "shared.com");
    claim(&r, "gamma", "shared.com");
    // Both pending: the first to prove wins.
    let (_, ch) = recorded(record(&r, "beta", "shared.com", DnsCheck::Verified));
    assert_eq!(ch, Change::Verified);
    assert_eq!(
        record(&r, "alpha", "shared.com", DnsCheck::Verified),
        Reply::Refused {
            refusal: Refusal::VerifiedElsewhere { org: org("beta") }
        }
    );
    // A refused check changes nothing.
    match r
        .call_now(Command::Get {
            org: org("alpha"),
            domain: dom("shared.com"),
        })
        .unwrap()
    {
        Reply::Found { claim: Some(c) } => {
            assert_eq!((c.status, c.last_checked), (ClaimStatus::Pending, None))
        }
        other => panic!("{other:?}"),
    }
    // A miss for a pending claim is still recorded while another org holds the domain.
    let (c, _) = recorded(record(&r, "gamma", "shared.com", DnsCheck::WrongValue));
    assert_eq!(c.status, ClaimStatus::Pending);
    // Once beta's claim lapses, alpha may verify.
    for _ in 0..MISSES_TO_UNVERIFY {
        record(&r, "beta", "shared.com", DnsCheck::WrongValue);
    }
    let (_, ch) = recorded(record(&r, "alpha", "shared.com", DnsCheck::Verified));
    assert_eq!(ch, Change::Verified);
    // And beta cannot come back while alpha holds it.
    assert!(matches!(
        record(&r, "beta", "shared.com", DnsCheck::Verified),
        Reply::Refused {
            refusal: Refusal::VerifiedElsewhere { .. }
        }
    ));
    // Release frees it.
    match r
        .call_now(Command::Release {
            org: org("alpha"),
            domain: dom("shared.com"),
        })
        .unwrap()
    {
        Reply::Released { claims } => assert_eq!(claims.len(), 1),
        other => panic!("{other:?}"),
    }
    let (_, ch) = recorded(record(&r, "beta", "shared.com", DnsCheck::Verified));
    assert_eq!(ch, Change::Verified);
}

#[test]
fn unknown_claims_are_refused() {
    let t = T::new();
    let r = t.reg();
    assert_eq!(
        record(&r, "acme", "acme.com", DnsCheck::Verified),
        Reply::Refused {
            refusal: Refusal::NoClaim
        }
    );
    assert_eq!(
        r.call_now(Command::Release {
            org: org("acme"),
            domain: dom("acme.com")
        })
        .unwrap(),
        Reply::Released { claims: vec![] }
    );
    assert!(r.rows().is_empty());
}

#[test]
fn list_release_org_and_the_claim_limit() {
    let t = T::new();
    let r = t.reg();
    for i in 0..MAX_CLAIMS_PER_ORG {
        claim(&r, "acme", &format!("d{i}.acme.com"));
    }
    claim(&r, "other", "other.com");
    assert_eq!(
        r.call_now(Command::Claim {
            org: org("acme"),
            domain: dom("one-more.com")
        })
        .unwrap(),
        Reply::Refused {
            refusal: Refusal::TooManyClaims
        }
    );
    // Re-claiming an existing one is still fine.
    assert!(!claim(&r, "acme", "d0.acme.com").1);
    match r.call_now(Command::List { org: org("acme") }).unwrap() {
        Reply::Claims { claims } => {
            assert_eq!(claims.len(), MAX_CLAIMS_PER_ORG);
            assert!(claims.iter().all(|c| c.org == org("acme")));
        }
        other => panic!("{other:?}"),
    }
    match r
        .call_now(Command::ReleaseOrg { org: org("acme") })
        .unwrap()
    {
        Reply::Released { claims } => assert_eq!(claims.len(), MAX_CLAIMS_PER_ORG),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.rows().len(), 1);
    assert!(r.rows().contains_key("other.com other"));
}

#[test]
fn due_lists_verified_claims_least_recently_checked_first() {
    let t = T::new();
    let r = t.reg();
    for d in ["a.com", "b.com", "c.com", "p.com"] {
        claim(&r, "acme", d);
    }
    for d in ["c.com", "a.com", "b.com"] {
        t.clock.advance(10);
        record(&r, "acme", d, DnsCheck::Verified);
    }
    t.clock.advance(10);
    record(&r, "acme", "c.com", DnsCheck::ServFail);
    let due = |limit| match r.call_now(Command::Due { limit }).unwrap() {
        Reply::Claims { claims } => claims
            .into_iter()
            .map(|c| c.domain.to_string())
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(due(10), ["a.com", "b.com", "c.com"]);
    assert_eq!(due(2), ["a.com", "b.com"]);
}

#[test]
fn rows_round_trip_and_bad_rows_are_skipped() {
    let t = T::new();
    let r = t.reg();
    claim(&r, "acme", "acme.com");
    record(&r, "acme", "acme.com", DnsCheck::Verified);
    let mut rows: Vec<(String, String)> = r.rows().into_iter().collect();
    rows.push(("x.com acme".into(), "{".into()));
    // A row under another claim's id is refused too.
    rows.push(("evil.com acme".into(), rows[0].1.clone()));
    let reg = Registry::load(rows);
    assert_eq!(reg.unreadable_rows, 2);
}

#[test]
fn dns_check_wire_strings() {
    for (c, s, miss) in [
        (DnsCheck::Verified, "verified", false),
        (DnsCheck::NxDomain, "nxdomain", true),
        (DnsCheck::NoRecord, "no_record", true),
        (DnsCheck::WrongValue, "wrong_value", true),
        (DnsCheck::ServFail, "servfail", false),
        (DnsCheck::DohFailure, "doh_failure", false),
    ] {
        assert_eq!(c.as_str(), s);
        assert_eq!(serde_json::to_value(c).unwrap(), s);
        assert_eq!(c.is_miss(), miss);
        assert!(!c.message().is_empty());
    }
}
