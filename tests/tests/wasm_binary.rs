//! Static checks of the module binaries a chain deploys (`warden_host::wasm::MODULE_WASM`, which
//! verifies through the runtime's `verify` import, and `MODULE_WASM_IN_WASM_VERIFY`, which
//! verifies inside): no floating point anywhere (instructions, function types, locals,
//! globals), imports only from the `warden` host ABI, the documented exports, and a size bound.

use std::collections::BTreeSet;

use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef, ValType};

use warden_host::wasm::{MODULE_WASM, MODULE_WASM_IN_WASM_VERIFY};

/// Both builds, by name.
const BUILDS: [(&str, &[u8]); 2] = [
    ("runtime verify", MODULE_WASM),
    ("in-wasm verify", MODULE_WASM_IN_WASM_VERIFY),
];

/// Runs `check` on each build, naming the build on stderr first.
fn each_build(check: fn(&'static [u8])) {
    for (build, wasm) in BUILDS {
        eprintln!("checking the {build} build ({} bytes)", wasm.len());
        check(wasm);
    }
}

/// The host functions the module may import, all from module `warden`.
const ALLOWED_IMPORTS: &[&str] = &[
    "storage_read",
    "storage_write",
    "storage_remove",
    "block_height",
    "block_time",
    "caller",
    "emit_event",
    "output",
    "abort",
    "verify",
];

/// The exports the ABI requires.
const REQUIRED_EXPORTS: &[&str] = &[
    "memory",
    "warden_alloc",
    "warden_init",
    "warden_execute",
    "warden_query",
    "warden_verify",
];

fn is_float(ty: &ValType) -> bool {
    matches!(ty, ValType::F32 | ValType::F64)
}

fn payloads(wasm: &'static [u8]) -> Vec<Payload<'static>> {
    Parser::new(0)
        .parse_all(wasm)
        .collect::<Result<Vec<_>, _>>()
        .expect("the module binary parses")
}

#[test]
fn module_has_no_floating_point_instruction() {
    each_build(module_has_no_floating_point_instruction_in);
}

fn module_has_no_floating_point_instruction_in(wasm: &'static [u8]) {
    let mut functions = 0usize;
    let mut operators = 0usize;
    let mut floats: Vec<String> = Vec::new();
    for payload in payloads(wasm) {
        if let Payload::CodeSectionEntry(body) = payload {
            functions += 1;
            let mut reader = body.get_operators_reader().expect("operators");
            while !reader.eof() {
                let op = reader.read().expect("an operator");
                operators += 1;
                // Covers loads, stores, constants, arithmetic, comparisons, conversions,
                // truncations, promotions, demotions and reinterpretations of either width.
                let name = format!("{op:?}");
                let opcode = name.split([' ', '{', '(']).next().unwrap_or("");
                if opcode.contains("F32") || opcode.contains("F64") {
                    floats.push(format!("function {functions}: {name}"));
                }
            }
        }
    }
    assert!(
        functions > 0 && operators > 0,
        "no code found in the module"
    );
    assert!(
        floats.is_empty(),
        "{} floating-point instructions, first: {:?}",
        floats.len(),
        &floats[..floats.len().min(10)]
    );
}

#[test]
fn module_has_no_floating_point_type_local_or_global() {
    each_build(module_has_no_floating_point_type_local_or_global_in);
}

fn module_has_no_floating_point_type_local_or_global_in(wasm: &'static [u8]) {
    let mut found: Vec<String> = Vec::new();
    for payload in payloads(wasm) {
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for ty in group.expect("a type").into_types() {
                        if let CompositeInnerType::Func(f) = &ty.composite_type.inner {
                            if f.params().iter().chain(f.results()).any(is_float) {
                                found.push(format!("function type {f}"));
                            }
                        }
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    let global = global.expect("a global");
                    if is_float(&global.ty.content_type) {
                        found.push(format!("global {:?}", global.ty));
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut locals = body.get_locals_reader().expect("locals");
                for _ in 0..locals.get_count() {
                    let (_, ty) = locals.read().expect("a local");
                    if is_float(&ty) {
                        found.push(format!("local of type {ty:?}"));
                    }
                }
            }
            _ => {}
        }
    }
    assert!(found.is_empty(), "floating point in the module: {found:?}");
}

#[test]
fn imports_are_only_warden_host_functions() {
    each_build(imports_are_only_warden_host_functions_in);
}

fn imports_are_only_warden_host_functions_in(wasm: &'static [u8]) {
    let mut imports = Vec::new();
    for payload in payloads(wasm) {
        if let Payload::ImportSection(reader) = payload {
            for import in reader {
                let import = import.expect("an import");
                imports.push((import.module.to_owned(), import.name.to_owned(), import.ty));
            }
        }
    }
    for (module, name, ty) in &imports {
        assert_eq!(
            module, "warden",
            "import {module}::{name} from a foreign module"
        );
        assert!(
            ALLOWED_IMPORTS.contains(&name.as_str()),
            "import warden::{name} is not part of the host ABI"
        );
        assert!(
            matches!(ty, TypeRef::Func(_)),
            "import warden::{name} is not a function: {ty:?}"
        );
    }
    let names: BTreeSet<&str> = imports.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(
        names.len(),
        imports.len(),
        "an import appears twice: {imports:?}"
    );
}

#[test]
fn exports_include_memory_and_every_entry_point() {
    each_build(exports_include_memory_and_every_entry_point_in);
}

fn exports_include_memory_and_every_entry_point_in(wasm: &'static [u8]) {
    let mut exports = Vec::new();
    for payload in payloads(wasm) {
        if let Payload::ExportSection(reader) = payload {
            for export in reader {
                let export = export.expect("an export");
                exports.push((export.name.to_owned(), export.kind));
            }
        }
    }
    for required in REQUIRED_EXPORTS {
        let kind = exports
            .iter()
            .find(|(name, _)| name == required)
            .map(|(_, kind)| *kind)
            .unwrap_or_else(|| panic!("the module does not export {required}: {exports:?}"));
        let expected = if *required == "memory" {
            ExternalKind::Memory
        } else {
            ExternalKind::Func
        };
        assert_eq!(kind, expected, "export {required} has the wrong kind");
    }
}

#[test]
fn module_binary_is_under_200_kib() {
    // What Warden's chain runs; the in-wasm-verify build, for runtimes without a `verify`
    // import, carries ed25519's arithmetic besides and has its own bound below.
    assert!(
        MODULE_WASM.len() < 200 * 1024,
        "the module is {} bytes, over 200 KiB",
        MODULE_WASM.len()
    );
}

#[test]
fn in_wasm_verify_module_binary_is_under_256_kib() {
    assert!(
        MODULE_WASM_IN_WASM_VERIFY.len() < 256 * 1024,
        "the in-wasm-verify module is {} bytes, over 256 KiB",
        MODULE_WASM_IN_WASM_VERIFY.len()
    );
}

#[test]
fn module_binary_validates_without_simd_or_threads() {
    each_build(module_binary_validates_without_simd_or_threads_in);
}

fn module_binary_validates_without_simd_or_threads_in(wasm: &'static [u8]) {
    let features = wasmparser::WasmFeatures::default()
        & !(wasmparser::WasmFeatures::SIMD
            | wasmparser::WasmFeatures::RELAXED_SIMD
            | wasmparser::WasmFeatures::THREADS
            | wasmparser::WasmFeatures::MULTI_MEMORY);
    wasmparser::Validator::new_with_features(features)
        .validate_all(wasm)
        .expect("the module validates under the deterministic feature set");
}

fn imports(wasm: &'static [u8]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for payload in payloads(wasm) {
        if let Payload::ImportSection(reader) = payload {
            for import in reader {
                names.insert(import.expect("an import").name.to_owned());
            }
        }
    }
    names
}

#[test]
fn only_the_runtime_verify_build_imports_verify() {
    assert!(
        imports(MODULE_WASM).contains("verify"),
        "the default build does not import verify"
    );
    assert!(
        !imports(MODULE_WASM_IN_WASM_VERIFY).contains("verify"),
        "the in-wasm build imports verify"
    );
    assert!(
        MODULE_WASM.len() < MODULE_WASM_IN_WASM_VERIFY.len(),
        "the runtime-verify build ({} bytes) carries the in-wasm verifier ({} bytes)",
        MODULE_WASM.len(),
        MODULE_WASM_IN_WASM_VERIFY.len()
    );
}
