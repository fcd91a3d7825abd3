//! The authenticated suite's exchange: agreement, transcript layout, keys, signatures.

use super::*;

fn handshake<'a>(
    client: &X25519KeyPair,
    agent: &X25519KeyPair,
    kms: Option<&'a [u8]>,
) -> Handshake<'a> {
    Handshake {
        channel_id: "ch-1",
        instance_id: "mi-1",
        client_random: [1; 32],
        agent_random: [2; 32],
        client_pub: client.public(),
        agent_pub: agent.public(),
        kms_plaintext: kms,
    }
}

#[test]
fn both_ends_derive_the_same_keys() {
    let (c, a) = (X25519KeyPair::generate(), X25519KeyPair::generate());
    let shared = c.shared(&a.public()).unwrap();
    assert_eq!(shared, a.shared(&c.public()).unwrap());
    let h = handshake(&c, &a, None);
    let keys = h.keys(&shared);
    assert_eq!(keys, h.keys(&a.shared(&c.public()).unwrap()));
    assert_ne!(keys.client_to_agent, keys.agent_to_client);
    // The KMS plaintext and the channel id both change the keys.
    assert_ne!(handshake(&c, &a, Some(b"k")).keys(&shared), keys);
    assert_ne!(
        Handshake {
            channel_id: "ch-2",
            ..h
        }
        .keys(&shared),
        keys
    );
    assert_eq!(format!("{keys:?}"), "Keys(..)");
}

#[test]
fn bad_shares_are_refused() {
    let c = X25519KeyPair::generate();
    assert_eq!(c.shared(&[1; 31]), Err(AuthError::BadPublicKey));
    assert_eq!(c.shared(&[0; 32]), Err(AuthError::LowOrderKey));
    let mut one = [0u8; 32];
    one[0] = 1;
    assert_eq!(c.shared(&one), Err(AuthError::LowOrderKey));
}

#[test]
fn the_transcript_is_laid_out_as_documented() {
    let (c, a) = (
        X25519KeyPair::from_private([3; 32]),
        X25519KeyPair::from_private([4; 32]),
    );
    let t = handshake(&c, &a, None).transcript();
    let head = b"axtlab e2e v1\0ch-1\0mi-1\0AXT_X25519_SIGNED_CHACHA20_POLY1305\0";
    assert!(t.starts_with(head));
    assert_eq!(t.len(), head.len() + 4 * 32 + 32);
    assert_eq!(&t[head.len()..head.len() + 32], &[1; 32]);
    assert_eq!(&t[t.len() - 64..t.len() - 32], &a.public());
    assert_eq!(&t[t.len() - 32..], Sha256::digest(b"").as_slice());
    let k = handshake(&c, &a, Some(b"data key")).transcript();
    assert_eq!(&k[k.len() - 32..], Sha256::digest(b"data key").as_slice());
}

#[test]
fn the_agent_signs_what_the_client_verifies() {
    let key = AgentKey::generate().unwrap();
    let pem = key.public_pem().unwrap();
    let t = handshake(&X25519KeyPair::generate(), &X25519KeyPair::generate(), None).transcript();
    let sig = sign_transcript(&key, &t).unwrap();
    assert_eq!(sig.len(), 256);
    verify_transcript(&pem, &t, &sig).unwrap();
    let mut other = t.clone();
    other[70] ^= 1;
    assert!(matches!(
        verify_transcript(&pem, &other, &sig),
        Err(IdentityError::Mismatch)
    ));
    assert!(matches!(
        verify_transcript(&pem, &t, &sig[1..]),
        Err(IdentityError::Mismatch)
    ));
    let stranger = AgentKey::generate().unwrap().public_pem().unwrap();
    assert!(verify_transcript(&stranger, &t, &sig).is_err());
    assert!(matches!(
        verify_transcript("not a pem", &t, &sig),
        Err(IdentityError::Key(_))
    ));
}
