//! The host-to-host wire: what validators' hosts say to each other beside consensus, in the
//! module's bounded borsh (every length checked before anything is allocated, no trailing
//! bytes, a size bound on the whole frame).

use borsh::{BorshDeserialize, BorshSerialize};
use warden_module::codec;
use warden_module::codec::BoundedVec;
use warden_module::error::Error as ModuleError;
use warden_module::evidence::{Accusation, WitnessSignature};
use warden_module::msg::MAX_TX_BYTES;
use warden_module::wire::{BlockHeader, Certificate, SignedMessage};

/// The largest encoded host message: a forwarded proposal is bounded like a transaction.
pub const MAX_HOST_MESSAGE_BYTES: usize = MAX_TX_BYTES;
/// Headers one [`HostMessage::Branch`] carries at most.
pub const MAX_BRANCH_HEADERS: usize = 256;
/// Certificates one [`HostMessage::Branch`] carries at most.
pub const MAX_BRANCH_CERTIFICATES: usize = 64;

/// A host-to-host message.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum HostMessage {
    /// "I saw this; did you?", with the sender's own signature.
    Accuse(Accusation, WitnessSignature),
    /// "I saw it too": a co-signature for the sender of the accusation.
    Endorse(Accusation, WitnessSignature),
    /// The proposal this host saw in a view that failed, so that a leader who showed each
    /// half of the network a different block is caught.
    Forward(SignedMessage),
    /// After a fork: block headers and verified certificates of the sender's branch, so that
    /// the receiver's Tier 1 index and forensics see both branches. A large branch takes
    /// several messages.
    Branch {
        /// Headers of recent blocks.
        headers: BoundedVec<BlockHeader, MAX_BRANCH_HEADERS>,
        /// Phase-1 and double certificates.
        certificates: BoundedVec<Certificate, MAX_BRANCH_CERTIFICATES>,
    },
}

impl HostMessage {
    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// One message from a peer's frame: frames over [`MAX_HOST_MESSAGE_BYTES`] are
    /// `TooLarge`, anything else that is not exactly one message is `Decode`.
    pub fn decode(bytes: &[u8]) -> Result<Self, ModuleError> {
        codec::decode(bytes, MAX_HOST_MESSAGE_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_module::evidence::Behaviour;
    use warden_module::wire::Signature;

    fn accusation() -> Accusation {
        Accusation {
            accused: 3,
            behaviour: Behaviour::VoteWithholding,
            epoch: 1,
            first_view: 4,
            last_view: 20,
            measured: 9,
        }
    }

    #[test]
    fn a_host_message_round_trips_through_its_frame() {
        let sig = WitnessSignature {
            witness: 1,
            signature: Signature([7; 64]),
        };
        for m in [
            HostMessage::Accuse(accusation(), sig),
            HostMessage::Endorse(accusation(), sig),
        ] {
            assert_eq!(HostMessage::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn a_frame_with_trailing_bytes_a_bad_tag_or_over_the_bound_is_refused() {
        let sig = WitnessSignature {
            witness: 1,
            signature: Signature([7; 64]),
        };
        let mut bytes = HostMessage::Endorse(accusation(), sig).encode();
        bytes.push(0);
        assert_eq!(HostMessage::decode(&bytes), Err(ModuleError::Decode));
        assert_eq!(HostMessage::decode(&[9]), Err(ModuleError::Decode));
        assert_eq!(HostMessage::decode(&[]), Err(ModuleError::Decode));
        let huge = vec![2u8; MAX_HOST_MESSAGE_BYTES + 1];
        assert!(matches!(
            HostMessage::decode(&huge),
            Err(ModuleError::TooLarge { .. })
        ));
    }
}
