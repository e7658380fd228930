//! Lengths a plugin file declares, checked before wasmsign2 reads it.
//!
//! wasmsign2 allocates every length it reads up front (`vec![0; len]`,
//! then `read_exact`), so a file of a few bytes declaring a 4 GiB section
//! or signature would make `drhost inspect`, `verify` or `run` ask for
//! 4 GiB before finding out the bytes are not there; on a machine with
//! less memory that aborts the process instead of giving an error. Every
//! length on the way to the signatures must fit in what follows it.

/// The WebAssembly preamble (magic and version/layer) before the sections.
const PREAMBLE: usize = 8;

/// Checks that every section's declared size fits in the file, and, in the
/// tool-conventions `signature` custom section, every nested length too.
/// The error is a clause for "… is damaged: CLAUSE".
pub(super) fn module_fits(bytes: &[u8], signature_section: &str) -> Result<(), String> {
    let mut file = Reader::new(bytes.get(PREAMBLE..).unwrap_or_default());
    while !file.is_empty() {
        let at = PREAMBLE + file.at;
        let id = file.byte("a section id")?;
        let payload = file.slice(&format!("the section at byte {at}"))?;
        if id == 0 {
            let mut custom = Reader::new(payload);
            let name = custom.slice(&format!("the name of the custom section at byte {at}"))?;
            if name == signature_section.as_bytes() {
                signature_fits(custom.rest())?;
            }
        }
    }
    Ok(())
}

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

    const HEADER: &[u8] = b"\0asm\x01\0\0\0";

    fn leb(mut n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn custom(name: &str, payload: &[u8]) -> Vec<u8> {
        let mut body = leb(name.len() as u64);
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(payload);
        let mut section = vec![0];
        section.extend(leb(body.len() as u64));
        section.extend(body);
        section
    }

    #[test]
    fn a_section_declaring_4_gib_is_refused_before_anything_is_allocated() {
        let mut file = HEADER.to_vec();
        file.push(1);
        file.extend(leb(u32::MAX as u64));
        file.extend_from_slice(&[0; 16]);
        let err = module_fits(&file, "signature").unwrap_err();
        assert_eq!(
            err,
            "the section at byte 8 declares 4294967295 bytes but only 16 follow"
        );
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
        let mut file = HEADER.to_vec();
        file.extend(custom("signature", &payload));
        let err = module_fits(&file, "signature").unwrap_err();
        assert!(err.starts_with("a key id declares 4294967295 bytes"), "{err}");
        assert_eq!(signature_fits(&payload).unwrap_err(), err);
    }

    #[test]
    fn a_well_formed_module_and_signature_fit() {
        let mut file = HEADER.to_vec();
        file.extend(custom("name", b"x"));
        file.extend([1, 2, 0x60, 0x00]);
        assert_eq!(module_fits(&file, "signature"), Ok(()));
        assert_eq!(module_fits(HEADER, "signature"), Ok(()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the bytes, the check ends with an answer, and when it
        /// accepts, every section it walked lies inside the file.
        #[test]
        fn any_bytes_get_an_answer(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut file = HEADER.to_vec();
            file.extend(body);
            let _ = module_fits(&file, "signature");
            let _ = signature_fits(&file[8..]);
        }

        /// A section declaring more bytes than follow is refused, whatever
        /// the number it declares.
        #[test]
        fn any_declared_length_beyond_the_end_is_refused(len in 17u64..=u32::MAX as u64, id in 1u8..12) {
            let mut file = HEADER.to_vec();
            file.push(id);
            file.extend(leb(len));
            file.extend_from_slice(&[0; 16]);
            prop_assert!(module_fits(&file, "signature").is_err());
        }
    }
}
