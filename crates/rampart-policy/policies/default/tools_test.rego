package rampart_test

test_tool_tier_must_be_0_to_3 if {
	denied(request(["admin"], "tool.call", tool(4)), "resource.tier must be 0, 1, 2 or 3, not 4")
	denied(request(["admin"], "tool.call", {"tool": "shell"}), "not missing")
	denied(request(["admin"], "tool.call", tool("1")), "not 1")
}

test_tier_3_needs_a_verified_tripcode_even_for_admins if {
	denied(request(["admin"], "tool.call", tool(3)), "tool shell is tier 3 (destructive or sensitive) and needs a verified tripcode")
	denied(request(["admin"], "tool.call", object.union(tool(3), {"tripcode_verified": "yes"})), "needs a verified tripcode")
	allowed(request(["admin"], "tool.call", object.union(tool(3), {"tripcode_verified": true})))
}

test_tier_2_and_above_require_a_snapshot if {
	has_obligation(request(["admin"], "tool.call", tool(2)), {"type": "snapshot"})
	has_obligation(request(["admin"], "tool.call", object.union(tool(3), {"tripcode_verified": true})), {"type": "snapshot"})
	decide(request(["admin"], "tool.call", tool(1))).obligations == set()
}
