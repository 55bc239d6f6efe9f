//! A strict reader of the OpenMetrics text exposition (what `prometheus-client` writes and
//! Prometheus scrapes): every line is a `# HELP`, `# TYPE` or `# UNIT` line, a sample, or the final
//! `# EOF`; names and labels follow the format's grammar, label values its escapes; each sample
//! belongs to a family declared before it, with the suffixes its type allows; a histogram's
//! buckets are cumulative and its `+Inf` bucket equals its count. It panics on the first line
//! that breaks a rule, naming it.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sample {
    /// The sample's name (a family name with its suffix).
    pub(super) name: String,
    /// Its labels.
    pub(super) labels: BTreeMap<String, String>,
    /// Its value.
    pub(super) value: f64,
}

impl Sample {
    /// The value of label `name`.
    pub(super) fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// A parsed exposition.
#[derive(Debug, Default)]
pub(super) struct Exposition {
    /// Family name → type.
    kinds: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Exposition {
    /// Parses `text`, checking every rule above.
    ///
    /// # Panics
    /// On the first line that breaks one.
    pub(super) fn parse(text: &str) -> Exposition {
        let mut exposition = Exposition::default();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.last(), Some(&""), "the exposition ends with a newline");
        let lines = &lines[..lines.len() - 1];
        assert_eq!(lines.last(), Some(&"# EOF"), "the exposition ends with # EOF");
        for (number, line) in lines[..lines.len() - 1].iter().enumerate() {
            let at = || format!("line {}: {line:?}", number + 1);
            if let Some(comment) = line.strip_prefix("# ") {
                let mut parts = comment.splitn(3, ' ');
                let (keyword, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                assert!(is_metric_name(name), "{}: bad family name", at());
                match keyword {
                    "TYPE" => {
                        let kind = parts.next().unwrap_or("");
                        assert!(
                            matches!(
                                kind,
                                "counter"
                                    | "gauge"
                                    | "histogram"
                                    | "summary"
                                    | "info"
                                    | "stateset"
                                    | "gaugehistogram"
                                    | "unknown"
                            ),
                            "{}: unknown type",
                            at()
                        );
                        let previous = exposition.kinds.insert(name.to_owned(), kind.to_owned());
                        assert!(previous.is_none(), "{}: family declared twice", at());
                    }
                    "HELP" | "UNIT" => {}
                    _ => panic!("{}: unknown comment", at()),
                }
                continue;
            }
            let sample = parse_sample(line).unwrap_or_else(|| panic!("{}: not a sample", at()));
            let family = exposition.family_of(&sample.name);
            assert!(family.is_some(), "{}: no declared family has this sample", at());
            exposition.samples.push(sample);
        }
        exposition.check_histograms();
        exposition
    }

    /// The declared type of `family`.
    pub(super) fn kind(&self, family: &str) -> Option<&str> {
        self.kinds.get(family).map(String::as_str)
    }

    /// The samples named `name`.
    pub(super) fn samples<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The value of the sample named `name` whose labels include `labels`, when exactly one has.
    pub(super) fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = self
            .samples(name)
            .filter(|s| labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .filter(|s| !s.labels.contains_key("le"));
        let sample = found.next()?;
        assert!(found.next().is_none(), "several {name} samples have {labels:?}");
        Some(sample.value)
    }

    /// The family a sample name belongs to, with the suffixes its type allows.
    fn family_of(&self, name: &str) -> Option<&str> {
        self.kinds.iter().find_map(|(family, kind)| {
            let suffix = name.strip_prefix(family.as_str())?;
            let allowed: &[&str] = match kind.as_str() {
                "counter" => &["_total", "_created"],
                "histogram" | "gaugehistogram" => &["_bucket", "_count", "_sum", "_created"],
                "summary" => &["", "_count", "_sum", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            allowed.contains(&suffix).then_some(family.as_str())
        })
    }

    /// Each histogram series: buckets cumulative, `+Inf` equal to the count.
    fn check_histograms(&self) {
        for (family, _) in self.kinds.iter().filter(|(_, k)| *k == "histogram") {
            let count_name = format!("{family}_count");
            let bucket_name = format!("{family}_bucket");
            for count in self.samples(&count_name) {
                let mut buckets: Vec<(f64, f64)> = self
                    .samples(&bucket_name)
                    .filter(|b| {
                        let mut labels = b.labels.clone();
                        labels.remove("le");
                        labels == count.labels
                    })
                    .map(|b| {
                        let le = b.label("le").expect("a bucket has an le label");
                        (parse_value(le).expect("le is a number"), b.value)
                    })
                    .collect();
                assert!(!buckets.is_empty(), "{count_name} {:?} has no buckets", count.labels);
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "buckets not cumulative");
                assert_eq!(buckets.last().map(|b| b.0), Some(f64::INFINITY), "no +Inf bucket");
                assert_eq!(buckets.last().map(|b| b.1), Some(count.value), "+Inf != count");
            }
        }
    }
}

/// `name{label="value",...} value [timestamp]`.
fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return None;
    }
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(inner) => parse_labels(inner)?,
        None => (BTreeMap::new(), &line[name_end..]),
    };
    let mut fields = rest.strip_prefix(' ')?.split(' ');
    let value = parse_value(fields.next()?)?;
    if let Some(timestamp) = fields.next() {
        parse_value(timestamp)?;
    }
    if fields.next().is_some() {
        return None;
    }
    Some(Sample { name: name.to_owned(), labels, value })
}

/// `label="value",...}` (what follows the `{`): the labels, and what follows the `}`.
fn parse_labels(mut rest: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('}') {
        return Some((labels, after));
    }
    loop {
        let eq = rest.find('=')?;
        let name = &rest[..eq];
        if !is_label_name(name) {
            return None;
        }
        rest = rest[eq + 1..].strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    _ => return None,
                },
                '\n' => return None,
                c => value.push(c),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return None;
        }
        rest = &rest[end + 1..];
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        rest = rest.strip_prefix(',')?;
    }
}

/// A sample value: a number, `+Inf`, `-Inf` or `NaN`.
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if text.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => text.parse().ok(),
        _ => None,
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[test]
fn the_reader_refuses_what_the_format_does_not_allow() {
    let good = "# HELP a_seconds A.\n# TYPE a_seconds histogram\n# UNIT a_seconds seconds\n\
                a_seconds_sum{m=\"x\\\"y\"} 1.5\na_seconds_count{m=\"x\\\"y\"} 2\n\
                a_seconds_bucket{le=\"1.0\",m=\"x\\\"y\"} 1\na_seconds_bucket{le=\"+Inf\",m=\"x\\\"y\"} 2\n\
                # TYPE c counter\nc_total 3\n# EOF\n";
    let parsed = Exposition::parse(good);
    assert_eq!(parsed.value("a_seconds_count", &[("m", "x\"y")]), Some(2.0));
    assert_eq!(parsed.value("c_total", &[]), Some(3.0));
    for bad in [
        "# TYPE c counter\nc_total 3\n",
        "# TYPE c counter\nc 3\n# EOF\n",
        "d 1\n# EOF\n",
        "# TYPE c counter\nc_total{a=b} 3\n# EOF\n",
        "# TYPE c counter\nc_total{1a=\"b\"} 3\n# EOF\n",
        "# TYPE c counter\nc_total three\n# EOF\n",
        "# TYPE h histogram\nh_count 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",
    ] {
        let result = std::panic::catch_unwind(|| Exposition::parse(bad));
        assert!(result.is_err(), "accepted {bad:?}");
    }
}
