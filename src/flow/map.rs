//! The live flows of one shard, found by key.
//!
//! A flow holds its own key, so the table holds only the boxes: a slot is one
//! pointer, not a pointer and a copy of the 42-byte key. Tens of thousands of
//! flows are live at once and a table is at most 7/8 full, so this keeps
//! megabytes out of memory and the table's slots in fewer cache lines. A
//! lookup compares the key inside the flow it found, which is the flow it
//! was about to update anyway.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::connection::Flow;
use super::key::{FlowKey, StableState};

/// Boxed flows by their key.
pub(crate) struct FlowMap<'c> {
    table: HashTable<Box<Flow<'c>>>,
    hasher: StableState,
}

impl<'c> FlowMap<'c> {
    pub fn new() -> FlowMap<'c> {
        FlowMap {
            table: HashTable::new(),
            hasher: StableState::with_seed(0x51ab_c0de),
        }
    }

    fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn get(&self, key: &FlowKey) -> Option<&Flow<'c>> {
        self.table
            .find(self.hash(key), |f| f.key == *key)
            .map(|b| &**b)
    }

    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Box<Flow<'c>>> {
        let h = self.hash(key);
        self.table.find_mut(h, |f| f.key == *key)
    }

    pub fn contains_key(&self, key: &FlowKey) -> bool {
        self.get(key).is_some()
    }

    pub fn remove(&mut self, key: &FlowKey) -> Option<Box<Flow<'c>>> {
        let h = self.hash(key);
        match self.table.find_entry(h, |f| f.key == *key) {
            Ok(e) => Some(e.remove().0),
            Err(_) => None,
        }
    }

    /// The flow of `key`, or where to put one.
    pub fn entry(&mut self, key: &FlowKey) -> Entry<'_, Box<Flow<'c>>> {
        let h = self.hash(key);
        let hasher = &self.hasher;
        self.table
            .entry(h, |f| f.key == *key, |f| hasher.hash_one(f.key))
    }

    pub fn values(&self) -> impl Iterator<Item = &Flow<'c>> {
        self.table.iter().map(|b| &**b)
    }

    pub fn drain(&mut self) -> impl Iterator<Item = Box<Flow<'c>>> + '_ {
        self.table.drain()
    }
}
