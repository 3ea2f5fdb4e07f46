//! The caller's address. In Lambda it is API Gateway's `requestContext.http.sourceIp`;
//! locally, the socket peer. Never a header: `X-Forwarded-For` and the like are set by
//! clients and would let anyone walk past the IP allowlist.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use lambda_http::request::RequestContext;

use super::error::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    pub fn from_parts(parts: &Parts) -> Option<Self> {
        if let Some(RequestContext::ApiGatewayV2(ctx)) = parts.extensions.get::<RequestContext>() {
            return ctx
                .http
                .source_ip
                .as_deref()
                .and_then(|ip| ip.parse().ok())
                .map(ClientIp);
        }
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| ClientIp(addr.ip()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Self::from_parts(parts)
            .ok_or_else(|| ApiError::internal("no client address on the request"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[test]
    fn forwarded_headers_are_ignored() {
        let peer: SocketAddr = "127.0.0.2:4000".parse().unwrap();
        let mut req = Request::builder()
            .header("x-forwarded-for", "10.9.9.9")
            .header("x-real-ip", "10.9.9.9")
            .body(())
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        let (parts, _) = req.into_parts();
        assert_eq!(ClientIp::from_parts(&parts), Some(ClientIp(peer.ip())));
    }

    #[test]
    fn api_gateway_source_ip_wins_over_the_socket() {
        // API Gateway's request context as it arrives in the event.
        let json = r#"{
            "accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d",
            "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "t"},
            "requestId": "r", "routeKey": "$default", "stage": "$default",
            "time": "t", "timeEpoch": 0
        }"#;
        let ctx: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
            serde_json::from_str(json).unwrap();
        let mut req = Request::builder()
            .header("x-forwarded-for", "10.9.9.9")
            .body(())
            .unwrap();
        req.extensions_mut()
            .insert(RequestContext::ApiGatewayV2(ctx));
        let (parts, _) = req.into_parts();
        assert_eq!(
            ClientIp::from_parts(&parts),
            Some(ClientIp("203.0.113.7".parse().unwrap()))
        );
    }
}
