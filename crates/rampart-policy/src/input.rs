//! What a decision is asked about: who (the IdentityEnvelope), which action, on what resource.
//! The JSON shape is the contract with policy authors (docs/policy-input.md).

use std::fmt;
use std::str::FromStr;

use std::collections::BTreeMap;

use rampart_core::{Credential, IdentityEnvelope};
use regorus::Value;
use regorus::value::Object;
use serde::Deserialize;
use serde_json::Value as Json;

/// Every action Rampart asks the policy about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ModelCall,
    Retrieval,
    ToolCall,
    MemoryWrite,
    AdminRead,
    AdminWrite,
    AuditRead,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::ModelCall,
        Action::Retrieval,
        Action::ToolCall,
        Action::MemoryWrite,
        Action::AdminRead,
        Action::AdminWrite,
        Action::AuditRead,
    ];

    /// The name in `input.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ModelCall => "model.call",
            Action::Retrieval => "retrieval",
            Action::ToolCall => "tool.call",
            Action::MemoryWrite => "memory.write",
            Action::AdminRead => "admin.read",
            Action::AdminWrite => "admin.write",
            Action::AuditRead => "audit.read",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown action '{0}': expected one of model.call, retrieval, tool.call, memory.write, admin.read, admin.write, audit.read"
)]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == text.trim())
            .ok_or_else(|| UnknownAction(text.to_owned()))
    }
}

/// Data classification, lowest to highest. Confidential and above stay on Tier 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Classification {
    Public,
    Internal,
    Confidential,
    Restricted,
    Secret,
}

impl Classification {
    pub const ALL: [Classification; 5] = [
        Classification::Public,
        Classification::Internal,
        Classification::Confidential,
        Classification::Restricted,
        Classification::Secret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Confidential => "confidential",
            Classification::Restricted => "restricted",
            Classification::Secret => "secret",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown classification '{0}': expected one of public, internal, confidential, restricted, secret")]
pub struct UnknownClassification(pub String);

impl FromStr for Classification {
    type Err = UnknownClassification;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Classification::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownClassification(text.to_owned()))
    }
}

/// Where a memory write lands: the memory model's own scopes.
pub use rampart_core::MemoryScope;

/// The policy's `input` document: `{"identity": …, "action": …, "resource": …}`.
///
/// Held as the regorus value the evaluator reads, built straight from the IdentityEnvelope:
/// no JSON round trip on the request path. [`PolicyInput::to_json`] gives the JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInput {
    value: Value,
}

impl PolicyInput {
    /// Any action on any resource; the constructors below fill in each action's resource shape.
    pub fn new(identity: &IdentityEnvelope, action: Action, resource: Json) -> Self {
        PolicyInput::with_resource(identity, action, from_json(&resource))
    }

    fn with_resource(identity: &IdentityEnvelope, action: Action, resource: Value) -> Self {
        PolicyInput {
            value: object([
                ("identity", identity_value(identity)),
                ("action", Value::from(action.as_str())),
                ("resource", resource),
            ]),
        }
    }

    /// An input given as JSON (`rampart policy eval --input FILE`); taken as it is, since the
    /// policy itself denies what is malformed.
    pub fn from_json(json: &Json) -> Self {
        PolicyInput { value: from_json(json) }
    }

    /// `resource.endpoint` is null; set it with [`PolicyInput::with_resource_field`].
    pub fn model_call(
        identity: &IdentityEnvelope,
        model: &str,
        tier: u8,
        classification: Option<Classification>,
    ) -> Self {
        let resource = object([
            ("model", Value::from(model)),
            ("tier", Value::from(u64::from(tier))),
            ("classification", optional(classification.map(Classification::as_str))),
            ("endpoint", Value::Null),
        ]);
        PolicyInput::with_resource(identity, Action::ModelCall, resource)
    }

    pub fn retrieval(
        identity: &IdentityEnvelope,
        collection: &str,
        tenant_id: &str,
        classification: Option<Classification>,
    ) -> Self {
        let resource = object([
            ("collection", Value::from(collection)),
            ("tenant_id", Value::from(tenant_id)),
            ("classification", optional(classification.map(Classification::as_str))),
        ]);
        PolicyInput::with_resource(identity, Action::Retrieval, resource)
    }

    /// `tier` is the tool's capability tier, 0 to 3 (seed 004 §4). A tier 3 call also needs
    /// [`PolicyInput::with_tripcode_verified`].
    pub fn tool_call(identity: &IdentityEnvelope, tool: &str, tier: u8, arguments: &Json) -> Self {
        let resource = object([
            ("tool", Value::from(tool)),
            ("tier", Value::from(u64::from(tier))),
            ("arguments", from_json(arguments)),
        ]);
        PolicyInput::with_resource(identity, Action::ToolCall, resource)
    }

    /// `tenant_id` is None for global memory.
    pub fn memory_write(identity: &IdentityEnvelope, scope: MemoryScope, tenant_id: Option<&str>) -> Self {
        let resource = object([("scope", Value::from(scope.as_str())), ("tenant_id", optional(tenant_id))]);
        PolicyInput::with_resource(identity, Action::MemoryWrite, resource)
    }

    /// `kind` names what is read (`models`, `backends`, `health`, `logs`, `usage`, `keys`,
    /// `policy`…); `tenant_id` is set when the state belongs to one tenant.
    pub fn admin_read(identity: &IdentityEnvelope, kind: &str, tenant_id: Option<&str>) -> Self {
        PolicyInput::with_resource(identity, Action::AdminRead, admin_resource(kind, tenant_id))
    }

    pub fn admin_write(identity: &IdentityEnvelope, kind: &str, tenant_id: Option<&str>) -> Self {
        PolicyInput::with_resource(identity, Action::AdminWrite, admin_resource(kind, tenant_id))
    }

    pub fn audit_read(identity: &IdentityEnvelope, tenant_id: Option<&str>) -> Self {
        let resource = match tenant_id {
            Some(tenant_id) => object([("tenant_id", Value::from(tenant_id))]),
            None => Value::new_object(),
        };
        PolicyInput::with_resource(identity, Action::AuditRead, resource)
    }

    /// Sets one field of `resource` (an endpoint, a site-specific attribute).
    pub fn with_resource_field(mut self, key: &str, value: impl Into<Json>) -> Self {
        if let Some(resource) = field_object(&mut self.value, "resource") {
            resource.insert(Value::from(key), from_json(&value.into()));
        }
        self
    }

    /// The tools crate checked the call's HMAC tripcode (required for tier 3).
    pub fn with_tripcode_verified(self) -> Self {
        self.with_resource_field("tripcode_verified", true)
    }

    /// The highest tool tier the agent's delegation allows (`identity.agent.max_tool_tier`);
    /// without it the default bundle allows tier 1. No effect for a non-agent identity.
    pub fn with_agent_max_tool_tier(mut self, tier: u8) -> Self {
        let agent = field_object(&mut self.value, "identity")
            .and_then(|identity| identity.get_mut(&Value::from("agent")))
            .and_then(|agent| agent.as_object_mut().ok());
        if let Some(agent) = agent {
            agent.insert(Value::from("max_tool_tier"), Value::from(u64::from(tier)));
        }
        self
    }

    /// The input as JSON, for logs, audit records and `explain`.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(&self.value).unwrap_or(Json::Null)
    }

    /// The action's name when the input has one.
    pub fn action(&self) -> Option<&str> {
        match &self.value["action"] {
            Value::String(action) => Some(action),
            _ => None,
        }
    }

    pub(crate) fn value(&self) -> &Value {
        &self.value
    }
}

/// JSON as a regorus value; what cannot be represented (nothing serde_json produces) becomes
/// undefined, which every policy rule treats as absent.
fn from_json(json: &Json) -> Value {
    Value::deserialize(json).unwrap_or(Value::Undefined)
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let fields: BTreeMap<Value, Value> = fields.into_iter().map(|(key, value)| (Value::from(key), value)).collect();
    Value::from(fields)
}

fn optional(text: Option<&str>) -> Value {
    text.map_or(Value::Null, Value::from)
}

fn field_object<'a>(value: &'a mut Value, field: &str) -> Option<&'a mut Object> {
    value.as_object_mut().ok()?.get_mut(&Value::from(field))?.as_object_mut().ok()
}

fn admin_resource(kind: &str, tenant_id: Option<&str>) -> Value {
    match tenant_id {
        Some(tenant_id) => object([("kind", Value::from(kind)), ("tenant_id", Value::from(tenant_id))]),
        None => object([("kind", Value::from(kind))]),
    }
}

fn identity_value(identity: &IdentityEnvelope) -> Value {
    let credential = match identity.credential {
        Credential::ApiKey { .. } => "api_key",
        Credential::Oidc { .. } => "oidc",
        Credential::Unauthenticated => "none",
    };
    let roles: Vec<Value> = identity.roles.iter().map(|role| Value::from(role.as_str())).collect();
    let agent = identity.agent.as_ref().map_or(Value::Null, |lineage| {
        object([
            ("run_id", Value::from(lineage.run_id.as_str())),
            ("parent_run_id", optional(lineage.parent_run_id.as_deref())),
        ])
    });
    object([
        ("tenant_id", Value::from(identity.tenant_id.as_str())),
        ("user_id", Value::from(identity.user_id.as_str())),
        ("roles", Value::from(roles)),
        ("privacy_mode", Value::from(identity.privacy_mode)),
        ("credential", Value::from(credential)),
        ("agent", agent),
    ])
}
