//! Set-up shared by the service's tests and its scale bench (which includes this file): a
//! service on a private home, and cafes with a recipe of their own.

use std::path::Path;

use codecafe_service::orders::NewOrderRequest;
use codecafe_service::{Paths, Scope, Service, cafes, trust};

/// A service on `home`, with the tests' shared compile cache (the built-ins compile once).
pub fn service(home: &Path) -> Service {
    let mut paths = Paths::under(home.to_owned());
    paths.compiled = codecafe_test_support::shared_compile_cache();
    Service::with_paths(paths)
}

/// A new repository `home/repos/<name>`, registered and trusted as cafe `name` with
/// `maxParallelOrders` `max_parallel` and the recipe `recipe` (YAML) as `<recipe_id>`; the
/// cafe's id.
pub fn cafe_with_recipe(
    service: &Service,
    home: &Path,
    name: &str,
    max_parallel: u32,
    recipe_id: &str,
    recipe: &str,
) -> String {
    let repo = codecafe_test_support::init_repo(&home.join("repos").join(name), "main");
    let cafe = cafes::init(service, &repo, Some(name.to_owned()))
        .expect("cafe")
        .cafe;
    cafes::update(
        service,
        &cafe.id,
        None,
        &[("maxParallelOrders".to_owned(), max_parallel.to_string())],
    )
    .expect("maxParallelOrders");
    let workflows = cafe.orch().workflows();
    std::fs::create_dir_all(&workflows).expect("workflows");
    std::fs::write(workflows.join(format!("{recipe_id}.workflow.yml")), recipe).expect("recipe");
    trust::trust(service, &repo).expect("trust");
    cafe.id
}

/// A new order of recipe `recipe_id` in cafe `cafe`, without a worktree.
pub fn request(cafe: &str, recipe_id: &str, prompt: String) -> NewOrderRequest {
    NewOrderRequest {
        scope: Scope::cafe(cafe),
        recipe: Some(recipe_id.to_owned()),
        prompt,
        vars: Vec::new(),
        base: None,
        prefix: None,
        no_worktree: true,
        max_cost: None,
    }
}
