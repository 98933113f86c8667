//! The cron expressions of `on: schedule`, as GitHub reads them: five fields
//! separated by spaces (minute, hour, day of month, month, day of week), each
//! `*`, a number, a name (`JAN`–`DEC`, `SUN`–`SAT`, any case), a range `a-b`
//! (start ≤ end), a step `x/n` (after `*`, a number or a range; `n` a number
//! within the field's range and above 0), or a comma-separated list of those.
//! These are the rules of GitHub's workflow parser (`isValidCron` in
//! actions/languageservices); macros such as `@daily`, seconds, `?`, `L`, `W`
//! and `#` are refused there, and here.
//!
//! A small parser of our own rather than a crate: the common cron crates take
//! six or seven fields (with seconds) or accept what GitHub refuses, and the
//! error must say which field is wrong and where, for a `file:line:column`.
//!
//! Matching follows POSIX cron (and GitHub): when both day of month and day of
//! week are restricted (neither starts with `*`), a day matches when either does.

/// A cron expression that GitHub accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    dom_restricted: bool,
    dow_restricted: bool,
}

/// Why an expression is refused, and where in it (byte offsets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    },
    Field {
        name: "day of week",
        min: 0,
        max: 6,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    },
];

/// A moment at minute resolution, as cron sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CronTime {
    pub minute: u32,
    pub hour: u32,
    pub day: u32,
    pub month: u32,
    /// 0 is Sunday.
    pub weekday: u32,
}

impl CronTime {
    /// The UTC calendar minute that holds this many minutes since the Unix epoch.
    pub fn from_unix_minutes(minutes: i64) -> CronTime {
        let days = minutes.div_euclid(24 * 60);
        let in_day = minutes.rem_euclid(24 * 60) as u32;
        let (_, month, day) = crate::calendar::civil_from_days(days);
        let (month, day) = (month as u32, day as u32);
        CronTime {
            minute: in_day % 60,
            hour: in_day / 60,
            day,
            month,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }
}

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let parts = split_fields(text);
        if parts.len() != 5 {
            let what = if parts.len() < 5 { "few" } else { "many" };
            return Err(CronError {
                offset: 0,
                len: text.len().max(1),
                message: format!(
                    "invalid cron expression `{text}`: too {what} fields ({}); expected 5: minute hour day-of-month month day-of-week",
                    parts.len()
                ),
            });
        }
        let mut sets = [0u64; 5];
        for (i, (offset, part)) in parts.iter().enumerate() {
            sets[i] = parse_field(part, &FIELDS[i]).map_err(|message| CronError {
                offset: *offset,
                len: part.len(),
                message: format!(
                    "invalid cron expression `{text}`: the {} field `{part}` {message}",
                    FIELDS[i].name
                ),
            })?;
        }
        Ok(Cron {
            minutes: sets[0],
            hours: sets[1],
            days_of_month: sets[2],
            months: sets[3],
            days_of_week: sets[4],
            dom_restricted: !parts[2].1.starts_with('*'),
            dow_restricted: !parts[4].1.starts_with('*'),
        })
    }

    pub fn matches(&self, t: CronTime) -> bool {
        let has = |set: u64, v: u32| set & (1 << v) != 0;
        let dom = has(self.days_of_month, t.day);
        let dow = has(self.days_of_week, t.weekday);
        let day = if self.dom_restricted && self.dow_restricted {
            dom || dow
        } else {
            dom && dow
        };
        has(self.minutes, t.minute) && has(self.hours, t.hour) && has(self.months, t.month) && day
    }
}

/// The fields and their byte offsets; GitHub splits on spaces only.
fn split_fields(text: &str) -> Vec<(usize, &str)> {
    let mut parts = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if c == ' ' {
            if let Some(s) = start.take() {
                parts.push((s, &text[s..i]));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        parts.push((s, &text[s..]));
    }
    parts
}

fn expected(field: &Field) -> String {
    let mut text = format!(
        "is not valid: expected `*`, a number from {} to {}",
        field.min, field.max
    );
    if let (Some(first), Some(last)) = (field.names.first(), field.names.last()) {
        text.push_str(&format!(
            " or a name ({}-{})",
            first.to_ascii_uppercase(),
            last.to_ascii_uppercase()
        ));
    }
    text.push_str(", a range `a-b`, a step `*/n` or a list `a,b`");
    text
}

/// The set of values a field allows, as bits.
fn parse_field(part: &str, field: &Field) -> Result<u64, String> {
    let mut set = 0;
    for item in part.split(',') {
        if item.is_empty() {
            return Err(expected(field));
        }
        set |= parse_item(item, field)?;
    }
    Ok(set)
}

fn parse_item(item: &str, field: &Field) -> Result<u64, String> {
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => {
            let step = value(step, field, false)
                .filter(|&s| s > 0)
                .ok_or_else(|| {
                    format!(
                        "has an invalid step `{step}`: expected a number from 1 to {}",
                        field.max
                    )
                })?;
            (base, Some(step))
        }
        None => (item, None),
    };
    let (low, high) = if base == "*" {
        (field.min, field.max)
    } else if let Some((a, b)) = base.split_once('-') {
        let (Some(a), Some(b)) = (value(a, field, true), value(b, field, true)) else {
            return Err(expected(field));
        };
        if a > b {
            return Err(format!("has a range `{base}` that ends before it starts"));
        }
        (a, b)
    } else {
        let v = value(base, field, true).ok_or_else(|| expected(field))?;
        // `20/15`: from 20 to the end, every 15.
        (v, if step.is_some() { field.max } else { v })
    };
    let step = step.unwrap_or(1);
    let mut set = 0;
    let mut v = low;
    while v <= high {
        set |= 1 << v;
        v += step;
    }
    Ok(set)
}

/// A number within the field's range, or one of its names.
fn value(text: &str, field: &Field, names: bool) -> Option<u32> {
    if names {
        if let Some(i) = field
            .names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(text))
        {
            return Some(field.min + i as u32);
        }
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = text.trim_start_matches('0');
    let n: u32 = if trimmed.is_empty() {
        0
    } else if trimmed.len() > 2 {
        return None;
    } else {
        trimmed.parse().ok()?
    };
    (field.min..=field.max).contains(&n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_github_accepts() {
        for cron in [
            "0 0 * * *",
            "0 000 001 * *",
            "15 * * * *",
            "2,10 4,5 * * *",
            "30 4-6 * * *",
            "0 4-4 * * *",
            "20/15 * * * *",
            "28 */4 * * *",
            "28 5,*/4,6-8 * * *",
            "0 0 * * SUN",
            "0 0 * * sun-TUE",
            "0 0 * * SUN-2",
            "0 2-4/5 * * *",
            "0 0 1 JAN,jul *",
            "0   0  *  *               *",
        ] {
            assert!(Cron::parse(cron).is_ok(), "{cron}: {:?}", Cron::parse(cron));
        }
    }

    #[test]
    fn refuses_what_github_refuses_and_names_the_field() {
        for cron in [
            "0 0 * *",
            "0 0 * * * * *",
            "0 -1 * * *",
            "0 1- * * *",
            "0 /1 * * *",
            "0 1/ * * *",
            "0 ,1 * * *",
            "0 1, * * *",
            "0 5--5 * * *",
            "0 *//5 * * *",
            "0 */* * * *",
            "0 5/* * * *",
            "0 *-4 5-* *-* *",
            "0 ,, * * *",
            ", , , , ,",
            "0 ** * * *",
            "0 0 * * BUN",
            "0 0 * SUN JAN",
            "0 0 * * FRI-TUE",
            "0 12-4 * * *",
            "0 */0 * * *",
            "0 2/4-5 * * *",
            "0 2-4-6 * * *",
            "0 2/4/6 * * *",
            "0 * * */FEB */TUE",
            "60 * * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "0 0 * * 7",
            "@daily",
            "0 0 ? * *",
            "",
        ] {
            assert!(Cron::parse(cron).is_err(), "{cron} was accepted");
        }
        let error = Cron::parse("*/5 25 * * *").unwrap_err();
        assert_eq!((error.offset, error.len), (4, 2));
        assert!(error.message.contains("the hour field `25`"), "{error:?}");
        assert!(error.message.contains("from 0 to 23"), "{error:?}");
    }

    #[test]
    fn matches_minutes_and_days_as_posix_cron() {
        // 2024-03-01 was a Friday.
        let friday_9_30 = CronTime {
            minute: 30,
            hour: 9,
            day: 1,
            month: 3,
            weekday: 5,
        };
        let yes = |c: &str| Cron::parse(c).unwrap().matches(friday_9_30);
        assert!(yes("*/15 * * * *"));
        assert!(!yes("*/20 * * * *"));
        assert!(yes("30 9 * * FRI"));
        assert!(yes("30 9 15 * 5"), "day of month or day of week");
        assert!(!yes("30 9 15 * *"));
        assert!(!yes("30 9 * * MON-THU"));
        assert!(yes("30 9 * MAR *"));
        assert!(yes("20/10 9 * * *"));
    }

    #[test]
    fn the_utc_calendar_of_unix_minutes() {
        // 2024-03-01T09:30Z = 1709285400 s.
        let t = CronTime::from_unix_minutes(1_709_285_400 / 60);
        assert_eq!(
            t,
            CronTime {
                minute: 30,
                hour: 9,
                day: 1,
                month: 3,
                weekday: 5
            }
        );
        // 2000-02-29T23:59Z, a Tuesday.
        let t = CronTime::from_unix_minutes(951_868_740 / 60);
        assert_eq!(
            (t.day, t.month, t.hour, t.minute, t.weekday),
            (29, 2, 23, 59, 2)
        );
    }
}
