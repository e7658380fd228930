//! The first bytes of a stream that something keeps — a program's output,
//! an HTTP body, an exec's streams, the guest's stdout: whatever comes past
//! the cap is dropped and noted, never buffered.

/// Up to `cap` bytes, and whether more came.
#[derive(Debug)]
pub(crate) struct Capped {
    bytes: Vec<u8>,
    cap: usize,
    cut: bool,
}

impl Capped {
    /// Nothing kept yet; at most `cap` bytes will be.
    pub(crate) fn new(cap: usize) -> Capped {
        Capped {
            bytes: Vec::new(),
            cap,
            cut: false,
        }
    }

    /// Keeps what fits of `chunk`; false when some of it did not fit (that
    /// part is dropped, and [`Capped::was_cut`] says so from now on).
    pub(crate) fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.cap.saturating_sub(self.bytes.len());
        let fits = chunk.len() <= room;
        self.bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        self.cut |= !fits;
        fits
    }

    /// What was kept.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether anything was dropped.
    pub(crate) fn was_cut(&self) -> bool {
        self.cut
    }

    /// What was kept, and whether anything was dropped.
    pub(crate) fn into_parts(self) -> (Vec<u8>, bool) {
        (self.bytes, self.cut)
    }
}

#[cfg(test)]
mod tests {
    use super::Capped;

    #[test]
    fn keeps_the_first_bytes_and_notes_the_rest() {
        let mut kept = Capped::new(5);
        assert!(kept.push(b"abc"));
        assert!(!kept.was_cut());
        assert!(!kept.push(b"defg"));
        assert!(!kept.push(b"h"));
        assert_eq!(kept.into_parts(), (b"abcde".to_vec(), true));
        let mut exact = Capped::new(3);
        assert!(exact.push(b"abc"));
        assert_eq!(exact.into_parts(), (b"abc".to_vec(), false));
    }
}
