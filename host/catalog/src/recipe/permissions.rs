//! The permission policy of a stage, provider-neutral: how far its agent may go on its own
//! (`permissions: read-only | edit | full`), what happens beyond that (`approvals: ask | deny`),
//! the commands it may run where no sandbox confines them (`allowed_commands`), whether a refused
//! tool call fails it (`on_denied: fail | warn`), and the variables of the user's environment its
//! agent also gets (`pass_env`).
//!
//! `permissions` and `approvals` are decided stage > recipe > the role's default > the cafe's
//! `permissions` setting > `read-only` / `deny`; a cafe may set a ceiling
//! (`permissionsCeiling`) no stage may go above. Each provider maps the level onto its agent's
//! own modes and sandboxes.

use serde::{Deserialize, Serialize};

/// How far a stage's agent may go on its own.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Permissions {
    /// Read files and run read-only commands; no edits.
    #[default]
    ReadOnly,
    /// Edit files inside the worktree and run commands confined to it.
    Edit,
    /// No limits besides the worktree being the working directory; an explicit opt-in.
    Full,
}

impl Permissions {
    /// The accepted spellings, in order.
    pub const VALUES: &[&str] = &["read-only", "edit", "full"];

    /// Reads `read-only`, `edit` or `full`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "read-only" => Some(Self::ReadOnly),
            "edit" => Some(Self::Edit),
            "full" => Some(Self::Full),
            _ => None,
        }
    }

    /// The spelling recipes use.
    pub fn name(self) -> &'static str {
        Self::VALUES[self as usize]
    }
}

/// What happens to a request beyond a stage's permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approvals {
    /// A human decides.
    Ask,
    /// It is refused and the refusal reported.
    #[default]
    Deny,
}

impl Approvals {
    /// The accepted spellings, in order.
    pub const VALUES: &[&str] = &["ask", "deny"];

    /// Reads `ask` or `deny`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ask" => Some(Self::Ask),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// What a tool call the agent was refused does to its stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDenied {
    /// The stage fails (the default of `edit` and `full` stages, whose level should have
    /// allowed what they did).
    Fail,
    /// The refusal is reported and the stage goes on (the default of `read-only` stages).
    Warn,
}

impl OnDenied {
    /// The accepted spellings, in order.
    pub const VALUES: &[&str] = &["fail", "warn"];

    /// Reads `fail` or `warn`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "fail" => Some(Self::Fail),
            "warn" => Some(Self::Warn),
            _ => None,
        }
    }

    /// The default for a stage at `level`.
    pub fn default_for(level: Permissions) -> Self {
        match level {
            Permissions::ReadOnly => Self::Warn,
            Permissions::Edit | Permissions::Full => Self::Fail,
        }
    }
}

/// Keys of earlier versions that the policy replaces, with what to write instead (as stage
/// keys and inside `options:`).
pub const REPLACED_KEYS: &[(&str, &str)] = &[
    (
        "permission_mode",
        "write `permissions: read-only | edit | full` (each provider maps it onto its agent's modes)",
    ),
    (
        "sandbox",
        "write `permissions: read-only | edit | full` (each provider maps it onto its agent's sandbox)",
    ),
    (
        "approval",
        "write `approvals: ask | deny` for what goes beyond the stage's `permissions`",
    ),
    (
        "approvals",
        "`approvals` is a stage key (`approvals: ask | deny`), not a provider option",
    ),
];

/// What decides the policy of a stage that does not set it, besides its recipe.
#[derive(Clone, Copy)]
pub struct PolicyDefaults<'a> {
    /// The default permissions of a role (its front matter's `permissions`), by role id.
    pub role_permissions: &'a dyn Fn(&str) -> Option<Permissions>,
    /// The cafe's `permissions` setting.
    pub cafe: Option<Permissions>,
    /// The cafe's `permissionsCeiling`: no stage may go above it.
    pub ceiling: Option<Permissions>,
    /// The cafe's `approvals`, for stages and recipes that set none.
    pub approvals: Option<Approvals>,
}

impl std::fmt::Debug for PolicyDefaults<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyDefaults")
            .field("cafe", &self.cafe)
            .field("ceiling", &self.ceiling)
            .field("approvals", &self.approvals)
            .finish_non_exhaustive()
    }
}

impl PolicyDefaults<'_> {
    /// No role defaults, no cafe setting.
    pub const NONE: PolicyDefaults<'static> = PolicyDefaults {
        role_permissions: &|_| None,
        cafe: None,
        ceiling: None,
        approvals: None,
    };
}

/// The policy keys of one stage block, as written.
#[derive(Debug, Clone, Default)]
pub(crate) struct StagePolicy {
    pub(crate) permissions: Option<super::Located<Permissions>>,
    pub(crate) approvals: Option<super::Located<Approvals>>,
    pub(crate) allowed_commands: Vec<String>,
    pub(crate) on_denied: Option<OnDenied>,
    pub(crate) pass_env: Vec<String>,
}
