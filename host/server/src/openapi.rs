//! The OpenAPI 3.0 document of the API, written by hand in `host/server/openapi.yaml` (the
//! paths) and `host/server/openapi-components.yaml` (the schemas, parameters and responses
//! they refer to), embedded, merged and served as JSON at `GET /api/openapi.json`. Tests check
//! that it is a valid OpenAPI document, that every `$ref` resolves, and that it describes
//! exactly the routes the router has ([`crate::routes::routed`]).

use std::sync::OnceLock;

use serde_json::Value;

use crate::error::{Result, ServerError};

/// The document's paths (YAML).
pub const PATHS: &str = include_str!("../openapi.yaml");

/// The document's components (YAML, under a top-level `components:`).
pub const COMPONENTS: &str = include_str!("../openapi-components.yaml");

/// The whole document as JSON (read once).
pub fn document() -> Result<&'static Value> {
    static DOCUMENT: OnceLock<std::result::Result<Value, String>> = OnceLock::new();
    DOCUMENT
        .get_or_init(merged)
        .as_ref()
        .map_err(|err| ServerError::Internal(format!("the OpenAPI document is broken: {err}")))
}

fn merged() -> std::result::Result<Value, String> {
    let mut document: Value = serde_yaml_ng::from_str(PATHS).map_err(|err| err.to_string())?;
    let components: Value = serde_yaml_ng::from_str(COMPONENTS).map_err(|err| err.to_string())?;
    let (Some(document_map), Some(components)) =
        (document.as_object_mut(), components.get("components"))
    else {
        return Err("openapi.yaml or openapi-components.yaml is not a mapping".to_owned());
    };
    document_map.insert("components".to_owned(), components.clone());
    Ok(document)
}
