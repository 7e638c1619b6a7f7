package rampart_test

import data.rampart

test_every_action_is_known_and_others_denied if {
	count(rampart.actions) == 7
	denied(request(["admin"], "model.delete", {}), "unknown action model.delete: expected one of admin.read, admin.write, audit.read, memory.write, model.call, retrieval, tool.call")
}

test_missing_action_denied_by_name if {
	denied({"identity": identity(["admin"]), "resource": {}}, "unknown action (no action)")
}

test_empty_input_is_denied_with_reasons if {
	result := decide({})
	result.allow == false
	count(result.reasons) >= 3
	result.obligations == set()
}

test_missing_tenant_denied_even_for_admin if {
	denied(
		{"identity": object.remove(identity(["admin"]), ["tenant_id"]), "action": "admin.read", "resource": {}},
		"tenant_id must be a non-empty string",
	)
}

test_empty_tenant_denied if {
	denied(
		{"identity": object.union(identity(["admin"]), {"tenant_id": ""}), "action": "admin.read", "resource": {}},
		"tenant_id must be a non-empty string",
	)
}

test_privacy_mode_must_be_boolean if {
	denied(
		{"identity": object.union(identity(["admin"]), {"privacy_mode": "yes"}), "action": "admin.read", "resource": {}},
		"privacy_mode must be true or false",
	)
}

test_default_deny_names_roles_and_action if {
	denied(request(["auditor", "operator"], "tool.call", tool(0)), "default deny: no rule allows roles [auditor, operator] to perform tool.call")
}

test_no_roles_is_default_deny if {
	denied(request([], "model.call", model(1, null)), "no rule allows roles [] to perform model.call")
}

test_non_string_roles_are_ignored if {
	denied(request([1, {"admin": true}], "admin.write", {}), "default deny")
}

test_allow_reasons_are_the_grants if {
	result := decide(request(["user", "operator"], "model.call", model(1, "internal")))
	result.allow == true
	result.reasons == {"role operator may call models", "role user may call models"}
	result.obligations == set()
}

test_refusals_are_hidden_when_another_role_grants if {
	result := decide(request(["admin", "user"], "retrieval", collection("t2", null)))
	result.allow == true
	result.reasons == {"role admin may retrieve from every tenant"}
}

test_denials_win_over_grants if {
	denied(request(["admin"], "model.call", model(2, "secret")), "secret data never leaves Tier 1")
}
