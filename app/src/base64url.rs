//! Base64url without padding (RFC 4648 §5), the alphabet of PKCE verifiers and challenges and of a JWT's
//! parts. Written out here rather than taken from a crate, for a smaller download (app/README.md, "Size");
//! the tests hold it to the `base64` crate's `URL_SAFE_NO_PAD`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `bytes` as base64url text, without `=` padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |group, (i, &b)| group | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            text.push(char::from(ALPHABET[(group >> (18 - 6 * i) & 63) as usize]));
        }
    }
    text
}

/// The bytes `text` encodes; `None` unless it is canonical base64url without padding (only the
/// alphabet, no impossible length, unused bits zero).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let (mut group, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        group = group << 6 | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((group >> bits) as u8);
            group &= (1 << bits) - 1;
        }
    }
    (group == 0).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

    use super::*;

    /// Every length from 0 to 100 bytes, of varied content, encodes as the `base64` crate does and
    /// decodes back.
    #[test]
    fn agrees_with_the_base64_crate_both_ways() {
        for len in 0..=100 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + len * 11) as u8).collect();
            let text = encode(&bytes);
            assert_eq!(text, URL_SAFE_NO_PAD.encode(&bytes), "{len} bytes");
            assert_eq!(decode(&text), Some(bytes), "{len} bytes");
        }
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    /// Whatever the `base64` crate refuses, this refuses: other alphabets' characters, padding, a length
    /// no encoding has, unused bits set.
    #[test]
    fn refuses_what_is_not_canonical_base64url() {
        for text in ["ab+/", "abc=", "abcde", "a", "ab!c", "-_9", "QR", "QUF"] {
            assert_eq!(decode(text), None, "{text}");
            assert!(URL_SAFE_NO_PAD.decode(text).is_err(), "{text}");
        }
    }
}
