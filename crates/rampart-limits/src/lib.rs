//! Rate limits and budgets per API key, tenant and user (`[[limits]]`), enforced so that
//! concurrent requests can never overspend them.
//!
//! Before a call, [`Limiter::admit`] reserves on every counter that applies (one request, the
//! prompt's tokens plus the most the answer may take, and what that would cost) in one atomic
//! step of the [`rampart_core::LimitLedger`]. When a budget has room for the prompt but not for
//! the whole answer, the answer is capped at what the budget can pay for ([`Permit::output_cap`]),
//! so the upstream itself stops there. After the call, [`Limiter::settle`] returns the unused
//! part of the reservation. A ledger that cannot be reached fails the request (fail closed).

mod error;
mod limiter;
mod rule;

pub use error::LimitError;
pub use limiter::{Demand, LimitStatus, Limiter, Permit};
pub use rule::cost_nanos;
