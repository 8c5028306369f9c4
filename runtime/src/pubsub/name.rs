//! Topic names (`orders.eu.placed`) and the patterns subscriptions match them with
//! (`orders.*.placed`, `orders.>`).

use std::fmt;
use std::sync::Arc;

/// The name of a topic: segments separated by dots, like `orders.eu.placed`.
///
/// A segment is one or more ASCII letters, digits, `_` or `-`. Names are hierarchical:
/// subscriptions choose topics by [`Pattern`], whose wildcards stand for whole segments.
///
/// ```
/// use snowglobe_runtime::TopicName;
///
/// let name = TopicName::new("orders.eu.placed").unwrap();
/// assert_eq!(name.segments().collect::<Vec<_>>(), ["orders", "eu", "placed"]);
/// assert!(TopicName::new("orders..placed").is_err());
/// assert!(TopicName::new("orders.*").is_err(), "wildcards belong in patterns");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TopicName {
    text: Arc<str>,
}

impl TopicName {
    /// Checks and wraps a topic name.
    ///
    /// # Errors
    ///
    /// [`TopicError`] naming what is wrong: an empty name or segment, or a character other
    /// than ASCII letters, digits, `_`, `-` and the separating dots.
    pub fn new(text: impl Into<Arc<str>>) -> Result<TopicName, TopicError> {
        let text = text.into();
        for (index, segment) in text.split('.').enumerate() {
            check_segment(&text, index, segment)?;
        }
        Ok(TopicName { text })
    }

    /// The name as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.text.split('.')
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TopicName({:?})", &*self.text)
    }
}

/// Which topic names a subscription receives: a name whose segments may be wildcards.
///
/// - a plain segment matches itself;
/// - `*` matches exactly one segment: `orders.*.placed` matches `orders.eu.placed`, not
///   `orders.placed` nor `orders.eu.west.placed`;
/// - `>` as the last segment matches one or more segments: `orders.>` matches
///   `orders.placed` and `orders.eu.placed`, not `orders` itself.
///
/// These are the wildcards of NATS subjects, so that names carry over to a NATS transport
/// unchanged.
///
/// ```
/// use snowglobe_runtime::{Pattern, TopicName};
///
/// let all_orders = Pattern::new("orders.>").unwrap();
/// let placed = Pattern::new("orders.*.placed").unwrap();
/// let eu = TopicName::new("orders.eu.placed").unwrap();
/// assert!(all_orders.matches(&eu));
/// assert!(placed.matches(&eu));
/// assert!(!placed.matches(&TopicName::new("orders.placed").unwrap()));
/// assert!(Pattern::new("orders.>.placed").is_err(), "`>` only comes last");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    text: Arc<str>,
    segments: Arc<[Segment]>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Segment {
    Literal(Box<str>),
    /// `*`
    One,
    /// `>`, last only.
    Rest,
}

impl Pattern {
    /// Checks and parses a pattern.
    ///
    /// # Errors
    ///
    /// [`TopicError`]: what a [`TopicName`] refuses, and a `>` anywhere but last.
    pub fn new(text: impl Into<Arc<str>>) -> Result<Pattern, TopicError> {
        let text = text.into();
        let count = text.split('.').count();
        let mut segments = Vec::with_capacity(count);
        for (index, segment) in text.split('.').enumerate() {
            segments.push(match segment {
                "*" => Segment::One,
                ">" if index + 1 == count => Segment::Rest,
                ">" => {
                    return Err(TopicError::new(
                        &text,
                        "`>` matches the rest of a name, so it can only be the last segment",
                    ));
                }
                _ => {
                    check_segment(&text, index, segment)?;
                    Segment::Literal(segment.into())
                }
            });
        }
        Ok(Pattern {
            text,
            segments: segments.into(),
        })
    }

    /// The pattern that matches exactly `name`.
    #[must_use]
    pub fn exact(name: &TopicName) -> Pattern {
        let segments: Vec<_> = name
            .segments()
            .map(|s| Segment::Literal(s.into()))
            .collect();
        Pattern {
            text: name.text.clone(),
            segments: segments.into(),
        }
    }

    /// Whether `name` is one of the topics this pattern stands for.
    #[must_use]
    pub fn matches(&self, name: &TopicName) -> bool {
        let mut names = name.segments();
        for segment in self.segments.iter() {
            match segment {
                Segment::Rest => return names.next().is_some(),
                Segment::One => {
                    if names.next().is_none() {
                        return false;
                    }
                }
                Segment::Literal(literal) => {
                    if names.next() != Some(&**literal) {
                        return false;
                    }
                }
            }
        }
        names.next().is_none()
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", &*self.text)
    }
}

fn check_segment(text: &str, index: usize, segment: &str) -> Result<(), TopicError> {
    if segment.is_empty() {
        let problem = if text.is_empty() {
            "a topic name cannot be empty".to_owned()
        } else {
            format!(
                "segment {} is empty (two dots, or a dot at an end)",
                index + 1
            )
        };
        return Err(TopicError::new(text, problem));
    }
    if let Some(c) = segment
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        let problem = if c == '*' || c == '>' {
            format!("`{c}` is a wildcard: it stands alone as a segment, and only in a pattern")
        } else {
            format!(
                "{c:?} in segment {:?}: use ASCII letters, digits, `_` and `-`",
                segment
            )
        };
        return Err(TopicError::new(text, problem));
    }
    Ok(())
}

/// Why a topic name or a pattern was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad topic {text:?}: {problem}")]
pub struct TopicError {
    text: Box<str>,
    problem: Box<str>,
}

impl TopicError {
    fn new(text: &str, problem: impl Into<Box<str>>) -> TopicError {
        TopicError {
            text: text.into(),
            problem: problem.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Pattern, TopicName};

    /// The wildcard table: pattern, name, whether it matches.
    #[test]
    fn wildcard_matching() {
        let table = [
            ("orders", "orders", true),
            ("orders", "orders.placed", false),
            ("orders.placed", "orders", false),
            ("orders.*", "orders.placed", true),
            ("orders.*", "orders", false),
            ("orders.*", "orders.eu.placed", false),
            ("orders.*.placed", "orders.eu.placed", true),
            ("orders.*.placed", "orders.eu.shipped", false),
            ("*.placed", "orders.placed", true),
            ("*", "orders", true),
            ("*", "orders.placed", false),
            ("orders.>", "orders.placed", true),
            ("orders.>", "orders.eu.placed", true),
            ("orders.>", "orders", false),
            (">", "orders", true),
            (">", "orders.eu.placed", true),
            ("*.>", "orders", false),
            ("*.>", "orders.placed", true),
            ("orders.*.>", "orders.eu", false),
            ("orders.*.>", "orders.eu.placed.late", true),
            ("Orders", "orders", false),
        ];
        for (pattern, name, expected) in table {
            let p = Pattern::new(pattern).unwrap();
            let n = TopicName::new(name).unwrap();
            assert_eq!(p.matches(&n), expected, "{pattern} vs {name}");
        }
    }

    #[test]
    fn exact_patterns_match_only_their_name() {
        let name = TopicName::new("orders.eu").unwrap();
        let p = Pattern::exact(&name);
        assert!(p.matches(&name));
        assert!(!p.matches(&TopicName::new("orders").unwrap()));
        assert_eq!(p.as_str(), "orders.eu");
    }

    #[test]
    fn bad_names_and_patterns_say_why() {
        let cases = [
            ("", "cannot be empty"),
            ("orders.", "segment 2 is empty"),
            (".orders", "segment 1 is empty"),
            ("orders..eu", "segment 2 is empty"),
            ("orders eu", "' ' in segment \"orders eu\""),
            ("orders.é", "'é' in segment"),
            ("orders.*", "is a wildcard"),
            ("orders.a>", "is a wildcard"),
        ];
        for (text, problem) in cases {
            let error = TopicName::new(text).unwrap_err().to_string();
            assert!(error.contains(problem), "{text:?}: {error}");
        }
        let error = Pattern::new("orders.>.eu").unwrap_err().to_string();
        assert!(error.contains("only be the last segment"), "{error}");
        let error = Pattern::new("orders.x*").unwrap_err().to_string();
        assert!(error.contains("is a wildcard"), "{error}");
        assert!(Pattern::new("").is_err());
    }
}
