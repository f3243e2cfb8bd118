//! The router: every route, recorded as it is added so that [`routed`] lists them (method,
//! path in axum's `{param}` syntax, as OpenAPI writes it) — a test checks that the OpenAPI
//! document describes exactly these. Unknown paths and methods answer with JSON errors (404,
//! 405); every request passes the checks of [`crate::auth::guard`] first.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};

use crate::api::{cafes, catalog, events, orders, plan, runs, system};
use crate::error::ServerError;
use crate::server::Shared;
use crate::web;

/// Builds the router while recording each route.
struct Builder {
    router: Router<Arc<Shared>>,
    added: Vec<(&'static str, &'static str)>,
}

impl Builder {
    fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, Arc<Shared>>,
        T: 'static,
    {
        let filter = match method {
            "GET" => MethodFilter::GET,
            "POST" => MethodFilter::POST,
            "PUT" => MethodFilter::PUT,
            "PATCH" => MethodFilter::PATCH,
            _ => MethodFilter::DELETE,
        };
        self.router = self.router.route(path, on(filter, handler));
        self.added.push((method, path));
        self
    }
}

/// The routes as the router has them (in the order added).
pub fn routed() -> Vec<(&'static str, &'static str)> {
    build().added
}

fn build() -> Builder {
    let routes = Builder {
        router: Router::new(),
        added: Vec::new(),
    };
    routes
        .add("GET", "/", web::index)
        .add("GET", "/assets/{name}", web::asset)
        .add("GET", "/api/openapi.json", system::openapi)
        .add("GET", "/api/server", system::server)
        .add("GET", "/api/status", system::status)
        .add("GET", "/api/settings", system::settings)
        .add("GET", "/api/settings/{key}", system::setting)
        .add("PUT", "/api/settings/{key}", system::set_setting)
        .add("DELETE", "/api/settings/{key}", system::unset_setting)
        .add("GET", "/api/cafes", cafes::list)
        .add("POST", "/api/cafes", cafes::create)
        .add("GET", "/api/cafes/last-accessed", cafes::last_accessed)
        .add("PUT", "/api/cafes/last-accessed", cafes::set_last_accessed)
        .add("GET", "/api/cafes/{cafe}", cafes::show)
        .add("PATCH", "/api/cafes/{cafe}", cafes::update)
        .add("DELETE", "/api/cafes/{cafe}", cafes::delete)
        .add("GET", "/api/cafes/{cafe}/trust", cafes::trust_status)
        .add("POST", "/api/cafes/{cafe}/trust", cafes::trust)
        .add("DELETE", "/api/cafes/{cafe}/trust", cafes::revoke_trust)
        .add("GET", "/api/cafes/{cafe}/recipes", catalog::recipes)
        .add("GET", "/api/cafes/{cafe}/recipes/{id}", catalog::recipe)
        .add(
            "POST",
            "/api/cafes/{cafe}/recipes/validate",
            catalog::validate_recipes,
        )
        .add("GET", "/api/cafes/{cafe}/skills", catalog::skills)
        .add("POST", "/api/cafes/{cafe}/skills", catalog::create_skill)
        .add("GET", "/api/cafes/{cafe}/skills/{id}", catalog::skill)
        .add(
            "PATCH",
            "/api/cafes/{cafe}/skills/{id}",
            catalog::update_skill,
        )
        .add(
            "DELETE",
            "/api/cafes/{cafe}/skills/{id}",
            catalog::delete_skill,
        )
        .add(
            "POST",
            "/api/cafes/{cafe}/skills/{id}/duplicate",
            catalog::duplicate_skill,
        )
        .add("GET", "/api/cafes/{cafe}/roles", catalog::roles)
        .add("GET", "/api/cafes/{cafe}/roles/{id}", catalog::role)
        .add("GET", "/api/orders", orders::list)
        .add("POST", "/api/orders", orders::create)
        .add("POST", "/api/orders/run", runs::run)
        .add("POST", "/api/orders/delete", orders::delete_many)
        .add("GET", "/api/orders/{id}", orders::show)
        .add("DELETE", "/api/orders/{id}", orders::delete)
        .add("POST", "/api/orders/{id}/execute", runs::execute)
        .add("POST", "/api/orders/{id}/input", runs::input)
        .add("POST", "/api/orders/{id}/approve", runs::approve)
        .add("POST", "/api/orders/{id}/deny", runs::deny)
        .add("POST", "/api/orders/{id}/cancel", orders::cancel)
        .add("POST", "/api/orders/{id}/retry", runs::retry)
        .add("POST", "/api/orders/{id}/resume", runs::resume)
        .add("POST", "/api/orders/{id}/followup", runs::followup)
        .add(
            "POST",
            "/api/orders/{id}/followup/finish",
            runs::finish_followup,
        )
        .add("POST", "/api/orders/{id}/merge", orders::merge)
        .add("GET", "/api/orders/{id}/diff", orders::diff)
        .add("GET", "/api/orders/{id}/log", orders::log)
        .add("GET", "/api/orders/{id}/plan", plan::plan)
        .add("GET", "/api/orders/{id}/events", events::order_events)
        .add("GET", "/api/events", events::all_events)
}

/// The router with its checks, limits and JSON fallbacks.
pub fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.config.body_limit;
    build()
        .router
        .fallback(|request: Request| async move {
            ServerError::NoRoute {
                method: request.method().to_string(),
                path: request.uri().path().to_owned(),
            }
        })
        .method_not_allowed_fallback(|request: Request| async move {
            ServerError::MethodNotAllowed {
                method: request.method().to_string(),
                path: request.uri().path().to_owned(),
            }
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            crate::auth::guard,
        ))
        .with_state(shared)
}
