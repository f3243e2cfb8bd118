//! The skills a cafe can use: the embedded built-ins and the cafe's own `.orch/skills/*.json`,
//! and the changes `skill new`, `update`, `dup` and `rm` make to them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::json_position::KeyPositions;
use super::parse::parse_skill;
use super::{Category, Skill, SkillContext, issues_error, now};
use crate::error::{CatalogError, Problem, Result};
use crate::ids;
use crate::layout::OrchDir;
use crate::location::Position;
use crate::storage;

/// The built-in skills: `(file name, JSON)`, embedded from the top-level `skills/` folder.
pub(super) const BUILTIN_SKILLS: &[(&str, &str)] = &[
    (
        "build-context.json",
        include_str!("../../../../skills/build-context.json"),
    ),
    (
        "classify-task.json",
        include_str!("../../../../skills/classify-task.json"),
    ),
    (
        "codex-review-code.json",
        include_str!("../../../../skills/codex-review-code.json"),
    ),
    (
        "decide-sequence.json",
        include_str!("../../../../skills/decide-sequence.json"),
    ),
    (
        "detect-uncertainty.json",
        include_str!("../../../../skills/detect-uncertainty.json"),
    ),
    (
        "evaluate-complexity.json",
        include_str!("../../../../skills/evaluate-complexity.json"),
    ),
    (
        "gather-requirements.json",
        include_str!("../../../../skills/gather-requirements.json"),
    ),
    (
        "implementation-runner.json",
        include_str!("../../../../skills/implementation-runner.json"),
    ),
    (
        "integration-test.json",
        include_str!("../../../../skills/integration-test.json"),
    ),
    (
        "preflight-check.json",
        include_str!("../../../../skills/preflight-check.json"),
    ),
    (
        "review-code.json",
        include_str!("../../../../skills/review-code.json"),
    ),
    (
        "summarize-changes.json",
        include_str!("../../../../skills/summarize-changes.json"),
    ),
];

/// The built-in skills, parsed from the embedded files.
pub fn builtin_skills() -> Result<Vec<Skill>> {
    let mut skills = Vec::with_capacity(BUILTIN_SKILLS.len());
    let mut problems = Vec::new();
    for (file, text) in BUILTIN_SKILLS {
        match parse_skill(&builtin_path(file), text, true, None) {
            Ok(skill) => skills.push(skill),
            Err(found) => problems.extend(found),
        }
    }
    if problems.is_empty() {
        Ok(skills)
    } else {
        Err(CatalogError::Invalid { problems })
    }
}

/// How a built-in skill file is named in messages.
fn builtin_path(file: &str) -> PathBuf {
    PathBuf::from(format!("<built-in>/skills/{file}"))
}

/// True when `id` is a built-in skill's id.
pub fn is_builtin(id: &str) -> bool {
    BUILTIN_SKILLS
        .iter()
        .any(|(file, _)| file.strip_suffix(".json") == Some(id))
}

/// A new user skill, as `skill new` gives it.
#[derive(Debug, Clone)]
pub struct NewSkill {
    /// The id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// One-line summary.
    pub description: String,
    /// Category.
    pub category: Category,
    /// Slash name; `/{id}` when `None`.
    pub skill_command: Option<String>,
    /// Session behaviour.
    pub context: SkillContext,
    /// The prompt text.
    pub instructions: String,
}

/// Changes to a user skill; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SkillUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New summary.
    pub description: Option<String>,
    /// New category.
    pub category: Option<Category>,
    /// New slash name.
    pub skill_command: Option<String>,
    /// New session behaviour.
    pub context: Option<SkillContext>,
    /// New prompt text.
    pub instructions: Option<String>,
}

impl SkillUpdate {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.category.is_none()
            && self.skill_command.is_none()
            && self.context.is_none()
            && self.instructions.is_none()
    }
}

/// The skills a cafe can use: the built-ins and its `.orch/skills/*.json`.
#[derive(Debug, Clone)]
pub struct SkillCatalog {
    orch: OrchDir,
    skills: BTreeMap<String, Skill>,
}

impl SkillCatalog {
    /// Loads the built-ins and the cafe's user skills. Any broken user skill is an error that
    /// lists every problem found, with its file, line and column.
    pub fn load(orch: &OrchDir) -> Result<SkillCatalog> {
        let mut skills: BTreeMap<String, Skill> = builtin_skills()?
            .into_iter()
            .map(|skill| (skill.id.clone(), skill))
            .collect();
        let mut problems = Vec::new();
        for path in crate::layout::files_ending_with(&orch.skills(), ".json")? {
            match Skill::read(&path) {
                Ok(skill) => {
                    if skills.get(&skill.id).is_some_and(|s| s.is_built_in) {
                        // Read again only to locate `id`; a file gone since is reported at
                        // its start.
                        let text = std::fs::read_to_string(&path).unwrap_or_default();
                        let id_position = KeyPositions::of(&text)
                            .value("id")
                            .unwrap_or(Position::START);
                        problems.push(
                            Problem::located(
                                &path,
                                id_position,
                                format!("`{}` is the id of a built-in skill", skill.id),
                            )
                            .hint(format!(
                                "built-in skills cannot be replaced; rename this file and its id (e.g. `{}-custom`) and use that id in your recipes",
                                skill.id
                            )),
                        );
                    } else {
                        skills.insert(skill.id.clone(), skill);
                    }
                }
                Err(CatalogError::Invalid { problems: found }) => problems.extend(found),
                Err(other) => return Err(other),
            }
        }
        if !problems.is_empty() {
            return Err(CatalogError::Invalid { problems });
        }
        Ok(SkillCatalog {
            orch: orch.clone(),
            skills,
        })
    }

    /// Every skill id, sorted.
    pub fn ids(&self) -> Vec<&str> {
        self.skills.keys().map(String::as_str).collect()
    }

    /// The skill with this id.
    pub fn get(&self, id: &str) -> Option<&Skill> {
        self.skills.get(id)
    }

    /// Every skill, sorted by id.
    pub fn skills(&self) -> impl Iterator<Item = &Skill> {
        self.skills.values()
    }

    /// The skill with this id, or an error saying how to find the right one.
    pub fn require(&self, id: &str) -> Result<&Skill> {
        self.get(id).ok_or_else(|| CatalogError::NotFound {
            kind: "skill",
            id: id.to_owned(),
            hint: Some("`codecafe skill list` shows the available skills".to_owned()),
        })
    }

    /// Where a user skill with this id is (or would be) stored.
    pub fn path_of(&self, id: &str) -> PathBuf {
        self.orch.skill_file(id)
    }

    /// Creates a user skill in `.orch/skills/{id}.json`.
    pub fn create(&mut self, new: NewSkill) -> Result<&Skill> {
        self.check_available(&new.id)?;
        let now = now();
        let skill = Skill {
            skill_command: new.skill_command.unwrap_or_else(|| format!("/{}", new.id)),
            id: new.id,
            name: new.name,
            description: new.description,
            category: new.category,
            context: new.context,
            instructions: new.instructions,
            is_built_in: false,
            created_at: now,
            updated_at: now,
        };
        self.insert_new(skill)
    }

    /// Changes a user skill; `updatedAt` moves, `createdAt` stays.
    pub fn update(&mut self, id: &str, update: SkillUpdate) -> Result<&Skill> {
        self.refuse_builtin(id)?;
        if update.is_empty() {
            return Err(CatalogError::BadValue {
                what: format!("skill update {id}"),
                message: "nothing to change; give at least one of --name, --description, \
                          --category, --command, --context, --instructions, --instructions-file \
                          or --edit"
                    .to_owned(),
            });
        }
        let path = self.orch.skill_file(id);
        let _lock = storage::FileLock::acquire(&self.orch.skills())?;
        if !path.is_file() {
            return Err(self.not_found(id));
        }
        // Read the file again under the lock: another process may have changed it.
        let mut skill = Skill::read(&path)?;
        if let Some(name) = update.name {
            skill.name = name;
        }
        if let Some(description) = update.description {
            skill.description = description;
        }
        if let Some(category) = update.category {
            skill.category = category;
        }
        if let Some(command) = update.skill_command {
            skill.skill_command = command;
        }
        if let Some(context) = update.context {
            skill.context = context;
        }
        if let Some(instructions) = update.instructions {
            skill.instructions = instructions;
        }
        let issues = skill.issues();
        if !issues.is_empty() {
            return Err(issues_error(issues));
        }
        skill.updated_at = now().max(skill.created_at);
        storage::write_atomic(&path, skill.to_file_json().as_bytes())?;
        let id = skill.id.clone();
        self.skills.insert(id.clone(), skill);
        Ok(&self.skills[&id])
    }

    /// Removes a user skill's file.
    pub fn remove(&mut self, id: &str) -> Result<()> {
        self.refuse_builtin(id)?;
        let path = self.orch.skill_file(id);
        let _lock = storage::FileLock::acquire(&self.orch.skills())?;
        match std::fs::remove_file(&path) {
            Ok(()) => {
                self.skills.remove(id);
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(self.not_found(id)),
            Err(source) => Err(CatalogError::Io { path, source }),
        }
    }

    /// Copies a skill (built-in or not) to a new, editable user skill.
    pub fn duplicate(
        &mut self,
        id: &str,
        new_id: &str,
        new_name: Option<String>,
    ) -> Result<&Skill> {
        let source = self.require(id)?.clone();
        self.check_available(new_id)?;
        let now = now();
        let skill = Skill {
            id: new_id.to_owned(),
            name: new_name.unwrap_or_else(|| format!("{} (copy)", source.name)),
            skill_command: if source.skill_command == format!("/{id}") {
                format!("/{new_id}")
            } else {
                source.skill_command
            },
            is_built_in: false,
            created_at: now,
            updated_at: now,
            ..source
        };
        self.insert_new(skill)
    }

    /// Writes a skill that must not exist yet.
    fn insert_new(&mut self, skill: Skill) -> Result<&Skill> {
        let issues = skill.issues();
        if !issues.is_empty() {
            return Err(issues_error(issues));
        }
        let path = self.orch.skill_file(&skill.id);
        let _lock = storage::FileLock::acquire(&self.orch.skills())?;
        if path.exists() || self.skills.contains_key(&skill.id) {
            return Err(CatalogError::AlreadyExists {
                kind: "skill",
                id: skill.id.clone(),
                hint: Some(format!(
                    "change it with `codecafe skill update {}`, or choose another id",
                    skill.id
                )),
            });
        }
        storage::write_atomic(&path, skill.to_file_json().as_bytes())?;
        let id = skill.id.clone();
        self.skills.insert(id.clone(), skill);
        Ok(&self.skills[&id])
    }

    /// `Ok` when a new user skill may take this id: a valid id, not a built-in's, not taken.
    pub fn check_available(&self, id: &str) -> Result<()> {
        ids::check_id("skill", id)?;
        if is_builtin(id) {
            return Err(CatalogError::AlreadyExists {
                kind: "skill",
                id: id.to_owned(),
                hint: Some(format!(
                    "it is a built-in skill; `codecafe skill dup {id} <new-id>` makes an editable \
                     copy under another id"
                )),
            });
        }
        if self.skills.contains_key(id) || self.orch.skill_file(id).exists() {
            return Err(CatalogError::AlreadyExists {
                kind: "skill",
                id: id.to_owned(),
                hint: Some(format!(
                    "change it with `codecafe skill update {id}`, or choose another id"
                )),
            });
        }
        Ok(())
    }

    /// `Ok` when the skill exists and may be changed or removed (it is not a built-in).
    pub fn check_editable(&self, id: &str) -> Result<()> {
        self.refuse_builtin(id)?;
        if self.skills.contains_key(id) {
            Ok(())
        } else {
            Err(self.not_found(id))
        }
    }

    fn refuse_builtin(&self, id: &str) -> Result<()> {
        if is_builtin(id) {
            return Err(CatalogError::BuiltIn {
                kind: "skill",
                id: id.to_owned(),
                hint: format!(
                    "make an editable copy with `codecafe skill dup {id} <new-id>` and use that"
                ),
            });
        }
        Ok(())
    }

    fn not_found(&self, id: &str) -> CatalogError {
        CatalogError::NotFound {
            kind: "skill",
            id: id.to_owned(),
            hint: Some(format!(
                "there is no {}; `codecafe skill list` shows the available skills",
                self.orch.skill_file(id).display()
            )),
        }
    }
}
