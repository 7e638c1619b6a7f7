# Governed tools: seed 004 §4 capability tiers.
#
#   T0 read-only compute          T1 writes in the workspace
#   T2 system changes, after a snapshot
#   T3 destructive or sensitive: a verified tripcode is required
#
# These gates hold for every role, admins included. Which roles may call tools at all, and up
# to which tier, is in rbac.rego.
package rampart

tool_tiers := {0, 1, 2, 3}

tool_call_denials contains sprintf("tool.call: input.resource.tier must be 0, 1, 2 or 3, not %v", [
	object.get(resource, "tier", "missing"),
]) if {
	not input.resource.tier in tool_tiers
}

tool_call_denials contains sprintf("tool %s is tier 3 (destructive or sensitive) and needs a verified tripcode", [
	resource_label("tool"),
]) if {
	input.resource.tier == 3
	not input.resource.tripcode_verified == true
}

# "Snapshot if tier is T2 or higher."
tool_call_obligations contains {"type": "snapshot"} if input.resource.tier in {2, 3}
