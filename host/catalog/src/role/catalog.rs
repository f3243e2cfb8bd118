//! The roles a cafe can use: the embedded built-ins, overridden by the cafe's own
//! `.orch/roles/*.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::parse::parse_role;
use super::{Role, RoleOrigin};
use crate::error::{CatalogError, Result};
use crate::layout::OrchDir;

/// The built-in roles: `(id, Markdown)`.
const BUILTIN_ROLES: &[(&str, &str)] = &[
    ("analyzer", include_str!("../../builtin/roles/analyzer.md")),
    ("coder", include_str!("../../builtin/roles/coder.md")),
    ("planner", include_str!("../../builtin/roles/planner.md")),
    ("reviewer", include_str!("../../builtin/roles/reviewer.md")),
    ("tester", include_str!("../../builtin/roles/tester.md")),
];

/// The built-in roles, parsed from the embedded files.
pub fn builtin_roles() -> Result<Vec<Role>> {
    let mut roles = Vec::new();
    let mut problems = Vec::new();
    for (id, text) in BUILTIN_ROLES {
        let path = PathBuf::from(format!("<built-in>/roles/{id}.md"));
        match parse_role(id, &path, text, RoleOrigin::BuiltIn) {
            Ok(role) => roles.push(role),
            Err(found) => problems.extend(found),
        }
    }
    if problems.is_empty() {
        Ok(roles)
    } else {
        Err(CatalogError::Invalid { problems })
    }
}

/// True when `id` is a built-in role's id.
pub fn is_builtin(id: &str) -> bool {
    BUILTIN_ROLES.iter().any(|(builtin, _)| *builtin == id)
}

/// The roles a cafe can use: the built-ins, overridden by its `.orch/roles/*.md`.
#[derive(Debug, Clone)]
pub struct RoleCatalog {
    roles: BTreeMap<String, Role>,
}

impl RoleCatalog {
    /// Loads the built-ins and the cafe's user roles. Any broken user role is an error listing
    /// every problem found, with its file, line and column.
    pub fn load(orch: &OrchDir) -> Result<RoleCatalog> {
        let mut roles: BTreeMap<String, Role> = builtin_roles()?
            .into_iter()
            .map(|role| (role.id.clone(), role))
            .collect();
        let mut problems = Vec::new();
        for path in crate::layout::files_ending_with(&orch.roles(), ".md")? {
            match Role::read(&path) {
                Ok(mut role) => {
                    role.overrides_built_in = roles
                        .get(&role.id)
                        .is_some_and(|r| r.origin == RoleOrigin::BuiltIn);
                    roles.insert(role.id.clone(), role);
                }
                Err(CatalogError::Invalid { problems: found }) => problems.extend(found),
                Err(other) => return Err(other),
            }
        }
        if !problems.is_empty() {
            return Err(CatalogError::Invalid { problems });
        }
        Ok(RoleCatalog { roles })
    }

    /// Every role id, sorted.
    pub fn ids(&self) -> Vec<&str> {
        self.roles.keys().map(String::as_str).collect()
    }

    /// The role with this id (a user role when it overrides a built-in).
    pub fn get(&self, id: &str) -> Option<&Role> {
        self.roles.get(id)
    }

    /// Every role, sorted by id.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// The role with this id, or an error saying how to find the right one.
    pub fn require(&self, id: &str) -> Result<&Role> {
        self.get(id).ok_or_else(|| CatalogError::NotFound {
            kind: "role",
            id: id.to_owned(),
            hint: Some("`codecafe role list` shows the available roles".to_owned()),
        })
    }
}
