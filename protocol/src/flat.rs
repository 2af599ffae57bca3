//! Flat JSON objects (strings and whole numbers by key) and the names of enums' variants, each read by one
//! reader that every such type shares ([`FromFields`], [`deserialize_name`]) instead of a derived reader per
//! type: a derived reader is compiled once per type, with a second form for JSON arrays nobody sends, and the
//! browser app downloads every one it uses (app/README.md, "Size"). A type read this way reads what its
//! derived reader reads from an object (each has a test that holds them together): unknown fields ignored
//! whatever their value, a known field given twice refused, `null` or absence for an optional one, the
//! derived reader's error for a missing or mistyped one.

use std::marker::PhantomData;

use serde::de::{self, Deserializer, Unexpected};

/// A type read from a flat JSON object.
pub trait FromFields: Sized {
    /// What the derived reader calls it in errors (`struct User`).
    const EXPECTING: &'static str;

    /// Builds the value from the object's fields.
    fn from_fields<E: de::Error>(fields: Fields) -> Result<Self, E>;
}

/// Reads a `T` from a JSON object: for a hand-written `Deserialize::deserialize`.
pub fn deserialize<'de, T: FromFields, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    deserializer.deserialize_map(FlatVisitor(PhantomData))
}

/// Reads the name of one of an enum's unit variants: its index in `names`, or the derived reader's
/// `unknown variant` error. Only the name as a string, not serde's `{"name": null}` form nobody sends.
pub fn deserialize_name<'de, D: Deserializer<'de>>(
    deserializer: D,
    names: &'static [&'static str],
) -> Result<usize, D::Error> {
    deserializer.deserialize_str(NameVisitor(names))
}

/// The index of `name` in `names`, or the derived reader's `unknown variant` error.
pub fn name_index<E: de::Error>(name: &str, names: &'static [&'static str]) -> Result<usize, E> {
    names
        .iter()
        .position(|known| *known == name)
        .ok_or_else(|| E::unknown_variant(name, names))
}

/// [`deserialize_name`] as a seed, for a map's value.
pub struct NameSeed(pub &'static [&'static str]);

impl<'de> de::DeserializeSeed<'de> for NameSeed {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserialize_name(deserializer, self.0)
    }
}

struct NameVisitor(&'static [&'static str]);

impl de::Visitor<'_> for NameVisitor {
    type Value = usize;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a variant name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<usize, E> {
        name_index(name, self.0)
    }
}

/// An object's fields as read, in order.
pub struct Fields(Vec<(String, Scalar)>);

/// One field's value: the kinds a flat object holds, and what anything else was, for the error.
enum Scalar {
    Text(String),
    Number(u64),
    Bool(bool),
    Null,
    Negative(i64),
    Fraction(f64),
    List,
    Object,
}

impl Fields {
    /// Reads the rest of an object.
    fn read<'de, A: de::MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            fields.push((key, map.next_value::<Scalar>()?));
        }
        Ok(Self(fields))
    }

    /// The value of `key` as given (`null` too), if given; a key given twice is refused.
    fn find<E: de::Error>(&mut self, key: &'static str) -> Result<Option<Scalar>, E> {
        let mut found = None;
        for (name, value) in &mut self.0 {
            if name == key {
                if found.is_some() {
                    return Err(E::duplicate_field(key));
                }
                found = Some(std::mem::replace(value, Scalar::Null));
            }
        }
        Ok(found)
    }

    /// A value that may be absent or `null`.
    fn optional<T, E: de::Error>(
        &mut self,
        key: &'static str,
        expected: &'static str,
        pick: fn(Scalar) -> Result<T, Scalar>,
    ) -> Result<Option<T>, E> {
        match self.find(key)? {
            None | Some(Scalar::Null) => Ok(None),
            Some(value) => pick(value).map(Some).map_err(|v| v.refused(expected)),
        }
    }

    /// A value that must be there (a `null` is refused like any other wrong kind).
    fn required<T, E: de::Error>(
        &mut self,
        key: &'static str,
        expected: &'static str,
        pick: fn(Scalar) -> Result<T, Scalar>,
    ) -> Result<T, E> {
        let value = self.find(key)?.ok_or_else(|| E::missing_field(key))?;
        pick(value).map_err(|v| v.refused(expected))
    }

    /// A string that may be absent or `null`.
    pub fn optional_text<E: de::Error>(&mut self, key: &'static str) -> Result<Option<String>, E> {
        self.optional(key, "a string", Scalar::into_text)
    }

    /// A string that must be there.
    pub fn text<E: de::Error>(&mut self, key: &'static str) -> Result<String, E> {
        self.required(key, "a string", Scalar::into_text)
    }

    /// A whole number that may be absent or `null`.
    pub fn optional_number<E: de::Error>(&mut self, key: &'static str) -> Result<Option<u64>, E> {
        self.optional(key, "u64", Scalar::into_number)
    }

    /// A whole number that must be there.
    pub fn number<E: de::Error>(&mut self, key: &'static str) -> Result<u64, E> {
        self.required(key, "u64", Scalar::into_number)
    }
}

impl Scalar {
    fn into_text(self) -> Result<String, Self> {
        match self {
            Self::Text(text) => Ok(text),
            other => Err(other),
        }
    }

    fn into_number(self) -> Result<u64, Self> {
        match self {
            Self::Number(n) => Ok(n),
            other => Err(other),
        }
    }

    /// The error a derived reader gives for this value where `expected` was wanted.
    fn refused<E: de::Error>(&self, expected: &'static str) -> E {
        let unexpected = match self {
            Self::Text(text) => Unexpected::Str(text),
            Self::Number(n) => Unexpected::Unsigned(*n),
            Self::Bool(b) => Unexpected::Bool(*b),
            Self::Null => Unexpected::Unit,
            Self::Negative(n) => Unexpected::Signed(*n),
            Self::Fraction(f) => Unexpected::Float(*f),
            Self::List => Unexpected::Seq,
            Self::Object => Unexpected::Map,
        };
        E::invalid_type(unexpected, &expected)
    }
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> de::Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(text))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar, E> {
        Ok(Scalar::Number(n))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar, E> {
        Ok(u64::try_from(n).map_or(Scalar::Negative(n), Scalar::Number))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Scalar, E> {
        Ok(Scalar::Fraction(f))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(b))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Scalar::List)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Scalar::Object)
    }
}

struct FlatVisitor<T>(PhantomData<T>);

impl<'de, T: FromFields> de::Visitor<'de> for FlatVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(T::EXPECTING)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_fields(Fields::read(map)?)
    }
}
