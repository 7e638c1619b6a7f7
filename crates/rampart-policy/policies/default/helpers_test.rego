# Inputs and checks shared by the default bundle's tests.
package rampart_test

import data.rampart

identity(roles) := {
	"tenant_id": "t1",
	"user_id": "u1",
	"roles": roles,
	"privacy_mode": false,
	"credential": "api_key",
	"agent": null,
}

agent_identity(max_tier) := object.union(identity(["agent"]), {"agent": {
	"run_id": "run-1",
	"parent_run_id": "run-0",
	"max_tool_tier": max_tier,
}})

request(roles, action, resource) := {
	"identity": identity(roles),
	"action": action,
	"resource": resource,
}

model(tier, classification) := {
	"model": "m",
	"tier": tier,
	"classification": classification,
	"endpoint": "http://models.internal/v1",
}

collection(tenant_id, classification) := {
	"collection": "docs",
	"tenant_id": tenant_id,
	"classification": classification,
}

memory(scope, tenant_id) := {"scope": scope, "tenant_id": tenant_id}

tool(tier) := {"tool": "shell", "tier": tier, "arguments": {}}

decide(request_input) := result if {
	result := rampart.decision with input as request_input
}

allowed(request_input) if decide(request_input).allow == true

# Denied, with a reason that contains `fragment`.
denied(request_input, fragment) if {
	result := decide(request_input)
	result.allow == false
	some reason in result.reasons
	contains(reason, fragment)
}

force_tier_1 := {"type": "force_tier", "tier": 1}

has_obligation(request_input, obligation) if obligation in decide(request_input).obligations
