//! A byte-driven generator: the fuzzer's input read as a stream of
//! choices, so libFuzzer's mutations move between valid and near-valid
//! messages instead of mostly producing noise. No `arbitrary` dependency,
//! so the same code runs in the main crate's stable tests.

pub struct Gen<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Gen<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Gen { data, at: 0 }
    }

    /// The next byte; 0 once the input is used up, so every input is a
    /// finite, valid sequence of choices.
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    /// A choice in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    /// True about once in `n` choices.
    pub fn one_in(&mut self, n: u8) -> bool {
        self.byte().is_multiple_of(n)
    }

    pub fn pick<'s, T: ?Sized>(&mut self, from: &[&'s T]) -> &'s T {
        from[self.below(from.len())]
    }

    /// Up to `max` bytes taken from the input as they are.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = self.below(max + 1);
        let start = self.at.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.at = start + n;
        &self.data[start..end]
    }

    /// What the choices did not use.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.at.min(self.data.len())..]
    }
}

/// Bytes that change how HTTP framing reads when inserted anywhere.
const SPICE: &[u8] = b"\r\n \t:,;=\"0aF\x00\x0b\x7f\x80";

/// A few byte-level mutations of `msg`: the near-misses of a valid message.
pub fn mutate(g: &mut Gen<'_>, msg: &mut Vec<u8>) {
    for _ in 0..g.below(4) {
        if msg.is_empty() {
            msg.push(SPICE[g.below(SPICE.len())]);
            continue;
        }
        let at = usize::from(g.byte()) << 8 | usize::from(g.byte());
        let at = at % msg.len();
        match g.below(4) {
            0 => msg.insert(at, SPICE[g.below(SPICE.len())]),
            1 => {
                msg.remove(at);
            }
            2 => msg[at] = SPICE[g.below(SPICE.len())],
            _ => {
                let end = (at + 1 + g.below(16)).min(msg.len());
                let copy = msg[at..end].to_vec();
                msg.splice(at..at, copy);
            }
        }
    }
}

/// A small deterministic PRNG for choices that must not consume the
/// generator's bytes (split points of a relayed body).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u8) -> Self {
        Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(seed))
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
