//! The state root: a compact sparse Merkle tree over the whole state.
//!
//! Every state entry is a leaf at the path `SHA-256("WARDEN-STATE" || key)` (256 bits). A
//! subtree holding a single leaf is represented by that leaf alone, so a path is only as deep
//! as needed to tell the leaves apart (about `log2(n)` nodes for `n` keys); an internal node
//! exists exactly where two or more leaves share a prefix. The shape, and so the root, depends
//! only on the set of entries, never on the order in which they were written.
//!
//! ```text
//! empty subtree   = [0; 32]
//! leaf            = SHA-256(0x00 || path || SHA-256(value))
//! internal        = SHA-256(0x01 || left || right)
//! ```
//!
//! [`update`] applies one block's changes in one pass over the affected paths: it reads and
//! writes only the nodes on the paths of the changed keys, so its cost grows with the number
//! of keys changed (times the logarithm of the state size), not with the size of the state.
//!
//! The runtime keeps the nodes in memory ([`MemoryNodes`], about 150 bytes per state entry
//! for the leaves and internal nodes together) and rebuilds them from the `state` table when it
//! opens a data directory, checking the result against the head block's state root. The tree
//! is derived data: it needs no persistence of its own, a crash cannot leave it out of step
//! with the state, and a block's root update writes nothing to disk. (Stored in the database
//! instead, its nodes sit at random positions of the key space, and every block would rewrite
//! one database page per changed node: a cost that grows with the state's size.)

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// The root of the empty tree, and the hash of an empty subtree.
pub const EMPTY: Hash = [0; 32];

/// Where a node sits: its depth (2 bytes, big-endian) and the first `depth` bits of its path.
pub type NodeKey = [u8; 34];

/// A stored node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// The only leaf of its subtree.
    Leaf {
        /// The leaf's path (the hash of its state key).
        path: Hash,
        /// The hash of its value.
        value: Hash,
    },
    /// A node over two subtrees holding at least two leaves between them.
    Internal {
        /// Hash of the left (bit 0) subtree.
        left: Hash,
        /// Hash of the right (bit 1) subtree.
        right: Hash,
    },
}

impl Node {
    /// The node's hash.
    pub fn hash(&self) -> Hash {
        let mut hasher = Sha256::new();
        match self {
            Node::Leaf { path, value } => {
                hasher.update([0u8]);
                hasher.update(path);
                hasher.update(value);
            }
            Node::Internal { left, right } => {
                hasher.update([1u8]);
                hasher.update(left);
                hasher.update(right);
            }
        }
        hasher.finalize().into()
    }

    /// The stored form: a tag byte and two hashes.
    pub fn encode(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        let (tag, a, b) = match self {
            Node::Leaf { path, value } => (0, path, value),
            Node::Internal { left, right } => (1, left, right),
        };
        out[0] = tag;
        out[1..33].copy_from_slice(a);
        out[33..].copy_from_slice(b);
        out
    }

    /// Decodes a stored node.
    pub fn decode(bytes: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(bytes.len() == 65, "a tree node of {} bytes", bytes.len());
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        a.copy_from_slice(&bytes[1..33]);
        b.copy_from_slice(&bytes[33..]);
        match bytes[0] {
            0 => Ok(Node::Leaf { path: a, value: b }),
            1 => Ok(Node::Internal { left: a, right: b }),
            tag => anyhow::bail!("a tree node with tag {tag}"),
        }
    }
}

/// Where the tree's nodes live.
pub trait NodeStore {
    /// The node at `key`.
    fn get_node(&mut self, key: &NodeKey) -> anyhow::Result<Option<Node>>;
    /// Stores a node.
    fn put_node(&mut self, key: &NodeKey, node: &Node) -> anyhow::Result<()>;
    /// Removes a node.
    fn delete_node(&mut self, key: &NodeKey) -> anyhow::Result<()>;
}

/// Nodes in memory. A hash map: lookups by position cost the same at any state size, and the
/// map is never iterated, so its order cannot leak into anything consensus sees.
pub type MemoryNodes = HashMap<NodeKey, Node>;

impl NodeStore for MemoryNodes {
    fn get_node(&mut self, key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.get(key).copied())
    }
    fn put_node(&mut self, key: &NodeKey, node: &Node) -> anyhow::Result<()> {
        self.insert(*key, *node);
        Ok(())
    }
    fn delete_node(&mut self, key: &NodeKey) -> anyhow::Result<()> {
        self.remove(key);
        Ok(())
    }
}

/// The path of a state key.
pub fn path_of(key: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(b"WARDEN-STATE");
    hasher.update(key);
    hasher.finalize().into()
}

/// The hash of a stored value.
pub fn value_hash(value: &[u8]) -> Hash {
    Sha256::digest(value).into()
}

fn bit(path: &Hash, depth: usize) -> bool {
    (path[depth / 8] >> (7 - depth % 8)) & 1 == 1
}

fn flip(path: &Hash, depth: usize) -> Hash {
    let mut out = *path;
    out[depth / 8] ^= 1 << (7 - depth % 8);
    out
}

/// The key of the node at `depth` on `path`.
pub fn node_key(path: &Hash, depth: usize) -> NodeKey {
    let mut key = [0u8; 34];
    key[..2].copy_from_slice(&(depth as u16).to_be_bytes());
    let full = depth / 8;
    key[2..2 + full].copy_from_slice(&path[..full]);
    if !depth.is_multiple_of(8) && full < 32 {
        let mask = 0xffu8 << (8 - depth % 8);
        key[2 + full] = path[full] & mask;
    }
    key
}

/// A subtree after an update.
#[derive(Clone, Copy, Debug)]
enum Sub {
    Empty,
    /// A single leaf, not yet stored: the parent decides where it sits.
    Leaf(Hash, Hash),
    /// An internal node, already stored at its position.
    Internal(Hash),
}

impl Sub {
    fn hash(&self) -> Hash {
        match self {
            Sub::Empty => EMPTY,
            Sub::Leaf(path, value) => Node::Leaf {
                path: *path,
                value: *value,
            }
            .hash(),
            Sub::Internal(hash) => *hash,
        }
    }
}

/// Applies `changes` (path, new value hash or `None` to remove) and returns the new root.
/// `changes` must be sorted by path without repeats.
pub fn update<S: NodeStore>(
    store: &mut S,
    changes: &[(Hash, Option<Hash>)],
) -> anyhow::Result<Hash> {
    anyhow::ensure!(
        changes.windows(2).all(|w| w[0].0 < w[1].0),
        "tree changes must be sorted and unique"
    );
    let Some(first) = changes.first() else {
        return root(store);
    };
    let sub = update_at(store, 0, &first.0, changes)?;
    if let Sub::Leaf(path, value) = sub {
        store.put_node(&node_key(&EMPTY, 0), &Node::Leaf { path, value })?;
    }
    Ok(sub.hash())
}

/// The current root.
pub fn root<S: NodeStore>(store: &mut S) -> anyhow::Result<Hash> {
    Ok(store
        .get_node(&node_key(&EMPTY, 0))?
        .map_or(EMPTY, |node| node.hash()))
}

/// The root of a tree holding exactly `entries` (path, value hash), built from scratch in
/// memory: what [`update`] must agree with.
pub fn root_of(mut entries: Vec<(Hash, Hash)>) -> anyhow::Result<Hash> {
    entries.sort_unstable();
    entries.dedup_by(|a, b| a.0 == b.0);
    let mut nodes = MemoryNodes::new();
    let changes: Vec<_> = entries.into_iter().map(|(p, v)| (p, Some(v))).collect();
    update(&mut nodes, &changes)
}

fn update_at<S: NodeStore>(
    store: &mut S,
    depth: usize,
    any_path: &Hash,
    changes: &[(Hash, Option<Hash>)],
) -> anyhow::Result<Sub> {
    anyhow::ensure!(depth <= 256, "tree deeper than 256");
    let key = node_key(any_path, depth);
    match store.get_node(&key)? {
        None => build(store, depth, &present(None, changes)),
        Some(Node::Leaf { path, value }) => {
            store.delete_node(&key)?;
            build(store, depth, &present(Some((path, value)), changes))
        }
        Some(Node::Internal { left, right }) => {
            anyhow::ensure!(depth < 256, "an internal node at depth 256");
            let split = changes.partition_point(|(p, _)| !bit(p, depth));
            let (lc, rc) = changes.split_at(split);
            let left_path = if bit(any_path, depth) {
                flip(any_path, depth)
            } else {
                *any_path
            };
            let right_path = flip(&left_path, depth);
            let l = side(store, depth + 1, &left_path, lc, left)?;
            let r = side(store, depth + 1, &right_path, rc, right)?;
            join(store, depth, &key, (l, &left_path), (r, &right_path))
        }
    }
}

/// A child after the update: changed (with its new form) or unchanged (with its hash).
enum Side {
    Changed(Sub),
    Unchanged(Hash),
}

fn side<S: NodeStore>(
    store: &mut S,
    depth: usize,
    path: &Hash,
    changes: &[(Hash, Option<Hash>)],
    hash: Hash,
) -> anyhow::Result<Side> {
    if changes.is_empty() {
        Ok(Side::Unchanged(hash))
    } else {
        Ok(Side::Changed(update_at(store, depth, path, changes)?))
    }
}

/// Combines two children at `key` (depth `depth`).
fn join<S: NodeStore>(
    store: &mut S,
    depth: usize,
    key: &NodeKey,
    (l, l_path): (Side, &Hash),
    (r, r_path): (Side, &Hash),
) -> anyhow::Result<Sub> {
    // Resolve an unchanged child only when its sibling became empty: then a lone leaf below
    // must move up.
    let resolve = |store: &mut S,
                   side: Side,
                   path: &Hash,
                   other_empty: bool|
     -> anyhow::Result<(Sub, bool)> {
        match side {
            Side::Changed(sub) => Ok((sub, true)),
            Side::Unchanged(hash) if hash == EMPTY => Ok((Sub::Empty, false)),
            Side::Unchanged(hash) if other_empty => {
                let child = node_key(path, depth + 1);
                match store.get_node(&child)? {
                    Some(Node::Leaf { path, value }) => {
                        store.delete_node(&child)?;
                        Ok((Sub::Leaf(path, value), true))
                    }
                    Some(Node::Internal { .. }) => Ok((Sub::Internal(hash), false)),
                    None => {
                        anyhow::bail!("the state tree is missing a node at depth {}", depth + 1)
                    }
                }
            }
            Side::Unchanged(hash) => Ok((Sub::Internal(hash), false)),
        }
    };
    let l_empty =
        matches!(l, Side::Changed(Sub::Empty)) || matches!(l, Side::Unchanged(h) if h == EMPTY);
    let r_empty =
        matches!(r, Side::Changed(Sub::Empty)) || matches!(r, Side::Unchanged(h) if h == EMPTY);
    let (l, l_moved) = resolve(store, l, l_path, r_empty)?;
    let (r, r_moved) = resolve(store, r, r_path, l_empty)?;
    match (l, r) {
        (Sub::Empty, Sub::Empty) => {
            store.delete_node(key)?;
            Ok(Sub::Empty)
        }
        (leaf @ Sub::Leaf(..), Sub::Empty) | (Sub::Empty, leaf @ Sub::Leaf(..)) => {
            store.delete_node(key)?;
            Ok(leaf)
        }
        (l, r) => {
            for (sub, moved, path) in [(l, l_moved, l_path), (r, r_moved, r_path)] {
                if let (Sub::Leaf(p, v), true) = (sub, moved) {
                    store.put_node(
                        &node_key(path, depth + 1),
                        &Node::Leaf { path: p, value: v },
                    )?;
                }
            }
            let node = Node::Internal {
                left: l.hash(),
                right: r.hash(),
            };
            store.put_node(key, &node)?;
            Ok(Sub::Internal(node.hash()))
        }
    }
}

/// The leaves of a subtree that held at most `existing` once `changes` apply, sorted.
fn present(existing: Option<(Hash, Hash)>, changes: &[(Hash, Option<Hash>)]) -> Vec<(Hash, Hash)> {
    let mut out: Vec<(Hash, Hash)> = changes
        .iter()
        .filter_map(|(p, v)| v.map(|v| (*p, v)))
        .collect();
    if let Some((path, value)) = existing {
        if changes.binary_search_by(|(p, _)| p.cmp(&path)).is_err() {
            let at = out.partition_point(|(p, _)| *p < path);
            out.insert(at, (path, value));
        }
    }
    out
}

/// Builds a subtree from scratch out of sorted `leaves`, storing every internal node (and every
/// leaf below the top).
fn build<S: NodeStore>(
    store: &mut S,
    depth: usize,
    leaves: &[(Hash, Hash)],
) -> anyhow::Result<Sub> {
    match leaves {
        [] => Ok(Sub::Empty),
        [(path, value)] => Ok(Sub::Leaf(*path, *value)),
        _ => {
            anyhow::ensure!(depth < 256, "two leaves with one path");
            let split = leaves.partition_point(|(p, _)| !bit(p, depth));
            let (ll, rl) = leaves.split_at(split);
            let l = build(store, depth + 1, ll)?;
            let r = build(store, depth + 1, rl)?;
            let any = leaves[0].0;
            let left_path = if bit(&any, depth) {
                flip(&any, depth)
            } else {
                any
            };
            let right_path = flip(&left_path, depth);
            for (sub, path) in [(l, &left_path), (r, &right_path)] {
                if let Sub::Leaf(p, v) = sub {
                    store.put_node(
                        &node_key(path, depth + 1),
                        &Node::Leaf { path: p, value: v },
                    )?;
                }
            }
            let node = Node::Internal {
                left: l.hash(),
                right: r.hash(),
            };
            store.put_node(&node_key(&any, depth), &node)?;
            Ok(Sub::Internal(node.hash()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn rng(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn incremental_updates_match_a_tree_built_from_scratch() {
        let mut seed = 42u64;
        let mut nodes = MemoryNodes::new();
        let mut state: BTreeMap<Hash, Hash> = BTreeMap::new();
        for round in 0..200 {
            let mut batch: BTreeMap<Hash, Option<Hash>> = BTreeMap::new();
            for _ in 0..(rng(&mut seed) % 12) {
                let key = rng(&mut seed) % 64;
                let path = path_of(&key.to_le_bytes());
                let change = (!rng(&mut seed).is_multiple_of(3))
                    .then(|| value_hash(&rng(&mut seed).to_le_bytes()));
                batch.insert(path, change);
            }
            let changes: Vec<_> = batch.into_iter().collect();
            for (p, v) in &changes {
                match v {
                    Some(v) => state.insert(*p, *v),
                    None => state.remove(p),
                };
            }
            let incremental = update(&mut nodes, &changes).expect("update");
            let scratch = root_of(state.iter().map(|(p, v)| (*p, *v)).collect()).expect("build");
            assert_eq!(incremental, scratch, "round {round} (seed 42)");
            // Every stored node is reachable: the store holds exactly the scratch tree.
            let mut fresh = MemoryNodes::new();
            let all: Vec<_> = state.iter().map(|(p, v)| (*p, Some(*v))).collect();
            update(&mut fresh, &all).expect("build");
            assert_eq!(nodes, fresh, "round {round}: stale nodes left behind");
        }
    }

    #[test]
    fn the_empty_tree_has_the_empty_root_and_one_leaf_is_the_root() {
        let mut nodes = MemoryNodes::new();
        assert_eq!(update(&mut nodes, &[]).expect("empty"), EMPTY);
        let path = path_of(b"k");
        let value = value_hash(b"v");
        let root = update(&mut nodes, &[(path, Some(value))]).expect("one");
        assert_eq!(root, Node::Leaf { path, value }.hash());
        assert_eq!(update(&mut nodes, &[(path, None)]).expect("none"), EMPTY);
        assert!(nodes.is_empty());
    }

    #[test]
    fn node_keys_mask_the_bits_below_the_depth() {
        let path = [0xff; 32];
        let key = node_key(&path, 3);
        assert_eq!(&key[..3], &[0, 3, 0xe0]);
        assert!(key[3..].iter().all(|b| *b == 0));
    }
}
