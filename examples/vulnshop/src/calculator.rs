//! The calculator: `/calc` evaluates a quantity expression with Rhai, beside its safe twin.

use std::sync::Arc;

use antibody::integrations::rhai::CheckedEval;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use rhai::{Engine, INT, Scope};
use serde::Deserialize;

use crate::pages;
use crate::shop::{Failure, Shop};

/// The unit price the quantity multiplies.
const PRICE: INT = 12;

/// A value the script's scope holds that no quantity should ever reach.
const SECRET: &str = "vulnshop-calc-secret-7f3a";

pub(crate) fn routes() -> Router<Arc<Shop>> {
    Router::new()
        .route("/calc", get(calculate))
        .route("/safe/calc", get(safe_calculate))
}

#[derive(Deserialize)]
struct Quantity {
    #[serde(default)]
    qty: String,
}

/// Vulnerable: the expression is pasted into the script, whose scope holds `secret`.
async fn calculate(
    State(shop): State<Arc<Shop>>,
    Query(query): Query<Quantity>,
) -> Result<Html<String>, Failure> {
    let script = format!("let qty = {}; price * qty", query.qty);
    let mut scope = Scope::new();
    scope.push_constant("price", PRICE);
    scope.push_constant("secret", SECRET.to_owned());
    let engine = Engine::new();
    let result = engine.eval_with_scope_checked::<rhai::Dynamic>(&mut scope, &script);
    if let Err(error) = &result {
        if antibody::integrations::rhai::blocked(error).is_some() {
            return Err(Failure::Blocked);
        }
    }
    shop.trace().script(
        "/calc",
        &script,
        result
            .as_ref()
            .map(ToString::to_string)
            .map_err(ToString::to_string),
    );
    match result {
        Ok(total) => Ok(Html(pages::layout(
            "Total",
            &format!("<p>Total: {}</p>", pages::escape(&total.to_string())),
        ))),
        Err(error) => Err(Failure::BadRequest(format!("cannot calculate: {error}"))),
    }
}

/// Safe: the quantity is an expression of numbers alone, evaluated on its own with nothing
/// in scope, and multiplied outside any script.
async fn safe_calculate(
    State(shop): State<Arc<Shop>>,
    Query(query): Query<Quantity>,
) -> Result<Html<String>, Failure> {
    let mut engine = Engine::new();
    engine.set_max_operations(1_000).set_max_expr_depths(32, 32);
    let qty = engine
        .eval_expression::<INT>(&query.qty)
        .map_err(|error| Failure::BadRequest(format!("not a quantity: {error}")))?;
    let total = PRICE
        .checked_mul(qty)
        .ok_or_else(|| Failure::BadRequest("too many".to_owned()))?;
    shop.trace()
        .script("/safe/calc", &query.qty, Ok(total.to_string()));
    Ok(Html(pages::layout(
        "Total",
        &format!("<p>Total: {total}</p>"),
    )))
}
