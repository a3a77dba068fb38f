//! How numbers read in the report and on the plots: three significant digits, counts as
//! `40k` and `4M`, durations in seconds or minutes.

/// `value` with three significant digits (more for values of 1000 and up, never an exponent).
pub(crate) fn sig3(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let decimals = (2 - value.abs().log10().floor() as i64).clamp(0, 9) as usize;
    format!("{value:.decimals$}")
}

pub(crate) fn plural(count: u32, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

pub(crate) fn duration(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.1} s")
    } else {
        format!("{:.1} min", secs / 60.0)
    }
}

/// Millions of ops per second.
pub(crate) fn mops(ops_per_sec: f64) -> String {
    sig3(ops_per_sec / 1e6)
}

/// Milliseconds.
pub(crate) fn ms(secs: f64) -> String {
    sig3(secs * 1e3)
}

/// A node count as an axis label: 40000 → "40k", 4000000 → "4M".
pub(crate) fn count_label(count: u64) -> String {
    let short = |value: f64, unit: &str| format!("{}{unit}", trim_zeros(&format!("{value:.1}")));
    match count {
        1_000_000.. => short(count as f64 / 1e6, "M"),
        1_000.. => short(count as f64 / 1e3, "k"),
        _ => count.to_string(),
    }
}

/// A decimal number without its trailing zeros, nor a trailing point.
pub(crate) fn trim_zeros(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text.to_owned()
    }
}

/// An op scale as the report and the subtitles print it: `0.01`, `1`.
pub(crate) fn scale(ops_scale: f64) -> String {
    trim_zeros(&format!("{ops_scale:.4}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(mops(1_534_000.0), "1.53");
        assert_eq!(mops(812_345_678.0), "812");
        assert_eq!(mops(420_000.0), "0.420");
        assert_eq!(ms(0.000_012_34), "0.0123");
        assert_eq!(sig3(12_345.0), "12345");
        assert_eq!(count_label(4_000_000), "4M");
        assert_eq!(count_label(40_000), "40k");
        assert_eq!(count_label(1_500_000), "1.5M");
        assert_eq!(count_label(100), "100");
        assert_eq!(plural(1, "round"), "1 round");
        assert_eq!(plural(5, "round"), "5 rounds");
        assert_eq!(duration(17.04), "17.0 s");
        assert_eq!(duration(330.0), "5.5 min");
        assert_eq!(scale(0.01), "0.01");
        assert_eq!(scale(1.0), "1");
    }
}
