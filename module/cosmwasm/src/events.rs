//! Module events as CosmWasm events: type `warden_<variant>`, one attribute per field.
//!
//! Values are plain text: numbers in decimal, keys and hashes in hex, enum values by their
//! variant's name, an absent optional value as no attribute. A nested record (an offence in
//! `warden_evidence_accepted`, a proposal in `warden_slashing_proposed`) is flattened into its
//! own fields (`operator`, `epoch`, `view`, `class`, ...), prefixed with the outer field's name
//! (`offence.operator`) only where a name would repeat.
//!
//! One serializer walks an event and hands each attribute to a [`Sink`]: [`Events`] builds
//! `cosmwasm_std` events (for `Response` and for tests), [`ResponseJson`] writes the response's
//! JSON directly. The VM meters every operation, and this JSON costs a fraction of building the
//! events and serializing the `Response`: no string per attribute, values that cannot need
//! escaping (numbers, names) copied as they are, and the others scanned eight bytes at a time.

use cosmwasm_std::{to_json_string, Event as CosmWasmEvent, StdError};
use serde::ser::{
    self, Impossible, Serialize, SerializeSeq, SerializeStruct, SerializeStructVariant,
    SerializeTuple, SerializeTupleStruct, Serializer,
};
use warden_module::codec::decode;
use warden_module::msg::Event;

/// Where the attributes of events go.
pub trait Sink {
    /// Starts an event of type `warden_<variant in snake case>`.
    fn event(&mut self, variant: &str);
    /// Adds an attribute to the current event: key `outer.key`, or `key` if `outer` is `None`.
    /// `text` says whether `value` may hold characters that JSON escapes.
    fn attribute(&mut self, outer: Option<&str>, key: &str, value: &str, text: bool);
}

/// Collects `cosmwasm_std` events.
#[derive(Default)]
pub struct Events(pub Vec<CosmWasmEvent>);

impl Sink for Events {
    fn event(&mut self, variant: &str) {
        let mut ty = Vec::with_capacity(b"warden".len() + 2 * variant.len());
        snake_type(&mut ty, variant);
        // SAFETY: `snake_type` only inserts or changes ASCII bytes of valid UTF-8.
        self.0.push(CosmWasmEvent::new(unsafe {
            String::from_utf8_unchecked(ty)
        }));
    }

    fn attribute(&mut self, outer: Option<&str>, key: &str, value: &str, _: bool) {
        let key = match outer {
            Some(outer) => format!("{outer}.{key}"),
            None => key.to_string(),
        };
        if let Some(event) = self.0.last_mut() {
            event.attributes.push(cosmwasm_std::Attribute {
                key,
                value: value.to_string(),
            });
        }
    }
}

/// Writes `{"ok":{..., "events":[...], ...}}`, the JSON of a successful
/// `ContractResult<Response>` with no messages, attributes or data, byte for byte as
/// `cosmwasm_std::to_json_vec` writes it.
pub struct ResponseJson {
    out: Vec<u8>,
    events: usize,
    attributes: usize,
}

impl Default for ResponseJson {
    fn default() -> Self {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(br#"{"ok":{"messages":[],"attributes":[],"events":["#);
        ResponseJson {
            out,
            events: 0,
            attributes: 0,
        }
    }
}

impl ResponseJson {
    /// The finished JSON.
    pub fn finish(mut self) -> Vec<u8> {
        if self.events > 0 {
            self.out.extend_from_slice(b"]}");
        }
        self.out.extend_from_slice(br#"],"data":null}}"#);
        self.out
    }
}

impl Sink for ResponseJson {
    fn event(&mut self, variant: &str) {
        let out = &mut self.out;
        if self.events > 0 {
            out.extend_from_slice(b"]},");
        }
        out.extend_from_slice(br#"{"type":""#);
        snake_type(out, variant);
        out.extend_from_slice(br#"","attributes":["#);
        self.events += 1;
        self.attributes = 0;
    }

    fn attribute(&mut self, outer: Option<&str>, key: &str, value: &str, text: bool) {
        let out = &mut self.out;
        if self.attributes > 0 {
            out.push(b',');
        }
        self.attributes += 1;
        // Keys are field names: Rust identifiers, nothing to escape.
        out.extend_from_slice(br#"{"key":""#);
        if let Some(outer) = outer {
            out.extend_from_slice(outer.as_bytes());
            out.push(b'.');
        }
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(br#"","value":""#);
        if text {
            escape_into(out, value.as_bytes());
        } else {
            out.extend_from_slice(value.as_bytes());
        }
        out.extend_from_slice(br#""}"#);
    }
}

/// Appends `bytes` as the inside of a JSON string, escaped as `serde_json` escapes: `"` and
/// `\` with a backslash, `\b \f \n \r \t` by name, other control characters as `\u00XX`.
/// Eight bytes at a time: a word with none of those is copied whole.
pub fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    /// Whether some byte of `w` is below 0x20, `"` or `\`: `(x - 0x01..) & !x & 0x80..` is
    /// not zero exactly when some byte of `x` is zero (and `x - n` for "below `n`").
    fn special(w: u64) -> bool {
        let below = w.wrapping_sub(ONES * 0x20) & !w;
        let q = w ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q;
        let s = w ^ (ONES * u64::from(b'\\'));
        let slash = s.wrapping_sub(ONES) & !s;
        (below | quote | slash) & HIGH != 0
    }
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().unwrap_or_default());
        if special(w) {
            word.iter().for_each(|&b| escape_byte(out, b));
        } else {
            out.extend_from_slice(word);
        }
    }
    words.remainder().iter().for_each(|&b| escape_byte(out, b));
}

fn escape_byte(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0..=0x1f => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 15)],
        ]),
        _ => out.push(b),
    }
}

/// The CosmWasm event of a borsh-encoded module [`Event`].
pub fn module_event(bytes: &[u8]) -> Result<CosmWasmEvent, StdError> {
    let mut events = Events::default();
    write_event(&mut events, bytes)?;
    events
        .0
        .pop()
        .ok_or_else(|| StdError::msg("module event has no CosmWasm form"))
}

/// Hands the borsh-encoded module [`Event`] `bytes` to `sink`.
pub fn write_event<S: Sink>(sink: &mut S, bytes: &[u8]) -> Result<(), StdError> {
    let event: Event = decode(bytes, bytes.len())
        .map_err(|e| StdError::msg(format!("module event does not decode: {e:?}")))?;
    event
        .serialize(EventSerializer(sink))
        .map_err(|e| StdError::msg(format!("module event {}: {}", event_name(&event), e.0)))
}

fn event_name(event: &Event) -> String {
    format!("{event:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Appends `warden_evidence_accepted` for `EvidenceAccepted`.
fn snake_type(out: &mut Vec<u8>, variant: &str) {
    out.extend_from_slice(b"warden");
    for &b in variant.as_bytes() {
        if b.is_ascii_uppercase() {
            out.push(b'_');
            out.push(b.to_ascii_lowercase());
        } else {
            out.push(b);
        }
    }
}

/// `n` in decimal, in `digits`.
fn decimal(digits: &mut [u8; 20], mut n: u64) -> &str {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // SAFETY: ASCII digits only.
    unsafe { core::str::from_utf8_unchecked(&digits[at..]) }
}

/// Why an event has no CosmWasm form (never, for the module's events: each is a unit or a
/// struct variant of plain values and records).
#[derive(Debug)]
pub struct Unsupported(String);

impl core::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: core::fmt::Display>(msg: T) -> Self {
        Unsupported(msg.to_string())
    }
}

/// One event's attributes on their way to the sink, with the field names used so far.
struct Writer<'s, S> {
    sink: &'s mut S,
    /// The unprefixed keys so far (the fields of one variant have distinct names).
    keys: Vec<&'static str>,
}

impl<S: Sink> Writer<'_, S> {
    /// Adds `key = value`; a field of a record `outer` as `outer.key` if `key` is already there.
    fn add(&mut self, outer: Option<&'static str>, key: &'static str, value: &str, text: bool) {
        let outer = match outer {
            Some(outer) if self.keys.contains(&key) => Some(outer),
            _ => {
                self.keys.push(key);
                None
            }
        };
        self.sink.attribute(outer, key, value, text);
    }
}

/// Writes one field's value: a plain value as one attribute, a record as its fields.
struct Field<'w, 's, S> {
    writer: &'w mut Writer<'s, S>,
    outer: Option<&'static str>,
    key: &'static str,
}

impl<S: Sink> Field<'_, '_, S> {
    /// A value with nothing JSON escapes (numbers, names).
    fn plain(self, value: &str) -> Result<(), Unsupported> {
        self.writer.add(self.outer, self.key, value, false);
        Ok(())
    }

    /// Any text.
    fn text(self, value: &str) -> Result<(), Unsupported> {
        self.writer.add(self.outer, self.key, value, true);
        Ok(())
    }
}

/// A record's fields, added to the event it is flattened into.
struct Record<'w, 's, S> {
    writer: &'w mut Writer<'s, S>,
    outer: &'static str,
}

impl<S: Sink> SerializeStruct for Record<'_, '_, S> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(Field {
            writer: self.writer,
            outer: Some(self.outer),
            key,
        })
    }

    fn end(self) -> Result<(), Unsupported> {
        Ok(())
    }
}

/// A sequence or tuple as one attribute: its JSON array.
struct List<'w, 's, S> {
    field: Field<'w, 's, S>,
    items: Vec<String>,
}

impl<S: Sink> List<'_, '_, S> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.items
            .push(to_json_string(value).map_err(|e| Unsupported(e.to_string()))?);
        Ok(())
    }

    fn finish(self) -> Result<(), Unsupported> {
        let json = format!("[{}]", self.items.join(","));
        self.field.text(&json)
    }
}

/// `List` collects the elements of each of serde's list-like shapes the same way.
macro_rules! list {
    ($($shape:ident::$element:ident;)*) => {
        $(impl<S: Sink> $shape for List<'_, '_, S> {
            type Ok = ();
            type Error = Unsupported;
            fn $element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
                self.push(value)
            }
            fn end(self) -> Result<(), Unsupported> {
                self.finish()
            }
        })*
    };
}

list! {
    SerializeSeq::serialize_element;
    SerializeTuple::serialize_element;
    SerializeTupleStruct::serialize_field;
}

macro_rules! unsigned {
    ($($name:ident($ty:ty);)*) => {
        $(fn $name(self, v: $ty) -> Result<(), Unsupported> {
            self.plain(decimal(&mut [0; 20], v.into()))
        })*
    };
}

macro_rules! signed {
    ($($name:ident($ty:ty);)*) => {
        $(fn $name(self, v: $ty) -> Result<(), Unsupported> {
            let mut digits = [0; 20];
            let magnitude = decimal(&mut digits, i64::from(v).unsigned_abs());
            if v < 0 {
                self.plain(&format!("-{magnitude}"))
            } else {
                self.plain(magnitude)
            }
        })*
    };
}

impl<'w, 's, S: Sink> Serializer for Field<'w, 's, S> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = List<'w, 's, S>;
    type SerializeTuple = List<'w, 's, S>;
    type SerializeTupleStruct = List<'w, 's, S>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Record<'w, 's, S>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    unsigned! {
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
    }

    signed! {
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
    }

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.plain(if v { "true" } else { "false" })
    }

    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported("a float".into()))
    }

    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        Err(Unsupported("a float".into()))
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.text(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.text(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Unsupported> {
        self.plain(&warden_module::json::to_hex(v))
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.plain(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported("an enum value with data".into()))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<List<'w, 's, S>, Unsupported> {
        Ok(List {
            field: self,
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<List<'w, 's, S>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<List<'w, 's, S>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported("an enum value with data".into()))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported("a map".into()))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Record<'w, 's, S>, Unsupported> {
        Ok(Record {
            writer: self.writer,
            outer: self.key,
        })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported("an enum value with data".into()))
    }
}

/// Serializes an enum value (a module event) as one event of `S`.
struct EventSerializer<'s, S>(&'s mut S);

impl<'s, S: Sink> EventSerializer<'s, S> {
    fn start(self, variant: &str) -> Writer<'s, S> {
        self.0.event(variant);
        Writer {
            sink: self.0,
            keys: Vec::new(),
        }
    }
}

impl<S: Sink> SerializeStructVariant for Writer<'_, S> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(Field {
            writer: self,
            outer: None,
            key,
        })
    }

    fn end(self) -> Result<(), Unsupported> {
        Ok(())
    }
}

macro_rules! unsupported {
    ($($name:ident($($arg:ty),*);)*) => {
        $(fn $name(self, $(_: $arg),*) -> Result<(), Unsupported> {
            Err(Unsupported(concat!("not an enum variant: ", stringify!($name)).into()))
        })*
    };
}

impl<'s, S: Sink> Serializer for EventSerializer<'s, S> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Writer<'s, S>;

    unsupported! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported("not an enum variant: an option".into()))
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.start(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported("not an enum variant: a newtype struct".into()))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        let mut writer = self.start(variant);
        value.serialize(Field {
            writer: &mut writer,
            outer: None,
            key: "value",
        })
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        Err(Unsupported("not an enum variant: a sequence".into()))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(Unsupported("not an enum variant: a tuple".into()))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported("not an enum variant: a tuple struct".into()))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported("a tuple variant".into()))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported("not an enum variant: a map".into()))
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        Err(Unsupported("not an enum variant: a struct".into()))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Writer<'s, S>, Unsupported> {
        Ok(self.start(variant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_module::codec::encode;

    #[test]
    fn a_module_event_becomes_a_typed_event_with_one_attribute_per_field() {
        let event = Event::Initialized {
            chain_id: 7,
            epoch: 3,
        };
        let cw = module_event(&encode(&event)).unwrap();
        assert_eq!(cw.ty, "warden_initialized");
        let attrs: Vec<(&str, &str)> = cw
            .attributes
            .iter()
            .map(|a| (a.key.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(attrs, [("chain_id", "7"), ("epoch", "3")]);
    }

    fn attributes(event: &CosmWasmEvent) -> Vec<(&str, &str)> {
        event
            .attributes
            .iter()
            .map(|a| (a.key.as_str(), a.value.as_str()))
            .collect()
    }

    #[test]
    fn a_nested_record_is_flattened_and_an_absent_value_has_no_attribute() {
        use warden_module::evidence::{OffenceClass, OffenceKey};
        let event = Event::EvidenceAccepted {
            offence: OffenceKey {
                operator: 4,
                epoch: 2,
                view: 18_446_744_073_709_551_615,
                class: OffenceClass::DoubleVote,
            },
            reporter: None,
        };
        let cw = module_event(&encode(&event)).unwrap();
        assert_eq!(cw.ty, "warden_evidence_accepted");
        assert_eq!(
            attributes(&cw),
            [
                ("operator", "4"),
                ("epoch", "2"),
                ("view", "18446744073709551615"),
                ("class", "DoubleVote")
            ]
        );
    }

    #[derive(serde::Serialize)]
    struct Inner {
        id: u8,
        note: &'static str,
    }

    #[derive(serde::Serialize)]
    enum Shape {
        Outer {
            id: i32,
            inner: Inner,
            list: Vec<u16>,
        },
        Bare,
    }

    fn shape() -> Shape {
        Shape::Outer {
            id: -7,
            inner: Inner {
                id: 0,
                note: "a \"quoted\" \\ line\n\u{1}\u{7f} \u{e9}t\u{e9} and more",
            },
            list: vec![1, 2],
        }
    }

    fn events_of<T: Serialize>(values: &[T]) -> Events {
        let mut events = Events::default();
        for value in values {
            value.serialize(EventSerializer(&mut events)).unwrap();
        }
        events
    }

    #[test]
    fn a_name_that_would_repeat_is_prefixed_with_its_record() {
        let events = events_of(&[shape()]);
        let cw = &events.0[0];
        assert_eq!(cw.ty, "warden_outer");
        assert_eq!(
            attributes(cw),
            [
                ("id", "-7"),
                ("inner.id", "0"),
                (
                    "note",
                    "a \"quoted\" \\ line\n\u{1}\u{7f} \u{e9}t\u{e9} and more"
                ),
                ("list", "[1,2]")
            ]
        );
    }

    #[test]
    fn the_response_json_is_the_bytes_cosmwasm_std_writes() {
        use cosmwasm_std::{to_json_vec, ContractResult, Response};
        let module = encode(&Event::EvidenceAccepted {
            offence: warden_module::evidence::OffenceKey {
                operator: 4,
                epoch: 2,
                view: 9,
                class: warden_module::evidence::OffenceClass::DoubleVote,
            },
            reporter: Some(warden_module::wire::PublicKey([0xab; 32])),
        });
        let cases: [&[Shape]; 4] = [
            &[],
            &[Shape::Bare],
            &[shape()],
            &[shape(), Shape::Bare, shape()],
        ];
        for case in cases {
            let mut json = ResponseJson::default();
            let mut events = Events::default();
            for value in case {
                value.serialize(EventSerializer(&mut json)).unwrap();
                value.serialize(EventSerializer(&mut events)).unwrap();
            }
            write_event(&mut json, &module).unwrap();
            events.0.push(module_event(&module).unwrap());
            let std = to_json_vec(&ContractResult::Ok(
                Response::<cosmwasm_std::Empty>::new().add_events(events.0),
            ))
            .unwrap();
            assert_eq!(
                String::from_utf8(json.finish()).unwrap(),
                String::from_utf8(std).unwrap()
            );
        }
    }

    #[test]
    fn every_byte_is_escaped_as_cosmwasm_std_escapes_it_at_every_place_in_a_word() {
        for byte in 0u8..0x80 {
            for at in 0..17 {
                let mut text = vec![b'x'; 17];
                text[at] = byte;
                let text = String::from_utf8(text).unwrap();
                let mut ours = b"\"".to_vec();
                escape_into(&mut ours, text.as_bytes());
                ours.push(b'"');
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    to_json_string(&text).unwrap(),
                    "byte {byte:#04x} at {at}"
                );
            }
        }
    }

    #[test]
    fn an_undecodable_event_is_refused() {
        assert!(module_event(&[0xff]).is_err());
    }
}
