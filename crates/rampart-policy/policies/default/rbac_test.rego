package rampart_test

import data.rampart

# --- admin

sample_resources := {
	"model.call": model(1, null),
	"retrieval": collection("t1", null),
	"tool.call": tool(0),
	"memory.write": memory("session", "t1"),
	"admin.read": {"kind": "keys"},
	"admin.write": {"kind": "policy"},
	"audit.read": {},
}

test_admin_may_perform_every_action if {
	every action in rampart.actions {
		allowed(request(["admin"], action, sample_resources[action]))
	}
}

test_admin_crosses_tenants if {
	allowed(request(["admin"], "retrieval", collection("t2", "internal")))
	allowed(request(["admin"], "memory.write", memory("global", null)))
	allowed(request(["admin"], "admin.read", {"kind": "keys", "tenant_id": "t2"}))
}

# --- operator

test_operator_may_call_models if allowed(request(["operator"], "model.call", model(2, null)))

test_operator_may_read_admin_state if {
	allowed(request(["operator"], "admin.read", {"kind": "backends"}))
	allowed(request(["operator"], "admin.read", {"kind": "logs", "tenant_id": "t1"}))
}

test_operator_may_not_read_keys if {
	denied(request(["operator"], "admin.read", {"kind": "keys"}), "role operator may not read API keys")
}

test_operator_reads_only_its_tenant if {
	denied(
		request(["operator"], "admin.read", {"kind": "logs", "tenant_id": "t2"}),
		"tenant isolation: role operator reads only its own tenant t1, not t2",
	)
	denied(request(["operator"], "admin.read", {"kind": "logs", "tenant_id": null}), "not (none)")
}

test_operator_curates_tenant_memory_only if {
	allowed(request(["operator"], "memory.write", memory("tenant", "t1")))
	denied(request(["operator"], "memory.write", memory("user", "t1")), "role operator may write memory only in scopes tenant")
	denied(request(["operator"], "memory.write", memory("tenant", "t2")), "tenant isolation")
	denied(request(["operator"], "memory.write", memory("global", null)), "only role admin may write global memory")
}

test_operator_may_not_read_audit_write_admin_or_call_tools if {
	denied(request(["operator"], "audit.read", {}), "default deny")
	denied(request(["operator"], "admin.write", {"kind": "models"}), "default deny")
	denied(request(["operator"], "tool.call", tool(0)), "default deny")
}

test_operator_and_agent_retrieve_in_own_tenant_only if {
	every role in ["operator", "agent"] {
		allowed(request([role], "retrieval", collection("t1", null)))
		denied(
			request([role], "retrieval", collection("t2", null)),
			sprintf("tenant isolation: collection docs belongs to tenant t2; role %s acts only in tenant t1", [role]),
		)
	}
}

# --- user

test_user_may_call_models if allowed(request(["user"], "model.call", model(2, "internal")))

test_user_retrieves_in_own_tenant_only if {
	allowed(request(["user"], "retrieval", collection("t1", "internal")))
	denied(
		request(["user"], "retrieval", collection("t2", "internal")),
		"tenant isolation: collection docs belongs to tenant t2; role user acts only in tenant t1",
	)
	denied(request(["user"], "retrieval", {"collection": "docs"}), "belongs to tenant (none)")
}

test_user_writes_memory_in_own_tenant if {
	every scope in ["tenant", "user", "session"] {
		allowed(request(["user"], "memory.write", memory(scope, "t1")))
	}
	denied(request(["user"], "memory.write", memory("user", "t2")), "tenant isolation: memory scope user belongs to tenant t2")
}

test_user_may_not_write_global_memory if {
	denied(request(["user"], "memory.write", memory("global", null)), "only role admin may write global memory")
}

test_unknown_memory_scope_denied if {
	denied(request(["admin"], "memory.write", memory("everywhere", "t1")), "unknown scope everywhere")
}

test_user_may_not_call_tools_or_administer if {
	denied(request(["user"], "tool.call", tool(0)), "default deny")
	denied(request(["user"], "admin.read", {}), "default deny")
	denied(request(["user"], "audit.read", {}), "default deny")
}

# --- agent

agent_request(max_tier, action, resource) := {
	"identity": agent_identity(max_tier),
	"action": action,
	"resource": resource,
}

test_agent_may_call_models if allowed(request(["agent"], "model.call", model(1, null)))

test_agent_calls_tools_up_to_tier_1_by_default if {
	allowed(agent_request(null, "tool.call", tool(0)))
	allowed(agent_request(null, "tool.call", tool(1)))
	denied(agent_request(null, "tool.call", tool(2)), "role agent may call tools up to tier 1; shell is tier 2")
}

test_agent_delegation_raises_its_tool_tier if {
	allowed(agent_request(2, "tool.call", tool(2)))
	has_obligation(agent_request(2, "tool.call", tool(2)), {"type": "snapshot"})
}

test_agent_without_lineage_may_not_call_tools if {
	denied(request(["agent"], "tool.call", tool(0)), "needs run lineage")
}

test_agent_writes_session_and_user_memory_in_own_tenant if {
	allowed(request(["agent"], "memory.write", memory("session", "t1")))
	allowed(request(["agent"], "memory.write", memory("user", "t1")))
	denied(request(["agent"], "memory.write", memory("tenant", "t1")), "role agent may write memory only in scopes session, user")
	denied(request(["agent"], "memory.write", memory("global", null)), "only role admin may write global memory")
	denied(request(["agent"], "memory.write", memory("session", "t2")), "tenant isolation")
}

test_agent_may_not_administer if {
	denied(request(["agent"], "admin.read", {}), "default deny")
}

# --- auditor

test_auditor_reads_audit_and_admin_state_of_every_tenant if {
	allowed(request(["auditor"], "audit.read", {}))
	allowed(request(["auditor"], "admin.read", {"kind": "logs", "tenant_id": "t2"}))
}

test_auditor_changes_nothing_and_calls_no_models if {
	denied(request(["auditor"], "model.call", model(1, null)), "no rule allows roles [auditor] to perform model.call")
	denied(request(["auditor"], "admin.write", {}), "default deny")
	denied(request(["auditor"], "retrieval", collection("t1", null)), "default deny")
	denied(request(["auditor"], "memory.write", memory("user", "t1")), "default deny")
}

# --- several roles

test_roles_add_up if {
	allowed(request(["operator", "user"], "retrieval", collection("t1", null)))
	allowed(request(["auditor", "user"], "model.call", model(1, null)))
}
