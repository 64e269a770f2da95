//! Snapshot versions: an unchanged snapshot is confirmed, not sent again, and a confirmation is
//! never given for a snapshot that is no longer the ledger's state.

use super::memory::OrgRows as Stored;
use super::*;
use crate::core::clock::UnixTime;
use crate::core::email::EmailAddress;
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::org::Role;
use crate::core::random::CountingRandom;
use crate::core::scim::ScimRequest;
use crate::core::secret::sha256_hex;
use proptest::prelude::*;
use std::collections::BTreeMap;

const T0: u64 = 1_700_000_000;
const SCIM_TOKEN: &str = "scim-token";
use crate::core::scim::filter::{CORE_GROUP_SCHEMA as GROUP, CORE_USER_SCHEMA as USER};
use crate::core::scim::PATCH_SCHEMA as PATCH_OP;

/// A ledger kept in memory across commands, as the Durable Object keeps it, over stored rows.
struct Object {
    ledger: Ledger,
    stored: Stored,
    random: CountingRandom,
    now: u64,
}

impl Object {
    fn new() -> Object {
        let mut o = Object {
            ledger: Ledger::default(),
            stored: Stored::default(),
            random: CountingRandom::default(),
            now: T0,
        };
        o.run(Command::SetScimToken {
            hash: Some(sha256_hex(SCIM_TOKEN.as_bytes())),
        });
        o
    }

    fn run(&mut self, cmd: Command) -> Reply {
        let cold = &self.stored.cold;
        let reply = self
            .ledger
            .apply(cmd, UnixTime(self.now), &self.random, cold)
            .unwrap();
        let changes = self.ledger.take_changes();
        self.stored.keep(changes);
        reply
    }

    fn ask(&mut self, have: Option<&SnapshotVersion>) -> Reply {
        self.run(Command::Snapshot {
            have: have.cloned(),
        })
    }

    fn full(&mut self) -> (SnapshotVersion, Snapshot) {
        match self.ask(None) {
            Reply::Snapshot { version, snapshot } => (version, snapshot),
            r => panic!("{r:?}"),
        }
    }

    fn sign_in(&mut self, i: u8, sid: Option<String>) -> Reply {
        self.run(Command::SignIn(SignInFacts {
            issuer: IssuerUrl::parse("https://idp.example.com").unwrap(),
            sub: format!("s{i}"),
            email: EmailAddress::parse(&format!("u{i}@acme.com")).unwrap(),
            role: Role::Write,
            sid,
            expires_at: UnixTime(self.now + 3600),
            provisioning: Provisioning::Sso,
            issued_at: Some(UnixTime(self.now)),
        }))
    }

    fn scim(&mut self, method: &str, path: &str, body: serde_json::Value) -> Option<String> {
        let reply = self.run(Command::Scim {
            token_hash: sha256_hex(SCIM_TOKEN.as_bytes()),
            base_url: "https://sso.example/scim/v2/acme".into(),
            request: ScimRequest {
                method: method.into(),
                path: path.into(),
                query: None,
                body: body.to_string().into_bytes(),
            },
        });
        let Reply::Scim(response) = reply else {
            panic!("{reply:?}")
        };
        response.body?.get("id")?.as_str().map(str::to_owned)
    }
}

#[test]
fn an_unchanged_snapshot_is_confirmed_and_a_changed_one_sent_with_a_new_version() {
    let mut o = Object::new();
    o.sign_in(1, None);
    let (v1, s1) = o.full();
    assert!(matches!(o.ask(Some(&v1)), Reply::SnapshotCurrent));
    // Sign-ins change members, not the revocation state.
    o.now += 10;
    o.sign_in(1, None);
    o.sign_in(2, Some("sid-2".into()));
    assert!(matches!(o.ask(Some(&v1)), Reply::SnapshotCurrent));
    o.run(Command::Revoke {
        selector: Selector::Sub("s1".into()),
    });
    let Reply::Snapshot {
        version: v2,
        snapshot: s2,
    } = o.ask(Some(&v1))
    else {
        panic!("a revocation must be sent")
    };
    assert_ne!(v1, v2);
    assert_ne!(s1, s2);
    assert!(s2.subs.contains_key("s1"));
    assert!(matches!(o.ask(Some(&v2)), Reply::SnapshotCurrent));
    // An old version is answered with the whole state.
    assert!(matches!(o.ask(Some(&v1)), Reply::Snapshot { .. }));
}

#[test]
fn the_version_names_the_content_whichever_ledger_instance_made_it() {
    let mut o = Object::new();
    o.sign_in(1, None);
    o.run(Command::Revoke {
        selector: Selector::Email("U1@acme.com".into()),
    });
    let (v, s) = o.full();
    // The object restarted: the state loaded from the rows has the same version.
    let mut reloaded = o.stored.load();
    let cold = &o.stored.cold;
    let r = CountingRandom::default();
    let have = Some(v.clone());
    let reply = reloaded.apply(Command::Snapshot { have }, UnixTime(o.now), &r, cold);
    assert!(matches!(reply.unwrap(), Reply::SnapshotCurrent));
    assert_eq!(reloaded.snapshot(), s);
    assert_eq!(SnapshotVersion::of(&Snapshot::default()), {
        SnapshotVersion::of(&Ledger::default().snapshot())
    });
    assert_ne!(SnapshotVersion::of(&Snapshot::default()), v);
}

#[test]
fn pruning_old_revocations_changes_the_version() {
    let mut o = Object::new();
    o.run(Command::Revoke {
        selector: Selector::Sid("old".into()),
    });
    let (v, s) = o.full();
    assert!(s.sids.contains_key("old"));
    o.now += REVOCATION_KEEP_SECS + 1;
    let Reply::Snapshot { snapshot, .. } = o.ask(Some(&v)) else {
        panic!("the pruned revocation must not be confirmed as current")
    };
    assert!(snapshot.sids.is_empty());
}

#[test]
fn scim_deactivations_and_groups_change_the_version() {
    let mut o = Object::new();
    let mut ids = BTreeMap::new();
    apply_step(&mut o, &Step::ScimUser(1), &mut ids);
    assert!(ids.contains_key(&1), "the SCIM user was created");
    let (v1, _) = o.full();
    apply_step(&mut o, &Step::ScimGroup(0, vec![1]), &mut ids);
    let Reply::Snapshot {
        version: v2,
        snapshot,
    } = o.ask(Some(&v1))
    else {
        panic!("a group change must be sent")
    };
    assert_eq!(snapshot.groups_for("s1", "u1@acme.com"), ["g0"]);
    apply_step(&mut o, &Step::ScimActive(1, false), &mut ids);
    let Reply::Snapshot { snapshot, .. } = o.ask(Some(&v2)) else {
        panic!("a deactivation must be sent")
    };
    assert!(snapshot.inactive_emails.contains("u1@acme.com"));
}

/// What a test step does to the ledger.
#[derive(Clone, Debug)]
enum Step {
    SignIn(u8, Option<u8>),
    RevokeSub(u8),
    RevokeEmail(u8),
    RevokeSid(u8),
    RevokeAll,
    Logout(u8, u8),
    ScimUser(u8),
    ScimActive(u8, bool),
    ScimGroup(u8, Vec<u8>),
    ScimDelete(u8),
    Purge,
    Wait(u64),
    Ask,
}

fn step() -> impl Strategy<Value = Step> {
    let i = 0u8..4;
    prop_oneof![
        (i.clone(), proptest::option::of(0u8..3)).prop_map(|(i, s)| Step::SignIn(i, s)),
        i.clone().prop_map(Step::RevokeSub),
        i.clone().prop_map(Step::RevokeEmail),
        (0u8..3).prop_map(Step::RevokeSid),
        Just(Step::RevokeAll),
        (0u8..6, 0u8..3).prop_map(|(j, s)| Step::Logout(j, s)),
        i.clone().prop_map(Step::ScimUser),
        (i.clone(), any::<bool>()).prop_map(|(i, a)| Step::ScimActive(i, a)),
        (0u8..2, proptest::collection::vec(i.clone(), 0..3))
            .prop_map(|(g, m)| Step::ScimGroup(g, m)),
        i.prop_map(Step::ScimDelete),
        Just(Step::Purge),
        prop_oneof![Just(1u64), Just(REVOCATION_KEEP_SECS)].prop_map(Step::Wait),
        Just(Step::Ask),
    ]
}

fn apply_step(o: &mut Object, step: &Step, scim_ids: &mut BTreeMap<u8, String>) {
    let user = |i: u8, active: bool| {
        serde_json::json!({
            "schemas": [USER], "userName": format!("u{i}@acme.com"),
            "externalId": format!("s{i}"), "active": active,
        })
    };
    match step {
        Step::SignIn(i, sid) => {
            o.sign_in(*i, sid.map(|s| format!("sid-{s}")));
        }
        Step::RevokeSub(i) => {
            o.run(Command::Revoke {
                selector: Selector::Sub(format!("s{i}")),
            });
        }
        Step::RevokeEmail(i) => {
            o.run(Command::Revoke {
                selector: Selector::Email(format!("U{i}@acme.com")),
            });
        }
        Step::RevokeSid(s) => {
            o.run(Command::Revoke {
                selector: Selector::Sid(format!("sid-{s}")),
            });
        }
        Step::RevokeAll => {
            o.run(Command::Revoke {
                selector: Selector::All,
            });
        }
        Step::Logout(j, s) => {
            o.run(Command::BackchannelLogout {
                jti: format!("jti-{j}"),
                issued_at: Some(UnixTime(o.now)),
                remember_until: UnixTime(o.now + 120),
                sub: None,
                sid: Some(format!("sid-{s}")),
            });
        }
        Step::ScimUser(i) => {
            if let Some(id) = o.scim("POST", "/Users", user(*i, true)) {
                scim_ids.insert(*i, id);
            }
        }
        Step::ScimActive(i, active) => {
            if let Some(id) = scim_ids.get(i).cloned() {
                let op = serde_json::json!({
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "value": {"active": active}}],
                });
                o.scim("PATCH", &format!("/Users/{id}"), op);
            }
        }
        Step::ScimGroup(g, members) => {
            let members: Vec<_> = members
                .iter()
                .filter_map(|i| scim_ids.get(i))
                .map(|id| serde_json::json!({ "value": id }))
                .collect();
            let group = serde_json::json!({
                "schemas": [GROUP], "displayName": format!("g{g}"), "members": members,
            });
            o.scim("POST", "/Groups", group);
        }
        Step::ScimDelete(i) => {
            if let Some(id) = scim_ids.remove(i) {
                o.scim("DELETE", &format!("/Users/{id}"), serde_json::Value::Null);
            }
        }
        Step::Purge => {
            o.run(Command::Purge);
            scim_ids.clear();
        }
        Step::Wait(secs) => o.now += secs,
        Step::Ask => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever happens between two refreshes, "current" is answered only when the state loaded
    /// from the stored rows still has the snapshot the caller holds, and every snapshot sent
    /// is that state.
    #[test]
    fn current_is_confirmed_only_while_the_stored_state_is_unchanged(
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        let mut o = Object::new();
        let mut scim_ids = BTreeMap::new();
        let (mut version, mut held) = o.full();
        for step in &steps {
            apply_step(&mut o, step, &mut scim_ids);
            let reply = o.ask(Some(&version));
            let truth = o.stored.load().snapshot();
            // Pruned on time by the long-lived ledger (it skips the scan while it can).
            let horizon = UnixTime(o.now - REVOCATION_KEEP_SECS);
            let times = truth.subs.values().chain(truth.emails.values()).chain(truth.sids.values());
            prop_assert!(times.into_iter().all(|t| *t >= horizon), "{:?}", truth);
            match reply {
                Reply::SnapshotCurrent => prop_assert_eq!(&held, &truth, "after {:?}", step),
                Reply::Snapshot { version: v, snapshot } => {
                    prop_assert_eq!(&snapshot, &truth);
                    prop_assert_eq!(&v, &SnapshotVersion::of(&truth));
                    // Sent whole only when it changed.
                    prop_assert_ne!(&v, &version);
                    version = v;
                    held = snapshot;
                }
                r => prop_assert!(false, "{:?}", r),
            }
        }
    }
}

/// The native ledger behind a port that notes the kind of each reply.
struct Noting<'a> {
    ledger: &'a MemoryLedger<&'a crate::core::clock::FixedClock>,
    replies: std::cell::RefCell<Vec<&'static str>>,
}

impl LedgerPort for Noting<'_> {
    fn call<'b>(&'b self, org: &'b OrgSlug, cmd: Command) -> LedgerFuture<'b> {
        Box::pin(async move {
            let reply = self.ledger.call_now(org, cmd)?;
            self.replies.borrow_mut().push(match reply {
                Reply::Snapshot { .. } => "snapshot",
                Reply::SnapshotCurrent => "current",
                _ => "other",
            });
            Ok(reply)
        })
    }
}

#[test]
fn the_isolate_cache_sends_its_version_and_keeps_its_copy_while_current() {
    use crate::core::clock::{Clock, FixedClock};
    use crate::core::store::block_on;
    use std::rc::Rc;
    let clock = FixedClock::at(T0);
    let ledger = MemoryLedger::new(&clock);
    let port = Noting {
        ledger: &ledger,
        replies: Default::default(),
    };
    let org = OrgSlug::parse("acme").unwrap();
    let cache = SnapshotCache::new();
    let first = block_on(cache.snapshot(&port, &org, clock.now())).unwrap();
    // Fresh: not asked again.
    block_on(cache.snapshot(&port, &org, clock.now())).unwrap();
    assert_eq!(*port.replies.borrow(), ["snapshot"]);
    // Stale and unchanged: confirmed, the same copy kept.
    clock.advance(REVOCATION_CACHE_SECS);
    let again = block_on(cache.snapshot(&port, &org, clock.now())).unwrap();
    assert!(Rc::ptr_eq(&first, &again));
    // Forgotten by this isolate: asked at once (and still current).
    cache.forget(&org);
    block_on(cache.snapshot(&port, &org, clock.now())).unwrap();
    assert_eq!(*port.replies.borrow(), ["snapshot", "current", "current"]);
    // Changed: sent whole once the copy is stale.
    let revoked_at = clock.now();
    ledger
        .call_now(
            &org,
            Command::Revoke {
                selector: Selector::All,
            },
        )
        .unwrap();
    assert!(block_on(cache.snapshot(&port, &org, clock.now()))
        .unwrap()
        .all_before
        .is_none());
    clock.advance(REVOCATION_CACHE_SECS);
    let changed = block_on(cache.snapshot(&port, &org, clock.now())).unwrap();
    assert_eq!(changed.all_before, Some(revoked_at));
    assert_eq!(port.replies.borrow().last(), Some(&"snapshot"));
    // A ledger that fails fails closed once the copy is stale, whatever version is held.
    clock.advance(REVOCATION_CACHE_SECS);
    ledger.fail.set(true);
    assert!(block_on(cache.snapshot(&port, &org, clock.now())).is_err());
}

#[test]
fn the_isolate_cache_keeps_its_snapshots_within_a_memory_budget() {
    let big = |mib: usize| {
        let mut s = Snapshot::default();
        s.sids.insert("x".repeat(mib << 20), UnixTime(T0));
        s
    };
    // The versions do not matter here (and hashing 20 MiB would slow the test down).
    let v = |_: &Snapshot| SnapshotVersion::of(&Snapshot::default());
    let org = |name: &str| OrgSlug::parse(&format!("org-{name}")).unwrap();
    let now = UnixTime(T0);
    let cache = SnapshotCache::new();
    let (a, b, c) = (big(20), big(20), Snapshot::default());
    assert!(a.weight() > 20 << 20 && 2 * a.weight() > SNAPSHOT_CACHE_MAX_BYTES);
    cache.insert(&org("a"), v(&a), a, now);
    cache.insert(&org("c"), v(&c), c, now);
    // Two large ones do not fit: the others go, even fresh ones.
    cache.insert(&org("b"), v(&b), b, now);
    assert!(cache.get(&org("a"), now).is_none());
    assert!(cache.get(&org("c"), now).is_none());
    assert!(cache.get(&org("b"), now).is_some());
    // A small one fits beside it; a stale one is dropped first when room is needed.
    let c = Snapshot::default();
    cache.insert(&org("c"), v(&c), c, now);
    assert!(cache.get(&org("b"), now).is_some());
    let later = now.plus(REVOCATION_CACHE_SECS);
    let c = Snapshot::default();
    cache.insert(&org("c"), v(&c), c, later);
    let a = big(20);
    cache.insert(&org("a"), v(&a), a, later);
    assert!(
        cache.get(&org("b"), later).is_none(),
        "stale, so dropped for room"
    );
    assert!(
        cache.get(&org("c"), later).is_some(),
        "fresh, and there is room"
    );
    assert!(cache.get(&org("a"), later).is_some());
    // One larger than the whole budget is still kept (it is needed to answer), alone.
    let huge = big(40);
    cache.insert(&org("h"), v(&huge), huge, later);
    assert!(cache.get(&org("h"), later).is_some());
    assert!(cache.get(&org("a"), later).is_none());
}

/// The whole offboarding model on a ledger kept in memory as the object keeps it: time-based
/// revocations, back-channel logouts (with replays), SCIM deactivation and reactivation, several
/// steps in one second. Every session made before something that ends it stays refused (also
/// after a reactivation), every other one is honoured, and a deactivated member cannot sign in.
mod offboarding_model {
    use super::*;
    use crate::core::member::Member;
    use crate::core::session::OrgSession;

    #[derive(Clone, Debug)]
    enum Op {
        SignIn(u8, u8),
        Revoke(Selector),
        Logout(u8, u8),
        Active(u8, bool),
        Tick,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..3, 0u8..3).prop_map(|(i, j)| Op::SignIn(i, j)),
            1 => (0u8..3).prop_map(|i| Op::Revoke(Selector::Sub(format!("s{i}")))),
            1 => (0u8..3).prop_map(|i| Op::Revoke(Selector::Email(format!("U{i}@acme.com")))),
            1 => Just(Op::Revoke(Selector::All)),
            2 => (0u8..4, 0u8..3).prop_map(|(k, j)| Op::Logout(k, j)),
            2 => (0u8..3, any::<bool>()).prop_map(|(i, a)| Op::Active(i, a)),
            2 => Just(Op::Tick),
        ]
    }

    struct Model {
        /// (session, member, sid, ended)
        sessions: Vec<(OrgSession, u8, u8, bool)>,
        inactive: [bool; 3],
        seen_jtis: Vec<u8>,
        /// When each `sid` was last logged out (the IdP's clock is the ledger's here).
        logged_out_at: [Option<u64>; 3],
    }

    fn apply(o: &mut Object, m: &mut Model, op: &Op, ids: &BTreeMap<u8, String>) {
        let end = |m: &mut Model, hit: &dyn Fn(u8, u8) -> bool| {
            for (_, i, j, ended) in &mut m.sessions {
                *ended |= hit(*i, *j);
            }
        };
        match op {
            Op::SignIn(i, j) => {
                let sid = format!("sid-{j}");
                match o.sign_in(*i, Some(sid.clone())) {
                    Reply::SignedIn { logged_in_at, .. } => {
                        assert!(!m.inactive[*i as usize], "a deactivated member signed in");
                        // An ID token issued no later than the logout of its sid is refused.
                        assert!(
                            m.logged_out_at[*j as usize].is_none_or(|at| at < o.now),
                            "a sign-in in a logged-out IdP session"
                        );
                        let member = Member::for_tests(
                            &format!("s{i}"),
                            &format!("u{i}@acme.com"),
                            Role::Write,
                        )
                        .with_sid(Some(&sid));
                        let s = OrgSession::new(&member, UnixTime(o.now), 3600, None)
                            .logged_in_from(logged_in_at);
                        m.sessions.push((s, *i, *j, false));
                    }
                    Reply::Refused { reason } => {
                        let ended = m.logged_out_at[*j as usize].is_some_and(|at| at >= o.now);
                        assert!(m.inactive[*i as usize] || ended, "refused: {reason:?}")
                    }
                    r => panic!("{r:?}"),
                }
            }
            Op::Revoke(selector) => {
                o.run(Command::Revoke {
                    selector: selector.clone(),
                });
                match selector {
                    Selector::Sub(s) => end(m, &|i, _| *s == format!("s{i}")),
                    Selector::Email(e) => {
                        end(m, &|i, _| e.to_lowercase() == format!("u{i}@acme.com"))
                    }
                    _ => end(m, &|_, _| true),
                }
            }
            Op::Logout(k, j) => {
                let reply = o.run(Command::BackchannelLogout {
                    jti: format!("jti-{k}"),
                    issued_at: Some(UnixTime(o.now)),
                    remember_until: UnixTime(o.now + 600),
                    sub: None,
                    sid: Some(format!("sid-{j}")),
                });
                let Reply::LoggedOut { replayed, .. } = reply else {
                    panic!("{reply:?}")
                };
                assert_eq!(replayed, m.seen_jtis.contains(k), "jti-{k}");
                if !replayed {
                    m.logged_out_at[*j as usize] = Some(o.now);
                    m.seen_jtis.push(*k);
                    end(m, &|_, jj| jj == *j);
                }
            }
            Op::Active(i, active) => {
                let op = serde_json::json!({
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "value": {"active": active}}],
                });
                o.scim("PATCH", &format!("/Users/{}", ids[i]), op);
                if !active {
                    end(m, &|ii, _| ii == *i);
                }
                m.inactive[*i as usize] = !active;
            }
            Op::Tick => o.now += 1,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn every_ended_session_stays_refused_and_no_other_is(
            ops in proptest::collection::vec(op(), 1..40),
        ) {
            let mut o = Object::new();
            let mut ids = BTreeMap::new();
            for i in 0..3 {
                apply_step(&mut o, &Step::ScimUser(i), &mut ids);
            }
            prop_assert_eq!(ids.len(), 3);
            let mut m = Model {
                sessions: Vec::new(),
                inactive: [false; 3],
                seen_jtis: Vec::new(),
                logged_out_at: [None; 3],
            };
            let mut have = None;
            let mut held = Snapshot::default();
            for op in &ops {
                apply(&mut o, &mut m, op, &ids);
                // The isolate's view: refreshed with its version, as the cache does.
                match o.ask(have.as_ref()) {
                    Reply::Snapshot { version, snapshot } => {
                        have = Some(version);
                        held = snapshot;
                    }
                    Reply::SnapshotCurrent => {}
                    r => prop_assert!(false, "{:?}", r),
                }
                for (s, i, j, ended) in &m.sessions {
                    prop_assert_eq!(
                        held.session_valid(s), !ended,
                        "member {} sid {} after {:?}", i, j, op
                    );
                }
            }
        }
    }
}

/// A ledger port whose answer was computed before a revocation this isolate makes while the
/// answer is on its way (the revoking request interleaves at the refresh's await).
struct RevokedMeanwhile<'a> {
    ledger: &'a MemoryLedger<&'a crate::core::clock::FixedClock>,
    cache: &'a SnapshotCache,
}

impl LedgerPort for RevokedMeanwhile<'_> {
    fn call<'b>(&'b self, org: &'b OrgSlug, cmd: Command) -> LedgerFuture<'b> {
        Box::pin(async move {
            let before = self.ledger.call_now(org, cmd)?;
            let revoke = Command::Revoke {
                selector: Selector::All,
            };
            self.ledger.call_now(org, revoke)?;
            self.cache.forget(org);
            Ok(before)
        })
    }
}

#[test]
fn a_refresh_in_flight_across_this_isolates_own_revocation_is_not_kept_fresh() {
    use crate::core::clock::{Clock, FixedClock};
    use crate::core::store::block_on;
    let clock = FixedClock::at(T0);
    let ledger = MemoryLedger::new(&clock);
    let cache = SnapshotCache::new();
    let org = OrgSlug::parse("acme").unwrap();
    let port = RevokedMeanwhile {
        ledger: &ledger,
        cache: &cache,
    };
    // The request that was in flight gets the state of when it asked.
    let old = block_on(cache.snapshot(&port, &org, clock.now())).unwrap();
    assert!(old.all_before.is_none());
    // The isolate's next request does not take it as fresh: it asks again and sees the revoke.
    assert!(cache.get(&org, clock.now()).is_none());
    let now = block_on(cache.snapshot(&ledger, &org, clock.now())).unwrap();
    assert_eq!(now.all_before, Some(clock.now()));
}
