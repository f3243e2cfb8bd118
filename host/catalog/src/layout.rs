//! The `.orch/` folder of a cafe: where its recipes, skills, roles and plugins live.

use std::path::{Path, PathBuf};

use crate::error::{CatalogError, Result};

/// A cafe's `.orch/` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrchDir {
    root: PathBuf,
}

impl OrchDir {
    /// The `.orch/` folder of the repository at `repo`.
    pub fn of_repo(repo: &Path) -> Self {
        Self {
            root: repo.join(".orch"),
        }
    }

    /// The `.orch/` folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Recipes: `{id}.workflow.yml`.
    pub fn workflows(&self) -> PathBuf {
        self.root.join("workflows")
    }

    /// User skills: `{id}.json`.
    pub fn skills(&self) -> PathBuf {
        self.root.join("skills")
    }

    /// User roles: `{id}.md`.
    pub fn roles(&self) -> PathBuf {
        self.root.join("roles")
    }

    /// The repository's plugins: `*.wasm`.
    pub fn plugins(&self) -> PathBuf {
        self.root.join("plugins")
    }

    /// The path of recipe `id`.
    pub fn recipe_file(&self, id: &str) -> PathBuf {
        self.workflows().join(format!("{id}.workflow.yml"))
    }

    /// The path of user skill `id`.
    pub fn skill_file(&self, id: &str) -> PathBuf {
        self.skills().join(format!("{id}.json"))
    }

    /// The path of user role `id`.
    pub fn role_file(&self, id: &str) -> PathBuf {
        self.roles().join(format!("{id}.md"))
    }
}

/// The files of `dir` whose names end with `suffix` (hidden files skipped), sorted by path; none
/// when the folder does not exist.
pub fn files_ending_with(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CatalogError::Io {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(CatalogError::io(dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(suffix) || !path.is_file() {
            continue;
        }
        files.push(path);
    }
    files.sort();
    Ok(files)
}
