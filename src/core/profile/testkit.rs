//! Test values for the profiles: tokens verified on a stopped clock, org configs from admin
//! bodies, discovery metadata.

use crate::core::clock::UnixTime;
use crate::core::jose::native_verifier::NativeVerifier;
use crate::core::oidc::discovery::{parse_metadata, ProviderMetadata};
use crate::core::oidc::idtoken::testkit::{jwks, token_a, Key};
pub use crate::core::oidc::idtoken::testkit::{CLIENT_ID, ISS, NONCE, NOW};
use crate::core::oidc::idtoken::{
    IdTokenError, IdTokenVerifier, UntrustedIdToken, VerifiedIdToken,
};
use crate::core::oidc::url_policy::IdpUrlPolicy;
use crate::core::org::{FieldError, OrgConfig, OrgSlug};
use crate::core::secret::Secret;
use crate::core::store::block_on;
use serde_json::{json, Value};

/// `base` with the members of `extra` set (a `null` value is kept as `null`).
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

/// Claims that pass the generic checks at [`NOW`] for issuer `iss`.
pub fn base_claims(iss: &str) -> Value {
    json!({
        "iss": iss,
        "aud": CLIENT_ID,
        "sub": "user-42",
        "exp": NOW + 300,
        "iat": NOW - 10,
        "nonce": NONCE,
    })
}

/// `claims` (over [`base_claims`] of the verifier's issuer), signed and checked by `v`.
pub fn verify_with(v: &IdTokenVerifier, claims: &Value) -> Result<VerifiedIdToken, IdTokenError> {
    let mut c = base_claims(v.issuer());
    merge(&mut c, claims.clone());
    let t = UntrustedIdToken::parse(&token_a(&c)).unwrap();
    block_on(v.verify(
        &t,
        &jwks(&[(Key::RsaA, "a")]),
        &NativeVerifier,
        UnixTime(NOW),
        &Secret::new(NONCE),
    ))
}

/// A verified token from issuer `iss` with `extra` claims.
pub fn verified_at(iss: &str, extra: Value) -> VerifiedIdToken {
    verify_with(&IdTokenVerifier::new(iss, CLIENT_ID), &extra).unwrap()
}

/// A verified token from [`ISS`] with `extra` claims.
pub fn verified(extra: Value) -> VerifiedIdToken {
    verified_at(ISS, extra)
}

/// An org from an admin body: `body` over a minimal one (domain `acme.com`, issuer [`ISS`]).
pub fn org(body: Value) -> Result<OrgConfig, FieldError> {
    org_with(body, false)
}

/// [`org`] under the development URL policy when `allow_insecure_loopback`
/// (`ALLOW_INSECURE_LOOPBACK_IDP=true`).
pub fn org_with(body: Value, allow_insecure_loopback: bool) -> Result<OrgConfig, FieldError> {
    let mut b = json!({
        "domains": ["acme.com"],
        "issuer": ISS,
        "client_id": CLIENT_ID,
        "client_secret": "s3cret",
    });
    merge(&mut b, body);
    let policy = IdpUrlPolicy {
        allow_insecure_loopback,
    };
    OrgConfig::from_admin_json(
        OrgSlug::parse("acme").unwrap(),
        b.to_string().as_bytes(),
        &policy,
        None,
    )
}

/// The discovery metadata an IdP at `issuer` publishes (Entra's multi-tenant authorities with
/// their `{tenantid}` template).
pub fn meta_for(issuer: &str) -> ProviderMetadata {
    let doc_issuer = crate::core::profile::entra::tenant_issuer_template(issuer)
        .unwrap_or_else(|| issuer.to_owned());
    let base = issuer.trim_end_matches('/');
    let doc = json!({
        "issuer": doc_issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/keys"),
        "userinfo_endpoint": format!("{base}/userinfo"),
    });
    let policy = IdpUrlPolicy {
        allow_insecure_loopback: false,
    };
    parse_metadata(issuer, &policy, doc.to_string().as_bytes()).unwrap()
}
