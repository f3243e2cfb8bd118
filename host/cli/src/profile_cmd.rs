//! `codecafe assign` and `codecafe profile …`: which provider plays each role.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use codecafe_catalog::profile::{Assignment, DEFAULT_PROFILE, Profile, Profiles, Removal};
use serde_json::json;

use crate::context::Context;
use crate::output::{print_json, print_table};

/// `codecafe assign <role> <provider>`.
#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The role (analyzer, planner, coder, reviewer, tester, or one of yours).
    role: String,
    /// An installed provider plugin (see `codecafe plugin list`).
    provider: String,
    /// The model; the agent's default when not given.
    #[arg(long)]
    model: Option<String>,
    /// The profile to change (created if missing); default: the active one.
    #[arg(long)]
    profile: Option<String>,
    /// A provider option as KEY=JSON (`max_turns=20`, `sandbox=workspace-write`); a value that
    /// is not JSON is taken as text. Repeatable.
    #[arg(long = "option", value_name = "KEY=JSON")]
    options: Vec<String>,
    /// The cafe whose plugins count as installed (id, name or path).
    #[arg(long)]
    cafe: Option<String>,
}

/// Profile subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List the profiles; `*` marks the active one.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a profile's assignments.
    Show {
        /// The profile name.
        profile: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a profile the active one (recipes resolve with it).
    Use {
        /// The profile name.
        profile: String,
    },
    /// Remove a profile (`default` is emptied instead; removing the active one makes `default`
    /// active).
    Rm {
        /// The profile name.
        profile: String,
    },
}

fn profiles_path(ctx: &Context) -> std::path::PathBuf {
    Profiles::path(&ctx.paths.data)
}

/// Reads `KEY=JSON` (a value that is not JSON is a string).
fn parse_option(text: &str) -> Result<(String, serde_json::Value)> {
    let Some((key, value)) = text.split_once('=') else {
        bail!("--option {text}: write KEY=VALUE, e.g. `--option max_turns=20`");
    };
    let key = key.trim();
    if key.is_empty() {
        bail!("--option {text}: the key is empty; write KEY=VALUE");
    }
    let value =
        serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

/// Runs `codecafe assign`.
pub fn assign(args: AssignArgs, ctx: &Context) -> Result<ExitCode> {
    let installed = ctx.known_plugins(args.cafe.as_deref())?.providers;
    if !installed.contains(&args.provider) {
        bail!(
            "no provider plugin `{}` is installed; the providers are {} (`codecafe plugin list`)",
            args.provider,
            installed.join(", ")
        );
    }
    let mut options = BTreeMap::new();
    for option in &args.options {
        let (key, value) = parse_option(option)?;
        if options.insert(key.clone(), value).is_some() {
            bail!("--option {key} is given twice");
        }
    }
    let path = profiles_path(ctx);
    let profile = match args.profile {
        Some(profile) => profile,
        None => Profiles::load(&path)?.active().0.to_owned(),
    };
    let assignment = Assignment {
        provider: args.provider,
        model: args.model,
        options,
    };
    let previous = Profiles::assign(&path, &profile, &args.role, assignment.clone())?;
    println!(
        "profile {profile}: {} → {}",
        args.role,
        describe(&assignment)
    );
    if let Some(previous) = previous.filter(|p| *p != assignment) {
        println!("(was {})", describe(&previous));
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(assignment: &Assignment) -> String {
    let mut text = assignment.provider.clone();
    if let Some(model) = &assignment.model {
        text.push_str(&format!(" (model {model})"));
    }
    for (key, value) in &assignment.options {
        text.push_str(&format!(" {key}={value}"));
    }
    text
}

/// Runs one profile subcommand.
pub fn run(command: ProfileCommand, ctx: &Context) -> Result<ExitCode> {
    let path = profiles_path(ctx);
    match command {
        ProfileCommand::List { json } => {
            let profiles = Profiles::load(&path)?;
            let active = profiles.active().0.to_owned();
            if json {
                let rows: Vec<serde_json::Value> = profiles
                    .profiles
                    .iter()
                    .map(|(name, profile)| profile_json(name, profile, name == &active))
                    .collect();
                print_json(&rows)?;
            } else {
                let mut table = vec![["".to_owned(), "PROFILE".to_owned(), "ROLES".to_owned()]];
                for (name, profile) in &profiles.profiles {
                    let roles: Vec<String> = profile
                        .roles
                        .iter()
                        .map(|(role, a)| format!("{role} → {}", a.provider))
                        .collect();
                    table.push([
                        if *name == active { "*" } else { "" }.to_owned(),
                        name.clone(),
                        if roles.is_empty() {
                            "(built-in defaults)".to_owned()
                        } else {
                            roles.join(", ")
                        },
                    ]);
                }
                print_table(&table);
            }
        }
        ProfileCommand::Show { profile, json } => {
            let profiles = Profiles::load(&path)?.with_active(&profile)?;
            let (name, contents) = profiles.active();
            let empty = Profile::default();
            let contents = contents.unwrap_or(&empty);
            let active = Profiles::load(&path)?.active().0 == name;
            if json {
                print_json(&profile_json(name, contents, active))?;
            } else {
                println!("profile {name}{}", if active { " (active)" } else { "" });
                if contents.roles.is_empty() {
                    println!(
                        "no assignments: roles use the built-in defaults; `codecafe assign <role> \
                         <provider> --profile {name}` adds one"
                    );
                } else {
                    let mut table = vec![[
                        "ROLE".to_owned(),
                        "PROVIDER".to_owned(),
                        "MODEL".to_owned(),
                        "OPTIONS".to_owned(),
                    ]];
                    for (role, assignment) in &contents.roles {
                        table.push([
                            role.clone(),
                            assignment.provider.clone(),
                            assignment.model.clone().unwrap_or_else(|| "-".to_owned()),
                            assignment
                                .options
                                .iter()
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join(" "),
                        ]);
                    }
                    print_table(&table);
                }
            }
        }
        ProfileCommand::Use { profile } => {
            Profiles::use_profile(&path, &profile)?;
            println!("profile {profile} is active");
        }
        ProfileCommand::Rm { profile } => match Profiles::remove(&path, &profile)? {
            Removal::Emptied => {
                println!("profile {DEFAULT_PROFILE} emptied (it always exists)")
            }
            Removal::Removed { was_active: true } => {
                println!("removed profile {profile}; profile {DEFAULT_PROFILE} is active now")
            }
            Removal::Removed { was_active: false } => println!("removed profile {profile}"),
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn profile_json(name: &str, profile: &Profile, active: bool) -> serde_json::Value {
    json!({
        "name": name,
        "active": active,
        "roles": profile.roles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_json_or_text() {
        assert_eq!(
            parse_option("max_turns=20").expect("parses"),
            ("max_turns".to_owned(), json!(20))
        );
        assert_eq!(
            parse_option("sandbox=workspace-write").expect("parses"),
            ("sandbox".to_owned(), json!("workspace-write"))
        );
        assert_eq!(
            parse_option(r#"add_dirs=["/a","/b"]"#).expect("parses"),
            ("add_dirs".to_owned(), json!(["/a", "/b"]))
        );
        assert!(parse_option("novalue").is_err());
        assert!(parse_option("=1").is_err());
    }
}
