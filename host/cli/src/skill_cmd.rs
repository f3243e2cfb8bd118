//! `codecafe skill …`: list, show, create, update, duplicate, remove and validate skills.
//!
//! Instructions come from `--instructions TEXT`, `--instructions-file FILE` (`-` reads stdin),
//! or, when neither is given to `new` (or `update --edit` is given), from `$EDITOR` on a
//! temporary file.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use codecafe_service::catalog::{self, FilesChecked, SkillSaved, SkillShow};
use codecafe_service::catalog_types::skill::{
    Category, NewSkill, Skill, SkillContext, SkillUpdate,
};
use codecafe_service::{Scope, Service};

use crate::output::{bold, dim, emit, table};

/// `codecafe skill` and the cafe it works on.
#[derive(Debug, Args)]
pub struct SkillArgs {
    /// The cafe (id, name or path); default: the one containing the current directory.
    #[arg(long, global = true, value_name = "CAFE")]
    cafe: Option<String>,

    #[command(subcommand)]
    command: SkillCommand,
}

/// Skill subcommands.
#[derive(Debug, Subcommand)]
pub enum SkillCommand {
    /// List the skills: the built-ins and the cafe's own (`.orch/skills/*.json`).
    List {
        /// Only this category: planning, implementation, verification, review, analysis, utility.
        #[arg(long)]
        category: Option<Category>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a skill with its instructions.
    Show {
        /// The skill id.
        id: String,
        /// Print JSON (the skill file's format).
        #[arg(long)]
        json: bool,
    },
    /// Create a skill in the cafe's `.orch/skills/`.
    New(NewArgs),
    /// Change a skill of the cafe (built-ins cannot be changed: duplicate them).
    Update(UpdateArgs),
    /// Remove a skill of the cafe (built-ins cannot be removed).
    Rm {
        /// The skill id.
        id: String,
    },
    /// Copy a skill (built-in or not) to a new, editable skill of the cafe.
    Dup {
        /// The skill to copy.
        id: String,
        /// The copy's id.
        new_id: String,
        /// The copy's name (default: the original's name with " (copy)").
        #[arg(long)]
        name: Option<String>,
    },
    /// Check skill files and report every problem with its line and column; exits 1 if any has
    /// one.
    Validate {
        /// Skill files; default: every skill of the cafe.
        files: Vec<PathBuf>,
    },
}

/// Where the instructions come from.
#[derive(Debug, Args)]
pub struct InstructionArgs {
    /// The instructions: what goes into the stage's prompt.
    #[arg(long, conflicts_with = "instructions_file")]
    instructions: Option<String>,
    /// Read the instructions from a file (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    instructions_file: Option<PathBuf>,
}

/// Arguments of `skill new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The skill id (lowercase letters, digits and `-`).
    id: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// Category: planning, implementation, verification, review, analysis, utility.
    #[arg(long)]
    category: Category,
    /// One-line summary.
    #[arg(long, default_value = "")]
    description: String,
    /// The slash name the prompt uses for it (default: `/<id>`).
    #[arg(long, value_name = "/COMMAND")]
    command: Option<String>,
    /// `fork` (a fresh agent session, the default) or `inherit` (continue the previous stage's).
    #[arg(long, default_value = "fork")]
    context: SkillContext,
    #[command(flatten)]
    source: InstructionArgs,
}

/// Arguments of `skill update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The skill id.
    id: String,
    /// New display name.
    #[arg(long)]
    name: Option<String>,
    /// New category.
    #[arg(long)]
    category: Option<Category>,
    /// New summary.
    #[arg(long)]
    description: Option<String>,
    /// New slash name.
    #[arg(long, value_name = "/COMMAND")]
    command: Option<String>,
    /// New context: fork or inherit.
    #[arg(long)]
    context: Option<SkillContext>,
    #[command(flatten)]
    source: InstructionArgs,
    /// Edit the current instructions in `$EDITOR`.
    #[arg(long, conflicts_with_all = ["instructions", "instructions_file"])]
    edit: bool,
}

/// Runs one skill subcommand.
pub fn run(args: SkillArgs, service: &Service) -> Result<ExitCode> {
    let scope = Scope::here(args.cafe.as_deref())?;
    match args.command {
        SkillCommand::List { category, json } => emit(
            json,
            catalog::skills(service, &scope, category)?.as_slice(),
            print_list,
        ),
        SkillCommand::Show { id, json } => {
            emit(json, &catalog::skill(service, &scope, &id)?, print_skill)
        }
        SkillCommand::New(args) => {
            // Refuse a taken id before asking for the instructions in an editor.
            catalog::check_new_skill(service, &scope, &args.id)?;
            let instructions = match instructions_from(&args.source)? {
                Some(text) => text,
                None => edit_in_editor("", &args.id)?,
            };
            let new = NewSkill {
                id: args.id,
                name: args.name,
                description: args.description,
                category: args.category,
                skill_command: args.command,
                context: args.context,
                instructions,
            };
            saved("created", &catalog::create_skill(service, &scope, new)?)
        }
        SkillCommand::Update(args) => {
            let instructions = if args.edit {
                // Refuses a built-in or a missing skill before opening an editor.
                let current = catalog::editable_skill(service, &scope, &args.id)?.instructions;
                let edited = edit_in_editor(&current, &args.id)?;
                (edited != current).then_some(edited)
            } else {
                instructions_from(&args.source)?
            };
            let change = SkillUpdate {
                name: args.name,
                description: args.description,
                category: args.category,
                skill_command: args.command,
                context: args.context,
                instructions,
            };
            if args.edit && change.is_empty() {
                println!("the instructions did not change; nothing to save");
                return Ok(ExitCode::SUCCESS);
            }
            saved(
                "updated",
                &catalog::update_skill(service, &scope, &args.id, change)?,
            )
        }
        SkillCommand::Rm { id } => {
            let file = catalog::remove_skill(service, &scope, &id)?;
            println!("removed skill `{id}` ({})", file.display());
            Ok(ExitCode::SUCCESS)
        }
        SkillCommand::Dup { id, new_id, name } => {
            let copy = catalog::duplicate_skill(service, &scope, &id, &new_id, name)?;
            let (new_id, file) = (&copy.skill.id, copy.file.display());
            println!(
                "copied skill `{id}` to `{new_id}` in {file}; change it with `codecafe skill update {new_id}`"
            );
            Ok(ExitCode::SUCCESS)
        }
        SkillCommand::Validate { files } => {
            match catalog::validate_skills(service, &scope, &files)? {
                FilesChecked::Catalog { total, of_cafe } => {
                    println!(
                        "ok: {total} skills ({} built-in, {of_cafe} of the cafe)",
                        total - of_cafe
                    )
                }
                FilesChecked::Files { count } => println!("ok: {count} skill file(s)"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn saved(verb: &str, saved: &SkillSaved) -> Result<ExitCode> {
    println!(
        "{verb} skill `{}` in {}",
        saved.skill.id,
        saved.file.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn origin(skill: &Skill) -> &'static str {
    if skill.is_built_in {
        "built-in"
    } else {
        "user"
    }
}

fn print_list(skills: &[Skill]) {
    let rows = skills.iter().map(|skill| {
        let (category, context) = (skill.category.to_string(), skill.context.to_string());
        [
            skill.id.clone(),
            category,
            context,
            origin(skill).to_owned(),
            skill.name.clone(),
        ]
    });
    table(["ID", "CATEGORY", "CONTEXT", "ORIGIN", "NAME"], rows);
    if skills.is_empty() {
        println!("{}", dim("no skills in this category"));
    }
}

fn print_skill(shown: &SkillShow) {
    let skill = &shown.skill;
    println!("{}  {}", bold(&skill.id), skill.name);
    if !skill.description.is_empty() {
        println!("{}", skill.description);
    }
    println!();
    println!("category:  {}", skill.category);
    println!("command:   {}", skill.skill_command);
    println!("context:   {}", skill.context);
    match &shown.file {
        Some(file) => println!("origin:    {}", file.display()),
        None => println!(
            "origin:    built-in (read-only; `codecafe skill dup {} <new-id>` makes an editable copy)",
            skill.id
        ),
    }
    println!("created:   {}", skill.created_at);
    println!("updated:   {}", skill.updated_at);
    println!();
    println!("{}", dim("instructions:"));
    println!("{}", skill.instructions.trim_end());
}

/// The instructions given with `--instructions` or `--instructions-file`, if any.
fn instructions_from(args: &InstructionArgs) -> Result<Option<String>> {
    if let Some(text) = &args.instructions {
        return Ok(Some(text.clone()));
    }
    let Some(file) = &args.instructions_file else {
        return Ok(None);
    };
    let mut text = String::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the instructions from stdin")?;
    } else {
        text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the instructions from {}", file.display()))?;
    }
    Ok(Some(text.trim_end().to_owned()))
}

/// Opens `$EDITOR` (or `$VISUAL`, or `vi` on a terminal) on a temporary file holding `initial`
/// and returns what was saved.
fn edit_in_editor(initial: &str, id: &str) -> Result<String> {
    let configured = ["EDITOR", "VISUAL"]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty());
    let editor = match configured {
        Some(editor) => editor,
        None if std::io::stdin().is_terminal() => "vi".to_owned(),
        None => bail!(
            "no instructions given and no editor to write them in: pass --instructions TEXT or \
             --instructions-file FILE (or set $EDITOR)"
        ),
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let file = std::env::temp_dir().join(format!(
        "codecafe-skill-{id}-{}-{nanos}.md",
        std::process::id()
    ));
    let initial = if initial.is_empty() {
        String::new()
    } else {
        format!("{}\n", initial.trim_end())
    };
    std::fs::write(&file, initial)
        .with_context(|| format!("cannot write the temporary file {}", file.display()))?;
    // Through `sh` so that an editor configured with arguments (`code --wait`) works.
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("{editor} \"$1\""), "sh"])
        .arg(&file)
        .status();
    let text = std::fs::read_to_string(&file);
    let _ = std::fs::remove_file(&file);
    let status = status.with_context(|| format!("cannot start the editor `{editor}`"))?;
    if !status.success() {
        bail!("the editor `{editor}` exited with {status}; nothing was saved");
    }
    let text = text.context("cannot read back the edited instructions")?;
    if text.trim().is_empty() {
        bail!("the instructions are empty; nothing was saved");
    }
    Ok(text.trim_end().to_owned())
}
