//! `codecafe config list|get|set|unset`: machine-wide settings (see
//! `codecafe_service::settings`).

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use codecafe_service::{Service, settings};

use crate::output::{print_json, print_table};

/// Config subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every setting and its value.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One setting.
    Get {
        /// `pool.max` or `pool.provider.<id>`.
        key: String,
    },
    /// Set a setting: `pool.max 16`, `pool.provider.claude-code 2`.
    Set {
        /// `pool.max` or `pool.provider.<id>`.
        key: String,
        /// The value.
        value: String,
    },
    /// Back to the default.
    Unset {
        /// `pool.max` or `pool.provider.<id>`.
        key: String,
    },
}

/// Runs one config subcommand.
pub fn run(command: ConfigCommand, service: &Service) -> Result<ExitCode> {
    match command {
        ConfigCommand::List { json } => {
            let all = settings::list(service)?;
            if json {
                return print_json(&all).map(|()| ExitCode::SUCCESS);
            }
            let mut rows = vec![["KEY", "VALUE", "MEANING"].map(str::to_owned)];
            for setting in all {
                let value = if setting.default {
                    format!("{} (default)", setting.value)
                } else {
                    setting.value.to_string()
                };
                rows.push([setting.key, value, setting.description]);
            }
            print_table(&rows);
        }
        ConfigCommand::Get { key } => println!("{}", settings::get(service, &key)?.value),
        ConfigCommand::Set { key, value } => {
            let setting = settings::set(service, &key, &value)?;
            println!("{} = {}", setting.key, setting.value);
        }
        ConfigCommand::Unset { key } => {
            if settings::unset(service, &key)? {
                println!("{key} is back to its default");
            } else {
                println!("{key} was not set");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
