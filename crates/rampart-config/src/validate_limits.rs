//! Checks of `[[limits]]`, `[storage] limits_url` and `[context]`.

use std::collections::HashSet;

use crate::error::ConfigError;
use crate::limits::LimitScope;
use crate::locate::KeyPath;
use crate::model::Config;

pub(crate) fn validate_limits(
    config: &Config,
    invalid: &impl Fn(KeyPath, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let root = KeyPath::default();
    if let Some(url) = &config.storage.limits_url {
        let supported = ["redis://", "rediss://", "sqlite:", "postgres://", "postgresql://"];
        if !supported.iter().any(|scheme| url.starts_with(scheme)) {
            return Err(invalid(
                root.key("storage").key("limits_url"),
                format!("is '{url}': use redis://host:6379, sqlite:///path/to/limits.db or postgres://user@host/db"),
            ));
        }
    }
    let mut names = HashSet::new();
    for (index, limit) in config.limits.iter().enumerate() {
        let path = root.key("limits").index(index);
        if limit.name.trim().is_empty() {
            return Err(invalid(path.key("name"), "must not be empty".to_owned()));
        }
        if !names.insert(limit.name.as_str()) {
            return Err(invalid(path.key("name"), format!("'{}' is used by another limit", limit.name)));
        }
        if limit.scope == LimitScope::Global && limit.value.is_some() {
            return Err(invalid(
                path.key("value"),
                "a global limit counts every request together: remove `value`, or pick scope api_key, tenant or user"
                    .to_owned(),
            ));
        }
        if limit.value.as_deref().is_some_and(|value| value.trim().is_empty()) {
            return Err(invalid(
                path.key("value"),
                "must not be empty (leave it out to count each principal)".to_owned(),
            ));
        }
        let counts =
            [("requests_per_minute", limit.requests_per_minute), ("tokens_per_minute", limit.tokens_per_minute)];
        for (key, value) in counts {
            if value == Some(0) {
                return Err(invalid(path.key(key), "must be at least 1 (leave it out for no limit)".to_owned()));
            }
        }
        let spends =
            [("spend_per_day_usd", limit.spend_per_day_usd), ("spend_per_month_usd", limit.spend_per_month_usd)];
        for (key, value) in spends {
            if let Some(value) = value
                && !(value.is_finite() && value > 0.0 && value < 1e9)
            {
                return Err(invalid(path.key(key), format!("is {value}: it must be above 0 and below 1e9 dollars")));
            }
        }
        if counts.iter().all(|(_, value)| value.is_none()) && spends.iter().all(|(_, value)| value.is_none()) {
            return Err(invalid(
                path.key("name"),
                format!(
                    "limit '{}' sets nothing: give it requests_per_minute, tokens_per_minute, spend_per_day_usd or \
                     spend_per_month_usd",
                    limit.name
                ),
            ));
        }
        for name in &limit.models {
            if !config.models.iter().any(|model| model.name == *name) {
                return Err(invalid(
                    path.key("models"),
                    format!("names '{name}', which is not a configured model name"),
                ));
            }
        }
    }

    if let Some(url) = &config.cache.url
        && !(url.starts_with("redis://") || url.starts_with("rediss://"))
    {
        return Err(invalid(
            root.key("cache").key("url"),
            format!("is '{url}': use redis://host:6379 (or leave it out for memory)"),
        ));
    }
    if config.cache.default_ttl_secs == 0 {
        return Err(invalid(root.key("cache").key("default_ttl_secs"), "must be greater than 0".to_owned()));
    }
    for (index, model) in config.models.iter().enumerate() {
        if model.cache_ttl_secs == Some(0) {
            return Err(invalid(
                root.key("models").index(index).key("cache_ttl_secs"),
                "must be greater than 0 (leave it out to cache only on request)".to_owned(),
            ));
        }
    }

    validate_routes(config, invalid)?;

    let context = root.key("context");
    let layers = config.context.layers();
    let layered: u64 = layers.iter().map(|(_, tokens)| u64::from(*tokens)).sum();
    if config.context.total_tokens == 0 {
        return Err(invalid(context.key("total_tokens"), "must be greater than 0".to_owned()));
    }
    if layered > u64::from(config.context.total_tokens) {
        return Err(invalid(
            context.key("total_tokens"),
            format!(
                "is {}, less than the layers' budgets together ({layered}): raise it or lower a layer",
                config.context.total_tokens
            ),
        ));
    }
    Ok(())
}

fn validate_routes(config: &Config, invalid: &impl Fn(KeyPath, String) -> ConfigError) -> Result<(), ConfigError> {
    let root = KeyPath::default();
    let mut names = HashSet::new();
    for (index, route) in config.routes.iter().enumerate() {
        let path = root.key("routes").index(index);
        if route.name.trim().is_empty() {
            return Err(invalid(path.key("name"), "must not be empty".to_owned()));
        }
        let taken = config.models.iter().any(|model| model.name == route.name || model.aliases.contains(&route.name));
        if taken || !names.insert(route.name.as_str()) {
            return Err(invalid(path.key("name"), format!("'{}' is already a model, alias or route", route.name)));
        }
        if route.rules.is_empty() {
            return Err(invalid(path.key("rules"), "must hold at least one rule".to_owned()));
        }
        let mut kinds = HashSet::new();
        for (rule_index, rule) in route.rules.iter().enumerate() {
            let rule_path = path.key("rules").index(rule_index);
            if rule.candidates.is_empty() {
                return Err(invalid(rule_path.key("candidates"), "must name at least one model".to_owned()));
            }
            if rule.candidates.iter().all(|candidate| candidate.weight == 0) {
                return Err(invalid(
                    rule_path.key("candidates"),
                    "at least one candidate needs a weight above 0".to_owned(),
                ));
            }
            for candidate in &rule.candidates {
                let Some(model) = config.models.iter().find(|model| model.name == candidate.model) else {
                    return Err(invalid(
                        rule_path.key("candidates"),
                        format!("names '{}', which is not a configured model name", candidate.model),
                    ));
                };
                kinds.insert(model.kind);
            }
            if let (Some(min), Some(max)) = (rule.when.min_prompt_tokens, rule.when.max_prompt_tokens)
                && min > max
            {
                return Err(invalid(
                    rule_path.key("when"),
                    format!("min_prompt_tokens {min} is above max_prompt_tokens {max}"),
                ));
            }
            if rule.when.tier.is_some_and(|tier| !(1..=2).contains(&tier)) {
                return Err(invalid(rule_path.key("when"), "tier must be 1 or 2".to_owned()));
            }
        }
        if kinds.len() > 1 {
            return Err(invalid(
                path.key("rules"),
                "mixes chat and embedding models: a route serves one kind".to_owned(),
            ));
        }
    }
    Ok(())
}
