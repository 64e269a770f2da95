//! Test sign-in links (issue "IdP profiles", point 6): an org admin gets a one-time URL, valid
//! [`TEST_LINK_TTL_SECS`], that runs the whole sign-in against the org's IdP (its active or its
//! staged settings) and shows what happened instead of creating a session. The link's token is
//! sealed with the cookie keys (nothing is stored to mint one); it is single use because
//! `/sso/start` spends its [`TestLinkClaims::spent_id`] in the org's ledger.

use crate::core::clock::UnixTime;
use crate::core::org::OrgSlug;
use crate::core::random::Random;
use crate::core::seal::Sealer;
use crate::core::secret::sha256_hex;
use serde::{Deserialize, Serialize};

/// How long a test sign-in link is valid.
pub const TEST_LINK_TTL_SECS: u64 = 600;

/// Bound into every sealed link token (with the deployment's origin): no other sealed value of
/// ours opens as one.
const PURPOSE: &str = "edge-sso test sign-in link v1";

/// Random octets naming one link (its single use is recorded under them).
const ID_BYTES: usize = 16;

/// What a test sign-in link carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestLinkClaims {
    /// The org it tests.
    pub org: OrgSlug,
    /// Whether it tests the staged settings rather than the active ones.
    pub staged: bool,
    /// When it stops working.
    pub expires_at: UnixTime,
    /// Random: names the link in the ledger's spent set.
    id: String,
}

/// Why a link does not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestLinkError {
    /// Not sealed by us for this purpose and origin, or does not parse.
    Invalid,
    /// For another org than the one in the URL.
    WrongOrg,
    /// Older than [`TEST_LINK_TTL_SECS`].
    Expired,
}

impl std::fmt::Display for TestLinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TestLinkError::Invalid => "the test sign-in link is not valid",
            TestLinkError::WrongOrg => "the test sign-in link is for another organisation",
            TestLinkError::Expired => "the test sign-in link has expired",
        })
    }
}

impl std::error::Error for TestLinkError {}

fn aad(origin: &str) -> Vec<u8> {
    format!("{PURPOSE}\0{origin}").into_bytes()
}

impl TestLinkClaims {
    /// A fresh link for `org` valid from `now`.
    pub fn new(
        random: &(impl Random + ?Sized),
        org: &OrgSlug,
        staged: bool,
        now: UnixTime,
    ) -> Result<Self, crate::core::random::RandomError> {
        Ok(TestLinkClaims {
            org: org.clone(),
            staged,
            expires_at: now.plus(TEST_LINK_TTL_SECS),
            id: random.token(ID_BYTES)?,
        })
    }

    /// The link's token, sealed for the deployment at `origin`.
    pub fn seal(
        &self,
        sealer: &Sealer,
        random: &(impl Random + ?Sized),
        origin: &str,
    ) -> Result<String, crate::core::seal::SealError> {
        let json = serde_json::to_vec(self).map_err(|_| crate::core::seal::SealError)?;
        sealer.seal(random, &aad(origin), &json)
    }

    /// The claims of `token` if it opens under our keys for `origin`, is for `org` and has not
    /// expired at `now`. Single use is the caller's next step ([`TestLinkClaims::spent_id`]).
    pub fn open(
        sealer: &Sealer,
        origin: &str,
        token: &str,
        org: &OrgSlug,
        now: UnixTime,
    ) -> Result<Self, TestLinkError> {
        let json = sealer
            .open(&aad(origin), token)
            .ok_or(TestLinkError::Invalid)?;
        let claims: TestLinkClaims =
            serde_json::from_slice(&json).map_err(|_| TestLinkError::Invalid)?;
        if claims.org != *org {
            return Err(TestLinkError::WrongOrg);
        }
        if now >= claims.expires_at {
            return Err(TestLinkError::Expired);
        }
        Ok(claims)
    }

    /// The id under which the org's ledger remembers the link as used.
    pub fn spent_id(&self) -> String {
        sha256_hex(format!("edge-sso spent test link\0{}", self.id).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::random::CountingRandom;

    fn sealer() -> Sealer {
        Sealer::from_secrets("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", None).unwrap()
    }

    #[test]
    fn a_link_opens_for_its_org_until_it_expires() {
        let r = CountingRandom::default();
        let acme = OrgSlug::parse("acme").unwrap();
        let other = OrgSlug::parse("other").unwrap();
        let c = TestLinkClaims::new(&r, &acme, true, UnixTime(100)).unwrap();
        let t = c.seal(&sealer(), &r, "https://hub.example").unwrap();
        let o = TestLinkClaims::open(&sealer(), "https://hub.example", &t, &acme, UnixTime(699));
        assert_eq!(o.as_ref().map(|c| c.staged), Ok(true));
        assert_eq!(o.unwrap().spent_id(), c.spent_id());
        let open = |origin: &str, t: &str, org: &OrgSlug, now: u64| {
            TestLinkClaims::open(&sealer(), origin, t, org, UnixTime(now)).err()
        };
        assert_eq!(
            open("https://hub.example", &t, &acme, 700),
            Some(TestLinkError::Expired)
        );
        assert_eq!(
            open("https://hub.example", &t, &other, 200),
            Some(TestLinkError::WrongOrg)
        );
        assert_eq!(
            open("https://other.example", &t, &acme, 200),
            Some(TestLinkError::Invalid)
        );
        assert_eq!(
            open("https://hub.example", "garbage", &acme, 200),
            Some(TestLinkError::Invalid)
        );
    }
}
