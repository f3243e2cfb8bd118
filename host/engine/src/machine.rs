//! What the order and stage machines share: the table lookup, the error for a move the table
//! does not allow, and the error for a state or action name that does not exist.

use std::fmt;

/// A move the transition table does not allow. Names the machine, the state and the action,
/// and lists every action that *is* allowed from that state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IllegalTransition<S, A> {
    /// Which machine: `order` or `stage`.
    pub machine: &'static str,
    /// The state the move was attempted from.
    pub from: S,
    /// The action that is not allowed there.
    pub action: A,
    /// Every action allowed from `from`, in table order.
    pub allowed: Vec<A>,
}

impl<S: fmt::Display, A: fmt::Display> fmt::Display for IllegalTransition<S, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let article = match self.machine.chars().next() {
            Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
            _ => "a",
        };
        write!(
            f,
            "cannot `{}` {article} {} that is {}; ",
            self.action, self.machine, self.from
        )?;
        if self.allowed.is_empty() {
            return write!(f, "nothing is allowed from {}", self.from);
        }
        write!(f, "from {} the allowed actions are: ", self.from)?;
        for (i, action) in self.allowed.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{action}")?;
        }
        Ok(())
    }
}

impl<S, A> std::error::Error for IllegalTransition<S, A>
where
    S: fmt::Debug + fmt::Display,
    A: fmt::Debug + fmt::Display,
{
}

/// A state or action name that is not one of the machine's (e.g. `--status runing`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a {what}; expected one of: {}", expected.join(", "))]
pub struct UnknownName {
    /// What was being parsed (`order status`, `stage action`, ...).
    pub what: &'static str,
    /// The text given.
    pub given: String,
    /// Every accepted name.
    pub expected: &'static [&'static str],
}

/// Looks `(from, action)` up in `table`: the target state, or the illegal-transition error.
pub(crate) fn apply<S, A>(
    machine: &'static str,
    table: &[(S, A, S)],
    from: S,
    action: A,
) -> Result<S, IllegalTransition<S, A>>
where
    S: Copy + Eq,
    A: Copy + Eq,
{
    table
        .iter()
        .find(|(f, a, _)| *f == from && *a == action)
        .map(|(_, _, to)| *to)
        .ok_or_else(|| IllegalTransition {
            machine,
            from,
            action,
            allowed: allowed_from(table, from).collect(),
        })
}

/// The actions allowed from `from`, in table order.
pub(crate) fn allowed_from<S, A>(table: &[(S, A, S)], from: S) -> impl Iterator<Item = A> + '_
where
    S: Copy + Eq,
    A: Copy + Eq,
{
    table
        .iter()
        .filter(move |(f, _, _)| *f == from)
        .map(|(_, a, _)| *a)
}

/// Defines a fieldless enum whose every variant has one kebab-case name, used identically by
/// serde, `Display`, `FromStr` and `as_str` (the name is what the database stores).
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(rename_all = "kebab-case")]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every variant's name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The kebab-case name (as serde writes it and the database stores it).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::machine::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::machine::UnknownName {
                        what: $what,
                        given: s.to_owned(),
                        expected: Self::NAMES,
                    }),
                }
            }
        }
    };
}

pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum S {
        A,
        B,
    }
    impl fmt::Display for S {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{self:?}")
        }
    }

    #[test]
    fn a_state_with_no_way_out_says_so() {
        let table: &[(S, S, S)] = &[(S::A, S::B, S::B)];
        let err = apply("order", table, S::B, S::A).expect_err("B has no rows");
        assert_eq!(
            err.to_string(),
            "cannot `A` an order that is B; nothing is allowed from B"
        );
        let err = apply("stage", table, S::A, S::A).expect_err("A/A is not a row");
        assert_eq!(
            err.to_string(),
            "cannot `A` a stage that is A; from A the allowed actions are: B"
        );
    }
}
