# Rampart's default policy: the decision entry point and how it is assembled.
#
# Entry point: data.rampart.decision, an object
#   {"allow": bool, "reasons": [string], "obligations": [object]}
# Input and output contract: docs/policy-input.md.
#
# How a decision is made, for the action asked about (`verdict` below):
#   - grants: one message per role of the caller that permits the action on this resource
#     (rbac.rego). No grant means deny.
#   - denials: protections that hold for every role, admins included: malformed input, Tier 1
#     data rules (tiers.rego), tool tier gates (tools.rego). Any denial means deny.
#   - refusals: why a role that could perform the action may not perform it here (another
#     tenant, a kind it may not read). Reported only when no role grants the action.
#   - obligations: what the enforcement point must do when it goes ahead (force Tier 1,
#     redact stored records, snapshot before a tool runs).
#
# Each action's rules are evaluated only for that action: `verdict` picks them with one
# `else` chain: on regorus' RVM every rule body evaluated costs about a microsecond.
package rampart

# reasons and obligations are sets: sorted, without duplicates, and serialised as arrays.
decision := {
	"allow": allow,
	"reasons": reasons,
	"obligations": verdict.obligations,
}

default allow := false

allow if {
	count(verdict.grants) > 0
	count(denials) == 0
}

reasons := verdict.grants if allow else := deny_reasons

denials := verdict.denials if {
	valid_identity
} else := input_denials | verdict.denials

# The happy path in one body; `input_denials` says what is wrong otherwise.
valid_identity if {
	same_tenant(input.identity.tenant_id)
	is_boolean(input.identity.privacy_mode)
}

deny_reasons := denials if {
	count(verdict.grants) > 0
} else := denials | verdict.refusals if {
	count(verdict.refusals) > 0
} else := denials | {default_deny_reason}

default_deny_reason := sprintf("default deny: no rule allows roles [%s] to perform %s", [
	concat(", ", sort([role | some role in roles])),
	action_name,
])

no_rules := {"grants": set(), "refusals": set(), "denials": set(), "obligations": set()}

verdict := {
	"grants": model_call_grants,
	"refusals": set(),
	"denials": model_call_denials,
	"obligations": model_call_obligations,
} if {
	input.action == "model.call"
} else := {
	"grants": retrieval_grants,
	"refusals": retrieval_refusals,
	"denials": classification_denials,
	"obligations": retrieval_obligations,
} if {
	input.action == "retrieval"
} else := {
	"grants": tool_call_grants,
	"refusals": tool_call_refusals,
	"denials": tool_call_denials,
	"obligations": tool_call_obligations,
} if {
	input.action == "tool.call"
} else := {
	"grants": memory_write_grants,
	"refusals": memory_write_refusals,
	"denials": memory_write_denials,
	"obligations": set(),
} if {
	input.action == "memory.write"
} else := object.union(no_rules, {
	"grants": admin_read_grants,
	"refusals": admin_read_refusals,
}) if {
	input.action == "admin.read"
} else := object.union(no_rules, {"grants": admin_write_grants}) if {
	input.action == "admin.write"
} else := object.union(no_rules, {"grants": audit_read_grants}) if {
	input.action == "audit.read"
} else := object.union(no_rules, {"denials": {sprintf("unknown action %s: expected one of %s", [
	action_name,
	"admin.read, admin.write, audit.read, memory.write, model.call, retrieval, tool.call",
])}})

actions := {"model.call", "retrieval", "tool.call", "memory.write", "admin.read", "admin.write", "audit.read"}

# --- Input, normalised so that a missing or mistyped field never makes a rule undefined in a
# way that could allow. Every check is written to fail closed.

roles := {role | some role in input.identity.roles; is_string(role)}

action_name := input.action if {
	is_string(input.action)
} else := "(no action)"

resource := input.resource if {
	is_object(input.resource)
} else := {}

caller_tenant := input.identity.tenant_id if {
	is_string(input.identity.tenant_id)
} else := "(no tenant)"

# True only for a real tenant id equal to the caller's.
same_tenant(tenant_id) if {
	is_string(tenant_id)
	tenant_id != ""
	tenant_id == input.identity.tenant_id
}

has_key(document, key) if {
	_ = document[key]
}

label(value) := value if {
	is_string(value)
} else := "(none)"

# A resource field for a message: its string value, else "(none)", never undefined.
resource_label(field) := label(object.get(resource, field, null))

input_denials contains "input.identity.tenant_id must be a non-empty string" if {
	not same_tenant(input.identity.tenant_id)
}

input_denials contains "input.identity.privacy_mode must be true or false" if {
	not is_boolean(input.identity.privacy_mode)
}
