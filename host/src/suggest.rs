//! "Did you mean …?": the closest of a few known names to one the operator
//! misspelt (a config key, a plugin id, a parameter). It only suggests; it
//! never decides that a name is valid.

/// The candidate closest to `word` by edit distance (a swap of two
/// neighbouring letters counts as one edit, letter case is ignored), when it
/// is close enough to be a misspelling: at most one edit per three letters,
/// at least one and at most three, and fewer edits than `word` has letters.
/// Ties go to the first candidate.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let word = word.to_lowercase();
    let letters = word.chars().count();
    let limit = letters.div_ceil(3).clamp(1, 3).min(letters.saturating_sub(1));
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let distance = edit_distance(&word, &candidate.to_lowercase());
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `; did you mean `NAME`?` when a candidate is close to `word`, else nothing:
/// ready to append to a message.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates)
        .map(|name| format!("; did you mean `{name}`?"))
        .unwrap_or_default()
}

/// Edits (insert, delete, substitute, swap two neighbours) that turn `a` into
/// `b`: the optimal string alignment distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j]; three rows suffice.
    let mut before: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("progam", "program"), 1);
        assert_eq!(edit_distance("redis-failvoer", "redis-failover"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_close_names() {
        let keys = ["program", "args", "timeout"];
        assert_eq!(closest("progam", keys), Some("program"));
        assert_eq!(closest("Args", keys), Some("args"));
        assert_eq!(closest("colour", keys), None);
        let ids = ["hello", "db-restore", "redis-failover"];
        assert_eq!(closest("redis-failvoer", ids), Some("redis-failover"));
        assert_eq!(closest("db-restor", ids), Some("db-restore"));
        assert_eq!(closest("status", ids), None);
        assert_eq!(closest("x", ["y"]), None, "replacing every letter is not a misspelling");
        assert_eq!(closest("ab", ["ba"]), Some("ba"));
        assert_eq!(did_you_mean("targest", ["run", "targets"]), "; did you mean `targets`?");
        assert_eq!(did_you_mean("zzz", ["run", "targets"]), "");
    }
}
