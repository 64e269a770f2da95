//! Reading the challenge TXT record through DNS over HTTPS, JSON flavour
//! (`accept: application/dns-json`, as served by Cloudflare's and Google's resolvers): Workers
//! cannot send DNS packets. The request is a plain [`HttpRequest`] sent through the app's
//! [`crate::core::http::HttpClient`] (no redirects, capped body, timeout); the answer is parsed
//! here into one [`DnsCheck`].
//!
//! The JSON answer carries the DNS header fields (`Status` is the RCODE, RFC 1035 4.1.1:
//! 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN; `AD` the DNSSEC "authenticated data" bit, RFC 4035 3.2.3)
//! and the answer section as `{name, type, TTL, data}` records. A TXT record (type 16) is one
//! or more <character-string>s (RFC 1035 3.3.14), each at most 255 bytes, which the resolver
//! writes quoted (`"\"part one\" \"part two\""`); the value is their concatenation (as
//! RFC 7208 3.3 does for SPF). The answer may start with CNAMEs (type 5, RFC 1034 3.6.2): TXT
//! records count only on the chain from the queried name.

use super::{txt_name, DnsCheck};
use crate::core::email::EmailDomain;
use crate::core::http::{HttpRequest, HttpResponse};
use crate::core::secret::ct_eq;
use serde::Deserialize;
use url::Url;

/// Largest DoH answer read (a TXT answer is a few hundred bytes; 64 KiB is DNS's own limit).
pub const MAX_DOH_BODY: usize = 64 * 1024;
/// Most answer records looked at.
const MAX_RECORDS: usize = 64;
/// Longest CNAME chain followed (resolvers stop near here too).
const MAX_CNAME_HOPS: usize = 8;
/// RR type TXT (RFC 1035 3.2.2).
const TYPE_TXT: u16 = 16;
/// RR type CNAME.
const TYPE_CNAME: u16 = 5;

/// The DoH GET for the challenge record of `domain`: `{doh_url}?name=_edge-sso-challenge.{domain}&type=TXT`.
pub fn doh_request(doh_url: &Url, domain: &EmailDomain) -> HttpRequest {
    let mut url = doh_url.clone();
    url.query_pairs_mut()
        .append_pair("name", &txt_name(domain))
        .append_pair("type", "TXT");
    let mut req = HttpRequest::get(url);
    req.headers.push("accept", "application/dns-json");
    req
}

/// What a DoH answer says about the challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DohAnswer {
    /// The outcome.
    pub check: DnsCheck,
    /// The resolver validated the answer with DNSSEC (`AD`). Reported, not required: most
    /// domains are unsigned, and the resolver is trusted either way.
    pub dnssec: bool,
    /// For the log: why a failure is one (never a record's value).
    pub detail: Option<String>,
}

#[derive(Deserialize)]
struct Json {
    #[serde(rename = "Status")]
    status: u16,
    #[serde(rename = "AD", default)]
    ad: bool,
    #[serde(rename = "TC", default)]
    tc: bool,
    #[serde(rename = "Answer", default)]
    answer: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    name: String,
    #[serde(rename = "type")]
    rtype: u16,
    data: String,
}

fn failure(detail: impl Into<String>) -> DohAnswer {
    DohAnswer {
        check: DnsCheck::DohFailure,
        dnssec: false,
        detail: Some(detail.into()),
    }
}

/// A name as DNS compares it: ASCII case-insensitive, the root's trailing dot optional.
fn dns_name(s: &str) -> String {
    s.trim_end_matches('.').to_ascii_lowercase()
}

/// Judges the DoH `resp` to the query for `domain`'s challenge against `expected`.
pub fn parse_doh_answer(resp: &HttpResponse, domain: &EmailDomain, expected: &str) -> DohAnswer {
    if resp.status != 200 {
        return failure(format!("DoH status {}", resp.status));
    }
    let Ok(json) = serde_json::from_slice::<Json>(&resp.body) else {
        return failure("DoH answer is not DNS JSON");
    };
    let with = |check| DohAnswer {
        check,
        dnssec: json.ad,
        detail: None,
    };
    // TC (RFC 1035 4.1.1): the answer may hold part of the RRset only, which is not to be
    // used as a whole (RFC 2181 9): neither a proof nor a miss.
    if json.tc {
        return failure("DoH answer truncated (TC)");
    }
    match json.status {
        0 => {}
        2 => return with(DnsCheck::ServFail),
        3 => return with(DnsCheck::NxDomain),
        rcode => return failure(format!("DNS RCODE {rcode}")),
    }
    let records = &json.answer[..json.answer.len().min(MAX_RECORDS)];
    // The names on the CNAME chain from the queried name.
    let mut chain = vec![dns_name(&txt_name(domain))];
    for _ in 0..MAX_CNAME_HOPS {
        let last = chain.last().cloned().unwrap_or_default();
        let next = records
            .iter()
            .find(|r| r.rtype == TYPE_CNAME && dns_name(&r.name) == last)
            .map(|r| dns_name(&r.data));
        match next {
            Some(n) if !chain.contains(&n) => chain.push(n),
            _ => break,
        }
    }
    let mut seen_txt = false;
    let mut found = false;
    for r in records
        .iter()
        .filter(|r| r.rtype == TYPE_TXT && chain.contains(&dns_name(&r.name)))
    {
        seen_txt = true;
        // Every record is compared (no early exit), in constant time.
        if let Some(value) = txt_value(&r.data) {
            found |= ct_eq(value.as_bytes(), expected.as_bytes());
        }
    }
    if !found && json.answer.len() > MAX_RECORDS {
        // The value may be among the records not looked at: no miss.
        return failure(format!("DoH answer has more than {MAX_RECORDS} records"));
    }
    with(match (found, seen_txt) {
        (true, _) => DnsCheck::Verified,
        (false, true) => DnsCheck::WrongValue,
        (false, false) => DnsCheck::NoRecord,
    })
}

/// The value of a TXT record's `data`: its quoted character-strings concatenated (`\"` and
/// `\\` and `\DDD` escapes decoded), or the data as it is when the resolver wrote it unquoted.
/// `None` for malformed quoting.
pub fn txt_value(data: &str) -> Option<String> {
    let data = data.trim();
    if !data.starts_with('"') {
        return Some(data.to_owned());
    }
    let mut out: Vec<u8> = Vec::with_capacity(data.len());
    let b = data.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                i += 1;
                loop {
                    match *b.get(i)? {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' => {
                            let c = *b.get(i + 1)?;
                            if c.is_ascii_digit() {
                                let digits = b.get(i + 1..i + 4)?;
                                let s = std::str::from_utf8(digits).ok()?;
                                out.push(s.parse::<u8>().ok()?);
                                i += 4;
                            } else {
                                out.push(c);
                                i += 2;
                            }
                        }
                        c => {
                            out.push(c);
                            i += 1;
                        }
                    }
                }
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WANT: &str = "edge-sso-verify=abc123";

    fn dom() -> EmailDomain {
        EmailDomain::parse("acme.com").unwrap()
    }

    fn answer(v: serde_json::Value) -> DohAnswer {
        let resp = HttpResponse::new(200, "application/dns-json", v.to_string());
        parse_doh_answer(&resp, &dom(), WANT)
    }

    fn txt(name: &str, data: &str) -> serde_json::Value {
        json!({"name": name, "type": 16, "TTL": 300, "data": data})
    }

    #[test]
    fn the_request_names_the_challenge_record() {
        let req = doh_request(
            &Url::parse("https://cloudflare-dns.com/dns-query").unwrap(),
            &EmailDomain::parse("Bücher.DE").unwrap(),
        );
        assert_eq!(
            req.url.as_str(),
            "https://cloudflare-dns.com/dns-query?name=_edge-sso-challenge.xn--bcher-kva.de&type=TXT"
        );
        assert_eq!(req.headers.get("accept"), Some("application/dns-json"));
        assert!(req.body.is_empty());
    }

    #[test]
    fn a_quoted_record_verifies() {
        let a = answer(json!({"Status": 0, "AD": false,
            "Answer": [txt("_edge-sso-challenge.acme.com.", "\"edge-sso-verify=abc123\"")]}));
        assert_eq!(a.check, DnsCheck::Verified);
        assert!(!a.dnssec);
    }

    #[test]
    fn split_strings_are_concatenated() {
        let a = answer(json!({"Status": 0,
            "Answer": [txt("_edge-sso-challenge.acme.com", "\"edge-sso-\" \"verify=\" \"abc123\"")]}));
        assert_eq!(a.check, DnsCheck::Verified);
        // Unquoted data (some resolvers), and escapes.
        let a = answer(json!({"Status": 0,
            "Answer": [txt("_edge-sso-challenge.acme.com", "edge-sso-verify=abc123")]}));
        assert_eq!(a.check, DnsCheck::Verified);
        assert_eq!(
            txt_value(r#""a\"b" "c\\d" "\065""#).as_deref(),
            Some("a\"bc\\dA")
        );
        assert_eq!(txt_value(r#""unterminated"#), None);
        assert_eq!(txt_value(r#""a" junk"#), None);
        assert_eq!(txt_value(r#""\9""#), None);
        assert_eq!(txt_value(r#""\999""#), None);
    }

    #[test]
    fn one_of_several_records_is_enough_and_others_are_wrong() {
        let a = answer(json!({"Status": 0, "AD": true, "Answer": [
            txt("_edge-sso-challenge.acme.com.", "\"edge-sso-verify=old\""),
            txt("_edge-sso-challenge.acme.com.", "\"edge-sso-verify=abc123\""),
        ]}));
        assert_eq!(a.check, DnsCheck::Verified);
        assert!(a.dnssec, "the AD flag is reported");
        let a = answer(json!({"Status": 0, "AD": true, "Answer": [
            txt("_edge-sso-challenge.acme.com.", "\"edge-sso-verify=old\""),
            txt("_edge-sso-challenge.acme.com.", "\"edge-sso-verify=abc1234\""),
            txt("_edge-sso-challenge.acme.com.", "\"EDGE-SSO-VERIFY=ABC123\""),
        ]}));
        assert_eq!(a.check, DnsCheck::WrongValue);
    }

    #[test]
    fn cname_chains_are_followed_and_strays_ignored() {
        let a = answer(json!({"Status": 0, "Answer": [
            {"name": "_edge-sso-challenge.acme.com.", "type": 5, "TTL": 60, "data": "Verify.Hosting.Example."},
            {"name": "verify.hosting.example.", "type": 5, "TTL": 60, "data": "txt.hosting.example."},
            txt("txt.hosting.example.", "\"edge-sso-verify=abc123\""),
        ]}));
        assert_eq!(a.check, DnsCheck::Verified);
        // A matching TXT off the chain does not count.
        let a = answer(json!({"Status": 0, "Answer": [
            txt("_edge-sso-challenge.evil.com.", "\"edge-sso-verify=abc123\""),
            txt("acme.com.", "\"edge-sso-verify=abc123\""),
        ]}));
        assert_eq!(a.check, DnsCheck::NoRecord);
        // A CNAME loop ends.
        let a = answer(json!({"Status": 0, "Answer": [
            {"name": "_edge-sso-challenge.acme.com.", "type": 5, "TTL": 60, "data": "a.example."},
            {"name": "a.example.", "type": 5, "TTL": 60, "data": "_edge-sso-challenge.acme.com."},
        ]}));
        assert_eq!(a.check, DnsCheck::NoRecord);
    }

    #[test]
    fn rcodes_and_empty_answers() {
        assert_eq!(
            answer(json!({"Status": 3, "AD": true})).check,
            DnsCheck::NxDomain
        );
        assert_eq!(answer(json!({"Status": 2})).check, DnsCheck::ServFail);
        assert_eq!(answer(json!({"Status": 0})).check, DnsCheck::NoRecord);
        assert_eq!(
            answer(json!({"Status": 0, "Answer": []})).check,
            DnsCheck::NoRecord
        );
        // Only CNAMEs, or other types.
        assert_eq!(
            answer(json!({"Status": 0, "Answer": [{"name": "_edge-sso-challenge.acme.com", "type": 1, "TTL": 1, "data": "1.2.3.4"}]})).check,
            DnsCheck::NoRecord
        );
        let refused = answer(json!({"Status": 5}));
        assert_eq!(refused.check, DnsCheck::DohFailure);
        assert!(refused.detail.unwrap().contains('5'));
    }

    #[test]
    fn a_truncated_answer_is_no_answer() {
        // TC (RFC 1035 4.1.1): the answer section may hold part of the RRset only, which
        // RFC 2181 9 says must not be used as a whole. A missing value there is no miss (three
        // would unverify a domain whose record is in place), and a partial RRset proves nothing.
        for answer_records in [
            json!([]),
            json!([txt("_edge-sso-challenge.acme.com.", "\"v=spf1 -all\"")]),
            json!([txt(
                "_edge-sso-challenge.acme.com.",
                "\"edge-sso-verify=abc123\""
            )]),
        ] {
            let a = answer(json!({"Status": 0, "TC": true, "Answer": answer_records}));
            assert_eq!(a.check, DnsCheck::DohFailure, "{answer_records}");
            assert!(a.detail.unwrap().contains("truncated"));
        }
        // More records than are looked at: the value may be among those left out.
        let mut many: Vec<_> = (0..MAX_RECORDS)
            .map(|i| txt("_edge-sso-challenge.acme.com.", &format!("\"other-{i}\"")))
            .collect();
        many.push(txt(
            "_edge-sso-challenge.acme.com.",
            "\"edge-sso-verify=abc123\"",
        ));
        let a = answer(json!({"Status": 0, "Answer": many}));
        assert_ne!(a.check, DnsCheck::WrongValue);
        assert!(!a.check.is_miss());
    }

    #[test]
    fn transport_level_failures() {
        for resp in [
            HttpResponse::new(500, "text/plain", "oops"),
            HttpResponse::new(302, "text/plain", ""),
            HttpResponse::new(200, "text/html", "<html>"),
            HttpResponse::new(200, "application/dns-json", "{\"Answer\": []}"),
            HttpResponse::new(200, "application/dns-json", "[]"),
        ] {
            assert_eq!(
                parse_doh_answer(&resp, &dom(), WANT).check,
                DnsCheck::DohFailure,
                "{}",
                resp.text()
            );
        }
    }
}
