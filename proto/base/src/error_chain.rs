//! An error and its causes on one line (`outer: cause: root cause`), for messages and logs: a
//! `Display` shows only the outermost error, and the cause is usually what helps.

/// An error and its sources on one line, separated by `": "`.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the file")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_cause_is_on_the_line() {
        let error = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(chain(&error), "cannot read the file: disk on fire");
        assert_eq!(chain(&std::io::Error::other("alone")), "alone");
    }
}
