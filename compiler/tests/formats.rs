//! `svcc check` and the runtime agree on every date, time and date-time:
//! a `default:` or `example:` that check accepts is one the runtime
//! accepts in a request, and the other way round (RFC 3339, JSON Schema's
//! `date`, `time` and `date-time` formats).

use svcc_core::ast::Primitive;
use svcc_runtime::strict::Format;

fn dates() -> Vec<String> {
    let mut out = Vec::new();
    for y in [
        "0000", "1900", "2000", "2023", "2024", "9999", "024", "+2024",
    ] {
        for m in ["00", "01", "02", "04", "12", "13", "1"] {
            for d in ["00", "01", "28", "29", "30", "31", "32", "1"] {
                out.push(format!("{y}-{m}-{d}"));
            }
        }
    }
    out.extend(["20240229", "2024-02-29T", "2024-02-29 ", "", "2024/02/29"].map(String::from));
    out
}

fn times() -> Vec<String> {
    let mut out = Vec::new();
    for h in ["00", "07", "15", "23", "24", "25", "7"] {
        for m in ["00", "59", "60"] {
            for s in ["00", "59", "60", "61"] {
                for frac in ["", ".5", ".123456789", "."] {
                    for offset in [
                        "Z", "z", "+00:00", "-08:00", "+08:00", "+23:59", "+24:00", "-00:60",
                        "+0200", "+02", "", "[UTC]",
                    ] {
                        out.push(format!("{h}:{m}:{s}{frac}{offset}"));
                    }
                }
            }
        }
    }
    out.extend(["10:00Z", "10Z", "T10:00:00Z"].map(String::from));
    out
}

fn agree(p: Primitive, f: Format, values: &[String]) {
    let mut accepted = 0;
    for v in values {
        let check = svcc_core::check::fits_format(p, v);
        assert_eq!(check, f.check(v), "{}: `{v}`", f.name());
        accepted += usize::from(check);
    }
    // both kinds were tried
    assert!(accepted > 0 && accepted < values.len(), "{}", f.name());
}

#[test]
fn check_and_runtime_agree_on_dates() {
    agree(Primitive::Date, Format::Date, &dates());
}

#[test]
fn check_and_runtime_agree_on_times() {
    agree(Primitive::Time, Format::Time, &times());
}

#[test]
fn check_and_runtime_agree_on_date_times() {
    let times = times();
    let mut values = Vec::new();
    for d in dates() {
        for sep in ["T", "t", " "] {
            // every 7th time: all the forms, fewer combinations
            for t in times.iter().step_by(7) {
                values.push(format!("{d}{sep}{t}"));
            }
        }
    }
    values.push("1979-05-27T07:32:00-08:00".into());
    agree(Primitive::Datetime, Format::DateTime, &values);
}
