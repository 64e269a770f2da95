//! Domains as a sub-resource of an org (see [`crate::core::domains`] for the lifecycle):
//! `GET /admin/orgs/{slug}/domains`, `PUT|DELETE /admin/orgs/{slug}/domains/{domain}`,
//! `POST /admin/orgs/{slug}/domains/{domain}/verify`, and the cron's re-check
//! ([`App::recheck_domains`]).
//!
//! The registry (a Durable Object) decides who holds which domain; the org directory in KV
//! follows its verdicts: a claim that becomes verified is added to the org's
//! `verified_domains` and to the routing index, one that becomes unverified or is released is
//! taken out. Every verified answer re-applies the routing (idempotent), so a KV write that
//! failed once is repaired by the next verify or re-check.

use super::admin::existing_org;
use super::error::{AppError, ErrorCode};
use super::respond::{json, with_body};
use super::{App, Body, Request, Response};
use crate::core::directory::{DirectoryError, OrgDirectory};
use crate::core::domains::doh::{doh_request, parse_doh_answer, DohAnswer, MAX_DOH_BODY};
use crate::core::domains::public::is_public_mail_domain;
use crate::core::domains::{Change, Claim, Command, DnsCheck, Refusal, Reply, MISSES_TO_UNVERIFY};
use crate::core::email::EmailDomain;
use crate::core::http::HttpClient;
use crate::core::ledger::{AuditEvent, AuditMeta, Command as LedgerCommand};
use crate::core::org::{public_domain_message, OrgSlug};
use crate::core::store::{KvStore, StoreError};
use http::StatusCode;
use serde_json::{json, Value};

fn odd_reply(r: Reply) -> AppError {
    AppError::from(StoreError(format!("unexpected registry reply: {r:?}")))
}

/// Decodes `%XX` escapes of a path segment; `None` for a malformed escape or non-UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The `{domain}` of the path, normalised as the lookup does (IDNA, case) and refused like
/// the config's `domains` (400 naming the field `domain`), public mail domains included.
pub(super) fn parse_domain(raw: &str) -> Result<EmailDomain, AppError> {
    let invalid = |m: String| {
        AppError::new(ErrorCode::InvalidField)
            .message(format!("domain: {m}"))
            .field("domain")
    };
    let decoded = percent_decode(raw).ok_or_else(|| invalid("malformed percent escape".into()))?;
    let d = EmailDomain::parse(&decoded).map_err(|e| invalid(e.to_string()))?;
    if is_public_mail_domain(&d) {
        return Err(invalid(public_domain_message(&d)));
    }
    Ok(d)
}

/// 409 for a domain another org holds: the org is named to the operator only (an org admin
/// must not learn who else uses a domain).
fn held_by(domain: &EmailDomain, org: &OrgSlug, actor: &super::admin_auth::Actor) -> AppError {
    if !actor.is_operator() {
        return AppError::new(ErrorCode::DomainClaimed)
            .message(format!(
                "The domain {domain} is verified by another organisation."
            ))
            .field("domain");
    }
    AppError::new(ErrorCode::DomainClaimed)
        .message(format!(
            "The domain {domain} is verified by the organisation {org}."
        ))
        .field("domain")
        .extra("org", org.as_str())
}

fn no_claim(domain: &EmailDomain) -> AppError {
    AppError::new(ErrorCode::UnknownClaim).message(format!(
        "This organisation has not claimed {domain}: PUT it first."
    ))
}

impl<S: KvStore, H: HttpClient, V> App<'_, S, H, V> {
    /// Asks DNS (over HTTPS) for `claim`'s challenge record. A transport failure is a
    /// [`DnsCheck::DohFailure`], logged with its reason.
    async fn check_dns(&self, claim: &Claim) -> DohAnswer {
        let req = doh_request(&self.config.doh_url, &claim.domain);
        let answer = match self.http.send(req, MAX_DOH_BODY).await {
            Ok(resp) => parse_doh_answer(&resp, &claim.domain, &claim.txt_value),
            Err(e) => DohAnswer {
                check: DnsCheck::DohFailure,
                dnssec: false,
                detail: Some(format!("DoH request: {e}")),
            },
        };
        if let Some(detail) = &answer.detail {
            self.log.line(&format!(
                "domain check domain={} org={} result={} detail={detail}",
                claim.domain,
                claim.org,
                answer.check.as_str()
            ));
        }
        answer
    }

    /// Makes the directory follow the registry's verdict on `claim`.
    async fn sync_routing(&self, claim: &Claim, change: Change) -> Result<(), DirectoryError> {
        let dir = OrgDirectory::new(&self.store);
        let verified = if claim.is_verified() {
            true
        } else if change == Change::Unverified {
            false
        } else {
            return Ok(());
        };
        let result = dir
            .set_verified(&claim.org, &claim.domain, verified, async || {
                proven(self, &claim.org).await
            })
            .await;
        self.state.orgs.forget(&claim.org);
        result.map(|_| ())
    }

    /// Takes `claim`'s domain out of routing ahead of the registry's record of the miss that
    /// unverifies it ([`would_unverify`]). In that order, a failed KV write leaves the claim
    /// verified in the registry (re-checked by the next cron run, which tries again) instead of
    /// unverified there while KV still routes it: the cron never re-checks an unverified claim,
    /// so that routing would have outlived the loss of the DNS proof for good.
    async fn stop_routing_first(&self, claim: &Claim) -> Result<(), DirectoryError> {
        let result = OrgDirectory::new(&self.store)
            .set_verified(&claim.org, &claim.domain, false, async || {
                proven(self, &claim.org).await
            })
            .await;
        self.state.orgs.forget(&claim.org);
        result.map(|_| ())
    }

    /// Re-checks up to `limit` verified claims, least recently checked first (the cron
    /// trigger's job): each is asked of DNS and recorded; a claim that reaches
    /// [`MISSES_TO_UNVERIFY`] misses stops routing. One claim's failure
    /// does not stop the others.
    pub async fn recheck_domains(&self, limit: usize) -> Result<RecheckReport, AppError> {
        let claims = match self.registry.call(Command::Due { limit }).await? {
            Reply::Claims { claims } => claims,
            r => return Err(odd_reply(r)),
        };
        let mut report = RecheckReport::default();
        for claim in claims {
            let answer = self.check_dns(&claim).await;
            report.checked += 1;
            if would_unverify(&claim, answer.check) {
                if let Err(e) = self.stop_routing_first(&claim).await {
                    self.log.line(&format!(
                        "domain routing domain={} org={}: {e}",
                        claim.domain, claim.org
                    ));
                    report.errors += 1;
                    continue;
                }
            }
            let cmd = Command::Record {
                org: claim.org.clone(),
                domain: claim.domain.clone(),
                check: answer.check,
            };
            let (after, change) = match self.registry.call(cmd).await {
                Ok(Reply::Recorded { claim, change }) => (claim, change),
                Ok(other) => {
                    self.log.line(&format!(
                        "domain recheck domain={} org={}: {other:?}",
                        claim.domain, claim.org
                    ));
                    report.errors += 1;
                    continue;
                }
                Err(e) => {
                    self.log.line(&format!(
                        "domain recheck domain={} org={}: {e}",
                        claim.domain, claim.org
                    ));
                    report.errors += 1;
                    continue;
                }
            };
            if answer.check.is_miss() {
                report.misses += 1;
            }
            if change == Change::Unverified {
                self.log.line(&format!(
                    "domain unverified domain={} org={} misses={} last_check={}",
                    after.domain,
                    after.org,
                    after.misses,
                    answer.check.as_str()
                ));
                report.unverified.push(after.domain.clone());
                let detail = json!({ "domain": after.domain.as_str(), "misses": after.misses, "check": answer.check.as_str() });
                let event = AuditEvent::new(
                    "org.domain.unverified",
                    &AuditMeta {
                        actor: "dns-check".into(),
                        cid: self.random.token(9).unwrap_or_else(|_| "-".into()),
                    },
                    self.clock.now(),
                    detail,
                );
                let _ = self
                    .ledger
                    .call(&after.org, LedgerCommand::Record { event })
                    .await;
            }
            if let Err(e) = self.sync_routing(&after, change).await {
                self.log.line(&format!(
                    "domain routing domain={} org={}: {e}",
                    after.domain, after.org
                ));
                report.errors += 1;
            }
        }
        Ok(report)
    }
}

/// Whether recording `check` makes the verified `claim` unverified (its
/// [`MISSES_TO_UNVERIFY`]th consecutive miss), as [`crate::core::domains::Registry`] decides.
fn would_unverify(claim: &Claim, check: DnsCheck) -> bool {
    claim.is_verified() && check.is_miss() && claim.misses.saturating_add(1) >= MISSES_TO_UNVERIFY
}

/// What one re-check run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecheckReport {
    /// Claims asked of DNS.
    pub checked: usize,
    /// Definite misses among them.
    pub misses: usize,
    /// Claims that became unverified.
    pub unverified: Vec<EmailDomain>,
    /// Registry or directory failures (logged).
    pub errors: usize,
}

/// The domains the registry holds as `org`'s verified claims: what may stay in its config's
/// `verified_domains` whatever a KV read of that config says.
async fn proven<S, H, V>(
    app: &App<'_, S, H, V>,
    org: &OrgSlug,
) -> Result<Vec<EmailDomain>, StoreError> {
    match app
        .registry
        .call(Command::List { org: org.clone() })
        .await?
    {
        Reply::Claims { claims } => Ok(claims
            .into_iter()
            .filter(Claim::is_verified)
            .map(|c| c.domain)
            .collect()),
        _ => Err(StoreError(
            "the domain registry answered out of turn".into(),
        )),
    }
}

/// Keeps of `cfg.verified_domains` only the domains the registry holds as verified claims of
/// `cfg`'s org. The list in a config comes from a KV read, which may lag a release or an
/// unverify by KV's propagation time; written back as read, it would route a domain whose DNS
/// proof is gone, and nothing would ever take that routing out again (the cron re-checks only
/// verified claims). The registry is the claims' one writer, strongly consistent. Nothing is
/// added here: a claim verified in the registry whose routing write failed is completed by its
/// own retry, not by an unrelated save. No registry call for a config with no such domains.
pub(super) async fn keep_proven_domains<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    cfg: &mut crate::core::org::OrgConfig,
) -> Result<(), AppError> {
    if cfg.verified_domains.is_empty() {
        return Ok(());
    }
    let proven = proven(app, &cfg.slug).await?;
    cfg.verified_domains.retain(|d| proven.contains(d));
    Ok(())
}

/// `GET /admin/orgs/{slug}/domains`: the org's claims, then the operator's `domains` that are
/// not claimed (`"source":"operator"`, verified by the operator's word).
pub(super) async fn list<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Response, AppError> {
    super::admin_auth::for_org(app, req, slug).await?;
    let org = existing_org(app, slug).await?;
    let claims = match app
        .registry
        .call(Command::List { org: slug.clone() })
        .await?
    {
        Reply::Claims { claims } => claims,
        r => return Err(odd_reply(r)),
    };
    let mut out: Vec<Value> = claims
        .iter()
        .map(|c| {
            let mut v = c.view();
            v["source"] = "dns".into();
            v
        })
        .collect();
    for d in org
        .domains
        .iter()
        .filter(|d| !claims.iter().any(|c| c.domain == **d))
    {
        out.push(json!({
            "domain": d,
            "status": "verified",
            "source": "operator",
            "txt_name": null,
            "txt_value": null,
            "verified_at": null,
            "last_checked": null,
        }));
    }
    Ok(json(StatusCode::OK, &json!({ "domains": out })))
}

/// `PUT /admin/orgs/{slug}/domains/{domain}`: claims the domain (`pending`, 201) or returns
/// the org's existing claim as it is (200: the published challenge stays valid).
pub(super) async fn claim<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
    raw: &str,
) -> Result<Response, AppError> {
    let actor = super::admin_auth::for_org(app, req, slug).await?;
    existing_org(app, slug).await?;
    let domain = parse_domain(raw)?;
    let cmd = Command::Claim {
        org: slug.clone(),
        domain,
    };
    match app.registry.call(cmd).await? {
        Reply::Claimed { claim, created } => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            if created {
                let detail = json!({ "domain": claim.domain.as_str() });
                super::admin_members::record_event(app, &actor, slug, "org.domain.claimed", detail)
                    .await;
            }
            Ok(json(status, &claim.view()))
        }
        Reply::Refused {
            refusal: Refusal::TooManyClaims,
        } => Err(AppError::new(ErrorCode::InvalidRequest).message(format!(
            "An organisation may hold at most {} domain claims.",
            crate::core::domains::MAX_CLAIMS_PER_ORG
        ))),
        r => Err(odd_reply(r)),
    }
}

/// `POST /admin/orgs/{slug}/domains/{domain}/verify`: reads the TXT record now and answers
/// with the claim and the check's outcome (`check`: verified, nxdomain, no_record,
/// wrong_value, servfail, doh_failure) with a message; 409 when another org holds the domain.
pub(super) async fn verify<S: KvStore, H: HttpClient, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
    raw: &str,
) -> Result<Response, AppError> {
    let actor = super::admin_auth::for_org(app, req, slug).await?;
    existing_org(app, slug).await?;
    let domain = parse_domain(raw)?;
    let get = Command::Get {
        org: slug.clone(),
        domain: domain.clone(),
    };
    let claim = match app.registry.call(get).await? {
        Reply::Found { claim: Some(c) } => c,
        Reply::Found { claim: None } => return Err(no_claim(&domain)),
        r => return Err(odd_reply(r)),
    };
    // The operator's word (another org's `domains`) and DNS-verified routing both count.
    if let Some(owner) = OrgDirectory::new(&app.store).owner_of(&domain).await? {
        if owner != *slug {
            return Err(held_by(&domain, &owner, &actor));
        }
    }
    let answer = app.check_dns(&claim).await;
    if would_unverify(&claim, answer.check) {
        app.stop_routing_first(&claim).await?;
    }
    let cmd = Command::Record {
        org: slug.clone(),
        domain: domain.clone(),
        check: answer.check,
    };
    let (claim, change) = match app.registry.call(cmd).await? {
        Reply::Recorded { claim, change } => (claim, change),
        Reply::Refused {
            refusal: Refusal::VerifiedElsewhere { org },
        } => return Err(held_by(&domain, &org, &actor)),
        Reply::Refused {
            refusal: Refusal::NoClaim,
        } => return Err(no_claim(&domain)),
        r => return Err(odd_reply(r)),
    };
    app.sync_routing(&claim, change)
        .await
        .map_err(|e| match e {
            DirectoryError::DomainClaimed { domain } => AppError::new(ErrorCode::DomainClaimed)
                .message(format!(
                    "The domain {domain} is listed in another organisation's domains."
                ))
                .field("domain"),
            e => e.into(),
        })?;
    let detail = json!({ "domain": claim.domain.as_str(), "check": answer.check.as_str(), "change": format!("{change:?}") });
    let event = if change == Change::Verified {
        "org.domain.verified"
    } else {
        "org.domain.checked"
    };
    super::admin_members::record_event(app, &actor, slug, event, detail).await;
    let mut body = claim.view();
    body["check"] = answer.check.as_str().into();
    body["message"] = answer.check.message().into();
    body["dnssec"] = answer.dnssec.into();
    Ok(json(StatusCode::OK, &body))
}

/// `DELETE /admin/orgs/{slug}/domains/{domain}`: releases the claim (204) and any routing it
/// gave; 404 when there is none.
pub(super) async fn release<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
    raw: &str,
) -> Result<Response, AppError> {
    let actor = super::admin_auth::for_org(app, req, slug).await?;
    existing_org(app, slug).await?;
    let domain = parse_release_domain(raw)?;
    // Routing goes first, the claim after: a failed KV write then leaves the claim (still
    // verified, still routing, re-checked by the cron) and a retry finishes the job. The other
    // order left a released claim whose routing nothing would ever remove (the cron re-checks
    // only verified claims, a retry found no claim). Idempotent: for a domain this org does
    // not hold it writes nothing (`set_verified` never touches another org's routing).
    let routing = OrgDirectory::new(&app.store)
        .set_verified(slug, &domain, false, async || proven(app, slug).await)
        .await;
    app.state.orgs.forget(slug);
    routing?;
    let cmd = Command::Release {
        org: slug.clone(),
        domain: domain.clone(),
    };
    let claims = match app.registry.call(cmd).await? {
        Reply::Released { claims } => claims,
        r => return Err(odd_reply(r)),
    };
    if claims.is_empty() {
        return Err(no_claim(&domain));
    }
    let detail = json!({ "domain": domain.as_str() });
    super::admin_members::record_event(app, &actor, slug, "org.domain.released", detail).await;
    Ok(with_body(
        StatusCode::NO_CONTENT,
        "text/plain; charset=utf-8",
        Body::Empty,
    ))
}

/// Like [`parse_domain`], but a public mail domain may be released (a claim made before the
/// list named it must be removable).
fn parse_release_domain(raw: &str) -> Result<EmailDomain, AppError> {
    let decoded = percent_decode(raw).ok_or_else(|| {
        AppError::new(ErrorCode::InvalidField)
            .message("domain: malformed percent escape")
            .field("domain")
    })?;
    EmailDomain::parse(&decoded).map_err(|e| {
        AppError::new(ErrorCode::InvalidField)
            .message(format!("domain: {e}"))
            .field("domain")
    })
}

/// Every claim of `slug` released (the org is being deleted).
pub(super) async fn release_org<S, H, V>(
    app: &App<'_, S, H, V>,
    slug: &OrgSlug,
) -> Result<(), AppError> {
    match app
        .registry
        .call(Command::ReleaseOrg { org: slug.clone() })
        .await?
    {
        Reply::Released { .. } => Ok(()),
        r => Err(odd_reply(r)),
    }
}

#[cfg(test)]
#[path = "admin_domains_tests.rs"]
mod tests;
