//! Module events as CosmWasm events: type `warden_<variant>`, one attribute per field.
//!
//! Values are plain text: numbers in decimal, keys and hashes in hex, enum values by their
//! variant's name, an absent optional value as no attribute. A nested record (an offence in
//! `warden_evidence_accepted`, a proposal in `warden_slashing_proposed`) is flattened into its
//! own fields (`operator`, `epoch`, `view`, `class`, ...), prefixed with the outer field's name
//! (`offence.operator`) only where a name would repeat. The VM meters every operation of this
//! conversion and of the response's JSON, so it writes each value once, with no JSON inside it.

use cosmwasm_std::{to_json_string, Event as CosmWasmEvent, StdError};
use serde::ser::{
    self, Impossible, Serialize, SerializeSeq, SerializeStruct, SerializeStructVariant,
    SerializeTuple, SerializeTupleStruct, Serializer,
};
use warden_module::codec::decode;
use warden_module::msg::Event;

/// The CosmWasm event of a borsh-encoded module [`Event`].
pub fn module_event(bytes: &[u8]) -> Result<CosmWasmEvent, StdError> {
    let event: Event = decode(bytes, bytes.len())
        .map_err(|e| StdError::msg(format!("module event does not decode: {e:?}")))?;
    event
        .serialize(EventSerializer)
        .map_err(|e| StdError::msg(format!("module event {}: {}", event_name(&event), e.0)))
}

fn event_name(event: &Event) -> String {
    format!("{event:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `EvidenceAccepted` → `warden_evidence_accepted`.
fn event_type(variant: &str) -> String {
    let mut out = Vec::with_capacity(b"warden".len() + 2 * variant.len());
    out.extend_from_slice(b"warden");
    for &b in variant.as_bytes() {
        if b.is_ascii_uppercase() {
            out.push(b'_');
            out.push(b.to_ascii_lowercase());
        } else {
            out.push(b);
        }
    }
    // SAFETY: only ASCII bytes were inserted or changed, so the bytes are as valid UTF-8 as
    // `variant` (checking them again would cost gas for every byte).
    unsafe { String::from_utf8_unchecked(out) }
}

/// `n` in decimal.
fn decimal(mut n: u64) -> String {
    let mut digits = [0u8; 20];
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
    unsafe { String::from_utf8_unchecked(digits[at..].to_vec()) }
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

/// Adds `key = value` to `event`; a field of a record `outer` as `outer.key` if `key` is
/// already there (the fields of one variant have distinct names).
fn add(event: &mut CosmWasmEvent, outer: Option<&str>, key: &str, value: String) {
    let key = match outer {
        Some(outer) if event.attributes.iter().any(|a| a.key == key) => {
            format!("{outer}.{key}")
        }
        _ => key.to_string(),
    };
    event
        .attributes
        .push(cosmwasm_std::Attribute { key, value });
}

/// Writes one field's value into the event: a plain value as one attribute, a record as its
/// fields.
struct Field<'e> {
    event: &'e mut CosmWasmEvent,
    outer: Option<&'static str>,
    key: &'static str,
}

impl Field<'_> {
    fn plain(self, value: String) -> Result<(), Unsupported> {
        add(self.event, self.outer, self.key, value);
        Ok(())
    }
}

/// A record's fields, added to the event it is flattened into.
struct Record<'e> {
    event: &'e mut CosmWasmEvent,
    outer: &'static str,
}

impl SerializeStruct for Record<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(Field {
            event: self.event,
            outer: Some(self.outer),
            key,
        })
    }

    fn end(self) -> Result<(), Unsupported> {
        Ok(())
    }
}

/// A sequence or tuple as one attribute: its JSON array.
struct List<'e> {
    field: Field<'e>,
    items: Vec<String>,
}

impl List<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.items
            .push(to_json_string(value).map_err(|e| Unsupported(e.to_string()))?);
        Ok(())
    }

    fn finish(self) -> Result<(), Unsupported> {
        let json = format!("[{}]", self.items.join(","));
        self.field.plain(json)
    }
}

/// `List` collects the elements of each of serde's list-like shapes the same way.
macro_rules! list {
    ($($shape:ident::$element:ident;)*) => {
        $(impl $shape for List<'_> {
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
            self.plain(decimal(v.into()))
        })*
    };
}

macro_rules! signed {
    ($($name:ident($ty:ty);)*) => {
        $(fn $name(self, v: $ty) -> Result<(), Unsupported> {
            let magnitude = decimal(i64::from(v).unsigned_abs());
            self.plain(if v < 0 { format!("-{magnitude}") } else { magnitude })
        })*
    };
}

impl<'e> Serializer for Field<'e> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = List<'e>;
    type SerializeTuple = List<'e>;
    type SerializeTupleStruct = List<'e>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Record<'e>;
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
        self.plain(if v { "true" } else { "false" }.to_string())
    }

    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported("a float".into()))
    }

    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        Err(Unsupported("a float".into()))
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.plain(v.to_string())
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.plain(v.to_string())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Unsupported> {
        self.plain(v.iter().map(|b| format!("{b:02x}")).collect())
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
        self.plain(variant.to_string())
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

    fn serialize_seq(self, len: Option<usize>) -> Result<List<'e>, Unsupported> {
        Ok(List {
            field: self,
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<List<'e>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<List<'e>, Unsupported> {
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

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Record<'e>, Unsupported> {
        Ok(Record {
            event: self.event,
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

struct EventSerializer;

struct Fields(CosmWasmEvent);

impl SerializeStructVariant for Fields {
    type Ok = CosmWasmEvent;
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(Field {
            event: &mut self.0,
            outer: None,
            key,
        })
    }

    fn end(self) -> Result<CosmWasmEvent, Unsupported> {
        Ok(self.0)
    }
}

macro_rules! unsupported {
    ($($name:ident($($arg:ty),*);)*) => {
        $(fn $name(self, $(_: $arg),*) -> Result<CosmWasmEvent, Unsupported> {
            Err(Unsupported(concat!("not an enum variant: ", stringify!($name)).into()))
        })*
    };
}

impl Serializer for EventSerializer {
    type Ok = CosmWasmEvent;
    type Error = Unsupported;
    type SerializeSeq = Impossible<CosmWasmEvent, Unsupported>;
    type SerializeTuple = Impossible<CosmWasmEvent, Unsupported>;
    type SerializeTupleStruct = Impossible<CosmWasmEvent, Unsupported>;
    type SerializeTupleVariant = Impossible<CosmWasmEvent, Unsupported>;
    type SerializeMap = Impossible<CosmWasmEvent, Unsupported>;
    type SerializeStruct = Impossible<CosmWasmEvent, Unsupported>;
    type SerializeStructVariant = Fields;

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

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<CosmWasmEvent, Unsupported> {
        Err(Unsupported("not an enum variant: an option".into()))
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<CosmWasmEvent, Unsupported> {
        Ok(CosmWasmEvent::new(event_type(variant)))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<CosmWasmEvent, Unsupported> {
        Err(Unsupported("not an enum variant: a newtype struct".into()))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<CosmWasmEvent, Unsupported> {
        let mut event = CosmWasmEvent::new(event_type(variant));
        value.serialize(Field {
            event: &mut event,
            outer: None,
            key: "value",
        })?;
        Ok(event)
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
    ) -> Result<Fields, Unsupported> {
        Ok(Fields(CosmWasmEvent::new(event_type(variant))))
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

    #[test]
    fn a_name_that_would_repeat_is_prefixed_with_its_record() {
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
        }
        let shape = Shape::Outer {
            id: -7,
            inner: Inner { id: 0, note: "a" },
            list: vec![1, 2],
        };
        let cw = shape.serialize(EventSerializer).unwrap();
        assert_eq!(cw.ty, "warden_outer");
        assert_eq!(
            attributes(&cw),
            [
                ("id", "-7"),
                ("inner.id", "0"),
                ("note", "a"),
                ("list", "[1,2]")
            ]
        );
    }

    #[test]
    fn an_undecodable_event_is_refused() {
        assert!(module_event(&[0xff]).is_err());
    }
}
