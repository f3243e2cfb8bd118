//! "Did you mean …?": the closest known word to a misspelt one.

/// Most edits between a typo and the word it suggests.
const MAX_DISTANCE: usize = 2;

/// Levenshtein distance between `a` and `b`, by characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The candidate closest to `word` within [`MAX_DISTANCE`] edits (and fewer edits than `word`
/// has characters, so `a` does not suggest `b`); ties go to the earlier candidate.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = MAX_DISTANCE.min(word.chars().count().saturating_sub(1));
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let d = distance(word, candidate);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `did you mean `x`?` for the closest candidate, else `otherwise`.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// `a`, `b`, `c` — a list of names for a hint, cut short after `max`.
pub(crate) fn list<'a>(names: impl IntoIterator<Item = &'a str>, max: usize) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    let mut out: Vec<String> = names.iter().take(max).map(|n| format!("`{n}`")).collect();
    if names.len() > max {
        out.push(format!("and {} more", names.len() - max));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("provider", "provider"), 0);
        assert_eq!(distance("provder", "provider"), 1);
        assert_eq!(distance("porvider", "provider"), 2);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        let keys = ["provider", "prompt", "role", "retries"];
        assert_eq!(closest("provder", keys), Some("provider"));
        assert_eq!(closest("rol", keys), Some("role"));
        assert_eq!(closest("xyzzy", keys), None);
        assert_eq!(closest("r", keys), None, "one letter suggests nothing");
        assert_eq!(
            did_you_mean("retires", keys).as_deref(),
            Some("did you mean `retries`?")
        );
        assert_eq!(list(["a", "b", "c"], 2), "`a`, `b`, and 1 more");
    }
}
