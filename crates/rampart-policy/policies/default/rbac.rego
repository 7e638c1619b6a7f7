# Role-based access (seed 001 §2.3) and tenant isolation (seed 000), per action.
#
#   admin     every action, every tenant
#   operator  model.call; admin.read of its own tenant, except API keys; retrieval and
#             memory.write (tenant) in its tenant: operators curate the tenant's documents
#             and knowledge
#   user      model.call; retrieval and memory.write (tenant, user, session scope) in its tenant
#   agent     model.call; tool.call up to its tool tier; retrieval and memory.write (user,
#             session) in its tenant
#   auditor   audit.read and admin.read of every tenant; nothing else, no model calls
package rampart

# --- model.call

model_call_grants contains grant if {
	some role, grant in {
		"admin": "role admin may call models",
		"operator": "role operator may call models",
		"user": "role user may call models",
		"agent": "role agent may call models",
	}
	role in input.identity.roles
}

# --- retrieval

retrieval_grants contains "role admin may retrieve from every tenant" if "admin" in input.identity.roles

# Users search their tenant's documents; operators, who curate them, and agents, who read the
# memory they work with, do too. Auditors read the record of what happened, not the content.
tenant_readers := {"user", "operator", "agent"}

retrieval_grants contains sprintf("role %s may retrieve from its own tenant", [role]) if {
	some role in tenant_readers
	role in input.identity.roles
	same_tenant(input.resource.tenant_id)
}

retrieval_refusals contains tenant_isolation_reason(role, "collection", "collection") if {
	some role in tenant_readers
	role in input.identity.roles
	not same_tenant(input.resource.tenant_id)
}

# --- tool.call (the tier gates that hold for everyone are in tools.rego)

tool_call_grants contains "role admin may call tools of every tier" if "admin" in input.identity.roles

tool_call_grants contains sprintf("role agent may call tools up to tier %d", [agent_max_tool_tier]) if {
	"agent" in input.identity.roles
	agent_has_lineage
	is_number(input.resource.tier)
	input.resource.tier <= agent_max_tool_tier
}

tool_call_refusals contains "role agent needs run lineage (identity.agent.run_id) to call tools" if {
	"agent" in input.identity.roles
	not agent_has_lineage
}

tool_call_refusals contains sprintf("role agent may call tools up to tier %d; %s is tier %v", [
	agent_max_tool_tier,
	resource_label("tool"),
	input.resource.tier,
]) if {
	"agent" in input.identity.roles
	is_number(input.resource.tier)
	input.resource.tier > agent_max_tool_tier
}

agent_has_lineage if {
	is_string(input.identity.agent.run_id)
	input.identity.agent.run_id != ""
}

# The tool tier a delegation allows (identity.agent.max_tool_tier), else T1: read-only work and
# writes inside the workspace (seed 004 §4).
default_agent_max_tool_tier := 1

agent_max_tool_tier := input.identity.agent.max_tool_tier if {
	is_number(input.identity.agent.max_tool_tier)
} else := default_agent_max_tool_tier

# --- memory.write

memory_scopes := {"global", "tenant", "user", "session"}

# Scopes each role may write, in its own tenant (global memory has no tenant: admins only).
memory_scopes_by_role := {
	"operator": {"tenant"},
	"user": {"tenant", "user", "session"},
	"agent": {"user", "session"},
}

memory_write_grants contains "role admin may write memory in every scope and tenant" if "admin" in input.identity.roles

# (Iterating the table rather than looking a role up in it: regorus' RVM lets `x := t[k]`
# succeed for a missing key.)
memory_write_grants contains sprintf("role %s may write %s memory in its own tenant", [role, input.resource.scope]) if {
	some role, scopes in memory_scopes_by_role
	role in input.identity.roles
	input.resource.scope in scopes
	same_tenant(input.resource.tenant_id)
}

memory_write_refusals contains "only role admin may write global memory" if {
	input.resource.scope == "global"
}

memory_write_refusals contains sprintf("role %s may write memory only in scopes %s", [
	role,
	concat(", ", sort([scope | some scope in scopes])),
]) if {
	some role, scopes in memory_scopes_by_role
	role in input.identity.roles
	input.resource.scope in {"tenant", "user", "session"}
	not input.resource.scope in scopes
}

memory_write_refusals contains tenant_isolation_reason(role, "memory scope", "scope") if {
	some role, _ in memory_scopes_by_role
	role in input.identity.roles
	input.resource.scope != "global"
	not same_tenant(input.resource.tenant_id)
}

memory_write_denials contains sprintf("memory.write: unknown scope %s: expected global, tenant, user or session", [
	resource_label("scope"),
]) if {
	not input.resource.scope in memory_scopes
}

# --- admin.read, admin.write, audit.read

admin_read_grants contains sprintf("role %s may read administrative state of every tenant", [role]) if {
	some role in input.identity.roles
	role in {"admin", "auditor"}
}

admin_read_grants contains "role operator may read administrative state of its tenant" if {
	"operator" in input.identity.roles
	count(operator_admin_read_refusals) == 0
}

admin_read_refusals contains reason if {
	"operator" in input.identity.roles
	some reason in operator_admin_read_refusals
}

operator_admin_read_refusals contains "role operator may not read API keys" if {
	input.resource.kind == "keys"
}

operator_admin_read_refusals contains sprintf(
	"tenant isolation: role operator reads only its own tenant %s, not %s",
	[caller_tenant, resource_label("tenant_id")],
) if {
	# Unscoped administrative state (models, backends, health) has no tenant_id.
	has_key(input.resource, "tenant_id")
	not same_tenant(input.resource.tenant_id)
}

admin_write_grants contains "role admin may change administrative state" if "admin" in input.identity.roles

audit_read_grants contains sprintf("role %s may read the audit log", [role]) if {
	some role in input.identity.roles
	role in {"admin", "auditor"}
}

# `name_field` is the resource field that names what was asked for.
tenant_isolation_reason(role, what, name_field) := sprintf(
	"tenant isolation: %s %s belongs to tenant %s; role %s acts only in tenant %s",
	[what, resource_label(name_field), resource_label("tenant_id"), role, caller_tenant],
)
