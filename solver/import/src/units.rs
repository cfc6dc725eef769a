//! Amounts as the platforms write them, read exactly.
//!
//! A [`Quantity`] is a non-negative decimal number times a power of ten and
//! a power of two, kept as integers: Kubernetes' quantities (`"3948464Ki"`,
//! `"500m"`, `"1.5Gi"`, `"1e3"`), plain byte counts and the sizes other
//! platforms write. Conversions to haplan's integer units round in the
//! direction the caller asks (capacity down, demand up), so that an
//! imported pool never has more room than the platform reported.

use std::fmt;

/// Which way a conversion rounds when the amount is not a whole number of
/// the target unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// Capacity: never more than reported.
    Down,
    /// Demand: never less than reported.
    Up,
}

/// An exact non-negative amount: `digits * 10^ten * 2^two`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    digits: u128,
    ten: i32,
    two: u32,
}

/// A converted amount and whether rounding changed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Converted {
    /// The amount in the pool's unit.
    pub value: u64,
    /// Whether it was rounded (capacity down, demand up).
    pub rounded: bool,
}

/// Why a quantity could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantityError(pub String);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const MAX_DIGITS: usize = 30;
const MAX_EXPONENT: i32 = 40;

impl Quantity {
    /// A whole number of units, e.g. bytes.
    pub fn whole(n: u64) -> Self {
        Quantity {
            digits: n as u128,
            ten: 0,
            two: 0,
        }
    }

    /// Reads a Kubernetes quantity: a decimal number (optionally signed,
    /// negative rejected) followed by a binary suffix (`Ki` .. `Ei`), a
    /// decimal suffix (`n`, `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`) or a
    /// decimal exponent (`e3`, `E-2`).
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let bad = |why: &str| QuantityError(format!("not a quantity ({why}): {text:?}"));
        let s = text.trim();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        let (negative, s) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let number_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(number_end);
        let (int_part, frac_part) = match number.split_once('.') {
            Some((i, f)) => (i, f),
            None => (number, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("no digits"));
        }
        if frac_part.contains('.') {
            return Err(bad("two decimal points"));
        }
        let all: String = format!("{int_part}{frac_part}");
        let trimmed = all.trim_start_matches('0');
        if trimmed.len() > MAX_DIGITS {
            return Err(bad("too many digits"));
        }
        let digits: u128 = if trimmed.is_empty() {
            0
        } else {
            trimmed.parse().map_err(|_| bad("digits"))?
        };
        let mut ten = -(frac_part.len() as i32);
        let mut two = 0u32;
        match suffix {
            "" => {}
            "Ki" => two = 10,
            "Mi" => two = 20,
            "Gi" => two = 30,
            "Ti" => two = 40,
            "Pi" => two = 50,
            "Ei" => two = 60,
            "n" => ten -= 9,
            "u" => ten -= 6,
            "m" => ten -= 3,
            "k" => ten += 3,
            "M" => ten += 6,
            "G" => ten += 9,
            "T" => ten += 12,
            "P" => ten += 15,
            "E" => ten += 18,
            _ if suffix.starts_with(['e', 'E']) => {
                let exp = &suffix[1..];
                let ok = !exp.is_empty()
                    && exp
                        .strip_prefix(['+', '-'])
                        .unwrap_or(exp)
                        .chars()
                        .all(|c| c.is_ascii_digit())
                    && exp.len() <= 4;
                if !ok {
                    return Err(bad("unknown suffix"));
                }
                ten += exp.parse::<i32>().map_err(|_| bad("exponent"))?;
            }
            _ => return Err(bad("unknown suffix")),
        }
        if negative && digits != 0 {
            return Err(QuantityError(format!("must not be negative: {text:?}")));
        }
        if !(-MAX_EXPONENT..=MAX_EXPONENT).contains(&ten) {
            return Err(bad("exponent out of range"));
        }
        Ok(Quantity { digits, ten, two })
    }

    /// This amount, counted in units of `num / den` (of the amount's own
    /// unit), rounded as asked: bytes to MiB is `(1 << 20, 1)`, cores to
    /// millicores `(1, 1000)`.
    pub fn to_units(self, num: u128, den: u128, round: Round) -> Result<Converted, QuantityError> {
        let overflow = || QuantityError("amount out of range".to_string());
        // value = digits * 10^ten * 2^two * den / num
        let mut top = self.digits.checked_mul(den).ok_or_else(overflow)?;
        let mut bottom = num;
        top = top.checked_mul(1u128 << self.two).ok_or_else(overflow)?;
        if self.ten >= 0 {
            top = top
                .checked_mul(10u128.checked_pow(self.ten as u32).ok_or_else(overflow)?)
                .ok_or_else(overflow)?;
        } else {
            bottom = bottom
                .checked_mul(
                    10u128
                        .checked_pow((-self.ten) as u32)
                        .ok_or_else(overflow)?,
                )
                .ok_or_else(overflow)?;
        }
        let q = top / bottom;
        let rounded = top % bottom != 0;
        let q = if rounded && round == Round::Up {
            q + 1
        } else {
            q
        };
        let value = u64::try_from(q).map_err(|_| overflow())?;
        Ok(Converted { value, rounded })
    }
}

/// Bytes to MiB.
pub fn bytes_to_mib(bytes: u64, round: Round) -> Converted {
    Quantity::whole(bytes)
        .to_units(1 << 20, 1, round)
        .expect("a u64 of bytes is a u64 of MiB")
}

/// KiB to MiB.
pub fn kib_to_mib(kib: u64, round: Round) -> Converted {
    Quantity::whole(kib)
        .to_units(1 << 10, 1, round)
        .expect("a u64 of KiB is a u64 of MiB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mib(s: &str, round: Round) -> u64 {
        Quantity::parse(s)
            .unwrap()
            .to_units(1 << 20, 1, round)
            .unwrap()
            .value
    }

    fn milli(s: &str) -> u64 {
        Quantity::parse(s)
            .unwrap()
            .to_units(1, 1000, Round::Up)
            .unwrap()
            .value
    }

    #[test]
    fn kubernetes_quantities_exactly() {
        assert_eq!(mib("3948464Ki", Round::Down), 3855); // 3855.92...
        assert_eq!(mib("3948464Ki", Round::Up), 3856);
        assert_eq!(mib("1.5Gi", Round::Down), 1536);
        assert_eq!(mib("1.5Gi", Round::Up), 1536);
        assert_eq!(mib("1Gi", Round::Up), 1024);
        assert_eq!(mib("1G", Round::Down), 953); // 10^9 / 2^20 = 953.67
        assert_eq!(mib("1G", Round::Up), 954);
        assert_eq!(mib("64M", Round::Up), 62); // 61.03
        assert_eq!(mib("1048576", Round::Up), 1);
        assert_eq!(mib("1e9", Round::Up), 954);
        assert_eq!(mib("0.5Mi", Round::Up), 1);
        assert_eq!(mib("0.5Mi", Round::Down), 0);
        assert_eq!(milli("500m"), 500);
        assert_eq!(milli("2"), 2000);
        assert_eq!(milli("0.25"), 250);
        assert_eq!(milli("1.5"), 1500);
        assert_eq!(milli("100u"), 1); // 0.1 millicores, up
        assert_eq!(milli("+3"), 3000);
        assert_eq!(milli("-0"), 0);
        assert_eq!(milli("1E-3"), 1);
    }

    #[test]
    fn rounding_is_reported() {
        let q = Quantity::parse("1Gi").unwrap();
        assert!(!q.to_units(1 << 20, 1, Round::Up).unwrap().rounded);
        let q = Quantity::parse("1G").unwrap();
        assert!(q.to_units(1 << 20, 1, Round::Up).unwrap().rounded);
        assert_eq!(bytes_to_mib(17179869184, Round::Down).value, 16384);
        assert_eq!(bytes_to_mib(4000000000, Round::Up).value, 3815); // 3814.7
        assert_eq!(bytes_to_mib(4000000000, Round::Down).value, 3814);
        assert_eq!(kib_to_mib(1025, Round::Up).value, 2);
    }

    #[test]
    fn bad_quantities_are_rejected() {
        for bad in [
            "", " ", "Gi", "1.2.3", "1Gb", "1 Gi x", "-1", "-1Gi", "1e", "1e+", "abc", ".", "1x",
            "1e99999", "0x10",
        ] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} accepted");
        }
        let huge = Quantity::parse("999999999999999999999Ei").unwrap();
        assert!(huge.to_units(1 << 20, 1, Round::Up).is_err());
    }

    proptest! {
        /// Binary suffixes agree with plain arithmetic on whole numbers.
        #[test]
        fn binary_suffixes_match_arithmetic(n in 0u64..1 << 30, shift in 0usize..4) {
            let (suffix, bits) = [("Ki", 10), ("Mi", 20), ("Gi", 30), ("Ti", 40)][shift];
            let bytes = (n as u128) << bits;
            let down = mib(&format!("{n}{suffix}"), Round::Down) as u128;
            let up = mib(&format!("{n}{suffix}"), Round::Up) as u128;
            prop_assert_eq!(down, bytes >> 20);
            prop_assert_eq!(up, bytes.div_ceil(1 << 20));
        }

        /// A decimal with a fraction reads as the exact fraction: x.y with
        /// `d` fraction digits is (x * 10^d + y) / 10^d.
        #[test]
        fn decimals_are_exact(int in 0u64..1_000_000, frac in 0u64..1000) {
            let text = format!("{int}.{frac:03}");
            let thousandths = int as u128 * 1000 + frac as u128;
            let q = Quantity::parse(&text).unwrap();
            prop_assert_eq!(q.to_units(1, 1000, Round::Down).unwrap().value as u128, thousandths);
            let gib = Quantity::parse(&format!("{text}Gi")).unwrap();
            // thousandths of GiB in MiB: * 1024 / 1000
            let exact = thousandths * 1024;
            prop_assert_eq!(gib.to_units(1 << 20, 1, Round::Down).unwrap().value as u128, exact / 1000);
            prop_assert_eq!(gib.to_units(1 << 20, 1, Round::Up).unwrap().value as u128, exact.div_ceil(1000));
        }
    }
}
