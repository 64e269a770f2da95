//! The generic profile: spec-exact OIDC (OIDC Core 5.1, 5.7).
//!
//! The member is the token's `sub` at the org's issuer (OIDC Core 5.7: "The sub (subject) and
//! iss (issuer) Claims, used together, are the only Claims that an RP can rely upon as a stable
//! identifier for the End-User"). The email is the `email` claim, and it is trusted only when
//! `email_verified` is `true` (OIDC Core 5.1: "When this Claim Value is true, this means that
//! the OP took affirmative steps to ensure that this e-mail address was controlled by the
//! End-User at the time the verification was performed"). An absent `email_verified` is
//! accepted only when the org says so (`"email_verified_claim": "optional"`), for IdPs that
//! never send it and hold only addresses their admins assign: otherwise an IdP that lets users
//! type their own address (consumer sign-up, self-service profile edits) would let anyone claim
//! an address at the org's domain. `false`, or a value of no boolean meaning, is always refused.

use super::{EmailVerifiedClaim, Identity};
use crate::core::member::Denial;
use crate::core::oidc::idtoken::{EmailVerified, VerifiedIdToken};

/// The generic rule: `sub`, and `email` with `email_verified` as `policy` requires.
pub fn identify(token: &VerifiedIdToken, policy: EmailVerifiedClaim) -> Result<Identity, Denial> {
    let email = token.email().ok_or(Denial::EmailMissing)?;
    match (token.email_verified(), policy) {
        (EmailVerified::True, _) => {}
        (EmailVerified::Absent, EmailVerifiedClaim::Optional) => {}
        (EmailVerified::Absent, EmailVerifiedClaim::Required) => {
            return Err(Denial::EmailVerifiedMissing)
        }
        (EmailVerified::False, _) => return Err(Denial::EmailUnverified),
    }
    Ok(Identity::new(token.sub(), email))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::testkit::verified;
    use serde_json::json;

    #[test]
    fn verified_email_required_by_default() {
        let ok = verified(json!({"email": "ada@acme.com", "email_verified": true}));
        let id = identify(&ok, EmailVerifiedClaim::Required).unwrap();
        assert_eq!((id.sub(), id.email()), ("user-42", "ada@acme.com"));
        let absent = verified(json!({"email": "ada@acme.com"}));
        assert_eq!(
            identify(&absent, EmailVerifiedClaim::Required),
            Err(Denial::EmailVerifiedMissing)
        );
        assert!(identify(&absent, EmailVerifiedClaim::Optional).is_ok());
    }

    #[test]
    fn false_or_garbage_always_refused() {
        for v in [
            json!(false),
            json!("false"),
            json!("yes"),
            json!(1),
            json!(null),
        ] {
            let t = verified(json!({"email": "ada@acme.com", "email_verified": v}));
            for p in [EmailVerifiedClaim::Required, EmailVerifiedClaim::Optional] {
                assert_eq!(identify(&t, p), Err(Denial::EmailUnverified), "{v}");
            }
        }
    }

    #[test]
    fn email_required() {
        let t = verified(json!({"email_verified": true}));
        assert_eq!(
            identify(&t, EmailVerifiedClaim::Optional),
            Err(Denial::EmailMissing)
        );
    }
}
