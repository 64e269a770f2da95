//! Discovery (RFC 7644 4): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`, describing
//! what this server actually does: PATCH and filter (eq/and, [`MAX_RESULTS`]) supported; bulk,
//! sort, ETag and changePassword not; bearer-token authentication.

use super::error::{quote, ScimError};
use super::filter::{CORE_GROUP_SCHEMA, CORE_USER_SCHEMA};
use super::list::list_response;
use super::MAX_RESULTS;
use serde_json::{json, Value};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `GET /ServiceProviderConfig` (RFC 7643 5).
pub(crate) fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The organisation's SCIM token, sent as Authorization: Bearer",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

fn resource_type_doc(base: &str, name: &str) -> Option<Value> {
    let (endpoint, schema, description) = if name.eq_ignore_ascii_case("User") {
        ("/Users", CORE_USER_SCHEMA, "User accounts")
    } else if name.eq_ignore_ascii_case("Group") {
        ("/Groups", CORE_GROUP_SCHEMA, "Groups of users")
    } else {
        return None;
    };
    let name = &endpoint[1..endpoint.len() - 1];
    Some(json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")},
    }))
}

/// `GET /ResourceTypes` (RFC 7644 4), as a `ListResponse`.
pub(crate) fn resource_types(base: &str) -> Value {
    let all: Vec<Value> = ["User", "Group"]
        .iter()
        .filter_map(|n| resource_type_doc(base, n))
        .collect();
    list_response(all.len(), 1, all)
}

/// `GET /ResourceTypes/{name}`.
pub(crate) fn resource_type(base: &str, name: &str) -> Result<Value, ScimError> {
    resource_type_doc(base, name)
        .ok_or_else(|| ScimError::not_found(format!("no resource type {}", quote(name))))
}

/// One attribute definition (RFC 7643 7).
fn attr(
    name: &str,
    ty: &str,
    required: bool,
    case_exact: bool,
    mutability: &str,
    uniqueness: &str,
) -> Value {
    json!({
        "name": name, "type": ty, "multiValued": false, "required": required,
        "caseExact": case_exact, "mutability": mutability, "returned": "default",
        "uniqueness": uniqueness,
    })
}

fn complex(name: &str, multi: bool, subs: Vec<Value>) -> Value {
    json!({
        "name": name, "type": "complex", "multiValued": multi, "required": false,
        "mutability": "readWrite", "returned": "default", "uniqueness": "none",
        "subAttributes": subs,
    })
}

fn user_schema(base: &str) -> Value {
    let s = |n| attr(n, "string", false, false, "readWrite", "none");
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": CORE_USER_SCHEMA,
        "name": "User",
        "description": "User account",
        "attributes": [
            attr("userName", "string", true, false, "readWrite", "server"),
            attr("externalId", "string", false, true, "readWrite", "server"),
            complex("name", false, vec![s("givenName"), s("familyName"), s("formatted")]),
            s("displayName"),
            attr("active", "boolean", false, false, "readWrite", "none"),
            complex("emails", true, vec![s("value"), s("type"), attr("primary", "boolean", false, false, "readWrite", "none")]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{CORE_USER_SCHEMA}")},
    })
}

fn group_schema(base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": CORE_GROUP_SCHEMA,
        "name": "Group",
        "description": "Group of users",
        "attributes": [
            attr("displayName", "string", true, false, "readWrite", "server"),
            attr("externalId", "string", false, true, "readWrite", "none"),
            complex("members", true, vec![
                attr("value", "string", false, true, "immutable", "none"),
                attr("display", "string", false, false, "readOnly", "none"),
            ]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{CORE_GROUP_SCHEMA}")},
    })
}

/// `GET /Schemas` (RFC 7644 4), as a `ListResponse`.
pub(crate) fn schemas(base: &str) -> Value {
    list_response(2, 1, vec![user_schema(base), group_schema(base)])
}

/// `GET /Schemas/{id}`.
pub(crate) fn schema(base: &str, id: &str) -> Result<Value, ScimError> {
    if id.eq_ignore_ascii_case(CORE_USER_SCHEMA) {
        Ok(user_schema(base))
    } else if id.eq_ignore_ascii_case(CORE_GROUP_SCHEMA) {
        Ok(group_schema(base))
    } else {
        Err(ScimError::not_found(format!("no schema {}", quote(id))))
    }
}
