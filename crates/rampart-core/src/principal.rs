//! Who a request is charged to.

/// The party a request's tokens and cost are accounted to, as kept in the request log and
/// summed by [`crate::Store::usage_summary`].
///
/// Until the identity crate lands, the gateway derives it from what the client sends and trusts
/// it as sent: `api_key_id` is a fingerprint of the bearer token (never the token itself),
/// `tenant` comes from the `x-rampart-tenant` header, and `user` from the OpenAI `user` body
/// field or else the `x-rampart-user` header. `None` means the request did not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Principal {
    pub api_key_id: Option<String>,
    pub tenant: Option<String>,
    pub user: Option<String>,
}
