//! Ids of user-defined things: lowercase letters, digits and `-`.

use crate::error::{CatalogError, Result};

/// The rule every id follows, in words.
pub const ID_RULE: &str =
    "use 1 to 64 lowercase letters, digits and `-`, starting with a letter or digit";

/// True when `id` follows [`ID_RULE`].
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `Ok` when `id` follows [`ID_RULE`], else an error naming the kind.
pub fn check_id(kind: &'static str, id: &str) -> Result<()> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(CatalogError::InvalidId {
            kind,
            id: id.to_owned(),
            rule: ID_RULE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["a", "classify-task", "0-x", "moon"] {
            assert!(is_valid_id(good), "{good}");
        }
        for bad in ["", "-a", "A", "a_b", "a b", "é", &"x".repeat(65)] {
            assert!(!is_valid_id(bad), "{bad}");
        }
        assert!(check_id("skill", "Bad").is_err());
    }
}
