//! State that most flows never write, allocated on first write.
//!
//! Most live flows of a busy capture are DNS exchanges waiting out their
//! late-answer window, and a datagram flow never touches the TCP sequence
//! tracking or the handshake baselines: holding those inline cost every DNS
//! flow over 600 bytes. [`Lazy`] holds a pointer instead; reading an unset
//! one reads a shared blank value, and the first write allocates. The fields
//! keep their names and their use (`d.seq.next`), through `Deref`.

use std::ops::{Deref, DerefMut};

/// A type with a shared blank value for unset [`Lazy`] fields to read.
pub trait Blank: Default + Send + Sync + 'static {
    /// The blank value (equal to `Default::default()`).
    fn blank() -> &'static Self;
}

/// Implements [`Blank`] for a `Default` type with a process-wide blank value.
macro_rules! blank {
    ($t:ty) => {
        impl $crate::flow::lazy::Blank for $t {
            fn blank() -> &'static Self {
                static BLANK: std::sync::OnceLock<$t> = std::sync::OnceLock::new();
                BLANK.get_or_init(Default::default)
            }
        }
    };
}
pub(crate) use blank;

/// A `T` that is allocated on first write (see the module docs).
#[derive(Clone, Default)]
pub struct Lazy<T>(Option<Box<T>>);

impl<T: Blank> Lazy<T> {
    /// Back to the blank value, keeping the allocation for the next flow.
    pub fn reset(&mut self) {
        if let Some(b) = &mut self.0 {
            **b = T::default();
        }
    }

    /// Whether anything was ever written.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

impl<T: Blank> Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(b) => b,
            None => T::blank(),
        }
    }
}

impl<T: Blank> DerefMut for Lazy<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: Blank + std::fmt::Debug> std::fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Blank + PartialEq> PartialEq for Lazy<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Blank + Eq> Eq for Lazy<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    struct Counter {
        n: u32,
    }
    blank!(Counter);

    #[test]
    fn reads_blank_until_written() {
        let mut l: Lazy<Counter> = Lazy::default();
        assert_eq!(l.n, 0);
        assert!(!l.is_set());
        l.n += 2;
        assert!(l.is_set());
        assert_eq!(l.n, 2);
        l.reset();
        assert_eq!(l.n, 0);
        assert!(l.is_set(), "the allocation is kept");
        assert_eq!(Counter::blank().n, 0, "the blank value is never written");
    }
}
