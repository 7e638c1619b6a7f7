# Where data may be processed: seed 000's federal tiers.
#
#   Tier 1  on-premises models (the workhorse)
#   Tier 2  cloud models (escalation for the hardest tasks)
#   Tier 3  solo-sustain: Tier 1 alone while the cloud is unreachable (a router state, not a
#           model tier, so no model.call names it)
#
# Work that must stay on Tier 1: privacy_mode requests, and data classified confidential or
# above. Such work gets the obligation {"type": "force_tier", "tier": 1} (model.call and
# retrieval), so the router keeps it, and everything built from it, on Tier 1. A model.call that
# names a Tier 2 model for such work is denied: the router can re-plan on Tier 1 models and ask
# again. Secret data never leaves Tier 1, whatever a site changes here.
package rampart

# (Constants are written inline in the rules that every decision evaluates: on regorus' RVM a
# literal is cheaper than a reference to another rule.)

tier1_requirements contains "privacy mode" if input.identity.privacy_mode == true

# Classifications that keep work on Tier 1, and how a reason names them.
tier1_requirements contains {
	"confidential": "classification confidential",
	"restricted": "classification restricted",
	"secret": "classification secret (secret data never leaves Tier 1)",
}[input.resource.classification]

# --- model.call

model_call_denials := classification_denials | model_tier_denials

model_tier_denials contains sprintf("model.call: input.resource.tier must be 1 (on-premises) or 2 (cloud), not %v", [
	object.get(resource, "tier", "missing"),
]) if {
	not input.resource.tier in {1, 2}
}

model_tier_denials contains sprintf("%s requires a Tier 1 (on-premises) model; %s is Tier 2 (cloud)", [
	requirement,
	resource_label("model"),
]) if {
	input.resource.tier == 2
	some requirement in tier1_requirements
}

model_call_obligations contains {"type": "force_tier", "tier": 1} if count(tier1_requirements) > 0

# Privacy routing is no-retention (seed 000): stored records of the call (request log, response
# cache, audit payloads) keep no prompt or completion text.
model_call_obligations contains {"type": "redact", "target": "records", "fields": ["prompt", "completion"]} if {
	input.identity.privacy_mode == true
}

# --- retrieval (and model.call)

retrieval_obligations contains {"type": "force_tier", "tier": 1} if count(tier1_requirements) > 0

classification_denials contains sprintf("unknown classification %v: expected null or one of %s", [
	input.resource.classification,
	"confidential, internal, public, restricted, secret",
]) if {
	input.resource.classification != null
	not input.resource.classification in {"public", "internal", "confidential", "restricted", "secret"}
}
