//! Signatures through the VM's `ed25519_verify`, with `verify_strict`'s refusals first.

use cosmwasm_std::Api;
use warden_module::crypto::Verifier;
use warden_module::wire::{PublicKey, Signature};

/// The module's [`Verifier`] over a CosmWasm [`Api`].
pub struct ApiVerifier<'a> {
    api: &'a dyn Api,
}

impl<'a> ApiVerifier<'a> {
    /// A verifier over `api`.
    pub fn new(api: &'a dyn Api) -> Self {
        ApiVerifier { api }
    }
}

impl Verifier for ApiVerifier<'_> {
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
        strict_prechecks(key, signature)
            && self
                .api
                .ed25519_verify(message, &signature.0, &key.0)
                .unwrap_or(false)
    }
}

/// What ed25519-dalek's `verify_strict` refuses before its equation, and ZIP-215 (the VM's
/// `ed25519_verify`) accepts:
/// - `s` not canonical (not below the group order `l`);
/// - `R` not a canonical encoding (`verify_strict` compares the recomputed `R`'s canonical
///   encoding with the signature's bytes), or an encoding of a point of small order;
/// - a key that encodes a point of small order.
///
/// Each is a comparison of bytes, no curve arithmetic: `s < l`; `R`'s `y` below `p` (the only
/// other non-canonical encodings, `x = 0` with the sign bit set, are of small-order points);
/// and the fourteen encodings of small-order points ([`SMALL_ORDER_Y`], either sign bit). An
/// encoding that does not decode at all is refused by both checks alike.
///
/// With these refused, the two checks differ only where `R` or the key carries a torsion
/// component beside its prime-order part: ZIP-215's cofactored equation ignores it, and
/// `verify_strict`'s does not. The module verifies only validator keys, which it admits only
/// torsion-free ([`warden_module::crypto::is_strong_key`]); so the one difference left is a
/// signature whose `R` its own key holder built with a torsion component (nobody else can make
/// one). Telling that apart needs a scalar multiplication inside the contract, the cost the
/// host function exists to avoid; `verify_strict` refuses such a signature, this check accepts it.
pub fn strict_prechecks(key: &PublicKey, signature: &Signature) -> bool {
    let (r, s) = signature.0.split_at(32);
    let (Ok(r), Ok(s)) = (<[u8; 32]>::try_from(r), <[u8; 32]>::try_from(s)) else {
        return false;
    };
    less_than(&s, &L) && less_than(&y(&r), &P) && !small_order(&r) && !small_order(&key.0)
}

/// The group order `l = 2^252 + 27742317777372353535851937790883648493`, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The field's prime `p = 2^255 - 19`, little-endian.
const P: [u8; 32] = [
    0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
];

/// The `y` of every encoding of a point of small order (the sign bit cleared): 0 and `p`
/// (order 4), 1 and `p + 1` (the identity), `p - 1` (order 2), and the two of order 8.
pub const SMALL_ORDER_Y: [[u8; 32]; 7] = {
    let mut p_plus_1 = P;
    p_plus_1[0] = 0xee;
    let mut p_minus_1 = P;
    p_minus_1[0] = 0xec;
    let mut one = [0u8; 32];
    one[0] = 1;
    [
        [0; 32],
        P,
        one,
        p_plus_1,
        p_minus_1,
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10,
            0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77,
            0x92, 0xac, 0x03, 0x7a,
        ],
    ]
};

/// An encoding's `y`: its bytes with the sign bit cleared.
fn y(encoding: &[u8; 32]) -> [u8; 32] {
    let mut y = *encoding;
    y[31] &= 0x7f;
    y
}

/// Whether `encoding` (any sign bit) is one of a point of small order.
fn small_order(encoding: &[u8; 32]) -> bool {
    let y = y(encoding);
    SMALL_ORDER_Y.contains(&y)
}

/// `a < b` for little-endian 256-bit integers.
fn less_than(a: &[u8; 32], b: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::testing::MockApi;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::EdwardsPoint;
    use warden_module::crypto::Ed25519Strict;
    use warden_testkit::{key, order_four_point, public, sign_with_nonce_point};

    /// (ZIP-215 through the VM's API, `verify_strict`, this verifier).
    fn verdicts(key: &PublicKey, message: &[u8], signature: &Signature) -> (bool, bool, bool) {
        let api = MockApi::default();
        let zip215 = api
            .ed25519_verify(message, &signature.0, &key.0)
            .unwrap_or(false);
        let strict = Ed25519Strict.verify(key, message, signature);
        let ours = ApiVerifier::new(&api).verify(key, message, signature);
        (zip215, strict, ours)
    }

    #[test]
    fn a_valid_signature_is_accepted_by_all_three() {
        let k = key(1);
        let r = Scalar::from_bytes_mod_order([7; 32]);
        let sig = sign_with_nonce_point(&k, b"m", r, EdwardsPoint::default());
        assert_eq!(verdicts(&public(&k), b"m", &sig), (true, true, true));
    }

    #[test]
    fn a_small_order_r_accepted_by_zip215_is_refused_as_verify_strict_refuses_it() {
        let k = key(1);
        let sig = sign_with_nonce_point(&k, b"m", Scalar::ZERO, order_four_point());
        assert_eq!(verdicts(&public(&k), b"m", &sig), (true, false, false));
    }

    #[test]
    fn a_small_order_key_accepted_by_zip215_is_refused_as_verify_strict_refuses_it() {
        // The identity as the key, the identity as R and s = 0: [8]([0]B - R - [k]A) = 0.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let (key, sig) = (PublicKey(identity), Signature(sig));
        assert_eq!(verdicts(&key, b"m", &sig), (true, false, false));
    }

    #[test]
    fn a_non_canonical_r_encoding_is_refused_as_verify_strict_refuses_it() {
        // A valid signature whose R is re-encoded with the sign bit of x flipped where x = 0
        // is impossible for a point of large order; instead y + p for the order-one point
        // (y = 1): the encoding 0xee, 0xff.., 0x7f, refused as small order and non-canonical.
        let k = key(1);
        let mut sig = sign_with_nonce_point(
            &k,
            b"m",
            Scalar::from_bytes_mod_order([7; 32]),
            EdwardsPoint::default(),
        );
        sig.0[..32].copy_from_slice(&[0xff; 32]);
        sig.0[0] = 0xee;
        sig.0[31] = 0x7f;
        let (_, strict, ours) = verdicts(&public(&k), b"m", &sig);
        assert_eq!((strict, ours), (false, false));
    }

    #[test]
    fn a_torsion_component_in_r_passes_here_and_fails_verify_strict() {
        // `strict_prechecks` says why: telling it apart needs a scalar multiplication.
        let k = key(1);
        let r = Scalar::from_bytes_mod_order([7; 32]);
        let sig = sign_with_nonce_point(&k, b"m", r, order_four_point());
        assert_eq!(verdicts(&public(&k), b"m", &sig), (true, false, true));
    }

    #[test]
    fn the_small_order_list_is_exactly_the_encodings_of_small_order_points() {
        // Every multiple of a point of order 8 (all eight small-order points), both signs.
        let order8 = CompressedEdwardsY(SMALL_ORDER_Y[5]).decompress().unwrap();
        let mut point = EdwardsPoint::default();
        for _ in 0..8 {
            let bytes = point.compress().to_bytes();
            assert!(small_order(&bytes), "{bytes:02x?}");
            point += order8;
        }
        // Every listed y decodes, with either sign bit, to a small-order point.
        for y in SMALL_ORDER_Y {
            for sign in [0, 0x80] {
                let mut bytes = y;
                bytes[31] |= sign;
                let decoded = CompressedEdwardsY(bytes).decompress().unwrap();
                assert!(decoded.is_small_order(), "{bytes:02x?}");
            }
        }
        // And the canonical checks agree with curve25519-dalek's.
        assert!(less_than(&[0; 32], &L) && !less_than(&L, &L) && !less_than(&P, &P));
        let s = Scalar::from_bytes_mod_order([0xff; 32]).to_bytes();
        assert!(less_than(&s, &L));
    }
}
