//! # warden-wasm-lower
//!
//! Rust's standard library for `wasm32-unknown-unknown` is built with the bulk-memory proposal,
//! so every `memcpy`, `memmove` and `memset` becomes `memory.copy` or `memory.fill`, and no
//! target flag removes them from the precompiled library. CosmWasm's VM refuses the proposal.
//! [`lower_bulk_memory`] rewrites a module so that it needs none of it: each `memory.copy` and
//! `memory.fill` becomes a call to a function appended to the module that does the same with
//! loads and stores (32 bytes per iteration, then words, then bytes), with the same bounds trap; the
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

// Locals of both functions: 0 `dst`, 1 `src` (copy) or `value` (fill), 2 `n`.
const DST: u32 = 0;
const SRC: u32 = 1;
const LEN: u32 = 2;

/// Traps unless `local + n` is within the memory (as `memory.copy` and `memory.fill` do).
fn bounds_check(f: &mut Function, local: u32) {
    use Instruction::*;
    for i in [
        LocalGet(local),
        I64ExtendI32U,
        LocalGet(LEN),
        I64ExtendI32U,
        I64Add,
        MemorySize(0),
        I64ExtendI32U,
        I64Const(16),
        I64Shl,
        I64GtU,
        If(BlockType::Empty),
        Unreachable,
        End,
    ] {
        f.instruction(&i);
    }
}

/// `n -= step; dst += step` (and `src += step` when `both`).
fn advance(f: &mut Function, step: i32, both: bool) {
    use Instruction::*;
    let mut locals = vec![DST, LEN];
    if both {
        locals.push(SRC);
    }
    for local in locals {
        f.instruction(&LocalGet(local));
        f.instruction(&I32Const(step));
        f.instruction(&if local == LEN { I32Sub } else { I32Add });
        f.instruction(&LocalSet(local));
    }
}

fn at(offset: u64) -> MemArg {
    MemArg {
        offset,
        align: 0,
        memory_index: 0,
    }
}

/// The units a loop moves per iteration: four words, one word, one byte. Branches cost far
/// more than loads and stores in metered VMs (CosmWasm charges a branch 14 times an operator),
/// so most of a long copy runs four words per branch.
const STEPS: [(i32, &[u64]); 3] = [(32, &[0, 8, 16, 24]), (8, &[0]), (1, &[0])];

/// `while n >= width { body; advance }`.
fn chunk_loop(
    f: &mut Function,
    width: i32,
    body: impl Fn(&mut Function),
    step: impl Fn(&mut Function),
) {
    use Instruction::*;
    for i in [
        Block(BlockType::Empty),
        Loop(BlockType::Empty),
        LocalGet(LEN),
        I32Const(width),
        I32LtU,
        BrIf(1),
    ] {
        f.instruction(&i);
    }
    body(f);
    step(f);
    f.instruction(&Br(0));
    f.instruction(&End);
    f.instruction(&End);
}

/// A load and a store of one unit at `offset` from the addresses on the stack (`dst`, `src`).
fn move_unit(f: &mut Function, width: i32, offset: u64, dst: &[Instruction], src: &[Instruction]) {
    use Instruction::*;
    for i in dst.iter().chain(src) {
        f.instruction(i);
    }
    if width == 1 {
        f.instruction(&I32Load8U(at(offset)));
        f.instruction(&I32Store8(at(offset)));
    } else {
        f.instruction(&I64Load(at(offset)));
        f.instruction(&I64Store(at(offset)));
    }
}

/// `memmove(dst, src, n)`: forward when `dst <= src`, else backward (each unit loaded before
/// anything it overlaps is stored).
fn copy_function() -> Function {
    use Instruction::*;
    let mut f = Function::new([]);
    bounds_check(&mut f, DST);
    bounds_check(&mut f, SRC);
    for i in [LocalGet(DST), LocalGet(SRC), I32LeU, If(BlockType::Empty)] {
        f.instruction(&i);
    }
    // Forward, low offsets first.
    for (width, offsets) in STEPS {
        chunk_loop(
            &mut f,
            width,
            |f| {
                for &offset in offsets {
                    move_unit(f, width, offset, &[LocalGet(DST)], &[LocalGet(SRC)]);
                }
            },
            |f| advance(f, width, true),
        );
    }
    f.instruction(&Else);
    // Backward: the last `n` bytes first, high offsets first.
    for (width, offsets) in STEPS {
        chunk_loop(
            &mut f,
            width,
            |f| {
                for i in [LocalGet(LEN), I32Const(width), I32Sub, LocalSet(LEN)] {
                    f.instruction(&i);
                }
                for &offset in offsets.iter().rev() {
                    move_unit(
                        f,
                        width,
                        offset,
                        &[LocalGet(DST), LocalGet(LEN), I32Add],
                        &[LocalGet(SRC), LocalGet(LEN), I32Add],
                    );
                }
            },
            |_| {},
        );
    }
    f.instruction(&End);
    f.instruction(&End);
    f
}

/// `memset(dst, value, n)`: units of the repeated byte.
fn fill_function() -> Function {
    use Instruction::*;
    // Local 3: the byte repeated over a word.
    let mut f = Function::new([(1, ValType::I64)]);
    bounds_check(&mut f, DST);
    for i in [
        LocalGet(SRC),
        I32Const(0xff),
        I32And,
        I64ExtendI32U,
        I64Const(0x0101_0101_0101_0101),
        I64Mul,
        LocalSet(3),
    ] {
        f.instruction(&i);
    }
    for (width, offsets) in STEPS {
        chunk_loop(
            &mut f,
            width,
            |f| {
                for &offset in offsets {
                    f.instruction(&LocalGet(DST));
                    if width == 1 {
                        f.instruction(&LocalGet(SRC));
                        f.instruction(&I32Store8(at(offset)));
                    } else {
                        f.instruction(&LocalGet(3));
                        f.instruction(&I64Store(at(offset)));
                    }
                }
            },
            |f| advance(f, width, false),
        );
    }
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
