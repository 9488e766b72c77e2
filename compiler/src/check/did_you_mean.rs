//! Did you mean: the candidate closest to a misspelt name, as a note on
//! the diagnostic that reports it.

use crate::diag::Diagnostic;

/// `diag` with a note naming the candidate closest to `word`, if one is.
pub(super) fn suggest<'w>(
    diag: Diagnostic,
    word: &str,
    candidates: impl Iterator<Item = &'w str>,
) -> Diagnostic {
    match closest(word, candidates) {
        Some(close) => diag.note(format!("did you mean `{close}`?")),
        None => diag,
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough
/// to be a likely typo.
pub(super) fn closest<'w>(
    word: &str,
    candidates: impl Iterator<Item = &'w str>,
) -> Option<&'w str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .filter(|c| *c != word)
        // Optimal string alignment: a swap of neighbours costs one, so `rxa`
        // is one step from `rax`.
        .map(|c| {
            (
                strsim::osa_distance(&word.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names() {
        assert_eq!(
            closest("rxa", ["rax", "rbx", "cr3"].into_iter()),
            Some("rax")
        );
        assert_eq!(closest("zzzz", ["rax"].into_iter()), None);
    }
}
