//! The live flows of one shard, found by key.
//!
//! A flow holds its own key, so the table holds only the boxes: a slot is one
//! pointer, not a pointer and a copy of the 42-byte key. Tens of thousands of
//! flows are live at once and a table is at most 7/8 full, so this keeps
//! megabytes out of memory and the table's slots in fewer cache lines. A
//! lookup compares the key inside the flow it found, which is the flow it
//! was about to update anyway.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::connection::Flow;
use super::key::FlowKey;

/// Boxed flows by their key.
pub(crate) struct FlowMap<'c> {
    table: HashTable<Box<Flow<'c>>>,
}

/// The table's hash of a key from its [`FlowKey::stable_hash`], which picked
/// the shard: every packet's key is hashed once. The shard is the stable
/// hash's low bits, the same for every key of a table, so the table reads
/// its bucket from other bits.
#[inline]
pub(crate) fn table_hash(stable: u64) -> u64 {
    stable.rotate_left(32)
}

impl<'c> FlowMap<'c> {
    pub fn new() -> FlowMap<'c> {
        FlowMap {
            table: HashTable::new(),
        }
    }

    fn hash(key: &FlowKey) -> u64 {
        table_hash(key.stable_hash())
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn get(&self, key: &FlowKey) -> Option<&Flow<'c>> {
        self.table
            .find(Self::hash(key), |f| f.key == *key)
            .map(|b| &**b)
    }

    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Box<Flow<'c>>> {
        self.table.find_mut(Self::hash(key), |f| f.key == *key)
    }

    pub fn contains_key(&self, key: &FlowKey) -> bool {
        self.get(key).is_some()
    }

    pub fn remove(&mut self, key: &FlowKey) -> Option<Box<Flow<'c>>> {
        match self.table.find_entry(Self::hash(key), |f| f.key == *key) {
            Ok(e) => Some(e.remove().0),
            Err(_) => None,
        }
    }

    /// The flow with id `id` whose key's [`FlowKey::stable_hash`] is
    /// `stable` (ids are unique: a flow's id is made from its first frame).
    pub fn get_id(&self, stable: u64, id: u64) -> Option<&Flow<'c>> {
        self.table
            .find(table_hash(stable), |f| f.id == id)
            .map(|b| &**b)
    }

    /// Removes the flow [`get_id`](FlowMap::get_id) finds.
    pub fn remove_id(&mut self, stable: u64, id: u64) -> Option<Box<Flow<'c>>> {
        match self.table.find_entry(table_hash(stable), |f| f.id == id) {
            Ok(e) => Some(e.remove().0),
            Err(_) => None,
        }
    }

    /// The flow of `key`, whose [`FlowKey::stable_hash`] is `stable`, or
    /// where to put one.
    pub fn entry(&mut self, key: &FlowKey, stable: u64) -> Entry<'_, Box<Flow<'c>>> {
        debug_assert_eq!(stable, key.stable_hash());
        self.table.entry(
            table_hash(stable),
            |f| f.key == *key,
            |f| Self::hash(&f.key),
        )
    }

    pub fn values(&self) -> impl Iterator<Item = &Flow<'c>> {
        self.table.iter().map(|b| &**b)
    }

    pub fn drain(&mut self) -> impl Iterator<Item = Box<Flow<'c>>> + '_ {
        self.table.drain()
    }
}
