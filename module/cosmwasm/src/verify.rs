//! Signatures through the VM's `ed25519_verify`, with `verify_strict`'s refusals first.

use cosmwasm_std::Api;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
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
/// - `s` not canonical (not below the group order);
/// - `R` not the canonical encoding of a point (`verify_strict` compares the recomputed `R`'s
///   canonical encoding with the signature's bytes), or a point of small order;
/// - a key that does not decode to a point, or decodes to a point of small order.
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
    if !bool::from(Scalar::from_canonical_bytes(s).is_some()) {
        return false;
    }
    let r = CompressedEdwardsY(r);
    match r.decompress() {
        Some(point) if !point.is_small_order() && point.compress() == r => {}
        _ => return false,
    }
    matches!(CompressedEdwardsY(key.0).decompress(), Some(point) if !point.is_small_order())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::testing::MockApi;
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
}
