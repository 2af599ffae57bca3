//! HTTP with the browser's `fetch`: the two requests the app makes (the configuration, and forms to the
//! sign-in service), each read as text.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

/// A response: its status and its body.
pub struct Reply {
    pub status: u16,
    pub text: String,
}

impl Reply {
    /// A 2xx status.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// `GET url`.
pub async fn get(url: &str) -> Result<Reply, String> {
    send(Request::new_with_str(url).map_err(describe)?).await
}

/// `POST url` with `body`, an `application/x-www-form-urlencoded` form.
pub async fn post_form(url: &str, body: &str) -> Result<Reply, String> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let request = Request::new_with_str_and_init(url, &init).map_err(describe)?;
    request
        .headers()
        .set("Content-Type", "application/x-www-form-urlencoded")
        .map_err(describe)?;
    send(request).await
}

async fn send(request: Request) -> Result<Reply, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(describe)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(describe)?)
        .await
        .map_err(describe)?;
    Ok(Reply {
        status: response.status(),
        text: text.as_string().unwrap_or_default(),
    })
}

/// A JavaScript failure as the browser writes it: `TypeError: Failed to fetch`.
fn describe(error: JsValue) -> String {
    match error.dyn_into::<js_sys::Error>() {
        Ok(error) => error.to_string().into(),
        Err(other) => other
            .as_string()
            .unwrap_or_else(|| "unknown error".to_owned()),
    }
}
