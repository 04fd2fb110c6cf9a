//! TLS for `wss://`: which library, which root certificates.

use tokio_tungstenite::Connector;

use crate::error::ConnectError;

/// TLS choices made on the builder.
#[derive(Clone, Default)]
pub(crate) struct TlsOptions {
    /// Extra trusted roots, PEM encoded, on top of the default ones.
    pub(crate) root_pems: Vec<Vec<u8>>,
    /// A complete rustls configuration, used as is.
    #[cfg(feature = "__rustls")]
    pub(crate) rustls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// A complete native-tls connector, used as is.
    #[cfg(feature = "native-tls")]
    pub(crate) native: Option<native_tls::TlsConnector>,
}

impl TlsOptions {
    /// Builds the connector for `wss://` once, so every (re)connect reuses it.
    pub(crate) fn connector(&self) -> Result<Connector, ConnectError> {
        #[cfg(feature = "native-tls")]
        if let Some(connector) = &self.native {
            return Ok(Connector::NativeTls(connector.clone()));
        }
        #[cfg(feature = "__rustls")]
        {
            rustls_connector(self)
        }
        #[cfg(all(feature = "native-tls", not(feature = "__rustls")))]
        {
            native_connector(self)
        }
        #[cfg(not(any(feature = "__rustls", feature = "native-tls")))]
        {
            Err(ConnectError::InvalidOption(
                "wss:// and https:// need a TLS feature: rustls-tls-webpki-roots (the default), rustls-tls-native-roots or native-tls".into(),
            ))
        }
    }
}

#[cfg(feature = "__rustls")]
fn rustls_connector(options: &TlsOptions) -> Result<Connector, ConnectError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    use std::sync::Arc;

    if let Some(config) = &options.rustls {
        return Ok(Connector::Rustls(config.clone()));
    }
    let mut roots = rustls::RootCertStore::empty();
    #[cfg(feature = "rustls-tls-webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "rustls-tls-native-roots")]
    {
        let native = rustls_native_certs::load_native_certs();
        if !native.errors.is_empty() {
            tracing::warn!(errors = ?native.errors, "some platform root certificates could not be loaded");
        }
        roots.add_parsable_certificates(native.certs);
    }
    for pem in &options.root_pems {
        let mut found = false;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| bad_certificate(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| bad_certificate(e.to_string()))?;
            found = true;
        }
        if !found {
            return Err(bad_certificate("no certificate in the PEM data".into()));
        }
    }
    // The provider is named here rather than taken from the process default,
    // which nothing installs unless the application does.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad_certificate(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Connector::Rustls(Arc::new(config)))
}

#[cfg(all(feature = "native-tls", not(feature = "__rustls")))]
fn native_connector(options: &TlsOptions) -> Result<Connector, ConnectError> {
    let mut builder = native_tls::TlsConnector::builder();
    for pem in &options.root_pems {
        let cert =
            native_tls::Certificate::from_pem(pem).map_err(|e| bad_certificate(e.to_string()))?;
        builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map(Connector::NativeTls)
        .map_err(|e| bad_certificate(e.to_string()))
}

#[cfg(any(feature = "__rustls", feature = "native-tls"))]
fn bad_certificate(why: String) -> ConnectError {
    ConnectError::InvalidOption(format!("TLS root certificate: {why}"))
}
