//! The org ledger's retained memory stays flat under sign-in traffic (issue 11 item 8: the
//! soak's "isolate's memory flat").
//!
//! # Method
//! A counting global allocator tags every allocation (in a header in front of it) with whether it
//! was made while the ledger was working: while the command is built, [`Ledger::apply`] runs and
//! [`Ledger::take_changes`] runs. A tagged allocation adds its size to [`LEDGER_LIVE`] and,
//! whenever it is freed later (inside the region or not), subtracts it again. So `LEDGER_LIVE`
//! is exactly the bytes made for the ledger's work that are still alive: what the ledger keeps
//! (including any part of a command it moves into its state), plus nothing else, because the
//! reply is dropped at once and the test's storage (the rows, in the part the Durable Object's
//! SQLite table plays) runs outside the region and keeps copies of the [`RowChange`]s' strings,
//! dropping the originals. The store's own allocations are untagged, so the rows never count as
//! the ledger's.
//!
//! The workload: 1,000 sign-ins of 4 members, each as the callback does it (spend the login
//! transaction, then sign in), and a back-channel logout after every fifth (200), in which each
//! member signs in with one IdP session id and the logout names it. Time advances a quarter of a
//! second per sign-in, so nothing expires: everything the ledger keeps in memory it keeps for
//! good. What is measured after 100 sign-ins and after 1,000 must differ by a small constant:
//! the hot state (4 members with at most `MAX_SESSION_MARKS` session marks each, 4 sid
//! revocations) does not grow with traffic; spent transactions, seen `jti`s and audit events
//! (which do) must stay in the rows.
//!
//! The allocator counts one thread (the test's); the test binary holds this one test only.

use edge_sso::core::clock::UnixTime;
use edge_sso::core::email::EmailAddress;
use edge_sso::core::ledger::{
    is_cold, Command, Ledger, MemoryColdRows, Provisioning, Reply, RowChange, SignInFacts,
};
use edge_sso::core::oidc::issuer::IssuerUrl;
use edge_sso::core::org::Role;
use edge_sso::core::random::CountingRandom;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Live bytes allocated while the ledger was working.
static LEDGER_LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static IN_LEDGER: Cell<bool> = const { Cell::new(false) };
}

/// The system allocator with a header recording whether each allocation is the ledger's.
struct Tagging;

/// The header in front of an allocation of `layout`, and the layout of the whole block.
fn block(layout: Layout) -> (usize, Layout) {
    let head = layout.align().max(16);
    let whole = Layout::from_size_align(layout.size() + head, head).expect("layout");
    (head, whole)
}

unsafe impl GlobalAlloc for Tagging {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (head, whole) = block(layout);
        let base = System.alloc(whole);
        if base.is_null() {
            return base;
        }
        let ours = IN_LEDGER.try_with(Cell::get).unwrap_or(false);
        base.cast::<usize>().write(usize::from(ours));
        if ours {
            LEDGER_LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        base.add(head)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let (head, whole) = block(layout);
        let base = ptr.sub(head);
        if base.cast::<usize>().read() == 1 {
            LEDGER_LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        System.dealloc(base, whole);
    }
}

#[global_allocator]
static ALLOC: Tagging = Tagging;

/// Runs `f` as the ledger's work.
fn as_ledger<T>(f: impl FnOnce() -> T) -> T {
    IN_LEDGER.with(|c| c.set(true));
    let out = f();
    IN_LEDGER.with(|c| c.set(false));
    out
}

const T0: u64 = 1_700_000_000;

/// The stored rows (what the Durable Object's tables hold), outside the counted region: the
/// hot ones, and the cold ones the ledger reads through its `ColdRows` port.
#[derive(Default)]
struct Rows {
    hot: BTreeMap<(String, String), String>,
    cold: MemoryColdRows,
}

impl Rows {
    /// Stores copies of `changes` (so none of the ledger's allocations stays alive here).
    fn store(&mut self, changes: Vec<RowChange>) {
        for c in changes {
            if is_cold(c.kind) {
                // Copies id and json.
                self.cold.store(&c);
                continue;
            }
            let key = (c.kind.to_owned(), c.id.as_str().to_owned());
            match c.json {
                Some(json) => self.hot.insert(key, json.as_str().to_owned()),
                None => self.hot.remove(&key),
            };
        }
    }

    fn len(&self) -> usize {
        self.hot.len() + self.cold.rows.len()
    }
}

struct Traffic {
    ledger: Ledger,
    rows: Rows,
    random: CountingRandom,
    signed_in: usize,
}

impl Traffic {
    /// Builds the command and applies it as the ledger's work, then stores its changes.
    fn run(&mut self, cmd: impl FnOnce() -> Command, now: UnixTime) -> Reply {
        let (reply, changes) = as_ledger(|| {
            let reply = self
                .ledger
                .apply(cmd(), now, &self.random, &self.rows.cold)
                .expect("apply");
            (reply, self.ledger.take_changes())
        });
        self.rows.store(changes);
        reply
    }

    /// One sign-in as the callback does it, and every fifth a back-channel logout.
    fn sign_in(&mut self) {
        let i = self.signed_in;
        let now = UnixTime(T0 + i as u64 / 4);
        let m = i % 4;
        let spend = || Command::SpendTransaction {
            id: format!("{i:043}"),
            until: now.plus(600),
        };
        assert!(matches!(self.run(spend, now), Reply::Spent { first: true }));
        let sign_in = || {
            Command::SignIn(SignInFacts {
                issuer: IssuerUrl::parse("https://idp.example.com").unwrap(),
                sub: format!("sub-{m}"),
                email: EmailAddress::parse(&format!("member{m}@acme.test")).unwrap(),
                role: Role::Write,
                sid: Some(format!("sid-{m}")),
                expires_at: now.plus(3600),
                provisioning: Provisioning::Sso,
                issued_at: None,
            })
        };
        let reply = self.run(sign_in, now);
        assert!(matches!(reply, Reply::SignedIn { .. }), "{reply:?}");
        if i % 5 == 4 {
            let logout = || Command::BackchannelLogout {
                jti: format!("jti-{i:032}"),
                issued_at: Some(now),
                remember_until: now.plus(120),
                sub: Some(format!("sub-{m}")),
                sid: Some(format!("sid-{m}")),
            };
            let reply = self.run(logout, now);
            assert!(
                matches!(
                    reply,
                    Reply::LoggedOut {
                        replayed: false,
                        ..
                    }
                ),
                "{reply:?}"
            );
        }
        self.signed_in += 1;
    }

    fn sign_ins_until(&mut self, n: usize) -> isize {
        while self.signed_in < n {
            self.sign_in();
        }
        LEDGER_LIVE.load(Ordering::Relaxed)
    }
}

#[test]
fn the_ledgers_retained_heap_does_not_grow_with_sign_ins() {
    let mut t = Traffic {
        ledger: Ledger::default(),
        rows: Rows::default(),
        random: CountingRandom::default(),
        signed_in: 0,
    };
    let after_100 = t.sign_ins_until(100);
    let after_1000 = t.sign_ins_until(1000);
    let growth = after_1000 - after_100;
    eprintln!(
        "ledger retained heap: {after_100} B after 100 sign-ins, {after_1000} B after 1000 \
         (growth {growth} B); {} stored rows",
        t.rows.len()
    );
    assert!(
        growth < 64 * 1024,
        "the ledger's retained heap grew by {growth} bytes from 100 to 1000 sign-ins"
    );
}
