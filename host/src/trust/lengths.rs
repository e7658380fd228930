//! Lengths a signature section declares, checked before wasmsign2 reads it.
//!
//! wasmsign2 allocates every length it reads up front (`vec![0; len]`,
//! then `read_exact`), so a signature of a few bytes declaring a 4 GiB key
//! id would make `drhost inspect`, `verify` or `run` ask for 4 GiB before
//! finding out the bytes are not there; on a machine with less memory that
//! aborts the process instead of giving an error. Every nested length must
//! fit in what follows it. (Section lengths are checked the same way by
//! `signature::sections` before any section is read.)

/// Checks the nested lengths of a signature section's payload (embedded,
/// or a detached `.sig` file): the signed-hash sets, their hashes, their
/// signatures and each signature's key id and bytes.
pub(super) fn signature_fits(payload: &[u8]) -> Result<(), String> {
    let mut data = Reader::new(payload);
    for what in ["the signature version", "the content type", "the hash function"] {
        data.byte(what)?;
    }
    let mut sets = data.count("the number of signed-hash sets")?;
    while sets > 0 && !data.is_empty() {
        let mut set = Reader::new(data.slice("a signed-hash set")?);
        let hashes = set.count("the number of hashes")?;
        set.take(hashes.saturating_mul(32), "the hashes")?;
        let mut signatures = set.count("the number of signatures")?;
        while signatures > 0 && !set.is_empty() {
            let mut signature = Reader::new(set.slice("a signature")?);
            signature.slice("a key id")?;
            signature.byte("an algorithm id")?;
            signature.slice("the signature bytes")?;
            signatures -= 1;
        }
        sets -= 1;
    }
    Ok(())
}

/// Reads LEB128 lengths and the bytes they announce, refusing any length
/// longer than what is left.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at.min(self.bytes.len())..]
    }

    fn byte(&mut self, what: &str) -> Result<u8, String> {
        let b = *self.rest().first().ok_or_else(|| format!("it ends before {what}"))?;
        self.at += 1;
        Ok(b)
    }

    /// An unsigned LEB128 number of at most 32 bits (5 bytes).
    fn count(&mut self, what: &str) -> Result<usize, String> {
        let mut value: u64 = 0;
        for i in 0..5 {
            let b = self.byte(what)?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return usize::try_from(value).map_err(|_| format!("{what} is too large"));
            }
        }
        Err(format!("{what} is not a valid LEB128 number"))
    }

    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], String> {
        let rest = self.rest();
        if len > rest.len() {
            return Err(format!("{what} declares {len} bytes but only {} follow", rest.len()));
        }
        self.at += len;
        Ok(&rest[..len])
    }

    /// A length, then that many bytes.
    fn slice(&mut self, what: &str) -> Result<&'a [u8], String> {
        let len = self.count(what)?;
        self.take(len, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leb(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        super::super::signature::put_leb(&mut out, n);
        out
    }

    #[test]
    fn a_signature_declaring_a_huge_key_id_is_refused() {
        // version, content type, hash; one set: no hashes, one signature
        // whose key id claims 4 GiB.
        let mut signature = leb(0xffff_ffff);
        signature.extend_from_slice(b"short");
        let mut set = leb(0);
        set.extend(leb(1));
        set.extend(leb(signature.len() as u64));
        set.extend(signature);
        let mut payload = vec![1, 1, 1];
        payload.extend(leb(1));
        payload.extend(leb(set.len() as u64));
        payload.extend(set);
        let err = signature_fits(&payload).unwrap_err();
        assert!(err.starts_with("a key id declares 4294967295 bytes"), "{err}");
    }

    #[test]
    fn a_well_formed_signature_fits() {
        // One set: one 32-byte hash, one signature with a key id.
        let mut signature = leb(3);
        signature.extend_from_slice(b"key");
        signature.push(1);
        signature.extend(leb(64));
        signature.extend_from_slice(&[7; 64]);
        let mut set = leb(1);
        set.extend_from_slice(&[9; 32]);
        set.extend(leb(1));
        set.extend(leb(signature.len() as u64));
        set.extend(signature);
        let mut payload = vec![1, 1, 1];
        payload.extend(leb(1));
        payload.extend(leb(set.len() as u64));
        payload.extend(set);
        assert_eq!(signature_fits(&payload), Ok(()));
        assert!(signature_fits(&payload[..payload.len() - 1]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the bytes, the check ends with an answer.
        #[test]
        fn any_bytes_get_an_answer(payload in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = signature_fits(&payload);
        }

        /// A signed-hash set declaring more bytes than follow is refused,
        /// whatever the number it declares.
        #[test]
        fn any_declared_length_beyond_the_end_is_refused(len in 17u64..=u32::MAX as u64) {
            let mut payload = vec![1, 1, 1, 1];
            payload.extend(leb(len));
            payload.extend_from_slice(&[0; 16]);
            prop_assert!(signature_fits(&payload).is_err());
        }
    }
}
