//! SSL_GET's TLS client: rustls with the ring provider, verifying the server's
//! certificate only when asked (keepalived does not verify by default).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::Failure;
use crate::spec::TlsOptions;

/// Where Debian-like systems keep the CA bundle; used when verifying without `ca_file`.
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// A ready TLS client for one checker, built once when the checker starts.
pub(crate) struct TlsSetup {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl TlsSetup {
    /// The name checked (when verifying) is the SNI name, else the virtualhost, else
    /// the real server's address. SNI is sent only when `sni` is set.
    pub fn new(opts: &TlsOptions, virtualhost: Option<&str>, ip: IpAddr) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let mut config = if opts.verify {
            let roots = load_roots(opts.ca_file.as_deref())?;
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
                .with_no_client_auth()
        };
        config.enable_sni = opts.sni.is_some();
        let name = opts.sni.as_deref().or(virtualhost);
        let server_name = match name {
            Some(n) => ServerName::try_from(n.to_owned())
                .map_err(|_| format!("invalid TLS server name {n:?}"))?,
            None => ServerName::IpAddress(ip.into()),
        };
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    pub async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, Failure> {
        self.connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| Failure::Tls(e.to_string()))
    }
}

fn load_roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let path = match ca_file {
        Some(p) => p,
        None => SYSTEM_CA_BUNDLES
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or_else(|| "no CA bundle found to verify against".to_owned())?,
    };
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("reading {}: {e}", path.display()))?;
        // One unusable CA in a system bundle should not disable verification.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(format!("no usable CA certificate in {}", path.display()));
    }
    Ok(roots)
}

/// keepalived's SSL_GET does not verify the certificate; handshake signatures are
/// still checked so the exchange is a real TLS session.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
