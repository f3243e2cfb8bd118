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
use codecafe_catalog::skill::{
    Category, NewSkill, Skill, SkillCatalog, SkillContext, SkillUpdate, builtin_skills,
};
use codecafe_catalog::{CatalogError, OrchDir, Problem};

use crate::context::Context;
use crate::output::{bold, dim, print_json, print_table};

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
pub fn run(args: SkillArgs, ctx: &Context) -> Result<ExitCode> {
    let cafe = args.cafe.as_deref();
    match args.command {
        SkillCommand::List { category, json } => list(ctx, cafe, category, json),
        SkillCommand::Show { id, json } => show(ctx, cafe, &id, json),
        SkillCommand::New(new_args) => new(ctx, cafe, new_args),
        SkillCommand::Update(update_args) => update(ctx, cafe, update_args),
        SkillCommand::Rm { id } => remove(ctx, cafe, &id),
        SkillCommand::Dup { id, new_id, name } => duplicate(ctx, cafe, &id, &new_id, name),
        SkillCommand::Validate { files } => validate(ctx, cafe, &files),
    }
}

/// The skills of the cafe: the built-ins alone when there is no cafe to read from.
fn catalog(ctx: &Context, cafe: Option<&str>) -> Result<SkillCatalog> {
    Ok(SkillCatalog::load(&ctx.orch(cafe)?)?)
}

fn origin(skill: &Skill) -> &'static str {
    if skill.is_built_in {
        "built-in"
    } else {
        "user"
    }
}

fn list(
    ctx: &Context,
    cafe: Option<&str>,
    category: Option<Category>,
    json: bool,
) -> Result<ExitCode> {
    let catalog = catalog(ctx, cafe)?;
    let skills: Vec<&Skill> = catalog
        .skills()
        .filter(|skill| category.is_none_or(|c| skill.category == c))
        .collect();
    if json {
        print_json(&skills)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![[
        "ID".to_owned(),
        "CATEGORY".to_owned(),
        "CONTEXT".to_owned(),
        "ORIGIN".to_owned(),
        "NAME".to_owned(),
    ]];
    for skill in &skills {
        rows.push([
            skill.id.clone(),
            skill.category.to_string(),
            skill.context.to_string(),
            origin(skill).to_owned(),
            skill.name.clone(),
        ]);
    }
    print_table(&rows);
    if skills.is_empty() {
        println!("{}", dim("no skills in this category"));
    }
    Ok(ExitCode::SUCCESS)
}

fn show(ctx: &Context, cafe: Option<&str>, id: &str, json: bool) -> Result<ExitCode> {
    let catalog = catalog(ctx, cafe)?;
    let skill = catalog.require(id)?;
    if json {
        print_json(skill)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}  {}", bold(&skill.id), skill.name);
    if !skill.description.is_empty() {
        println!("{}", skill.description);
    }
    println!();
    println!("category:  {}", skill.category);
    println!("command:   {}", skill.skill_command);
    println!("context:   {}", skill.context);
    if skill.is_built_in {
        println!(
            "origin:    built-in (read-only; `codecafe skill dup {id} <new-id>` makes an editable copy)"
        );
    } else {
        println!("origin:    {}", catalog.path_of(id).display());
    }
    println!("created:   {}", skill.created_at);
    println!("updated:   {}", skill.updated_at);
    println!();
    println!("{}", dim("instructions:"));
    println!("{}", skill.instructions.trim_end());
    Ok(ExitCode::SUCCESS)
}

fn new(ctx: &Context, cafe: Option<&str>, args: NewArgs) -> Result<ExitCode> {
    let orch = ctx.orch(cafe)?;
    let mut catalog = SkillCatalog::load(&orch)?;
    // Refuse a taken id before asking for the instructions in an editor.
    catalog.check_available(&args.id)?;
    let instructions = match instructions_from(&args.source)? {
        Some(text) => text,
        None => edit_in_editor("", &args.id)?,
    };
    let skill = catalog.create(NewSkill {
        id: args.id,
        name: args.name,
        description: args.description,
        category: args.category,
        skill_command: args.command,
        context: args.context,
        instructions,
    })?;
    println!(
        "created skill `{}` in {}",
        skill.id,
        relative(&orch, &orch.skill_file(&skill.id)).display()
    );
    Ok(ExitCode::SUCCESS)
}

fn update(ctx: &Context, cafe: Option<&str>, args: UpdateArgs) -> Result<ExitCode> {
    let orch = ctx.orch(cafe)?;
    let mut catalog = SkillCatalog::load(&orch)?;
    let instructions = if args.edit {
        // Refuse a built-in or a missing skill before opening an editor.
        catalog.check_editable(&args.id)?;
        let current = catalog.require(&args.id)?.instructions.clone();
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
    let skill = catalog.update(&args.id, change)?;
    println!(
        "updated skill `{}` in {}",
        skill.id,
        relative(&orch, &orch.skill_file(&skill.id)).display()
    );
    Ok(ExitCode::SUCCESS)
}

fn remove(ctx: &Context, cafe: Option<&str>, id: &str) -> Result<ExitCode> {
    let orch = ctx.orch(cafe)?;
    let path = orch.skill_file(id);
    if codecafe_catalog::skill::is_builtin(id) || !path.is_file() {
        // Let the catalog explain: built-in, or not found.
        SkillCatalog::load(&orch)?.remove(id)?;
    } else {
        // A broken file can still be removed: do not load (and validate) the whole catalog.
        let _lock = codecafe_catalog::storage::FileLock::acquire(&orch.skills())?;
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    println!(
        "removed skill `{id}` ({})",
        relative(&orch, &path).display()
    );
    Ok(ExitCode::SUCCESS)
}

fn duplicate(
    ctx: &Context,
    cafe: Option<&str>,
    id: &str,
    new_id: &str,
    name: Option<String>,
) -> Result<ExitCode> {
    let orch = ctx.orch(cafe)?;
    let mut catalog = SkillCatalog::load(&orch)?;
    let skill = catalog.duplicate(id, new_id, name)?;
    println!(
        "copied skill `{id}` to `{}` in {}; change it with `codecafe skill update {}`",
        skill.id,
        relative(&orch, &orch.skill_file(&skill.id)).display(),
        skill.id
    );
    Ok(ExitCode::SUCCESS)
}

fn validate(ctx: &Context, cafe: Option<&str>, files: &[PathBuf]) -> Result<ExitCode> {
    if files.is_empty() {
        let catalog = catalog(ctx, cafe)?;
        let user = catalog.skills().filter(|s| !s.is_built_in).count();
        println!(
            "ok: {} skills ({} built-in, {user} of the cafe)",
            catalog.ids().len(),
            catalog.ids().len() - user
        );
        return Ok(ExitCode::SUCCESS);
    }
    let builtins = builtin_skills()?;
    let mut problems: Vec<Problem> = Vec::new();
    for file in files {
        match Skill::read(file) {
            Ok(skill) if builtins.iter().any(|b| b.id == skill.id) => problems.push(
                Problem::in_file(
                    file,
                    format!("`{}` is the id of a built-in skill", skill.id),
                )
                .hint("choose another id (and file name); built-in skills cannot be replaced"),
            ),
            Ok(_) => {}
            Err(CatalogError::Invalid { problems: found }) => problems.extend(found),
            Err(other) => return Err(other.into()),
        }
    }
    if !problems.is_empty() {
        return Err(CatalogError::Invalid { problems }.into());
    }
    println!("ok: {} skill file(s)", files.len());
    Ok(ExitCode::SUCCESS)
}

/// The instructions given with `--instructions` or `--instructions-file`, if any.
fn instructions_from(args: &InstructionArgs) -> Result<Option<String>> {
    if let Some(text) = &args.instructions {
        return Ok(Some(text.clone()));
    }
    let Some(file) = &args.instructions_file else {
        return Ok(None);
    };
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the instructions from stdin")?;
        return Ok(Some(text.trim_end().to_owned()));
    }
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the instructions from {}", file.display()))?;
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
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
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

/// `path` relative to the repository holding `orch`, for shorter messages.
fn relative(orch: &OrchDir, path: &Path) -> PathBuf {
    orch.root()
        .parent()
        .and_then(|repo| path.strip_prefix(repo).ok())
        .map_or_else(|| path.to_owned(), Path::to_path_buf)
}
