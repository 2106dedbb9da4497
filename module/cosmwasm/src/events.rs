//! Module events as CosmWasm events: type `warden_<variant>`, one attribute per field.

use cosmwasm_std::{to_json_string, Event as CosmWasmEvent, StdError};
use serde::ser::{self, Impossible, Serialize, SerializeStructVariant, Serializer};
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
    let mut out = String::from("warden");
    for c in variant.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A field's attribute value: its JSON form, without the quotes of a plain string.
fn attribute_value<T: Serialize + ?Sized>(value: &T) -> Result<String, Unsupported> {
    let json = to_json_string(value).map_err(|e| Unsupported(e.to_string()))?;
    match json.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(plain) if !plain.contains(['"', '\\']) => Ok(plain.to_string()),
        _ => Ok(json),
    }
}

/// Why an event has no CosmWasm form (never, for the module's events: each is a unit or a
/// struct variant).
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
        let value = attribute_value(value)?;
        self.0 = core::mem::replace(&mut self.0, CosmWasmEvent::new("")).add_attribute(key, value);
        Ok(())
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
        Ok(CosmWasmEvent::new(event_type(variant)).add_attribute("value", attribute_value(value)?))
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

    #[test]
    fn an_undecodable_event_is_refused() {
        assert!(module_event(&[0xff]).is_err());
    }
}
