//! Function configurations in the server's field names (its `SDKFunction`), both directions:
//! this app's specs as it registers them (composite ids `<app>-<fn>`, step URLs, retries as the
//! server reads them, flow control), and a synced app's configurations as remote specs.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::wire::{format_duration, DISCOVERY_STEP};
use crate::function::{
    BatchEvents, CancelOn, Concurrency, ConcurrencyPer, ConcurrencyScope, Debounce, Executor, FunctionSpec, Options,
    Priority, RateLimit, RemoteFunction, Singleton, SingletonMode, Throttle, Timeouts, Trigger,
};

/// The most retries the server allows.
pub const MAX_RETRIES: u32 = 20;

/// The id a function of app `app_id` is known by on the server: `<app>-<fn>`.
pub fn composite_id(app_id: &str, function_id: &str) -> String {
    format!("{app_id}-{function_id}")
}

/// `url` with `fnId` and `stepId` set (replacing any already there).
pub fn step_url(url: &str, fn_id: &str, step_id: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("fnId=") && !p.starts_with("stepId=") && !p.starts_with("step="))
        .map(str::to_owned)
        .collect();
    pairs.push(format!("fnId={}", crate::guard::percent_encode(fn_id)));
    pairs.push(format!("stepId={}", crate::guard::percent_encode(step_id)));
    format!("{base}?{}", pairs.join("&"))
}

fn dur(d: Duration) -> Value {
    json!(format_duration(d))
}

/// A spec of this app as the server registers it. `serve_url` is where it is served;
/// `ids` maps an id of this app to its composite id (for the failure handler's condition).
pub fn to_config(spec: &FunctionSpec, app_id: &str, serve_url: &str) -> Value {
    let id = composite_id(app_id, &spec.id);
    let mut triggers = Vec::new();
    for trigger in &spec.triggers {
        triggers.push(match trigger {
            Trigger::Event { name, expr } => {
                // A failure handler's condition names the function by its id in this app; the
                // server knows it by its composite id.
                let expr = match (&spec.failure_handler_of, expr) {
                    (Some(of), Some(_)) => Some(format!("event.data.function_id == '{}'", composite_id(app_id, of))),
                    (_, expr) => expr.as_ref().map(|e| e.to_string()),
                };
                match expr {
                    Some(expr) => json!({ "event": name, "expression": expr }),
                    None => json!({ "event": name }),
                }
            }
            Trigger::Cron { schedule } => json!({ "cron": schedule }),
        });
    }
    let mut step = json!({
        "id": DISCOVERY_STEP,
        "name": DISCOVERY_STEP,
        "runtime": { "type": "http", "url": step_url(serve_url, &id, DISCOVERY_STEP) },
    });
    if let Some(retries) = spec.options.retries {
        // `attempts` is, despite its name, the number of retries.
        step["retries"] = json!({ "attempts": retries.min(MAX_RETRIES) });
    }
    let mut config = Map::new();
    config.insert("id".into(), json!(id));
    config.insert("name".into(), json!(spec.display_name()));
    config.insert("triggers".into(), Value::Array(triggers));
    config.insert("steps".into(), json!({ DISCOVERY_STEP: step }));
    options_to_config(&id, &spec.options, &mut config);
    Value::Object(config)
}

fn with_key(mut value: Value, key: &Option<Cow<'static, str>>) -> Value {
    if let Some(key) = key {
        value["key"] = json!(key);
    }
    value
}

/// What the server has no field for: said once per sync, so that the difference is known.
fn unsupported(function: &str, what: &str) {
    tracing::warn!(function, "Inngest has no equivalent of {what}: the Inngest server runs this function without it");
}

fn options_to_config(function: &str, o: &Options, config: &mut Map<String, Value>) {
    if !o.concurrency.is_empty() {
        if o.concurrency.iter().any(|c| c.per == ConcurrencyPer::Run) {
            unsupported(function, "a concurrency limit per run (`per = \"run\"`); it counts steps there");
        }
        let limits: Vec<Value> = o
            .concurrency
            .iter()
            .map(|c| {
                let scope = match c.scope {
                    ConcurrencyScope::Fn => "fn",
                    ConcurrencyScope::Env => "env",
                    ConcurrencyScope::Account => "account",
                };
                with_key(json!({ "limit": c.limit, "scope": scope }), &c.key)
            })
            .collect();
        config.insert("concurrency".into(), Value::Array(limits));
    }
    // The server takes one throttle.
    if let Some(t) = o.throttle.first() {
        if o.throttle.len() > 1 {
            unsupported(function, "a second throttle");
        }
        let v = json!({ "limit": t.limit, "period": dur(t.period), "burst": t.burst });
        config.insert("throttle".into(), with_key(v, &t.key));
    }
    if let Some(singleton) = &o.singleton {
        let mode = match singleton.mode {
            SingletonMode::Skip => "skip",
            SingletonMode::Cancel => "cancel",
        };
        config.insert("singleton".into(), with_key(json!({ "mode": mode }), &singleton.key));
    }
    if let Some(r) = &o.rate_limit {
        config.insert("rateLimit".into(), with_key(json!({ "limit": r.limit, "period": dur(r.period) }), &r.key));
    }
    if let Some(expr) = &o.idempotency {
        config.insert("idempotency".into(), json!(expr));
    }
    if let Some(d) = &o.debounce {
        if d.all_events {
            unsupported(function, "a debounce handing the run every event (`all_events`)");
        }
        let mut v = with_key(json!({ "period": dur(d.period) }), &d.key);
        if let Some(timeout) = d.timeout {
            v["timeout"] = dur(timeout);
        }
        config.insert("debounce".into(), v);
    }
    if let Some(b) = &o.batch_events {
        // The server parses this one timeout without days: say it in hours at most.
        let timeout = format_duration(b.timeout);
        let timeout = if timeout.contains('d') { format!("{}h", b.timeout.as_secs() / 3600) } else { timeout };
        let mut v = with_key(json!({ "maxSize": b.max_size, "timeout": timeout }), &b.key);
        if let Some(expr) = &b.if_expr {
            v["if"] = json!(expr);
        }
        config.insert("batchEvents".into(), v);
    }
    if !o.cancel_on.is_empty() {
        let cancels: Vec<Value> = o
            .cancel_on
            .iter()
            .map(|c| {
                let mut v = json!({ "event": c.event });
                if let Some(expr) = &c.expr {
                    v["if"] = json!(expr);
                }
                if let Some(timeout) = c.timeout {
                    v["timeout"] = dur(timeout);
                }
                v
            })
            .collect();
        config.insert("cancel".into(), Value::Array(cancels));
    }
    if let Some(p) = &o.priority {
        config.insert("priority".into(), json!({ "run": p.run }));
    }
    if let Some(t) = &o.timeouts {
        let mut v = Map::new();
        if let Some(start) = t.start {
            v.insert("start".into(), dur(start));
        }
        if let Some(finish) = t.finish {
            v.insert("finish".into(), dur(finish));
        }
        config.insert("timeouts".into(), Value::Object(v));
    }
}

/// A synced app's function configuration as a remote spec, or what is wrong with it.
pub fn from_config(app_id: &str, config: &Value) -> Result<FunctionSpec, String> {
    let map = config.as_object().ok_or("a function configuration must be a JSON object")?;
    let id = str_field(map, "id")?.ok_or("a function has no `id`")?;
    let at = |what: String| format!("function `{id}`: {what}");
    let name = str_field(map, "name").map_err(at)?;
    let triggers = map
        .get("triggers")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| at("`triggers` must be a non-empty list".into()))?
        .iter()
        .enumerate()
        .map(|(i, t)| trigger(t).map_err(|e| at(format!("trigger {i}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let step = map
        .get("steps")
        .and_then(Value::as_object)
        .and_then(|steps| steps.values().next())
        .ok_or_else(|| at("`steps` must hold one step with a `runtime.url`".into()))?;
    let url = step
        .pointer("/runtime/url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .ok_or_else(|| at("the step's `runtime.url` must be an http:// or https:// URL".into()))?;
    let retries = step
        .pointer("/retries/attempts")
        .or_else(|| map.get("retries"))
        .map(|v| v.as_u64().ok_or("`retries.attempts` must be a whole number"))
        .transpose()
        .map_err(|e| at(e.into()))?
        .map(|n| u32::try_from(n).unwrap_or(MAX_RETRIES).min(MAX_RETRIES));
    let options = options_from_config(map, retries).map_err(at)?;
    Ok(FunctionSpec {
        id: id.to_owned(),
        name: name.map(str::to_owned),
        triggers,
        options,
        executor: Executor::Remote(RemoteFunction { app_id: app_id.to_owned(), url: url.to_owned() }),
        failure_handler_of: None,
        location: None,
    })
}

fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{key}` must be a string, not {}", crate::webhook::json_kind(other))),
    }
}

fn trigger(value: &Value) -> Result<Trigger, String> {
    let map = value.as_object().ok_or("a trigger must be an object")?;
    match (str_field(map, "event")?, str_field(map, "cron")?) {
        (Some(event), None) => Ok(Trigger::Event {
            name: Cow::Owned(event.to_owned()),
            expr: str_field(map, "expression")?.map(|e| Cow::Owned(e.to_owned())),
        }),
        (None, Some(cron)) => Ok(Trigger::Cron { schedule: Cow::Owned(cron.to_owned()) }),
        _ => Err("a trigger needs exactly one of `event` and `cron`".into()),
    }
}

fn duration(map: &Map<String, Value>, key: &str) -> Result<Option<Duration>, String> {
    match str_field(map, key)? {
        None => Ok(None),
        Some(text) => crate::duration::parse_duration(text)
            .map(Some)
            .map_err(|e| format!("`{key}` `{text}` is not a duration: {e}")),
    }
}

fn number(map: &Map<String, Value>, key: &str) -> Result<Option<u32>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be a whole number")),
    }
}

fn key(map: &Map<String, Value>) -> Result<Option<Cow<'static, str>>, String> {
    Ok(str_field(map, "key")?.map(|k| Cow::Owned(k.to_owned())))
}

fn object<'a>(config: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Map<String, Value>>, String> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(format!("`{key}` must be an object, not {}", crate::webhook::json_kind(other))),
    }
}

fn options_from_config(config: &Map<String, Value>, retries: Option<u32>) -> Result<Options, String> {
    let mut o = Options { retries, ..Options::DEFAULT };
    let concurrency = match config.get("concurrency") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Number(n)) => {
            let limit = n.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or("`concurrency` must be a whole number")?;
            vec![Concurrency { limit, key: None, scope: ConcurrencyScope::Fn, per: ConcurrencyPer::Step }]
        }
        Some(Value::Object(c)) => vec![concurrency_limit(c)?],
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| {
                c.as_object().ok_or("each concurrency limit must be an object".to_owned()).and_then(concurrency_limit)
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("`concurrency` must be a number, an object or a list".into()),
    };
    o.concurrency = Cow::Owned(concurrency);
    // One object (the server's field); a list is taken too.
    let throttles = match config.get("throttle") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    let mut list = Vec::new();
    for t in throttles {
        let t = t.as_object().ok_or("`throttle` must be an object")?;
        list.push(Throttle {
            limit: number(t, "limit")?.ok_or("`throttle.limit` is required")?,
            period: duration(t, "period")?.ok_or("`throttle.period` is required")?,
            burst: number(t, "burst")?.unwrap_or(1),
            key: key(t)?,
        });
    }
    o.throttle = Cow::Owned(list);
    if let Some(singleton) = object(config, "singleton")? {
        let mode = match str_field(singleton, "mode")? {
            None | Some("skip") => SingletonMode::Skip,
            Some("cancel") => SingletonMode::Cancel,
            Some(other) => return Err(format!("singleton mode `{other}` is not `skip` or `cancel`")),
        };
        o.singleton = Some(Singleton { mode, key: key(singleton)? });
    }
    if let Some(r) = object(config, "rateLimit")? {
        o.rate_limit = Some(RateLimit {
            limit: number(r, "limit")?.ok_or("`rateLimit.limit` is required")?,
            period: duration(r, "period")?.ok_or("`rateLimit.period` is required")?,
            key: key(r)?,
        });
    }
    o.idempotency = str_field(config, "idempotency")?.map(|e| Cow::Owned(e.to_owned()));
    if let Some(d) = object(config, "debounce")? {
        o.debounce = Some(Debounce {
            period: duration(d, "period")?.ok_or("`debounce.period` is required")?,
            key: key(d)?,
            timeout: duration(d, "timeout")?,
            all_events: false,
        });
    }
    if let Some(b) = object(config, "batchEvents")? {
        o.batch_events = Some(BatchEvents {
            max_size: number(b, "maxSize")?.ok_or("`batchEvents.maxSize` is required")?,
            timeout: duration(b, "timeout")?.ok_or("`batchEvents.timeout` is required")?,
            key: key(b)?,
            if_expr: str_field(b, "if")?.map(|e| Cow::Owned(e.to_owned())),
        });
    }
    if let Some(cancels) = config.get("cancel").and_then(Value::as_array) {
        let mut list = Vec::new();
        for c in cancels {
            let c = c.as_object().ok_or("each `cancel` entry must be an object")?;
            list.push(CancelOn {
                event: Cow::Owned(str_field(c, "event")?.ok_or("a `cancel` entry needs an `event`")?.to_owned()),
                expr: str_field(c, "if")?.map(|e| Cow::Owned(e.to_owned())),
                timeout: duration(c, "timeout")?,
            });
        }
        o.cancel_on = Cow::Owned(list);
    }
    if let Some(p) = object(config, "priority")? {
        if let Some(run) = str_field(p, "run")? {
            o.priority = Some(Priority { run: Cow::Owned(run.to_owned()) });
        }
    }
    if let Some(t) = object(config, "timeouts")? {
        o.timeouts = Some(Timeouts { start: duration(t, "start")?, finish: duration(t, "finish")? });
    }
    Ok(o)
}

fn concurrency_limit(c: &Map<String, Value>) -> Result<Concurrency, String> {
    let scope = match str_field(c, "scope")? {
        None | Some("fn") => ConcurrencyScope::Fn,
        Some("env") => ConcurrencyScope::Env,
        Some("account") => ConcurrencyScope::Account,
        Some(other) => return Err(format!("concurrency scope `{other}` is not `fn`, `env` or `account`")),
    };
    let limit = number(c, "limit")?.ok_or("a concurrency limit needs `limit`")?;
    Ok(Concurrency { limit, key: key(c)?, scope, per: ConcurrencyPer::Step })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_urls_carry_the_function_and_step() {
        assert_eq!(step_url("http://h/api/inngest", "app-f", "step"), "http://h/api/inngest?fnId=app-f&stepId=step");
        assert_eq!(
            step_url("http://h/x?fnId=old&stepId=step&deployId=1", "a b", "h1"),
            "http://h/x?deployId=1&fnId=a%20b&stepId=h1"
        );
    }

    #[test]
    fn a_spec_round_trips_through_its_configuration() {
        let spec = FunctionSpec {
            id: "welcome".into(),
            name: Some("Welcome".into()),
            triggers: vec![
                Trigger::Event { name: "clerk/user.created".into(), expr: Some("event.data.x == 1".into()) },
                Trigger::Cron { schedule: "TZ=Europe/Paris 0 9 * * MON".into() },
            ],
            options: Options {
                retries: Some(2),
                concurrency: Cow::Owned(vec![Concurrency {
                    limit: 5,
                    key: Some("event.data.id".into()),
                    scope: ConcurrencyScope::Env,
                    per: ConcurrencyPer::Step,
                }]),
                throttle: Cow::Owned(vec![Throttle { limit: 1, period: Duration::from_secs(60), burst: 2, key: None }]),
                singleton: Some(Singleton { mode: SingletonMode::Cancel, key: Some("event.data.id".into()) }),
                rate_limit: Some(RateLimit { limit: 3, period: Duration::from_secs(3600), key: None }),
                debounce: Some(Debounce {
                    period: Duration::from_secs(5),
                    key: None,
                    timeout: Some(Duration::from_secs(60)),
                    all_events: false,
                }),
                batch_events: Some(BatchEvents {
                    max_size: 10,
                    timeout: Duration::from_secs(5),
                    key: None,
                    if_expr: Some("event.data.x > 1".into()),
                }),
                priority: Some(Priority { run: "120".into() }),
                idempotency: Some("event.data.id".into()),
                cancel_on: Cow::Owned(vec![CancelOn {
                    event: "clerk/user.deleted".into(),
                    expr: Some("event.data.id == async.data.id".into()),
                    timeout: Some(Duration::from_secs(86_400)),
                }]),
                timeouts: Some(Timeouts { start: Some(Duration::from_secs(600)), finish: None }),
            },
            executor: Executor::Remote(RemoteFunction { app_id: "x".into(), url: "u".into() }),
            failure_handler_of: None,
            location: None,
        };
        let config = to_config(&spec, "shop", "http://h/api/inngest");
        assert_eq!(config["id"], "shop-welcome");
        assert_eq!(config["steps"]["step"]["runtime"]["url"], "http://h/api/inngest?fnId=shop-welcome&stepId=step");
        assert_eq!(config["steps"]["step"]["retries"]["attempts"], 2);
        assert_eq!(config["throttle"], json!({"limit": 1, "period": "1m", "burst": 2}));
        assert_eq!(config["cancel"][0]["timeout"], "1d");
        assert_eq!(config["singleton"], json!({"mode": "cancel", "key": "event.data.id"}));
        assert_eq!(config["batchEvents"]["if"], "event.data.x > 1");
        let back = from_config("shop", &config).expect("parses");
        assert_eq!(back.id, "shop-welcome");
        assert_eq!(back.triggers, spec.triggers);
        assert_eq!(back.options, spec.options);
        assert!(matches!(&back.executor, Executor::Remote(r) if r.url.ends_with("fnId=shop-welcome&stepId=step")));
    }

    #[test]
    fn bad_configurations_say_what_is_wrong() {
        let ok =
            json!({"id": "a-f", "triggers": [{"event": "x"}], "steps": {"step": {"runtime": {"url": "http://h"}}}});
        assert!(from_config("a", &ok).is_ok());
        let cases = [
            (json!({"triggers": []}), "no `id`"),
            (json!({"id": "f", "triggers": []}), "non-empty list"),
            (json!({"id": "f", "triggers": [{"event": "x", "cron": "* * * * *"}]}), "exactly one"),
            (json!({"id": "f", "triggers": [{"event": "x"}], "steps": {}}), "one step"),
            (
                json!({"id": "f", "triggers": [{"event": "x"}], "steps": {"s": {"runtime": {"url": "ftp://h"}}}}),
                "http://",
            ),
            (
                json!({"id": "f", "triggers": [{"event": "x"}], "steps": {"s": {"runtime": {"url": "http://h"}}},
                       "throttle": {"limit": 1, "period": "soon"}}),
                "not a duration",
            ),
        ];
        for (config, expected) in cases {
            let err = from_config("a", &config).expect_err("refused");
            assert!(err.contains(expected), "{err} should say {expected}");
        }
    }
}
