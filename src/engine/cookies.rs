//! The cookie jar of one manager: cookies the server or a load balancer set
//! are sent back on every later request of the manager (polls, posts, the
//! WebSocket handshake, reconnects), with the usual domain, path, expiry
//! and Secure rules. It is what keeps a session on one node behind a load
//! balancer with cookie affinity.

use std::sync::{Mutex, PoisonError};

use cookie_store::CookieStore;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use url::Url;

/// Cookies set by the server, per manager. The store is made with the
/// first cookie: most servers set none, and every connection has a jar.
#[derive(Default)]
pub(crate) struct CookieJar(Mutex<Option<Box<CookieStore>>>);

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Cookie values are often session secrets.
        f.debug_struct("CookieJar").finish_non_exhaustive()
    }
}

impl CookieJar {
    /// The `Cookie` header for a request to `url`, if any cookie applies.
    pub(crate) fn header(&self, url: &Url) -> Option<HeaderValue> {
        let url = http_form(url);
        let store = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let value = store
            .as_deref()?
            .get_request_values(&url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        drop(store);
        (!value.is_empty())
            .then(|| HeaderValue::from_str(&value).ok())
            .flatten()
    }

    /// Takes in the `Set-Cookie` headers of a response to a request to `url`.
    pub(crate) fn store<'a>(&self, url: &Url, set_cookies: impl Iterator<Item = &'a HeaderValue>) {
        let url = http_form(url);
        let mut set_cookies = set_cookies.peekable();
        if set_cookies.peek().is_none() {
            return;
        }
        let mut store = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let store = store.get_or_insert_with(Box::default);
        for value in set_cookies {
            let Ok(text) = value.to_str() else {
                continue;
            };
            if let Err(error) = store.parse(text, &url) {
                tracing::debug!(%error, "ignoring a cookie the server set");
            }
        }
    }
}

/// Cookies are scoped to HTTP URLs: `ws` and `wss` count as `http` and `https`.
fn http_form(url: &Url) -> Url {
    let mut url = url.clone();
    let scheme = match url.scheme() {
        "wss" | "https" => "https",
        _ => "http",
    };
    let _ = url.set_scheme(scheme);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(jar: &CookieJar, url: &str, cookies: &[&'static str]) {
        let values: Vec<HeaderValue> = cookies
            .iter()
            .map(|c| HeaderValue::from_static(c))
            .collect();
        jar.store(&Url::parse(url).unwrap(), values.iter());
    }

    fn sent(jar: &CookieJar, url: &str) -> Option<String> {
        jar.header(&Url::parse(url).unwrap())
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn cookies_come_back_on_later_requests_of_their_scope() {
        let jar = CookieJar::default();
        set(
            &jar,
            "http://lb.test/socket.io/?EIO=4&transport=polling",
            &[
                "SERVERID=a; Path=/",
                "io=abc; Path=/; HttpOnly; SameSite=Lax",
            ],
        );
        let sent = sent(
            &jar,
            "ws://lb.test/socket.io/?EIO=4&transport=websocket&sid=abc",
        )
        .unwrap();
        assert!(
            sent.contains("SERVERID=a") && sent.contains("io=abc"),
            "{sent}"
        );
        assert_eq!(
            super::tests::sent(&jar, "http://other.test/socket.io/"),
            None
        );
    }

    #[test]
    fn path_expiry_and_secure_rules_hold() {
        let jar = CookieJar::default();
        set(
            &jar,
            "https://h.test/socket.io/",
            &["s=1; Secure; Path=/", "p=2; Path=/other"],
        );
        set(&jar, "https://h.test/socket.io/", &["gone=3; Max-Age=0"]);
        assert_eq!(
            sent(&jar, "wss://h.test/socket.io/").as_deref(),
            Some("s=1")
        );
        assert_eq!(
            sent(&jar, "ws://h.test/socket.io/"),
            None,
            "Secure needs TLS"
        );
        assert_eq!(
            sent(&jar, "https://h.test/other/x")
                .as_deref()
                .map(|s| s.contains("p=2")),
            Some(true)
        );
    }
}
