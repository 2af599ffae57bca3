//! Test support (feature `test-support`, and this crate's own tests): the inputs that hold a hand-written
//! reader to the derived reader it replaces. A reader written out by hand (the frames', [`crate::flat`]'s,
//! the app's sign-in and outbox readers) must accept and refuse what the derived one would, so its tests read
//! every variant of a valid object both ways and compare.

use serde_json::{Map, Value};

/// `whole` (a JSON object) as it is, and for each of `keys` (its own and others, which a reader must
/// ignore): without the key, and with it set to each of `values`; with `twice`, also with the key given a
/// second time (after the object's own fields), which a derived reader refuses as a duplicate.
pub fn object_variants(whole: &Value, keys: &[&str], values: &[Value], twice: bool) -> Vec<String> {
    let fields = whole.as_object().expect("an object to vary");
    let mut objects = vec![whole.to_string()];
    for &key in keys {
        let mut without = fields.clone();
        without.remove(key);
        objects.push(Value::Object(without).to_string());
        for value in values {
            let mut changed: Map<String, Value> = fields.clone();
            changed.insert(key.to_owned(), value.clone());
            let json = Value::Object(changed).to_string();
            if twice {
                objects.push(format!("{},\"{key}\":{value}}}", &json[..json.len() - 1]));
            }
            objects.push(json);
        }
    }
    objects
}

/// `whole`'s own keys and one it does not have (`other`).
pub fn keys_and_another(whole: &Value) -> Vec<&str> {
    let fields = whole.as_object().expect("an object to vary");
    fields.keys().map(String::as_str).chain(["other"]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each key is dropped once and set once per value, the doubled form only when asked, and the object
    /// as it is comes first.
    #[test]
    fn every_key_is_dropped_and_set_to_every_value() {
        let whole = serde_json::json!({"a": 1});
        let keys = keys_and_another(&whole);
        assert_eq!(keys, ["a", "other"]);
        let values = [serde_json::json!(null), serde_json::json!("x")];
        assert_eq!(
            object_variants(&whole, &keys, &values, false),
            [
                r#"{"a":1}"#,
                "{}",
                r#"{"a":null}"#,
                r#"{"a":"x"}"#,
                r#"{"a":1}"#,
                r#"{"a":1,"other":null}"#,
                r#"{"a":1,"other":"x"}"#,
            ]
        );
        let doubled = object_variants(&whole, &["a"], &values[..1], true);
        assert_eq!(
            doubled,
            [
                r#"{"a":1}"#,
                "{}",
                r#"{"a":null,"a":null}"#,
                r#"{"a":null}"#
            ]
        );
    }
}
