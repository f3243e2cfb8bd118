//! The OpenAPI document (`host/server/openapi.yaml`, served at `/api/openapi.json`) is a valid
//! OpenAPI 3.0 document and describes exactly the router's routes: every route documented,
//! nothing documented that is not routed, every `$ref` resolving, every path parameter declared.

use std::collections::BTreeSet;

use serde_json::Value;

fn document() -> Value {
    codecafe_server::openapi::document()
        .expect("the document parses")
        .clone()
}

#[test]
fn the_document_is_valid_openapi_3() {
    let value = document();
    let parsed: openapiv3::OpenAPI =
        serde_json::from_value(value.clone()).expect("a valid OpenAPI 3.0 document");
    assert!(parsed.openapi.starts_with("3.0"), "{}", parsed.openapi);
    let mut operation_ids = BTreeSet::new();
    for (path, item) in &parsed.paths.paths {
        let item = item
            .as_item()
            .expect("paths are written out, not referenced");
        for (method, operation) in item.iter() {
            let id = operation
                .operation_id
                .clone()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(operation_ids.insert(id.clone()), "operationId {id} twice");
            assert!(
                !operation.responses.responses.is_empty(),
                "{method} {path} has no responses"
            );
            assert!(
                operation.summary.is_some(),
                "{method} {path} has no summary"
            );
        }
    }
}

#[test]
fn every_reference_resolves() {
    let value = document();
    let mut refs = Vec::new();
    collect_refs(&value, &mut refs);
    assert!(refs.len() > 50, "only {} references", refs.len());
    for reference in refs {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(
            value.pointer(pointer).is_some(),
            "{reference} resolves to nothing"
        );
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                refs.push(reference.clone());
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

#[test]
fn the_document_describes_exactly_the_routes() {
    let value = document();
    let mut documented = BTreeSet::new();
    let paths = value["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = codecafe_server::routes::routed()
        .into_iter()
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes not documented: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
}

#[test]
fn every_path_parameter_is_declared() {
    let value = document();
    let parameters = &value["components"]["parameters"];
    let resolve = |parameter: &Value| -> Value {
        match parameter["$ref"].as_str() {
            Some(reference) => value
                .pointer(reference.trim_start_matches('#'))
                .cloned()
                .unwrap_or(Value::Null),
            None => parameter.clone(),
        }
    };
    assert!(parameters.is_object());
    for (path, item) in value["paths"].as_object().expect("paths") {
        let named: BTreeSet<String> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        for (method, operation) in item.as_object().expect("item") {
            if method == "parameters" {
                continue;
            }
            let declared: BTreeSet<String> = item["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(operation["parameters"].as_array().into_iter().flatten())
                .map(resolve)
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            assert_eq!(declared, named, "{method} {path}: path parameters");
        }
    }
}
