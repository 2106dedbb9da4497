//! Slashing arithmetic, as pure functions: the correlated fraction and the reporter's reward,
//! both exact in integers for every power the wire format allows.

use crate::config::{PPB, PPM};

/// The correlated slashing fraction in ppb: `min((3k/n)^2, 1)` of the offending power `k` over
/// the total power `n` (as in Substrate), rounded down, never below `min_ppb` (itself at most
/// one). Exact for every `k` and `n` up to `u64::MAX`; a total of zero slashes everything.
pub fn correlated_fraction(offending_power: u64, total_power: u64, min_ppb: u64) -> u64 {
    let floor = min_ppb.min(PPB);
    let n = u128::from(total_power);
    // 3k < 2^66 always fits; once it reaches n the fraction is one.
    let a = 3 * u128::from(offending_power);
    if n == 0 || a >= n {
        return PPB;
    }
    // floor(PPB * a^2 / n^2) = floor(floor(a * (a * PPB) / n) / n), and with a < n < 2^64:
    // b = a * PPB < 2^94; a * b / n = a * q + a * r / n where b = q * n + r, a * q <= b and
    // a * r < 2^128. Every step fits in u128 and nothing is rounded before the last division.
    let b = a * u128::from(PPB);
    let (q, r) = (b / n, b % n);
    let t = a * q + a * r / n;
    let fraction = (t / n) as u64; // < PPB, since a < n
    fraction.max(floor)
}

/// The reporter's reward in ppb of the offender's stake: `reward_ppm` of the slashed fraction,
/// nothing without a reporter (a self-report has none).
pub fn reporter_reward(reported: bool, fraction_ppb: u64, reward_ppm: u32) -> u64 {
    if reported {
        (u128::from(fraction_ppb) * u128::from(reward_ppm) / u128::from(PPM)) as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlated_fraction_grows_with_offenders_and_caps_at_one() {
        let n = 100;
        assert_eq!(correlated_fraction(1, n, 0), 900_000);
        assert_eq!(correlated_fraction(10, n, 0), 90_000_000);
        assert_eq!(correlated_fraction(34, n, 0), PPB);
        assert_eq!(correlated_fraction(1, n, 10_000_000), 10_000_000);
    }

    #[test]
    fn correlated_fraction_is_exact_for_large_stakes() {
        // Four validators of 10^15: one offender is (3/4)^2, two are past one.
        let power = 1_000_000_000_000_000u64;
        assert_eq!(correlated_fraction(power, 4 * power, 0), 562_500_000);
        assert_eq!(correlated_fraction(2 * power, 4 * power, 0), PPB);
        // Near the limits: one of three validators of 2^60 is a full slash, one of ten is 9%.
        let big = 1u64 << 60;
        assert_eq!(correlated_fraction(big, 3 * big, 0), PPB);
        assert_eq!(correlated_fraction(big, 10 * big, 0), 90_000_000);
        assert_eq!(correlated_fraction(u64::MAX / 10, u64::MAX, 0), 89_999_999);
    }

    #[test]
    fn correlated_fraction_of_an_empty_set_is_one() {
        assert_eq!(correlated_fraction(0, 0, 0), PPB);
        assert_eq!(correlated_fraction(0, 5, 0), 0);
        assert_eq!(correlated_fraction(0, 5, u64::MAX), PPB);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use num_bigint::BigUint;
    use proptest::prelude::*;

    /// `max(min(floor(PPB * (3k)^2 / n^2), PPB), min(min_ppb, PPB))` in big integers.
    fn reference(k: u64, n: u64, min_ppb: u64) -> u64 {
        let floor = min_ppb.min(PPB);
        if n == 0 {
            return PPB;
        }
        let a = BigUint::from(3u8) * BigUint::from(k);
        let n = BigUint::from(n);
        let exact = BigUint::from(PPB) * &a * &a / (&n * &n);
        let capped = exact.min(BigUint::from(PPB));
        u64::try_from(capped).expect("at most PPB").max(floor)
    }

    fn power() -> impl Strategy<Value = u64> {
        prop_oneof![
            0..=1_000u64,
            any::<u64>(),
            (0..=64u32).prop_map(|s| 1u64 << s.min(63)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn correlated_fraction_matches_big_integer_reference(
            k in power(), n in power(), min_ppb in prop_oneof![Just(0u64), 0..=2 * PPB],
        ) {
            prop_assert_eq!(correlated_fraction(k, n, min_ppb), reference(k, n, min_ppb));
        }

        #[test]
        fn correlated_fraction_matches_reference_below_the_cap(
            n in 1u64..=u64::MAX, share in 0u64..=333_333,
        ) {
            // Offending power below a third of the total, where rounding matters.
            let k = (u128::from(n) * u128::from(share) / 1_000_000) as u64;
            prop_assert_eq!(correlated_fraction(k, n, 0), reference(k, n, 0));
        }
    }
}
