package rampart_test

import data.rampart

private_request(roles, resource) := {
	"identity": object.union(identity(roles), {"privacy_mode": true}),
	"action": "model.call",
	"resource": resource,
}

redact_records := {"type": "redact", "target": "records", "fields": ["prompt", "completion"]}

test_privacy_mode_denies_tier_2_and_forces_tier_1 if {
	denied(private_request(["user"], model(2, null)), "privacy mode requires a Tier 1 (on-premises) model; m is Tier 2 (cloud)")
	has_obligation(private_request(["user"], model(2, null)), force_tier_1)
}

test_privacy_mode_on_tier_1_is_allowed_with_obligations if {
	allowed(private_request(["user"], model(1, null)))
	decide(private_request(["user"], model(1, null))).obligations == {redact_records, force_tier_1}
}

test_confidential_and_restricted_stay_on_tier_1 if {
	every classification in ["confidential", "restricted"] {
		denied(request(["user"], "model.call", model(2, classification)), sprintf("classification %s requires a Tier 1", [classification]))
		allowed(request(["user"], "model.call", model(1, classification)))
		has_obligation(request(["user"], "model.call", model(1, classification)), force_tier_1)
	}
}

test_secret_never_leaves_tier_1_even_for_admins if {
	denied(request(["admin"], "model.call", model(2, "secret")), "classification secret (secret data never leaves Tier 1) requires a Tier 1")
	allowed(request(["admin"], "model.call", model(1, "secret")))
	has_obligation(request(["admin"], "model.call", model(1, "secret")), force_tier_1)
}

test_open_classifications_may_use_tier_2 if {
	every classification in [null, "public", "internal"] {
		allowed(request(["user"], "model.call", model(2, classification)))
		decide(request(["user"], "model.call", model(2, classification))).obligations == set()
	}
}

test_unknown_classification_denied if {
	denied(request(["admin"], "model.call", model(1, "top-secret")), "unknown classification top-secret")
	denied(request(["admin"], "retrieval", collection("t1", 3)), "unknown classification 3")
}

test_model_tier_must_be_1_or_2 if {
	denied(request(["admin"], "model.call", model(3, null)), "resource.tier must be 1 (on-premises) or 2 (cloud), not 3")
	denied(request(["admin"], "model.call", {"model": "m"}), "not missing")
}

test_classified_retrieval_forces_tier_1 if {
	allowed(request(["user"], "retrieval", collection("t1", "confidential")))
	decide(request(["user"], "retrieval", collection("t1", "confidential"))).obligations == {force_tier_1}
	decide(request(["user"], "retrieval", collection("t1", "public"))).obligations == set()
}
