//! # warden-wasm-lower
//!
//! Rust's standard library for `wasm32-unknown-unknown` is built with the bulk-memory proposal,
//! so every `memcpy`, `memmove` and `memset` becomes `memory.copy` or `memory.fill`, and no
//! target flag removes them from the precompiled library. CosmWasm's VM refuses the proposal.
//! [`lower_bulk_memory`] rewrites a module so that it needs none of it: each `memory.copy` and
//! `memory.fill` becomes a call to a function appended to the module that does the same with
//! loads and stores (32 bytes per iteration, short lengths in a few overlapping words), with the
//! same bounds trap; the
//! data-count section and the `target_features` custom section are dropped. Everything else is
//! re-encoded unchanged (function indices stay: the two functions come after all others).
//!
//! A module that uses the rest of the proposal (`memory.init`, `data.drop`, table bulk
//! operations) or more than one memory is refused: nothing emitted by Rust for Warden does.

use wasm_encoder::reencode::{utils, Reencode};
use wasm_encoder::{
    BlockType, CodeSection, Function, FunctionSection, Instruction, MemArg, Module, RawSection,
    TypeSection, ValType,
};
use wasmparser::{Operator, Parser, Payload, TypeRef};

/// Why a module could not be lowered.
#[derive(Debug)]
pub struct LowerError(String);

impl std::fmt::Display for LowerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LowerError {}

impl From<wasmparser::BinaryReaderError> for LowerError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        LowerError(format!("invalid wasm: {e}"))
    }
}

impl<E: std::fmt::Display> From<wasm_encoder::reencode::Error<E>> for LowerError {
    fn from(e: wasm_encoder::reencode::Error<E>) -> Self {
        LowerError(format!("cannot re-encode: {e}"))
    }
}

/// The module with `memory.copy` and `memory.fill` replaced by calls to plain functions.
pub fn lower_bulk_memory(wasm: &[u8]) -> Result<Vec<u8>, LowerError> {
    // First pass: where the two new functions and their type go.
    let (mut types, mut functions, mut memories) = (0u32, 0u32, 0u32);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(r) => {
                for group in r {
                    types += group?.types().len() as u32;
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    match import?.ty {
                        TypeRef::Func(_) => functions += 1,
                        TypeRef::Memory(_) => memories += 1,
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(r) => functions += r.count(),
            Payload::MemorySection(r) => memories += r.count(),
            _ => {}
        }
    }
    if memories > 1 {
        return Err(LowerError(format!(
            "{memories} memories; only one is supported"
        )));
    }
    let mut lower = Lower {
        copy: functions,
        fill: functions + 1,
    };
    let helper_type = types;

    let mut out = Module::new();
    let mut saw_types = false;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        let raw = payload.as_section();
        match payload {
            Payload::Version { .. } | Payload::End(_) => {}
            Payload::TypeSection(r) => {
                saw_types = true;
                let mut section = TypeSection::new();
                lower.parse_type_section(&mut section, r)?;
                section
                    .ty()
                    .function([ValType::I32, ValType::I32, ValType::I32], []);
                out.section(&section);
            }
            Payload::FunctionSection(r) => {
                if !saw_types {
                    return Err(LowerError("a function section without types".into()));
                }
                let mut section = FunctionSection::new();
                lower.parse_function_section(&mut section, r)?;
                section.function(helper_type);
                section.function(helper_type);
                out.section(&section);
            }
            Payload::CodeSectionStart { range, .. } => {
                let reader = wasmparser::CodeSectionReader::new(wasmparser::BinaryReader::new(
                    &wasm[range.clone()],
                    range.start,
                ))?;
                let mut section = CodeSection::new();
                lower.parse_code_section(&mut section, reader)?;
                section.function(&copy_function());
                section.function(&fill_function());
                out.section(&section);
            }
            // Re-encoded with their section above.
            Payload::CodeSectionEntry(_) => {}
            Payload::DataCountSection { .. } => {}
            Payload::CustomSection(c) if c.name() == "target_features" => {}
            _ => {
                if let Some((id, range)) = raw {
                    out.section(&RawSection {
                        id,
                        data: &wasm[range],
                    });
                }
            }
        }
    }
    Ok(out.finish())
}

/// The re-encoder: bulk-memory instructions become calls.
struct Lower {
    copy: u32,
    fill: u32,
}

impl Reencode for Lower {
    type Error = String;

    fn instruction<'a>(
        &mut self,
        op: Operator<'a>,
    ) -> Result<Instruction<'a>, wasm_encoder::reencode::Error<String>> {
        match op {
            Operator::MemoryCopy { .. } => Ok(Instruction::Call(self.copy)),
            Operator::MemoryFill { .. } => Ok(Instruction::Call(self.fill)),
            Operator::MemoryInit { .. }
            | Operator::DataDrop { .. }
            | Operator::TableCopy { .. }
            | Operator::TableInit { .. }
            | Operator::ElemDrop { .. } => Err(wasm_encoder::reencode::Error::UserError(format!(
                "cannot lower {op:?}"
            ))),
            op => utils::instruction(self, op),
        }
    }
}

// Parameters of both functions: 0 `dst`, 1 `src` (copy) or `value` (fill), 2 `n`.
const DST: u32 = 0;
const SRC: u32 = 1;
const LEN: u32 = 2;
// Further locals: 3 an index (i32), 4..=7 the words of a chunk, 8..=11 the words kept aside
// (the last chunk of a forward copy, the first of a backward one), 12 the fill pattern (i64).
const INDEX: u32 = 3;
const WORD: u32 = 4;
const KEPT: u32 = 8;
const PATTERN: u32 = 12;

/// The functions' locals after their three parameters.
fn locals() -> [(u32, ValType); 3] {
    [(1, ValType::I32), (8, ValType::I64), (1, ValType::I64)]
}

fn emit(f: &mut Function, instructions: &[Instruction]) {
    for i in instructions {
        f.instruction(i);
    }
}

fn at(offset: u64) -> MemArg {
    MemArg {
        offset,
        align: 0,
        memory_index: 0,
    }
}

/// `address + n > memory size in bytes`, as an i32 on the stack (64-bit arithmetic: no wrap).
fn past_the_end(f: &mut Function, address: u32) {
    use Instruction::*;
    emit(
        f,
        &[
            LocalGet(address),
            I64ExtendI32U,
            LocalGet(LEN),
            I64ExtendI32U,
            I64Add,
            MemorySize(0),
            I64ExtendI32U,
            I64Const(16),
            I64Shl,
            I64GtU,
        ],
    );
}

/// Traps unless `[address, address + n)` is within the memory for every address given (as
/// `memory.copy` and `memory.fill` do, also when `n` is 0).
fn bounds_check(f: &mut Function, addresses: &[u32]) {
    use Instruction::*;
    for (i, &address) in addresses.iter().enumerate() {
        past_the_end(f, address);
        if i > 0 {
            f.instruction(&I32Or);
        }
    }
    emit(f, &[If(BlockType::Empty), Unreachable, End]);
}

/// Pushes `base + n - back` (`back` 0: `base + index`).
fn address(f: &mut Function, base: u32, back: Option<i32>) {
    use Instruction::*;
    f.instruction(&LocalGet(base));
    match back {
        Some(back) => emit(f, &[LocalGet(LEN), I32Add, I32Const(back), I32Sub]),
        None => emit(f, &[LocalGet(INDEX), I32Add]),
    }
}

/// A load or store of `width` bytes (8, 4 or 1) through an i64 local.
fn load(width: u32, offset: u64) -> Instruction<'static> {
    match width {
        8 => Instruction::I64Load(at(offset)),
        4 => Instruction::I64Load32U(at(offset)),
        _ => Instruction::I64Load8U(at(offset)),
    }
}

fn store(width: u32, offset: u64) -> Instruction<'static> {
    match width {
        8 => Instruction::I64Store(at(offset)),
        4 => Instruction::I64Store32(at(offset)),
        _ => Instruction::I64Store8(at(offset)),
    }
}

/// Where the units of a short length class go: `(width, back)` pairs, each unit at
/// `n - back` (or at 0, or at `n / 2`, see [`Unit`]). The units of a class cover every byte of
/// any length in it, overlapping where the length is not a multiple of the width.
#[derive(Clone, Copy)]
enum Unit {
    Start(u64),
    End(i32),
    Middle,
}

/// The short classes: lengths from the first number up, with their units. Lengths of 32 and
/// more run a loop of 32-byte chunks.
const CLASSES: [(i32, u32, &[Unit]); 4] = [
    (
        16,
        8,
        &[Unit::Start(0), Unit::Start(8), Unit::End(16), Unit::End(8)],
    ),
    (8, 8, &[Unit::Start(0), Unit::End(8)]),
    (4, 4, &[Unit::Start(0), Unit::End(4)]),
    (1, 1, &[Unit::Start(0), Unit::Middle, Unit::End(1)]),
];

/// Pushes the address of `unit` from `base`, and the memory offset to use with it.
fn unit_address(f: &mut Function, base: u32, unit: Unit) -> u64 {
    use Instruction::*;
    match unit {
        Unit::Start(offset) => {
            f.instruction(&LocalGet(base));
            offset
        }
        Unit::End(back) => {
            address(f, base, Some(back));
            0
        }
        Unit::Middle => {
            emit(
                f,
                &[LocalGet(base), LocalGet(LEN), I32Const(1), I32ShrU, I32Add],
            );
            0
        }
    }
}

/// Dispatches on `n`: `long` for 32 and more, `short(class)` for each short class, nothing for
/// 0. Each case ends by leaving the function's outer block, so one length runs a handful of
/// branches whatever its size (CosmWasm charges a branch 14 times an operator).
fn by_length(f: &mut Function, long: impl Fn(&mut Function), short: impl Fn(&mut Function, usize)) {
    use Instruction::*;
    // block $done, then one block per class boundary: 32, 16, 8, 4, 1.
    for _ in 0..=CLASSES.len() + 1 {
        f.instruction(&Block(BlockType::Empty));
    }
    let mut depth = CLASSES.len() as u32 + 1;
    emit(f, &[LocalGet(LEN), I32Const(32), I32LtU, BrIf(0)]);
    long(f);
    f.instruction(&Br(depth));
    f.instruction(&End);
    for (class, &(min, _, _)) in CLASSES.iter().enumerate() {
        depth -= 1;
        emit(f, &[LocalGet(LEN), I32Const(min), I32LtU, BrIf(0)]);
        short(f, class);
        f.instruction(&Br(depth));
        f.instruction(&End);
    }
    f.instruction(&End);
}

/// A short copy: every unit loaded before any is stored, so overlaps need no direction.
fn short_copy(f: &mut Function, class: usize) {
    use Instruction::*;
    let (_, width, units) = CLASSES[class];
    for (k, &unit) in units.iter().enumerate() {
        let offset = unit_address(f, SRC, unit);
        emit(f, &[load(width, offset), LocalSet(WORD + k as u32)]);
    }
    for (k, &unit) in units.iter().enumerate() {
        let offset = unit_address(f, DST, unit);
        emit(f, &[LocalGet(WORD + k as u32), store(width, offset)]);
    }
}

/// Moves the 32-byte chunk at `index`: four words loaded, then stored.
fn move_chunk(f: &mut Function) {
    use Instruction::*;
    for k in 0..4 {
        address(f, SRC, None);
        emit(f, &[I64Load(at(8 * k)), LocalSet(WORD + k as u32)]);
    }
    for k in 0..4 {
        address(f, DST, None);
        emit(f, &[LocalGet(WORD + k as u32), I64Store(at(8 * k))]);
    }
}

/// Ends a forward loop over chunks: `index += 32`, and again while a whole chunk fits.
fn next_chunk_forward(f: &mut Function) {
    use Instruction::*;
    emit(
        f,
        &[
            LocalGet(INDEX),
            I32Const(32),
            I32Add,
            LocalTee(INDEX),
            I32Const(32),
            I32Add,
            LocalGet(LEN),
            I32LeU,
            BrIf(0),
            End,
        ],
    );
}

/// Loads the 32 bytes at `src + n - back` (`None`: at `src`) into the kept words, or stores them
/// at the same place from `dst`.
fn keep(f: &mut Function, back: Option<i32>, is_store: bool) {
    use Instruction::*;
    for k in 0..4u32 {
        let base = if is_store { DST } else { SRC };
        match back {
            Some(back) => address(f, base, Some(back)),
            None => {
                f.instruction(&LocalGet(base));
            }
        }
        if is_store {
            emit(f, &[LocalGet(KEPT + k), I64Store(at(8 * u64::from(k)))]);
        } else {
            emit(f, &[I64Load(at(8 * u64::from(k))), LocalSet(KEPT + k)]);
        }
    }
}

/// A copy of 32 bytes or more. Forward when `dst <= src`: chunks from the start while a whole
/// one fits, then the last 32 bytes, loaded before anything was stored. Backward otherwise:
/// chunks from the end, then the first 32 bytes, likewise loaded first. A chunk is loaded
/// whole before it is stored, and no store reaches bytes a later chunk still has to load.
fn long_copy(f: &mut Function) {
    use Instruction::*;
    emit(
        f,
        &[LocalGet(DST), LocalGet(SRC), I32LeU, If(BlockType::Empty)],
    );
    keep(f, Some(32), false);
    emit(f, &[I32Const(0), LocalSet(INDEX), Loop(BlockType::Empty)]);
    move_chunk(f);
    next_chunk_forward(f);
    keep(f, Some(32), true);
    f.instruction(&Else);
    keep(f, None, false);
    emit(f, &[LocalGet(LEN), LocalSet(INDEX), Loop(BlockType::Empty)]);
    emit(f, &[LocalGet(INDEX), I32Const(32), I32Sub, LocalSet(INDEX)]);
    move_chunk(f);
    emit(f, &[LocalGet(INDEX), I32Const(32), I32GeU, BrIf(0), End]);
    keep(f, None, true);
    f.instruction(&End);
}

/// `memmove(dst, src, n)`.
fn copy_function() -> Function {
    let mut f = Function::new(locals());
    bounds_check(&mut f, &[DST, SRC]);
    by_length(&mut f, long_copy, short_copy);
    f.instruction(&Instruction::End);
    f
}

/// `memset(dst, value, n)`: stores of the value's low byte repeated over a word, in the same
/// length classes as the copy.
fn fill_function() -> Function {
    use Instruction::*;
    let mut f = Function::new(locals());
    bounds_check(&mut f, &[DST]);
    emit(
        &mut f,
        &[
            LocalGet(SRC),
            I32Const(0xff),
            I32And,
            I64ExtendI32U,
            I64Const(0x0101_0101_0101_0101),
            I64Mul,
            LocalSet(PATTERN),
        ],
    );
    by_length(
        &mut f,
        |f| {
            emit(f, &[I32Const(0), LocalSet(INDEX), Loop(BlockType::Empty)]);
            for k in 0..4 {
                address(f, DST, None);
                emit(f, &[LocalGet(PATTERN), I64Store(at(8 * k))]);
            }
            next_chunk_forward(f);
            for k in 0..4 {
                address(f, DST, Some(32));
                emit(f, &[LocalGet(PATTERN), I64Store(at(8 * k))]);
            }
        },
        |f, class| {
            let (_, width, units) = CLASSES[class];
            for &unit in units {
                let offset = unit_address(f, DST, unit);
                emit(f, &[LocalGet(PATTERN), store(width, offset)]);
            }
        },
    );
    f.instruction(&End);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{ExportKind, ExportSection, MemorySection, MemoryType, TypeSection};
    use wasmtime::{Engine, Instance, Store};

    /// A module exporting `copy(dst, src, n)`, `fill(dst, value, n)` and its memory (one page).
    fn bulk_module() -> Vec<u8> {
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types
            .ty()
            .function([ValType::I32, ValType::I32, ValType::I32], []);
        m.section(&types);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        funcs.function(0);
        m.section(&funcs);
        let mut mem = MemorySection::new();
        mem.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        m.section(&mem);
        let mut exports = ExportSection::new();
        exports.export("copy", ExportKind::Func, 0);
        exports.export("fill", ExportKind::Func, 1);
        exports.export("memory", ExportKind::Memory, 0);
        m.section(&exports);
        let mut code = CodeSection::new();
        for op in [
            Instruction::MemoryCopy {
                src_mem: 0,
                dst_mem: 0,
            },
            Instruction::MemoryFill(0),
        ] {
            let mut f = Function::new([]);
            for i in [
                Instruction::LocalGet(0),
                Instruction::LocalGet(1),
                Instruction::LocalGet(2),
                op,
                Instruction::End,
            ] {
                f.instruction(&i);
            }
            code.function(&f);
        }
        m.section(&code);
        m.finish()
    }

    /// Runs `calls` (function, arguments) on a fresh instance: the memory's first 256 bytes after
    /// each call (seeded with 0, 1, 2, ...), or `None` where the call trapped.
    fn run(wasm: &[u8], calls: &[(&str, [i32; 3])]) -> Vec<Option<Vec<u8>>> {
        let engine = Engine::default();
        let module = wasmtime::Module::new(&engine, wasm).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        let seed: Vec<u8> = (0..=255).collect();
        memory.write(&mut store, 0, &seed).unwrap();
        calls
            .iter()
            .map(|(name, [a, b, c])| {
                let f = instance
                    .get_typed_func::<(i32, i32, i32), ()>(&mut store, name)
                    .unwrap();
                f.call(&mut store, (*a, *b, *c)).ok()?;
                Some(memory.data(&store)[..256].to_vec())
            })
            .collect()
    }

    #[test]
    fn lowered_copy_and_fill_write_what_the_bulk_instructions_write() {
        let original = bulk_module();
        let lowered = lower_bulk_memory(&original).unwrap();
        let has_bulk = |wasm: &[u8]| {
            Parser::new(0).parse_all(wasm).any(|p| match p.unwrap() {
                Payload::CodeSectionEntry(body) => {
                    body.get_operators_reader().unwrap().into_iter().any(|op| {
                        matches!(
                            op.unwrap(),
                            Operator::MemoryCopy { .. } | Operator::MemoryFill { .. }
                        )
                    })
                }
                _ => false,
            })
        };
        assert!(has_bulk(&original));
        assert!(!has_bulk(&lowered));
        let calls: &[(&str, [i32; 3])] = &[
            ("copy", [100, 3, 37]),   // forward, disjoint
            ("copy", [130, 1, 101]),  // forward, long: every unit size
            ("copy", [9, 2, 117]),    // forward, long, overlapping
            ("copy", [21, 3, 150]),   // backward, long, overlapping
            ("fill", [3, 0x5a, 77]),  // long: every unit size
            ("copy", [10, 13, 29]),   // forward, overlapping
            ("copy", [40, 33, 45]),   // backward, overlapping
            ("copy", [7, 7, 9]),      // onto itself
            ("copy", [200, 1, 0]),    // nothing
            ("fill", [5, 0x1ab, 21]), // the low byte only
            ("fill", [64, 7, 3]),
            ("copy", [65_530, 0, 7]), // past the end: traps
            ("fill", [65_536, 0, 1]), // past the end: traps
            ("copy", [0, 65_536, 0]), // at the end, empty: allowed
            ("fill", [65_537, 0, 0]), // beyond the end, empty: traps
        ];
        let expected = run(&original, calls);
        assert_eq!(run(&lowered, calls), expected);
        assert!(expected[11].is_none() && expected[12].is_none() && expected[14].is_none());
        assert!(expected[13].is_some());
    }

    #[test]
    fn every_length_and_overlap_copies_and_fills_as_the_bulk_instructions_do() {
        let original = bulk_module();
        let lowered = lower_bulk_memory(&original).unwrap();
        let mut calls = Vec::new();
        for n in 0..=100 {
            // Disjoint, overlapping forward and backward by less than a word and by more than a
            // chunk, and onto itself.
            for (dst, src) in [(120, 2), (10, 13), (13, 10), (40, 1), (1, 40), (7, 7)] {
                calls.push(("copy", [dst, src, n]));
            }
            calls.push(("fill", [3 + n % 5, 0x100 + n, n]));
        }
        assert_eq!(run(&lowered, &calls), run(&original, &calls));
    }

    #[test]
    fn bulk_instructions_that_cannot_be_lowered_are_refused() {
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        m.section(&types);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        m.section(&funcs);
        let mut code = CodeSection::new();
        let mut f = Function::new([]);
        f.instruction(&Instruction::ElemDrop(0));
        f.instruction(&Instruction::End);
        code.function(&f);
        m.section(&code);
        let err = lower_bulk_memory(&m.finish()).unwrap_err();
        assert!(err.to_string().contains("cannot lower"), "{err}");
    }

    #[test]
    fn a_module_that_is_not_wasm_is_refused() {
        assert!(lower_bulk_memory(b"not wasm").is_err());
    }
}
