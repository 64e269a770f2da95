//! Revocation semantics on the in-memory ledger.

use super::*;
use crate::core::clock::{Clock, FixedClock, UnixTime};
use crate::core::email::EmailAddress;
use crate::core::member::Member;
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::org::Role;
use crate::core::random::CountingRandom;
use crate::core::session::{OrgSession, Revocations};
use crate::core::store::block_on;

const T0: u64 = 1_700_000_000;

fn org() -> OrgSlug {
    OrgSlug::parse("acme").unwrap()
}

fn issuer() -> IssuerUrl {
    IssuerUrl::parse("https://idp.example.com").unwrap()
}

fn facts(sub: &str, email: &str, sid: Option<&str>, now: u64) -> SignInFacts {
    SignInFacts {
        issuer: issuer(),
        sub: sub.into(),
        email: EmailAddress::parse(email).unwrap(),
        role: Role::Write,
        sid: sid.map(str::to_owned),
        expires_at: UnixTime(now + 3600),
        provisioning: Provisioning::Sso,
        issued_at: Some(UnixTime(now)),
    }
}

/// Signs `sub` in through the ledger, as the login does, and returns the org session.
fn sign_in(
    l: &MemoryLedger<&FixedClock>,
    clock: &FixedClock,
    sub: &str,
    email: &str,
    sid: Option<&str>,
) -> OrgSession {
    let now = clock.now();
    let reply = l
        .call_now(&org(), Command::SignIn(facts(sub, email, sid, now.secs())))
        .unwrap();
    let Reply::SignedIn { logged_in_at, .. } = reply else {
        panic!("refused: {reply:?}")
    };
    let member = Member::for_tests(sub, email, Role::Write).with_sid(sid);
    OrgSession::new(&member, now, 3600, None).logged_in_from(logged_in_at)
}

fn valid(l: &MemoryLedger<&FixedClock>, s: &OrgSession) -> bool {
    let Reply::Snapshot { snapshot: snap, .. } = l
        .call_now(&org(), Command::Snapshot { have: None })
        .unwrap()
    else {
        panic!()
    };
    snap.session_valid(s)
}

fn revoke(l: &MemoryLedger<&FixedClock>, selector: Selector) -> u64 {
    match l.call_now(&org(), Command::Revoke { selector }).unwrap() {
        Reply::Revoked { revoked } => revoked,
        r => panic!("{r:?}"),
    }
}

#[test]
fn revoking_a_member_by_email_ends_their_sessions_but_not_later_ones_or_others() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    let a = sign_in(&l, &clock, "a", "Alice@acme.test", None);
    let b = sign_in(&l, &clock, "b", "bob@acme.test", None);
    clock.advance(5);
    assert_eq!(revoke(&l, Selector::Email("alice@ACME.test".into())), 1);
    assert!(!valid(&l, &a));
    assert!(valid(&l, &b));
    // Signing in again, even within the same second, gives a session that is honoured.
    let a2 = sign_in(&l, &clock, "a", "alice@acme.test", None);
    assert!(a2.logged_in_at() > clock.now());
    assert!(valid(&l, &a2));
}

#[test]
fn revoking_by_sub_by_sid_and_all() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    let a1 = sign_in(&l, &clock, "a", "a@acme.test", Some("s1"));
    let a2 = sign_in(&l, &clock, "a", "a@acme.test", Some("s2"));
    let b = sign_in(&l, &clock, "b", "b@acme.test", Some("s3"));
    assert_eq!(revoke(&l, Selector::Sid("s1".into())), 1);
    assert!(!valid(&l, &a1));
    assert!(valid(&l, &a2));
    assert_eq!(revoke(&l, Selector::Sub("a".into())), 1);
    assert!(!valid(&l, &a2));
    assert!(valid(&l, &b));
    assert_eq!(revoke(&l, Selector::All), 1);
    assert!(!valid(&l, &b));
    let c = sign_in(&l, &clock, "c", "c@acme.test", None);
    assert!(
        valid(&l, &c),
        "an org revoke does not refuse later sign-ins"
    );
}

#[test]
fn a_revocation_with_no_known_session_still_refuses_sessions_made_before_it() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    let other = MemoryLedger::new(&clock);
    // A session the ledger never recorded (made before the ledger existed).
    let s = sign_in(&other, &clock, "x", "x@acme.test", None);
    assert_eq!(revoke(&l, Selector::Sub("x".into())), 0);
    assert!(!valid(&l, &s));
}

#[test]
fn backchannel_logout_ends_the_sid_once_and_a_replay_changes_nothing() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    let s1 = sign_in(&l, &clock, "a", "a@acme.test", Some("sid-1"));
    let logout = |jti: &str, sub: Option<&str>, sid: Option<&str>| {
        l.call_now(
            &org(),
            Command::BackchannelLogout {
                jti: jti.into(),
                issued_at: Some(clock.now()),
                remember_until: clock.now().plus(120),
                sub: sub.map(str::to_owned),
                sid: sid.map(str::to_owned),
            },
        )
        .unwrap()
    };
    let r = logout("j1", Some("a"), Some("sid-1"));
    assert!(
        matches!(
            r,
            Reply::LoggedOut {
                replayed: false,
                revoked: 1
            }
        ),
        "{r:?}"
    );
    assert!(!valid(&l, &s1));
    clock.advance(10);
    // A new session in the same IdP session after the logout (the IdP reused the sid).
    let s2 = sign_in(&l, &clock, "a", "a@acme.test", Some("sid-1"));
    let r = logout("j1", Some("a"), Some("sid-1"));
    assert!(
        matches!(
            r,
            Reply::LoggedOut {
                replayed: true,
                revoked: 0
            }
        ),
        "{r:?}"
    );
    assert!(
        valid(&l, &s2),
        "a replay must not end sessions made after the first delivery"
    );
    // With only sub: every session of the member.
    let r = logout("j2", Some("a"), None);
    assert!(
        matches!(
            r,
            Reply::LoggedOut {
                replayed: false,
                revoked: 1
            }
        ),
        "{r:?}"
    );
    assert!(!valid(&l, &s2));
}

#[test]
fn seen_jtis_are_forgotten_only_after_the_token_expires() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    let cmd = |jti: &str| Command::BackchannelLogout {
        jti: jti.into(),
        issued_at: None,
        remember_until: UnixTime(T0 + 120),
        sub: Some("a".into()),
        sid: None,
    };
    l.call_now(&org(), cmd("j")).unwrap();
    clock.set(T0 + 120);
    assert!(matches!(
        l.call_now(&org(), cmd("j")).unwrap(),
        Reply::LoggedOut { replayed: true, .. }
    ));
    clock.set(T0 + 121);
    assert!(matches!(
        l.call_now(&org(), cmd("j")).unwrap(),
        Reply::LoggedOut {
            replayed: false,
            ..
        }
    ));
}

#[test]
fn members_are_recorded_at_sign_in_and_listed_in_pages_with_live_session_counts() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    for i in 0..5 {
        sign_in(
            &l,
            &clock,
            &format!("u{i}"),
            &format!("u{i}@acme.test"),
            None,
        );
    }
    sign_in(&l, &clock, "u0", "u0@acme.test", None);
    let page = |cursor: Option<String>| match l
        .call_now(&org(), Command::Members { limit: 2, cursor })
        .unwrap()
    {
        Reply::Members {
            members,
            next_cursor,
        } => (members, next_cursor),
        r => panic!("{r:?}"),
    };
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let (members, next) = page(cursor);
        assert!(members.len() <= 2);
        all.extend(members);
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(all.len(), 5);
    let u0 = all.iter().find(|m| m.sub.as_deref() == Some("u0")).unwrap();
    assert_eq!(u0.sessions, 2);
    assert_eq!(u0.source, MemberSource::Sso);
    assert_eq!(u0.last_login, Some(UnixTime(T0)));
    assert_eq!(u0.role, Some(Role::Write));
    revoke(&l, Selector::Sub("u0".into()));
    let Reply::Members { members, .. } = l
        .call_now(
            &org(),
            Command::Members {
                limit: 200,
                cursor: None,
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        members
            .iter()
            .find(|m| m.sub.as_deref() == Some("u0"))
            .unwrap()
            .sessions,
        0
    );
}

#[test]
fn purge_forgets_members_and_refuses_every_earlier_session() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    let s = sign_in(&l, &clock, "a", "a@acme.test", None);
    l.call_now(&org(), Command::Purge).unwrap();
    assert!(!valid(&l, &s));
    let Reply::Members { members, .. } = l
        .call_now(
            &org(),
            Command::Members {
                limit: 10,
                cursor: None,
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert!(members.is_empty());
}

#[test]
fn scim_token_hash_compares_in_constant_time_and_can_be_cleared() {
    let mut ledger = Ledger::default();
    let rnd = CountingRandom::default();
    assert!(!ledger.scim_token_matches("abc"));
    ledger
        .apply(
            Command::SetScimToken {
                hash: Some("abc".into()),
            },
            UnixTime(T0),
            &rnd,
            &MemoryColdRows::default(),
        )
        .unwrap();
    assert!(ledger.scim_token_matches("abc"));
    assert!(!ledger.scim_token_matches("abd"));
    assert!(!ledger.scim_token_matches(""));
    ledger
        .apply(
            Command::SetScimToken { hash: None },
            UnixTime(T0),
            &rnd,
            &MemoryColdRows::default(),
        )
        .unwrap();
    assert!(!ledger.scim_token_matches("abc"));
}

#[test]
fn the_snapshot_cache_asks_the_ledger_once_per_window_and_fails_closed() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    let s = sign_in(&l, &clock, "a", "a@acme.test", None);
    let cache = SnapshotCache::new();
    let revs = LedgerRevocations {
        ledger: &l,
        cache: &cache,
    };
    let calls = l.calls.get();
    for _ in 0..10 {
        assert!(block_on(revs.org_session_valid(&org(), &s, clock.now())).unwrap());
    }
    assert_eq!(l.calls.get(), calls + 1, "one ledger call per window");
    revoke(&l, Selector::Sub("a".into()));
    // Within the window, the old snapshot stands; after it, the revocation is seen.
    clock.advance(REVOCATION_CACHE_SECS - 1);
    assert!(block_on(revs.org_session_valid(&org(), &s, clock.now())).unwrap());
    clock.advance(1);
    assert!(!block_on(revs.org_session_valid(&org(), &s, clock.now())).unwrap());
    // A ledger that fails fails closed, once the snapshot is stale.
    clock.advance(REVOCATION_CACHE_SECS);
    l.fail.set(true);
    assert!(block_on(revs.org_session_valid(&org(), &s, clock.now())).is_err());
}

#[test]
fn old_revocations_are_pruned_after_any_session_they_could_refuse_has_ended() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    revoke(&l, Selector::Sub("a".into()));
    clock.advance(REVOCATION_KEEP_SECS + 1);
    let Reply::Snapshot { snapshot: snap, .. } = l
        .call_now(&org(), Command::Snapshot { have: None })
        .unwrap()
    else {
        panic!()
    };
    assert!(snap.subs.is_empty());
}

#[test]
fn unreadable_rows_are_skipped_and_counted() {
    let l = Ledger::load([
        Row {
            kind: "member".into(),
            id: "x".into(),
            json: "{not json".into(),
        },
        Row {
            kind: "revoke_sub".into(),
            id: "a".into(),
            json: "5".into(),
        },
    ]);
    assert_eq!(l.unreadable_rows, 1);
    assert_eq!(l.subs.get("a"), Some(&UnixTime(5)));
}

fn spend(l: &MemoryLedger<&FixedClock>, org: &OrgSlug, id: &str, until: u64) -> Reply {
    l.call_now(
        org,
        Command::SpendTransaction {
            id: id.into(),
            until: UnixTime(until),
        },
    )
    .unwrap()
}

#[test]
fn a_transaction_is_spent_once_per_org_and_survives_a_reload_and_a_purge() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    assert!(matches!(
        spend(&l, &org(), "tx-1", T0 + 600),
        Reply::Spent { first: true }
    ));
    // MemoryLedger reloads from rows at every call: the mark is stored, not only in memory.
    assert!(matches!(
        spend(&l, &org(), "tx-1", T0 + 600),
        Reply::Spent { first: false }
    ));
    assert!(matches!(
        spend(&l, &org(), "tx-2", T0 + 600),
        Reply::Spent { first: true }
    ));
    // Ledgers are per org: the same id elsewhere is another transaction.
    let other = OrgSlug::parse("globex").unwrap();
    assert!(matches!(
        spend(&l, &other, "tx-1", T0 + 600),
        Reply::Spent { first: true }
    ));
    // A deleted and re-created org still refuses the replay.
    l.call_now(&org(), Command::Purge).unwrap();
    assert!(matches!(
        spend(&l, &org(), "tx-1", T0 + 600),
        Reply::Spent { first: false }
    ));
}

#[test]
fn spent_transactions_are_pruned_after_their_expiry_and_capped_in_time() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    spend(&l, &org(), "tx", T0 + 600);
    clock.set(T0 + 600);
    assert!(matches!(
        spend(&l, &org(), "tx", T0 + 600),
        Reply::Spent { first: false }
    ));
    clock.set(T0 + 601);
    // Forgotten once its transaction has expired (its cookie is refused as expired by then).
    assert!(matches!(
        spend(&l, &org(), "tx", T0 + 601),
        Reply::Spent { first: true }
    ));
    // A far-away `until` is held for at most MAX_SPENT_MEMORY_SECS.
    let l = MemoryLedger::new(&clock);
    spend(&l, &org(), "far", u64::MAX);
    clock.set(T0 + 601 + MAX_SPENT_MEMORY_SECS + 1);
    assert!(matches!(
        spend(&l, &org(), "far", u64::MAX),
        Reply::Spent { first: true }
    ));
}

#[test]
fn spending_past_the_cap_is_refused_and_changes_nothing() {
    let mut ledger = Ledger::default();
    let r = CountingRandom::default();
    let now = UnixTime(T0);
    let mut cold = MemoryColdRows::default();
    for i in 0..MAX_SPENT_TRANSACTIONS {
        let key = (SPENT_TX.to_owned(), format!("t{i}"));
        cold.rows
            .insert(key, (UnixTime(T0 + 600), (T0 + 600).to_string()));
    }
    let cmd = Command::SpendTransaction {
        id: "one-more".into(),
        until: UnixTime(T0 + 600),
    };
    assert!(matches!(
        ledger.apply(cmd, now, &r, &cold).unwrap(),
        Reply::Rejected { .. }
    ));
    assert_eq!(ledger.take_changes(), vec![]);
    // A replay of a remembered one is still recognised at the cap.
    let cmd = Command::SpendTransaction {
        id: "t0".into(),
        until: UnixTime(T0 + 600),
    };
    assert!(matches!(
        ledger.apply(cmd, now, &r, &cold).unwrap(),
        Reply::Spent { first: false }
    ));
}

#[test]
fn a_revocation_in_the_second_of_a_sign_in_dated_after_an_earlier_revocation_refuses_it() {
    // A sign-in in the second of a revocation that applies to it is dated the next second (so
    // it is not born revoked); a revocation made after that sign-in, still in the same second,
    // must refuse it all the same, whatever its selector.
    for second in [
        Selector::All,
        Selector::Sub("a".into()),
        Selector::Email("a@acme.com".into()),
        Selector::Sid("sid-a".into()),
    ] {
        let clock = FixedClock::at(T0);
        let l = MemoryLedger::new(&clock);
        revoke(&l, Selector::Sub("a".into()));
        let s = sign_in(&l, &clock, "a", "a@acme.com", Some("sid-a"));
        assert!(
            s.logged_in_at() > clock.now(),
            "dated after the first revocation"
        );
        assert!(valid(&l, &s));
        revoke(&l, second.clone());
        assert!(!valid(&l, &s), "{second:?} in the same second refuses it");
        // A sign-in after that is not born revoked.
        let again = sign_in(&l, &clock, "a", "a@acme.com", Some("sid-a"));
        assert!(valid(&l, &again), "after {second:?}");
    }
}

#[test]
fn deleting_an_org_in_the_second_of_a_dated_sign_in_refuses_it() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    revoke(&l, Selector::All);
    let s = sign_in(&l, &clock, "a", "a@acme.com", None);
    l.call_now(&org(), Command::Purge).unwrap();
    assert!(!valid(&l, &s));
}

#[test]
fn a_revocation_answered_after_a_sign_in_refuses_it_when_the_clock_went_back() {
    // The object's clock is not monotonic (whole seconds; an object may start again on another
    // machine whose clock is a little behind): a revocation answered after a sign-in must refuse
    // that session even when the object's clock now reads an earlier second than the sign-in's.
    for selector in [
        Selector::All,
        Selector::Sub("a".into()),
        Selector::Email("a@acme.com".into()),
        Selector::Sid("sid-a".into()),
    ] {
        let clock = FixedClock::at(T0 + 1);
        let l = MemoryLedger::new(&clock);
        let s = sign_in(&l, &clock, "a", "a@acme.com", Some("sid-a"));
        clock.set(T0);
        revoke(&l, selector.clone());
        assert!(!valid(&l, &s), "{selector:?} after the clock went back");
    }
    let clock = FixedClock::at(T0 + 1);
    let l = MemoryLedger::new(&clock);
    let s = sign_in(&l, &clock, "a", "a@acme.com", None);
    clock.set(T0);
    l.call_now(&org(), Command::Purge).unwrap();
    assert!(!valid(&l, &s), "an org deleted after the clock went back");
}

/// A model-checked run of sign-ins and revocations, several in a second: every session made
/// before a revocation that selects it is refused from then on, every other one is honoured.
mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        SignIn(u8, u8),
        Revoke(Selector),
        Tick,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0u8..3, 0u8..3).prop_map(|(i, j)| Step::SignIn(i, j)),
            1 => (0u8..3).prop_map(|i| Step::Revoke(Selector::Sub(format!("m{i}")))),
            1 => (0u8..3).prop_map(|i| Step::Revoke(Selector::Email(format!("M{i}@Acme.com")))),
            1 => (0u8..3).prop_map(|j| Step::Revoke(Selector::Sid(format!("sid-{j}")))),
            1 => Just(Step::Revoke(Selector::All)),
            1 => Just(Step::Tick),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn revocations_refuse_exactly_the_sessions_made_before_them(
            steps in proptest::collection::vec(step(), 1..30),
        ) {
            let clock = FixedClock::at(T0);
            let l = MemoryLedger::new(&clock);
            // (session, member index, sid index, refused in the model)
            let mut sessions: Vec<(OrgSession, u8, u8, bool)> = Vec::new();
            for step in &steps {
                match step {
                    Step::SignIn(i, j) => {
                        let sid = format!("sid-{j}");
                        let s = sign_in(&l, &clock, &format!("m{i}"), &format!("m{i}@acme.com"), Some(&sid));
                        sessions.push((s, *i, *j, false));
                    }
                    Step::Revoke(selector) => {
                        revoke(&l, selector.clone());
                        for (_, i, j, refused) in &mut sessions {
                            *refused |= match selector {
                                Selector::Sub(s) => *s == format!("m{i}"),
                                Selector::Email(e) => e.to_lowercase() == format!("m{i}@acme.com"),
                                Selector::Sid(s) => *s == format!("sid-{j}"),
                                Selector::All => true,
                            };
                        }
                    }
                    Step::Tick => clock.advance(1),
                }
                for (s, _, _, refused) in &sessions {
                    prop_assert_eq!(valid(&l, s), !refused, "{:?} after {:?}", s, step);
                }
            }
        }
    }
}

#[test]
fn deleting_an_org_never_moves_its_revoke_all_time_back() {
    let clock = FixedClock::at(T0 + 100);
    let l = MemoryLedger::new(&clock);
    revoke(&l, Selector::All);
    // The object's clock reads earlier now (a restart on a machine a little behind).
    clock.set(T0);
    l.call_now(&org(), Command::Purge).unwrap();
    let Reply::Snapshot { snapshot, .. } = l
        .call_now(&org(), Command::Snapshot { have: None })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(snapshot.all_before, Some(UnixTime(T0 + 100)));
}

#[test]
fn an_id_token_issued_before_its_idp_session_was_logged_out_opens_no_session() {
    // The user signs out at the IdP while the code of an earlier sign-in is still on its way:
    // the logout token comes first, then the callback with an ID token of that sid.
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    let logout = Command::BackchannelLogout {
        jti: "j1".into(),
        issued_at: Some(UnixTime(T0)),
        remember_until: UnixTime(T0 + 120),
        sub: None,
        sid: Some("sid-1".into()),
    };
    l.call_now(&org(), logout).unwrap();
    clock.advance(2);
    let mut late = facts("a", "a@acme.com", Some("sid-1"), T0 + 2);
    late.issued_at = Some(UnixTime(T0 - 1));
    let r = l.call_now(&org(), Command::SignIn(late)).unwrap();
    assert!(
        matches!(
            r,
            Reply::Refused {
                reason: Refusal::IdpSessionEnded
            }
        ),
        "{r:?}"
    );
    // Issued in the logout's own second: refused too (whole seconds; the user signs in again).
    let mut same = facts("a", "a@acme.com", Some("sid-1"), T0 + 2);
    same.issued_at = Some(UnixTime(T0));
    let r = l.call_now(&org(), Command::SignIn(same)).unwrap();
    assert!(matches!(r, Reply::Refused { .. }), "{r:?}");
    // A new sign-in later in an IdP session that kept its sid is let in; so is another sid.
    let s = sign_in(&l, &clock, "a", "a@acme.com", Some("sid-1"));
    assert!(valid(&l, &s));
    let mut other = facts("a", "a@acme.com", Some("sid-2"), T0 + 2);
    other.issued_at = Some(UnixTime(T0 - 1));
    let r = l.call_now(&org(), Command::SignIn(other)).unwrap();
    assert!(matches!(r, Reply::SignedIn { .. }), "{r:?}");
    // Kept as long as the revocations, then pruned.
    clock.advance(REVOCATION_KEEP_SECS + 1);
    let mut old = facts("a", "a@acme.com", Some("sid-1"), clock.now().secs());
    old.issued_at = Some(UnixTime(T0 - 1));
    let r = l.call_now(&org(), Command::SignIn(old)).unwrap();
    assert!(matches!(r, Reply::SignedIn { .. }), "{r:?}");
}

#[test]
fn a_revocation_by_email_matches_the_idna_form_sessions_carry() {
    let clock = FixedClock::at(T0);
    let l = MemoryLedger::new(&clock);
    let s = sign_in(&l, &clock, "a", "ann@bücher.example", None);
    assert_eq!(s.email().as_str(), "ann@xn--bcher-kva.example");
    revoke(&l, Selector::Email("Ann@BÜCHER.example".into()));
    assert!(!valid(&l, &s));
}
