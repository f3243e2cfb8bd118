//! The catalog's errors, and [`Problem`]: one located, explained mistake in a user's file.

use std::fmt;
use std::path::PathBuf;

/// One mistake in a file a user wrote: where it is, what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when there is something useful to say.
    pub hint: Option<String>,
}

impl Problem {
    /// A problem at a position in `file`.
    pub fn at(
        file: impl Into<PathBuf>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
            hint: None,
        }
    }

    /// A problem with `file` as a whole.
    pub fn in_file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Writes problems one per paragraph.
struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong reading or changing the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },

    /// A file codecafe wrote is unreadable; it is left as it is.
    #[error(
        "{}: cannot be read ({reason}); it was left untouched. Fix it by hand, or move it aside \
         to start over{}",
        path.display(),
        backup.as_ref().map(|b| format!(" (the last good copy is {})", b.display())).unwrap_or_default()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// A backup to restore from, if there is one.
        backup: Option<PathBuf>,
    },

    /// A file was written by a newer codecafe.
    #[error(
        "{}: written by a newer codecafe (format version {found}, this one reads up to \
         {supported}); upgrade codecafe",
        path.display()
    )]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// Its format version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },

    /// A user's file has mistakes; all of them are listed.
    #[error("{}", ProblemList(problems))]
    Invalid {
        /// Every problem found.
        problems: Vec<Problem>,
    },

    /// Nothing of this kind has this id.
    #[error("no {kind} `{id}`{}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    NotFound {
        /// `cafe`, `recipe`, `skill`, `role`, `profile`.
        kind: &'static str,
        /// The id asked for.
        id: String,
        /// What to do (e.g. the list command), if useful.
        hint: Option<String>,
    },

    /// An id or prefix matches several entries.
    #[error("`{id}` matches several {kind}s: {}; give more of it", candidates.join(", "))]
    Ambiguous {
        /// The kind.
        kind: &'static str,
        /// What was given.
        id: String,
        /// What it matches.
        candidates: Vec<String>,
    },

    /// Something with this id or path exists already.
    #[error("{kind} `{id}` already exists{}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    AlreadyExists {
        /// The kind.
        kind: &'static str,
        /// The id or path.
        id: String,
        /// What to do instead, if useful.
        hint: Option<String>,
    },

    /// Built-in entries cannot be changed or removed.
    #[error("{kind} `{id}` is built in and cannot be changed or removed; {hint}")]
    BuiltIn {
        /// The kind.
        kind: &'static str,
        /// The id.
        id: String,
        /// What to do instead (e.g. duplicate it).
        hint: String,
    },

    /// An id does not follow the rules for its kind.
    #[error("`{id}` is not a valid {kind} id: {rule}")]
    InvalidId {
        /// The kind.
        kind: &'static str,
        /// The id.
        id: String,
        /// The rule it breaks.
        rule: &'static str,
    },

    /// A path is not something codecafe can use as a cafe.
    #[error("{}: {message}", path.display())]
    NotARepository {
        /// The path given.
        path: PathBuf,
        /// Why it cannot be used.
        message: String,
    },

    /// A git operation failed.
    #[error("{}: git: {message}", path.display())]
    Git {
        /// The repository.
        path: PathBuf,
        /// libgit2's explanation.
        message: String,
    },

    /// A value given on the command line is unusable.
    #[error("{what}: {message}")]
    BadValue {
        /// Which value.
        what: String,
        /// Why, and what would be accepted.
        message: String,
    },
}

impl CatalogError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

/// The catalog's result type.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
